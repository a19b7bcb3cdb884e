"""Budgets that bound the work one request may cause; overridable by environment variables."""

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Limits:
    """`max_raster_pixels` refuses header bombs at open; `max_read_pixels` bounds what a thumbnail
    decodes per band (pixels of the overview level GDAL will read), and `max_read_samples` in all
    (pixels x bands decompressed: every band of a pixel-interleaved file, whichever are drawn)."""

    max_bands: int = _env_int("MAX_BANDS", 64)
    max_raster_pixels: int = _env_int("MAX_RASTER_PIXELS", 60_000 * 60_000)
    max_read_pixels: int = _env_int("MAX_READ_PIXELS", 16_000 * 16_000)
    max_read_samples: int = _env_int("MAX_READ_SAMPLES", 12 * 16_000 * 16_000)
    max_thumbnail_size: int = _env_int("MAX_THUMBNAIL_SIZE", 2048)


LIMITS = Limits()
