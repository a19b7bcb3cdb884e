"""Cost of reads: hostile structures of a few KB (every block offset points at one compressed blob)
must render or be refused within the issue's bounds: done within 10 s, refused within 2 s when the
read plan can tell up front, peak RSS at most 400 MB. Each render runs in a fresh process; wall time
and VmHWM are that process's own. The bounds are generous: the machine is shared."""

import json
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.security.tiff_writer import LZMA, MASK, PREDICTOR, REDUCED, SEPARATE, SHORT, Ifd, Tag, geo_tags, write_tiff

DONE_SECONDS, REFUSED_SECONDS, PEAK_MB = 10.0, 2.0, 400

RUNNER = """
import json, re, sys, time
from handler.core import RenderOptions, open_bytes, render_thumbnail
from handler.core.errors import RasterError
data, options = open(sys.argv[1], "rb").read(), json.loads(sys.argv[2])
start = time.monotonic()
try:
    with open_bytes(data) as dataset:
        render_thumbnail(dataset, RenderOptions(**options))
    outcome = "ok"
except RasterError as exc:
    outcome = exc.code
seconds = time.monotonic() - start
peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) // 1024
print(json.dumps({"outcome": outcome, "seconds": seconds, "peak_mb": peak}))
"""


def render_cost(tmp_path: Path, content: bytes, **options) -> dict:
    """Outcome ("ok" or the error code), seconds from open to the encoded image, peak RSS in MB."""
    path = tmp_path / "hostile.tif"
    path.write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path), json.dumps(options)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def big(width: int = 16_000, height: int = 16_000, tags: dict | None = None, **extra) -> Ifd:
    """A georeferenced raster whose blocks are all one deflated zero block."""
    return Ifd(width, height, tags={**geo_tags(), **(tags or {})}, **extra)


# One deflated 512² tile of distinct values: mode's cost grows with the values in its window.
NOISE = zlib.compress(np.random.default_rng(0).integers(0, 65_535, (512, 512), dtype="<u2").tobytes())

CASES = {
    # Resampling cost grows with the decimation factor in GDAL: mode 880 s, lanczos 80 s, cubic 10 s
    # for 16000² -> 16 px of distinct values when read directly.
    "mode_noise_16000_to_16": ([big(blob=NOISE)], {"thumbnail_size": 16, "resampling": "mode"}, "ok"),
    "lanczos_16000_to_16": ([big()], {"thumbnail_size": 16, "resampling": "lanczos"}, "ok"),
    # The largest intermediate: 2 x 2048 px, 3 bands.
    "cubic_3_bands_16000x8000_to_2048": (
        [big(height=8000, samples=3)],
        {"thumbnail_size": 2048, "resampling": "cubic"},
        "ok",
    ),
    # GDAL's average over a 16000² window for one output pixel allocates the window: 670 MB.
    "average_16000_to_1": ([big()], {"thumbnail_size": 1}, "ok"),
    # Blocks GDAL allocates whole, whatever the output size.
    "one_strip_16000": ([big(tile=None)], {}, "raster_too_large"),
    "one_tile_8192_3_bands": ([big(8192, 8192, samples=3, tile=(8192, 8192))], {}, "raster_too_large"),
    # Bytes, not pixels: slow codecs and wide dtypes (every band of a pixel-interleaved block).
    "lzma_16000": ([big(compression=LZMA)], {}, "raster_too_large"),
    "float64_predictor3_16000x12000": (
        [big(height=12_000, dtype="float64", tags={PREDICTOR: Tag(SHORT, (3,))})],
        {},
        "raster_too_large",
    ),
    "float64_12_bands_8000": ([big(8000, 8000, dtype="float64", samples=12)], {}, "raster_too_large"),
    # Budget bypasses: an overview reduced in width only (rasterio reports factor 16, GDAL would read
    # 3750 x 60000 x 12 bands), an internal mask with no overviews under small value overviews.
    "overview_reduced_in_width_only": (
        [
            big(60_000, 60_000, samples=12, planar=SEPARATE),
            Ifd(3750, 60_000, samples=12, planar=SEPARATE, subfile_type=REDUCED),
        ],
        {},
        "raster_too_large",
    ),
    "mask_without_overviews_60000": (
        [
            big(60_000, 60_000),
            Ifd(60_000, 60_000, dtype="bit", subfile_type=MASK),
            Ifd(1875, 1875, subfile_type=REDUCED),
        ],
        {},
        "raster_too_large",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_structures_render_or_are_refused_within_bounds(tmp_path, name):
    ifds, options, expected = CASES[name]
    content = write_tiff(ifds, bigtiff=True)
    assert len(content) < 4 * 1024 * 1024  # an upload the API accepts
    cost = render_cost(tmp_path, content, **options)
    print(f"{name}: {len(content):,} bytes -> {cost['outcome']} in {cost['seconds']:.2f} s, peak {cost['peak_mb']} MB")
    assert cost["outcome"] == expected
    assert cost["seconds"] <= (DONE_SECONDS if expected == "ok" else REFUSED_SECONDS)
    assert cost["peak_mb"] <= PEAK_MB
