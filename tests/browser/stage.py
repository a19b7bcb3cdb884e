"""The API as a browser meets it behind API Gateway's stage path: every route under /prod, nothing at the
host's root. A page that calls `/thumbnail` (a leading slash) instead of `thumbnail` gets 404s here.

    uvicorn tests.browser.stage:app
"""

from handler.api import app as api
from tests.browser.stack import STAGE


async def app(scope, receive, send):
    """`/prod/x` reaches the API as `/x`; any other path is a 404, as at a stage's host root."""
    if scope["type"] != "http":
        return await api(scope, receive, send)
    path = scope["path"]
    if path == STAGE or path.startswith(STAGE + "/"):
        inner = path[len(STAGE) :] or "/"
        return await api({**scope, "path": inner, "raw_path": inner.encode()}, receive, send)
    body = b'{"message":"Not Found"}'
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
