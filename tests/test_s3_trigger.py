"""S3 trigger: skips, loop guard, idempotency, rejections (mock_aws) and real renders via moto's server."""

import json

import pytest
from moto import mock_aws

from handler import s3_store, s3_trigger
from handler.core import cog, open_path
from handler.s3_trigger import handler, skip_reason
from handler.settings import OutputKeys, Settings
from tests.conftest import requires_real_data
from tests.rasters import REAL_DATA, geotiff_bytes, open_png, reflectance_stack
from events.make_events import s3_put_event
from tests.s3_helpers import moto_server

BUCKET = "input-bucket"
SCENE = geotiff_bytes(reflectance_stack(12, height=60, width=90))


def keys(s3, bucket: str = BUCKET) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def results(response: dict) -> dict[str, tuple[str, str]]:
    return {r["key"]: (r["status"], r["reason"]) for r in response["results"]}


@pytest.fixture
def mocked_s3(monkeypatch):
    """In-process moto for handler logic that never reaches GDAL."""
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    s3_store.s3_client.cache_clear()
    with mock_aws():
        client = s3_store.s3_client()
        client.create_bucket(Bucket=BUCKET)
        yield client
    s3_store.s3_client.cache_clear()


@pytest.fixture
def served_s3(monkeypatch):
    with moto_server(monkeypatch) as client:
        client.create_bucket(Bucket=BUCKET)
        yield client


def invoke(lambda_context, *objects):
    return handler(s3_put_event(*objects), lambda_context)


@pytest.mark.parametrize("key, size, reason", [
    ("uploads/folder/", 0, "folder"), ("thumbnails/a.tif", 10, "output_prefix"),
    ("attributes/a.tif", 10, "output_prefix"), ("cogs/a.tif", 10, "output_prefix"),
    ("other/a.tif", 10, "outside_input_prefix"),
    ("uploads/a.png", 10, "not_tiff"), ("uploads/a.tif", 0, "empty"), ("uploads/a.TIFF", 10, None),
])
def test_skip_rules(key, size, reason):
    assert skip_reason(key, size, Settings(), BUCKET) == reason


def test_output_keys_keep_sub_folders_and_honour_output_location():
    assert Settings().output_keys("uploads/a/b c.TIF", BUCKET) == OutputKeys(
        BUCKET, "thumbnails/a/b c.png", "attributes/a/b c.json", "cogs/a/b c.tif")
    other = Settings(output_bucket="out", output_prefix="derived/").output_keys("uploads/x.tiff", BUCKET)
    assert (other.bucket, other.thumbnail) == ("out", "derived/thumbnails/x.png")


def test_skipped_and_rejected_objects_write_nothing(mocked_s3, lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_OBJECT_BYTES", str(len(SCENE) - 1))
    mocked_s3.put_object(Bucket=BUCKET, Key="uploads/notes.tif", Body=b"%PDF-1.7 not a tiff")
    mocked_s3.put_object(Bucket=BUCKET, Key="uploads/big.tif", Body=SCENE)
    mocked_s3.put_object(Bucket=BUCKET, Key="uploads/empty.tif", Body=b"")
    mocked_s3.put_object(Bucket=BUCKET, Key="thumbnails/loop.tif", Body=SCENE)
    response = invoke(lambda_context, (BUCKET, "uploads/notes.tif", 19), (BUCKET, "uploads/big.tif", len(SCENE)),
                      (BUCKET, "uploads/empty.tif", 0), (BUCKET, "thumbnails/loop.tif", len(SCENE)),
                      (BUCKET, "uploads/folder/", 0), (BUCKET, "uploads/gone.tif", 100))
    assert results(response) == {
        "uploads/notes.tif": ("rejected", "unsupported_format"), "uploads/big.tif": ("rejected", "input_too_large"),
        "uploads/empty.tif": ("skipped", "empty"), "thumbnails/loop.tif": ("skipped", "output_prefix"),
        "uploads/folder/": ("skipped", "folder"), "uploads/gone.tif": ("skipped", "deleted")}
    assert keys(mocked_s3) == ["thumbnails/loop.tif", "uploads/big.tif", "uploads/empty.tif", "uploads/notes.tif"]


def test_replay_of_a_processed_object_does_no_work(mocked_s3, lambda_context):
    etag = mocked_s3.put_object(Bucket=BUCKET, Key="uploads/done.tif", Body=SCENE)["ETag"].strip('"')
    s3_store.put(BUCKET, "attributes/done.json", b"{}", "application/json", etag)
    assert results(invoke(lambda_context, (BUCKET, "uploads/done.tif", len(SCENE)))) == {
        "uploads/done.tif": ("skipped", "already_processed")}
    assert "thumbnails/done.png" not in keys(mocked_s3)


def test_transient_s3_errors_are_raised_for_retry(mocked_s3, lambda_context, monkeypatch):
    mocked_s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=SCENE)

    def broken_head(bucket, key):
        from botocore.exceptions import ClientError
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "HeadObject")

    monkeypatch.setattr(s3_store, "head", broken_head)
    with pytest.raises(RuntimeError, match="will be retried"):
        invoke(lambda_context, (BUCKET, "uploads/a.tif", len(SCENE)))


def test_renders_normal_and_encoded_keys_in_one_event(served_s3, lambda_context):
    names = ["uploads/scene.tif", "uploads/my scene é+ü 2022.tiff"]
    for name in names:
        served_s3.put_object(Bucket=BUCKET, Key=name, Body=SCENE)
    response = invoke(lambda_context, *[(BUCKET, name, len(SCENE)) for name in names])
    assert results(response) == {name: ("written", "") for name in names}
    assert keys(served_s3) == sorted(names + ["thumbnails/scene.png", "attributes/scene.json",
                                              "thumbnails/my scene é+ü 2022.png", "attributes/my scene é+ü 2022.json"])
    png = served_s3.get_object(Bucket=BUCKET, Key="thumbnails/my scene é+ü 2022.png")
    assert png["ContentType"] == "image/png" and open_png(png["Body"].read()).size == (512, 341)
    attributes = json.loads(served_s3.get_object(Bucket=BUCKET, Key="attributes/scene.json")["Body"].read())
    assert attributes["bands"] == 12 and attributes["source"]["key"] == "uploads/scene.tif"
    assert attributes["source"]["size"] == len(SCENE) and attributes["source"]["etag"]
    # A replayed event is recognised by the ETag recorded on the outputs.
    assert set(results(invoke(lambda_context, (BUCKET, names[0], len(SCENE)))).values()) == {
        ("skipped", "already_processed")}


def test_output_bucket_and_truncated_object(served_s3, lambda_context, monkeypatch):
    served_s3.create_bucket(Bucket="output-bucket")
    monkeypatch.setenv("OUTPUT_BUCKET", "output-bucket")
    served_s3.put_object(Bucket=BUCKET, Key="uploads/ok.tif", Body=SCENE)
    served_s3.put_object(Bucket=BUCKET, Key="uploads/cut.tif", Body=SCENE[:200])
    response = invoke(lambda_context, (BUCKET, "uploads/ok.tif", len(SCENE)), (BUCKET, "uploads/cut.tif", 200))
    assert results(response) == {"uploads/ok.tif": ("written", ""), "uploads/cut.tif": ("rejected", "unreadable_raster")}
    assert keys(served_s3, "output-bucket") == ["attributes/ok.json", "thumbnails/ok.png"]


def test_scenes_without_usable_overviews_get_a_cog_copy(served_s3, lambda_context, monkeypatch, tmp_path):
    monkeypatch.setenv("COG_COPY_MAX_BYTES", str(len(SCENE)))
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 1000)  # SCENE is 90 x 60: make it count as big
    served_s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=SCENE)
    served_s3.put_object(Bucket=BUCKET, Key="uploads/over-limit.tif", Body=SCENE + b"\0")
    response = invoke(lambda_context, (BUCKET, "uploads/a.tif", len(SCENE)), (BUCKET, "uploads/over-limit.tif", len(SCENE) + 1))
    assert results(response) == {"uploads/a.tif": ("written", "with_cog_copy"), "uploads/over-limit.tif": ("written", "")}
    assert [k for k in keys(served_s3) if k.startswith("cogs/")] == ["cogs/a.tif"]
    copy = served_s3.get_object(Bucket=BUCKET, Key="cogs/a.tif")
    assert copy["ContentType"].startswith("image/tiff") and copy["Metadata"]["source-etag"]
    (tmp_path / "copy.tif").write_bytes(copy["Body"].read())
    with open_path(str(tmp_path / "copy.tif")) as dataset:
        assert dataset.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and dataset.count == 12


def test_a_failed_cog_copy_keeps_the_outputs_and_writes_no_copy(served_s3, lambda_context, monkeypatch):
    monkeypatch.setenv("COG_COPY_MAX_BYTES", str(len(SCENE)))
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 1000)

    def disk_full(dataset, path):
        open(path, "wb").write(b"II*\0partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(s3_trigger, "write_cog", disk_full)
    served_s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=SCENE)
    response = invoke(lambda_context, (BUCKET, "uploads/a.tif", len(SCENE)))
    assert results(response) == {"uploads/a.tif": ("written", "cog_copy_failed")}
    assert keys(served_s3) == ["attributes/a.json", "thumbnails/a.png", "uploads/a.tif"]


@requires_real_data
def test_real_files_dropped_into_the_bucket(served_s3, lambda_context):
    files = sorted(REAL_DATA.glob("*.tif"))
    for path in files:
        served_s3.upload_file(str(path), BUCKET, f"uploads/{path.name}")
    response = invoke(lambda_context, *[(BUCKET, f"uploads/{p.name}", p.stat().st_size) for p in files])
    assert {status for status, _ in results(response).values()} == {"written"}
    for path in files:
        stem = path.name[:-4]
        image = open_png(served_s3.get_object(Bucket=BUCKET, Key=f"thumbnails/{stem}.png")["Body"].read())
        assert max(image.size) == 512
        attributes = json.loads(served_s3.get_object(Bucket=BUCKET, Key=f"attributes/{stem}.json")["Body"].read())
        assert attributes["source"]["size"] == path.stat().st_size
