"""Bounded concurrent load on the API served by uvicorn on 127.0.0.1: every request succeeds and the
server's memory does not keep growing (no leaked GDAL datasets, /vsimem files or buffers)."""

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.rasters import geotiff_bytes, open_png, reflectance_stack
from tests.s3_helpers import free_port, uvicorn_args
from tests.security.hostile import CANARY

ROOT = Path(__file__).resolve().parents[2]
SCENE = geotiff_bytes(reflectance_stack(12, height=300, width=400))
WARM_UP, REQUESTS, WORKERS = 40, 200, 8
MAX_GROWTH_MB = 50


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def server():
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "SECURITY_CANARY_SECRET": CANARY,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    process = subprocess.Popen(
        [sys.executable, *uvicorn_args("handler.api:app", port, "--no-access-log")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"uvicorn did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    yield process, url
    process.terminate()
    process.wait(timeout=10)


def thumbnail(http: httpx.Client, url: str) -> tuple[int, float]:
    start = time.perf_counter()
    response = http.post(
        f"{url}/thumbnail", files={"image_file": ("scene.tif", SCENE, "image/tiff")}, data={"target_resolution": "256"}
    )
    if response.status_code == 200:
        assert open_png(response.content).size == (256, 192)
    return response.status_code, time.perf_counter() - start


def burst(url: str, count: int) -> tuple[list[int], list[float], float]:
    start = time.perf_counter()
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda _: thumbnail(http, url), range(count)))
    return [s for s, _ in results], sorted(t for _, t in results), time.perf_counter() - start


def test_concurrent_thumbnails_all_succeed_with_bounded_memory(server):
    process, url = server
    statuses, _, _ = burst(url, WARM_UP)
    assert set(statuses) == {200}
    before = rss_mb(process.pid)
    statuses, latencies, seconds = burst(url, REQUESTS)
    after = rss_mb(process.pid)
    print(
        f"\nload: {REQUESTS} x POST /thumbnail ({len(SCENE) / 1e6:.2f} MB 12-band GeoTIFF -> 256 px PNG), "
        f"{WORKERS} concurrent: {REQUESTS / seconds:.1f} req/s, p50 {latencies[len(latencies) // 2] * 1000:.0f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.0f} ms; server RSS after {WARM_UP}-request warm-up "
        f"{before:.0f} MB, after the run {after:.0f} MB (growth {after - before:+.1f} MB)"
    )
    assert statuses == [200] * REQUESTS
    assert after - before < MAX_GROWTH_MB
    assert process.poll() is None
    assert httpx.get(f"{url}/health").json() == {"status": "ok"}


def test_server_survives_hostile_requests_mixed_into_the_load(server):
    """Refused requests interleaved with good ones: nothing leaks and the process stays up."""
    process, url = server
    hostile = [b"", b"%PDF-1.7", b"II*\x00" + bytes(100), b"<VRTDataset/>"]
    with httpx.Client(timeout=60) as http, ThreadPoolExecutor(WORKERS) as pool:

        def one(i: int) -> int:
            if i % 2:
                return thumbnail(http, url)[0]
            response = http.post(f"{url}/attributes", files={"image_file": ("a.tif", hostile[i // 2 % 4])})
            assert CANARY not in response.text and "Traceback" not in response.text
            return response.status_code

        statuses = list(pool.map(one, range(40)))
    assert all(s == 200 for s in statuses[1::2]) and all(400 <= s < 500 for s in statuses[0::2])
    assert process.poll() is None
