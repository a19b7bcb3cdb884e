"""The trigger's write order through the S3 adapter, by what S3 holds rather than the order of calls
(issue 17 item 2): the attributes object marks a scene's outputs complete, so it must be the last put.

- When S3 has the attributes object, it already has the thumbnail and the Item.
- When the thumbnail's or the Item's put fails, no attributes object exists, so the retry renders again
  (with the attributes written first, the retry would find them and skip: a scene with no thumbnail).

Planted bug: process_object's outputs in the order attributes, Item, thumbnail (or the Item after the
attributes) -> both tests fail. (tests/test_scene.py and tests/test_s3_trigger.py check the order of calls.)
"""

import boto3
import pytest
from botocore.exceptions import ClientError

from handler import s3_store
from handler.s3_trigger import RetryLater, handler
from handler.scene import processing
from events.make_events import s3_put_event
from tests.s3_helpers import fake_rendered, in_process_s3
from tests.rasters import geotiff_bytes, reflectance_stack

BUCKET = "input-bucket"
KEY = "uploads/a.tif"
THUMBNAIL, ITEM, ATTRIBUTES = "thumbnails/a.tif.png", "items/a.tif.json", "attributes/a.tif.json"
SCENE = geotiff_bytes(reflectance_stack(4, height=20, width=30))


@pytest.fixture
def s3(monkeypatch):
    with in_process_s3(monkeypatch, BUCKET) as client:
        monkeypatch.setattr(processing, "render_object", lambda store, source, settings, deadline: fake_rendered())
        yield client


def exists(key: str) -> bool:
    """Looked up with a client of its own (the adapter's client is mid-call when this runs)."""
    try:
        boto3.client("s3").head_object(Bucket=BUCKET, Key=key)
        return True
    except ClientError:
        return False


def invoke(s3, lambda_context) -> dict:
    response = (
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=SCENE) if not exists(KEY) else s3.head_object(Bucket=BUCKET, Key=KEY)
    )
    etag = response["ETag"].strip('"')
    return handler(s3_put_event((BUCKET, KEY, len(SCENE), etag)), lambda_context)


def test_when_s3_holds_the_attributes_it_already_holds_the_thumbnail_and_the_item(s3, lambda_context):
    seen = {}

    def before_put(params, **_):
        if params["Key"] == ATTRIBUTES:
            seen.update(thumbnail=exists(THUMBNAIL), item=exists(ITEM))

    s3_store.s3_client().meta.events.register("before-parameter-build.s3.PutObject", before_put)
    assert [r["status"] for r in invoke(s3, lambda_context)["results"]] == ["written"]
    assert seen == {"thumbnail": True, "item": True}


@pytest.mark.parametrize("failing", [THUMBNAIL, ITEM])
def test_a_failed_put_leaves_no_attributes_so_the_retry_renders_again(s3, lambda_context, failing):
    def fail_once(params, **_):
        if params["Key"] == failing and not failed:
            failed.append(failing)
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "PutObject"
            )

    failed: list[str] = []
    s3_store.s3_client().meta.events.register("before-parameter-build.s3.PutObject", fail_once)
    with pytest.raises(RetryLater):
        invoke(s3, lambda_context)
    assert failed == [failing]
    assert not exists(ATTRIBUTES)
    # The retry (Lambda's, or the queue's redelivery) renders again instead of finding a "complete" set.
    assert [(r["status"], r["reason"]) for r in invoke(s3, lambda_context)["results"]] == [("written", "")]
    assert all(exists(key) for key in (THUMBNAIL, ITEM, ATTRIBUTES))
