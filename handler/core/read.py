"""Decimated reads: only the needed bands, at thumbnail size, from the best overview GDAL has."""

import math
import os
from dataclasses import dataclass
from typing import Callable

import numpy as np
from rasterio.enums import Interleaving, MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from handler.core.errors import RasterTooLarge, UnreadableRaster
from handler.core.limits import LIMITS
from handler.core.spans import span


@dataclass(frozen=True)
class BandData:
    """float32 band values (bands, rows, cols) and where they are valid (rows, cols)."""

    values: np.ndarray
    valid: np.ndarray


def thumbnail_shape(width: int, height: int, size: int) -> tuple[int, int]:
    """(rows, cols) with the longest side equal to `size` and the aspect ratio kept."""
    if width >= height:
        return max(1, round(size * height / width)), size
    return size, max(1, round(size * width / height))


def pixels_to_decode(dataset: DatasetReader, band: int, shape: tuple[int, int]) -> int:
    """Pixels per band GDAL decodes for this read: those of the coarsest overview still finer than
    the output (GDAL's own choice), or of the full image when there is no such overview."""
    decimation = min(dataset.width / shape[1], dataset.height / shape[0])
    # A corrupt overview larger than the image has factor 0: GDAL never reads it to downsample.
    factor = max([f for f in dataset.overviews(band) if 1 <= f <= decimation], default=1)
    return (dataset.width // factor) * (dataset.height // factor)


def bands_decoded(dataset: DatasetReader, indexes: tuple[int, ...]) -> int:
    """Bands GDAL decompresses to read `indexes`: all of them when pixels are interleaved, because
    each block then holds every band."""
    return dataset.count if dataset.interleaving is Interleaving.pixel else len(indexes)


def check_read_budget(dataset: DatasetReader, indexes: tuple[int, ...], shape: tuple[int, int]) -> None:
    """Refuse reads that would decode too much (a big scene without overviews, a deflate bomb)."""
    pixels, bands = pixels_to_decode(dataset, indexes[0], shape), bands_decoded(dataset, indexes)
    if pixels > LIMITS.max_read_pixels or pixels * bands > LIMITS.max_read_samples:
        raise RasterTooLarge(
            f"Rendering this {dataset.width} x {dataset.height} x {dataset.count}-band raster would decode "
            f"{pixels:,} pixels per band in {bands} band(s) (limits "
            f"{LIMITS.max_read_pixels:,} per band, {LIMITS.max_read_samples:,} in all). Add internal overviews "
            "(a COG) or send a smaller file.")


def _block_cache_bytes() -> int:
    """GDAL_CACHEMAX in bytes (GDAL reads values below 100000 as megabytes); 64 MB if unparsable."""
    value = os.environ.get("GDAL_CACHEMAX", "64").strip()
    if not value.isdigit():
        return 64 * 1024 * 1024
    return int(value) * 1024 * 1024 if int(value) < 100_000 else int(value)


Chunk = tuple[Window, slice, slice]


def read_chunks(dataset: DatasetReader, indexes: tuple[int, ...], shape: tuple[int, int]) -> list[Chunk] | None:
    """Output tiles, and the fractional source windows they come from, for a full-resolution read of
    a tiled raster too big for GDAL's block cache; None when one read call is fine.

    In one call GDAL walks the output row by row (nearest) or band by band (average), so once the
    blocks in play (every band of them when pixel-interleaved) outgrow the cache it decodes each block
    again and again: 170 s instead of 4 s for a 12-band 10980 x 10980 file without overviews. Each
    window here touches at most (n + 1)^2 blocks that fit the cache; the pixels are identical because
    the windows start and end on output pixel edges.
    """
    block_rows, block_cols = dataset.block_shapes[indexes[0] - 1]
    if block_cols >= dataset.width or pixels_to_decode(dataset, indexes[0], shape) < dataset.width * dataset.height:
        return None  # striped layout, or GDAL reads an overview
    block_bytes = block_rows * block_cols * bands_decoded(dataset, indexes) * np.dtype(dataset.dtypes[0]).itemsize
    blocks = max(1, math.isqrt(_block_cache_bytes() // block_bytes) - 1)  # per window side
    if blocks * block_cols >= dataset.width and blocks * block_rows >= dataset.height:
        return None  # the whole raster fits
    rows, cols = shape
    step_r = max(1, blocks * block_rows * rows // dataset.height)
    step_c = max(1, blocks * block_cols * cols // dataset.width)
    y_scale, x_scale = dataset.height / rows, dataset.width / cols
    chunks = []
    for r0 in range(0, rows, step_r):
        r1 = min(rows, r0 + step_r)
        for c0 in range(0, cols, step_c):
            c1 = min(cols, c0 + step_c)
            window = Window(c0 * x_scale, r0 * y_scale, (c1 - c0) * x_scale, (r1 - r0) * y_scale)
            chunks.append((window, slice(r0, r1), slice(c0, c1)))
    return chunks


def _read_chunked(read: Callable[..., np.ndarray], lead: tuple[int, ...], shape: tuple[int, int],
                  chunks: list[Chunk] | None, dtype: str) -> np.ndarray:
    """`read(out_shape=...)` in one call, or chunk by chunk, into one array of `dtype`.

    Reads come in the file's own dtype and numpy converts them: GDAL's own conversion to float32
    (`out_dtype`) takes about 4 ms more per 512 x 512 RGB read."""
    if chunks is None:
        return read(out_shape=(*lead, *shape)).astype(dtype, copy=False)
    out = np.empty((*lead, *shape), dtype=dtype)
    for window, rows, cols in chunks:
        out[..., rows, cols] = read(window=window, out_shape=(*lead, rows.stop - rows.start, cols.stop - cols.start))
    return out


def _validity(dataset: DatasetReader, indexes: tuple[int, ...], values: np.ndarray,
              shape: tuple[int, int], chunks: list[Chunk] | None = None) -> np.ndarray:
    """Valid pixels: not NaN, and not nodata (declared, or Sentinel-2's 0 in every band), or the
    file's own mask/alpha band where it has one."""
    valid = ~np.isnan(values).any(axis=0)
    flags = dataset.mask_flag_enums[indexes[0] - 1]
    if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
        mask = _read_chunked(lambda **kw: dataset.read_masks(indexes[0], resampling=Resampling.nearest, **kw),
                             (), shape, chunks, "uint8")
        return valid & (mask > 0)
    nodata = dataset.nodata if dataset.nodata is not None else 0
    if not np.isnan(nodata):
        valid &= ~(values == nodata).all(axis=0)
    return valid


def read_bands(dataset: DatasetReader, indexes: tuple[int, ...], shape: tuple[int, int],
               resampling: Resampling) -> BandData:
    """Read `indexes` resampled to `shape` (never the full-resolution stack when overviews exist)."""
    check_read_budget(dataset, indexes, shape)
    try:
        with span("read"):
            chunks = read_chunks(dataset, indexes, shape)
            values = _read_chunked(
                lambda **kw: dataset.read(indexes, resampling=resampling, **kw),
                (len(indexes),), shape, chunks, "float32")
            valid = _validity(dataset, indexes, values, shape, chunks)
    except RasterioError as exc:
        raise UnreadableRaster("The file's pixel data could not be decoded (corrupt or truncated).") from exc
    return BandData(values, valid)
