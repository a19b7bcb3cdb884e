"""Hypothesis fuzzing of the open / attributes / render path with mutated GeoTIFFs, and of the
thumbnail form options through the API.

Contract: every outcome is a success or a RasterError (a 4xx through the API), never another
exception, never a crash, and attributes are always JSON-serialisable the way the API sends them.
Budgets are fixed and the runs derandomized, so a run is reproducible and bounded in time.
"""

import json
import struct
from collections import Counter

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.api import app
from handler.core import RasterError, RenderOptions, open_bytes, read_attributes, render_thumbnail
from tests.rasters import geotiff_bytes, real_files, reflectance_stack
from tests.security.hostile import assert_no_leak

FUZZ = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))

SEEDS = {
    "l2a_12band_striped": geotiff_bytes(reflectance_stack(12, height=24, width=32)),
    "rgb_tiled_deflate_overviews": geotiff_bytes(reflectance_stack(3, height=64, width=64), tiled=True,
                                                 blockxsize=16, blockysize=16, compress="deflate", overviews=(2, 4)),
    "float_nan_nodata_lzw": geotiff_bytes(reflectance_stack(4, height=20, width=20, dtype="float32") / 10000,
                                          nodata=float("nan"), compress="lzw"),
    "uint8_bigtiff_pixel": geotiff_bytes(reflectance_stack(3, height=16, width=24, dtype="uint8"),
                                         BIGTIFF="YES", interleave="pixel", photometric="RGB"),
}
INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 60_000, 1_000_000)


def attempt(blob: bytes, size: int = 48) -> str:
    """'ok' or the RasterError code; any other exception fails the test."""
    try:
        with open_bytes(blob) as dataset:
            attributes = read_attributes(dataset)
            json.dumps(attributes, allow_nan=False)  # what Starlette's JSONResponse does
            render_thumbnail(dataset, RenderOptions(size=size))
    except RasterError as error:
        return error.code
    return "ok"


def ifd_entries(data: bytes) -> list[int]:
    """Byte offsets of the first IFD's 12-byte entries (classic little-endian TIFF), or []."""
    if data[:4] != b"II*\x00" or len(data) < 10:
        return []
    offset = struct.unpack("<I", data[4:8])[0]
    if offset + 2 > len(data):
        return []
    count = struct.unpack("<H", data[offset:offset + 2])[0]
    return [offset + 2 + 12 * i for i in range(count) if offset + 14 + 12 * i <= len(data)]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """1-6 mutations: byte flips, interesting values, truncations, insertions, deletions, and IFD
    entries with a new type / count / value. Mostly past the magic bytes, mostly in the first 512 bytes
    (header, IFD, tag arrays), where the parsers live."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if len(data) < 16:
            break
        low = 0 if draw(st.integers(0, 19)) == 0 else 4  # 1 in 20 may touch the magic bytes
        high = len(data) - 1 if draw(st.booleans()) else min(len(data) - 1, 511)
        position = draw(st.integers(low, high))
        kind = draw(st.sampled_from(["flip", "byte", "u32", "truncate", "insert", "delete", "ifd", "ifd"]))
        entries = ifd_entries(bytes(data))
        if kind == "ifd" and entries:
            entry = draw(st.sampled_from(entries))
            field = draw(st.sampled_from(["type", "count", "value"]))
            if field == "type":
                data[entry + 2:entry + 4] = struct.pack("<H", draw(st.integers(0, 18)))
            else:
                start = entry + (4 if field == "count" else 8)
                data[start:start + 4] = struct.pack("<I", draw(st.sampled_from(INTERESTING_32 + (len(data),))))
        elif kind == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[position] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif kind == "u32" and position + 4 <= len(data):
            data[position:position + 4] = struct.pack("<I", draw(st.sampled_from(INTERESTING_32)))
        elif kind == "truncate":
            del data[max(position, 8):]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position:position + draw(st.integers(1, 16))]
    return bytes(data)


def run_fuzz(seeds: dict[str, bytes], examples: int) -> Counter:
    outcomes: Counter = Counter()

    @settings(max_examples=examples, **FUZZ)
    @given(st.sampled_from(sorted(seeds)).flatmap(lambda name: mutated(seeds[name])))
    def case(blob):
        outcomes[attempt(blob)] += 1

    case()
    return outcomes


def test_seeds_render():
    assert {name: attempt(seed) for name, seed in SEEDS.items()} == {name: "ok" for name in SEEDS}


def test_fuzz_mutated_synthetic_geotiffs():
    outcomes = run_fuzz(SEEDS, 400)
    print(f"\nfuzz synthetic: {sum(outcomes.values())} iterations, outcomes {dict(outcomes)}")
    assert sum(outcomes.values()) >= 400


@pytest.mark.skipif(not real_files(), reason="real Sentinel-2 files not present (../shared/data/sentinel2)")
def test_fuzz_mutated_real_sentinel2_files():
    seeds = {path.name: path.read_bytes() for path in real_files()}
    assert all(attempt(seed) == "ok" for seed in seeds.values())
    outcomes = run_fuzz(seeds, 150)
    print(f"\nfuzz real files ({len(seeds)}): {sum(outcomes.values())} iterations, outcomes {dict(outcomes)}")
    assert sum(outcomes.values()) >= 150


# --- form options through the API, on a valid scene ---------------------------------------------

client = TestClient(app, raise_server_exceptions=False)
SCENE = geotiff_bytes(reflectance_stack(12, height=24, width=36))
NUMBERISH = st.one_of(st.integers(-10**30, 10**30).map(str), st.floats(allow_nan=True, allow_infinity=True).map(str),
                      st.sampled_from(["", " ", "1e3", "0x10", "1_000", "٣", "NaN", "-0", "+5"]))
TEXT = st.text(max_size=30)
FORM = st.fixed_dictionaries({}, optional={
    "target_resolution": st.one_of(st.integers(1, 96).map(str), NUMBERISH),
    "preset": st.one_of(st.sampled_from(["true_color", "false_color", "swir", "ndvi"]), TEXT),
    "bands": st.one_of(st.lists(st.integers(-2, 14), max_size=4).map(lambda b: ",".join(map(str, b))), TEXT),
    "stretch": st.one_of(st.sampled_from(["gain", "percentile"]), TEXT),
    "gain": st.one_of(st.floats(0, 10).map(str), NUMBERISH),
    "boa_offset": st.one_of(st.sampled_from(["-1000", "0"]), NUMBERISH),
    "format": st.one_of(st.sampled_from(["png", "jpeg", "webp"]), TEXT),
    "resampling": st.one_of(st.sampled_from(["nearest", "average", "bilinear", "cubic", "lanczos", "mode"]), TEXT),
})


def test_fuzz_thumbnail_form_options():
    statuses: Counter = Counter()

    @settings(max_examples=150, **FUZZ)
    @given(FORM)
    def case(form):
        if form.get("target_resolution", "").strip().isdigit() and int(form["target_resolution"]) > 96:
            form["target_resolution"] = "96"  # keep each render small: the budget is examples, not pixels
        response = client.post("/thumbnail", files={"image_file": ("a.tif", SCENE, "image/tiff")}, data=form)
        statuses[response.status_code] += 1
        assert response.status_code in (200, 422), (form, response.status_code, response.text[:300])
        if response.status_code != 200:
            assert response.json()["error"]["code"] in ("invalid_request", "invalid_options")
            assert_no_leak(response.text)

    case()
    print(f"\nfuzz form options: {sum(statuses.values())} requests, statuses {dict(statuses)}")
    assert statuses[200] > 0 and statuses[422] > 0
