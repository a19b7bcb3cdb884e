"""Errors of a request or an object rather than of raster content: what to read, where, and the size limits
of the path it came through. The entry points map them like the core's (`code`, `message`, permanent)."""

from handler.core.errors import RasterError


class InvalidRequest(RasterError):
    """The request does not say what to read (no file and no key, or both)."""

    code = "invalid_request"


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
