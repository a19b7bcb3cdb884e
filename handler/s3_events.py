"""The three ways an S3 "object created" notification reaches Lambda, read into one `ObjectEvent` each.

Direct S3 notifications and S3 notifications wrapped in SQS messages carry `Records` with URL-encoded
keys; S3 EventBridge notifications carry one object in `detail`, key not encoded. A record that cannot
be read (missing fields, bad key encoding) becomes a `MalformedRecord` value next to the good ones, so
it fails alone. S3's `s3:TestEvent` names no object.
"""

import json
from dataclasses import dataclass
from typing import Callable, Protocol, TypeVar
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from handler.s3_store import version_id

TEST_EVENT = "s3:TestEvent"
S3_CREATED = "ObjectCreated:"  # eventName prefix: ObjectCreated:Put, :Post, :Copy, :CompleteMultipartUpload
EVENTBRIDGE_CREATED = "Object Created"  # detail-type

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
    size: int
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


def from_s3_record(record: S3EventRecord) -> ObjectEvent:
    """A direct (or SQS-carried) S3 notification record; its key is URL-encoded ('+' is a space)."""
    obj = record.s3.get_object
    raw = _field(obj.raw_event.get("key"), "s3.object.key")
    try:
        key = unquote_plus(raw, errors="strict")
    except UnicodeDecodeError:
        raise MalformedRecord("s3.object.key is not URL-encoded UTF-8", raw) from None
    return ObjectEvent(_field(record.s3.bucket.name, "s3.bucket.name"), key, obj.size, obj.etag,
                       version_id(obj.version_id), _field(record.event_name, "eventName").startswith(S3_CREATED))


def from_eventbridge(event: S3EventBridgeNotificationEvent) -> ObjectEvent:
    """An S3 EventBridge notification; its key is not URL-encoded (Powertools' `.key` would unquote it)."""
    detail = event.detail
    obj = detail.object
    key = _field(obj.raw_event.get("key"), "detail.object.key")
    return ObjectEvent(_field(detail.bucket.name, "detail.bucket.name"), key, int(obj["size"]), obj.etag,
                       version_id(obj.get("version-id")), event.detail_type == EVENTBRIDGE_CREATED)


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
