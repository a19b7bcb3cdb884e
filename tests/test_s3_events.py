"""The S3 trigger's three event shapes (direct S3, S3 in SQS, S3 EventBridge), test events and malformed
records: each record fails alone, and only S3 trouble is retried (in-process moto, rendering faked)."""

import json
from pathlib import Path

import pytest

from events.make_events import (
    S3_EVENT_SCENE,
    eventbridge_event,
    s3_put_event,
    s3_test_event,
    sqs_event,
    synthetic_geotiff,
)
from handler.s3_events import MalformedRecord, ObjectEvent, is_sqs_batch, read_notification
from handler.s3_trigger import handler
from tests import s3_helpers
from tests.s3_helpers import BUCKET, moto_server

s3, rendered = s3_helpers.s3, s3_helpers.rendered  # the shared fixtures
BODY = b"II*\x00 not rendered here"
EVENTS = Path(__file__).resolve().parents[1] / "events"


def upload(s3, key: str) -> tuple:
    etag = s3.put_object(Bucket=BUCKET, Key=key, Body=BODY)["ETag"].strip('"')
    return BUCKET, key, len(BODY), etag


def results(response: dict) -> dict[str, tuple[str, str]]:
    return {r["key"]: (r["status"], r["reason"]) for r in response["results"]}


def test_eventbridge_keys_are_not_url_decoded():
    # Planted bug: reading Powertools' `.key` (unquote_plus) -> 'a b.tif' instead of 'a+b.tif'.
    (parsed,) = read_notification(eventbridge_event(BUCKET, "uploads/a+b%41.tif", 5, "e1", "v1"))
    assert parsed == ObjectEvent(BUCKET, "uploads/a+b%41.tif", 5, "e1", "v1", True)
    (direct,) = read_notification(s3_put_event((BUCKET, "uploads/a+b%A.tif", 5, "e1")))
    assert direct.key == "uploads/a+b%A.tif"  # S3 events are encoded on the way in, decoded on the way out


def test_eventbridge_object_created_renders(s3, rendered, lambda_context):
    response = handler(eventbridge_event(*upload(s3, "uploads/a+b.tif")), lambda_context)
    assert results(response) == {"uploads/a+b.tif": ("written", "")}
    assert rendered == ["uploads/a+b.tif"]
    other = handler(eventbridge_event(BUCKET, "uploads/a.tif", 5, detail_type="Object Deleted"), lambda_context)
    assert results(other) == {"uploads/a.tif": ("skipped", "not_object_created")}


def test_malformed_records_fail_alone(s3, rendered, lambda_context):
    # Planted bug: errors="replace" in unquote_plus -> the %E9 record renders as 'uploads/caf\ufffd.tif'.
    good = upload(s3, "uploads/good.tif")
    event = s3_put_event(good, good)
    del event["Records"][0]["s3"]["object"]["key"]
    event["Records"][1]["s3"]["object"]["key"] = "uploads/caf%E9.tif"  # Latin-1, not UTF-8
    event["Records"] += [{"s3": "nonsense"}, "not a record", s3_put_event(good)["Records"][0]]
    response = handler(event, lambda_context)
    assert [(r["status"], r["reason"]) for r in response["results"]] == [("rejected", "malformed_record")] * 4 + [
        ("written", "")
    ]
    assert response["results"][1]["key"] == "uploads/caf%E9.tif"
    assert rendered == ["uploads/good.tif"]


@pytest.mark.parametrize("payload", [{}, {"Records": "x"}, {"detail-type": "Object Created", "detail": {}}, []])
def test_unrecognised_notifications_are_logged_not_retried(s3, rendered, lambda_context, payload):
    assert results(handler(payload, lambda_context)) == {"": ("rejected", "malformed_record")}


def test_s3_test_events_are_ignored(s3, rendered, lambda_context):
    # Planted bug: no TEST_EVENT check -> a malformed_record rejection.
    assert handler(s3_test_event(BUCKET), lambda_context) == {"results": []}
    assert handler(sqs_event(s3_test_event(BUCKET)), lambda_context) == {"batchItemFailures": []}


def test_sqs_batch_reports_only_messages_with_s3_trouble(s3, rendered, lambda_context):
    # Planted bug: a rejection raised instead of returned -> msg-1 (not a TIFF) is reported too.
    flaky_message = s3_put_event(upload(s3, "uploads/flaky.tif"), upload(s3, "uploads/b.tif"))
    event = sqs_event(
        s3_put_event(upload(s3, "uploads/a.tif")),
        s3_put_event(upload(s3, "uploads/bad.tif")),
        flaky_message,
        "{not json",
        s3_test_event(BUCKET),
        eventbridge_event(*upload(s3, "uploads/c.tif")),
    )
    assert handler(event, lambda_context) == {"batchItemFailures": [{"itemIdentifier": "msg-2"}]}
    # The other object of the failed message was still rendered; SQS delivers the message again,
    # where it is skipped and the flaky object tried again.
    assert rendered == ["uploads/a.tif", "uploads/b.tif", "uploads/c.tif"]
    assert handler(sqs_event(flaky_message), lambda_context) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert rendered == ["uploads/a.tif", "uploads/b.tif", "uploads/c.tif"]


def test_committed_events_name_the_scene_ci_uploads():
    """events/*.json are what make_events.py writes; the three trigger events name the same object."""
    put = json.loads((EVENTS / "s3-put.json").read_text())
    sqs = json.loads((EVENTS / "sqs-s3-put.json").read_text())
    bridge = json.loads((EVENTS / "eventbridge-object-created.json").read_text())
    parsed = [
        read_notification(put),
        read_notification(json.loads(sqs["Records"][0]["body"])),
        read_notification(bridge),
    ]
    assert parsed[0] == parsed[1] == parsed[2] and not isinstance(parsed[0][0], MalformedRecord)
    assert parsed[0][0].etag and parsed[0][0].key.startswith("uploads/")


@pytest.mark.parametrize(
    "name", ["s3-put.json", "sqs-s3-put.json", "eventbridge-object-created.json", "s3-put-encoded-key.json"]
)
def test_committed_events_render_the_scene_ci_uploads(name, monkeypatch, lambda_context):
    """What .ci/sam.sh does under sam local: upload the 600 x 400 scene, invoke with the committed event.
    Its ETag must be the event's, or the trigger skips the object as superseded."""
    # Planted bug: a stale eTag in events/*.json (the old hand-written "0123456789abcdef") -> "superseded".
    event = json.loads((EVENTS / name).read_text())
    (target,) = read_notification(event if name != "sqs-s3-put.json" else json.loads(event["Records"][0]["body"]))
    monkeypatch.setenv("INPUT_BUCKET", target.bucket)
    with moto_server(monkeypatch) as client:
        client.create_bucket(Bucket=target.bucket)
        client.put_object(Bucket=target.bucket, Key=target.key, Body=synthetic_geotiff(*S3_EVENT_SCENE))
        response = handler(event, lambda_context)
        expected = (
            {"batchItemFailures": []}
            if name == "sqs-s3-put.json"
            else {"results": [{"key": target.key, "status": "written", "reason": ""}]}
        )
        assert response == expected
        outputs = {o["Key"] for o in client.list_objects_v2(Bucket=target.bucket)["Contents"]}
        assert f"thumbnails/{target.key.removeprefix('uploads/')}.png" in outputs


@pytest.mark.parametrize(
    "event", [{"Records": []}, {"Records": {"0": {"eventSource": "aws:sqs"}}}, {"Records": None}, []]
)
def test_only_a_list_of_sqs_records_is_an_sqs_batch(event):
    assert is_sqs_batch(event) is False
