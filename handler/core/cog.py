"""Cloud-optimised GeoTIFF copies of rasters without usable overviews.

A 10980 x 10980 scene with no overviews decodes every pixel for each thumbnail (seconds); its COG
copy lets GDAL read a small overview instead (tens of milliseconds), locally or over /vsis3/.
"""

from rasterio.enums import Resampling
from rasterio.io import DatasetReader
from rasterio.shutil import copy

from handler.core.deadline import NO_DEADLINE, Deadline
from handler.core.levels import opened_levels
from handler.core.limits import LIMITS
from handler.core.plan import copy_cost, plan_read, thumbnail_shape
from handler.core.threads import core_threads

# A thumbnail that decodes more pixels per band than this is worth a COG copy.
COPY_ABOVE_PIXELS = 4096 * 4096
# GDAL's copy is one call the deadline cannot interrupt, so it is estimated up front: 12 s per GB its
# source decodes (bench/RESULTS-cog-copy.md: 10980² x 12 bands, 2.9 GB, in 32.9 s; 5490², 10 s).
COPY_SECONDS_PER_GB = 12
# GDAL's COG driver: 512 px tiles, overviews down to one tile, each averaged from the full image.
# PREDICTOR=YES picks horizontal differencing for integers and the floating-point predictor for floats.
COG_OPTIONS = {
    "compress": "DEFLATE",
    "predictor": "YES",
    "blocksize": 512,
    "overview_resampling": "AVERAGE",
    "bigtiff": "IF_SAFER",
}


def needs_cog_copy(dataset: DatasetReader, thumbnail_size: int, deadline: Deadline = NO_DEADLINE) -> bool:
    """True when a `thumbnail_size` px thumbnail of this raster reads a level of over COPY_ABOVE_PIXELS
    pixels per band (no usable overview is coarse enough) and copying it, which decodes every band
    at full resolution, stays within the read budget and is expected to end before `deadline`."""
    shape = thumbnail_shape(dataset.width, dataset.height, thumbnail_size)
    with opened_levels(dataset) as levels:
        level = plan_read(levels, (1,), shape, Resampling.average).level
    cost = copy_cost(dataset)
    return (
        level.width * level.height > COPY_ABOVE_PIXELS
        and cost <= LIMITS.max_read_bytes
        and cost / 1e9 * COPY_SECONDS_PER_GB < deadline.remaining()
    )


def write_cog(dataset: DatasetReader, path: str) -> None:
    """Write `dataset` as a COG at local `path`: same pixels, nodata, band descriptions and tags.

    GDAL's block cache (GDAL_CACHEMAX) bounds the memory; the driver keeps its temporary overview file
    beside `path`. The driver compresses in as many threads as the process has CPUs (NUM_THREADS: the
    writer's threads only; the source is still decoded in this thread, where its read errors surface as
    UnreadableRaster through the open dataset's context)."""
    copy(dataset, path, driver="COG", num_threads=core_threads(), **COG_OPTIONS)
