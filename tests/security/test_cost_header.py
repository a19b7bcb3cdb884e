"""Cost of *opening* hostile TIFF structures: each is refused by the header scan within 2 s at a peak RSS
of at most 400 MB, through an upload (the API) and through an S3 object (scene.sources.open_object against
moto's server: ranged GETs). Without the scan GDAL spends the time or memory noted on each case
(measured here, 2 cores). Each open runs in a fresh process; time and VmHWM are that process's own."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from handler.core.tiff_scan import SCAN_LIMITS
from tests.s3_helpers import moto_server
from tests.security.tiff_writer import (
    GDAL_METADATA,
    IMAGE_DESCRIPTION,
    LONG,
    MASK,
    REDUCED,
    Ifd,
    Tag,
    ascii_tag,
    geo_tags,
    write_tiff,
)

ROOT = Path(__file__).resolve().parents[2]
REFUSED_SECONDS, PEAK_MB = 2.0, 400
BUCKET = "cost-bucket"

PEAK = 'int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) // 1024'
API_RUNNER = f"""
import json, re, sys, time
from fastapi.testclient import TestClient
from handler.api import app
client = TestClient(app, raise_server_exceptions=False)
data = open(sys.argv[1], "rb").read()
start = time.monotonic()
response = client.post("/attributes", files={{"image_file": ("scene.tif", data, "image/tiff")}})
seconds = time.monotonic() - start
outcome = "ok" if response.status_code == 200 else response.json()["error"]["code"]
print(json.dumps({{"status": response.status_code, "outcome": outcome, "seconds": seconds, "peak_mb": {PEAK}}}))
"""
S3_RUNNER = f"""
import json, re, sys, time
from handler import s3_store
from handler.core import read_attributes
from handler.core.errors import RasterError
from handler.scene.sources import open_object
start = time.monotonic()
try:
    with open_object(s3_store, s3_store.head(sys.argv[1], sys.argv[2]), 4 << 30) as source:
        read_attributes(source.dataset)
    outcome = "ok"
except RasterError as exc:
    outcome = exc.code
seconds = time.monotonic() - start
print(json.dumps({{"outcome": outcome, "seconds": seconds, "peak_mb": {PEAK}}}))
"""
# The control: GDAL alone (open_path, no scan) on a local file.
UNSCANNED_RUNNER = f"""
import json, re, sys
from handler.core import open_path, read_attributes
with open_path(sys.argv[1]) as dataset:
    read_attributes(dataset)
print(json.dumps({{"peak_mb": {PEAK}}}))
"""


def main(**tags: Tag) -> Ifd:
    return Ifd(16000, 16000, tags=geo_tags() | {int(tag.removeprefix("t")): value for tag, value in tags.items()})


def metadata(items: int) -> Tag:
    return ascii_tag(
        "<GDALMetadata>" + "".join(f'<Item name="K{i}">v</Item>' for i in range(items)) + "</GDALMetadata>"
    )


def unknown_tags(count: int) -> dict[int, Tag]:
    return {40000 + i: Tag(LONG, (i,)) for i in range(count)}


# name -> (IFDs, expected error code). Upload-sized ones (< 4 MiB) go through both paths.
UPLOAD_CASES = {
    "10000_mask_ifds_26s": (
        [main()] + [Ifd(16, 16, "bit", subfile_type=MASK) for _ in range(10_000)],
        "header_too_complex",
    ),
    "100000_metadata_items_19s": ([main(t42112=metadata(100_000))], "header_too_complex"),
    "64_ifds_of_1000_tags_1.4s": (
        [main()] + [Ifd(16, 16, subfile_type=REDUCED, tags=unknown_tags(1000)) for _ in range(63)],
        "header_too_complex",
    ),
    "20000_overview_ifds_1.3s": (
        [main()] + [Ifd(16, 16, subfile_type=REDUCED) for _ in range(20_000)],
        "header_too_complex",
    ),
}
S3_ONLY_CASES = {
    "128MiB_description_480MB": ([main(t270=ascii_tag("x" * (128 << 20)))], "header_too_complex"),
    "50000_overview_ifds_3.3s_270MB": (
        [main()] + [Ifd(16, 16, subfile_type=REDUCED) for _ in range(50_000)],
        "header_too_complex",
    ),
}


def run(runner: str, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", runner, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    cost = json.loads(result.stdout.splitlines()[-1])  # the last line: the API also logs to stdout
    print(args[-1].rsplit("/", 1)[-1], cost)
    return cost


def assert_refused_cheaply(cost: dict, code: str) -> None:
    assert cost["outcome"] == code, cost
    assert cost["seconds"] < REFUSED_SECONDS, cost
    assert cost["peak_mb"] <= PEAK_MB, cost


@pytest.mark.parametrize("name", UPLOAD_CASES)
def test_hostile_header_uploads_are_refused_within_2_s_and_400_mb(tmp_path, name):
    ifds, code = UPLOAD_CASES[name]
    path = tmp_path / "hostile.tif"
    path.write_bytes(write_tiff(ifds))
    assert path.stat().st_size < 4 << 20
    cost = run(API_RUNNER, str(path))
    assert cost["status"] == 413
    assert_refused_cheaply(cost, code)


@pytest.fixture(scope="module")
def s3_objects():
    """moto's S3 server holding every hostile file as uploads/<name>.tif."""
    with pytest.MonkeyPatch.context() as monkeypatch, moto_server(monkeypatch) as s3:
        s3.create_bucket(Bucket=BUCKET)
        for name, (ifds, _) in {**UPLOAD_CASES, **S3_ONLY_CASES}.items():
            s3.put_object(Bucket=BUCKET, Key=f"uploads/{name}.tif", Body=write_tiff(ifds, bigtiff=True))
        yield s3


@pytest.mark.parametrize("name", [*UPLOAD_CASES, *S3_ONLY_CASES])
def test_hostile_header_s3_objects_are_refused_within_2_s_and_400_mb(s3_objects, name):
    _, code = {**UPLOAD_CASES, **S3_ONLY_CASES}[name]
    assert_refused_cheaply(run(S3_RUNNER, BUCKET, f"uploads/{name}.tif"), code)


def test_control_without_the_scan_gdal_takes_over_400_mb_for_one_large_tag(tmp_path):
    """Proves the 128 MiB case is hostile: GDAL alone (no scan) peaks above the bound opening it."""
    path = tmp_path / "description.tif"
    path.write_bytes(write_tiff(S3_ONLY_CASES["128MiB_description_480MB"][0]))
    assert run(UNSCANNED_RUNNER, str(path))["peak_mb"] > PEAK_MB


def test_the_costliest_accepted_header_opens_within_2_s_and_400_mb(tmp_path):
    """Every limit near its maximum at once: 64 IFDs (a 16000² image and 63 masks) of 128 tags each,
    4,096 metadata items, ~4 MiB of tags. Accepted, and still cheap to open."""

    def filled(ifd: Ifd, extra: dict[int, Tag]) -> Ifd:
        ifd.tags = ifd.tags | extra
        ifd.tags |= unknown_tags(SCAN_LIMITS.max_entries - len(ifd.entries(0, 0, False)))
        return ifd

    ifds = [filled(main(), {GDAL_METADATA: metadata(SCAN_LIMITS.max_metadata_items)})]
    ifds += [
        filled(Ifd(16, 16, "bit", subfile_type=MASK), {IMAGE_DESCRIPTION: ascii_tag("d" * 60_000)})
        for _ in range(SCAN_LIMITS.max_ifds - 1)
    ]
    path = tmp_path / "costliest.tif"
    path.write_bytes(write_tiff(ifds))
    cost = run(API_RUNNER, str(path))
    assert cost["outcome"] == "ok", cost
    assert cost["seconds"] < REFUSED_SECONDS and cost["peak_mb"] <= PEAK_MB, cost
