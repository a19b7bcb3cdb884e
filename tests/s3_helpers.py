"""moto's S3 server on 127.0.0.1 for tests where GDAL reads S3 itself; a faked render where it does not,
and the fixtures of the trigger's event-shape tests (an input bucket in-process, a render that fails on cue)."""

import atexit
import os
import socket
import subprocess
import urllib.request
from contextlib import contextmanager

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

from handler import s3_store
from handler.core import open_bytes, read_attributes
from handler.core.errors import UnsupportedFormat
from handler.scene import processing
from handler.local_pipeline import start_s3_store
from handler.scene.items import Description
from handler.scene.processing import Rendered
from tests.rasters import geotiff_bytes, reflectance_stack

BUCKET = "input-bucket"  # the input bucket of the `s3` fixture (INPUT_BUCKET)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def uvicorn_args(app: str, port: int, *options: str) -> list[str]:
    """The arguments after `python` that serve `app` with uvicorn on 127.0.0.1:`port`, warnings only."""
    return ["-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", *options]


_server: dict[str, object] = {}


def _stop(process: subprocess.Popen, owner: int) -> None:
    """At exit, by the process that started the server: a fork inherits the exit handler, not the server."""
    if os.getpid() == owner:
        process.terminate()
        process.wait(timeout=10)


def _shared_store() -> str:
    """The endpoint of this process's moto S3 server, started on first use: one for the whole test session,
    as one per test cost ~0.5 s each. One per process, not one per session: mutmut runs each mutant's tests
    in a fork, two at a time, and a fork that reset a shared server emptied the buckets of the other fork's
    tests (their NoSuchBucket failures counted as kills). The server stops when its process ends."""
    if _server.get("pid") != os.getpid():
        port = free_port()
        process = start_s3_store(port)
        atexit.register(_stop, process, os.getpid())
        _server.update(endpoint=f"http://127.0.0.1:{port}", port=port, pid=os.getpid())
    return _server["endpoint"]


@contextmanager
def moto_server(monkeypatch):
    """moto's S3 server on 127.0.0.1 (a child process, the one `make pipeline` runs), reachable by boto3
    and GDAL's /vsis3/, emptied for this caller: every bucket of earlier tests is gone."""
    endpoint = _shared_store()
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()
    try:
        for name, value in {
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_S3_ENDPOINT": f"127.0.0.1:{_server['port']}",
            "AWS_HTTPS": "NO",
            "AWS_VIRTUAL_HOSTING": "FALSE",
        }.items():
            monkeypatch.setenv(name, value)
        s3_store.s3_client.cache_clear()
        yield boto3.client("s3", endpoint_url=endpoint)
    finally:
        s3_store.s3_client.cache_clear()


@contextmanager
def served_input_bucket(bucket: str):
    """For module-scoped fixtures: moto's server with `bucket` created and set as INPUT_BUCKET."""
    with pytest.MonkeyPatch.context() as monkeypatch, moto_server(monkeypatch) as s3:
        monkeypatch.setenv("INPUT_BUCKET", bucket)
        s3.create_bucket(Bucket=bucket)
        yield s3


def fake_rendered(tags: dict[str, str] | None = None) -> Rendered:
    """What `render_object` returns for a small 12-band scene, for tests that fake rendering
    (in-process moto cannot serve GDAL): real attributes, so the STAC Item is a real one."""
    with open_bytes(geotiff_bytes(reflectance_stack(12, height=60, width=90))) as dataset:
        attributes = read_attributes(dataset)
    return Rendered(b"\x89PNG fake", Description(attributes, tags or {}, None), wants_cog=False)


@contextmanager
def in_process_s3(monkeypatch, bucket: str):
    """In-process moto (`mock_aws`) with `bucket` created, for handler logic that never reaches GDAL."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    s3_store.s3_client.cache_clear()
    try:
        with mock_aws():
            client = s3_store.s3_client()
            client.create_bucket(Bucket=bucket)
            yield client
    finally:
        s3_store.s3_client.cache_clear()


@pytest.fixture
def s3(monkeypatch):
    """In-process moto with BUCKET, the deployment's INPUT_BUCKET."""
    monkeypatch.setenv("INPUT_BUCKET", BUCKET)
    with in_process_s3(monkeypatch, BUCKET) as client:
        yield client


@pytest.fixture
def rendered(monkeypatch) -> list[str]:
    """Rendering faked; the keys rendered, in order. Keys containing 'flaky' fail like an S3 outage,
    keys containing 'bad' like a file that is not a raster."""
    keys = []

    def render(store, source, settings, deadline):
        if "flaky" in source.key:
            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
        if "bad" in source.key:
            raise UnsupportedFormat("Only GeoTIFF / COG files are accepted.")
        keys.append(source.key)
        return fake_rendered()

    monkeypatch.setattr(processing, "render_object", render)
    return keys
