"""Zipped Sentinel-2 SAFE products (L2A and L1C, images STORED or DEFLATED) through every entry point: an
upload, key= and the S3 trigger over moto's server (GDAL's /vsizip/ over /vsis3/), issue 11 item 4.
Fixtures are built from the real pixels in ../shared/data/sentinel2 (synthetic stand-ins without it)."""

import io
import json
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient

from events.make_events import s3_put_event
from handler.api import app
from handler.s3_trigger import handler
from tests.products import L1C_N0500, L2A_N0214, L2A_N0500, safe_zip
from tests.rasters import as_array
from tests.s3_helpers import served_input_bucket
from tests.stac_schemas import validate

client = TestClient(app)
BUCKET = "safe-bucket"
PRODUCTS = {
    "l2a-05.00-deflated": (L2A_N0500, zipfile.ZIP_DEFLATED),
    "l2a-05.00-stored": (L2A_N0500, zipfile.ZIP_STORED),
    "l2a-02.14-stored": (L2A_N0214, zipfile.ZIP_STORED),
    "l1c-05.00-deflated": (L1C_N0500, zipfile.ZIP_DEFLATED),
}


def zip_name(spec) -> str:
    return f"{spec.product_id}.SAFE.zip"


def assert_true_colour(png: bytes, size: int) -> None:
    """A coloured picture of the TCI at `size`: not black, not grey."""
    pixels = as_array(png)
    assert max(pixels.shape[:2]) == size
    rgb = pixels[..., :3].astype(int)
    valid = pixels[..., 3] > 0 if pixels.shape[2] == 4 else rgb.any(axis=2)
    assert valid.mean() > 0.3 and 20 < rgb[valid].mean() < 235
    assert np.abs(rgb[..., 0] - rgb[..., 2])[valid].mean() > 2


def assert_product_item(item: dict, spec) -> None:
    validate(item)
    properties = item["properties"]
    assert properties["datetime"].startswith(spec.sensing_time[:10])
    assert (properties["platform"], properties["constellation"]) == ("sentinel-2a", "sentinel-2")
    assert (properties["processing:level"], properties["processing:version"]) == (f"L{spec.level}", spec.baseline)
    assert properties["sat:relative_orbit"] == spec.orbit and properties["grid:code"] == f"MGRS-{spec.tile}"
    assert item["geometry"]["type"] == "Polygon"  # the product's footprint
    assert item["assets"]["source"]["type"] == "application/zip"


@pytest.mark.parametrize("spec, compression", PRODUCTS.values(), ids=PRODUCTS.keys())
def test_an_uploaded_product_renders_its_tci_and_describes_itself(spec, compression):
    data = safe_zip(spec, compression).data
    files = {"image_file": (zip_name(spec), data, "application/zip")}
    response = client.post("/thumbnail", files=files, data={"target_resolution": "256"})
    assert response.status_code == 200, response.text
    assert_true_colour(response.content, 256)
    assert response.headers["X-Thumbnail-Radiometry"] == "display_uint8"
    attributes = client.post("/attributes", files=files).json()
    assert (attributes["driver"], attributes["bands"]) == ("JP2OpenJPEG", 3)
    product = attributes["product"]
    assert (product["product_id"], product["tile_id"], product["processing_baseline"]) == (
        spec.product_id,
        spec.tile,
        spec.baseline,
    )
    assert set(product["boa_offsets"].values()) == ({-1000} if spec.offset else set())
    item = client.post("/attributes", files=files, data={"format": "stac"})
    assert item.headers["content-type"] == "application/geo+json"
    assert_product_item(item.json(), spec)


def test_a_zip_that_is_not_a_product_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scene.tif", b"II*\x00" + b"\x00" * 100)
    response = client.post("/thumbnail", files={"image_file": ("scene.zip", buffer.getvalue(), "application/zip")})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_format"


@pytest.fixture(scope="module")
def served_s3():
    with served_input_bucket(BUCKET) as s3:
        yield s3


@pytest.mark.parametrize("spec, compression", PRODUCTS.values(), ids=PRODUCTS.keys())
def test_key_and_the_trigger_read_a_product_in_the_bucket(served_s3, lambda_context, spec, compression):
    key = f"uploads/{compression}/{zip_name(spec)}"
    data = safe_zip(spec, compression).data
    etag = served_s3.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"].strip('"')
    response = client.post("/thumbnail", data={"key": key, "target_resolution": "128"})
    assert response.status_code == 200, response.text
    assert_true_colour(response.content, 128)
    assert client.post("/attributes", data={"key": key}).json()["product"]["level"] == f"L{spec.level}"

    result = handler(s3_put_event((BUCKET, key, len(data), etag)), lambda_context)
    assert [(r["key"], r["status"]) for r in result["results"]] == [(key, "written")]
    name = key.removeprefix("uploads/")
    assert_true_colour(served_s3.get_object(Bucket=BUCKET, Key=f"thumbnails/{name}.png")["Body"].read(), 512)
    attributes = json.loads(served_s3.get_object(Bucket=BUCKET, Key=f"attributes/{name}.json")["Body"].read())
    assert attributes["product"]["product_id"] == spec.product_id and attributes["source"]["etag"] == etag
    item = json.loads(served_s3.get_object(Bucket=BUCKET, Key=f"items/{name}.json")["Body"].read())
    assert_product_item(item, spec)
    assert item["assets"]["source"]["href"] == f"s3://{BUCKET}/{key}"
