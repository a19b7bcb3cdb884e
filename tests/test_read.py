"""Executing a read plan whose kernel runs on a bounded intermediate (handler/core/read.py): nodata stays out
of the kernel's averages, an internal mask is sampled under each output pixel's centre, and the
intermediate keeps 8- and 16-bit integers (half of float32's memory)."""

import numpy as np
import pytest
from rasterio.enums import Resampling
from rasterio.io import MemoryFile

from handler.core import open_bytes
from handler.core import read
from handler.core.levels import opened_levels
from handler.core.plan import plan_read
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
    assert band.valid.tolist() == [[bool(mask[r, c]) for c in cols] for r in rows] == [
        [False, False, True, True], [True, True, True, True]]


@pytest.mark.parametrize("dtype, intermediate", [
    ("uint8", "uint8"), ("int8", "int8"), ("uint16", "uint16"), ("int16", "int16"),
    ("int32", "float32"), ("uint32", "float32"), ("float16", "float32"), ("float32", "float32"),
    ("float64", "float32")])
def test_the_intermediate_keeps_small_integers_and_makes_the_rest_float32(dtype, intermediate):
    assert read._intermediate_dtype(dtype) == intermediate


@pytest.mark.parametrize("value, expected", [(None, 64 << 20), ("", 64 << 20), ("12%", 64 << 20),
                                             (" 256 ", 256 << 20), ("99999", 99999 << 20), ("100000", 100000)])
def test_the_block_cache_size_reads_gdal_cachemax_as_gdal_does(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    else:
        monkeypatch.setenv("GDAL_CACHEMAX", value)
    assert read._block_cache_bytes() == expected
