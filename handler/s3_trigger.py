"""S3 trigger: render a thumbnail and attributes for every GeoTIFF dropped under the input prefix.

Outputs are written only after rendering succeeded, tagged with the source ETag so replays are
skipped. Bad files are logged and counted, never retried; S3 failures are raised so Lambda retries
(and, once retries run out, sends the event to the on-failure destination). Inputs without usable
overviews also get a COG copy, which later `key=` thumbnails read instead.
"""

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler import s3_store
from handler.core import RenderOptions, read_attributes, render_thumbnail
from handler.core.cog import needs_cog_copy, write_cog
from handler.core.errors import RasterError
from handler.observability import logger, metrics, record_rejected, rendering_metrics, tracer
from handler.settings import OutputKeys, Settings

TIFF_SUFFIXES = (".tif", ".tiff")
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


@dataclass(frozen=True)
class Outcome:
    """What happened to one S3 record: written, skipped (with why) or rejected (with the error code)."""

    key: str
    status: str
    reason: str = ""


def skip_reason(key: str, size: int, settings: Settings, bucket: str) -> str | None:
    """Why a key is not ours to render (loop guard included), or None when it is."""
    if key.endswith("/"):
        return "folder"
    if (settings.output_bucket or bucket) == bucket and key.startswith(settings.output_prefixes):
        return "output_prefix"
    if not key.startswith(settings.input_prefix):
        return "outside_input_prefix"
    if not key.lower().endswith(TIFF_SUFFIXES):
        return "not_tiff"
    if size == 0:
        return "empty"
    return None


@dataclass(frozen=True)
class Rendered:
    """The outputs of one source object, and whether it deserves a COG copy."""

    thumbnail: bytes
    attributes_json: bytes
    wants_cog: bool


def render_object(source: s3_store.ObjectInfo, settings: Settings) -> Rendered:
    """Thumbnail PNG and attributes JSON of an S3 object."""
    with rendering_metrics(source.size), s3_store.open_object(source, settings.max_object_bytes) as dataset:
        attributes = read_attributes(dataset)
        thumbnail = render_thumbnail(dataset, RenderOptions(size=settings.thumbnail_size))
        wants_cog = source.size <= settings.cog_copy_max_bytes and needs_cog_copy(dataset, settings.thumbnail_size)
    attributes["source"] = asdict(source)
    return Rendered(thumbnail.content, json.dumps(attributes, indent=2).encode(), wants_cog)


def write_cog_copy(source: s3_store.ObjectInfo, outputs: OutputKeys, settings: Settings) -> None:
    """Convert the object to a COG in a temporary directory (Lambda's /tmp) and upload it."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "copy.tif")
        with s3_store.open_object(source, settings.max_object_bytes) as dataset:
            write_cog(dataset, path)
        size = os.path.getsize(path)
        s3_store.put_file(outputs.bucket, outputs.cog, path, COG_MEDIA_TYPE, source.etag)
    logger.info("cog copy written", extra={"key": source.key, "cog": outputs.cog, "cog_bytes": size,
                                           "cog_ms": round((time.perf_counter() - start) * 1000)})


def process_record(bucket: str, key: str, size: int, settings: Settings) -> Outcome:
    """Render one object unless it is skipped, already done, or bad; S3 errors propagate."""
    reason = skip_reason(key, size, settings, bucket)
    if reason:
        return Outcome(key, "skipped", reason)
    source = s3_store.head(bucket, key)
    if source is None:
        return Outcome(key, "skipped", "deleted")
    if source.size == 0:
        return Outcome(key, "skipped", "empty")
    outputs = settings.output_keys(key, bucket)
    if s3_store.current_output(outputs.bucket, outputs.attributes, source) is not None:
        return Outcome(key, "skipped", "already_processed")
    try:
        rendered = render_object(source, settings)
    except RasterError as error:
        record_rejected(error.code, error.message, bucket=bucket, key=key, size=source.size)
        return Outcome(key, "rejected", error.code)
    # Thumbnail first, attributes last: the attributes object marks the pair as complete.
    s3_store.put(outputs.bucket, outputs.thumbnail, rendered.thumbnail, "image/png", source.etag)
    s3_store.put(outputs.bucket, outputs.attributes, rendered.attributes_json, "application/json", source.etag)
    logger.info("outputs written", extra={"key": key, "thumbnail": outputs.thumbnail,
                                          "attributes": outputs.attributes, "png_bytes": len(rendered.thumbnail)})
    if not rendered.wants_cog:
        return Outcome(key, "written")
    try:
        write_cog_copy(source, outputs, settings)
    except Exception:  # noqa: BLE001 - outputs are written; the copy only speeds up later reads
        # Not retried: a retry would find the outputs and skip. Thumbnails keep reading the original.
        logger.exception("cog copy failed", extra={"key": key, "cog": outputs.cog})
        return Outcome(key, "written", "cog_copy_failed")
    return Outcome(key, "written", "with_cog_copy")


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
@event_source(data_class=S3Event)
def handler(event: S3Event, context: LambdaContext) -> dict:
    """Lambda entry point for S3 ObjectCreated notifications (any number of records)."""
    settings = Settings.from_env()
    outcomes, failures = [], []
    for record in event.records:
        # Keys arrive URL-encoded ("my+scene%C3%A9.tif"); decode every record, not only the first.
        bucket, key = record.s3.bucket.name, unquote_plus(record.s3.get_object.key)
        try:
            outcomes.append(process_record(bucket, key, record.s3.get_object.size or 0, settings))
        except Exception as error:  # S3/network trouble: finish the other records, then retry them all
            logger.exception("transient failure", extra={"bucket": bucket, "key": key})
            failures.append(error)
    result = {"results": [asdict(o) for o in outcomes]}
    logger.info("event processed", extra=result)
    if failures:
        raise RuntimeError(f"{len(failures)} record(s) failed and will be retried") from failures[0]
    return result
