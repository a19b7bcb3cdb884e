"""The `key` form field of /attributes and /thumbnail: an object key in INPUT_BUCKET under the input
prefix, nothing else. Anything that is a path, a URL, a GDAL prefix, XML or another bucket is a 400
`invalid_key`, decided before any S3 call and before GDAL is ever called."""

import urllib.request

import pytest
import rasterio
from fastapi.testclient import TestClient

from handler import s3_store
from handler.api import app
from handler.core import safe_open
from tests.s3_helpers import moto_server
from tests.security.hostile import SCENE, CountingServer, assert_error, header_bomb, raw_vrt, simple_source_vrt, wms_xml

BUCKET = "input-bucket"
ROUTES = ("/attributes", "/thumbnail")
client = TestClient(app, raise_server_exceptions=False)

HOSTILE_KEYS = [
    "/etc/passwd",
    '<VRTDataset rasterXSize="8" rasterYSize="8"><VRTRasterBand dataType="Byte" band="1" '
    'subClass="VRTRawRasterBand"><SourceFilename>/proc/self/environ</SourceFilename></VRTRasterBand></VRTDataset>',
    "vrt:///etc/passwd",
    "/vsicurl/http://127.0.0.1:1/x.tif",
    "../x.tif",
    "uploads/../../x.tif",
    "s3://other-bucket/uploads/a.tif",
    "/vsis3/other-bucket/uploads/a.tif",
    # and their relatives
    "/vsis3/input-bucket/uploads/a.tif",
    "/vsimem/uploads/a.tif",
    "/vsizip//vsis3/input-bucket/uploads/a.zip/a.tif",
    "GTIFF_DIR:1:uploads/a.tif",
    "GTIFF_RAW:uploads/a.tif",
    "file:///etc/passwd",
    "http://127.0.0.1:1/uploads/a.tif",
    "https://other-bucket.s3.amazonaws.com/uploads/a.tif",
    "uploads/a.vrt",
    "uploads/a.tif.aux.xml",
    "private/secret.tif",
    "thumbnails/a.tif",
    "uploads//a.tif",
    "uploads/a.tif?versionId=1",
    "uploads\\..\\..\\etc\\passwd.tif",
    # GDAL's /vsis3/ normalises '.' and '..' segments, boto3 does not: the object whose magic bytes were
    # checked would not be the object GDAL reads.
    "uploads/./a.tif",
    "uploads/sub/../a.tif",
]


@pytest.fixture
def forbidden_calls(monkeypatch) -> list[str]:
    """INPUT_BUCKET set; every GDAL open and S3 call is recorded (and fails) instead of running."""
    monkeypatch.setenv("INPUT_BUCKET", BUCKET)
    calls: list[str] = []

    def forbid(name):
        def forbidden(*args, **kwargs):
            calls.append(f"{name}{args!r}")
            raise RuntimeError(f"{name} must not be called for an invalid key")

        return forbidden

    monkeypatch.setattr(safe_open, "_open", forbid("handler.core.safe_open._open"))
    monkeypatch.setattr(rasterio, "open", forbid("rasterio.open"))
    for name in ("head", "read_range", "read_bytes", "gdal_path", "s3_client"):
        if hasattr(s3_store, name):
            monkeypatch.setattr(s3_store, name, forbid(f"s3_store.{name}"))
    return calls


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("key", HOSTILE_KEYS)
def test_hostile_keys_are_400_invalid_key_without_gdal(forbidden_calls, route, key):
    response = client.post(route, data={"key": key, "target_resolution": "32"})
    assert forbidden_calls == [], "an invalid key must be refused before any S3 or GDAL call"
    error = assert_error(response, 400, "invalid_key")
    assert key not in error["message"] or not key  # never echo the hostile value back


@pytest.fixture(scope="module")
def s3():
    with pytest.MonkeyPatch.context() as monkeypatch, moto_server(monkeypatch) as client_:
        monkeypatch.setenv("INPUT_BUCKET", BUCKET)
        urllib.request.urlopen(urllib.request.Request(f"{client_.meta.endpoint_url}/moto-api/reset", method="POST"))
        client_.create_bucket(Bucket=BUCKET)
        client_.create_bucket(Bucket="other-bucket")
        client_.put_object(Bucket="other-bucket", Key="uploads/a.tif", Body=SCENE)
        yield client_


def test_valid_keys_naming_hostile_objects_are_refused_and_reach_nothing(s3, tmp_path):
    with CountingServer(tmp_path) as server:
        objects = {
            "uploads/vrt.tif": (raw_vrt("/proc/self/environ").encode(), 415, "unsupported_format"),
            "uploads/remote.tif": (
                simple_source_vrt(f"/vsicurl/{server.url}/x.tif").encode(),
                415,
                "unsupported_format",
            ),
            "uploads/wms.tif": (wms_xml(server.url).encode(), 415, "unsupported_format"),
            "uploads/magic.tif": (b"II*\x00" + wms_xml(server.url).encode(), 422, "unreadable_raster"),
            "uploads/bomb.tif": (header_bomb(1_000_000, 1_000_000), 413, "raster_too_large"),
        }
        before = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
        for key, (body, _, _) in objects.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        for key, (_, status, code) in objects.items():
            for route in ROUTES:
                assert_error(client.post(route, data={"key": key, "target_resolution": "32"}), status, code)
        assert server.requests == []
    after = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
    assert after == sorted(before + list(objects))  # the API never writes to S3


def test_key_naming_an_empty_object_is_400_empty_file(s3):
    """A ranged GET of a 0-byte object is a 416 InvalidRange from S3: it must not surface as a 500."""
    s3.put_object(Bucket=BUCKET, Key="uploads/empty.tif", Body=b"")
    for route in ROUTES:
        assert_error(client.post(route, data={"key": "uploads/empty.tif"}), 400, "empty_file")


def test_missing_object_is_404_and_the_key_is_read_from_the_input_bucket_only(s3):
    # only other-bucket has uploads/a.tif
    assert_error(client.post("/attributes", data={"key": "uploads/a.tif"}), 404, "not_found")
    s3.put_object(Bucket=BUCKET, Key="uploads/ok.tif", Body=SCENE)
    response = client.post("/attributes", data={"key": "uploads/ok.tif"})
    assert response.status_code == 200 and response.json()["width"] == 90
