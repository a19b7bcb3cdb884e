"""Budgets that bound the work one request may cause; validated from environment variables at import."""

from pydantic import Field, PositiveInt
from pydantic_settings import BaseSettings

from handler.core.env_settings import ENV_CONFIG, load_settings


class Limits(BaseSettings):
    """`max_raster_pixels` refuses header bombs at open. A thumbnail's read plan (`plan.py`) must stay
    within `max_read_pixels` per band of the level GDAL reads, `max_read_bytes` decoded in all (every
    band a block holds, plus the mask, weighted by codec cost: deflate = 1; 3 GiB is a 12-band uint16
    10980² scene without overviews, whose time is bench/RESULTS.md's "synthetic 10980 no overviews") and
    `max_block_bytes` per decoded block (GDAL allocates whole blocks: one strip holding a whole image would
    not be bounded by its block cache). Each is read from the variable of its upper-cased name."""

    model_config = ENV_CONFIG

    max_bands: PositiveInt = 64
    max_raster_pixels: PositiveInt = 60_000 * 60_000
    max_read_pixels: PositiveInt = 16_000 * 16_000
    max_read_bytes: PositiveInt = 3 * 1024**3
    max_block_bytes: PositiveInt = 16 * 1024**2
    max_thumbnail_size: PositiveInt = Field(2048, description="Largest thumbnail side (target_resolution).")


LIMITS = load_settings(Limits)
