"""Errors the raster core raises for bad input; adapters map them to HTTP statuses or log lines.

Every `RasterError` is permanent: retrying the same input gives the same answer.
"""


class RasterError(Exception):
    """Base for input problems; `code` is a stable machine-readable identifier."""

    code = "invalid_raster"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidRequest(RasterError):
    """The request does not say what to read (no file and no key, or both)."""

    code = "invalid_request"


class EmptyInput(RasterError):
    """The input has no bytes."""

    code = "empty_file"


class InputTooLarge(RasterError):
    """The input file is over the byte limit of the path it came through (request body, S3 object)."""

    code = "input_too_large"


class OutputTooLarge(RasterError):
    """The encoded image is over the byte limit of the path it leaves through (a Lambda response)."""

    code = "response_too_large"


class InvalidKey(RasterError):
    """An S3 key parameter is not a plain key under the input prefix (paths, URLs, other buckets)."""

    code = "invalid_key"


class ObjectNotFound(RasterError):
    """The named S3 object (or result) does not exist."""

    code = "not_found"


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
