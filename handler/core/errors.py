"""Errors the raster core raises for bad raster content; adapters map them to HTTP statuses or log lines
(`handler.scene.errors` holds those of requests and objects).

Every `RasterError` is permanent: retrying the same input gives the same answer.
"""


class RasterError(Exception):
    """Base for input problems; `code` is a stable machine-readable identifier."""

    code = "invalid_raster"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class EmptyInput(RasterError):
    """The input has no bytes."""

    code = "empty_file"


class UnsupportedFormat(RasterError):
    """The input is not a GeoTIFF (magic bytes or driver not on the allow-list)."""

    code = "unsupported_format"


class UnreadableRaster(RasterError):
    """The input claims to be a GeoTIFF but GDAL cannot read it (truncated, corrupt)."""

    code = "unreadable_raster"


class RasterTooLarge(RasterError):
    """The raster exceeds the pixel or band budget for a synchronous read."""

    code = "raster_too_large"


class InvalidRenderOptions(RasterError):
    """Render options do not fit this raster (unknown band, preset needing missing bands)."""

    code = "invalid_options"


class DeadlineExceeded(RasterError):
    """Rendering did not finish within the request's deadline: the scene is too costly to render in time."""

    code = "deadline_exceeded"


class UnsafeArchive(RasterError):
    """An archive member could leave the archive or hide what it holds: zip-slip or absolute names, links,
    encryption, duplicate or overlapping members."""

    code = "unsafe_archive"


class ArchiveTooLarge(RasterError):
    """An archive is over its member-count, size, compression-ratio or metadata-size budget (zip bombs)."""

    code = "archive_too_large"


class InvalidProduct(RasterError):
    """A Sentinel-2 product's layout or metadata is missing, ambiguous, hostile (DTDs, entities) or not in
    ESA's format."""

    code = "invalid_product"


class HeaderTooComplex(RasterError):
    """The TIFF structure (image directories, tags, metadata items) is over what GDAL may parse at open."""

    code = "header_too_complex"
