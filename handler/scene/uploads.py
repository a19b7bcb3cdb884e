"""The large-scene upload flow: a presigned POST of one key in the input bucket (the S3 trigger renders it
on arrival), then the upload's status and its outputs' presigned URLs by upload id.

Keys are `<input prefix><id>/<file name>`: the id finds the upload with one listing, and the file name
keeps its suffix (which the key policy requires) and the band a single-band JPEG 2000 name carries.
"""

import json
import uuid
from typing import Any

from handler.scene.errors import InvalidRequest, ObjectNotFound
from handler.scene.keys import RASTER_SUFFIXES, plain_file_name
from handler.scene.layout import output_keys, require_input_bucket
from handler.scene.status import current_rejection
from handler.scene.store import ObjectInfo, Store
from handler.settings import Settings

# What a presigned POST lets the client send, by file suffix (lower case).
UPLOAD_MEDIA_TYPES = {
    ".tif": "image/tiff",
    ".tiff": "image/tiff",
    ".jp2": "image/jp2",
    ".j2k": "image/jp2",
    ".zip": "application/zip",
}
assert set(UPLOAD_MEDIA_TYPES) == set(RASTER_SUFFIXES)
DEFAULT_UPLOAD_NAME = "scene.tif"


def upload_file_name(name: str | None) -> str:
    """The client's file name for an upload key: plain, with a suffix the trigger renders."""
    plain = plain_file_name(name or DEFAULT_UPLOAD_NAME)
    if plain is None or not plain.lower().endswith(RASTER_SUFFIXES):
        raise InvalidRequest(
            "name must be a plain file name (letters, digits, '_', '.', '-') ending in .tif, .tiff, .jp2, .j2k or .zip."
        )
    return plain


def new_upload(store: Store, settings: Settings, name: str | None = None) -> dict[str, Any]:
    """A fresh upload id and a presigned POST of its key (`upload.url` + `upload.fields`; the file goes
    last, as form field `file`), bounded to MAX_OBJECT_BYTES and the name's media type."""
    bucket = require_input_bucket(settings, "Uploads are")
    file_name = upload_file_name(name)
    upload_id = uuid.uuid4().hex
    key = f"{settings.input_prefix}{upload_id}/{file_name}"
    media_type = UPLOAD_MEDIA_TYPES[file_name[file_name.rindex(".") :].lower()]
    post = store.presigned_post(bucket, key, settings.presign_expires, media_type, settings.max_object_bytes)
    return {
        "id": upload_id,
        "key": key,
        "expires_in": settings.presign_expires,
        "max_bytes": settings.max_object_bytes,
        "result": f"results/{upload_id}",
        "upload": {"method": "POST", "url": post["url"], "fields": post["fields"]},
    }


def find_upload(store: Store, settings: Settings, upload_id: str) -> str | None:
    """The input key of an upload id, or None before its file arrives."""
    keys = store.list_keys(settings.input_bucket, f"{settings.input_prefix}{upload_id}/", 2)
    return keys[0] if len(keys) == 1 else None


def upload_result(store: Store, settings: Settings, upload_id: str) -> dict[str, Any]:
    """An upload's state: 404 (ObjectNotFound) before its file arrives, then `pending` until the trigger
    has rendered its current version, then `done` (attributes and presigned URLs of the thumbnail, and
    of the Item and COG copy made from that version) or `failed` (the error that rejected the file).
    A re-upload to the same key is `pending` again."""
    bucket = require_input_bucket(settings, "Uploads are")
    key = find_upload(store, settings, upload_id)
    current = store.head(bucket, key) if key else None
    if current is None:
        raise ObjectNotFound(f"No upload {upload_id}.")
    outputs = output_keys(settings, key, bucket)
    attributes_json = store.read_bytes(outputs.bucket, outputs.attributes)
    attributes = json.loads(attributes_json) if attributes_json is not None else None
    if attributes is None or not ObjectInfo(**attributes["source"]).same_version(current):
        error = current_rejection(store, outputs.bucket, outputs.status, current)
        return {"status": "pending"} if error is None else {"status": "failed", "error": error}

    def url(output: str) -> str:
        return store.presigned_url("get_object", outputs.bucket, output, settings.presign_expires)

    body = {"status": "done", "attributes": attributes, "thumbnail_url": url(outputs.thumbnail)}
    for field, output in (("item_url", outputs.item), ("cog_url", outputs.cog)):
        if store.current_output(outputs.bucket, output, current):
            body[field] = url(output)
    return body
