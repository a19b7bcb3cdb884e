"""What operators read when the S3 trigger refuses a record: the reason each malformed notification, SQS
message or Batch Operations task is logged with (it names the field), and the "objects processed" and
"batch tasks processed" log lines. Also the edges of reading a Batch Operations job (no task list, a job
field that is not an object)."""

import logging

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from events.make_events import batch_job_event, batch_task, eventbridge_event, s3_put_event, sqs_event
from handler import s3_trigger
from handler.s3_events import (
    MalformedRecord,
    ObjectEvent,
    is_batch_job,
    read_batch_job,
    read_notification,
    read_sqs_message,
)
from tests import s3_helpers
from tests.s3_helpers import BUCKET

s3, rendered = s3_helpers.s3, s3_helpers.rendered  # the shared fixtures


def reasons(items: list) -> list[str]:
    assert all(isinstance(item, MalformedRecord) for item in items), items
    return [item.reason for item in items]


def test_a_malformed_records_message_is_its_reason():
    # Planted bug: MalformedRecord's super().__init__(None) -> str(error) is "None" in tracebacks and logs.
    reason = "s3Key is missing or not a string"
    error = MalformedRecord(reason, "k")
    assert (str(error), error.reason, error.key) == (reason, reason, "k")


def test_eventbridge_reasons_name_the_missing_field():
    no_key = eventbridge_event(BUCKET, "uploads/a.tif", 5)
    del no_key["detail"]["object"]["key"]
    no_bucket = eventbridge_event("", "uploads/a.tif", 5)
    assert reasons(read_notification(no_key) + read_notification(no_bucket)) == [
        "detail.object.key is missing or not a string",
        "detail.bucket.name is missing or not a string",
    ]


def test_s3_record_reasons_name_the_field():
    # Planted bug: a field name changed in from_s3_record -> the log names a field the record does not have.
    event = s3_put_event(*[(BUCKET, "uploads/a.tif", 5)] * 3, ("", "uploads/a.tif", 5))
    first, latin_1, unnamed, _ = event["Records"]
    del first["s3"]["object"]["key"]
    latin_1["s3"]["object"]["key"] = "uploads/caf%E9.tif"
    unnamed["eventName"] = ""
    assert reasons(read_notification(event)) == [
        "s3.object.key is missing or not a string",
        "s3.object.key is not URL-encoded UTF-8",
        "eventName is missing or not a string",
        "s3.bucket.name is missing or not a string",
    ]


@pytest.mark.parametrize(
    "payload, reason",
    [
        ([], "the notification is not a JSON object"),
        ("Records", "the notification is not a JSON object"),
        ({}, "neither an S3 notification nor an S3 EventBridge event"),
        ({"Records": "x"}, "neither an S3 notification nor an S3 EventBridge event"),
    ],
)
def test_a_payload_that_is_no_notification_says_so(payload, reason):
    assert reasons(read_notification(payload)) == [reason]


def test_a_record_of_the_wrong_shape_is_unreadable_with_the_error_it_raised():
    event = s3_put_event((BUCKET, "uploads/a.tif", 5))
    del event["Records"][0]["s3"]
    assert reasons(read_notification(event)) == ["unreadable record (KeyError: 's3')"]


def test_only_an_event_with_a_schema_version_and_tasks_is_a_batch_job():
    """A notification-like payload with a "tasks" field is read as a notification (and refused as one)."""
    assert is_batch_job({"invocationSchemaVersion": "2.0", "tasks": []})
    assert not is_batch_job({"tasks": []}) and not is_batch_job({"invocationSchemaVersion": "2.0"})


def test_an_sqs_body_that_is_not_json_says_so():
    (record,) = sqs_event("{not json")["Records"]
    assert reasons(read_sqs_message(SQSRecord(record))) == ["the SQS message body is not JSON"]


def test_batch_task_reasons_name_the_missing_field():
    force, tasks = read_batch_job(
        batch_job_event(
            batch_task("", "uploads/a.tif", task_id="no-bucket"),
            {"s3Bucket": BUCKET, "s3Key": "uploads/a.tif"},
            batch_task(BUCKET, "", task_id="no-key"),
            batch_task(BUCKET, "uploads/caf%E9.tif", task_id="latin-1"),
        )
    )
    assert not force and [task.task_id for task in tasks] == ["no-bucket", "", "no-key", "latin-1"]  # "": no id
    assert reasons([task.item for task in tasks]) == [
        "s3Bucket is missing or not a string",
        "taskId is missing or not a string",
        "s3Key is missing or not a string",
        "s3Key is not URL-encoded UTF-8",
    ]
    assert tasks[3].item.key == "uploads/caf%E9.tif"  # the key as the manifest lists it, for the log


def test_a_batch_task_carries_no_etag():
    # Planted bug: etag=None -> ObjectEvent.names compares None to the object's ETag.
    _, (task,) = read_batch_job(batch_job_event(batch_task(BUCKET, "uploads/a%20b.tif")))
    assert task.item == ObjectEvent(BUCKET, "uploads/a b.tif", None, "", None, True)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"invocationSchemaVersion": "3.0"}, "invocationSchemaVersion must be one of 1.0, 2.0"),
        ({"job": {"id": "j", "userArguments": ["force"]}}, "job.userArguments is not a JSON object"),
        ({"job": {"id": "j", "userArguments": {"force": "yes"}}}, 'job.userArguments.force must be "true" or "false"'),
    ],
)
def test_a_job_that_cannot_run_says_why_and_is_not_forced(change, reason):
    # Planted bug: force=True when the job cannot run -> the log line says the job was forced.
    force, tasks = read_batch_job({**batch_job_event(batch_task(BUCKET, "uploads/a.tif")), **change})
    assert force is False and reasons([task.item for task in tasks]) == [reason]


def test_a_job_field_that_is_not_an_object_has_no_arguments():
    force, (task,) = read_batch_job({**batch_job_event(batch_task(BUCKET, "uploads/a.tif")), "job": "j"})
    assert force is False and task.item == ObjectEvent(BUCKET, "uploads/a.tif", None, "", None, True)


@pytest.mark.parametrize("tasks", ["ab", None, {"taskId": "t"}])
def test_a_job_without_a_task_list_has_no_tasks(tasks):
    # Planted bug: iterating `tasks` whatever its type -> a string's letters become id-less tasks.
    assert read_batch_job({**batch_job_event(), "tasks": tasks}) == (False, [])


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_batch_log_line_gives_force_and_every_answer(s3, rendered, lambda_context):
    s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=b"II*\x00 not rendered here")
    records = Records()
    s3_trigger.logger.addHandler(records)
    try:
        response = s3_trigger.handler(
            batch_job_event(batch_task(BUCKET, "uploads/a.tif"), user_arguments={"force": "true"}), lambda_context
        )
    finally:
        s3_trigger.logger.removeHandler(records)
    (line,) = [r for r in records.records if r.getMessage() == "batch tasks processed"]
    assert line.force is True and line.results == response["results"] and len(line.results) == 1
    assert rendered == ["uploads/a.tif"]


def test_the_objects_log_line_gives_every_outcome_and_the_failure_count(s3, rendered, lambda_context):
    # Planted bug: extra={"RESULTS": ...} -> the summary line carries no results for operators to search.
    uploads = [(BUCKET, key, 5) for key in ("uploads/a.tif", "uploads/bad.tif", "uploads/flaky.tif")]
    for _, key, _ in uploads:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"II*\x00 not rendered here")
    event = s3_put_event(uploads[0], ("", "uploads/c.tif", 5), *uploads[1:])
    records = Records()
    s3_trigger.logger.addHandler(records)
    try:
        with pytest.raises(s3_trigger.RetryLater, match="^1 object"):
            s3_trigger.handler(event, lambda_context)
    finally:
        s3_trigger.logger.removeHandler(records)
    (line,) = [r for r in records.records if r.getMessage() == "objects processed"]
    assert line.levelno == logging.INFO and line.failed == 1
    assert line.results == [
        {"key": "uploads/a.tif", "status": "written", "reason": ""},
        {"key": "", "status": "rejected", "reason": "malformed_record"},
        {"key": "uploads/bad.tif", "status": "rejected", "reason": "unsupported_format"},
    ]
    malformed = [r for r in records.records if getattr(r, "error_code", "") == "malformed_record"]
    assert [(r.levelno, r.error_message, r.key) for r in malformed] == [
        (logging.WARNING, "s3.bucket.name is missing or not a string", "")
    ]
    (transient,) = [r for r in records.records if r.getMessage() == "transient failure"]
    assert (transient.levelno, transient.bucket, transient.key) == (logging.ERROR, BUCKET, "uploads/flaky.tif")
    assert transient.exc_info is not None  # the S3 error's traceback, for the operator
