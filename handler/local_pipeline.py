"""The whole pipeline on one machine, no AWS account: `make pipeline` (or `python -m handler.local_pipeline`).

| AWS in a deployment                          | here                                                     |
|----------------------------------------------|----------------------------------------------------------|
| S3 input and output buckets                  | moto's server on 127.0.0.1 (a child process, in memory)  |
| S3 event notification to the trigger Lambda  | moto's S3 -> SQS notification, drained by this process   |
| S3TriggerFunction (`handler.s3_trigger`)     | the same handler, called here with each S3 event         |
| ApiFunction behind API Gateway               | uvicorn serving `handler.api:app` (a child process)      |
| the trigger's retries and dead-letter queue  | SQS redelivery, then a local dead-letter queue           |

Development only: the Lambda image does not ship this module (.dockerignore). Ctrl-C stops everything.
"""

import argparse
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from types import FrameType

INPUT_BUCKET = "local-input"
OUTPUT_BUCKET = "local-output"
UPLOADS_QUEUE = "local-uploads"
DEAD_LETTER_QUEUE = "local-uploads-failed"
# A failed S3 event is retried twice, as the template's EventInvokeConfig does, then dead-lettered.
MAX_RECEIVES = 3
TRIGGER_TIMEOUT_SECONDS = 600  # S3TriggerFunction's Timeout in template.yaml
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def local_environment(s3_port: int) -> dict[str, str]:
    """What the template sets on AWS, pointed at the local store: buckets, endpoints, dummy credentials
    (real ones are never sent to a local server)."""
    endpoint = f"127.0.0.1:{s3_port}"
    return {
        "INPUT_BUCKET": INPUT_BUCKET,
        "OUTPUT_BUCKET": OUTPUT_BUCKET,
        "INPUT_PREFIX": "uploads/",
        "AWS_ENDPOINT_URL": f"http://{endpoint}",
        "AWS_ENDPOINT_URL_S3": f"http://{endpoint}",
        "AWS_S3_ENDPOINT": endpoint,
        "AWS_HTTPS": "NO",
        "AWS_VIRTUAL_HOSTING": "FALSE",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def wait_for_port(port: int, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Block until `process` listens on 127.0.0.1:`port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited during start-up (code {process.returncode})")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform == "linux" else None


def _terminate_with_parent() -> None:
    """Run in the child before exec (Linux): SIGTERM it when the process that started it dies, however
    that process ends (kill -9, os._exit), so no moto server outlives its pipeline or test process."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_s3_store(port: int) -> subprocess.Popen:
    """moto's server on 127.0.0.1:`port` in a child process, once it listens. A child, not a thread:
    rasterio holds the GIL in some GDAL reads, so an in-process server could never answer them."""
    store = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_terminate_with_parent if _prctl else None,
    )
    try:
        wait_for_port(port, store, "the S3 store (moto)")
    except BaseException:
        store.kill()
        store.wait()
        raise
    return store


@dataclass
class LocalLambdaContext:
    """The parts of Lambda's context object the trigger uses (Powertools' logger, the deadline)."""

    function_name: str = "S3TriggerFunction"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:S3TriggerFunction"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((TRIGGER_TIMEOUT_SECONDS - (time.monotonic() - self.started)) * 1000))


def create_store(sqs, s3) -> str:
    """Buckets, the notification queue (with its dead-letter queue) and the uploads/ notification;
    returns the queue URL."""
    dead_letters = sqs.create_queue(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
    dead_letters_arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])
    redrive = {"deadLetterTargetArn": dead_letters_arn["Attributes"]["QueueArn"], "maxReceiveCount": MAX_RECEIVES}
    queue = sqs.create_queue(
        QueueName=UPLOADS_QUEUE, Attributes={"RedrivePolicy": json.dumps(redrive), "VisibilityTimeout": "5"}
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=INPUT_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "uploads/"}]}},
                }
            ]
        },
    )
    return queue


def deliver(queue: str, sqs, trigger) -> None:
    """Hand each S3 event waiting in the queue to the trigger, as S3 invokes the Lambda; an event whose
    invocation raised stays queued and comes back (a retry)."""
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    for message in messages:
        try:
            result = trigger(json.loads(message["Body"]), LocalLambdaContext())
        except Exception as error:  # noqa: BLE001 - Lambda would retry this event, then dead-letter it
            print(f"[trigger] failed, will retry: {type(error).__name__}: {error}", flush=True)
            continue
        print(f"[trigger] {json.dumps(result)}", flush=True)
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


class Stop(BaseException):
    """Raised in the main loop by Ctrl-C or SIGTERM (a BaseException, like KeyboardInterrupt, so that no
    `except Exception` on the way swallows it)."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def stop_children(children: list[subprocess.Popen]) -> None:
    """SIGTERM every child, wait, then SIGKILL whatever is still running."""
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def banner(port: int, s3_port: int) -> str:
    api = f"http://localhost:{port}"
    return f"""
Local pipeline (no AWS account): API {api}  S3 http://127.0.0.1:{s3_port}  buckets {INPUT_BUCKET}, {OUTPUT_BUCKET}
  curl -X POST -F "image_file=@S2L2A_2022-06-09.tiff" {api}/attributes
  curl -X POST -F name=S2L2A_2022-06-09.tiff {api}/uploads   # then POST upload.fields + file=@... to upload.url
  curl {api}/results/<id>             # 202 pending, then 200 done (the trigger ran on the upload)
  curl -X POST -F "key=<key>" -F "target_resolution=1024" {api}/thumbnail --output scene.png
Ctrl-C stops the API, the S3 store and the trigger.
"""


def run(port: int, s3_port: int) -> None:
    """Start the store and the API, then feed the trigger until a stop signal arrives."""
    os.environ.update(local_environment(s3_port))
    for name in STOP_SIGNALS:
        signal.signal(name, _stop)
    children: list[subprocess.Popen] = []
    try:
        children.append(start_s3_store(s3_port))
        import boto3  # after the environment points at the local store

        from handler.s3_trigger import handler as trigger

        queue = create_store(boto3.client("sqs"), boto3.client("s3"))
        api = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "handler.api:app", "--host", "127.0.0.1", "--port", str(port)]
        )
        children.append(api)
        wait_for_port(port, api, "the API (uvicorn)")
        print(banner(port, s3_port), flush=True)
        sqs = boto3.client("sqs")
        while all(child.poll() is None for child in children):
            deliver(queue, sqs, trigger)
        raise RuntimeError("a pipeline process exited on its own")
    except Stop as stop:
        print(f"\n{stop}: stopping the API and the S3 store", flush=True)
    finally:
        for name in STOP_SIGNALS:
            signal.signal(name, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the clean-up
        stop_children(children)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000, help="API port on 127.0.0.1 (default 8000)")
    parser.add_argument("--s3-port", type=int, default=5000, help="S3 store port on 127.0.0.1 (default 5000)")
    args = parser.parse_args()
    run(args.port, args.s3_port)


if __name__ == "__main__":
    main()
