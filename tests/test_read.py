"""Executing a read plan whose kernel runs on a bounded intermediate (handler/core/read.py): nodata stays out
of the kernel's averages, an internal mask is sampled under each output pixel's centre, and the
intermediate keeps 8- and 16-bit integers (half of float32's memory)."""

import math

import numpy as np
import pytest
from rasterio.enums import Resampling
from rasterio.io import MemoryFile

from handler.core import open_bytes
from handler.core import read
from handler.core.levels import Level, opened_levels
from handler.core.plan import LevelRead, plan_read
from tests.rasters import geotiff_bytes, profile

SHAPE = (2, 4)  # from 256 x 512: the plan reads a 128 x 256 intermediate, then averages it in memory


def read_small(data: bytes) -> read.BandData:
    with open_bytes(data) as dataset:
        with opened_levels(dataset) as levels:
            plan = plan_read(levels, (1,), SHAPE, Resampling.average)
        assert plan.kernel is Resampling.average and plan.read_shape == (128, 256)  # the path under test
        return read.read_bands(dataset, (1,), SHAPE, Resampling.average)


@pytest.mark.parametrize("nodata", [0, 65535])  # 65535: the largest value a uint16 intermediate holds
def test_nodata_stays_out_of_the_kernels_average(nodata):
    # Planted bug: the MEM intermediate without nodata -> output column 1 (56 of its 128 columns valid)
    # averages the nodata pixels in: 437 (or 29,236) instead of 1000.
    data = np.full((1, 256, 512), 1000, np.uint16)
    data[:, :, :200] = nodata
    band = read_small(geotiff_bytes(data, nodata=nodata))
    assert band.values.tolist() == [[[nodata, 1000, 1000, 1000]] * 2]
    assert band.valid.tolist() == [[False, True, True, True]] * 2


def test_the_largest_float32_is_a_nodata_value_like_any_other():
    """float32's max (3.4e38, some exporters' fill value) is held exactly: its pixels are nodata."""
    largest = float(np.finfo(np.float32).max)
    data = np.full((1, 8, 8), 0.25, np.float32)
    data[:, :, :4] = largest
    with open_bytes(geotiff_bytes(data, nodata=largest)) as dataset:
        band = read.read_bands(dataset, (1,), (2, 2), Resampling.nearest)
    assert band.valid.tolist() == [[False, True], [False, True]]
    assert band.values.dtype == np.float32  # read as float32, never numpy's float64 (twice the memory)


def test_an_alpha_of_one_is_a_visible_pixel():
    """The file's alpha band is the validity: any alpha above 0 is a pixel to draw."""
    rgba = np.full((4, 8, 8), 120, np.uint8)
    rgba[3] = 255
    rgba[3, :, :4] = 1
    rgba[3, :4, 4:] = 0
    with open_bytes(geotiff_bytes(rgba, photometric="RGB", alpha="YES")) as dataset:
        band = read.read_bands(dataset, (1, 2, 3), (2, 2), Resampling.nearest)
    assert band.valid.tolist() == [[True, False], [True, True]]


def test_an_internal_mask_is_sampled_under_each_output_pixels_centre(monkeypatch):
    monkeypatch.setenv("GDAL_TIFF_INTERNAL_MASK", "YES")
    mask = np.full((256, 512), 255, np.uint8)
    mask[:100, :250] = 0
    with MemoryFile() as memfile:
        with memfile.open(**profile(1, "uint16", 512, 256)) as dst:
            dst.write(np.full((1, 256, 512), 1000, np.uint16))
            dst.write_mask(mask)
        band = read_small(memfile.read())
    rows = [int((r + 0.5) * 256 / SHAPE[0]) for r in range(SHAPE[0])]  # 64, 192
    cols = [int((c + 0.5) * 512 / SHAPE[1]) for c in range(SHAPE[1])]  # 64, 192, 320, 448
    assert (
        band.valid.tolist()
        == [[bool(mask[r, c]) for c in cols] for r in rows]
        == [[False, False, True, True], [True, True, True, True]]
    )


@pytest.mark.parametrize(
    "dtype, intermediate",
    [
        ("uint8", "uint8"),
        ("int8", "int8"),
        ("uint16", "uint16"),
        ("int16", "int16"),
        ("int32", "float32"),
        ("uint32", "float32"),
        ("float16", "float32"),
        ("float32", "float32"),
        ("float64", "float32"),
    ],
)
def test_the_intermediate_keeps_small_integers_and_makes_the_rest_float32(dtype, intermediate):
    assert read._intermediate_dtype(dtype) == intermediate


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, 64 << 20),
        ("", 64 << 20),
        ("12%", 64 << 20),
        (" 256 ", 256 << 20),
        ("99999", 99999 << 20),
        ("100000", 100000),
    ],
)
def test_the_block_cache_size_reads_gdal_cachemax_as_gdal_does(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    else:
        monkeypatch.setenv("GDAL_CACHEMAX", value)
    assert read._block_cache_bytes() == expected


@pytest.mark.parametrize(
    "width, height, shape",
    [
        (10980, 10980, (512, 512)),  # a Sentinel-2 band without overviews, 256² tiles
        (512, 100_000, (512, 3)),  # two tiles wide: whole rows fit, the rows must still be split
        (1000, 100_000, (512, 5)),  # four tiles wide
    ],
)
def test_chunks_tile_the_output_each_within_the_block_cache_and_few(monkeypatch, width, height, shape):
    """read_chunks' contract: the chunks cover every output pixel once; each window touches at most the
    blocks that fit the cache (`fit`); and they are few (at most twice the blocks over `fit`)."""
    monkeypatch.setenv("GDAL_CACHEMAX", "64")
    level = Level(None, width, height, (256, 256))
    blocks = -(-width // 256) * -(-height // 256)
    level_read = LevelRead(level, 1, 1, 256 * 256 * 2, blocks)
    fit = (64 << 20) // (256 * 256 * 2)  # 512 blocks
    chunks = read.read_chunks(level_read, shape, weight=1)
    assert chunks is not None  # 64 MB of cache cannot hold the level's blocks: one call would not be bounded
    covered = np.zeros(shape, int)
    for window, rows, cols in chunks:
        covered[rows, cols] += 1
        touched_cols = math.ceil((window.col_off + window.width) / 256 - 1e-9) - math.floor(window.col_off / 256)
        touched_rows = math.ceil((window.row_off + window.height) / 256 - 1e-9) - math.floor(window.row_off / 256)
        assert touched_cols * touched_rows <= fit
        assert window.col_off == cols.start * width / shape[1] and window.row_off == rows.start * height / shape[0]
    assert (covered == 1).all()
    assert len(chunks) <= 2 * math.ceil(blocks / fit)


def test_a_level_whose_blocks_just_fit_the_block_cache_is_read_in_one_call(monkeypatch):
    monkeypatch.setenv("GDAL_CACHEMAX", "64")
    level = Level(None, 8192, 4096, (256, 256))  # 512 blocks of 128 KiB: 64 MiB exactly
    assert read.read_chunks(LevelRead(level, 1, 1, 256 * 256 * 2, 512), (512, 1024), weight=1) is None
    taller = Level(None, 8192, 4352, (256, 256))  # one row of blocks more
    assert read.read_chunks(LevelRead(taller, 1, 1, 256 * 256 * 2, 544), (544, 1024), weight=1) is not None


def test_a_single_block_larger_than_the_block_cache_is_read_in_one_call(monkeypatch):
    """Chunks of one block would each decode that whole block again: a level of one 4096² block (32 MiB)
    with a 1 MiB cache is one call, as wide as its block or narrower; a second block column splits it."""
    monkeypatch.setenv("GDAL_CACHEMAX", "1")
    block = 4096 * 4096 * 2
    one = Level(None, 4096, 4096, (4096, 4096))
    assert read.read_chunks(LevelRead(one, 1, 1, block, 1), (64, 64), weight=1) is None
    narrower = Level(None, 3000, 4096, (4096, 4096))
    assert read.read_chunks(LevelRead(narrower, 1, 1, block, 1), (64, 47), weight=1) is None
    two = Level(None, 8192, 4096, (4096, 4096))
    assert len(read.read_chunks(LevelRead(two, 1, 1, block, 2), (32, 64), weight=1)) == 2


@pytest.mark.parametrize("threads", [1, 2])
def test_chunked_reads_give_the_pixels_of_one_call(monkeypatch, threads):
    """A 1 MB block cache splits the read into chunks, read by `threads` threads, each with a dataset handle
    of its own but the first; the uint16 intermediate, its kernel and the result are those of one GDAL call
    (windows end on output pixel edges), which opens no second handle."""
    from handler.core import levels as levels_module

    monkeypatch.setattr(read, "core_threads", lambda: threads)
    opened = []
    open_level = levels_module.open_level

    def counting_open_level(*args, own_handle: bool = False):
        opened.extend([own_handle] if own_handle else [])
        return open_level(*args, own_handle=own_handle)

    monkeypatch.setattr(levels_module, "open_level", counting_open_level)
    noise = np.random.default_rng(0).integers(1, 10_000, (1, 2048, 2048)).astype("uint16")
    data = geotiff_bytes(noise, tiled=True)
    results = []
    for cache, chunked in (("1", True), ("64", False)):  # chunked first: its buffer is a fresh one
        monkeypatch.setenv("GDAL_CACHEMAX", cache)
        with open_bytes(data) as dataset:
            with opened_levels(dataset) as levels:
                plan = plan_read(levels, (1,), (16, 16), Resampling.average)
            assert (
                plan.kernel is not None
                and (read.read_chunks(plan.values, plan.read_shape, plan.weight) is not None) == chunked
            )
            opened.clear()
            results.append(read.read_bands(dataset, (1,), (16, 16), Resampling.average))
            assert len(opened) == (threads - 1 if chunked else 0)
    assert results[0].values.dtype == np.float32
    assert np.array_equal(results[0].values, results[1].values) and np.array_equal(results[0].valid, results[1].valid)
