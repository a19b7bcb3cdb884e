"""S3 trigger: render a thumbnail, attributes and a STAC Item of every scene created under the input prefix.

`handler` takes the three ways S3 notifications reach Lambda: direct S3 events and S3 EventBridge events
(asynchronous invocations: S3 failures are raised so Lambda retries, then sends the event to the
on-failure destination) and S3 events in SQS messages (only the messages that hit S3 failures are
reported back, as partial batch failures). Every object goes through the scene lifecycle's
`process_object` (handler/scene/processing.py) with the S3 store; malformed records are logged and
counted, never retried.
"""

from dataclasses import asdict
from typing import Iterable

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handler import s3_store
from handler.observability import logger, metrics, record_rejected, tracer
from handler.s3_events import MalformedRecord, ObjectEvent, is_sqs_batch, read_notification, read_sqs_message
from handler.scene.processing import InvocationTime, Outcome, process_object
from handler.settings import Settings


class RetryLater(RuntimeError):
    """Some objects of a notification hit S3 or network trouble; the others are done."""


def process_item(item: ObjectEvent | MalformedRecord, settings: Settings, time_left: InvocationTime) -> Outcome:
    """`process_object`, or a logged rejection of a record that names no object."""
    if isinstance(item, MalformedRecord):
        record_rejected("malformed_record", item.reason, key=item.key)
        return Outcome(item.key, "rejected", "malformed_record")
    return process_object(s3_store, item, settings, time_left)


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
