"""Decimated reads: only the needed bands, at thumbnail size, from the best overview GDAL has."""

from dataclasses import dataclass

import numpy as np
from rasterio.enums import MaskFlags, Resampling
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader

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


def check_read_budget(dataset: DatasetReader, band: int, shape: tuple[int, int]) -> None:
    """Refuse reads that would decode too much (a big scene without overviews, a deflate bomb)."""
    pixels = pixels_to_decode(dataset, band, shape)
    if pixels > LIMITS.max_read_pixels:
        raise RasterTooLarge(
            f"Rendering this {dataset.width} x {dataset.height} raster would decode {pixels:,} pixels per "
            f"band (limit {LIMITS.max_read_pixels:,}). Add internal overviews (a COG) or send a smaller file.")


def _validity(dataset: DatasetReader, indexes: tuple[int, ...], values: np.ndarray,
              shape: tuple[int, int]) -> np.ndarray:
    """Valid pixels: not NaN, and not nodata (declared, or Sentinel-2's 0 in every band), or the
    file's own mask/alpha band where it has one."""
    valid = ~np.isnan(values).any(axis=0)
    flags = dataset.mask_flag_enums[indexes[0] - 1]
    if MaskFlags.per_dataset in flags or MaskFlags.alpha in flags:
        mask = dataset.read_masks(indexes[0], out_shape=shape, resampling=Resampling.nearest)
        return valid & (mask > 0)
    nodata = dataset.nodata if dataset.nodata is not None else 0
    if not np.isnan(nodata):
        valid &= ~(values == nodata).all(axis=0)
    return valid


def read_bands(dataset: DatasetReader, indexes: tuple[int, ...], shape: tuple[int, int],
               resampling: Resampling) -> BandData:
    """Read `indexes` resampled to `shape` (never the full-resolution stack when overviews exist)."""
    check_read_budget(dataset, indexes[0], shape)
    try:
        with span("read"):
            values = dataset.read(indexes, out_shape=(len(indexes), *shape), resampling=resampling,
                                  out_dtype="float32")
            valid = _validity(dataset, indexes, values, shape)
    except RasterioError as exc:
        raise UnreadableRaster("The file's pixel data could not be decoded (corrupt or truncated).") from exc
    return BandData(values, valid)
