"""The scene lifecycle with an in-memory store (tests/memory_store.py): outputs and their order, replays,
versions, the store's trouble against bad files, key= and its COG copy, the upload flow, SAFE zips.
The S3 adapter's own behaviour (moto) is in test_s3_trigger.py and test_api_s3.py."""

import json
import time
import zipfile
from types import SimpleNamespace
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from handler.core import RenderOptions, cog, open_bytes, read_attributes, render_thumbnail
from handler.core.errors import DeadlineExceeded
from handler.core.stac import GEOJSON, PNG
from handler.s3_events import ObjectEvent
from handler.scene import processing
from handler.scene.errors import InvalidKey, ObjectNotFound
from handler.scene.layout import output_keys
from handler.scene.processing import InvocationTime, Outcome, process_object
from handler.scene.sources import open_key
from handler.scene.status import rejection_json
from handler.scene.store import ObjectInfo, WriteConflict
from handler.scene.uploads import new_upload, upload_result
from handler.settings import Settings
from tests.memory_store import MemoryStore
from tests.products import band_jp2
from tests.rasters import geotiff_bytes, open_png, reflectance_stack
from tests.stac_schemas import validate

BUCKET = "input"
SETTINGS = Settings(input_bucket=BUCKET)
SCENE = geotiff_bytes(reflectance_stack(12, height=60, width=90))
ODD_KEY = "uploads/my scene+1 ü%3F.tif"  # spaces, '+', non-ASCII and '%' are literal key characters


@pytest.fixture
def store():
    memory = MemoryStore()
    yield memory
    memory.close()


def notified(info: ObjectInfo) -> ObjectEvent:
    return ObjectEvent(info.bucket, info.key, info.size, info.etag, None, True)


def run(store: MemoryStore, request: ObjectEvent, settings: Settings = SETTINGS, force: bool = False) -> Outcome:
    """`process_object` for `request` with a minute of the invocation left."""
    return process_object(store, request, settings, InvocationTime(lambda: 60_000, 15), force=force)


def process(store: MemoryStore, info: ObjectInfo, settings: Settings = SETTINGS, force: bool = False) -> Outcome:
    return run(store, notified(info), settings, force)


def puts(store: MemoryStore) -> list[str]:
    return [key for method, key in store.log if method == "put"]


def test_a_new_scene_gets_thumbnail_item_then_attributes_and_a_replay_does_nothing(store):
    # Planted bug: attributes written before the Item in process_object -> the order differs.
    info = store.upload(BUCKET, ODD_KEY, SCENE)
    outputs = output_keys(SETTINGS, ODD_KEY, BUCKET)
    assert process(store, info) == Outcome(ODD_KEY, "written")
    assert puts(store) == [outputs.thumbnail, outputs.item, outputs.attributes]
    thumbnail = store.objects[BUCKET, outputs.thumbnail]
    assert (thumbnail.content_type, thumbnail.source_etag) == (PNG, info.etag)
    assert open_png(thumbnail.body).size == (512, 341)
    attributes = json.loads(store.objects[BUCKET, outputs.attributes].body)
    assert attributes["source"] == asdict(info) and attributes["bands"] == 12
    item = json.loads(store.objects[BUCKET, outputs.item].body)
    assert store.objects[BUCKET, outputs.item].content_type == GEOJSON
    validate(item)
    assert item["id"] == outputs.item_id == "my%20scene%2B1%20%C3%BC%253F.tif"
    assert item["assets"]["source"]["href"] == "s3://input/uploads/my%20scene%2B1%20%C3%BC%253F.tif"
    store.log.clear()
    assert process(store, info) == Outcome(ODD_KEY, "skipped", "already_processed")
    assert puts(store) == [] and ("read_range", ODD_KEY) not in store.log


def test_a_key_the_trigger_renders_works_through_key_equals(store):
    info = store.upload(BUCKET, ODD_KEY, SCENE)
    assert process(store, info).status == "written"
    with open_key(store, SETTINGS, ODD_KEY) as scene:
        assert (scene.source.dataset.count, scene.size) == (12, len(SCENE))
        assert scene.item_id == output_keys(SETTINGS, ODD_KEY, BUCKET).item_id


def test_a_version_replaced_during_the_render_writes_nothing(store, monkeypatch):
    # Planted bug: write_outputs without its source check -> the old version's outputs are written.
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    render = processing.render_object

    def render_while_replaced(*args):
        store.upload(BUCKET, "uploads/a.tif", SCENE + b"new")
        return render(*args)

    monkeypatch.setattr(processing, "render_object", render_while_replaced)
    assert process(store, info) == Outcome("uploads/a.tif", "skipped", "changed_during_render")
    assert store.keys(BUCKET) == ["uploads/a.tif"]


def test_a_superseded_version_is_not_rendered(store):
    old = store.upload(BUCKET, "uploads/a.tif", SCENE)
    store.upload(BUCKET, "uploads/a.tif", SCENE + b"new")
    assert process(store, old) == Outcome("uploads/a.tif", "skipped", "superseded")


def test_store_trouble_is_raised_for_a_retry_and_a_bad_file_is_rejected(store):
    # Planted bug: is_transient ignored in process_object -> the outage becomes a rejection.
    info = store.upload(BUCKET, "uploads/flaky.tif", SCENE)
    store.failing.add("uploads/flaky.tif")
    with pytest.raises(Exception) as raised:
        process(store, info)
    assert store.is_transient(raised.value)
    bad = store.upload(BUCKET, "uploads/bad.tif", b"II*\x00" + b"\x00" * 64)
    outcome = process(store, bad)
    assert (outcome.status, outcome.reason in ("unreadable_raster", "header_too_complex")) == ("rejected", True)
    assert store.keys(BUCKET) == ["status/bad.tif.json", "uploads/bad.tif", "uploads/flaky.tif"]


def test_a_replayed_rejection_answers_again_without_rendering(store, monkeypatch):
    # Planted bug: process_object without the current_rejection check -> the bad file is rendered again.
    bad = store.upload(BUCKET, "uploads/bad.tif", b"%PDF-1.7")
    assert process(store, bad) == Outcome("uploads/bad.tif", "rejected", "unsupported_format")
    monkeypatch.setattr(processing, "render_object", lambda *args: pytest.fail("rendered again"))
    assert process(store, bad) == Outcome("uploads/bad.tif", "rejected", "unsupported_format")
    fixed = store.upload(BUCKET, "uploads/bad.tif", SCENE)  # a new version is rendered
    monkeypatch.undo()
    assert process(store, fixed) == Outcome("uploads/bad.tif", "written")


def test_key_equals_reads_pixels_from_the_cog_copy_of_this_version_only(store):
    # Planted bug: pixel_source ignoring the copy's source ETag -> the stale copy is read.
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    cog = output_keys(SETTINGS, info.key, BUCKET).cog
    copy = geotiff_bytes(reflectance_stack(12, height=60, width=90), overviews=(2,))
    store.put(BUCKET, cog, copy, "image/tiff", info.etag, replaces=None)
    for for_pixels, expected in ((True, cog), (False, info.key)):
        store.log.clear()
        with open_key(store, SETTINGS, info.key, for_pixels) as scene:
            assert scene.size == len(copy if expected == cog else SCENE)
        assert [key for method, key in store.log if method == "gdal_path"] == [expected]
    store.upload(BUCKET, info.key, SCENE + b"new")
    store.log.clear()
    with open_key(store, SETTINGS, info.key, for_pixels=True):
        pass
    assert [key for method, key in store.log if method == "gdal_path"] == [info.key]


def test_cog_copies_of_non_tiff_inputs_are_named_tif():
    assert output_keys(SETTINGS, "uploads/T32_B04_10m.jp2", BUCKET).cog == "cogs/T32_B04_10m.jp2.tif"
    assert output_keys(SETTINGS, "uploads/p.SAFE.zip", BUCKET).cog == "cogs/p.SAFE.zip.tif"
    assert output_keys(SETTINGS, "uploads/a.TIFF", BUCKET).cog == "cogs/a.TIFF"


def test_a_key_with_no_object_is_named_in_the_refusal(store):
    with pytest.raises(ObjectNotFound) as missing, open_key(store, SETTINGS, "uploads/missing.tif"):
        pass
    assert str(missing.value) == "No object 'uploads/missing.tif' in the input bucket."


def test_key_equals_without_an_input_bucket_is_refused_naming_the_feature_before_any_store_call(store):
    with pytest.raises(InvalidKey) as refused, open_key(store, Settings(input_bucket=""), "uploads/a.tif"):
        pass
    assert refused.value.message == "key is not available: this deployment has no INPUT_BUCKET."
    assert store.log == []


@pytest.mark.parametrize(
    "name, media_type",
    [
        ("S2A_MSIL2A_20220609T101559_N0400_R022_T32TQM_20220609T163117.SAFE.zip", "application/zip"),
        ("scene.v2.TIFF", "image/tiff"),
    ],
)
def test_an_upload_is_typed_by_its_last_suffix(store, name, media_type):
    upload = new_upload(store, SETTINGS, name)
    assert upload["key"] == f"uploads/{upload['id']}/{name}"
    assert upload["upload"]["fields"]["Content-Type"] == media_type


def test_an_upload_goes_from_unknown_to_pending_to_done(store):
    upload = new_upload(store, SETTINGS, "T32TQM_20220609T101559_B04_10m.jp2")
    assert upload["key"] == f"uploads/{upload['id']}/T32TQM_20220609T101559_B04_10m.jp2"
    assert upload["upload"]["fields"]["Content-Type"] == "image/jp2" and upload["upload"]["method"] == "POST"
    with pytest.raises(ObjectNotFound):
        upload_result(store, SETTINGS, upload["id"])
    info = store.upload(BUCKET, upload["key"], band_jp2())
    assert upload_result(store, SETTINGS, upload["id"]) == {"status": "pending"}
    process(store, info)
    result = upload_result(store, SETTINGS, upload["id"])
    assert result["status"] == "done" and result["attributes"]["source"]["etag"] == info.etag
    assert result["attributes"]["band_names"] == ["B04"]  # the upload's file name names the band
    outputs = output_keys(SETTINGS, upload["key"], BUCKET)
    assert result["thumbnail_url"].startswith(f"memory://{BUCKET}/{outputs.thumbnail}")
    assert result["item_url"].startswith(f"memory://{BUCKET}/{outputs.item}") and "cog_url" not in result
    # Planted bug: no version check in upload_result -> the re-upload answers the old outputs as done.
    store.upload(BUCKET, upload["key"], SCENE)
    assert upload_result(store, SETTINGS, upload["id"]) == {"status": "pending"}


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_a_safe_product_zip_renders_its_tci_and_carries_its_metadata(store, compression):
    from tests.products import L2A_N0500, safe_zip

    fixture = safe_zip(L2A_N0500, compression)
    key = f"uploads/{L2A_N0500.product_id}.SAFE.zip"
    info = store.upload(BUCKET, key, fixture.data)
    assert process(store, info) == Outcome(key, "written")
    outputs = output_keys(SETTINGS, key, BUCKET)
    image = open_png(store.objects[BUCKET, outputs.thumbnail].body)
    assert max(image.size) == 512 and image.convert("L").getextrema()[1] > 100  # the TCI, not black
    attributes = json.loads(store.objects[BUCKET, outputs.attributes].body)
    assert attributes["driver"] == "JP2OpenJPEG" and attributes["bands"] == 3
    assert attributes["product"]["product_id"] == L2A_N0500.product_id
    assert attributes["product"]["boa_offsets"]["B04"] == -1000
    item = json.loads(store.objects[BUCKET, outputs.item].body)
    validate(item)
    assert item["properties"]["platform"] == "sentinel-2a"
    assert item["properties"]["processing:version"] == L2A_N0500.baseline
    assert item["assets"]["source"]["type"] == "application/zip"
    with open_key(store, SETTINGS, key) as scene:
        assert scene.source.product.tile_id == L2A_N0500.tile


def test_a_rejection_is_logged_with_the_object_it_names(store, caplog):
    # Planted bug: record_rejected without bucket= -> the log line cannot say which bucket held the file.
    bad = store.upload(BUCKET, "uploads/bad.tif", b"%PDF-1.7")
    with caplog.at_level("WARNING"):
        process(store, bad)
    (record,) = [r for r in caplog.records if r.getMessage() == "input rejected"]
    assert (record.bucket, record.key, record.size, record.error_code, record.error_type) == (
        BUCKET,
        "uploads/bad.tif",
        8,
        "unsupported_format",
        "UnsupportedFormat",
    )


def test_an_error_that_escaped_the_core_is_rejected_with_a_fixed_message(store, caplog, monkeypatch):
    """A GDAL/numpy error's own text can name paths: the status object and the log get a fixed sentence."""

    def escaped(*args):
        raise ValueError("cannot reshape array read from /vsimem/secret/scene.tif")

    monkeypatch.setattr(processing, "render_object", escaped)
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    with caplog.at_level("WARNING"):
        assert process(store, info) == Outcome("uploads/a.tif", "rejected", "unreadable_raster")
    status = json.loads(store.objects[BUCKET, output_keys(SETTINGS, info.key, BUCKET).status].body)
    assert status["error"] == {"code": "unreadable_raster", "message": "The file could not be rendered."}
    (record,) = [r for r in caplog.records if r.getMessage() == "input rejected"]
    assert (record.error_message, record.error_type) == ("The file could not be rendered.", "ValueError")


@pytest.fixture
def copied(monkeypatch) -> Settings:
    """Settings under which SCENE (90 x 60, no overviews) gets a COG copy."""
    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 1000)
    return Settings(input_bucket=BUCKET, cog_copy_max_bytes=len(SCENE))


def test_a_cog_copy_is_logged_with_its_keys_size_and_time(store, copied, caplog, monkeypatch):
    clock = iter([10.0, 12.0])  # the copy's start and end on processing's perf_counter: 2 s
    monkeypatch.setattr(processing, "time", SimpleNamespace(perf_counter=lambda: next(clock)))
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    with caplog.at_level("INFO"):
        assert process(store, info, copied) == Outcome("uploads/a.tif", "written", "with_cog_copy")
    (record,) = [r for r in caplog.records if r.getMessage() == "cog copy written"]
    copy = store.objects[BUCKET, "cogs/a.tif"].body
    assert (record.levelname, record.key, record.cog, record.cog_bytes) == ("INFO", info.key, "cogs/a.tif", len(copy))
    assert record.cog_ms == 2000


def test_no_cog_copy_is_made_when_it_would_not_end_before_the_deadline(store, copied, monkeypatch):
    monkeypatch.setattr(cog, "COPY_SECONDS_PER_GB", 1e9)  # SCENE's 130 KB would then take a day and a half
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    assert process(store, info, copied) == Outcome("uploads/a.tif", "written")
    assert (BUCKET, "cogs/a.tif") not in store.objects


def test_the_attributes_hold_the_radiometry_the_render_found(store):
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    process(store, info)
    attributes = json.loads(store.objects[BUCKET, output_keys(SETTINGS, info.key, BUCKET).attributes].body)
    with open_bytes(SCENE) as dataset:
        described = read_attributes(dataset)
        thumbnail = render_thumbnail(dataset, RenderOptions(thumbnail_size=SETTINGS.thumbnail_size))
    assert set(attributes) == set(described) | {"source"}  # the render's radiometry replaces the described one
    assert attributes["radiometry"] == thumbnail.radiometry.as_dict() and attributes["radiometry"]


def test_a_failed_cog_copy_is_logged_with_its_keys_and_the_error(store, copied, caplog, monkeypatch):
    def disk_full(dataset, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(processing, "write_cog", disk_full)
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    with caplog.at_level("INFO"):
        assert process(store, info, copied) == Outcome("uploads/a.tif", "written", "cog_copy_failed")
    (record,) = [r for r in caplog.records if r.getMessage() == "cog copy failed"]
    assert (record.levelname, record.key, record.cog, record.exc_info[0]) == ("ERROR", info.key, "cogs/a.tif", OSError)
    assert "cog copy written" not in [r.getMessage() for r in caplog.records]


def test_a_cog_copy_of_a_version_replaced_meanwhile_is_not_written(store, copied, monkeypatch):
    """The copy is uploaded under the version guard: a newer upload during the copy keeps it (and its Item)
    out of the bucket; the newer version's own notification makes its copy."""
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    write_cog = processing.write_cog

    def replaced_meanwhile(dataset, path):
        write_cog(dataset, path)
        store.upload(BUCKET, "uploads/a.tif", SCENE + b"\0")

    monkeypatch.setattr(processing, "write_cog", replaced_meanwhile)
    assert process(store, info, copied) == Outcome("uploads/a.tif", "written", "cog_copy_superseded")
    assert (BUCKET, "cogs/a.tif") not in store.objects
    assert "cog" not in json.loads(store.objects[BUCKET, "items/a.tif.json"].body)["assets"]


def test_the_status_object_of_a_rejection_says_failed_why_and_which_version():
    """What S3 holds for a rejected version (readers of the bucket parse it; the results route reads it)."""
    store_object = ObjectInfo("in", "uploads/bad.tif", 8, '"etag"', "v1")
    body = rejection_json(store_object, "unsupported_format", "Not a GeoTIFF.")
    expected = {
        "status": "failed",
        "error": {"code": "unsupported_format", "message": "Not a GeoTIFF."},
        "source": {"bucket": "in", "key": "uploads/bad.tif", "size": 8, "etag": '"etag"', "version_id": "v1"},
    }
    assert body == json.dumps(expected, indent=2).encode()


def test_an_object_that_is_gone_is_never_the_same_version():
    """store.head answers None once the source is deleted: no output may then be written for it."""
    for version_id in (None, "v1"):
        assert not ObjectInfo("in", "uploads/a.tif", 8, '"etag"', version_id).same_version(None)


def test_an_empty_object_is_skipped_and_gets_no_outputs(store):
    """Whether the notification says so (its size) or only the object does (a Batch Operations task
    carries no size)."""
    info = store.upload(BUCKET, "uploads/empty.tif", b"")
    batch_task = ObjectEvent(BUCKET, info.key, None, "", None, True)
    for request in (notified(info), batch_task):
        assert run(store, request) == Outcome("uploads/empty.tif", "skipped", "empty")
    assert store.keys(BUCKET) == ["uploads/empty.tif"]


def test_force_renders_a_version_an_earlier_rendering_rejected(store):
    """A replay answers a rejected version's recorded rejection without a render; `force` (the rendering
    changed) renders it anyway and writes its outputs."""
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    status = output_keys(SETTINGS, info.key, BUCKET).status
    store.put(
        BUCKET,
        status,
        rejection_json(info, "deadline_exceeded", "Too slow then."),
        "application/json",
        info.etag,
        replaces=None,
    )
    assert process(store, info) == Outcome("uploads/a.tif", "rejected", "deadline_exceeded")
    assert process(store, info, force=True) == Outcome("uploads/a.tif", "written")


def test_outputs_are_logged_and_the_attributes_are_indented_json(store, caplog):
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    outputs = output_keys(SETTINGS, info.key, BUCKET)
    with caplog.at_level("INFO"):
        assert process(store, info) == Outcome("uploads/a.tif", "written")
    attributes = store.objects[BUCKET, outputs.attributes]
    assert attributes.content_type == "application/json"
    assert attributes.body == json.dumps(json.loads(attributes.body), indent=2).encode()
    (record,) = [r for r in caplog.records if r.getMessage() == "outputs written"]
    logged = (record.levelname, record.key, record.thumbnail, record.item, record.attributes, record.png_bytes)
    thumbnail = store.objects[BUCKET, outputs.thumbnail].body
    assert logged == ("INFO", info.key, outputs.thumbnail, outputs.item, outputs.attributes, len(thumbnail))


def test_the_items_created_time_is_utc_whatever_the_process_time_zone(store, monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # this machine runs in UTC, where a local clock would pass
    time.tzset()
    try:
        info = store.upload(BUCKET, "uploads/a.tif", SCENE)
        process(store, info)
    finally:
        monkeypatch.undo()
        time.tzset()
    item = json.loads(store.objects[BUCKET, "items/a.tif.json"].body)
    created = datetime.fromisoformat(item["properties"]["created"])
    assert abs(created - datetime.now(UTC)) < timedelta(minutes=5)


def test_the_item_is_pretty_printed_and_created_when_the_outputs_were_made(store, copied, monkeypatch):
    """Both Items (with the outputs, then with the COG copy) carry process_object's one `created` time, and
    are written as indented JSON like the attributes object."""
    made = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return made

    monkeypatch.setattr(processing, "datetime", Clock)
    items = []
    put = store.put

    def recording_put(bucket, key, body, *args, **kwargs):
        if key == "items/a.tif.json":
            items.append(body)
        put(bucket, key, body, *args, **kwargs)

    monkeypatch.setattr(store, "put", recording_put)
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    assert process(store, info, copied) == Outcome("uploads/a.tif", "written", "with_cog_copy")
    assert len(items) == 2 and "cog" in json.loads(items[1])["assets"]
    for body in items:
        assert json.loads(body)["properties"]["created"] == "2024-05-06T07:08:09Z"
        assert body == json.dumps(json.loads(body), indent=2).encode()


def test_an_output_another_render_wrote_meanwhile_is_looked_at_again_and_logged(store, monkeypatch, caplog):
    """A lost conditional write re-reads the outputs and checks the source again, then writes them."""
    put = store.put
    raced = []

    def another_render_first(bucket, key, body, *args, **kwargs):
        if not raced:
            raced.append(key)
            store.upload(bucket, key, b"another render's output")
        put(bucket, key, body, *args, **kwargs)

    monkeypatch.setattr(store, "put", another_render_first)
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    with caplog.at_level("INFO"):
        assert process(store, info) == Outcome("uploads/a.tif", "written")
    (record,) = [r for r in caplog.records if r.getMessage() == "an output changed while writing; looking again"]
    assert (record.levelname, record.key) == ("INFO", "uploads/a.tif")
    assert store.objects[BUCKET, "thumbnails/a.tif.png"].source_etag == info.etag


def test_outputs_that_keep_changing_raise_a_write_conflict_naming_the_key(store, monkeypatch, caplog):
    put = store.put
    rivals = iter(range(100))

    def always_raced(bucket, key, body, *args, **kwargs):
        store.upload(bucket, key, b"rival %d" % next(rivals))
        put(bucket, key, body, *args, **kwargs)

    monkeypatch.setattr(store, "put", always_raced)
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    with caplog.at_level("INFO"), pytest.raises(WriteConflict) as raised:
        process(store, info)
    assert str(raised.value) == "outputs of uploads/a.tif kept changing; retrying later"
    lost = [r for r in caplog.records if r.getMessage() == "an output changed while writing; looking again"]
    assert len(lost) == processing.MAX_WRITE_ATTEMPTS


def test_a_later_object_out_of_the_shared_time_is_named_in_its_retry_error(store):
    info = store.upload(BUCKET, "uploads/a.tif", SCENE)
    with pytest.raises(processing.OutOfSharedTime) as raised:
        process_object(store, notified(info), SETTINGS, InvocationTime(lambda: 0, 15, used=True))
    assert str(raised.value) == "uploads/a.tif ran out of the time earlier objects used"
    assert isinstance(raised.value.__cause__, DeadlineExceeded)
    first = process_object(store, notified(info), SETTINGS, InvocationTime(lambda: 0, 15))  # its own cost
    assert first == Outcome("uploads/a.tif", "rejected", "deadline_exceeded")


def test_the_render_deadline_is_lambdas_remaining_seconds_less_the_write_margin():
    deadline = InvocationTime(lambda: 900_000, 15).deadline()  # Lambda's longest run, 15 minutes
    assert deadline.remaining() == pytest.approx(885, abs=0.05)


def test_a_reupload_of_the_same_bytes_in_a_versioned_bucket_is_another_version():
    """Identical bytes keep their ETag; only the version id tells the two uploads apart."""
    first = ObjectInfo("in", "uploads/a.tif", 8, '"etag"', "v1")
    assert first.same_version(ObjectInfo("in", "uploads/a.tif", 8, '"etag"', "v1"))
    assert not first.same_version(ObjectInfo("in", "uploads/a.tif", 8, '"etag"', "v2"))
