"""Request and response models: the /thumbnail form's defaults are RenderOptions', every JSON answer in the
OpenAPI schema has a schema, and the real bodies (uploads, SAFE zips, the trigger's outputs) fit them."""

import json
import zipfile
from dataclasses import fields

import pytest
from fastapi.testclient import TestClient

from handler.api import app
from handler.core import RenderOptions
from handler.forms import ThumbnailForm
from handler.responses import Attributes, ErrorBody, Result, StacItem, StoredAttributes
from handler.scene.layout import output_keys
from handler.scene.processing import InvocationTime, process_object
from handler.scene.uploads import upload_result
from handler.s3_events import ObjectEvent
from handler.settings import Settings
from tests.memory_store import MemoryStore
from tests.products import L2A_N0500, safe_zip
from tests.rasters import geotiff_bytes, open_png, reflectance_stack

client = TestClient(app, raise_server_exceptions=False)
SCENE = geotiff_bytes(reflectance_stack(12, height=60, width=90))
# The form's names for RenderOptions fields whose API name is another (the seed's curl uses target_resolution).
FORM_NAMES = {"thumbnail_size": "target_resolution", "image_format": "format"}


def test_the_thumbnail_form_has_every_render_option_with_its_default():
    # Planted bug: gain: float = 3.0 in ThumbnailForm -> the API draws another default than the trigger.
    form = ThumbnailForm.model_fields
    for option in fields(RenderOptions):
        name = FORM_NAMES.get(option.name, option.name)
        assert name in form, f"RenderOptions.{option.name} cannot be set through the form"
        assert form[name].default == option.default, name
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert schema["ThumbnailForm"]["properties"]["target_resolution"]["default"] == RenderOptions().thumbnail_size


def test_a_form_default_is_the_one_used():
    # Planted bug: render_options() passing thumbnail_size=256 -> the form's default is shown but not used.
    response = client.post("/thumbnail", files={"image_file": ("a.tif", SCENE)})
    assert response.status_code == 200
    assert max(open_png(response.content).size) == RenderOptions().thumbnail_size


def test_every_json_answer_has_a_schema_in_openapi():
    # Planted bug: response_model=Attributes dropped from /attributes -> its 200 JSON has no schema.
    paths = client.get("/openapi.json").json()["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            assert "4XX" in operation["responses"], (method, path)
            for status, answer in operation["responses"].items():
                for media_type, content in answer.get("content", {}).items():
                    if "json" in media_type:
                        assert content.get("schema"), (method, path, status, media_type)


def upload(content: bytes, name: str, **form) -> dict:
    response = client.post("/attributes", files={"image_file": (name, content)}, data=form)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "content, name",
    [(SCENE, "scene.tif"), (safe_zip(L2A_N0500, zipfile.ZIP_STORED).data, "p.SAFE.zip")],
    ids=["geotiff", "safe-zip"],
)
def test_the_attributes_and_items_fit_their_models(content, name):
    # Planted bug: a new "pixels" key in read_attributes, not in the Attributes model -> the docs would lie.
    attributes = Attributes.model_validate(upload(content, name))  # extra="forbid": every key is documented
    assert (attributes.product is not None) == name.endswith(".zip")
    StacItem.model_validate(upload(content, name, format="stac"))


def test_the_trigger_outputs_and_results_fit_their_models():
    store = MemoryStore()
    try:
        settings = Settings(input_bucket="input")
        info = store.upload("input", "uploads/0123456789abcdef0123456789abcdef/scene.tif", SCENE)
        process_object(
            store,
            ObjectEvent(info.bucket, info.key, info.size, info.etag, None, True),
            settings,
            InvocationTime(lambda: 60_000, 15),
        )
        outputs = output_keys(settings, info.key, "input")
        StoredAttributes.model_validate(json.loads(store.objects["input", outputs.attributes].body))
        StacItem.model_validate(json.loads(store.objects["input", outputs.item].body))
        result = Result.model_validate(upload_result(store, settings, "0123456789abcdef0123456789abcdef"))
        assert result.status == "done" and result.attributes.source.key == info.key
    finally:
        store.close()


def test_errors_fit_the_error_model():
    ErrorBody.model_validate(client.post("/thumbnail", data={"target_resolution": "x"}).json())
    ErrorBody.model_validate(client.get("/nope").json())
    # Planted bug: no removeprefix in _validation_message -> "image_file: Value error, Expected UploadFile...".
    text_for_a_file = ErrorBody.model_validate(client.post("/thumbnail", data={"image_file": "abc"}).json())
    assert text_for_a_file.error.message.startswith("image_file: Expected UploadFile")
