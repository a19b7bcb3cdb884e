"""S3 stand-ins for tests: S3 ObjectCreated events and moto's server on 127.0.0.1 for GDAL."""

import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from urllib.parse import quote_plus

import boto3

from handler import s3_store


def s3_put_event(*objects: tuple[str, str, int], etag: str = "0123456789abcdef") -> dict:
    """An S3 ObjectCreated:Put notification; keys are URL-encoded the way S3 sends them."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T07:30:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "uploads",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag,
                          "sequencer": "0A1B2C3D4E5F678901"}},
    } for bucket, key, size in objects]}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def moto_server(monkeypatch):
    """moto's S3 server on 127.0.0.1 in a child process, reachable by boto3 and GDAL's /vsis3/.

    A separate process, not ThreadedMotoServer: rasterio holds the GIL in some GDAL calls that read
    (e.g. `dataset.colorinterp` loading an IFD), so an in-process server thread could never answer.
    """
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    _wait_for(port, server)
    for name, value in {"AWS_ENDPOINT_URL_S3": endpoint, "AWS_S3_ENDPOINT": f"127.0.0.1:{port}",
                        "AWS_HTTPS": "NO", "AWS_VIRTUAL_HOSTING": "FALSE"}.items():
        monkeypatch.setenv(name, value)
    s3_store.s3_client.cache_clear()
    try:
        yield boto3.client("s3", endpoint_url=endpoint)
    finally:
        s3_store.s3_client.cache_clear()
        server.terminate()
        server.wait(timeout=10)


def _wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("moto server exited during start-up")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("moto server did not start")
