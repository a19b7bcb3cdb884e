"""What an error message may contain for corrupt inputs (issue 17 item 2): GDAL's own text never reaches
users. GDAL's messages name internal paths (/vsimem/, the spool directory, /vsis3/bucket/key) and
libtiff / OpenJPEG functions; the core wraps every GDAL error in one of its own fixed sentences.

Every message for an `unreadable_raster` must fullmatch one of UNREADABLE below: adding a message is a
deliberate change to this list, and a message built from an exception's text fails here.

Planted bugs: safe_open._open raising UnreadableRaster(f"... {exc}") -> test_corrupt_inputs_get_pinned_messages
and test_byte_flipped_files_never_put_gdal_text_in_a_message fail; read.py's pixel-data error carrying
str(exc) -> the same two fail.
"""

import os
import re
import tempfile

import numpy as np
import pytest
from fastapi.testclient import TestClient

from handler.api import app
from handler.core import RasterError, RenderOptions, open_file, read_attributes, render_thumbnail
from tests.rasters import geotiff_bytes, reflectance_stack
from tests.security.hostile import jp2_bytes
from tests.security.test_leak_oracle import BAD_UPLOADS, GDAL_TEXT, PATHS

N = r"\d[\d,]*"
UNREADABLE = [
    re.compile(pattern)
    for pattern in (
        r"The file could not be read \(corrupt or truncated\)\.",
        r"The file's metadata or pixel data could not be decoded \(corrupt or truncated\)\.",
        r"The file's pixel data could not be decoded \(corrupt or truncated\)\.",
        r"The file's TIFF structure is corrupt or truncated\.",
        r"The file's JPEG 2000 structure is corrupt or truncated\.",
        r"The file's image directories form a loop \(corrupt\)\.",
        r"The file's JP2 header and its codestream disagree on the image size \(corrupt\)\.",
        rf"The file lists {N} block offsets or sizes for an image of {N} blocks \(corrupt\)\.",
        rf"The codestream has {N} resolution levels; JPEG 2000 allows at most {N} \(corrupt\)\.",
        r"The zip archive is corrupt or truncated\.",
    )
]
# Messages of other codes are the project's sentences with numbers and names of formats in them.
SENTENCE = re.compile(r"[A-Z][A-Za-z0-9 ,.;:()'/_\-x×]*[.)]")


def outcome(content: bytes) -> tuple[str, str] | None:
    """(code, message) of what the core says about `content` uploaded as scene.tif, None if it renders."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "scene.tif")
        with open(path, "wb") as file:
            file.write(content)
        try:
            with open_file(path) as source:
                read_attributes(source.dataset)
                render_thumbnail(source.dataset, RenderOptions(thumbnail_size=32))
        except RasterError as error:
            return error.code, error.message
    return None


def assert_allowed(code: str, message: str) -> None:
    lowered = message.replace("GeoTIFF / COG", "GeoTIFF or COG").lower()  # the one slash of our own
    for marker in GDAL_TEXT + PATHS + ("/", "\\", "0x", "error", "failed"):
        assert marker.lower() not in lowered, f"{code}: {message!r} holds {marker!r}"
    if code == "unreadable_raster":
        assert any(pattern.fullmatch(message) for pattern in UNREADABLE), f"unpinned message: {message!r}"
    else:
        assert SENTENCE.fullmatch(message), f"{code}: {message!r}"


@pytest.mark.parametrize("name", sorted(BAD_UPLOADS))
def test_corrupt_inputs_get_pinned_messages(name):
    result = outcome(BAD_UPLOADS[name])
    assert result is not None, f"{name} rendered"
    assert_allowed(*result)


def flipped(base: bytes, rng: np.random.Generator) -> bytes:
    data = bytearray(base)
    for _ in range(int(rng.integers(1, 8))):
        data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
    if rng.random() < 0.2:
        data = data[: int(rng.integers(8, len(data)))]
    return bytes(data)


BASES = {
    "striped": geotiff_bytes(reflectance_stack(3, height=32, width=48)),
    "deflate_tiled": geotiff_bytes(
        reflectance_stack(3, height=32, width=48), compress="deflate", tiled=True, blockxsize=16, blockysize=16
    ),
    "jp2": jp2_bytes(),
}


@pytest.mark.parametrize("base", sorted(BASES))
def test_byte_flipped_files_never_put_gdal_text_in_a_message(base):
    """100 corruptions of each base (seeded): each renders or gets a pinned message; GDAL's errors come
    up while opening and while decoding, so both wrappers are exercised (checked by the counts)."""
    rng = np.random.default_rng(17)
    results = [outcome(flipped(BASES[base], rng)) for _ in range(100)]
    for result in results:
        if result is not None:
            assert_allowed(*result)
    messages = {message for result in results if result for _, message in [result]}
    rendered = sum(result is None for result in results)
    assert 5 <= rendered < 100, rendered  # the corruptions are neither all fatal nor all harmless
    if base != "jp2":
        assert "The file's pixel data could not be decoded (corrupt or truncated)." in messages
    assert len(messages) >= 2


def test_the_api_answers_gdal_failures_with_the_same_sentences():
    client = TestClient(app, raise_server_exceptions=False)
    rng = np.random.default_rng(3)
    for _ in range(40):
        content = flipped(BASES["deflate_tiled"], rng)
        response = client.post(
            "/thumbnail", files={"image_file": ("scene.tif", content, "image/tiff")}, data={"target_resolution": "32"}
        )
        assert response.status_code in (200, 413, 415, 422), response.text
        if response.status_code != 200:
            error = response.json()["error"]
            assert_allowed(error["code"], error["message"])
