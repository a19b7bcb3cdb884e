"""Budgets that bound the work one request may cause; overridable by environment variables."""

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


@dataclass(frozen=True)
class Limits:
    """`max_raster_pixels` refuses header bombs at open. A thumbnail's read plan (`plan.py`) must stay
    within `max_read_pixels` per band of the level GDAL reads, `max_read_bytes` decoded in all (every
    band a block holds, plus the mask, weighted by codec cost: deflate = 1; 3 GiB is a 12-band uint16
    10980² scene without overviews, ~4 s here) and `max_block_bytes` per decoded block (GDAL allocates
    whole blocks: one strip holding a whole image would not be bounded by its block cache)."""

    max_bands: int = _env_int("MAX_BANDS", 64)
    max_raster_pixels: int = _env_int("MAX_RASTER_PIXELS", 60_000 * 60_000)
    max_read_pixels: int = _env_int("MAX_READ_PIXELS", 16_000 * 16_000)
    max_read_bytes: int = _env_int("MAX_READ_BYTES", 3 * 1024**3)
    max_block_bytes: int = _env_int("MAX_BLOCK_BYTES", 16 * 1024**2)
    max_thumbnail_size: int = _env_int("MAX_THUMBNAIL_SIZE", 2048)


LIMITS = Limits()
