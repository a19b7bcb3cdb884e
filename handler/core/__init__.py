"""Pure raster core: open untrusted inputs safely (GeoTIFF / COG, JPEG 2000, Sentinel-2 SAFE zips), describe
them, render thumbnails.

No HTTP and no AWS SDK here; the Lambda adapters in `handler/` wrap these functions.
"""

from handler.core import gdal_config  # noqa: F401  (must run before rasterio is imported)
from handler.core.attributes import read_attributes
from handler.core.errors import RasterError
from handler.core.options import RenderOptions
from handler.core.safe_open import open_bytes, open_path
from handler.core.render import Thumbnail, render_thumbnail
from handler.core.source import Source, open_file, open_source

__all__ = [
    "RasterError",
    "RenderOptions",
    "Source",
    "Thumbnail",
    "open_bytes",
    "open_file",
    "open_path",
    "open_source",
    "read_attributes",
    "render_thumbnail",
]
