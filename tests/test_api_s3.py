"""Large-scene paths of the API: key= reads from the input bucket, presigned uploads, results."""

import json
import urllib.request

import pytest
from fastapi.testclient import TestClient

from handler.scene import sources
from handler.api import app
from handler.core import cog, open_path
from handler.s3_trigger import handler as s3_trigger
from tests.rasters import as_array, geotiff_bytes, open_png, reflectance_stack
from events.make_events import s3_put_event
from tests.s3_helpers import moto_server
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


@pytest.mark.parametrize("key", ["/etc/passwd", "../uploads/a.tif", "uploads/../x.tif", "vrt:///etc/passwd",
                                 "/vsicurl/http://127.0.0.1:1/x.tif", "s3://other-bucket/uploads/a.tif",
                                 "uploads/a.vrt", "other/a.tif", "uploads//a.tif", "<VRTDataset>.tif"])
def test_keys_other_than_plain_input_keys_are_refused(s3, key):
    s3.put_object(Bucket="other-bucket", Key="uploads/a.tif", Body=SCENE)
    response = client.post("/attributes", data={"key": key})
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_key"


@pytest.mark.parametrize("key", ["uploads/my scene é+ü 2022.tiff", "uploads/f%2e%2e b.tif", "uploads/d.tif?x=1.tif",
                                 "uploads/日本/シーン.jp2.tif", "uploads/back\\slash (copy) [1] & 'q'.TIF"])
def test_every_key_the_trigger_renders_also_works_through_key(s3, lambda_context, key):
    """One key policy (handler/scene.py) for the trigger and key=: spaces, '+', '%', '?', '#', brackets
    and non-ASCII are literal key characters for boto3 and GDAL alike."""
    s3.put_object(Bucket=BUCKET, Key=key, Body=SCENE)
    result = s3_trigger(s3_put_event((BUCKET, key, len(SCENE))), lambda_context)
    assert [(r["key"], r["status"]) for r in result["results"]] == [(key, "written")]
    response = client.post("/thumbnail", data={"key": key, "target_resolution": "48"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("key", ["uploads/a{b}.tif", "uploads/line\nbreak.tif", "uploads/tab\t.tif",
                                 "uploads/" + "x" * 1100 + ".tif"])
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


def test_presigned_upload_then_trigger_then_result(s3, lambda_context):
    created = client.post("/uploads")
    assert created.status_code == 201
    body = created.json()
    assert client.get(body["result"]).status_code == 404  # nothing uploaded yet
    put = urllib.request.Request(body["upload"]["url"], data=SCENE, method="PUT", headers=body["upload"]["headers"])
    assert urllib.request.urlopen(put).status == 200
    assert client.get(body["result"]).json() == {"status": "pending"}
    s3_trigger(s3_put_event((BUCKET, body["key"], len(SCENE))), lambda_context)
    done = client.get(body["result"]).json()
    assert done["status"] == "done" and done["attributes"]["bands"] == 12
    assert open_png(urllib.request.urlopen(done["thumbnail_url"]).read()).size == (512, 341)
    # Planted bug: item_url presigning outputs.attributes -> the fetched JSON is no Item.
    item = json.loads(urllib.request.urlopen(done["item_url"]).read())
    validate(item)
    assert item["id"] == f"{body['id']}.tif" and item["assets"]["source"]["href"] == f"s3://{BUCKET}/{body['key']}"
    assert "cog_url" not in done


def test_result_ids_are_validated():
    assert client.get("/results/..%2F..%2Fetc").status_code in (404, 422)
    assert client.get("/results/not-a-uuid").json()["error"]["code"] == "invalid_request"


def test_uploads_need_an_input_bucket(monkeypatch):
    monkeypatch.delenv("INPUT_BUCKET", raising=False)
    assert client.post("/uploads").json()["error"]["code"] == "invalid_key"


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
    monkeypatch.setattr(sources, "open_object",
                        lambda store, info, limit: opened.append(info.key) or open_object(store, info, limit))

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
    assert item["assets"]["cog"]["href"] == f"s3://{BUCKET}/cogs/{body['id']}.tif"
