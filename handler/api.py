"""HTTP API: FastAPI routes around the raster core, served by Mangum on Lambda or uvicorn locally."""

import os
import tempfile
from contextlib import contextmanager
from enum import Enum
from typing import Annotated, Iterator

from aws_lambda_powertools.logging import correlation_paths
from fastapi import Depends, FastAPI, File, Form, Path, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from mangum import Mangum

from handler import s3_store
from handler.core import render_thumbnail
from handler.core.deadline import Deadline
from handler.core.stac import GEOJSON
from handler.forms import IMAGE_FILE, OBJECT_KEY, ThumbnailForm
from handler.http_errors import error_response, install_error_handlers
from handler.observability import logger, metrics, rendering_metrics, tracer
from handler.responses import Attributes, Config, ErrorBody, Health, Result, StacItem, Upload
from handler.scene.errors import InputTooLarge, InvalidRequest, OutputTooLarge
from handler.scene.items import describe, scene_item
from handler.scene.keys import plain_file_name
from handler.scene.sources import Scene, open_key, open_upload
from handler.scene.uploads import new_upload, upload_result
from handler.settings import Settings, running_on_lambda
from handler.viewer import install_viewer

# A bad deployment setting fails the start-up, with its name, not the first request.
_DOCS = Settings.from_env().api_docs
app = FastAPI(
    title="Sentinel-2 thumbnails",
    description="Attributes and true-colour thumbnails of Sentinel-2 scenes (GeoTIFF, JPEG 2000, SAFE zips), "
    "uploaded or in S3.",
    version="1.0.0",
    docs_url="/docs" if _DOCS else None,
    redoc_url="/redoc" if _DOCS else None,
    openapi_url="/openapi.json" if _DOCS else None,
    # Instead of FastAPI's default 422 schema ({"detail": [...]}), the errors' real body.
    responses={"4XX": {"model": ErrorBody, "description": "Bad input: a code and a message."}},
)
install_error_handlers(app)
install_viewer(app)  # GET /: the viewer page

CurrentSettings = Annotated[Settings, Depends(Settings.from_env)]
# Seconds kept from Lambda's remaining time to encode and return the answer.
ANSWER_MARGIN_SECONDS = 1.0


def request_deadline(request: Request, settings: CurrentSettings) -> Deadline:
    """When this request must stop rendering: REQUEST_DEADLINE_SECONDS from now (under API Gateway's
    29 s), or sooner when the Lambda invocation (Mangum's `aws.context`) has less time left."""
    seconds = settings.request_deadline_seconds
    context = request.scope.get("aws.context")
    if context is not None:
        seconds = min(seconds, context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_SECONDS)
    return Deadline.after(seconds)


RequestDeadline = Annotated[Deadline, Depends(request_deadline)]
ImageFile = Annotated[UploadFile | None, File(description=IMAGE_FILE)]
ObjectKey = Annotated[str | None, Form(description=OBJECT_KEY)]
# The whole form in one model, sent as multipart/form-data (it carries the file).
ThumbnailRequest = Annotated[ThumbnailForm, Form(media_type="multipart/form-data")]


# Uploads are copied to disk this much at a time: memory never holds more than one chunk of them.
SPOOL_CHUNK_BYTES = 1024 * 1024


def spool_name(filename: str | None) -> str:
    """The upload's base name when it is plain, else 'upload': the core reads band names of single-band
    JPEG 2000 files from it. It never leaves the upload's private directory."""
    return plain_file_name(filename) or "upload"


class AttributesFormat(str, Enum):
    """`json`: the attributes object; `stac`: the scene as a STAC Item."""

    json = "json"
    stac = "stac"


def upload_too_large(settings: Settings) -> str:
    if running_on_lambda():
        return (
            f"Uploads are limited to {settings.max_upload_bytes:,} bytes (Lambda's 6 MB request limit after "
            "base64). Use POST /uploads to put larger scenes in the input S3 bucket, then pass key=."
        )
    return f"Uploads are limited to {settings.max_upload_bytes:,} bytes on this server (MAX_UPLOAD_BYTES)."


@app.middleware("http")
async def limit_body_size(request: Request, call_next):
    """Refuse over-size bodies from their Content-Length, before multipart parsing spools them."""
    settings = Settings.from_env()
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > settings.max_upload_bytes:
        return error_response(413, InputTooLarge.code, upload_too_large(settings))
    return await call_next(request)


@contextmanager
def spooled_upload(image_file: UploadFile, settings: Settings) -> Iterator[str]:
    """The upload copied chunk by chunk into a private temporary directory (removed afterwards), cut
    at the limit: chunked bodies have no Content-Length to refuse up front, and a full-size export
    (~72 MB) must not sit in memory while GDAL reads it."""
    with tempfile.TemporaryDirectory(prefix="upload-") as folder:
        path = os.path.join(folder, spool_name(image_file.filename))
        copied = 0
        with open(path, "wb") as spool:
            while chunk := image_file.file.read(SPOOL_CHUNK_BYTES):
                copied += len(chunk)
                if copied > settings.max_upload_bytes:
                    raise InputTooLarge(upload_too_large(settings))
                spool.write(chunk)
        yield path


@contextmanager
def open_request_input(
    image_file: UploadFile | None, key: str | None, settings: Settings, for_pixels: bool = False
) -> Iterator[Scene]:
    """An upload (spooled to disk), or a key in the input bucket (its COG copy `for_pixels`), opened."""
    if (image_file is None) == (key is None):
        raise InvalidRequest("Send exactly one of image_file (a file upload) or key (an object in the input bucket).")
    if image_file is not None:
        with spooled_upload(image_file, settings) as path, open_upload(path, image_file.filename) as scene:
            yield scene
    else:
        with open_key(s3_store, settings, key, for_pixels) as scene:
            yield scene


@app.get("/health", response_model=Health)
def health() -> dict:
    """Liveness probe."""
    return {"status": "ok"}


@app.post(
    "/attributes",
    response_model=Attributes,
    responses={
        200: {
            "content": {GEOJSON: {"schema": StacItem.model_json_schema()}},
            "description": "The attributes (format=json) or the STAC Item (format=stac).",
        }
    },
)
def attributes(
    settings: CurrentSettings,
    image_file: ImageFile = None,
    key: ObjectKey = None,
    format: Annotated[AttributesFormat, Form()] = AttributesFormat.json,
) -> JSONResponse:
    """Size, CRS, bounds, band names and layout of a scene (and its product metadata for a SAFE zip), or
    (format=stac) its STAC Item."""
    with open_request_input(image_file, key, settings) as scene:
        description = describe(scene.source)
    if format is AttributesFormat.json:
        return JSONResponse(description.attributes)
    return JSONResponse(scene_item(scene.item_id, scene.href, description), media_type=GEOJSON)


@app.post(
    "/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}},
)
def thumbnail(
    settings: CurrentSettings, deadline: RequestDeadline, form: ThumbnailRequest = ThumbnailForm()
) -> Response:
    """A true-colour (or preset) thumbnail, nodata transparent."""
    options = form.render_options()
    with (
        open_request_input(form.image_file, form.key, settings, for_pixels=True) as scene,
        rendering_metrics(scene.size),
    ):
        image = render_thumbnail(scene.source.dataset, options, deadline)
    if len(image.content) > settings.max_response_bytes:
        raise OutputTooLarge(
            f"The thumbnail is {len(image.content):,} bytes, over the {settings.max_response_bytes:,} "
            "a Lambda response can carry; ask for a smaller target_resolution or format=jpeg."
        )
    return Response(
        content=image.content,
        media_type=image.media_type,
        headers={
            "X-Thumbnail-Bands": ",".join(map(str, image.bands)),
            "X-Thumbnail-Band-Order": image.band_order,
            "X-Thumbnail-Radiometry": image.radiometry.source,
        },
    )


@app.get("/config", response_model=Config)
def config(settings: CurrentSettings) -> dict:
    """What a client needs to choose a path: the upload limit, and whether large scenes can go through S3."""
    return {"max_upload_bytes": settings.max_upload_bytes, "s3_uploads": bool(settings.input_bucket)}


@app.post("/uploads", status_code=201, response_model=Upload)
def create_upload(
    settings: CurrentSettings,
    name: Annotated[
        str | None, Form(description="The file's name, e.g. T32TQM_..._TCI_10m.jp2 (its suffix sets the key's).")
    ] = None,
) -> dict:
    """A presigned POST (SigV4) for a new scene in the input bucket; the S3 trigger renders it on arrival."""
    return new_upload(s3_store, settings, name)


@app.get(
    "/results/{upload_id}",
    response_model=Result,
    response_model_exclude_none=True,
    responses={202: {"model": Result, "description": "Uploaded, not rendered yet."}},
)
def result(settings: CurrentSettings, upload_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")]) -> JSONResponse:
    """An upload's state (README: upload states): pending (202) until the S3 trigger has handled its
    current version, then done (attributes and presigned URLs of the thumbnail, Item and COG copy) or
    failed (the error that rejected the file)."""
    body = upload_result(s3_store, settings, upload_id)
    return JSONResponse(body, status_code=202 if body["status"] == "pending" else 200)


_mangum = Mangum(app, lifespan="off")


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict, context) -> dict:
    """Lambda entry point for API Gateway (HTTP API v2 or REST v1 proxy events)."""
    return _mangum(event, context)
