"""COG copies (handler/core/cog.py): when one is due, and that it keeps pixels and metadata."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from handler.core import RenderOptions, open_path, read_attributes, render_thumbnail
from handler.core import cog
from handler.core.cog import needs_cog_copy, write_cog
from tests.rasters import reflectance_stack, write_geotiff

DESCRIPTIONS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12"]
TAGS = {"PROCESSING_BASELINE": "04.00", "BOA_ADD_OFFSET_B4": "-1000"}


@pytest.fixture(autouse=True)
def one_writer_thread(monkeypatch):
    """GDAL's worker pool must not start in this process: mutmut forks every mutant's run from it, and a started
    pool deadlocks the children. The writer's threads are tested in a child process (the end of this file)."""
    monkeypatch.setattr(cog, "core_threads", lambda: 1)


@pytest.fixture
def striped_scene(tmp_path):
    """A 12-band L2A-like file as many exports are: striped, no overviews, nodata 0 in one corner."""
    data = reflectance_stack(12, height=300, width=700)
    data[:, :40, :60] = 0
    return write_geotiff(tmp_path / "scene.tif", data, descriptions=DESCRIPTIONS, tags=TAGS, nodata=0)


def test_copy_is_a_cog_with_the_same_pixels_and_metadata(striped_scene, tmp_path):
    copy_path = str(tmp_path / "copy.tif")
    with open_path(str(striped_scene)) as source:
        write_cog(source, copy_path)
        original = source.read()
        options = RenderOptions(thumbnail_size=512)  # 700 -> 512 reads full resolution from both files
        expected_png = render_thumbnail(source, options).content
        expected_attributes = read_attributes(source)
    with open_path(copy_path) as copy:
        assert copy.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert copy.overviews(1) == [2]  # down to one 512 px tile
        assert np.array_equal(copy.read(), original)
        assert list(copy.descriptions) == DESCRIPTIONS and copy.nodata == 0
        assert {k: copy.tags()[k] for k in TAGS} == TAGS
        assert render_thumbnail(copy, options).content == expected_png
        copied_attributes = read_attributes(copy)
    for field in (
        "width",
        "height",
        "bands",
        "crs",
        "transform",
        "bbox",
        "dtype",
        "nodata",
        "band_names",
        "radiometry",
    ):
        assert copied_attributes[field] == expected_attributes[field], field


def test_float_reflectance_keeps_its_values(tmp_path):
    data = (reflectance_stack(3, height=50, width=70) / 10000).astype("float32")
    data[0, 0, 0] = np.nan
    path = write_geotiff(tmp_path / "float.tif", data)
    with open_path(str(path)) as source:
        write_cog(source, str(tmp_path / "copy.tif"))
    with open_path(str(tmp_path / "copy.tif")) as copy:
        assert np.array_equal(copy.read(), data, equal_nan=True)


def test_a_copy_is_due_only_when_a_thumbnail_would_decode_too_much(striped_scene, tmp_path, monkeypatch):
    with open_path(str(striped_scene)) as source:
        assert not needs_cog_copy(source, 512)  # 210,000 px per band: cheap as it is
        monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 100_000)
        assert needs_cog_copy(source, 512)
        write_cog(source, str(tmp_path / "copy.tif"))
    with open_path(str(tmp_path / "copy.tif")) as copy:
        assert not needs_cog_copy(copy, 128)  # its overview is what a small thumbnail reads


def test_no_copy_when_copying_would_decode_more_than_the_read_budget(striped_scene, monkeypatch):
    """A copy decodes every band at full resolution (a deflate bomb of many bands would run for minutes)."""
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 100_000)
    with open_path(str(striped_scene)) as source:
        monkeypatch.setattr(cog, "LIMITS", type(cog.LIMITS)(max_read_bytes=700 * 300 * 12 * 2 - 1))
        assert not needs_cog_copy(source, 512)
        monkeypatch.setattr(cog, "LIMITS", type(cog.LIMITS)(max_read_bytes=700 * 300 * 12 * 2))
        assert needs_cog_copy(source, 512)


def test_the_copy_compresses_in_the_threads_the_process_has(striped_scene, tmp_path, monkeypatch):
    """Planted bug: write_cog without num_threads -> this test fails."""
    calls = []
    monkeypatch.setattr(cog, "core_threads", lambda: 3)
    monkeypatch.setattr(cog, "copy", lambda *args, **options: calls.append(options))
    with open_path(striped_scene) as source:
        write_cog(source, str(tmp_path / "copy.tif"))
    assert calls and calls[0]["num_threads"] == 3 and calls[0]["driver"] == "COG"


TRUNCATED_COPY = """
import sys
from handler.core import cog, open_bytes
from handler.core.errors import UnreadableRaster
from tests.rasters import geotiff_bytes, reflectance_stack

cog.core_threads = lambda: int(sys.argv[1])
data = geotiff_bytes(
    reflectance_stack(4, height=1024, width=768), tiled=True, blockxsize=256, blockysize=256, interleave="pixel"
)
try:
    with open_bytes(data[: int(len(data) * 0.8)]) as source:
        cog.write_cog(source, sys.argv[2])
except UnreadableRaster:
    print("unreadable_raster")
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_a_truncated_source_is_unreadable_whatever_the_writer_threads(tmp_path, threads):
    """The writer's threads compress; the source's read errors still reach the caller. In a child process:
    GDAL's worker pool, once started, deadlocks any process forked from this one (mutmut forks per mutant)."""
    child = subprocess.run(
        [sys.executable, "-c", TRUNCATED_COPY, str(threads), str(tmp_path / "copy.tif")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert child.stdout.strip() == "unreadable_raster", child.stderr[-2000:]


@pytest.mark.parametrize(("dtype", "predictor"), [("uint16", "2"), ("float32", "3")])
def test_the_copy_is_deflated_with_the_predictor_in_512_px_tiles_of_averaged_overviews(tmp_path, dtype, predictor):
    """Horizontal differencing for integers, the floating-point predictor for floats; a classic TIFF while
    it is small (BIGTIFF=IF_SAFER); the overview is the mean of each 2 x 2 (AVERAGE, not nearest)."""
    data = reflectance_stack(1, height=300, width=700).astype(dtype)
    path = write_geotiff(tmp_path / "scene.tif", data)
    with open_path(str(path)) as source:
        write_cog(source, str(tmp_path / "copy.tif"))
    assert (tmp_path / "copy.tif").read_bytes()[:4] == b"II*\x00"
    with open_path(str(tmp_path / "copy.tif")) as copy:
        structure = copy.tags(ns="IMAGE_STRUCTURE")
        assert (structure["COMPRESSION"], structure["PREDICTOR"], structure["OVERVIEW_RESAMPLING"]) == (
            "DEFLATE",
            predictor,
            "AVERAGE",
        )
        assert copy.block_shapes == [(512, 512)]
        overview = copy.read(1, out_shape=(150, 350)).astype("float64")
    means = data[0].astype("float64").reshape(150, 2, 350, 2).mean(axis=(1, 3))
    assert np.abs(overview - means).max() <= 0.5  # rounded means (nearest would be off by thousands)


def test_a_copy_is_due_above_4096_squared_pixels_per_band(tmp_path):
    """4096² decodes as it is; one column more is worth a copy (tiny tiled files: every tile is one block)."""
    from tests.security.tiff_writer import Ifd, geo_tags, write_tiff

    for width, due in ((4096, False), (4097, True)):
        (tmp_path / "scene.tif").write_bytes(write_tiff([Ifd(width, 4096, tags=geo_tags())]))
        with open_path(str(tmp_path / "scene.tif")) as source:
            assert needs_cog_copy(source, 512) is due


class FixedDeadline(cog.Deadline):
    """A deadline with a fixed number of seconds left."""

    def __init__(self, seconds: float):
        super().__init__()
        object.__setattr__(self, "seconds", seconds)

    def remaining(self) -> float:
        return self.seconds


def test_a_copy_must_be_expected_to_end_before_the_deadline(tmp_path):
    """12 s per decoded GB: 4097 x 4096 uint16 decodes 9 x 8 whole 512² tiles, 37.7 MB, 0.45 s; exactly that
    much time left is not enough."""
    from tests.security.tiff_writer import Ifd, geo_tags, write_tiff

    (tmp_path / "scene.tif").write_bytes(write_tiff([Ifd(4097, 4096, tags=geo_tags())]))
    estimate = 9 * 8 * 512 * 512 * 2 / 1e9 * 12
    with open_path(str(tmp_path / "scene.tif")) as source:
        assert not needs_cog_copy(source, 512, FixedDeadline(estimate))
        assert needs_cog_copy(source, 512, FixedDeadline(estimate * 1.001))
