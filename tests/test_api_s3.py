"""Large-scene paths of the API: key= reads from the input bucket, presigned uploads, results."""

import base64
import json
import os
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient

from handler.scene import sources
from handler.api import app
from handler.core import cog, open_path
from handler.s3_trigger import handler as s3_trigger
from tests.rasters import as_array, geotiff_bytes, open_png, reflectance_stack
from events.make_events import s3_put_event
from tests.s3_helpers import free_port, moto_server
from tests.s3_post_policy import post_policy_server
from tests.stac_schemas import validate

BUCKET = "input-bucket"
client = TestClient(app, raise_server_exceptions=False)
SCENE = geotiff_bytes(reflectance_stack(12, height=64, width=96), tiled=True, overviews=(2, 4), compress="deflate")


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("INPUT_BUCKET", BUCKET)
    with moto_server(monkeypatch) as client_:
        client_.create_bucket(Bucket=BUCKET)
        client_.create_bucket(Bucket="other-bucket")
        yield client_


def test_key_reads_the_object_with_gdal_range_requests(s3):
    s3.put_object(Bucket=BUCKET, Key="uploads/big scene.tif", Body=SCENE)
    response = client.post("/thumbnail", data={"key": "uploads/big scene.tif", "target_resolution": "48"})
    assert response.status_code == 200, response.text
    assert open_png(response.content).size == (48, 32)
    attributes = client.post("/attributes", data={"key": "uploads/big scene.tif"}).json()
    assert attributes["width"] == 96 and attributes["overviews"] == [2, 4]


def test_key_attributes_as_a_stac_item_name_the_object_as_the_trigger_does(s3, lambda_context):
    # Planted bug: the key= Item's href without s3_href (the bare key) -> the href differs.
    s3.put_object(Bucket=BUCKET, Key="uploads/big scene.tif", Body=SCENE)
    response = client.post("/attributes", data={"key": "uploads/big scene.tif", "format": "stac"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
    item = response.json()
    validate(item)
    assert item["assets"]["source"]["href"] == f"s3://{BUCKET}/uploads/big%20scene.tif"
    s3_trigger(s3_put_event((BUCKET, "uploads/big scene.tif", len(SCENE))), lambda_context)
    written = json.loads(s3.get_object(Bucket=BUCKET, Key="items/big scene.tif.json")["Body"].read())
    assert item["id"] == written["id"] == "big%20scene.tif"
    assert item["assets"]["source"] == written["assets"]["source"]


@pytest.mark.parametrize(
    "key",
    [
        "/etc/passwd",
        "../uploads/a.tif",
        "uploads/../x.tif",
        "vrt:///etc/passwd",
        "/vsicurl/http://127.0.0.1:1/x.tif",
        "s3://other-bucket/uploads/a.tif",
        "uploads/a.vrt",
        "other/a.tif",
        "uploads//a.tif",
        "<VRTDataset>.tif",
    ],
)
def test_keys_other_than_plain_input_keys_are_refused(s3, key):
    s3.put_object(Bucket="other-bucket", Key="uploads/a.tif", Body=SCENE)
    response = client.post("/attributes", data={"key": key})
    assert response.status_code == 400 and response.json()["error"] == {
        "code": "invalid_key",
        "message": (
            "key must be an object key like 'uploads/<name>.tif' in the input bucket (.tif, .tiff, .jp2, .j2k or a "
            "SAFE product's .zip)."
        ),
    }


@pytest.mark.parametrize(
    "key",
    [
        "uploads/my scene é+ü 2022.tiff",
        "uploads/f%2e%2e b.tif",
        "uploads/d.tif?x=1.tif",
        "uploads/日本/シーン.jp2.tif",
        "uploads/back\\slash (copy) [1] & 'q'.TIF",
    ],
)
def test_every_key_the_trigger_renders_also_works_through_key(s3, lambda_context, key):
    """One key policy (handler/scene.py) for the trigger and key=: spaces, '+', '%', '?', '#', brackets
    and non-ASCII are literal key characters for boto3 and GDAL alike."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=SCENE)
    result = s3_trigger(s3_put_event((BUCKET, key, len(SCENE))), lambda_context)
    assert [(r["key"], r["status"]) for r in result["results"]] == [(key, "written")]
    response = client.post("/thumbnail", data={"key": key, "target_resolution": "48"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "key", ["uploads/a{b}.tif", "uploads/line\nbreak.tif", "uploads/tab\t.tif", "uploads/" + "x" * 1100 + ".tif"]
)
def test_keys_outside_the_policy_are_refused_by_both_entry_points(s3, lambda_context, key):
    """Refused before any S3 or GDAL call (S3 itself would not even store some of them)."""
    result = s3_trigger(s3_put_event((BUCKET, key, len(SCENE))), lambda_context)
    assert [(r["status"], r["reason"]) for r in result["results"]] == [("skipped", "unsafe_key")]
    response = client.post("/attributes", data={"key": key})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_key"


def test_missing_object_is_404_and_both_inputs_is_422(s3):
    assert client.post("/attributes", data={"key": "uploads/none.tif"}).json()["error"]["code"] == "not_found"
    both = client.post("/attributes", data={"key": "uploads/a.tif"}, files={"image_file": ("a.tif", SCENE)})
    assert both.status_code == 422 and both.json()["error"]["code"] == "invalid_request"


@pytest.fixture
def enforcing_s3(s3):
    """moto plus a stand-in for S3's POST endpoint that enforces the policy (moto's does not)."""

    def store(bucket: str, key: str, data: bytes, content_type: str) -> None:
        s3.put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)

    with post_policy_server(store, os.environ["AWS_SECRET_ACCESS_KEY"], free_port()) as url:
        yield url


def post_to(stand_in: str, upload: dict, data: bytes, fields: dict | None = None) -> httpx.Response:
    """The browser's (or curl's) form POST of `data` with the upload's fields (the file last), sent to the
    policy-enforcing stand-in instead of moto."""
    bucket_path = urllib.parse.urlsplit(upload["upload"]["url"]).path
    return httpx.post(
        stand_in + bucket_path,
        data={**upload["upload"]["fields"], **(fields or {})},
        files={"file": ("scene", data, upload["upload"]["fields"]["Content-Type"])},
    )


def test_uploads_are_presigned_posts_signed_with_sigv4_that_fix_key_type_and_size(s3):
    # Planted bug: generate_presigned_post without the content-length-range condition -> the check fails.
    upload = client.post("/uploads", data={"name": "T32TQM_20220609T101559_TCI_10m.jp2"}).json()
    fields = upload["upload"]["fields"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert upload["key"] == f"uploads/{upload['id']}/T32TQM_20220609T101559_TCI_10m.jp2"
    assert fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and "x-amz-signature" in fields
    assert fields["x-amz-credential"].endswith(f"/{os.environ['AWS_DEFAULT_REGION']}/s3/aws4_request")
    assert {"key": upload["key"]} in policy["conditions"] and {"bucket": BUCKET} in policy["conditions"]
    assert {"Content-Type": "image/jp2"} in policy["conditions"] and fields["Content-Type"] == "image/jp2"
    assert ["content-length-range", 1, upload["max_bytes"]] in policy["conditions"]
    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(seconds=upload["expires_in"])
    assert client.post("/uploads").json()["key"].endswith("/scene.tif")  # the default name
    assert client.post("/uploads", data={"name": "C:\\data\\a.tif"}).json()["key"].endswith("/a.tif")  # base name
    for bad in ("..", "scene.png", "my scene.tif", ".tif", "x" * 200 + ".tif"):
        error = client.post("/uploads", data={"name": bad}).json()["error"]
        assert error == {
            "code": "invalid_request",
            "message": "name must be a plain file name (letters, digits, "
            "'_', '.', '-') ending in .tif, .tiff, .jp2, .j2k or .zip.",
        }, bad


def test_the_s3_stand_in_refuses_what_the_policy_does_not_allow(enforcing_s3, s3, monkeypatch):
    monkeypatch.setenv("MAX_OBJECT_BYTES", "1000")
    upload = client.post("/uploads").json()
    assert post_to(enforcing_s3, upload, b"x" * 1001).text == "<Error><Code>EntityTooLarge</Code></Error>"
    other_key = post_to(enforcing_s3, upload, b"x" * 10, {"key": "uploads/elsewhere.tif"})
    other_type = post_to(enforcing_s3, upload, b"x" * 10, {"Content-Type": "text/html"})
    assert other_key.status_code == other_type.status_code == 403
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET)  # nothing was stored
    assert post_to(enforcing_s3, upload, b"x" * 1000).status_code == 204


def test_presigned_upload_then_trigger_then_result(enforcing_s3, s3, lambda_context):
    upload = client.post("/uploads", data={"name": "S2L2A_2022-06-09.tiff"}).json()
    unknown = client.get(upload["result"])  # nothing uploaded yet
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == f"No upload {upload['id']}."
    assert post_to(enforcing_s3, upload, SCENE).status_code == 204
    assert client.get(upload["result"]).json() == {"status": "pending"}
    s3_trigger(s3_put_event((BUCKET, upload["key"], len(SCENE))), lambda_context)
    done = client.get(upload["result"]).json()
    assert done["status"] == "done" and done["attributes"]["bands"] == 12
    assert "X-Amz-Expires=900&" in done["thumbnail_url"]  # PRESIGN_EXPIRES, not boto3's hour
    assert open_png(urllib.request.urlopen(done["thumbnail_url"]).read()).size == (512, 341)
    # Planted bug: item_url presigning outputs.attributes -> the fetched JSON is no Item.
    item = json.loads(urllib.request.urlopen(done["item_url"]).read())
    validate(item)
    assert item["id"] == f"{upload['id']}%2FS2L2A_2022-06-09.tiff"
    assert item["assets"]["source"]["href"] == f"s3://{BUCKET}/{upload['key']}"
    assert "cog_url" not in done


def test_a_rejected_upload_reaches_failed_with_its_code(enforcing_s3, s3, lambda_context):
    # Planted bug: upload_result ignoring status objects -> the rejected upload stays pending forever.
    upload = client.post("/uploads").json()
    assert post_to(enforcing_s3, upload, b"\x89PNG\r\n\x1a\n not a scene").status_code == 204
    s3_trigger(s3_put_event((BUCKET, upload["key"], 20)), lambda_context)
    status = s3.head_object(Bucket=BUCKET, Key=f"status/{upload['id']}/scene.tif.json")
    assert status["ContentType"] == "application/json"
    result = client.get(upload["result"])
    assert result.status_code == 200 and result.json()["status"] == "failed"
    assert result.json()["error"]["code"] == "unsupported_format" and "PNG" in result.json()["error"]["message"]
    s3.put_object(Bucket=BUCKET, Key=upload["key"], Body=SCENE)  # a fixed file under the same key
    assert client.get(upload["result"]).json() == {"status": "pending"}
    s3_trigger(s3_put_event((BUCKET, upload["key"], len(SCENE))), lambda_context)
    assert client.get(upload["result"]).json()["status"] == "done"


def test_config_tells_a_client_which_path_to_take(monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "12345")
    monkeypatch.delenv("INPUT_BUCKET", raising=False)
    assert client.get("/config").json() == {"max_upload_bytes": 12345, "s3_uploads": False}
    monkeypatch.setenv("INPUT_BUCKET", BUCKET)
    assert client.get("/config").json()["s3_uploads"] is True


def test_result_ids_are_validated():
    assert client.get("/results/..%2F..%2Fetc").status_code in (404, 422)
    assert client.get("/results/not-a-uuid").json()["error"]["code"] == "invalid_request"


def test_uploads_need_an_input_bucket(monkeypatch):
    monkeypatch.delenv("INPUT_BUCKET", raising=False)
    expected = {"code": "invalid_key", "message": "Uploads are not available: this deployment has no INPUT_BUCKET."}
    assert client.post("/uploads").json()["error"] == expected
    assert client.get(f"/results/{'0' * 32}").json()["error"] == expected


def test_responses_over_the_lambda_limit_are_413(monkeypatch):
    monkeypatch.setenv("MAX_RESPONSE_BYTES", "1000")
    response = client.post("/thumbnail", files={"image_file": ("a.tif", SCENE)})
    assert response.status_code == 413 and response.json()["error"]["code"] == "response_too_large"


def test_key_thumbnails_read_the_triggers_cog_copy_while_it_is_current(s3, lambda_context, monkeypatch):
    monkeypatch.setenv("COG_COPY_MAX_BYTES", "100000000")
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 1000)  # the 96 x 64 scene counts as big
    striped = geotiff_bytes(reflectance_stack(12, height=64, width=96))
    s3.put_object(Bucket=BUCKET, Key="uploads/striped.tif", Body=striped)
    s3_trigger(s3_put_event((BUCKET, "uploads/striped.tif", len(striped))), lambda_context)
    opened = []
    open_object = sources.open_object
    monkeypatch.setattr(
        sources, "open_object", lambda store, info, limit: opened.append(info.key) or open_object(store, info, limit)
    )

    form = {"key": "uploads/striped.tif", "target_resolution": "48"}
    from_copy = client.post("/thumbnail", data=form)
    assert from_copy.status_code == 200 and opened == ["cogs/striped.tif"]
    assert client.post("/attributes", data={"key": "uploads/striped.tif"}).json()["overviews"] == []
    assert opened[-1] == "uploads/striped.tif"  # attributes describe the file as uploaded

    s3.put_object(Bucket=BUCKET, Key="uploads/striped.tif", Body=geotiff_bytes(reflectance_stack(12, 64, 96) // 2))
    from_new_upload = client.post("/thumbnail", data=form)
    assert from_new_upload.status_code == 200 and opened[-1] == "uploads/striped.tif"  # the copy is stale
    assert as_array(from_new_upload.content).mean() < as_array(from_copy.content).mean()


def test_results_link_the_cog_copy_when_the_trigger_made_one(s3, lambda_context, monkeypatch, tmp_path):
    monkeypatch.setenv("COG_COPY_MAX_BYTES", "100000000")
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 1000)
    body = client.post("/uploads").json()
    s3.put_object(Bucket=BUCKET, Key=body["key"], Body=geotiff_bytes(reflectance_stack(12, height=64, width=96)))
    s3_trigger(s3_put_event((BUCKET, body["key"], 1)), lambda_context)
    done = client.get(body["result"]).json()
    (tmp_path / "copy.tif").write_bytes(urllib.request.urlopen(done["cog_url"]).read())
    with open_path(str(tmp_path / "copy.tif")) as copy:
        assert copy.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
    item = json.loads(urllib.request.urlopen(done["item_url"]).read())
    assert item["assets"]["cog"]["href"] == f"s3://{BUCKET}/cogs/{body['id']}/scene.tif"


def test_s3_calls_are_traced_when_tracing_is_on(monkeypatch):
    """The S3 client is created after botocore is patched for X-Ray (Powertools skips it when disabled)."""
    # Planted bug: no tracer.patch in s3_client -> S3 calls are missing from traces.
    from handler import s3_store
    from handler.observability import tracer

    patched = []
    monkeypatch.setattr(tracer, "patch", lambda modules: patched.append(list(modules)))
    s3_store.s3_client.cache_clear()
    try:
        s3_store.s3_client()
    finally:
        s3_store.s3_client.cache_clear()
    assert patched == [["botocore"]]
