"""S3 trigger: render a thumbnail, attributes and a STAC Item of every scene created under the input prefix.

`handler` takes the three ways S3 notifications reach Lambda: direct S3 events and S3 EventBridge events
(asynchronous invocations: S3 failures are raised so Lambda retries, then sends the event to the
on-failure destination) and S3 events in SQS messages (only the messages that hit S3 failures are
reported back, as partial batch failures); and S3 Batch Operations jobs over existing objects
(`python -m handler.backfill`), whose every task is answered: Succeeded, TemporaryFailure (S3 trouble:
Batch Operations retries it) or PermanentFailure (a bad file, a malformed task). Every object goes
through the scene lifecycle's `process_object` (handler/scene/processing.py) with the S3 store;
malformed records are logged and counted, never retried.
"""

from dataclasses import asdict
from typing import Iterable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import S3BatchOperationResponseRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler import s3_store
from handler.observability import logger, metrics, record_rejected, tracer
from handler.s3_events import (
    BatchTask,
    MalformedRecord,
    ObjectEvent,
    is_batch_job,
    is_sqs_batch,
    read_batch_job,
    read_notification,
    read_sqs_message,
)
from handler.scene.processing import InvocationTime, Outcome, process_object
from handler.settings import Settings


class RetryLater(RuntimeError):
    """Some objects of a notification hit S3 or network trouble; the others are done."""


def process_item(
    item: ObjectEvent | MalformedRecord, settings: Settings, time_left: InvocationTime, force: bool
) -> Outcome:
    """`process_object`, or a logged rejection of a record that names no object."""
    if isinstance(item, MalformedRecord):
        record_rejected("malformed_record", item.reason, key=item.key)
        return Outcome(item.key, "rejected", "malformed_record")
    return process_object(s3_store, item, settings, time_left, force=force)


def attempt(
    item: ObjectEvent | MalformedRecord, settings: Settings, time_left: InvocationTime, force: bool = False
) -> Outcome | Exception:
    """`process_item`, or the S3/network failure it raised (logged): the caller has the object retried."""
    try:
        return process_item(item, settings, time_left, force)
    except Exception as error:  # S3/network trouble: the other objects go on
        logger.exception("transient failure", extra={"bucket": getattr(item, "bucket", ""), "key": item.key})
        return error


def process_all(
    items: Iterable[ObjectEvent | MalformedRecord], settings: Settings, time_left: InvocationTime
) -> list[Outcome]:
    """Each item on its own; S3 failures are logged, and raised as RetryLater once the others are done."""
    results = [attempt(item, settings, time_left) for item in items]
    outcomes = [result for result in results if isinstance(result, Outcome)]
    failures = [result for result in results if not isinstance(result, Outcome)]
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

    return process_partial_response(event=event, record_handler=record_handler, processor=_sqs_batch, context=context)


def task_result(task: BatchTask, result: Outcome | Exception) -> dict:
    """One Batch Operations answer: Succeeded (written, skipped), PermanentFailure (rejected; the error
    code in the result string) or TemporaryFailure (S3 trouble; Batch Operations invokes the task again)."""
    if isinstance(result, Exception):
        code, text = "TemporaryFailure", f"transient:{type(result).__name__}"
    else:
        code = "PermanentFailure" if result.status == "rejected" else "Succeeded"
        text = f"{result.status}:{result.reason}" if result.reason else result.status
    return S3BatchOperationResponseRecord(task.task_id, code, text).asdict()


def process_batch_job(event: dict, settings: Settings, time_left: InvocationTime) -> dict:
    """S3 Batch Operations (LambdaInvoke): every task through `process_object`, with the job's `force`
    argument, and a result for each task that has an id. (Powertools' S3BatchOperationResponse takes
    exactly one result; the schema's `results` is a list, so every task is answered.)"""
    force, tasks = read_batch_job(event)
    answers = [task_result(task, attempt(task.item, settings, time_left, force)) for task in tasks]
    logger.info("batch tasks processed", extra={"force": force, "results": answers})
    return {
        "invocationSchemaVersion": event.get("invocationSchemaVersion"),
        "treatMissingKeysAs": "PermanentFailure",  # a task left unanswered shows as failed in the report
        "invocationId": event.get("invocationId"),
        "results": [answer for task, answer in zip(tasks, answers) if task.task_id],
    }


Settings.from_env()  # a bad deployment setting fails the start-up, with its name, not every event


@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
@logger.inject_lambda_context
def handler(event: object, context: LambdaContext) -> dict:
    """Lambda entry point for S3 ObjectCreated notifications: direct (any number of records), in SQS
    messages (partial batch response) or as S3 EventBridge events; and for S3 Batch Operations tasks."""
    settings = Settings.from_env()
    time_left = InvocationTime(context.get_remaining_time_in_millis, settings.trigger_write_margin_seconds)
    if is_sqs_batch(event):
        return process_sqs_batch(event, context, settings, time_left)
    if is_batch_job(event):
        return process_batch_job(event, settings, time_left)
    return {"results": [asdict(o) for o in process_all(read_notification(event), settings, time_left)]}
