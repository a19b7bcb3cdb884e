"""Sentinel-2's own JPEG 2000 files (a band, the TCI) through every entry point: an upload, key= and the
S3 trigger, with the same pre-open scan, driver allow-list and read plan as GeoTIFFs (issue 11 item 3).
Fixtures are encoded from the real pixels in ../shared/data/sentinel2 (synthetic stand-ins without it)."""

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from events.make_events import s3_put_event
from handler.api import app, spool_name
from handler.core import open_bytes
from handler.core.levels import opened_levels
from handler.core.plan import CODEC_WEIGHTS, plan_read
from handler.core.safe_open import JP2_DRIVER
from handler.s3_trigger import handler
from rasterio.enums import Resampling
from tests.products import BAND_JP2_NAME, TCI_JP2_NAME, band_jp2, codestream, jp2_file, tci_jp2
from tests.rasters import as_array
from tests.s3_helpers import served_input_bucket
from tests.stac_schemas import validate

client = TestClient(app)
BUCKET = "jp2-bucket"
TCI, BAND = tci_jp2(), band_jp2()


def post(path: str, content: bytes, name: str, **form) -> object:
    return client.post(path, files={"image_file": (name, content, "image/jp2")}, data=form)


def test_a_tci_jp2_upload_renders_as_stored():
    """The TCI is display-ready uint8 RGB: drawn as stored, a coloured picture, not grey or black."""
    response = post("/thumbnail", TCI, TCI_JP2_NAME, target_resolution="256")
    assert response.status_code == 200, response.text
    pixels = as_array(response.content)[..., :3].astype(int)
    assert pixels.shape == (256, 256, 3) and 20 < pixels.mean() < 235
    assert np.abs(pixels[..., 0] - pixels[..., 2]).mean() > 2  # red and blue differ: colour
    assert response.headers["X-Thumbnail-Radiometry"] == "display_uint8"
    assert post("/attributes", TCI, TCI_JP2_NAME).json()["driver"] == JP2_DRIVER


def test_a_jp2_scene_item_names_its_source_as_jpeg_2000():
    response = post("/attributes", TCI, TCI_JP2_NAME, format="stac")
    assert response.status_code == 200
    item = response.json()
    validate(item)
    assert item["assets"]["source"]["type"] == "image/jp2"


def test_a_single_band_jp2_takes_its_band_name_from_the_file_name():
    """JPEG 2000 bands carry no description: ESA's file name (..._B04_10m.jp2) names the band."""
    assert post("/attributes", BAND, BAND_JP2_NAME).json()["band_names"] == ["B04"]
    assert post("/attributes", BAND, "renamed.jp2").json()["band_names"] == ["b1"]
    assert post("/thumbnail", BAND, BAND_JP2_NAME, target_resolution="64").status_code == 200


@pytest.mark.parametrize(
    "name, kept",
    [
        (BAND_JP2_NAME, BAND_JP2_NAME),
        ("C:\\data\\" + BAND_JP2_NAME, BAND_JP2_NAME),
        ("../../etc/passwd", "passwd"),
        ("..", "upload"),
        ("my scene.tif", "upload"),
        (None, "upload"),
        ("x" * 200, "upload"),
    ],
)
def test_the_spooled_upload_keeps_only_a_plain_base_name(name, kept):
    assert spool_name(name) == kept


def test_jp2_header_bombs_are_refused_before_gdal_through_the_api():
    bomb = jp2_file(codestream(16000, 16000, tile=(64, 64)))  # 62,500 tiles: 4.8 s and 1.45 GB in OpenJPEG
    response = post("/thumbnail", bomb, "bomb.jp2")
    assert response.status_code == 413 and response.json()["error"]["code"] == "header_too_complex"


def test_the_read_plan_reads_a_resolution_level_and_weights_jpeg_2000():
    """A decimated read decodes a coarser resolution level, at JPEG 2000's decoding cost."""
    with open_bytes(TCI) as dataset, opened_levels(dataset) as levels:
        plan = plan_read(levels, (1, 2, 3), (128, 128), Resampling.average)
    assert plan.codec == "JPEG2000" and plan.weight == CODEC_WEIGHTS["JPEG2000"] > CODEC_WEIGHTS["DEFLATE"]
    assert plan.values.level.index is not None  # an overview (resolution level), not the full image


@pytest.fixture(scope="module")
def served_s3():
    with served_input_bucket(BUCKET) as s3:
        yield s3


def test_key_reads_a_jp2_object_in_place(served_s3):
    key = f"uploads/{BAND_JP2_NAME}"
    served_s3.put_object(Bucket=BUCKET, Key=key, Body=BAND)
    assert client.post("/attributes", data={"key": key}).json()["band_names"] == ["B04"]
    response = client.post("/thumbnail", data={"key": key, "target_resolution": "128"})
    assert response.status_code == 200, response.text


def test_the_trigger_renders_a_jp2_dropped_into_the_bucket(served_s3, lambda_context):
    key = f"uploads/{TCI_JP2_NAME}"
    etag = served_s3.put_object(Bucket=BUCKET, Key=key, Body=TCI)["ETag"].strip('"')
    result = handler(s3_put_event((BUCKET, key, len(TCI), etag)), lambda_context)
    assert [(r["key"], r["status"]) for r in result["results"]] == [(key, "written")]
    png = served_s3.get_object(Bucket=BUCKET, Key=f"thumbnails/{TCI_JP2_NAME}.png")["Body"].read()
    assert as_array(png).shape[:2] == (512, 512)
    item = json.loads(served_s3.get_object(Bucket=BUCKET, Key=f"items/{TCI_JP2_NAME}.json")["Body"].read())
    assert item["assets"]["source"]["type"] == "image/jp2"
