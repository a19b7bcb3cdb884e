"""The read plan: what GDAL will decode for a thumbnail, computed from the header before any pixel is read.

The budget check and the read both use the plan, so they cannot disagree: the plan picks the level
(the full image or one overview, with its true width and height), and the read opens exactly that
level (`levels.open_level`), so GDAL cannot pick an overview the plan did not count. The plan counts
what GDAL really decodes: whole blocks, every band a block holds (all of them when pixels are
interleaved), the mask at the level it is stored at, weighted by how slow the codec is.
"""

import math
from dataclasses import dataclass

import numpy as np
from rasterio.enums import Interleaving, MaskFlags, Resampling
from rasterio.io import DatasetReader

from handler.core.errors import RasterTooLarge, UnsupportedFormat
from handler.core.levels import Level, OpenLevels, choose_level, full_level
from handler.core.limits import LIMITS
from handler.core.safe_open import JP2_DRIVER

# Decoding cost per decoded byte, relative to deflate (measured here on 4096² uint16 tiles: deflate,
# LZW, ZSTD and LERC decode 400-700 MB/s of real data, JPEG ~170 MB/s, LZMA ~40 MB/s; OpenJPEG ~20 MB/s
# for a lossless uint16 band). TIFF compressions GDAL can name but that are not listed here (CCITT,
# OJPEG, JBIG, JPEG 2000 in a TIFF ...) are refused: their cost cannot be bounded, and no Sentinel-2
# product uses them. JPEG2000 is for the JP2OpenJPEG driver's own files (Sentinel-2's band and TCI files).
CODEC_WEIGHTS = {
    "NONE": 1,
    "PACKBITS": 1,
    "LZW": 1,
    "DEFLATE": 1,
    "ZSTD": 1,
    "LERC": 1,
    "LERC_ZSTD": 1,
    "LERC_DEFLATE": 2,
    "JPEG": 4,
    "YCbCr JPEG": 4,
    "WEBP": 4,
    "LZMA": 16,
    "JXL": 16,
    "JPEG2000": 24,
}
# The floating-point predictor (PREDICTOR=3) decodes ~120 MB/s whatever the codec.
PREDICTOR_WEIGHTS = {"3": 4}

# GDAL applies convolution kernels and mode over the whole decimation window, so their cost grows with
# the factor (a 16000² band to 16 px: cubic 10 s, lanczos 80 s, mode > 100 s). Other methods are read
# from the file to at most KERNEL_FACTOR x the output size with a cheap method (nearest for mode,
# whose values must stay categorical; average otherwise), then the kernel runs in memory on that
# bounded intermediate.
KERNEL_FACTOR = 2
# GDAL's average over a huge window per output pixel allocates that window (a 16000² band to 1 px:
# 670 MB, 3.5 s), so tiny outputs are averaged from MIN_READ_SIDE px. Nearest reads one pixel per
# output pixel: its cost follows the output and it is always read directly.
MIN_READ_SIDE = 256


def thumbnail_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """(rows, cols) with the longest side equal to `size` and the aspect ratio kept."""
    if width >= height:
        return max(1, round(size * height / width)), size
    return size, max(1, round(size * width / height))


@dataclass(frozen=True)
class LevelRead:
    """What reading one level in full costs: its blocks, each decoded whole."""

    level: Level
    bands: int  # bands decoded: every band of a pixel-interleaved file, whichever are drawn
    planes: int  # band planes decoded: 1 holding every band when pixel-interleaved, else one per band
    block_bytes: int  # one decoded block, every band it holds
    blocks: int  # blocks per plane

    @property
    def decoded_bytes(self) -> int:
        return self.planes * self.blocks * self.block_bytes


@dataclass(frozen=True)
class ReadPlan:
    """A thumbnail read: `values` from one level to `read_shape` with `method`, then `kernel` (if any)
    in memory down to `shape`; validity from `mask` (None: nodata and NaN only); `cost` is weighted
    decoded bytes."""

    indexes: tuple[int, ...]
    shape: tuple[int, int]
    read_shape: tuple[int, int]
    method: Resampling
    kernel: Resampling | None
    values: LevelRead
    mask: LevelRead | None
    codec: str
    weight: int

    @property
    def level(self) -> Level:
        return self.values.level

    @property
    def cost(self) -> int:
        return (self.values.decoded_bytes + (self.mask.decoded_bytes if self.mask else 0)) * self.weight


def codec_weight(dataset: DatasetReader) -> tuple[str, int]:
    """(compression name, cost weight) from GDAL's IMAGE_STRUCTURE metadata; refuses unbounded codecs."""
    structure = dataset.tags(ns="IMAGE_STRUCTURE")
    codec = "JPEG2000" if dataset.driver == JP2_DRIVER else structure.get("COMPRESSION", "NONE")
    if codec not in CODEC_WEIGHTS:
        raise UnsupportedFormat(f"{codec} compression is not accepted: use DEFLATE, LZW, ZSTD or no compression.")
    return codec, CODEC_WEIGHTS[codec] * PREDICTOR_WEIGHTS.get(structure.get("PREDICTOR", "1"), 1)


def _blocks(level: Level) -> int:
    rows, cols = level.block_shape
    return math.ceil(level.width / cols) * math.ceil(level.height / rows)


def level_read(dataset: DatasetReader, level: Level, bands: int, itemsize: int) -> LevelRead:
    """The cost of decoding `bands` bands of `level` in full (all of a pixel-interleaved file's bands)."""
    rows, cols = level.block_shape
    if dataset.interleaving is Interleaving.pixel:
        return LevelRead(level, dataset.count, 1, rows * cols * dataset.count * itemsize, _blocks(level))
    return LevelRead(level, bands, bands, rows * cols * itemsize, _blocks(level))


def read_shape(level: Level, shape: tuple[int, int], resampling: Resampling) -> tuple[int, int]:
    """The shape the file is read to: `shape`, or a bounded intermediate when the kernel or the tiny
    output would otherwise run over a huge decimation window."""
    if resampling is Resampling.nearest:
        return shape
    factor = 1 if resampling is Resampling.average else KERNEL_FACTOR
    size = max(max(shape) * factor, MIN_READ_SIDE)
    if size > max(shape) and max(level.width, level.height) > size:
        return thumbnail_shape(level.width, level.height, size)
    return shape


def _mask_read(dataset: DatasetReader, band: int) -> LevelRead | None:
    """The validity read: the file's own mask or alpha band (GDAL flags both per_dataset), counted at full
    resolution (GDAL decodes the whole mask when it has no overviews, and rasterio cannot tell whether it
    has: an upper bound at 1 byte per pixel, as read_masks returns); None when nodata or NaN tell validity."""
    if MaskFlags.per_dataset not in dataset.mask_flag_enums[band - 1]:
        return None
    full = full_level(dataset, band)
    return LevelRead(full, 1, 1, full.block_shape[0] * full.block_shape[1], _blocks(full))


def plan_read(levels: OpenLevels, indexes: tuple[int, ...], shape: tuple[int, int], resampling: Resampling) -> ReadPlan:
    """Plan reading `indexes` resampled to `shape` (rows, cols): no pixel is read here."""
    dataset = levels.dataset
    codec, weight = codec_weight(dataset)
    itemsize = np.dtype(dataset.dtypes[indexes[0] - 1]).itemsize
    level = choose_level(levels, indexes[0], shape, resampling)
    shape_read = read_shape(level, shape, resampling)
    method, kernel = resampling, None
    if shape_read != shape:
        method = Resampling.nearest if resampling is Resampling.mode else Resampling.average
        kernel = resampling
        level = choose_level(levels, indexes[0], shape_read, method)
    values = level_read(dataset, level, len(indexes), itemsize)
    return ReadPlan(
        indexes,
        shape,
        shape_read,
        method,
        kernel,
        values,
        _mask_read(dataset, indexes[0]),
        codec,
        weight,
    )


def check_plan(plan: ReadPlan) -> None:
    """Refuse plans over the budget (`limits.py`), saying why, before any pixel is decoded."""
    level, block_bytes = plan.level, plan.values.block_bytes
    if block_bytes > LIMITS.max_block_bytes:
        rows, cols = level.block_shape
        raise RasterTooLarge(
            f"This raster is stored in blocks of {cols} x {rows} pixels ({block_bytes / 2**20:,.0f} MB each "
            f"decoded, limit {LIMITS.max_block_bytes / 2**20:,.0f} MB): GDAL decodes whole blocks, so one strip "
            "or tile covering the image cannot be read in bounded memory. Save it tiled (e.g. a COG)."
        )
    pixels = level.width * level.height
    if pixels > LIMITS.max_read_pixels or plan.cost > LIMITS.max_read_bytes:
        where = "the full image" if level.index is None else f"its {level.width} x {level.height} overview"
        raise RasterTooLarge(
            f"Rendering this raster would decode {where}: {plan.values.decoded_bytes / 1e9:,.2f} GB of pixels "
            f"({plan.values.bands} band(s) in {plan.values.blocks:,} blocks), "
            f"{(plan.mask.decoded_bytes if plan.mask else 0) / 1e9:,.2f} GB of mask, {plan.codec} compression "
            f"(cost x{plan.weight}); the limits are {LIMITS.max_read_pixels:,} pixels per band and "
            f"{LIMITS.max_read_bytes / 1e9:,.2f} GB weighted. Add internal overviews (a COG) or send a smaller file."
        )


def copy_cost(dataset: DatasetReader) -> int:
    """Weighted bytes a full-resolution copy decodes: every band and the mask of the full image."""
    level = full_level(dataset, 1)
    itemsize = max(np.dtype(dtype).itemsize for dtype in dataset.dtypes)
    mask = _mask_read(dataset, 1)
    decoded = level_read(dataset, level, dataset.count, itemsize).decoded_bytes
    return (decoded + (mask.decoded_bytes if mask else 0)) * codec_weight(dataset)[1]
