"""Pure raster core: open untrusted GeoTIFFs safely, describe them, render thumbnails.

No HTTP and no AWS SDK here; the Lambda adapters in `handler/` wrap these functions.
"""

from handler.core import gdal_config  # noqa: F401  (must run before rasterio is imported)
from handler.core.attributes import read_attributes
from handler.core.errors import RasterError
from handler.core.options import RenderOptions
from handler.core.reader import open_bytes, open_file, open_path
from handler.core.render import Thumbnail, render_thumbnail

__all__ = ["RasterError", "RenderOptions", "Thumbnail", "open_bytes", "open_file", "open_path", "read_attributes",
           "render_thumbnail"]
