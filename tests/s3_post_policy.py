"""A stand-in for S3's browser-upload endpoint that enforces what moto does not: the POST policy.

moto's server accepts any form POSTed to a bucket, whatever its size, key or content type. This server
checks a form as S3 does (Authenticating Requests: Browser-Based Uploads Using POST, SigV4): the policy's
signature (SigV4 signing key of the credential's date, region and service), its expiration, and every
condition - exact values, `starts-with`, `content-length-range` on the file - and that each form field
is covered by a condition. A valid upload is stored in the moto bucket behind it; anything else gets
S3's error code (AccessDenied, EntityTooLarge, EntityTooSmall) and stores nothing.
"""

import base64
import hashlib
import hmac
import json
import threading
from contextlib import contextmanager
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

# Form fields S3 does not require a condition for.
UNCONDITIONED = {"policy", "x-amz-signature", "file"}


class Refused(Exception):
    def __init__(self, status: int, code: str):
        super().__init__(code)
        self.status, self.code = status, code


def _signing_key(secret: str, credential: str) -> bytes:
    _, day, region, service, _ = credential.split("/")
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def check_form(bucket: str, fields: dict[str, str], file_size: int, secret: str, now: datetime) -> None:
    """Raise Refused unless S3 would accept this form POSTed to `bucket` with a file of `file_size` bytes."""
    if fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise Refused(403, "AccessDenied")
    expected = hmac.new(
        _signing_key(secret, fields["x-amz-credential"]), fields["policy"].encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        raise Refused(403, "SignatureDoesNotMatch")
    policy = json.loads(base64.b64decode(fields["policy"]))
    if datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00")) < now:
        raise Refused(403, "AccessDenied")
    values = {name.lower(): value for name, value in fields.items()} | {"bucket": bucket}
    covered = set()
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            condition = ["eq", f"${name}", value]
        operator, target, *operands = condition
        if operator == "content-length-range":
            low, high = target, operands[0]  # ["content-length-range", low, high]
            if file_size > high:
                raise Refused(400, "EntityTooLarge")
            if file_size < low:
                raise Refused(400, "EntityTooSmall")
            continue
        name = target.lstrip("$").lower()
        covered.add(name)
        value = values.get(name)
        if (
            value is None
            or (operator == "eq" and value != operands[0])
            or (operator == "starts-with" and not value.startswith(operands[0]))
        ):
            raise Refused(403, "AccessDenied")
    if any(name.lower() not in covered | UNCONDITIONED and not name.lower().startswith("x-ignore-") for name in fields):
        raise Refused(403, "AccessDenied")


def parse_form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes]:
    """A multipart/form-data body's text fields and its `file` part."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields, data = {}, b""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name == "file":
            data = part.get_payload(decode=True) or b""
        else:
            fields[name] = (
                part.get_content().strip()
                if part.get_content_type().startswith("text")
                else part.get_payload(decode=True).decode()
            )
    return fields, data


@contextmanager
def post_policy_server(store: Callable[[str, str, bytes, str], None], secret: str, port: int) -> Iterator[str]:
    """An HTTP server on 127.0.0.1:`port` taking form POSTs to /<bucket>; `store(bucket, key, data, type)`
    keeps accepted uploads. Yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            bucket = self.path.strip("/").split("/")[0]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            fields, data = parse_form(self.headers["Content-Type"], body)
            try:
                check_form(bucket, fields, len(data), secret, datetime.now(UTC))
            except Refused as refused:
                self.send_response(refused.status)
                self.send_header("Content-Type", "application/xml")
                self.end_headers()
                self.wfile.write(f"<Error><Code>{refused.code}</Code></Error>".encode())
                return
            store(bucket, fields["key"], data, fields.get("Content-Type", "binary/octet-stream"))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
