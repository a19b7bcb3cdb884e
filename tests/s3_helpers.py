"""moto's S3 server on 127.0.0.1 for tests where GDAL reads S3 itself."""

import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import boto3

from handler import s3_store


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
