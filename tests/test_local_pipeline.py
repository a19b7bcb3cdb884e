"""`make pipeline` end to end over HTTP: POST /uploads, PUT to the presigned URL, the trigger renders the
upload, /results says done, a key= thumbnail; then Ctrl-C stops every process it started."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from handler.local_pipeline import wait_for_port
from tests.rasters import SEED_SHAPE, open_png, seed_sized_export
from tests.s3_helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
# The trigger reads the 72 MB upload from the local store with GDAL range requests; moto is slow at them.
RENDER_TIMEOUT_SECONDS = 180


def port_open(port: int) -> bool:
    try:
        with httpx.Client() as client:
            client.get(f"http://127.0.0.1:{port}/", timeout=1)
        return True
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """`python -m handler.local_pipeline` (what `make pipeline` runs) on free ports, its output in a file."""
    port, s3_port = free_port(), free_port()
    log = (tmp_path_factory.mktemp("pipeline") / "pipeline.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "handler.local_pipeline", "--port", str(port), "--s3-port", str(s3_port)],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, "make pipeline", timeout=90)
        yield process, port, s3_port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        log.close()


def wait_for_result(client: httpx.Client, upload_id: str) -> httpx.Response:
    deadline = time.monotonic() + RENDER_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        response = client.get(f"/results/{upload_id}")
        if response.status_code != 202:
            return response
        time.sleep(0.5)
    pytest.fail(f"/results/{upload_id} still pending after {RENDER_TIMEOUT_SECONDS} s")


def test_upload_trigger_results_and_key_thumbnail(pipeline, tmp_path):
    _, port, _ = pipeline
    scene = seed_sized_export(tmp_path / "S2L2A_2022-06-09.tiff")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        upload = client.post("/uploads", data={"name": scene.name}).json()
        assert client.get(f"/results/{upload['id']}").status_code == 404  # nothing uploaded yet
        post = httpx.post(
            upload["upload"]["url"],
            data=upload["upload"]["fields"],
            files={"file": (scene.name, scene.read_bytes(), "image/tiff")},
        )
        assert post.status_code == 204

        result = wait_for_result(client, upload["id"])
        assert result.status_code == 200 and result.json()["status"] == "done"
        attributes = result.json()["attributes"]
        assert (attributes["bands"], attributes["height"], attributes["width"]) == SEED_SHAPE
        assert attributes["source"]["key"] == upload["key"]
        stored = open_png(httpx.get(result.json()["thumbnail_url"]).content)
        assert stored.size == (512, 324)

        thumbnail = client.post("/thumbnail", data={"key": upload["key"], "target_resolution": "300"})
        assert thumbnail.status_code == 200, thumbnail.text
        assert open_png(thumbnail.content).size == (300, 190)


def test_ctrl_c_stops_the_api_the_store_and_the_trigger(pipeline):
    process, port, s3_port = pipeline
    assert port_open(port) and port_open(s3_port)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) == 0
    assert not port_open(port) and not port_open(s3_port)
