"""The one place that maps errors to HTTP statuses and the `{"error": {"code", "message"}}` body."""

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from handler.core.errors import (
    ArchiveTooLarge,
    DeadlineExceeded,
    EmptyInput,
    HeaderTooComplex,
    InvalidProduct,
    InvalidRenderOptions,
    RasterError,
    RasterTooLarge,
    UnreadableRaster,
    UnsafeArchive,
    UnsupportedFormat,
)
from handler.observability import logger, record_rejected
from handler.scene.errors import InputTooLarge, InvalidKey, InvalidRequest, ObjectNotFound, OutputTooLarge

STATUS_BY_ERROR: dict[type[RasterError], int] = {
    EmptyInput: 400,
    InvalidKey: 400,
    ObjectNotFound: 404,
    InvalidRequest: 422,
    OutputTooLarge: 413,
    UnsupportedFormat: 415,
    UnreadableRaster: 422,
    InvalidRenderOptions: 422,
    RasterTooLarge: 413,
    DeadlineExceeded: 413,
    InputTooLarge: 413,
    UnsafeArchive: 422,
    ArchiveTooLarge: 413,
    InvalidProduct: 422,
    HeaderTooComplex: 413,
}


def status_of(error: RasterError) -> int:
    """The status of the nearest class in `error`'s hierarchy that has one (a new subclass of
    InputTooLarge is a 413 too); 400 for any other input error."""
    return next((STATUS_BY_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_BY_ERROR), 400)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": {"code": code, "message": message}})


def _validation_message(exc: RequestValidationError) -> str:
    """'target_resolution: Input should be a valid integer' - field names only, never input echoes."""
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
        message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")  # pydantic's prefix
        parts.append(f"{field}: {message}" if field else message)
    return "; ".join(parts) or "Invalid request."


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers so every failure leaves as a JSON error, with no stack trace or path."""

    @app.exception_handler(RasterError)
    async def raster_error(request: Request, exc: RasterError) -> JSONResponse:
        record_rejected(exc.code, exc.message, path=request.url.path)
        return error_response(status_of(exc), exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error", extra={"path": request.url.path})
        return error_response(500, "internal_error", "Internal error.")
