"""The README's two curl commands, verbatim, against the API served by uvicorn on localhost:8000."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.rasters import geotiff_bytes, open_png, reflectance_stack

ROOT = Path(__file__).resolve().parents[1]
PORT = 8000
SEED_COMMANDS = [
    'curl -X POST -F "image_file=@S2L2A_2022-06-09.tiff" http://localhost:8000/attributes',
    'curl -X POST -F "image_file=@S2L2A_2022-06-09.tiff" -F "target_resolution=200" '
    'http://localhost:8000/thumbnail --output output.png',
]


def port_in_use(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def server():
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    if port_in_use(PORT):
        pytest.skip(f"port {PORT} is already in use on this machine")
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "handler.api:app", "--host", "127.0.0.1",
                                "--port", str(PORT)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not port_in_use(PORT):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"uvicorn did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    yield
    process.terminate()
    process.wait(timeout=10)


def test_seed_curl_commands_work_verbatim(server, tmp_path):
    (tmp_path / "S2L2A_2022-06-09.tiff").write_bytes(geotiff_bytes(reflectance_stack(12, height=100, width=150)))
    attributes = subprocess.run(SEED_COMMANDS[0], shell=True, cwd=tmp_path, capture_output=True, check=True)
    assert b'"bands":12' in attributes.stdout and b'"crs":"EPSG:32633"' in attributes.stdout
    subprocess.run(SEED_COMMANDS[1], shell=True, cwd=tmp_path, capture_output=True, check=True)
    image = open_png((tmp_path / "output.png").read_bytes())
    assert image.format == "PNG" and image.size == (200, 133)
