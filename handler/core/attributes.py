"""Describe a raster as JSON-ready attributes (the `/attributes` response body)."""

import math
from typing import Any

from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.warp import transform_bounds

from handler.core.sentinel2 import band_names, dataset_radiometry


def _json_safe(value: Any) -> Any:
    """JSON has no NaN/inf: report them as strings, the way GDAL prints them, wherever they are
    (nodata, or a corrupt geotransform or scale)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value).lower()
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    return value


def _bbox_wgs84(dataset: DatasetReader) -> list[float] | None:
    if dataset.crs is None:
        return None
    try:
        return list(transform_bounds(dataset.crs, "EPSG:4326", *dataset.bounds, densify_pts=21))
    except RasterioError:
        return None


def read_attributes(dataset: DatasetReader) -> dict[str, Any]:
    """Size, georeferencing, layout and Sentinel-2 band names of an open dataset (no pixel reads)."""
    compression = dataset.compression
    return _json_safe({
        "width": dataset.width,
        "height": dataset.height,
        "bands": dataset.count,
        "crs": dataset.crs.to_string() if dataset.crs else None,
        "bbox": list(dataset.bounds),
        "driver": dataset.driver,
        "dtype": dataset.dtypes[0],
        "transform": list(dataset.transform)[:6],
        "nodata": dataset.nodata,
        "dtypes": list(dataset.dtypes),
        "band_names": band_names(dataset.count, dataset.descriptions),
        "resolution": list(dataset.res),
        "bbox_wgs84": _bbox_wgs84(dataset),
        "overviews": dataset.overviews(1),
        "blocksize": list(dataset.block_shapes[0]),
        "compression": compression.value if compression else None,
        "radiometry": dataset_radiometry(dataset).as_dict(),
    })
