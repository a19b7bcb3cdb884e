"""Errors the raster core raises for bad input; adapters map them to HTTP statuses or log lines.

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


class InputTooLarge(RasterError):
    """The input file is over the byte limit of the path it came through (request body, S3 object)."""

    code = "input_too_large"


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
