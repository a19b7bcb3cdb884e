"""Processing one stored scene, as the S3 trigger does for every object it is told about: render exactly
the version it was told about, then write thumbnail, STAC Item and attributes with conditional writes
only while that version is current (an older render never overwrites a newer one, replays do no work),
and a COG copy for inputs without usable overviews. Bad files are rejections, never retried; only the
store's trouble is raised for a retry."""

import json
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable, Protocol, Sequence

from handler.core import RenderOptions, render_thumbnail
from handler.core.cog import needs_cog_copy, write_cog
from handler.core.deadline import Deadline
from handler.core.errors import DeadlineExceeded, RasterError, UnreadableRaster
from handler.core.stac import COG, GEOJSON, PNG, s3_href
from handler.observability import logger, record_rejected, rendering_metrics
from handler.scene.items import Description, describe, scene_item
from handler.scene.keys import key_problem
from handler.scene.layout import OUTPUT_FOLDERS, OutputKeys, output_keys
from handler.scene.sources import open_object
from handler.scene.status import current_rejection, rejection_json
from handler.scene.store import ObjectInfo, Store, WriteConflict
from handler.settings import Settings

# Lost conditional writes (another render of the same key wrote in between) before the object is retried.
MAX_WRITE_ATTEMPTS = 3


class ObjectRequest(Protocol):
    """One object a notification names (`handler.s3_events.ObjectEvent`)."""

    bucket: str
    key: str
    size: int | None  # None: the request does not say (an S3 Batch Operations task)
    created: bool

    def names(self, current: ObjectInfo) -> bool:
        """True when `current` is the version the notification was sent for."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one object: written, skipped (with why) or rejected (with the error code)."""

    key: str
    status: str
    reason: str = ""


class OutOfSharedTime(RuntimeError):
    """An object ran out of time that earlier objects of the same invocation had used: a retry gives
    it the whole time, so this is not the file's fault."""


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


@dataclass(frozen=True)
class Rendered:
    """What one source object gave: its thumbnail PNG, its description (attributes with `source`), and
    whether it deserves a COG copy."""

    thumbnail: bytes
    description: Description
    wants_cog: bool


@dataclass(frozen=True)
class Output:
    """One object to write: bytes, or a local file."""

    key: str
    body: bytes | Path
    content_type: str


def skip_reason(request: ObjectRequest, settings: Settings) -> str | None:
    """Why a notified object is not ours to render (loop guard included), or None when it is."""
    if not request.created:
        return "not_object_created"
    if settings.input_bucket and request.bucket != settings.input_bucket:
        return "other_bucket"
    if (settings.output_bucket or request.bucket) == request.bucket and request.key.startswith(OUTPUT_FOLDERS):
        return "output_prefix"
    problem = key_problem(request.key, settings.input_prefix)  # the same policy as key=
    if problem:
        return problem
    if request.size == 0:
        return "empty"
    return None


def render_object(store: Store, source: ObjectInfo, settings: Settings, deadline: Deadline) -> Rendered:
    """Thumbnail PNG and description of a stored object, and whether a COG copy fits before `deadline`."""
    with rendering_metrics(source.size), open_object(store, source, settings.max_object_bytes) as opened:
        description = describe(opened)
        thumbnail = render_thumbnail(opened.dataset, RenderOptions(thumbnail_size=settings.thumbnail_size), deadline)
        wants_cog = source.size <= settings.cog_copy_max_bytes and needs_cog_copy(
            opened.dataset, settings.thumbnail_size, deadline
        )
    description.attributes["source"] = asdict(source)
    description.attributes["radiometry"] = thumbnail.radiometry.as_dict()  # what the render found in the pixels too
    return Rendered(thumbnail.content, description, wants_cog)


def item_json(
    source: ObjectInfo, outputs: OutputKeys, rendered: Rendered, *, with_cog: bool, created: datetime
) -> bytes:
    """The STAC Item of a rendered object: the source, its thumbnail and, once written, its COG copy."""
    item = scene_item(
        outputs.item_id,
        s3_href(source.bucket, source.key),
        rendered.description,
        thumbnail=s3_href(outputs.bucket, outputs.thumbnail),
        cog=s3_href(outputs.bucket, outputs.cog) if with_cog else None,
        created=created,
    )
    return json.dumps(item, indent=2).encode()


def reject(store: Store, source: ObjectInfo, outputs: OutputKeys, error: Exception) -> Outcome:
    """Log and count a file whose content failed to render (never retried), and record why in its status
    object, under the same version guard as outputs, so its upload's result reads `failed`."""
    if isinstance(error, RasterError):
        code, message = error.code, error.message
    else:  # GDAL/rasterio (or numpy) errors that escaped the core: still the file's doing
        code, message = UnreadableRaster.code, "The file could not be rendered."
    record_rejected(
        code, message, bucket=source.bucket, key=source.key, size=source.size, error_type=type(error).__name__
    )
    write_outputs(
        store,
        source,
        outputs.bucket,
        [Output(outputs.status, rejection_json(source, code, message), "application/json")],
    )
    return Outcome(source.key, "rejected", code)


def write_outputs(store: Store, source: ObjectInfo, bucket: str, outputs: Sequence[Output]) -> bool:
    """Write `outputs` made from `source` while it is the object's current version; False when it no
    longer is (the newer version's own notification renders that one).

    Each output's ETag is read before the source is checked, and the put succeeds only if the output
    still has it (conditional writes): a render that wrote in between makes the put fail, and the next
    look then finds the newer source. So an older render can never overwrite a newer one.
    """
    for _ in range(MAX_WRITE_ATTEMPTS):
        seen = [store.output_etag(bucket, output.key) for output in outputs]
        if not source.same_version(store.head(source.bucket, source.key)):
            return False
        try:
            for output, etag in zip(outputs, seen):
                store.put(bucket, output.key, output.body, output.content_type, source.etag, replaces=etag)
            return True
        except WriteConflict:
            logger.info("an output changed while writing; looking again", extra={"key": source.key})
    raise WriteConflict(f"outputs of {source.key} kept changing; retrying later")


def write_cog_copy(store: Store, source: ObjectInfo, outputs: OutputKeys, settings: Settings, item: bytes) -> str:
    """Convert the object to a COG in a temporary directory (Lambda's /tmp) and upload it, then `item`
    (the STAC Item that lists it), under the same version guard as the other outputs; the outcome's
    reason. A failure is logged, not retried: the outputs are written, and thumbnails keep reading
    the original."""
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            path = Path(workdir) / "copy.tif"
            with open_object(store, source, settings.max_object_bytes) as opened:
                write_cog(opened.dataset, str(path))
            size = path.stat().st_size
            if not write_outputs(
                store, source, outputs.bucket, [Output(outputs.cog, path, COG), Output(outputs.item, item, GEOJSON)]
            ):
                return "cog_copy_superseded"
    except Exception:  # noqa: BLE001 - a retry would find the outputs and skip
        logger.exception("cog copy failed", extra={"key": source.key, "cog": outputs.cog})
        return "cog_copy_failed"
    logger.info(
        "cog copy written",
        extra={
            "key": source.key,
            "cog": outputs.cog,
            "cog_bytes": size,
            "cog_ms": round((time.perf_counter() - start) * 1000),
        },
    )
    return "with_cog_copy"


def render_in_time(store: Store, source: ObjectInfo, settings: Settings, time_left: InvocationTime) -> Rendered:
    """`render_object` before the invocation's deadline; a later object that runs out of the shared
    time raises OutOfSharedTime (retried) instead of DeadlineExceeded (a rejection)."""
    first = not time_left.used
    time_left.used = True
    try:
        return render_object(store, source, settings, time_left.deadline())
    except DeadlineExceeded as error:
        if first:
            raise
        raise OutOfSharedTime(f"{source.key} ran out of the time earlier objects used") from error


def process_object(
    store: Store, request: ObjectRequest, settings: Settings, time_left: InvocationTime, *, force: bool = False
) -> Outcome:
    """Render the object version `request` names unless it is skipped, done already, superseded or bad;
    `force` renders it even when its outputs are current (the rendering changed), replacing them.
    Only the store's failures (and OutOfSharedTime) are raised, for a retry; bad files are rejections."""
    reason = skip_reason(request, settings)
    if reason:
        return Outcome(request.key, "skipped", reason)
    source = store.head(request.bucket, request.key)
    if source is None:
        return Outcome(request.key, "skipped", "deleted")
    if not request.names(source):  # GDAL's /vsis3/ reads the current version only
        return Outcome(request.key, "skipped", "superseded")
    if source.size == 0:
        return Outcome(request.key, "skipped", "empty")
    outputs = output_keys(settings, request.key, request.bucket)
    if not force and store.current_output(outputs.bucket, outputs.attributes, source) is not None:
        return Outcome(request.key, "skipped", "already_processed")
    previous = None if force else current_rejection(store, outputs.bucket, outputs.status, source)
    if previous is not None:  # a replay of a rejected version: the same answer, without a render
        return Outcome(request.key, "rejected", previous["code"])
    try:
        rendered = render_in_time(store, source, settings, time_left)
    except Exception as error:  # noqa: BLE001 - sorted into the store's trouble (raised) and the file's fault
        if isinstance(error, OutOfSharedTime) or store.is_transient(error):
            raise
        return reject(store, source, outputs, error)
    created = datetime.now(UTC)
    attributes = json.dumps(rendered.description.attributes, indent=2).encode()
    # Thumbnail, then the Item, attributes last: the attributes object marks the set as complete.
    written = write_outputs(
        store,
        source,
        outputs.bucket,
        [
            Output(outputs.thumbnail, rendered.thumbnail, PNG),
            Output(outputs.item, item_json(source, outputs, rendered, with_cog=False, created=created), GEOJSON),
            Output(outputs.attributes, attributes, "application/json"),
        ],
    )
    if not written:
        return Outcome(request.key, "skipped", "changed_during_render")
    logger.info(
        "outputs written",
        extra={
            "key": request.key,
            "thumbnail": outputs.thumbnail,
            "item": outputs.item,
            "attributes": outputs.attributes,
            "png_bytes": len(rendered.thumbnail),
        },
    )
    if not rendered.wants_cog:
        return Outcome(request.key, "written")
    item = item_json(source, outputs, rendered, with_cog=True, created=created)
    return Outcome(request.key, "written", write_cog_copy(store, source, outputs, settings, item))
