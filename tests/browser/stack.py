"""The processes behind the browser tests, each a child on 127.0.0.1 with its output in a log file:

- the API (uvicorn, `tests.browser.stage:app`, i.e. under the /prod stage path);
- the S3 store: moto's server with browser CORS as S3 does it (`python -m tests.browser.stack s3 PORT`);
- the S3 trigger fed by the store's S3 -> SQS notifications (`python -m tests.browser.stack trigger QUEUE_URL`),
  with handler.local_pipeline's `deliver`, as `make pipeline` runs it.

CORS in moto 5.2's server, as a browser sees it: preflights (OPTIONS) are answered from the bucket's CORS
rules (an origin they do not list gets a 403); on top of that, flask-cors adds `Access-Control-Allow-Origin: *`
to every answer unless MOTO_DISABLE_GLOBAL_CORS is set, so a bucket without CORS rules lets any page in.
With it set, a POST object answer carries no CORS headers at all, where S3 sends the matching rule's: the
browser would refuse to read the answer of an upload that succeeded. The store below sets it and adds the
bucket rules' headers to POST object answers, as S3 does: the bucket's CORS rules alone let the page upload.
"""

import os
import subprocess
import sys
from pathlib import Path

from handler.local_pipeline import wait_for_port
from tests.s3_helpers import uvicorn_args

ROOT = Path(__file__).resolve().parents[2]
STAGE = "/prod"  # the stage path the API is served under (tests/browser/stage.py)


def start(args: list[str], port: int, env: dict[str, str], log: Path, what: str) -> subprocess.Popen:
    """`python args...` from the repository root, once it listens on 127.0.0.1:`port`."""
    with log.open("ab") as out:
        process = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, what)
    except BaseException:
        stop(process)
        raise
    return process


def start_api(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    return start(
        uvicorn_args("tests.browser.stage:app", port),
        port,
        env,
        log,
        "the API (uvicorn)",
    )


def start_s3_store(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    return start(["-m", "tests.browser.stack", "s3", str(port)], port, env, log, "the S3 store (moto)")


def start_trigger(queue_url: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.browser.stack", "trigger", queue_url],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_s3(port: int) -> None:
    """moto's server, CORS from the bucket's rules only (see the module's docstring)."""
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"  # read when moto.settings is first imported
    from moto.s3.responses import S3Response
    from moto.server import main

    post_object = S3Response._bucket_response_post

    def post_object_with_cors(self, request, bucket_name):
        status, headers, body = post_object(self, request, bucket_name)
        return status, {**headers, **self._get_cors_headers_other()}, body

    S3Response._bucket_response_post = post_object_with_cors
    main(["-H", "127.0.0.1", "-p", str(port)])


def run_trigger(queue_url: str) -> None:
    """The S3 trigger on every event the store's notification queues, until SIGTERM."""
    import boto3

    from handler.local_pipeline import deliver
    from handler.s3_trigger import handler as trigger

    sqs = boto3.client("sqs")
    print(f"[trigger] draining {queue_url}", flush=True)
    while True:
        deliver(queue_url, sqs, trigger)


if __name__ == "__main__":
    command, argument = sys.argv[1:3]
    {"s3": lambda: serve_s3(int(argument)), "trigger": lambda: run_trigger(argument)}[command]()
