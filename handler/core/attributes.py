"""Describe a raster as JSON-ready attributes (the `/attributes` response body)."""

import math
from typing import Any

from rasterio.enums import Compression
from rasterio.errors import CRSError
from rasterio.io import DatasetReader
from rasterio.warp import transform_bounds

from handler.core.product import ProductMetadata
from handler.core.safe_open import GDAL_ERRORS
from handler.core.sentinel2 import dataset_radiometry, named_bands


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
    """Bounds in WGS 84, or None when the CRS has no path to it (a sphere of radius 1, another planet)."""
    if dataset.crs is None:
        return None
    try:
        return list(transform_bounds(dataset.crs, "EPSG:4326", *dataset.bounds, densify_pts=21))
    except (*GDAL_ERRORS, CRSError):  # PROJ's "no coordinate operation" comes as a CPLE_ error
        return None


def _compression(dataset: DatasetReader) -> str | None:
    """The codec's name: rasterio gives an enum for codecs it knows and the bare TIFF name for the
    others libtiff names (NEXT, THUNDERSCAN, SGILOG ...), which this GDAL may not decode."""
    compression = dataset.compression
    return compression.value if isinstance(compression, Compression) else compression


def read_attributes(dataset: DatasetReader, product: ProductMetadata | None = None) -> dict[str, Any]:
    """Size, georeferencing, layout and Sentinel-2 band names of an open dataset (no pixel reads); for the
    image of a SAFE product (`Source.product`), also `product`: what its metadata says about the scene."""
    names, order = named_bands(dataset.count, dataset.descriptions, dataset.name)
    attributes = {
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
        "band_names": names,
        "band_order": order,  # how the names were found: described, file_name, assumed (from the count), as_stored
        "resolution": list(dataset.res),
        "bbox_wgs84": _bbox_wgs84(dataset),
        "overviews": dataset.overviews(1),
        "blocksize": list(dataset.block_shapes[0]),
        "compression": _compression(dataset),
        "radiometry": dataset_radiometry(dataset).as_dict(),
    }
    if product is not None:
        attributes["product"] = product.as_dict()
    return _json_safe(attributes)
