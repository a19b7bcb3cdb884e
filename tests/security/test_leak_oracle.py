"""A leak oracle with teeth (issue 17 item 2): long random credentials and other secrets in the
environment, many error paths driven, and every error body, response header and log line checked.

The older oracle (`hostile.assert_no_leak`) counts environment values of 12+ characters and the test
credentials are 7 ("testing"), so a credential appended to an error message went unnoticed. Here:

- AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN and two more variables hold random
  values of 32+ characters, set for each test (moto accepts any credentials);
- every environment value of 8+ characters is forbidden in bodies and headers; the credentials in
  log lines too;
- no filesystem path (/tmp/, /var/task, /proc/, .venv, site-packages, /vsimem/, /vsis3/) and no GDAL
  message text ("TIFFReadDirectory", "not recognized as", "CPLE_", "ZIPDecode", ...) in a body or header,
  unless the request itself sent that text (a client's own key echoed back is no leak).

Planted bug: `error_response` appending os.environ["AWS_SECRET_ACCESS_KEY"] to the message
(handler/http_errors.py) -> every test here fails.
"""

import json
import logging
import os
import secrets
import struct

import pytest
from fastapi.testclient import TestClient

from handler.api import app
from handler.observability import logger as service_logger
from handler.s3_trigger import handler as s3_trigger
from events.make_events import s3_put_event
from tests.rasters import geotiff_bytes, reflectance_stack
from tests.s3_helpers import moto_server
from tests.security.hostile import SCENE, header_bomb, ifd_huge_count, ifd_loop, pil_bytes, raw_vrt, truncated_ifd
from tests.security.tiff_writer import DEFLATE, Ifd, geo_tags, write_tiff

client = TestClient(app, raise_server_exceptions=False)
BUCKET = "leak-oracle-bucket"

PATHS = (
    "/tmp/",
    "/var/task",
    "/var/runtime",
    "/proc/",
    "/etc/",
    "/root/",
    "/home/",
    "/work/",
    ".venv",
    "site-packages",
    "/vsimem/",
    "/vsis3/",
    "/vsicurl/",
    "/vsizip/",
    "Traceback",
    'File "',
)
GDAL_TEXT = (
    "TIFFReadDirectory",
    "TIFFFetch",
    "TIFFRead",
    "TIFFFillStrip",
    "TIFFFillTile",
    "not recognized as",
    "CPLE_",
    "ZIPDecode",
    "LZWDecode",
    "IReadBlock",
    "libtiff",
    "OpenJPEG",
    "opj_",
    "GDALOpen",
    "RasterioIOError",
    "rasterio",
    "CPLE",
    "HTTP response code",
    "errno",
    "No such file",
)
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
OTHER_SECRETS = ("DATABASE_PASSWORD", "THIRD_PARTY_API_KEY")


def random_value() -> str:
    return "s" + secrets.token_urlsafe(33)  # 45 characters


@pytest.fixture(autouse=True)
def long_secrets(monkeypatch):
    values = {name: random_value() for name in CREDENTIALS + OTHER_SECRETS}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


class LogLines(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in record.__dict__.items() if k not in ("args", "exc_info")}
        self.lines.append(record.getMessage() + " " + json.dumps(fields, default=str))


@pytest.fixture
def logs():
    """Every line the service logger writes (what CloudWatch, and anyone with log access, sees)."""
    handler = LogLines()
    std_logger = logging.getLogger(service_logger.name)
    std_logger.addHandler(handler)
    yield handler
    std_logger.removeHandler(handler)


def environment_values() -> set[str]:
    return {value for value in os.environ.values() if len(value) >= 8}


def leaks(text: str, sent: str = "") -> list[str]:
    """What `text` (a body or a header) gives away that the request did not send."""
    found = [f"environment value {value[:12]!r}..." for value in environment_values() if value in text]
    found += [f"path {marker!r}" for marker in PATHS if marker in text and marker not in sent]
    found += [
        f"GDAL text {marker!r}"
        for marker in GDAL_TEXT
        if marker.lower() in text.lower() and marker.lower() not in sent.lower()
    ]
    return found


def check(response, sent: str = "", statuses: range = range(400, 500)) -> None:
    """An answer in the error range whose body and every header leak nothing."""
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    problems = leaks(response.text, sent)
    for name, value in response.headers.items():
        problems += [f"header {name}: {p}" for p in leaks(f"{name}: {value}", sent)]
    assert not problems, (
        f"{response.request.method} {response.request.url.path} -> {response.status_code} "
        f"{response.text[:300]!r} leaks {problems}"
    )


def check_logs(logs: LogLines, long_secrets: dict[str, str]) -> None:
    assert logs.lines, "the oracle saw no log line"
    for line in logs.lines:
        for name, value in long_secrets.items():
            assert value not in line, f"a log line holds {name}: {line[:300]}"


def upload(route: str, content: bytes, filename: str = "scene.tif", **form):
    return client.post(
        route, files={"image_file": (filename, content, "image/tiff")}, data={k: str(v) for k, v in form.items()}
    )


def corrupt_pixels() -> bytes:
    """A well-formed GeoTIFF header whose deflate tiles are garbage: GDAL fails while reading pixels."""
    return write_tiff([Ifd(64, 64, compression=DEFLATE, tile=(32, 32), blob=b"\x78\x9cgarbage" * 8, tags=geo_tags())])


def cut_in_the_pixels() -> bytes:
    data = geotiff_bytes(reflectance_stack(3, height=64, width=64))
    return data[: len(data) // 2]


PIXELS_ONLY = ("corrupt_pixels", "cut_in_the_pixels")  # headers intact: /attributes reads no pixel
BAD_UPLOADS = {
    "empty": b"",
    "pdf": b"%PDF-1.7\n%%EOF",
    "png": pil_bytes("PNG"),
    "random": secrets.token_bytes(4096),
    "vrt": raw_vrt("/proc/self/environ").encode(),
    "tiff_magic_vrt": b"II*\x00" + raw_vrt("/etc/passwd").encode(),
    "truncated_ifd": truncated_ifd(),
    "ifd_loop": ifd_loop(),
    "ifd_65535": ifd_huge_count(),
    "header_only": SCENE[:8],
    "first_200_bytes": SCENE[:200],
    "header_bomb": header_bomb(),
    "corrupt_pixels": corrupt_pixels(),
    "cut_in_the_pixels": cut_in_the_pixels(),
    "bigtiff_magic_only": b"II+\x00" + struct.pack("<HHQ", 8, 0, 16) + bytes(32),
    "jp2_codestream_zeros": b"\xffO\xffQ" + bytes(200),
    "zip_no_directory": b"PK\x03\x04" + bytes(100),
}


@pytest.mark.parametrize("route", ["/attributes", "/thumbnail"])
def test_bad_uploads_leak_nothing(route, logs, long_secrets):
    for name, content in BAD_UPLOADS.items():
        response = upload(route, content)
        if route == "/attributes" and name in PIXELS_ONLY:
            assert response.status_code == 200  # the header is fine; no pixel is read
            continue
        check(response)
    check_logs(logs, long_secrets)


def test_gdal_errors_while_reading_pixels_reach_users_as_our_own_text(logs, long_secrets):
    """The core wraps GDAL's errors (whose text names /vsimem/ or spool paths and libtiff functions)."""
    for content in (corrupt_pixels(), cut_in_the_pixels()):
        response = upload("/thumbnail", content, target_resolution=64)
        check(response)
        assert response.json()["error"]["code"] == "unreadable_raster"
    check_logs(logs, long_secrets)


@pytest.mark.parametrize(
    "form",
    [
        {"target_resolution": "abc"},
        {"target_resolution": "0"},
        {"bands": "99,1,1"},
        {"bands": "x"},
        {"gain": "nan"},
        {"format": "tiff"},
        {"preset": "../../etc/passwd"},
        {"stretch": "<VRTDataset>"},
        {"boa_offset": "1e9"},
        {"resampling": "gauss"},
    ],
)
def test_validation_errors_leak_nothing(form, logs, long_secrets):
    check(upload("/thumbnail", geotiff_bytes(reflectance_stack(3, height=16, width=16)), **form), sent=json.dumps(form))


def test_other_client_errors_leak_nothing(monkeypatch, logs, long_secrets):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1000")
    sent = [
        client.get("/no/such/route"),
        client.delete("/health"),
        client.get("/results/not-an-id"),
        client.post("/thumbnail"),
        client.post("/attributes", data={"key": "a", "format": "yaml"}),
        client.post(
            "/attributes", content=b"--x\r\nnot multipart", headers={"Content-Type": "multipart/form-data; boundary=x"}
        ),
        client.post("/attributes", content=b"{}", headers={"Content-Type": "application/json"}),
        upload("/thumbnail", SCENE),  # over MAX_UPLOAD_BYTES
        client.get("/results/" + "0" * 32),
        client.post("/uploads"),  # no INPUT_BUCKET
    ]
    for response in sent:
        check(response)


HOSTILE_KEYS = [
    "../etc/passwd",
    "/etc/passwd",
    "uploads/../../x.tif",
    "uploads/a.tif\x00.png",
    "uploads/" + "a" * 2000 + ".tif",
    "s3://other/x.tif",
    "/vsis3/other/x.tif",
    "/vsicurl/http://127.0.0.1/x.tif",
    "uploads/a.vrt",
    "uploads/%2e%2e/x.tif",
    "thumbnails/x.tif.png",
    "uploads/",
    "",
]


def test_s3_errors_hostile_keys_and_corrupt_objects_leak_nothing(monkeypatch, logs, long_secrets, lambda_context):
    monkeypatch.setenv("INPUT_BUCKET", BUCKET)
    with moto_server(monkeypatch) as s3:
        s3.create_bucket(Bucket=BUCKET)
        corrupt = {
            "uploads/pixels.tif": corrupt_pixels(),
            "uploads/cut.tif": cut_in_the_pixels(),
            "uploads/truncated.tif": truncated_ifd(),
            "uploads/png.tif": pil_bytes("PNG"),
            "uploads/zeros.jp2": b"\xffO\xffQ" + bytes(200),
            "uploads/broken.zip": b"PK\x03\x04" + bytes(100),
        }
        for key, body in corrupt.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        for key in HOSTILE_KEYS + ["uploads/missing.tif"] + sorted(corrupt):
            for route in ("/attributes", "/thumbnail"):
                response = client.post(route, data={"key": key})
                if route == "/attributes" and key in ("uploads/pixels.tif", "uploads/cut.tif"):
                    assert response.status_code == 200
                    continue
                check(response, sent=key)
        # The trigger's rejections reach clients through /results: the same rules hold there.
        for name, body in corrupt.items():
            upload_id = secrets.token_hex(16)
            key = f"uploads/{upload_id}/{name.rsplit('/', 1)[1]}"
            etag = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
            s3_trigger(s3_put_event((BUCKET, key, len(body), etag)), lambda_context)
            result = client.get(f"/results/{upload_id}")
            check(result, statuses=range(200, 201))
            assert result.json()["status"] == "failed", result.text
        # An S3 outage (the bucket is gone): boto3's and GDAL's errors carry the endpoint and bucket.
        monkeypatch.setenv("INPUT_BUCKET", "no-such-bucket-for-the-oracle")
        for response in (
            client.post("/attributes", data={"key": "uploads/a.tif"}),
            client.post("/thumbnail", data={"key": "uploads/a.tif"}),
            client.get("/results/" + "1" * 32),
        ):
            check(response, statuses=range(400, 600))
    check_logs(logs, long_secrets)
