"""Why the trigger rejected a version of an input (`status/<name>.json`): what `/results` answers as
`failed`, and what makes a replayed notification of the same version a rejection again without a render."""

import json
from dataclasses import asdict
from typing import Any

from handler.scene.store import ObjectInfo, Store


def rejection_json(source: ObjectInfo, code: str, message: str) -> bytes:
    """The status object of `source` rejected with `code`."""
    return json.dumps(
        {"status": "failed", "error": {"code": code, "message": message}, "source": asdict(source)}, indent=2
    ).encode()


def current_rejection(store: Store, bucket: str, key: str, source: ObjectInfo) -> dict[str, Any] | None:
    """The error (`{"code", "message"}`) that rejected this very version of `source`, or None."""
    body = store.read_bytes(bucket, key)
    status = json.loads(body) if body is not None else None
    if status is None or not ObjectInfo(**status["source"]).same_version(source):
        return None
    return status["error"]
