"""HTTP API through FastAPI's TestClient: contract of /attributes, /thumbnail and error bodies."""

import os

import pytest
from fastapi.testclient import TestClient

from handler.api import app
from handler.settings import Settings
from tests.rasters import geotiff_bytes, open_png, reflectance_stack
from tests.stac_schemas import validate

client = TestClient(app, raise_server_exceptions=False)
SCENE = geotiff_bytes(reflectance_stack(12, height=60, width=90))


def post(path: str, content: bytes = SCENE, **form):
    return client.post(
        path,
        files={"image_file": ("S2L2A_2022-06-09.tiff", content, "image/tiff")},
        data={k: str(v) for k, v in form.items()},
    )


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.text and "/vsimem" not in response.text and "/work" not in response.text


def test_health_and_docs():
    assert client.get("/health").json() == {"status": "ok"}
    assert "/thumbnail" in client.get("/openapi.json").json()["paths"]


def test_attributes():
    response = post("/attributes")
    assert response.status_code == 200
    body = response.json()
    assert body["width"] == 90 and body["bands"] == 12 and body["crs"] == "EPSG:32633"


def test_attributes_as_a_stac_item_name_the_upload():
    # Planted bug: the stac branch returning the attributes -> no STAC Item, no geo+json media type.
    response = post("/attributes", format="stac")
    assert response.status_code == 200 and response.headers["content-type"] == "application/geo+json"
    item = response.json()
    validate(item)
    assert item["id"] == "S2L2A_2022-06-09.tiff" and list(item["assets"]) == ["source"]
    source = item["assets"]["source"]
    assert (source["href"], source["roles"], len(source["bands"])) == ("S2L2A_2022-06-09.tiff", ["data"], 12)
    assert item["properties"]["proj:code"] == "EPSG:32633"
    named = client.post("/attributes", files={"image_file": ("my scene/../a:b.tif", SCENE)}, data={"format": "stac"})
    assert named.json()["assets"]["source"]["href"] == named.json()["id"] == "my%20scene%2F..%2Fa%3Ab.tif"
    assert post("/attributes", format="json").json() == post("/attributes").json()  # json is the default
    assert_error(post("/attributes", format="xml"), 422, "invalid_request")


def test_thumbnail_defaults_and_target_resolution():
    response = post("/thumbnail", target_resolution=200)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert open_png(response.content).size == (200, 133)
    assert response.headers["x-thumbnail-bands"] == "4,3,2"
    assert open_png(post("/thumbnail").content).size == (512, 341)


def test_thumbnail_options():
    response = post("/thumbnail", target_resolution=50, format="jpeg", preset="false_color")
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["x-thumbnail-bands"] == "8,4,3"
    assert post("/thumbnail", bands="1,2,3", target_resolution=20).headers["x-thumbnail-bands"] == "1,2,3"


@pytest.mark.parametrize("value", ["abc", "0", "-10", "nan", "inf", "1e-9", "100000", "2.5", ""])
def test_bad_target_resolution_is_422(value):
    response = client.post("/thumbnail", files={"image_file": ("a.tif", SCENE)}, data={"target_resolution": value})
    if value == "":  # an empty form field means "use the default"
        assert response.status_code == 200
    else:
        assert_error(response, 422, response.json()["error"]["code"])


@pytest.mark.parametrize(
    "form, code",
    [
        ({"preset": "rainbow"}, "invalid_request"),
        ({"bands": "a,b"}, "invalid_options"),
        ({"bands": "1,2"}, "invalid_options"),
        ({"bands": "0,1,2"}, "invalid_options"),
        ({"bands": "13,2,1"}, "invalid_options"),
        ({"gain": "-1"}, "invalid_options"),
    ],
)
def test_bad_options_are_422(form, code):
    assert_error(post("/thumbnail", **form), 422, code)


def test_missing_file_is_422():
    assert_error(client.post("/attributes", data={"x": "1"}), 422, "invalid_request")


@pytest.mark.parametrize(
    "content, status, code",
    [
        (b"", 400, "empty_file"),
        (b"%PDF-1.4 hello", 415, "unsupported_format"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), 415, "unsupported_format"),
        (SCENE[:200], 422, "unreadable_raster"),
    ],
)
@pytest.mark.parametrize("path", ["/attributes", "/thumbnail"])
def test_bad_files(path, content, status, code):
    assert_error(post(path, content), status, code)


def test_truncated_pixels_fail_the_thumbnail_not_the_attributes():
    """A cut-off upload still has a readable header; only decoding pixels must fail (cleanly)."""
    truncated = SCENE[: len(SCENE) // 3]
    assert post("/attributes", truncated).status_code == 200
    assert_error(post("/thumbnail", truncated), 422, "unreadable_raster")


def test_oversize_body_is_413_with_s3_hint(on_lambda):
    response = post("/attributes", b"II*\x00" + bytes(Settings.from_env().max_upload_bytes))
    assert_error(response, 413, "input_too_large")
    limit = Settings.from_env().max_upload_bytes
    assert response.json()["error"]["message"] == (
        f"Uploads are limited to {limit:,} bytes (Lambda's 6 MB request limit after base64). Use POST /uploads "
        "to put larger scenes in the input S3 bucket, then pass key=."
    )


def test_oversize_body_off_lambda_names_the_setting(monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1000")
    response = post("/attributes", b"II*\x00" + bytes(1000))
    assert_error(response, 413, "input_too_large")
    assert response.json()["error"]["message"] == (
        "Uploads are limited to 1,000 bytes on this server (MAX_UPLOAD_BYTES)."
    )


def test_unknown_route_is_json_404():
    assert_error(client.get("/nope"), 404, "not_found")


def test_thumbnail_past_the_request_deadline_is_413(monkeypatch):
    """REQUEST_DEADLINE_SECONDS bounds the render: a scene that cannot finish in time gets a clear 413."""
    monkeypatch.setenv("REQUEST_DEADLINE_SECONDS", "0")
    assert_error(post("/thumbnail"), 413, "deadline_exceeded")
    monkeypatch.setenv("REQUEST_DEADLINE_SECONDS", "25")
    assert post("/thumbnail").status_code == 200


def test_the_request_deadline_leaves_a_second_of_the_lambda_invocation_to_answer():
    """REQUEST_DEADLINE_SECONDS, or the invocation's remaining time less ANSWER_MARGIN_SECONDS when that is sooner."""
    from types import SimpleNamespace

    from handler.api import request_deadline
    from tests.conftest import FakeLambdaContext

    settings = Settings(request_deadline_seconds=25)
    for remaining_ms, expected in ((24_000, 23.0), (60_000, 25.0)):
        request = SimpleNamespace(scope={"aws.context": FakeLambdaContext(remaining_ms=remaining_ms)})
        assert request_deadline(request, settings).remaining() == pytest.approx(expected, abs=0.01)
    assert request_deadline(SimpleNamespace(scope={}), settings).remaining() == pytest.approx(25.0, abs=0.01)


def test_docs_can_be_turned_off():
    """API_DOCS=false (template parameter ApiDocs) removes /docs and /openapi.json; the routes stay."""
    import subprocess
    import sys

    script = (
        "from fastapi.testclient import TestClient; from handler.api import app; c = TestClient(app); "
        "print(c.get('/docs').status_code, c.get('/openapi.json').status_code, c.get('/health').status_code)"
    )
    for value, expected in (("false", "404 404 200"), ("true", "200 200 200")):
        out = subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "API_DOCS": value},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert " ".join(out) == expected, (value, out)


@pytest.mark.parametrize(
    "data, descriptions, form, order, bands",
    [
        (reflectance_stack(12), None, {}, "assumed", "4,3,2"),
        (reflectance_stack(3), None, {}, "as_stored", "1,2,3"),
        (reflectance_stack(3), ("B2", "B3", "B4"), {}, "described", "3,2,1"),
        (reflectance_stack(3), None, {"bands": "3,2,1"}, "requested", "3,2,1"),
    ],
)
def test_the_band_order_used_is_said_so_a_blue_first_file_is_noticed(data, descriptions, form, order, bands):
    # Planted bug: select_bands reporting "described" for every file -> the unknown 3-band file hides it.
    upload = {"image_file": ("scene.tif", geotiff_bytes(data, descriptions=descriptions))}
    response = client.post("/thumbnail", files=upload, data={"target_resolution": "32", **form})
    assert (response.headers["X-Thumbnail-Band-Order"], response.headers["X-Thumbnail-Bands"]) == (order, bands)
    if not form:
        assert client.post("/attributes", files=upload).json()["band_order"] == order


def test_error_statuses_follow_the_class_hierarchy():
    # Planted bug: STATUS_BY_ERROR.get(type(exc)) -> a subclass of InputTooLarge becomes a 400.
    from handler.http_errors import status_of
    from handler.scene.errors import InputTooLarge

    class ChunkedBodyTooLarge(InputTooLarge):
        pass

    assert status_of(ChunkedBodyTooLarge("too big")) == 413


def test_the_viewer_page_is_served_at_the_root_and_calls_the_api_with_relative_urls():
    # Planted bug: install_viewer(app) removed from api.py -> "/" is a 404 (and the template test's "/").
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<script" in page and "http://" not in page.replace("http://www.w3.org", "")  # nothing fetched
    assert "fetch('/" not in page and 'fetch("/' not in page  # relative: works under a stage path
