"""The README's two curl commands, verbatim, against the API served by uvicorn on localhost:8000."""

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastapi.testclient import TestClient

from handler.api import app
from handler.local_pipeline import wait_for_port
from tests.rasters import SEED_SHAPE, geotiff_bytes, open_png, reflectance_stack, seed_sized_export

ROOT = Path(__file__).resolve().parents[1]
PORT = 8000
# What the local server may hold at its peak while serving the seed-sized export (issue 16).
SEED_PEAK_RSS_BYTES = 400 * 1024**2
SEED_COMMANDS = [
    'curl -X POST -F "image_file=@S2L2A_2022-06-09.tiff" http://localhost:8000/attributes',
    'curl -X POST -F "image_file=@S2L2A_2022-06-09.tiff" -F "target_resolution=200" '
    "http://localhost:8000/thumbnail --output output.png",
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
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "handler.api:app", "--host", "127.0.0.1", "--port", str(PORT)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(PORT, process, "uvicorn", timeout=30)
    except RuntimeError as error:
        process.kill()
        pytest.fail(f"{error}: {process.stderr.read().decode()[-2000:]}")
    yield process
    process.terminate()
    process.wait(timeout=10)


def test_seed_curl_commands_work_verbatim(server, tmp_path):
    (tmp_path / "S2L2A_2022-06-09.tiff").write_bytes(geotiff_bytes(reflectance_stack(12, height=100, width=150)))
    attributes = subprocess.run(SEED_COMMANDS[0], shell=True, cwd=tmp_path, capture_output=True, check=True)
    assert b'"bands":12' in attributes.stdout and b'"crs":"EPSG:32633"' in attributes.stdout
    subprocess.run(SEED_COMMANDS[1], shell=True, cwd=tmp_path, capture_output=True, check=True)
    image = open_png((tmp_path / "output.png").read_bytes())
    assert image.format == "PNG" and image.size == (200, 133)


def peak_rss_bytes(pid: int) -> int:
    """The process's high-water mark of resident memory (VmHWM), in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))) * 1024


@pytest.fixture(scope="module")
def seed_export(tmp_path_factory) -> Path:
    """A file shaped like the seed's own sample: 12 bands, 2186 x 1384, uint16, uncompressed, ~72 MB."""
    return seed_sized_export(tmp_path_factory.mktemp("seed") / "S2L2A_2022-06-09.tiff")


def test_seed_sized_export_works_verbatim_on_the_local_server(server, seed_export):
    """The local server has no Lambda payload limit: the README's curls work on a full-size export,
    spooled to disk rather than held in memory."""
    assert seed_export.stat().st_size > 70_000_000
    folder = seed_export.parent
    attributes = json.loads(
        subprocess.run(SEED_COMMANDS[0], shell=True, cwd=folder, capture_output=True, check=True).stdout
    )
    assert (attributes["bands"], attributes["height"], attributes["width"]) == SEED_SHAPE
    assert attributes["band_names"][1:4] == ["B02", "B03", "B04"]
    subprocess.run(SEED_COMMANDS[1], shell=True, cwd=folder, capture_output=True, check=True)
    image = open_png((folder / "output.png").read_bytes())
    assert image.format == "PNG" and image.size == (200, 127)
    assert 20 < np.asarray(image.convert("L")).mean() < 235  # a picture, neither black nor white
    assert peak_rss_bytes(server.pid) <= SEED_PEAK_RSS_BYTES


def test_seed_sized_export_is_413_with_the_s3_hint_on_lambda(on_lambda, seed_export):
    """On Lambda the same file is over the payload limit: refused from its Content-Length, pointing to S3."""
    with TestClient(app) as client, seed_export.open("rb") as file:
        response = client.post("/attributes", files={"image_file": (seed_export.name, file, "image/tiff")})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "input_too_large" and "POST /uploads" in error["message"]
