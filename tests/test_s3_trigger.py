"""S3 trigger: skips, loop guard, idempotency, rejections, versions and conditional writes (mock_aws),
and real renders (thumbnails, attributes, STAC Items) via moto's server. Event shapes (SQS, EventBridge,
malformed) are in test_s3_events.py."""

import json

import pytest
from botocore.exceptions import ClientError
from rasterio._err import CPLE_HttpResponseError
from rasterio.errors import RasterioIOError

from handler import s3_store
from handler.core import cog, open_path
from handler.core.errors import RasterTooLarge, UnreadableRaster
from handler.s3_events import ObjectEvent
from handler.core.stac import COG, GEOJSON, GEOTIFF, PNG
from handler.s3_trigger import handler
from handler.scene import processing
from handler.scene.layout import OutputKeys, output_keys
from handler.scene.processing import skip_reason
from handler.settings import Settings
from tests.conftest import requires_real_data
from tests.rasters import REAL_DATA, geotiff_bytes, open_png, reflectance_stack
from events.make_events import s3_put_event
from tests.s3_helpers import fake_rendered, in_process_s3, moto_server
from tests.stac_schemas import validate

BUCKET = "input-bucket"
SCENE = geotiff_bytes(reflectance_stack(12, height=60, width=90))
FAKE = fake_rendered()


def keys(s3, bucket: str = BUCKET) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def results(response: dict) -> dict[str, tuple[str, str]]:
    return {r["key"]: (r["status"], r["reason"]) for r in response["results"]}


def put(s3, key: str, body: bytes = SCENE, bucket: str = BUCKET) -> tuple:
    """Upload and return the (bucket, key, size, etag, version_id) an S3 notification of it names."""
    response = s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket, key, len(body), response["ETag"].strip('"'), response.get("VersionId")


def event(key: str, size: int = 10, bucket: str = BUCKET, created: bool = True) -> ObjectEvent:
    return ObjectEvent(bucket, key, size, "", None, created)


def outputs_of(name: str) -> list[str]:
    """The keys the trigger writes for uploads/<name> (no COG copy)."""
    return [f"attributes/{name}.json", f"items/{name}.json", f"thumbnails/{name}.png"]


def read_item(s3, key: str, bucket: str = BUCKET) -> dict:
    """A written STAC Item, checked against the official schemas and its media type."""
    stored = s3.get_object(Bucket=bucket, Key=key)
    assert stored["ContentType"] == GEOJSON
    item = json.loads(stored["Body"].read())
    validate(item)
    return item


def hrefs(item: dict) -> dict[str, tuple[str, str, list[str]]]:
    return {name: (asset["href"], asset["type"], asset["roles"]) for name, asset in item["assets"].items()}


@pytest.fixture
def mocked_s3(monkeypatch):
    """In-process moto for handler logic that never reaches GDAL."""
    with in_process_s3(monkeypatch, BUCKET) as client:
        yield client


@pytest.fixture
def fake_render(monkeypatch):
    """Rendering replaced by fixed bytes (in-process moto cannot serve GDAL); records what it rendered."""
    rendered = []

    def render(store, source, settings, deadline):
        rendered.append(source)
        return FAKE

    monkeypatch.setattr(processing, "render_object", render)
    return rendered


@pytest.fixture
def served_s3(monkeypatch):
    with moto_server(monkeypatch) as client:
        client.create_bucket(Bucket=BUCKET)
        yield client


def invoke(lambda_context, *objects):
    return handler(s3_put_event(*objects), lambda_context)


@pytest.mark.parametrize(
    "key, size, reason",
    [
        ("uploads/folder/", 0, "folder"),
        ("thumbnails/a.tif", 10, "output_prefix"),
        ("attributes/a.tif", 10, "output_prefix"),
        ("cogs/a.tif", 10, "output_prefix"),
        ("items/a.tif", 10, "output_prefix"),
        ("other/a.tif", 10, "outside_input_prefix"),
        ("uploads/a.png", 10, "unsupported_suffix"),
        ("uploads/a.tif", 0, "empty"),
        ("uploads/a.TIFF", 10, None),
        ("uploads/./a.tif", 10, "unsafe_key"),  # GDAL would normalise it to uploads/a.tif
        ("uploads/../a.tif", 10, "unsafe_key"),
        ("uploads/" + "a" * 1012 + ".tif", 10, None),  # 1024 bytes, S3's longest key
        ("uploads/" + "a" * 1013 + ".tif", 10, "unsafe_key"),
    ],
)
def test_skip_rules(key, size, reason):
    assert skip_reason(event(key, size), Settings()) == reason


def test_skip_rules_for_other_buckets_and_other_event_kinds():
    # Planted bug: the input_bucket check removed -> "other_bucket" is None.
    assert skip_reason(event("uploads/a.tif", bucket="elsewhere"), Settings(input_bucket=BUCKET)) == "other_bucket"
    assert skip_reason(event("uploads/a.tif"), Settings(input_bucket=BUCKET)) is None
    assert skip_reason(event("uploads/a.tif", bucket="any"), Settings()) is None  # unset: the event's bucket
    assert skip_reason(event("uploads/a.tif", created=False), Settings()) == "not_object_created"


def test_output_keys_keep_the_whole_file_name_so_extensions_never_collide():
    # Planted bug: the old layout (extension dropped) -> a.tif, a.TIF and a.tiff share outputs.
    settings = Settings()
    assert output_keys(settings, "uploads/a/b c.TIF", BUCKET) == OutputKeys(
        BUCKET,
        "thumbnails/a/b c.TIF.png",
        "attributes/a/b c.TIF.json",
        "cogs/a/b c.TIF",
        "items/a/b c.TIF.json",
        "a%2Fb%20c.TIF",
        "status/a/b c.TIF.json",
    )
    names = ["uploads/a.tif", "uploads/a.TIF", "uploads/a.tiff", "uploads/a.Tiff"]
    for field in ("thumbnail", "attributes", "cog", "item", "item_id", "status"):
        assert len({getattr(output_keys(settings, name, BUCKET), field) for name in names}) == len(names)
    other = output_keys(Settings(output_bucket="out"), "uploads/x.tiff", BUCKET)
    assert (other.bucket, other.thumbnail) == ("out", "thumbnails/x.tiff.png")


def test_skipped_objects_write_nothing_and_rejected_ones_only_why(mocked_s3, lambda_context, monkeypatch):
    monkeypatch.setenv("MAX_OBJECT_BYTES", str(len(SCENE) - 1))
    notes = put(mocked_s3, "uploads/notes.tif", b"%PDF-1.7 not a tiff")
    big = put(mocked_s3, "uploads/big.tif")
    empty = put(mocked_s3, "uploads/empty.tif", b"")
    loop = put(mocked_s3, "thumbnails/loop.tif")
    response = invoke(
        lambda_context, notes, big, empty, loop, (BUCKET, "uploads/folder/", 0), (BUCKET, "uploads/gone.tif", 100)
    )
    assert results(response) == {
        "uploads/notes.tif": ("rejected", "unsupported_format"),
        "uploads/big.tif": ("rejected", "input_too_large"),
        "uploads/empty.tif": ("skipped", "empty"),
        "thumbnails/loop.tif": ("skipped", "output_prefix"),
        "uploads/folder/": ("skipped", "folder"),
        "uploads/gone.tif": ("skipped", "deleted"),
    }
    assert keys(mocked_s3) == [
        "status/big.tif.json",
        "status/notes.tif.json",
        "thumbnails/loop.tif",
        "uploads/big.tif",
        "uploads/empty.tif",
        "uploads/notes.tif",
    ]
    status = json.loads(mocked_s3.get_object(Bucket=BUCKET, Key="status/notes.tif.json")["Body"].read())
    assert status["error"]["code"] == "unsupported_format" and status["source"]["etag"] == notes[3]


def test_replay_of_a_processed_object_does_no_work(mocked_s3, lambda_context, fake_render):
    done = put(mocked_s3, "uploads/done.tif")
    s3_store.put(BUCKET, "attributes/done.tif.json", b"{}", "application/json", done[3], replaces=None)
    assert results(invoke(lambda_context, done)) == {"uploads/done.tif": ("skipped", "already_processed")}
    assert keys(mocked_s3) == ["attributes/done.tif.json", "uploads/done.tif"] and fake_render == []


def test_transient_s3_errors_are_raised_for_retry(mocked_s3, lambda_context, monkeypatch):
    scene = put(mocked_s3, "uploads/a.tif")

    def broken_head(bucket, key):
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "HeadObject")

    monkeypatch.setattr(s3_store, "head", broken_head)
    with pytest.raises(RuntimeError, match="will be retried"):
        invoke(lambda_context, scene)


def raises(error: Exception):
    def render(store, source, settings, deadline):
        raise error

    return render


def gdal_http_error(code: int) -> Exception:
    """What the core raises when GDAL's /vsis3/ read gets an HTTP error: UnreadableRaster, with the
    HTTP error in its cause chain."""
    try:
        try:
            raise CPLE_HttpResponseError(11, 1, f"HTTP response code: {code}")
        except CPLE_HttpResponseError as http:
            raise RasterioIOError(f"HTTP response code: {code}") from http
    except RasterioIOError as io:
        try:
            raise UnreadableRaster("The file could not be read as a GeoTIFF (corrupt or truncated).") from io
        except UnreadableRaster as error:
            return error


@pytest.mark.parametrize(
    "error, code",
    [
        (RasterTooLarge("too big"), "raster_too_large"),
        (RasterioIOError("TIFFReadDirectory: bad IFD"), "unreadable_raster"),  # escaped the core
        (ValueError("cannot reshape array"), "unreadable_raster"),
        (UnreadableRaster("corrupt"), "unreadable_raster"),
    ],
)
def test_any_error_from_the_files_content_is_a_rejection_never_a_retry(
    mocked_s3, lambda_context, monkeypatch, error, code
):
    # Planted bug: `except RasterError` instead of any exception -> the GDAL and numpy cases raise.
    scene = put(mocked_s3, "uploads/a.tif")
    monkeypatch.setattr(processing, "render_object", raises(error))
    assert results(invoke(lambda_context, scene)) == {"uploads/a.tif": ("rejected", code)}
    assert keys(mocked_s3) == ["status/a.tif.json", "uploads/a.tif"]


def test_s3_trouble_inside_gdal_reads_is_retried(mocked_s3, lambda_context, monkeypatch):
    # Planted bug: is_transient returning False -> the 503 becomes a rejection.
    scene = put(mocked_s3, "uploads/a.tif")
    monkeypatch.setattr(processing, "render_object", raises(gdal_http_error(503)))
    with pytest.raises(RuntimeError, match="will be retried"):
        invoke(lambda_context, scene)


def test_an_event_for_an_older_etag_renders_nothing(mocked_s3, lambda_context, fake_render):
    # Planted bug: ObjectEvent.names always True -> the old event renders (and labels) the new bytes.
    old = put(mocked_s3, "uploads/a.tif", SCENE)
    new = put(mocked_s3, "uploads/a.tif", SCENE + b"\0")
    assert results(invoke(lambda_context, old)) == {"uploads/a.tif": ("skipped", "superseded")}
    assert fake_render == [] and keys(mocked_s3) == ["uploads/a.tif"]
    assert results(invoke(lambda_context, new)) == {"uploads/a.tif": ("written", "")}
    assert [source.etag for source in fake_render] == [new[3]]


def test_versioned_bucket_renders_only_the_current_version_the_event_names(mocked_s3, lambda_context, fake_render):
    mocked_s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    old = put(mocked_s3, "uploads/a.tif", SCENE)
    new = put(mocked_s3, "uploads/a.tif", SCENE)  # same bytes, same ETag: only the version id differs
    assert old[3] == new[3] and old[4] != new[4]
    assert results(invoke(lambda_context, old)) == {"uploads/a.tif": ("skipped", "superseded")}
    assert results(invoke(lambda_context, new)) == {"uploads/a.tif": ("written", "")}
    assert fake_render[0].version_id == new[4]
    attributes = mocked_s3.head_object(Bucket=BUCKET, Key="attributes/a.tif.json")
    assert attributes["Metadata"]["source-etag"] == new[3]


def test_suspended_versioning_tells_versions_apart_by_etag(mocked_s3, lambda_context, fake_render):
    """With versioning suspended every put gets version id "null" (S3 says so; moto omits it): only the
    ETag names a version."""
    # Planted bug: s3_store.version_id keeping "null" -> the current version's event is "superseded" too.
    mocked_s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    old = put(mocked_s3, "uploads/a.tif", SCENE)[:4] + ("null",)
    new = put(mocked_s3, "uploads/a.tif", SCENE + b"\0")[:4] + ("null",)
    assert results(invoke(lambda_context, old)) == {"uploads/a.tif": ("skipped", "superseded")}
    assert results(invoke(lambda_context, new)) == {"uploads/a.tif": ("written", "")}
    assert [source.etag for source in fake_render] == [new[3]]


def test_object_replaced_during_the_render_writes_nothing(mocked_s3, lambda_context, monkeypatch):
    # Planted bug: write_outputs without the source check -> the old render's outputs are written.
    scene = put(mocked_s3, "uploads/a.tif")

    def render_while_replaced(store, source, settings, deadline):
        mocked_s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=SCENE + b"new")
        return FAKE

    monkeypatch.setattr(processing, "render_object", render_while_replaced)
    assert results(invoke(lambda_context, scene)) == {"uploads/a.tif": ("skipped", "changed_during_render")}
    assert keys(mocked_s3) == ["uploads/a.tif"]


def test_an_older_render_never_overwrites_outputs_a_newer_one_wrote(mocked_s3, monkeypatch):
    """The race the source check alone cannot close: the old render checks its source (still current),
    then the new version is uploaded and its render writes outputs before the old render's put. The
    conditional put fails, the next look sees the new source, and the newer outputs stay."""
    # Planted bug: s3_store.put ignoring `replaces` (unconditional put) -> the old thumbnail wins.
    put(mocked_s3, "uploads/a.tif", SCENE)
    old_source = s3_store.head(BUCKET, "uploads/a.tif")
    real_head = s3_store.head
    raced = []

    def head_then_newer_render_wins(bucket, key):
        current = real_head(bucket, key)
        if not raced:
            raced.append(True)
            new = put(mocked_s3, "uploads/a.tif", SCENE + b"new")
            s3_store.put(BUCKET, "thumbnails/a.tif.png", b"new png", "image/png", new[3], replaces=None)
        return current

    monkeypatch.setattr(s3_store, "head", head_then_newer_render_wins)
    outputs = [processing.Output("thumbnails/a.tif.png", b"old png", "image/png")]
    assert processing.write_outputs(s3_store, old_source, BUCKET, outputs) is False
    assert mocked_s3.get_object(Bucket=BUCKET, Key="thumbnails/a.tif.png")["Body"].read() == b"new png"


def test_conditional_put_refuses_a_changed_or_existing_output(mocked_s3):
    # Planted bug: no IfMatch / IfNoneMatch in s3_store.put -> both writes succeed.
    s3_store.put(BUCKET, "thumbnails/a.tif.png", b"1", "image/png", "e1", replaces=None)
    first = s3_store.output_etag(BUCKET, "thumbnails/a.tif.png")
    with pytest.raises(s3_store.WriteConflict):
        s3_store.put(BUCKET, "thumbnails/a.tif.png", b"2", "image/png", "e2", replaces=None)
    s3_store.put(BUCKET, "thumbnails/a.tif.png", b"3", "image/png", "e3", replaces=first)
    with pytest.raises(s3_store.WriteConflict):
        s3_store.put(BUCKET, "thumbnails/a.tif.png", b"4", "image/png", "e4", replaces=first)
    assert mocked_s3.get_object(Bucket=BUCKET, Key="thumbnails/a.tif.png")["Body"].read() == b"3"


def test_outputs_that_keep_changing_make_the_event_retry(mocked_s3, lambda_context, monkeypatch):
    scene = put(mocked_s3, "uploads/a.tif")
    monkeypatch.setattr(processing, "render_object", lambda store, source, settings, deadline: FAKE)

    def always_lost(*args, **kwargs):
        raise s3_store.WriteConflict("lost")

    monkeypatch.setattr(s3_store, "put", always_lost)
    with pytest.raises(RuntimeError, match="will be retried"):
        invoke(lambda_context, scene)


def test_renders_normal_and_encoded_keys_in_one_event(served_s3, lambda_context):
    names = ["uploads/scene.tif", "uploads/my scene é+ü 2022.tiff"]
    response = invoke(lambda_context, *[put(served_s3, name) for name in names])
    assert results(response) == {name: ("written", "") for name in names}
    assert keys(served_s3) == sorted(names + outputs_of("scene.tif") + outputs_of("my scene é+ü 2022.tiff"))
    png = served_s3.get_object(Bucket=BUCKET, Key="thumbnails/my scene é+ü 2022.tiff.png")
    assert png["ContentType"] == "image/png" and open_png(png["Body"].read()).size == (512, 341)
    attributes = json.loads(served_s3.get_object(Bucket=BUCKET, Key="attributes/scene.tif.json")["Body"].read())
    assert attributes["bands"] == 12 and attributes["source"]["key"] == "uploads/scene.tif"
    assert attributes["source"]["size"] == len(SCENE) and attributes["source"]["etag"]
    item = read_item(served_s3, "items/my scene é+ü 2022.tiff.json")
    assert item["id"] == "my%20scene%20%C3%A9%2B%C3%BC%202022.tiff"  # one URL segment, unique per key
    assert hrefs(item) == {
        "source": (f"s3://{BUCKET}/uploads/my%20scene%20%C3%A9%2B%C3%BC%202022.tiff", GEOTIFF, ["data"]),
        "thumbnail": (f"s3://{BUCKET}/thumbnails/my%20scene%20%C3%A9%2B%C3%BC%202022.tiff.png", PNG, ["thumbnail"]),
    }
    assert [band["name"] for band in item["assets"]["source"]["bands"]][:4] == ["B01", "B02", "B03", "B04"]
    # A replayed event is recognised by the ETag recorded on the outputs.
    assert set(results(invoke(lambda_context, (BUCKET, names[0], len(SCENE)))).values()) == {
        ("skipped", "already_processed")
    }


def test_output_bucket_and_truncated_objects(served_s3, lambda_context, monkeypatch):
    """Truncated files are the file's fault even though GDAL reads them over HTTP: rejected, not retried."""
    # Planted bug: the Item's thumbnail href in the source bucket -> the href is not the output bucket's.
    served_s3.create_bucket(Bucket="output-bucket")
    monkeypatch.setenv("OUTPUT_BUCKET", "output-bucket")
    response = invoke(
        lambda_context,
        put(served_s3, "uploads/ok.tif"),
        put(served_s3, "uploads/cut.tif", SCENE[:200]),
        put(served_s3, "uploads/half.tif", SCENE[: len(SCENE) // 2]),
    )
    assert results(response) == {
        "uploads/ok.tif": ("written", ""),
        "uploads/cut.tif": ("rejected", "unreadable_raster"),
        "uploads/half.tif": ("rejected", "unreadable_raster"),
    }
    assert keys(served_s3, "output-bucket") == sorted(
        outputs_of("ok.tif") + ["status/cut.tif.json", "status/half.tif.json"]
    )
    assert hrefs(read_item(served_s3, "items/ok.tif.json", "output-bucket")) == {
        "source": (f"s3://{BUCKET}/uploads/ok.tif", GEOTIFF, ["data"]),
        "thumbnail": ("s3://output-bucket/thumbnails/ok.tif.png", PNG, ["thumbnail"]),
    }


def test_a_scene_that_cannot_render_in_the_invocations_time_is_a_rejection(served_s3, lambda_context, monkeypatch):
    """The first object has all of the invocation's time: running out is its own cost, never retried."""
    monkeypatch.setenv("TRIGGER_WRITE_MARGIN_SECONDS", "15")
    lambda_context.remaining_ms = 15_000  # all of it kept for writing outputs
    response = invoke(lambda_context, put(served_s3, "uploads/a.tif"))
    assert results(response) == {"uploads/a.tif": ("rejected", "deadline_exceeded")}
    assert keys(served_s3) == ["status/a.tif.json", "uploads/a.tif"]


def test_a_later_object_out_of_the_time_others_used_is_retried_not_rejected(served_s3, lambda_context, monkeypatch):
    """In an invocation of its own the second object would get the whole time: a retry, not a rejection."""
    monkeypatch.setenv("TRIGGER_WRITE_MARGIN_SECONDS", "15")
    remaining = [60_000, 15_000]  # the first object renders, then the time is gone
    monkeypatch.setattr(
        lambda_context, "get_remaining_time_in_millis", lambda: remaining.pop(0) if len(remaining) > 1 else remaining[0]
    )
    with pytest.raises(RuntimeError, match="will be retried"):
        invoke(lambda_context, put(served_s3, "uploads/a.tif"), put(served_s3, "uploads/b.tif"))
    assert keys(served_s3) == sorted(outputs_of("a.tif") + ["uploads/a.tif", "uploads/b.tif"])


def test_scenes_without_usable_overviews_get_a_cog_copy(served_s3, lambda_context, monkeypatch, tmp_path):
    # Planted bug: write_cog_copy putting the copy without its Item -> the Item has no "cog" asset.
    monkeypatch.setenv("COG_COPY_MAX_BYTES", str(len(SCENE)))
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 1000)  # SCENE is 90 x 60: make it count as big
    response = invoke(
        lambda_context, put(served_s3, "uploads/a.tif"), put(served_s3, "uploads/over-limit.tif", SCENE + b"\0")
    )
    assert results(response) == {
        "uploads/a.tif": ("written", "with_cog_copy"),
        "uploads/over-limit.tif": ("written", ""),
    }
    assert [k for k in keys(served_s3) if k.startswith("cogs/")] == ["cogs/a.tif"]
    copy = served_s3.get_object(Bucket=BUCKET, Key="cogs/a.tif")
    assert copy["ContentType"].startswith("image/tiff") and copy["Metadata"]["source-etag"]
    (tmp_path / "copy.tif").write_bytes(copy["Body"].read())
    with open_path(str(tmp_path / "copy.tif")) as dataset:
        assert dataset.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and dataset.count == 12
    item = read_item(served_s3, "items/a.tif.json")
    assert hrefs(item) == {
        "source": (f"s3://{BUCKET}/uploads/a.tif", GEOTIFF, ["data"]),
        "thumbnail": (f"s3://{BUCKET}/thumbnails/a.tif.png", PNG, ["thumbnail"]),
        "cog": (f"s3://{BUCKET}/cogs/a.tif", COG, ["data"]),
    }
    assert item["assets"]["cog"]["bands"] == item["assets"]["source"]["bands"]  # same pixels, same bands
    assert "cog" not in read_item(served_s3, "items/over-limit.tif.json")["assets"]


def test_a_failed_cog_copy_keeps_the_outputs_and_writes_no_copy(served_s3, lambda_context, monkeypatch):
    monkeypatch.setenv("COG_COPY_MAX_BYTES", str(len(SCENE)))
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 1000)

    def disk_full(dataset, path):
        open(path, "wb").write(b"II*\0partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(processing, "write_cog", disk_full)
    response = invoke(lambda_context, put(served_s3, "uploads/a.tif"))
    assert results(response) == {"uploads/a.tif": ("written", "cog_copy_failed")}
    assert keys(served_s3) == sorted(outputs_of("a.tif") + ["uploads/a.tif"])
    assert "cog" not in read_item(served_s3, "items/a.tif.json")["assets"]  # no asset without its file


@requires_real_data
def test_real_files_dropped_into_the_bucket(served_s3, lambda_context):
    files = sorted(REAL_DATA.glob("*.tif"))
    for path in files:
        served_s3.upload_file(str(path), BUCKET, f"uploads/{path.name}")
    response = invoke(lambda_context, *[(BUCKET, f"uploads/{p.name}", p.stat().st_size) for p in files])
    assert {status for status, _ in results(response).values()} == {"written"}
    for path in files:
        image = open_png(served_s3.get_object(Bucket=BUCKET, Key=f"thumbnails/{path.name}.png")["Body"].read())
        assert max(image.size) == 512
        attributes = json.loads(served_s3.get_object(Bucket=BUCKET, Key=f"attributes/{path.name}.json")["Body"].read())
        assert attributes["source"]["size"] == path.stat().st_size
        item = read_item(served_s3, f"items/{path.name}.json")
        assert item["id"] == path.name and item["bbox"] == attributes["bbox_wgs84"]
        assert hrefs(item) == {
            "source": (f"s3://{BUCKET}/uploads/{path.name}", GEOTIFF, ["data"]),
            "thumbnail": (f"s3://{BUCKET}/thumbnails/{path.name}.png", PNG, ["thumbnail"]),
        }
        assert [band["data_type"] for band in item["assets"]["source"]["bands"]] == attributes["dtypes"]


def test_the_item_is_written_before_the_attributes_that_mark_the_set_complete(mocked_s3, lambda_context, monkeypatch):
    # Planted bug: the Item's Output after the attributes' in process_object -> the order differs.
    written = []
    real_put = s3_store.put
    monkeypatch.setattr(
        s3_store,
        "put",
        lambda bucket, key, *args, **kwargs: written.append(key) or real_put(bucket, key, *args, **kwargs),
    )
    monkeypatch.setattr(processing, "render_object", lambda store, source, settings, deadline: FAKE)
    assert results(invoke(lambda_context, put(mocked_s3, "uploads/a.tif"))) == {"uploads/a.tif": ("written", "")}
    assert written == ["thumbnails/a.tif.png", "items/a.tif.json", "attributes/a.tif.json"]
    item = read_item(mocked_s3, "items/a.tif.json")
    assert item["id"] == "a.tif" and item["properties"]["proj:shape"] == [60, 90]


def test_the_item_takes_its_datetime_from_the_files_tags(served_s3, lambda_context):
    # Planted bug: render_object passing no tags -> datetime null with a start/end range.
    tagged = geotiff_bytes(reflectance_stack(4, height=20, width=30), tags={"SENSING_TIME": "2022-06-09T10:15:59Z"})
    response = invoke(lambda_context, put(served_s3, "uploads/a.tif", tagged))
    assert results(response) == {"uploads/a.tif": ("written", "")}
    assert read_item(served_s3, "items/a.tif.json")["properties"]["datetime"] == "2022-06-09T10:15:59Z"
