"""S3 trigger: render a thumbnail, attributes and a STAC Item of every GeoTIFF created under the input prefix.

`handler` takes the three ways S3 notifications reach Lambda: direct S3 events and S3 EventBridge events
(asynchronous invocations: S3 failures are raised so Lambda retries, then sends the event to the
on-failure destination) and S3 events in SQS messages (only the messages that hit S3 failures are
reported back, as partial batch failures). Every object goes through `process_object`, which renders
exactly the version its event names and writes outputs with conditional puts only while that version is
current, so an older render never overwrites a newer one and replays do no work. Bad files and
malformed records are logged and counted, never retried. Inputs without usable overviews also get a COG
copy, which later `key=` thumbnails read instead.
"""

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from rasterio._err import (CPLE_AWSAccessDeniedError, CPLE_AWSBucketNotFoundError, CPLE_AWSError,
                           CPLE_AWSInvalidCredentialsError, CPLE_AWSObjectNotFoundError,
                           CPLE_AWSSignatureDoesNotMatchError, CPLE_HttpResponseError)

from handler import s3_store
from handler.core import RenderOptions, read_attributes, render_thumbnail
from handler.core.cog import needs_cog_copy, write_cog
from handler.core.deadline import Deadline
from handler.core.errors import DeadlineExceeded, RasterError, UnreadableRaster
from handler.core.stac import COG, GEOJSON, PNG, s3_href, scene_assets, stac_item
from handler.observability import logger, metrics, record_rejected, rendering_metrics, tracer
from handler.scene import key_problem
from handler.s3_events import MalformedRecord, ObjectEvent, is_sqs_batch, read_notification, read_sqs_message
from handler.settings import OutputKeys, Settings

# Lost conditional writes (another render of the same key wrote in between) before the event is retried.
MAX_WRITE_ATTEMPTS = 3


class OutOfSharedTime(RuntimeError):
    """An object ran out of time that earlier objects of the same invocation had used: a retry gives
    it the whole time, so this is not the file's fault."""


# S3 or network trouble: boto3's errors, and what GDAL's /vsis3/ reads raise for HTTP and AWS errors
# (the core wraps those in UnreadableRaster; they stay in its cause chain).
TRANSIENT_ERRORS = (OutOfSharedTime, BotoCoreError, ClientError, CPLE_HttpResponseError, CPLE_AWSError,
                    CPLE_AWSObjectNotFoundError, CPLE_AWSAccessDeniedError, CPLE_AWSBucketNotFoundError,
                    CPLE_AWSInvalidCredentialsError, CPLE_AWSSignatureDoesNotMatchError)


@dataclass(frozen=True)
class Outcome:
    """What happened to one object: written, skipped (with why) or rejected (with the error code)."""

    key: str
    status: str
    reason: str = ""


class RetryLater(RuntimeError):
    """Some objects of a notification hit S3 or network trouble; the others are done."""


@dataclass
class InvocationTime:
    """Lambda's remaining time, shared by every object of one invocation (an event's records, an SQS
    batch). The first object rendered has all of it: running out is then its own cost, a rejection."""

    remaining_ms: Callable[[], int]
    write_margin_seconds: float
    used: bool = False

    def deadline(self) -> Deadline:
        """Rendering must end in time to write the outputs before Lambda stops the invocation."""
        return Deadline.after(self.remaining_ms() / 1000 - self.write_margin_seconds)


def skip_reason(event: ObjectEvent, settings: Settings) -> str | None:
    """Why an event's object is not ours to render (loop guard included), or None when it is."""
    key = event.key
    if not event.created:
        return "not_object_created"
    if settings.input_bucket and event.bucket != settings.input_bucket:
        return "other_bucket"
    if key.endswith("/"):
        return "folder"
    if (settings.output_bucket or event.bucket) == event.bucket and key.startswith(settings.output_prefixes):
        return "output_prefix"
    problem = key_problem(key, settings.input_prefix)  # the same policy as key=
    if problem:
        return problem
    if event.size == 0:
        return "empty"
    return None


def is_transient(error: BaseException) -> bool:
    """True when S3 or the network failed (anywhere in the cause chain): worth a retry. Anything else
    raised while reading an object comes from its content, which a retry would read again."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@dataclass(frozen=True)
class Rendered:
    """What one source object gave: its thumbnail PNG, its attributes (with `source`), its dataset
    tags (for the STAC Item's datetime), and whether it deserves a COG copy."""

    thumbnail: bytes
    attributes: dict[str, Any]
    tags: dict[str, str]
    wants_cog: bool


@dataclass(frozen=True)
class Output:
    """One object to write: bytes, or a local file."""

    key: str
    body: bytes | Path
    content_type: str


def render_object(source: s3_store.ObjectInfo, settings: Settings, deadline: Deadline) -> Rendered:
    """Thumbnail PNG, attributes and tags of an S3 object, and whether a COG copy fits before `deadline`."""
    with rendering_metrics(source.size), s3_store.open_object(source, settings.max_object_bytes) as dataset:
        attributes, tags = read_attributes(dataset), dataset.tags()
        thumbnail = render_thumbnail(dataset, RenderOptions(size=settings.thumbnail_size), deadline)
        wants_cog = (source.size <= settings.cog_copy_max_bytes
                     and needs_cog_copy(dataset, settings.thumbnail_size, deadline))
    attributes["source"] = asdict(source)
    attributes["radiometry"] = thumbnail.radiometry.as_dict()  # what the render found in the pixels too
    return Rendered(thumbnail.content, attributes, tags, wants_cog)


def item_json(source: s3_store.ObjectInfo, outputs: OutputKeys, rendered: Rendered, *, with_cog: bool,
              created: datetime) -> bytes:
    """The STAC Item of a rendered object: the source, its thumbnail and, once written, its COG copy."""
    assets = scene_assets(s3_href(source.bucket, source.key), s3_href(outputs.bucket, outputs.thumbnail),
                          s3_href(outputs.bucket, outputs.cog) if with_cog else None,
                          driver=rendered.attributes["driver"])
    item = stac_item(outputs.item_id, rendered.attributes, assets, tags=rendered.tags, now=created)
    return json.dumps(item, indent=2).encode()


def reject(source: s3_store.ObjectInfo, error: Exception) -> Outcome:
    """Log and count a file whose content failed to render (never retried)."""
    if isinstance(error, RasterError):
        code, message = error.code, error.message
    else:  # GDAL/rasterio (or numpy) errors that escaped the core: still the file's doing
        code, message = UnreadableRaster.code, "The file could not be rendered."
    record_rejected(code, message, bucket=source.bucket, key=source.key, size=source.size,
                    error_type=type(error).__name__)
    return Outcome(source.key, "rejected", code)


def write_outputs(source: s3_store.ObjectInfo, bucket: str, outputs: Sequence[Output]) -> bool:
    """Write `outputs` made from `source` while it is the object's current version; False when it no
    longer is (the newer version's own event renders that one).

    Each output's ETag is read before the source is checked, and the put succeeds only if the output
    still has it (S3 conditional writes): a render that wrote in between makes the put fail, and the
    next look then finds the newer source. So an older render can never overwrite a newer one.
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        seen = [s3_store.output_etag(bucket, output.key) for output in outputs]
        if not source.same_version(s3_store.head(source.bucket, source.key)):
            return False
        try:
            for output, etag in zip(outputs, seen):
                s3_store.put(bucket, output.key, output.body, output.content_type, source.etag, replaces=etag)
            return True
        except s3_store.WriteConflict:
            logger.info("an output changed while writing; looking again", extra={"key": source.key})
    raise s3_store.WriteConflict(f"outputs of {source.key} kept changing; retrying the event later")


def write_cog_copy(source: s3_store.ObjectInfo, outputs: OutputKeys, settings: Settings, item: bytes) -> str:
    """Convert the object to a COG in a temporary directory (Lambda's /tmp) and upload it, then `item`
    (the STAC Item that lists it), under the same version guard as the other outputs; the outcome's
    reason. A failure is logged, not retried: the outputs are written, and thumbnails keep reading
    the original."""
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            path = Path(workdir) / "copy.tif"
            with s3_store.open_object(source, settings.max_object_bytes) as dataset:
                write_cog(dataset, str(path))
            size = path.stat().st_size
            if not write_outputs(source, outputs.bucket, [Output(outputs.cog, path, COG),
                                                          Output(outputs.item, item, GEOJSON)]):
                return "cog_copy_superseded"
    except Exception:  # noqa: BLE001 - a retry would find the outputs and skip
        logger.exception("cog copy failed", extra={"key": source.key, "cog": outputs.cog})
        return "cog_copy_failed"
    logger.info("cog copy written", extra={"key": source.key, "cog": outputs.cog, "cog_bytes": size,
                                           "cog_ms": round((time.perf_counter() - start) * 1000)})
    return "with_cog_copy"


def render_in_time(source: s3_store.ObjectInfo, settings: Settings, time_left: InvocationTime) -> Rendered:
    """`render_object` before the invocation's deadline; a later object that runs out of the shared
    time raises OutOfSharedTime (retried) instead of DeadlineExceeded (a rejection)."""
    first = not time_left.used
    time_left.used = True
    try:
        return render_object(source, settings, time_left.deadline())
    except DeadlineExceeded as error:
        if first:
            raise
        raise OutOfSharedTime(f"{source.key} ran out of the time earlier objects used") from error


def process_object(event: ObjectEvent, settings: Settings, time_left: InvocationTime) -> Outcome:
    """Render the object version `event` names unless it is skipped, done already, superseded or bad.
    Only S3/network failures are raised (a retry may succeed); bad files are logged rejections."""
    reason = skip_reason(event, settings)
    if reason:
        return Outcome(event.key, "skipped", reason)
    source = s3_store.head(event.bucket, event.key)
    if source is None:
        return Outcome(event.key, "skipped", "deleted")
    if not event.names(source):  # GDAL's /vsis3/ reads the current version only
        return Outcome(event.key, "skipped", "superseded")
    if source.size == 0:
        return Outcome(event.key, "skipped", "empty")
    outputs = settings.output_keys(event.key, event.bucket)
    if s3_store.current_output(outputs.bucket, outputs.attributes, source) is not None:
        return Outcome(event.key, "skipped", "already_processed")
    try:
        rendered = render_in_time(source, settings, time_left)
    except Exception as error:  # noqa: BLE001 - sorted into S3 trouble (raised) and the file's fault
        if is_transient(error):
            raise
        return reject(source, error)
    item = partial(item_json, source, outputs, rendered, created=datetime.now(UTC))
    # Thumbnail, then the Item, attributes last: the attributes object marks the set as complete.
    written = write_outputs(source, outputs.bucket, [
        Output(outputs.thumbnail, rendered.thumbnail, PNG), Output(outputs.item, item(with_cog=False), GEOJSON),
        Output(outputs.attributes, json.dumps(rendered.attributes, indent=2).encode(), "application/json")])
    if not written:
        return Outcome(event.key, "skipped", "changed_during_render")
    logger.info("outputs written", extra={"key": event.key, "thumbnail": outputs.thumbnail, "item": outputs.item,
                                          "attributes": outputs.attributes, "png_bytes": len(rendered.thumbnail)})
    if not rendered.wants_cog:
        return Outcome(event.key, "written")
    return Outcome(event.key, "written", write_cog_copy(source, outputs, settings, item(with_cog=True)))


def process_item(item: ObjectEvent | MalformedRecord, settings: Settings, time_left: InvocationTime) -> Outcome:
    """`process_object`, or a logged rejection of a record that names no object."""
    if isinstance(item, MalformedRecord):
        record_rejected("malformed_record", item.reason, key=item.key)
        return Outcome(item.key, "rejected", "malformed_record")
    return process_object(item, settings, time_left)


def process_all(items: Iterable[ObjectEvent | MalformedRecord], settings: Settings,
                time_left: InvocationTime) -> list[Outcome]:
    """Each item on its own; S3 failures are logged, and raised as RetryLater once the others are done."""
    outcomes, failures = [], []
    for item in items:
        try:
            outcomes.append(process_item(item, settings, time_left))
        except Exception as error:  # S3/network trouble: finish the other objects, then retry
            logger.exception("transient failure", extra={"bucket": getattr(item, "bucket", ""), "key": item.key})
            failures.append(error)
    logger.info("objects processed", extra={"results": [asdict(o) for o in outcomes], "failed": len(failures)})
    if failures:
        raise RetryLater(f"{len(failures)} object(s) failed and will be retried") from failures[0]
    return outcomes


# A batch whose every message failed is answered like any other (all listed), not raised.
_sqs_batch = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def process_sqs_batch(event: dict, context: LambdaContext, settings: Settings, time_left: InvocationTime) -> dict:
    """S3 notifications in SQS messages: `batchItemFailures` lists the messages that hit S3 failures
    (SQS delivers them again); every other message, bad files and malformed bodies included, is done."""
    def record_handler(record: SQSRecord) -> None:
        process_all(read_sqs_message(record), settings, time_left)

    return process_partial_response(event=event, record_handler=record_handler, processor=_sqs_batch,
                                    context=context)


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: object, context: LambdaContext) -> dict:
    """Lambda entry point for S3 ObjectCreated notifications: direct (any number of records), in SQS
    messages (partial batch response) or as S3 EventBridge events."""
    settings = Settings.from_env()
    time_left = InvocationTime(context.get_remaining_time_in_millis, settings.trigger_write_margin_seconds)
    if is_sqs_batch(event):
        return process_sqs_batch(event, context, settings, time_left)
    return {"results": [asdict(o) for o in process_all(read_notification(event), settings, time_left)]}
