"""The large-scene upload flow: a presigned PUT into the input bucket (the trigger renders the object on
arrival), then the outputs' status and presigned URLs by upload id."""

import json
import uuid
from typing import Any

from handler.scene.errors import ObjectNotFound
from handler.scene.layout import output_keys, require_input_bucket
from handler.scene.store import ObjectInfo, Store
from handler.settings import Settings

UPLOAD_CONTENT_TYPE = "image/tiff"


def upload_key(settings: Settings, upload_id: str) -> str:
    """The input key of an upload id."""
    return f"{settings.input_prefix}{upload_id}.tif"


def new_upload(store: Store, settings: Settings) -> dict[str, Any]:
    """A fresh upload id, its key and a presigned PUT for it."""
    bucket = require_input_bucket(settings, "Uploads are")
    upload_id = uuid.uuid4().hex
    key = upload_key(settings, upload_id)
    url = store.presigned_url("put_object", bucket, key, settings.presign_expires, ContentType=UPLOAD_CONTENT_TYPE)
    return {"id": upload_id, "key": key, "expires_in": settings.presign_expires, "result": f"/results/{upload_id}",
            "upload": {"method": "PUT", "url": url, "headers": {"Content-Type": UPLOAD_CONTENT_TYPE}}}


def upload_result(store: Store, settings: Settings, upload_id: str) -> dict[str, Any]:
    """`{"status": "done", attributes, presigned URLs}` once the trigger wrote the outputs of the upload's
    current version (the COG copy's URL only while made from it), `{"status": "pending"}` while the upload
    exists without them (not rendered yet, or re-uploaded since); ObjectNotFound otherwise."""
    bucket = require_input_bucket(settings, "Uploads are")
    key = upload_key(settings, upload_id)
    outputs = output_keys(settings, key, bucket)
    current = store.head(bucket, key)
    attributes_json = store.read_bytes(outputs.bucket, outputs.attributes)
    if attributes_json is None and current is None:
        raise ObjectNotFound(f"No upload {upload_id}.")
    attributes = json.loads(attributes_json) if attributes_json is not None else None
    source = ObjectInfo(**attributes["source"]) if attributes else None
    if source is None or current is not None and not source.same_version(current):
        return {"status": "pending"}

    def url(output: str) -> str:
        return store.presigned_url("get_object", outputs.bucket, output, settings.presign_expires)
    body = {"status": "done", "attributes": attributes, "thumbnail_url": url(outputs.thumbnail)}
    for field, output in (("item_url", outputs.item), ("cog_url", outputs.cog)):
        if store.current_output(outputs.bucket, output, source):
            body[field] = url(output)
    return body
