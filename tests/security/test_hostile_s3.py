"""Hostile objects and keys through the S3 trigger (moto's server on 127.0.0.1, GDAL reads /vsis3/).

The ordinary skips, loop guard, encoded keys and replays are in tests/test_s3_trigger.py; these are
the hostile variations: files that try to reach other files, URLs or the environment, bombs, side-car
files, and keys GDAL would read differently from boto3. Every case asserts that no output was written.
"""

import json
import struct
import time
import urllib.request

import pytest

from handler import s3_store
from handler.s3_trigger import handler
from tests.rasters import geotiff_bytes, reflectance_stack
from events.make_events import batch_job_event, eventbridge_event, manifest_task, s3_put_event, sqs_event
from tests.s3_helpers import moto_server
from tests.security.hostile import (
    SCENE,
    CountingServer,
    assert_no_leak,
    deflate_bomb,
    empty_geotiff,
    header_bomb,
    mrf_xml,
    raw_vrt,
    simple_source_vrt,
    wms_xml,
)

BUCKET = "input-bucket"
OUTPUTS = ("thumbnails/", "attributes/")  # what every render writes (a rejection writes status/ only)
SMALL = geotiff_bytes(reflectance_stack(12, height=30, width=40))  # the decoy: 40 x 30, SCENE is 90 x 60


@pytest.fixture(scope="module")
def server():
    with pytest.MonkeyPatch.context() as monkeypatch, moto_server(monkeypatch) as client:
        yield client


@pytest.fixture
def s3(server):
    # moto's backends are process-wide: start every case from an empty S3.
    urllib.request.urlopen(urllib.request.Request(f"{server.meta.endpoint_url}/moto-api/reset", method="POST"))
    server.create_bucket(Bucket=BUCKET)
    return server


@pytest.fixture
def http_server(tmp_path_factory):
    with CountingServer(tmp_path_factory.mktemp("http")) as server:
        yield server
    assert server.requests == [], f"GDAL reached the local HTTP server: {server.requests}"


def outputs(s3) -> list[str]:
    return sorted(
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []) if o["Key"].startswith(OUTPUTS)
    )


def drop(s3, lambda_context, objects: dict[str, bytes], bucket: str = BUCKET) -> dict[str, tuple[str, str]]:
    """Upload `objects` and deliver one S3 notification naming them (with their ETags), as S3 would."""
    etags = {key: s3.put_object(Bucket=bucket, Key=key, Body=body)["ETag"].strip('"') for key, body in objects.items()}
    response = handler(
        s3_put_event(*[(bucket, key, len(body), etags[key]) for key, body in objects.items()]), lambda_context
    )
    assert_no_leak(json.dumps(response))
    return {r["key"]: (r["status"], r["reason"]) for r in response["results"]}


def test_xml_datasets_uploaded_as_tif_are_rejected_and_reach_nothing(s3, lambda_context, http_server, tmp_path):
    local = tmp_path / "private.tif"
    local.write_bytes(SCENE)
    objects = {
        "uploads/environ.tif": raw_vrt("/proc/self/environ").encode(),
        "uploads/hostname.tif": raw_vrt("/etc/hostname").encode(),
        "uploads/local.tif": simple_source_vrt(str(local)).encode(),
        "uploads/remote.tif": simple_source_vrt(f"/vsicurl/{http_server.url}/x.tif").encode(),
        "uploads/sibling.tif": simple_source_vrt(f"/vsis3/{BUCKET}/private/secret.tif").encode(),
        "uploads/wms.tiff": wms_xml(http_server.url).encode(),
        "uploads/mrf.tif": mrf_xml(tmp_path / "pwned.dat", tmp_path / "pwned.idx").encode(),
        "uploads/magic_vrt.tif": b"II*\x00" + raw_vrt("/proc/self/environ").encode(),
        "uploads/magic_wms.tif": b"MM\x00*" + wms_xml(http_server.url).encode(),
    }
    results = drop(s3, lambda_context, objects)
    assert results == {
        key: ("rejected", "unreadable_raster" if "magic" in key else "unsupported_format") for key in objects
    }
    assert outputs(s3) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.tif"]  # no MRF data / index file


def test_bombs_are_rejected_fast_and_write_nothing(s3, lambda_context):
    objects = {
        "uploads/header_bomb.tif": header_bomb(1_000_000, 1_000_000),
        "uploads/sparse_50000.tif": empty_geotiff(50_000, 50_000),
        "uploads/deflate_20000.tif": deflate_bomb(20_000),
        "uploads/bands_65.tif": empty_geotiff(64, 64, count=65),
    }
    start = time.perf_counter()
    results = drop(s3, lambda_context, objects)
    assert time.perf_counter() - start < 5
    assert results == {key: ("rejected", "raster_too_large") for key in objects}
    assert outputs(s3) == []


def test_hostile_bodies_under_skipped_keys_are_never_opened(s3, lambda_context, monkeypatch):
    """Folder objects, output-prefix keys and non-TIFF names carrying a VRT: skipped by name, unread."""
    from handler.core import safe_open

    def forbidden(*args, **kwargs):
        raise AssertionError("GDAL must not open a skipped key")

    monkeypatch.setattr(safe_open, "_open", forbidden)
    vrt = raw_vrt("/proc/self/environ").encode()
    objects = {
        "uploads/evil.tif/": vrt,
        "thumbnails/evil.tif": vrt,
        "attributes/../uploads/evil.tif": vrt,
        "uploads/evil.vrt": vrt,
        "uploads/evil.tif.aux.xml": vrt,
        "other/evil.tif": vrt,
    }
    assert drop(s3, lambda_context, objects) == {
        "uploads/evil.tif/": ("skipped", "folder"),
        "thumbnails/evil.tif": ("skipped", "output_prefix"),
        "attributes/../uploads/evil.tif": ("skipped", "output_prefix"),
        "uploads/evil.vrt": ("skipped", "unsupported_suffix"),
        "uploads/evil.tif.aux.xml": ("skipped", "unsupported_suffix"),
        "other/evil.tif": ("skipped", "outside_input_prefix"),
    }
    assert outputs(s3) == ["attributes/../uploads/evil.tif", "thumbnails/evil.tif"]  # the planted ones only


def test_rejected_object_replayed_is_rejected_again_and_writes_only_why(s3, lambda_context):
    objects = {"uploads/vrt.tif": raw_vrt("/etc/hostname").encode()}
    for _ in range(3):
        assert drop(s3, lambda_context, objects) == {"uploads/vrt.tif": ("rejected", "unsupported_format")}
    assert outputs(s3) == []
    statuses = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="status/")["Contents"]]
    assert statuses == ["status/vrt.tif.json"]


def test_side_car_files_next_to_an_upload_are_never_read(s3, lambda_context):
    """GDAL would pick up x.tif.aux.xml (PAM), x.tif.ovr (overviews) and x.tif.msk (mask) next to a file;
    here they say band 1 is 'PWNED', nodata is 1234 and there are overviews: none of it may show."""
    aux = (
        b'<PAMDataset><Metadata><MDI key="PROCESSING_BASELINE">04.00</MDI></Metadata>'
        b'<PAMRasterBand band="1"><Description>PWNED</Description><NoDataValue>1234</NoDataValue>'
        b"</PAMRasterBand></PAMDataset>"
    )
    for name, body in {
        "uploads/x.tif.aux.xml": aux,
        "uploads/x.tif.ovr": SMALL,
        "uploads/x.tif.msk": SMALL,
        "uploads/x.aux": aux,
    }.items():
        s3.put_object(Bucket=BUCKET, Key=name, Body=body)
    assert drop(s3, lambda_context, {"uploads/x.tif": SCENE}) == {"uploads/x.tif": ("written", "")}
    attributes = json.loads(s3.get_object(Bucket=BUCKET, Key="attributes/x.tif.json")["Body"].read())
    assert attributes["band_names"][0] == "B01" and attributes["nodata"] is None
    assert attributes["overviews"] == [] and attributes["radiometry"]["source"] == "default"
    assert outputs(s3) == ["attributes/x.tif.json", "thumbnails/x.tif.png"]


def test_object_swapped_for_a_vrt_after_the_magic_check_is_still_refused(s3, lambda_context, monkeypatch, http_server):
    """Time-of-check / time-of-use: even if the bytes GDAL reads are not the ones checked, the GTiff-only
    open refuses XML."""
    objects = {"uploads/swapped.tif": simple_source_vrt(f"/vsicurl/{http_server.url}/x.tif").encode()}
    checked = header_bomb(16, 16).ljust(len(objects["uploads/swapped.tif"]), b"\0")  # what the header scan sees
    monkeypatch.setattr(s3_store, "read_range", lambda bucket, key, offset, length: checked[offset : offset + length])
    assert drop(s3, lambda_context, objects) == {"uploads/swapped.tif": ("rejected", "unreadable_raster")}
    assert outputs(s3) == []


@pytest.mark.parametrize(
    "key, decoy",
    [
        ("uploads/sub/../a.tif", "uploads/a.tif"),
        ("uploads/./a.tif", "uploads/a.tif"),
        ("uploads/../private/a.tif", "private/a.tif"),
        ("uploads/x/../../thumbnails/a.tif", "thumbnails/a.tif"),
    ],
)
def test_dot_segment_keys_are_not_rendered(s3, lambda_context, key, decoy):
    """boto3 checks the literal key, but GDAL's /vsis3/ normalises '.' and '..': it would render the
    decoy (another object, possibly outside uploads/) under the hostile key's name."""
    s3.put_object(Bucket=BUCKET, Key=decoy, Body=SMALL)
    status, _ = drop(s3, lambda_context, {key: SCENE})[key]
    assert status in ("skipped", "rejected")
    assert [k for k in outputs(s3) if k != decoy] == []


@pytest.mark.parametrize(
    "key, decoy",
    [
        ("uploads/d.tif?x=1.tif", "uploads/d.tif"),
        ("uploads/e.tif#frag.tif", "uploads/e.tif"),
        ("uploads/f%2e%2e.tif", "uploads/f...tif"),
        ("uploads/%2e%2e/g.tif", "g.tif"),
        ("uploads/h%20x.tif", "uploads/h x.tif"),
        ("uploads/i\\..\\..\\private\\a.tif", "private\\a.tif"),
        ("uploads/\u202etxt.tif", "uploads/txt.tif"),
        ("uploads/ü/ü.tif", "uploads/u/u.tif"),
    ],
)
def test_keys_with_url_syntax_render_exactly_the_named_object(s3, lambda_context, key, decoy):
    """'?', '#', '%', backslashes and unicode are literal key characters, for boto3 and for GDAL alike."""
    s3.put_object(Bucket=BUCKET, Key=decoy, Body=SMALL)
    assert drop(s3, lambda_context, {key: SCENE}) == {key: ("written", "")}
    attributes_key = next(k for k in outputs(s3) if k.startswith("attributes/"))
    attributes = json.loads(s3.get_object(Bucket=BUCKET, Key=attributes_key)["Body"].read())
    assert (attributes["width"], attributes["height"]) == (90, 60)  # SCENE, not the 40 x 30 decoy
    assert attributes["source"]["key"] == key


def test_geotiff_tags_naming_other_objects_are_not_followed(s3, lambda_context, http_server):
    s3.put_object(Bucket=BUCKET, Key="private/secret.tif", Body=SMALL)
    vrt = simple_source_vrt(f"/vsis3/{BUCKET}/private/secret.tif", 40, 30)
    content = geotiff_bytes(
        reflectance_stack(12, height=60, width=90),
        tags={"VRT": vrt, "OVERVIEW_FILE": f"/vsis3/{BUCKET}/private/secret.tif", "URL": f"{http_server.url}/x.tif"},
    )
    assert drop(s3, lambda_context, {"uploads/tagged.tif": content}) == {"uploads/tagged.tif": ("written", "")}
    attributes = json.loads(s3.get_object(Bucket=BUCKET, Key="attributes/tagged.tif.json")["Body"].read())
    assert (attributes["width"], attributes["overviews"]) == (90, [])


def test_same_name_with_another_extension_never_overwrites_outputs(s3, lambda_context):
    """uploads/a.tif, a.TIF and a.tiff are three objects: each keeps its own thumbnail and attributes."""
    # Planted bug: the old layout (extension dropped from output names) -> one attributes object left.
    objects = {"uploads/a.tif": SCENE, "uploads/a.TIF": SMALL, "uploads/a.tiff": geotiff_bytes(reflectance_stack(3))}
    assert set(drop(s3, lambda_context, objects).values()) == {("written", "")}
    for key in objects:
        name = key.removeprefix("uploads/")
        attributes = json.loads(s3.get_object(Bucket=BUCKET, Key=f"attributes/{name}.json")["Body"].read())
        assert attributes["source"]["key"] == key
    assert len(outputs(s3)) == 6


def test_records_naming_another_bucket_are_never_read(s3, lambda_context, monkeypatch):
    """A notification (or a misrouted queue message) naming another bucket the role can read is skipped
    before any S3 or GDAL call, so nothing of that bucket is rendered into ours."""
    # Planted bug: the input_bucket check removed from skip_reason -> the other bucket's object is rendered.
    from handler.core import safe_open

    def forbidden(*args, **kwargs):
        raise AssertionError("another bucket's object must not be opened")

    monkeypatch.setattr(safe_open, "_open", forbidden)
    monkeypatch.setenv("INPUT_BUCKET", BUCKET)
    s3.create_bucket(Bucket="private-bucket")
    assert drop(s3, lambda_context, {"uploads/secret.tif": SCENE}, bucket="private-bucket") == {
        "uploads/secret.tif": ("skipped", "other_bucket")
    }
    assert outputs(s3) == [] and [o["Key"] for o in s3.list_objects_v2(Bucket="private-bucket")["Contents"]] == [
        "uploads/secret.tif"
    ]


@pytest.mark.parametrize("route", ["s3", "sqs", "eventbridge", "batch"])
def test_hostile_files_are_never_retried_whatever_route_brings_them(s3, lambda_context, route):
    """Through every route S3 notifications take, bad files are rejections: the direct and EventBridge
    invocations return, the SQS batch reports no failed message, a Batch Operations job answers
    PermanentFailure (never TemporaryFailure, which it would retry), and nothing is written."""
    # Planted bug: is_transient always True -> direct/EventBridge raise, SQS reports every message.
    objects = {
        "uploads/vrt.tif": raw_vrt("/proc/self/environ").encode(),
        "uploads/bomb.tif": header_bomb(),
        "uploads/cut.tif": SCENE[:300],
        "uploads/pdf.tif": b"%PDF-1.7 " + bytes(200),
        # Offsets past the end of the object: out-of-range reads are the file's fault, not S3 trouble.
        "uploads/ifd-far.tif": b"II*\x00" + struct.pack("<I", 10**9) + bytes(64),
        "uploads/bigtiff-far.tif": b"II+\x00\x08\x00\x00\x00" + struct.pack("<Q", 2**40) + bytes(64),
    }
    notices = [
        (BUCKET, key, len(body), s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"'))
        for key, body in objects.items()
    ]
    if route == "sqs":
        response = handler(sqs_event(*[s3_put_event(notice) for notice in notices]), lambda_context)
        assert response == {"batchItemFailures": []}
    elif route == "batch":
        tasks = [manifest_task(BUCKET, key, task_id=key) for _, key, *_ in notices]
        answers = handler(batch_job_event(*tasks), lambda_context)["results"]
        assert {answer["resultCode"] for answer in answers} == {"PermanentFailure"}, answers
    else:
        for notice in notices:
            event = s3_put_event(notice) if route == "s3" else eventbridge_event(*notice)
            (result,) = handler(event, lambda_context)["results"]
            assert result["status"] == "rejected", result
    assert outputs(s3) == []
