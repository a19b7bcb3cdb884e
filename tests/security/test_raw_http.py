"""Honest HTTP tests (issue 17 item 4): the real API in a uvicorn child process on a free 127.0.0.1 port,
spoken to over raw sockets, so the bytes on the wire are exactly the ones written here (httpx and the
TestClient compute Content-Length and framing themselves, and an in-process client cannot see a crash).

Cases: Content-Length shorter and longer than the body, duplicate Content-Length headers, Content-Length
with Transfer-Encoding, chunked bodies over MAX_UPLOAD_BYTES (small in the server's environment),
malformed chunks, a slow body (a few bytes per second, for a bounded time) and a slow but complete
upload. After every case the server process must still run, log no unhandled exception and answer
/health on a new connection; every answer is a 4xx (JSON when the app answered; uvicorn's own plain-text
400 when h11 refused the framing before the app ran) or a closed connection - never a 5xx.
"""

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from events import make_events
from handler.local_pipeline import wait_for_port
from tests.rasters import geotiff_bytes, reflectance_stack
from tests.s3_helpers import free_port, uvicorn_args

ROOT = Path(__file__).resolve().parents[2]
MAX_UPLOAD_BYTES = 65_536
BOUNDARY = make_events.BOUNDARY
SCENE = geotiff_bytes(reflectance_stack(3, height=16, width=24))
# What the app answers a body cut or garbled by its framing: Starlette's multipart parser refusing it
# (http_error "Invalid multipart data."), a form without image_file, or a file cut short.
FRAMING_CODES = ("http_error", "invalid_request", "unreadable_raster", "empty_file")
CRASH_MARKERS = ("Traceback", "Exception in ASGI application", "Internal Server Error", '"internal_error"')


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    def connect(self, timeout: float = 5.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    env = {**os.environ, "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES)}
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, *uvicorn_args("handler.api:app", port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, "uvicorn", timeout=30)
        yield Server(process, port, log)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(autouse=True)
def crash_detection(server):
    """The real process: still running, nothing unhandled in its log, /health on a new connection."""
    before = len(server.log_text())
    yield
    assert server.process.poll() is None, f"the server exited: {server.log_text()[-2000:]}"
    answers = exchange(server, request("GET", "/health", b""))
    assert answers and answers[0].status == 200 and answers[0].json() == {"status": "ok"}
    new_log = server.log_text()[before:]
    assert not any(marker in new_log for marker in CRASH_MARKERS), new_log[-3000:]


# --- raw HTTP ------------------------------------------------------------------------------------------


def multipart(content: bytes) -> bytes:
    """An image_file upload of `content` as scene.tif (the committed events' encoder)."""
    return make_events.multipart({}, "image_file", "scene.tif", content)


def request(method: str, path: str, body: bytes, *headers: str, length: int | None = None, close: bool = True) -> bytes:
    """A request exactly as written: `length` None sends the true Content-Length; pass headers to add
    others (several Content-Length headers, Transfer-Encoding)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if body and path != "/health" and not any(h.lower().startswith("content-type") for h in headers):
        lines.append(f"Content-Type: multipart/form-data; boundary={BOUNDARY}")
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body) if length is None else length}")
    lines += list(headers)
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_answers(sock: socket.socket) -> list[Answer]:
    """Every response on the connection until the server closes it (or stays silent: the timeout)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    answers = []
    while data:
        head, separator, rest = data.partition(b"\r\n\r\n")
        if not separator:
            raise AssertionError(f"a partial response: {data[:300]!r}")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body, data = dechunk(rest)
        else:
            length = int(headers.get("content-length", len(rest)))
            body, data = rest[:length], rest[length:]
        answers.append(Answer(int(status_line.split()[1]), headers, body))
    return answers


def dechunk(data: bytes) -> tuple[bytes, bytes]:
    """A chunked response body, and what follows it on the connection."""
    body = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body, data.partition(b"\r\n")[2]
        body, data = body + data[:size], data[size + 2 :]


def exchange(server: Server, raw: bytes, timeout: float = 5.0, shut_write: bool = False) -> list[Answer]:
    with server.connect(timeout) as sock:
        try:
            sock.sendall(raw)
            if shut_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body went out
        return read_answers(sock)


def assert_refused(answers: list[Answer], codes: tuple[str, ...] = ()) -> None:
    """4xx answers or none (a closed connection); the app's answers are its JSON errors."""
    for answer in answers:
        assert 400 <= answer.status < 500, (answer.status, answer.body[:300])
        if answer.headers.get("content-type", "").startswith("application/json"):
            error = answer.json()["error"]
            assert not codes or error["code"] in codes, error
        else:  # h11 refused the framing before the app ran
            assert answer.status == 400 and answer.body == b"Invalid HTTP request received.", answer


# --- Content-Length ------------------------------------------------------------------------------------


def test_a_true_content_length_works_so_the_harness_is_honest(server):
    answers = exchange(server, request("POST", "/attributes", multipart(SCENE)))
    assert [a.status for a in answers] == [200] and answers[0].json()["width"] == 24


def test_content_length_shorter_than_the_body(server):
    """The server reads only the declared bytes (a cut multipart body: 4xx JSON); the rest is never
    taken as the next request once the client asked to close."""
    body = multipart(SCENE)
    answers = exchange(server, request("POST", "/attributes", body, length=len(body) // 2))
    assert len(answers) == 1
    assert_refused(answers, FRAMING_CODES)
    assert answers[0].headers["content-type"].startswith("application/json")


def test_content_length_shorter_with_keep_alive_smuggles_nothing(server):
    """On a kept-alive connection the unread tail (the second half of a multipart body) is parsed as the
    next request: refused, never executed."""
    body = multipart(SCENE)
    tail_request = request("GET", "/health", b"")  # would be answered 200 if the tail were smuggled
    raw = request("POST", "/attributes", body, length=len(body) - 40, close=False)
    answers = exchange(server, raw + tail_request, timeout=3)
    assert [a.status for a in answers][:1] == [422] and answers[0].json()["error"]["code"] in FRAMING_CODES
    assert all(a.status != 200 for a in answers), "the tail's GET /health was executed"
    assert_refused(answers)


def test_content_length_longer_than_the_body_then_eof(server):
    """The client stops sending early and half-closes: the request is abandoned, nothing is rendered."""
    body = multipart(SCENE)
    answers = exchange(server, request("POST", "/thumbnail", body, length=len(body) + 5000), shut_write=True)
    assert_refused(answers, FRAMING_CODES)


def test_content_length_longer_than_the_body_and_silence(server):
    """The client promises more and goes quiet: the server waits (no answer, no crash) until the client
    closes; meanwhile other connections are served."""
    body = multipart(SCENE)
    with server.connect(timeout=1.5) as sock:
        sock.sendall(request("POST", "/thumbnail", body, length=len(body) + 5000))
        health = exchange(server, request("GET", "/health", b""))
        assert [a.status for a in health] == [200]
        assert_refused(read_answers(sock))


@pytest.mark.parametrize(
    "values", [("10", "20"), ("10", "10"), ("10, 20",), ("-1",), ("abc",), ("1e3",), (" 12 ",), ("+12",)]
)
def test_duplicate_and_malformed_content_length(server, values):
    body = multipart(SCENE)
    headers = [f"Content-Length: {value}" for value in values]
    assert_refused(exchange(server, request("POST", "/attributes", body, *headers), timeout=3), FRAMING_CODES)


def test_a_huge_content_length_is_413_before_any_body(server):
    """A terabyte promised: refused from the header (the body never comes); 30 digits: h11 refuses it."""
    answers = exchange(server, request("POST", "/thumbnail", b"", "Content-Length: " + "9" * 12), timeout=3)
    assert [a.status for a in answers] == [413]
    assert answers[0].json()["error"]["code"] == "input_too_large"
    assert_refused(exchange(server, request("POST", "/thumbnail", b"", "Content-Length: " + "9" * 30), timeout=3))


def test_content_length_with_transfer_encoding(server):
    body = multipart(SCENE)
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    answers = exchange(
        server,
        request("POST", "/attributes", chunked, f"Content-Length: {len(body)}", "Transfer-Encoding: chunked"),
        timeout=3,
    )
    assert answers, "no answer"
    assert all(a.status == 200 or 400 <= a.status < 500 for a in answers), [a.status for a in answers]
    assert len(answers) == 1  # one request, never two


# --- chunked bodies ------------------------------------------------------------------------------------


def chunked(body: bytes, size: int = 8192) -> bytes:
    pieces = [
        f"{len(body[i : i + size]):x}\r\n".encode() + body[i : i + size] + b"\r\n" for i in range(0, len(body), size)
    ]
    return b"".join(pieces) + b"0\r\n\r\n"


def test_a_chunked_upload_under_the_limit_works(server):
    answers = exchange(server, request("POST", "/attributes", chunked(multipart(SCENE)), "Transfer-Encoding: chunked"))
    assert [a.status for a in answers] == [200]


@pytest.mark.parametrize("route", ["/attributes", "/thumbnail"])
def test_a_chunked_body_over_the_limit_is_413(server, route):
    body = multipart(b"II*\x00" + bytes(4 * MAX_UPLOAD_BYTES))
    start = time.monotonic()
    answers = exchange(server, request("POST", route, chunked(body), "Transfer-Encoding: chunked"))
    assert time.monotonic() - start < 5
    assert [a.status for a in answers] == [413], answers
    assert answers[0].json()["error"]["code"] == "input_too_large"


@pytest.mark.parametrize(
    "bad",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",
        b"5\r\nab\r\n0\r\n\r\n",
        b"ffffffffffffffffff\r\nab",
        b"5;ext=" + b"x" * 20000 + b"\r\nabcde\r\n0\r\n\r\n",
    ],
)
def test_malformed_chunks(server, bad):
    assert_refused(
        exchange(server, request("POST", "/attributes", bad, "Transfer-Encoding: chunked"), timeout=3, shut_write=True),
        FRAMING_CODES,
    )


# --- slow bodies ---------------------------------------------------------------------------------------


def test_a_slow_body_holds_only_its_own_connection(server):
    """A few bytes per second for ~3 s (then abandoned): other clients are served all along; the server
    neither crashes nor answers the abandoned request with a 5xx."""
    raw = request("POST", "/thumbnail", multipart(SCENE))
    start = raw.index(b"\r\n\r\n") + 4 + 100  # the whole head and 100 bytes of the body, then a trickle
    with server.connect(timeout=2) as sock:
        sock.sendall(raw[:start])
        for i in range(6):
            sock.sendall(raw[start + i * 3 : start + i * 3 + 3])
            time.sleep(0.5)
            started = time.monotonic()
            health = exchange(server, request("GET", "/health", b""))
            assert [a.status for a in health] == [200] and time.monotonic() - started < 1
        sock.shutdown(socket.SHUT_WR)
        assert_refused(read_answers(sock))


def test_a_slow_but_complete_upload_is_answered(server):
    raw = request("POST", "/attributes", multipart(SCENE))
    with server.connect(timeout=10) as sock:
        for i in range(0, len(raw), 256):  # ~1.5 s in 256-byte pieces
            sock.sendall(raw[i : i + 256])
            time.sleep(0.1)
        answers = read_answers(sock)
    assert [a.status for a in answers] == [200] and answers[0].json()["bands"] == 3
