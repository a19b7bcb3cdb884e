"""The three ways an S3 "object created" notification reaches Lambda, and S3 Batch Operations tasks, read
into one `ObjectEvent` each.

Direct S3 notifications and S3 notifications wrapped in SQS messages carry `Records` with URL-encoded
keys; S3 EventBridge notifications carry one object in `detail`, key not encoded; Batch Operations tasks
carry the key URL-encoded as the job's manifest lists it. A record or task that cannot be read (missing
fields, bad key encoding) becomes a `MalformedRecord` value next to the good ones, so it fails alone.
S3's `s3:TestEvent` names no object.
"""

import json
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.data_classes.s3_batch_operation_event import S3BatchOperationTask
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from handler.s3_store import version_id

TEST_EVENT = "s3:TestEvent"
S3_CREATED = "ObjectCreated:"  # eventName prefix: ObjectCreated:Put, :Post, :Copy, :CompleteMultipartUpload
EVENTBRIDGE_CREATED = "Object Created"  # detail-type
# Batch Operations invocation schemas: 2.0 names the bucket and may carry userArguments; 1.0 gives the
# bucket's ARN and no arguments. Both send the key URL-encoded, as in the manifest.
BATCH_SCHEMAS = ("1.0", "2.0")
FORCE = "force"  # the user argument that re-renders objects whose outputs are current: "true" or "false"

T = TypeVar("T")


class Version(Protocol):
    """What HEAD says about an object's current version (s3_store.ObjectInfo)."""

    etag: str
    version_id: str | None


@dataclass(frozen=True)
class ObjectEvent:
    """One object a notification names: the version it was sent for (ETag, and version id in versioned
    buckets) and whether it says the object was created (other kinds are skipped)."""

    bucket: str
    key: str
    size: int | None  # None: not said (a Batch Operations task)
    etag: str  # "" when the notification has none
    version_id: str | None
    created: bool

    def names(self, current: Version) -> bool:
        """True when `current` is the version this event was sent for: same version id in a versioned
        bucket, else same ETag (any version when the event has neither)."""
        if self.version_id:
            return current.version_id == self.version_id
        return not self.etag or current.etag == self.etag


class MalformedRecord(ValueError):
    """A notification record that does not name an object (missing fields, wrong types, bad encoding)."""

    def __init__(self, reason: str, key: str = ""):
        super().__init__(reason)
        self.reason, self.key = reason, key


def _field(value: object, name: str) -> str:
    """A required, non-empty text field of a record."""
    if not isinstance(value, str) or not value:
        raise MalformedRecord(f"{name} is missing or not a string")
    return value


def _read(parse: Callable[[T], ObjectEvent], record: T) -> ObjectEvent | MalformedRecord:
    """`parse(record)`, or the reason it could not be read."""
    try:
        return parse(record)
    except MalformedRecord as error:
        return error
    except (KeyError, TypeError, ValueError, AttributeError) as error:  # missing keys, wrong JSON types
        return MalformedRecord(f"unreadable record ({type(error).__name__}: {error})")


def _decoded_key(raw: object, name: str) -> str:
    """A URL-encoded key field ('+' is a space, '%2B' a plus), decoded; never a lossy guess."""
    encoded = _field(raw, name)
    try:
        return unquote_plus(encoded, errors="strict")
    except UnicodeDecodeError:
        raise MalformedRecord(f"{name} is not URL-encoded UTF-8", encoded) from None


def from_s3_record(record: S3EventRecord) -> ObjectEvent:
    """A direct (or SQS-carried) S3 notification record; its key is URL-encoded."""
    obj = record.s3.get_object
    key = _decoded_key(obj.raw_event.get("key"), "s3.object.key")
    return ObjectEvent(
        _field(record.s3.bucket.name, "s3.bucket.name"),
        key,
        obj.size,
        obj.etag,
        version_id(obj.version_id),
        _field(record.event_name, "eventName").startswith(S3_CREATED),
    )


def from_eventbridge(event: S3EventBridgeNotificationEvent) -> ObjectEvent:
    """An S3 EventBridge notification; its key is not URL-encoded (Powertools' `.key` would unquote it)."""
    detail = event.detail
    obj = detail.object
    key = _field(obj.raw_event.get("key"), "detail.object.key")
    return ObjectEvent(
        _field(detail.bucket.name, "detail.bucket.name"),
        key,
        int(obj["size"]),
        obj.etag,
        version_id(obj.get("version-id")),
        event.detail_type == EVENTBRIDGE_CREATED,
    )


def read_notification(payload: object) -> list[ObjectEvent | MalformedRecord]:
    """The objects one notification names, in order: an S3 notification's records, an EventBridge
    event's object, nothing for a test event, or why the payload is none of these."""
    if not isinstance(payload, dict):
        return [MalformedRecord("the notification is not a JSON object")]
    if payload.get("Event") == TEST_EVENT:
        return []
    if "detail-type" in payload:
        return [_read(from_eventbridge, S3EventBridgeNotificationEvent(payload))]
    if isinstance(payload.get("Records"), list):
        return [_read(from_s3_record, record) for record in S3Event(payload).records]
    return [MalformedRecord("neither an S3 notification nor an S3 EventBridge event")]


def read_sqs_message(record: SQSRecord) -> list[ObjectEvent | MalformedRecord]:
    """The objects named by the S3 notification (or EventBridge event) in an SQS message's body."""
    try:
        payload = json.loads(record.body)
    except (TypeError, ValueError):
        return [MalformedRecord("the SQS message body is not JSON")]
    return read_notification(payload)


def is_sqs_batch(event: object) -> bool:
    """True for an SQS event source mapping's batch (records from aws:sqs)."""
    records = event.get("Records") if isinstance(event, dict) else None
    first = records[0] if isinstance(records, list) and records else None
    return isinstance(first, dict) and first.get("eventSource") == "aws:sqs"


@dataclass(frozen=True)
class BatchTask:
    """One task of an S3 Batch Operations job: its id (the answer names it) and the object it names."""

    task_id: str
    item: ObjectEvent | MalformedRecord


def is_batch_job(event: object) -> bool:
    """True for an S3 Batch Operations invocation (a LambdaInvoke job's tasks)."""
    return isinstance(event, dict) and "invocationSchemaVersion" in event and "tasks" in event


def from_batch_task(task: S3BatchOperationTask) -> ObjectEvent:
    """A Batch Operations task: the manifest's bucket and URL-encoded key, and its version id when the
    manifest names one (then only that version, while current, is rendered). No size, no ETag."""
    key = _decoded_key(task.raw_event.get("s3Key"), "s3Key")
    return ObjectEvent(_field(task.s3_bucket, "s3Bucket"), key, None, "", version_id(task.s3_version_id), True)


def read_force(payload: dict) -> bool:
    """A Batch Operations job's `force` user argument; MalformedRecord when none of the job's tasks can be
    run (an unknown schema version, user arguments that are not "true"/"false" strings)."""
    if payload.get("invocationSchemaVersion") not in BATCH_SCHEMAS:
        raise MalformedRecord(f"invocationSchemaVersion must be one of {', '.join(BATCH_SCHEMAS)}")
    job = payload.get("job")
    arguments = (job.get("userArguments") if isinstance(job, dict) else None) or {}
    if not isinstance(arguments, dict):
        raise MalformedRecord("job.userArguments is not a JSON object")
    value = arguments.get(FORCE, "false")
    if value not in ("true", "false"):
        raise MalformedRecord(f'job.userArguments.{FORCE} must be "true" or "false"')
    return value == "true"


def read_batch_job(payload: dict) -> tuple[bool, list[BatchTask]]:
    """Whether a Batch Operations job re-renders current outputs (`force`), and its tasks in order. A task
    that cannot be read, or every task of a job that cannot be run, carries a MalformedRecord; so does a
    task without an id, which cannot be answered (Batch Operations applies `treatMissingKeysAs`)."""
    try:
        force, problem = read_force(payload), None
    except MalformedRecord as error:
        force, problem = False, error
    tasks = payload.get("tasks")
    read = []
    for raw in tasks if isinstance(tasks, list) else []:
        try:
            task_id = _field(raw.get("taskId") if isinstance(raw, dict) else None, "taskId")
            read.append(BatchTask(task_id, problem or _read(from_batch_task, S3BatchOperationTask(raw))))
        except MalformedRecord as error:
            read.append(BatchTask("", error))
    return force, read
