"""Fixtures of the browser tests: Debian's chromium driven by Playwright, the API in uvicorn and, for the
large-upload flow, moto's S3 server with the S3 -> SQS notification and the trigger (tests/browser/stack.py).

Without playwright or chromium these tests are skipped with the reason; with BROWSER_TESTS_REQUIRED=1 (CI)
they fail instead. Screenshots go to $BROWSER_SCREENSHOTS (default /tmp/s2-viewer-screens), never the repo.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from handler.local_pipeline import INPUT_BUCKET, create_store, local_environment
from tests.browser import stack
from tests.browser.stack import STAGE
from tests.s3_helpers import free_port

SCREENSHOTS = Path(os.environ.get("BROWSER_SCREENSHOTS", Path(tempfile.gettempdir()) / "s2-viewer-screens"))
# The API's direct-upload limit in the S3 pipeline: a few-hundred-KB GeoTIFF goes through S3.
SMALL_UPLOAD_LIMIT = 100_000
TIMEOUT_MS = 20_000


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: runs the viewer page in headless chromium (tests/browser)")


def pytest_collection_modifyitems(items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


def unavailable(reason: str):
    if os.environ.get("BROWSER_TESTS_REQUIRED") == "1":
        pytest.fail(f"{reason} (BROWSER_TESTS_REQUIRED=1)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    """$CHROMIUM if set, else Debian's chromium on PATH or in /usr/bin."""
    candidates = (
        [os.environ["CHROMIUM"]]
        if "CHROMIUM" in os.environ
        else [shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium"]
    )
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


@pytest.fixture(scope="module")
def browser():
    """Chromium for one module's tests. Not for the session: Playwright's sync API keeps an asyncio loop
    running in this thread while it is open, and later tests that run their own loop (Mangum's) would fail."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -r requirements-dev.txt)")
    executable = chromium_path()
    if executable is None:
        unavailable("chromium is not installed (apt-get install -y chromium, or set CHROMIUM)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """A Playwright page plus what the tests look at when one fails: console messages, failed requests."""

    def __init__(self, page):
        self.page = page
        self.console: list[str] = []
        page.on("console", lambda message: self.console.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: self.console.append(f"pageerror: {error}"))
        page.on(
            "response",
            lambda response: (
                response.status >= 400
                and self.console.append(f"HTTP {response.status}: {response.request.method} {response.url}")
            ),
        )
        page.set_default_timeout(TIMEOUT_MS)

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def open(self, url: str) -> None:
        """The viewer, once it has read the server's configuration and the API's enums."""
        self.page.goto(url)
        self.page.wait_for_selector("body[data-ready=true]")

    def choose(self, path: Path) -> None:
        self.page.set_input_files("#file", str(path))

    def wait_for_state(self, *states: str, timeout_ms: int = TIMEOUT_MS) -> str:
        """Wait until the page is idle in one of `states` (done, error); return it."""
        selector = ", ".join(f"body[data-state={state}]" for state in states)
        self.page.wait_for_selector(selector, timeout=timeout_ms)
        return self.page.get_attribute("body", "data-state")

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def attribute_row(self, key: str) -> str:
        return self.text(f"#attributes tr[data-key='{key}'] td")


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, device_scale_factor=1)
    wrapped = Page(context.new_page())
    yield wrapped
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        print("\n".join(["browser console:", *wrapped.console]))
        print("screenshot:", wrapped.screenshot(f"FAILED-{request.node.name}"))
    context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@dataclass
class Api:
    url: str  # the page: http://127.0.0.1:PORT/prod/
    origin: str  # http://127.0.0.1:PORT
    port: int
    log: Path


def api_environment(**extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "MAX_UPLOAD"))}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
            "INPUT_BUCKET": "",
            "OUTPUT_BUCKET": "",
        }
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def local_api(tmp_path_factory):
    """`make serve`: the API alone, no bucket (uploads over the limit cannot go through S3)."""
    port, log = free_port(), tmp_path_factory.mktemp("api") / "api.log"
    process = stack.start_api(port, api_environment(), log)
    try:
        yield Api(f"http://127.0.0.1:{port}{STAGE}/", f"http://127.0.0.1:{port}", port, log)
    finally:
        stack.stop(process)


@dataclass
class Pipeline:
    api: Api
    s3: object  # boto3 S3 client of the store
    s3_port: int
    trigger_log: Path


@pytest.fixture(scope="module")
def s3_pipeline(tmp_path_factory):
    """The large-scene flow on one machine: moto's S3 (bucket CORS for the page's origin only), the input
    bucket's uploads/ notification to SQS, the trigger draining it, and the API with a 100 kB upload limit."""
    logs = tmp_path_factory.mktemp("pipeline")
    s3_port, port = free_port(), free_port()
    origin = f"http://127.0.0.1:{port}"
    env = api_environment(**local_environment(s3_port), MAX_UPLOAD_BYTES=str(SMALL_UPLOAD_LIMIT))
    processes = []
    try:
        processes.append(stack.start_s3_store(s3_port, env, logs / "s3.log"))
        clients = {
            name: boto3.client(
                name,
                endpoint_url=f"http://127.0.0.1:{s3_port}",
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",
            )
            for name in ("s3", "sqs")
        }
        queue = create_store(clients["sqs"], clients["s3"])
        clients["s3"].put_bucket_cors(
            Bucket=INPUT_BUCKET,
            CORSConfiguration={
                "CORSRules": [
                    {
                        "AllowedOrigins": [origin],
                        "AllowedMethods": ["POST", "PUT"],
                        "AllowedHeaders": ["*"],
                        "ExposeHeaders": ["ETag"],
                        "MaxAgeSeconds": 300,
                    }
                ]
            },
        )
        processes.append(stack.start_trigger(queue, env, logs / "trigger.log"))
        processes.append(stack.start_api(port, env, logs / "api.log"))
        yield Pipeline(
            Api(f"{origin}{STAGE}/", origin, port, logs / "api.log"), clients["s3"], s3_port, logs / "trigger.log"
        )
    finally:
        for process in reversed(processes):
            stack.stop(process)
