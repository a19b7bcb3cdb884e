"""HTTP API: FastAPI routes around the raster core, served by Mangum on Lambda or uvicorn locally."""

from typing import Annotated

from aws_lambda_powertools.logging import correlation_paths
from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.responses import Response
from mangum import Mangum

from handler.core import RenderOptions, open_bytes, read_attributes, render_thumbnail
from handler.core.errors import InputTooLarge
from handler.core.options import ImageFormat, Preset, ResamplingName, Stretch, parse_bands
from handler.http_errors import error_response, install_error_handlers
from handler.observability import logger, metrics, rendering_metrics, tracer
from handler.settings import SETTINGS

UPLOAD_TOO_LARGE = (f"Uploads are limited to {SETTINGS.max_upload_bytes:,} bytes (Lambda's 6 MB request "
                    "limit after base64). Put larger scenes in the input S3 bucket instead.")

app = FastAPI(
    title="Sentinel-2 thumbnails",
    description="Attributes and true-colour thumbnails of Sentinel-2 GeoTIFFs.",
    version="1.0.0",
)
install_error_handlers(app)

ImageFile = Annotated[UploadFile, File(description="A Sentinel-2 GeoTIFF or COG.")]


@app.middleware("http")
async def limit_body_size(request: Request, call_next):
    """Refuse over-size bodies from their Content-Length, before multipart parsing spools them."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > SETTINGS.max_upload_bytes:
        return error_response(413, InputTooLarge.code, UPLOAD_TOO_LARGE)
    return await call_next(request)


def read_upload(image_file: UploadFile) -> bytes:
    """The uploaded bytes, refusing bodies that grew past the limit without a Content-Length."""
    data = image_file.file.read(SETTINGS.max_upload_bytes + 1)
    if len(data) > SETTINGS.max_upload_bytes:
        raise InputTooLarge(UPLOAD_TOO_LARGE)
    return data


@app.get("/health")
def health() -> dict:
    """Liveness probe."""
    return {"status": "ok"}


@app.post("/attributes")
def attributes(image_file: ImageFile) -> dict:
    """Size, CRS, bounds, band names and layout of the uploaded GeoTIFF."""
    with open_bytes(read_upload(image_file)) as dataset:
        return read_attributes(dataset)


@app.post("/thumbnail", response_class=Response,
          responses={200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}}})
def thumbnail(
    image_file: ImageFile,
    target_resolution: Annotated[int, Form(description="Longest side of the thumbnail in pixels.")] = 512,
    preset: Annotated[Preset, Form()] = Preset.true_color,
    bands: Annotated[str | None, Form(description="Band numbers to draw, e.g. 4,3,2 (overrides the preset's).")] = None,
    stretch: Annotated[Stretch, Form()] = Stretch.gain,
    gain: Annotated[float, Form(description="Reflectance gain for stretch=gain.")] = 2.5,
    boa_offset: Annotated[int | None, Form(description="BOA offset added to DNs, e.g. -1000 for "
                                                       "baseline 04.00+ when the file does not say so.")] = None,
    format: Annotated[ImageFormat, Form()] = ImageFormat.png,
    resampling: Annotated[ResamplingName, Form()] = ResamplingName.average,
) -> Response:
    """A true-colour (or preset) thumbnail of the uploaded GeoTIFF, nodata transparent."""
    options = RenderOptions(size=target_resolution, preset=preset, bands=parse_bands(bands), stretch=stretch,
                            gain=gain, boa_offset=boa_offset, image_format=format, resampling=resampling)
    data = read_upload(image_file)
    with rendering_metrics(len(data)), open_bytes(data) as dataset:
        image = render_thumbnail(dataset, options)
    return Response(content=image.content, media_type=image.media_type,
                    headers={"X-Thumbnail-Bands": ",".join(map(str, image.bands))})


_mangum = Mangum(app, lifespan="off")


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def handler(event: dict, context) -> dict:
    """Lambda entry point for API Gateway (HTTP API v2 or REST v1 proxy events)."""
    return _mangum(event, context)
