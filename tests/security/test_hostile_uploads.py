"""Hostile uploads through the HTTP API (FastAPI TestClient, in process).

Every case checks the status, the JSON error code, that nothing leaks (paths, file contents,
environment, hostname, tracebacks) and that the app still answers /health afterwards.
"""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from handler.api import app
from handler.settings import LAMBDA_UPLOAD_BYTES, Settings
from tests.rasters import as_array, geotiff_bytes, reflectance_stack
from tests.security.hostile import (
    SCENE,
    CountingServer,
    assert_error,
    assert_no_leak,
    cpu_seconds_under,
    deflate_bomb,
    empty_geotiff,
    header_bomb,
    ifd_huge_count,
    ifd_loop,
    jp2_bytes,
    mrf_xml,
    multipage_tiff,
    pil_bytes,
    raw_vrt,
    simple_source_vrt,
    truncated_ifd,
    wms_xml,
    with_gdal_metadata,
)

client = TestClient(app, raise_server_exceptions=False)
ROUTES = ("/attributes", "/thumbnail")
TIFF_MAGIC = b"II*\x00"


def post(path: str, content: bytes, filename: str = "scene.tif", content_type: str = "image/tiff", **form):
    return client.post(
        path, files={"image_file": (filename, content, content_type)}, data={k: str(v) for k, v in form.items()}
    )


@pytest.fixture(autouse=True)
def process_survives():
    yield
    assert client.get("/health").json() == {"status": "ok"}


@pytest.fixture(scope="module")
def http_server(tmp_path_factory):
    with CountingServer(tmp_path_factory.mktemp("http")) as server:
        yield server
    assert server.requests == [], f"GDAL reached the local HTTP server: {server.requests}"


# --- not a TIFF at all: refused by magic bytes (415), GDAL never sees them -----------------------

RANDOM = np.random.default_rng(6).integers(0, 256, 4096, dtype=np.uint8).tobytes()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


NOT_TIFF = {
    "pdf": (b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF", "doc.pdf", "application/pdf"),
    "text": (b"hello, this is not a raster\n" * 20, "notes.txt", "text/plain"),
    "random": (RANDOM, "noise.bin", "application/octet-stream"),
    "png_as_tif": (pil_bytes("PNG"), "scene.tif", "image/tiff"),
    "jpeg_as_tif": (pil_bytes("JPEG"), "scene.tif", "image/tiff"),
    "gif_as_tif": (pil_bytes("GIF"), "scene.tif", "image/tiff"),
    # a zip is read only as a SAFE product (one without MTD_MSIL*.xml is 415; a broken one 422, below)
    "zip_as_tif": (zip_bytes({"scene.tif": b"II*\x00" + bytes(100)}), "scene.tif", "image/tiff"),
    "html": (b"<html><body><img src='file:///etc/passwd'></body></html>", "a.tif", "image/tiff"),
    "one_byte": (b"I", "a.tif", "image/tiff"),
    "tiff_magic_only_prefix": (b"II*", "a.tif", "image/tiff"),
}


@pytest.mark.parametrize("route", ROUTES)
def test_zero_byte_upload_is_400(route):
    assert_error(post(route, b""), 400, "empty_file")


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", sorted(NOT_TIFF))
def test_non_tiff_uploads_are_415(route, name):
    content, filename, content_type = NOT_TIFF[name]
    assert_error(post(route, content, filename, content_type), 415, "unsupported_format")


@pytest.mark.parametrize("route", ROUTES)
def test_the_driver_follows_the_magic_bytes_not_the_file_name(route):
    """A JPEG 2000 named .tif is read by the JPEG 2000 driver (and its pre-open scan), never as a TIFF."""
    assert post(route, jp2_bytes(), "scene.tif", "image/tiff").status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_a_zip_header_without_an_archive_is_422_not_a_crash(route):
    """Zip magic bytes are the SAFE product path: an archive with no central directory is corrupt."""
    assert_error(post(route, b"PK\x03\x04" + bytes(100), "scene.zip", "application/zip"), 422, "unreadable_raster")


@pytest.mark.parametrize("route", ROUTES)
def test_a_codestream_of_zeros_is_422_not_a_crash(route):
    assert_error(post(route, b"\xffO\xffQ" + bytes(200), "scene.j2k", "image/jp2"), 422, "unreadable_raster")


# --- XML datasets that would read local files or URLs ------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("target", ["/etc/hostname", "/proc/self/environ", "/etc/passwd"])
@pytest.mark.parametrize("filename", ["evil.vrt", "evil.tif"])
def test_raw_band_vrt_to_local_files_is_refused(route, target, filename):
    assert_error(post(route, raw_vrt(target).encode(), filename), 415, "unsupported_format")


@pytest.mark.parametrize("route", ROUTES)
def test_raw_band_vrt_behind_a_tiff_magic_is_unreadable(route):
    """Magic bytes pass, but GDAL opens with the GTiff driver only: the XML is just corrupt TIFF."""
    assert_error(post(route, TIFF_MAGIC + raw_vrt("/proc/self/environ").encode()), 422, "unreadable_raster")


@pytest.mark.parametrize("route", ROUTES)
def test_vrt_with_a_simple_source_to_a_local_geotiff(route, tmp_path):
    source = tmp_path / "private.tif"
    source.write_bytes(SCENE)
    vrt = simple_source_vrt(str(source)).encode()
    assert_error(post(route, vrt, "evil.vrt", "application/xml"), 415, "unsupported_format")
    assert_error(post(route, vrt, "evil.tif"), 415, "unsupported_format")
    assert_error(post(route, TIFF_MAGIC + vrt), 422, "unreadable_raster")


@pytest.mark.parametrize("route", ROUTES)
def test_vrt_and_wms_pointing_at_a_local_http_server(route, http_server):
    payloads = [
        simple_source_vrt(f"/vsicurl/{http_server.url}/x.tif"),
        simple_source_vrt(f"{http_server.url}/x.tif"),
        wms_xml(http_server.url),
    ]
    for xml in payloads:
        assert_error(post(route, xml.encode(), "evil.xml", "application/xml"), 415, "unsupported_format")
        assert_error(post(route, xml.encode()), 415, "unsupported_format")
        assert_error(post(route, TIFF_MAGIC + xml.encode()), 422, "unreadable_raster")
    assert http_server.requests == []


@pytest.mark.parametrize("route", ROUTES)
def test_mrf_with_a_data_file_path_writes_nothing(route, tmp_path):
    data_file, index_file = tmp_path / "pwned.dat", tmp_path / "pwned.idx"
    xml = mrf_xml(data_file, index_file).encode()
    assert_error(post(route, xml, "evil.mrf", "application/xml"), 415, "unsupported_format")
    assert_error(post(route, xml), 415, "unsupported_format")
    assert_error(post(route, TIFF_MAGIC + xml), 422, "unreadable_raster")
    assert not data_file.exists() and not index_file.exists()
    assert list(tmp_path.iterdir()) == []


# --- corrupt TIFF structure ----------------------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "name, content",
    [
        ("truncated_ifd", truncated_ifd()),
        ("ifd_65535_entries", ifd_huge_count()),
        ("header_only", SCENE[:8]),
        ("first_200_bytes", SCENE[:200]),
    ],
)
def test_corrupt_tiff_structure_is_422(route, name, content):
    assert_error(post(route, content), 422, "unreadable_raster")


@pytest.mark.parametrize("route", ROUTES)
def test_ifd_loop_is_422_before_gdal_opens_it(route):
    assert_error(post(route, ifd_loop()), 422, "unreadable_raster")


# --- bombs: refused before any pixel is decoded -------------------------------------------------


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "name, content",
    [
        ("hand_made_138_bytes", header_bomb(1_000_000, 1_000_000)),
        ("rasterio_sparse_tiled", empty_geotiff(1_000_000, 1_000_000, dtype="uint8", blockxsize=4096, blockysize=4096)),
        ("65_bands", empty_geotiff(64, 64, count=65)),
    ],
)
def test_header_bomb_is_413_in_under_a_second(route, name, content):
    assert len(content) < LAMBDA_UPLOAD_BYTES
    with cpu_seconds_under(1.0):
        response = post(route, content)
    assert_error(response, 413, "raster_too_large")


def test_the_pixel_budget_is_inclusive():
    """60,000 x 60,000 pixels (the budget) open; one row more is refused with the file's own numbers."""
    blocks = {"dtype": "uint8", "blockxsize": 4096, "blockysize": 4096}
    assert post("/attributes", empty_geotiff(60_000, 60_000, **blocks)).json()["width"] == 60_000
    error = assert_error(post("/attributes", empty_geotiff(60_000, 60_001, **blocks)), 413, "raster_too_large")
    assert error["message"] == (
        "The raster is 60000 x 60001 pixels; at most 3,600,000,000 pixels are accepted. "
        "Use a smaller file or a COG with overviews."
    )


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return deflate_bomb(20_000)


def test_deflate_bomb_thumbnail_is_413_fast(bomb):
    """20000 x 20000 uint16 zeros: 0.9 MB upload, 800 MB decoded; refused from the header alone."""
    assert len(bomb) < 1_000_000
    with cpu_seconds_under(1.0):
        response = post("/thumbnail", bomb)
    assert_error(response, 413, "raster_too_large")
    with cpu_seconds_under(1.0):
        assert post("/attributes", bomb).json()["width"] == 20_000  # metadata only: no pixel decoded


def test_sparse_huge_file_without_overviews_is_413_fast():
    content = empty_geotiff(50_000, 50_000)  # 2.5 G pixels: under the header budget, over the read budget
    with cpu_seconds_under(1.0):
        response = post("/thumbnail", content)
    assert_error(response, 413, "raster_too_large")


BOUNDED_RENDER = """
import sys, time
from handler.core import RenderOptions, open_bytes, render_thumbnail

def peak_kb():  # VmHWM: this process's own peak (ru_maxrss would include the parent's, across fork/exec)
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))

data = open(sys.argv[1], "rb").read()
before = peak_kb()
start = time.perf_counter()
with open_bytes(data) as dataset:
    image = render_thumbnail(dataset, RenderOptions(thumbnail_size=256))
print(before, peak_kb(), time.perf_counter() - start, image.width)
"""


def test_deflate_bomb_just_under_the_read_budget_renders_in_bounded_memory(tmp_path):
    """16000 x 16000 uint16 (512 MB decoded) is exactly at the budget: it renders, through GDAL's
    64 MB block cache, without ever holding the full-resolution band."""
    path = tmp_path / "bomb.tif"
    path.write_bytes(deflate_bomb(16_000))
    result = subprocess.run(
        [sys.executable, "-c", BOUNDED_RENDER, str(path)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    before_kb, peak_kb, seconds, width = result.stdout.split()
    before_mb, peak_mb = int(before_kb) / 1024, int(peak_kb) / 1024
    print(
        f"16000x16000 deflate bomb: rendered in {float(seconds):.2f} s; peak RSS {before_mb:.0f} MB before "
        f"the render, {peak_mb:.0f} MB after (+{peak_mb - before_mb:.0f} MB)"
    )
    assert int(width) == 256
    # The decoded band alone would be 512 MB (1 GB as float32); GDAL's block cache is 64 MB.
    assert peak_mb - before_mb < 200 and peak_mb < 450


# --- unusual but valid rasters: rendered, never crashed, never wrapped ----------------------------


def thumbnail_pixels(content: bytes, **form) -> np.ndarray:
    response = post("/thumbnail", content, **form)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return as_array(response.content)


@pytest.mark.parametrize("count", [1, 2])
def test_one_and_two_band_files_render_grey(count):
    pixels = thumbnail_pixels(geotiff_bytes(reflectance_stack(count, height=30, width=40)), target_resolution=40)
    assert pixels.shape[:2] == (30, 40) and (pixels.ndim == 2 or pixels.shape[2] in (1, 2))
    assert post("/attributes", geotiff_bytes(reflectance_stack(count))).json()["bands"] == count


def test_float_nan_nodata_is_transparent():
    data = np.full((3, 10, 10), 0.1, dtype="float32")
    data[:, :, :5] = np.nan
    pixels = thumbnail_pixels(geotiff_bytes(data, nodata=float("nan")), target_resolution=10, resampling="nearest")
    assert pixels.shape == (10, 10, 4)
    assert (pixels[:, :5, 3] == 0).all() and (pixels[:, 5:, 3] == 255).all()
    assert (pixels[:, 5:, :3] == 64).all()  # 0.1 reflectance x 2.5 gain
    assert post("/attributes", geotiff_bytes(data, nodata=float("nan"))).json()["nodata"] == "nan"


@pytest.mark.parametrize("stretch", ["gain", "percentile"])
def test_all_nodata_is_fully_transparent(stretch):
    content = geotiff_bytes(np.zeros((3, 12, 12), dtype="uint16"), nodata=0)
    pixels = thumbnail_pixels(content, target_resolution=12, stretch=stretch)
    assert pixels.shape == (12, 12, 4) and (pixels[..., 3] == 0).all()


@pytest.mark.parametrize("stretch, value", [("gain", 64), ("percentile", 0)])
def test_constant_raster(stretch, value):
    content = geotiff_bytes(np.full((3, 12, 12), 1000, dtype="uint16"))
    pixels = thumbnail_pixels(content, target_resolution=12, stretch=stretch)
    assert pixels.shape == (12, 12, 3) and (pixels == value).all()


@pytest.mark.parametrize(
    "dtype, values, expected",
    [
        ("int16", [-32768, -10000, -1, 2000, 4000, 32767], [0, 0, 0, 128, 255, 255]),
        ("uint16", [1, 2000, 4000, 10001, 40000, 65535], [0, 128, 255, 255, 255, 255]),
    ],
)
def test_out_of_range_values_are_clipped_never_wrapped(dtype, values, expected):
    """DN x 0.0001 x 2.5, clipped to [0, 1]: negatives are black, > 10000 is white, nothing wraps."""
    row = np.array(values, dtype=dtype)
    data = np.broadcast_to(row, (3, len(values), len(values))).copy()
    pixels = thumbnail_pixels(geotiff_bytes(data), target_resolution=len(values), resampling="nearest")
    assert pixels.shape == (len(values), len(values), 3)
    difference = np.abs(pixels.astype(int) - np.array(expected)[None, :, None])
    assert (difference <= 1).all(), pixels[0]  # 2000 DN -> 0.5 x 255 may round to 127 or 128


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        "0",
        "-10",
        "nan",
        "inf",
        "-inf",
        "1e-9",
        "100000",
        "1e3",
        "0x10",
        "9" * 5000,
        " 12 ; rm -rf /",
        "{{7*7}}",
        "%00",
    ],
)
def test_hostile_target_resolution_is_422(value):
    response = post("/thumbnail", SCENE, target_resolution=value)
    error = assert_error(response, 422, ("invalid_request", "invalid_options"))
    assert value[:20] not in error["message"] or value.isdigit()


@pytest.mark.parametrize(
    "form",
    [
        {"bands": "1," * 5000 + "1"},
        {"bands": "-1,2,3"},
        {"bands": "99999999999999999999,1,1"},
        {"gain": "nan"},
        {"gain": "inf"},
        {"gain": "1e308"},
        {"boa_offset": "1e9"},
        {"boa_offset": "99999999999999999999999"},
        {"boa_offset": "1" + "0" * 400},
        {"preset": "../../etc/passwd"},
        {"format": "tiff"},
        {"resampling": "gauss"},
        {"stretch": "<VRTDataset>"},
    ],
)
def test_hostile_render_options_are_422(form):
    assert_error(post("/thumbnail", SCENE, **form), 422, ("invalid_request", "invalid_options"))


def test_multi_page_tiff_renders_page_one():
    pixels = thumbnail_pixels(multipage_tiff(), target_resolution=64)
    assert pixels.shape == (48, 64, 3) and (pixels == 120).all()  # page 2 is 32 x 32 and 250
    assert post("/attributes", multipage_tiff()).json()["width"] == 64


# --- request size ----------------------------------------------------------------------------------


def test_oversize_body_with_content_length_is_413_with_s3_hint(on_lambda):
    response = post("/thumbnail", TIFF_MAGIC + bytes(Settings.from_env().max_upload_bytes))
    assert "S3" in assert_error(response, 413, "input_too_large")["message"]


def test_oversize_chunked_body_without_content_length_is_413_with_s3_hint(on_lambda):
    """No Content-Length to check up front: the upload is cut at the limit while it is read."""
    boundary = "securityboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="image_file"; filename="big.tif"\r\n'
        f"Content-Type: image/tiff\r\n\r\n"
    ).encode()

    def chunks():
        yield head + TIFF_MAGIC
        for _ in range(Settings.from_env().max_upload_bytes // 65536 + 2):
            yield bytes(65536)
        yield f"\r\n--{boundary}--\r\n".encode()

    response = client.post(
        "/attributes", content=chunks(), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert "S3" in assert_error(response, 413, "input_too_large")["message"]


def test_garbage_multipart_bodies_never_500():
    """Bodies httpx frames honestly; lying, duplicate and chunked framing is sent over raw sockets to a
    real server process in test_raw_http.py."""
    responses = [
        client.post(
            "/attributes",
            content=b"--x\r\nnot really multipart",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
        ),
        client.post("/attributes", content=b"\x00" * 100, headers={"Content-Type": "multipart/form-data"}),
        client.post("/attributes", content=b"{}", headers={"Content-Type": "application/json"}),
        client.post(
            "/attributes",
            content=b"image_file=%2Fetc%2Fpasswd",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ]
    for response in responses:
        assert 400 <= response.status_code < 500, response.text
        assert_no_leak(response.text)


# --- metadata that names files, URLs or XML: never followed --------------------------------------


def test_geotiff_tags_holding_paths_urls_and_vrt_text_are_not_followed(http_server, tmp_path):
    source = tmp_path / "private.tif"
    source.write_bytes(geotiff_bytes(reflectance_stack(3, height=7, width=7)))
    vrt = simple_source_vrt(str(source))
    tags = {
        "TIFFTAG_DOCUMENTNAME": "/etc/passwd",
        "OVERVIEW_FILE": str(source),
        "SOURCE": f"{http_server.url}/a.tif",
        "VRT": vrt,
        "MRF": mrf_xml(tmp_path / "x.dat", tmp_path / "x.idx"),
        "WMS": wms_xml(http_server.url),
    }
    content = geotiff_bytes(
        reflectance_stack(3, height=20, width=30),
        tags=tags,
        descriptions=["/proc/self/environ", f"/vsicurl/{http_server.url}/b.tif", vrt],
    )
    attributes = post("/attributes", content)
    assert attributes.status_code == 200
    body = attributes.json()
    assert (body["width"], body["height"], body["overviews"]) == (30, 20, [])  # not the 7 x 7 file
    assert_no_leak(attributes.text, paths=False)  # the descriptions are echoed as band names; contents are not
    assert post("/thumbnail", content, target_resolution=30).status_code == 200
    assert http_server.requests == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["private.tif"]


XXE = (
    '<?xml version="1.0"?><!DOCTYPE GDALMetadata [<!ENTITY xxe SYSTEM "file:///etc/passwd">'
    '<!ENTITY env SYSTEM "file:///proc/self/environ">]><GDALMetadata>'
    '<Item name="DESCRIPTION" sample="0" role="description">&xxe;&env;</Item></GDALMetadata>'
)
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol;" if i == 1 else f"&lol{i - 1};") * 10}">' for i in range(1, 10))
    + ']><GDALMetadata><Item name="DESCRIPTION" sample="0" role="description">&lol9;</Item></GDALMetadata>'
)


@pytest.mark.parametrize("xml", [XXE, LAUGHS], ids=["xxe", "billion_laughs"])
def test_gdal_metadata_xml_entities_are_not_expanded(xml):
    content = with_gdal_metadata(xml)
    with cpu_seconds_under(2):
        response = post("/attributes", content)
    assert response.status_code == 200
    assert response.json()["band_names"] == ["b1", "b2", "b3"]
    assert "lollol" not in response.text and "root:" not in response.text
    assert_no_leak(response.text)
    assert post("/thumbnail", content, target_resolution=30).status_code == 200
