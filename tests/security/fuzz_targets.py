"""The two entry points the fuzzers drive, and the contract each must keep for any file content.

API (`handler.api.app` through TestClient): 200, or a 4xx with the one JSON error shape, the status
`handler.http_errors` maps the code to, and no leak; never a 5xx. S3 trigger (`handler.s3_trigger.handler`
on moto's server): always returns; a file is either written (thumbnail and attributes both there) or
rejected with a RasterError code that was logged, and then nothing is written.
"""

import io
import itertools
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import pytest

from fastapi.testclient import TestClient
from hypothesis import strategies as st
from PIL import Image

from handler.api import app
from handler.scene.errors import InvalidRequest
from handler.http_errors import STATUS_BY_ERROR
from handler.observability import logger
from handler.s3_trigger import handler as trigger
from handler.scene.layout import OUTPUT_FOLDERS, output_keys
from handler.settings import Settings
from events.make_events import s3_put_event
from tests.s3_helpers import moto_server
from tests.security.hostile import assert_error

STATUS_BY_CODE = {error.code: status for error, status in STATUS_BY_ERROR.items()}
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
BUCKET = "fuzz-bucket"
TRIGGER_SIZE = 64
client = TestClient(app, raise_server_exceptions=False)


def thumbnail_forms(count: int) -> st.SearchStrategy[dict]:
    """Valid /thumbnail form fields for a `count`-band file; band numbers may name one band too many."""

    def with_bands(form: dict) -> st.SearchStrategy[dict]:
        lengths = st.just(2) if form.get("preset") == "ndvi" else st.sampled_from([1, 3])
        lists = lengths.flatmap(lambda n: st.lists(st.integers(1, count + 1), min_size=n, max_size=n))
        return st.one_of(st.just(form), lists.map(lambda b: {**form, "bands": ",".join(map(str, b))}))

    return st.fixed_dictionaries(
        {},
        optional={
            "target_resolution": st.integers(1, 64).map(str),
            "preset": st.sampled_from(["true_color", "false_color", "swir", "ndvi"]),
            "stretch": st.sampled_from(["gain", "percentile"]),
            "gain": st.floats(0.01, 100).map(str),
            "boa_offset": st.integers(-10_000, 10_000).map(str),
            "format": st.sampled_from(["png", "jpeg", "webp"]),
            "resampling": st.sampled_from(["nearest", "average", "bilinear", "cubic", "lanczos", "mode"]),
        },
    ).flatmap(with_bands)


def _check_error(response) -> str:
    """A 4xx in the one error shape, with the status the error map gives its code; returns the code."""
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
    code = body.get("error", {}).get("code")
    assert code in STATUS_BY_CODE or code == InvalidRequest.code, (response.status_code, response.text[:300])
    assert_error(response, STATUS_BY_CODE.get(code, 422), code)
    return code


def post_attributes(blob: bytes) -> tuple[int, dict | str]:
    """POST /attributes: (200, attributes) or (4xx, error code)."""
    response = client.post("/attributes", files={"image_file": ("a.tif", blob, "image/tiff")})
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code == 200:
        return 200, response.json()
    return response.status_code, _check_error(response)


def post_thumbnail(blob: bytes, form: dict) -> tuple[int, str]:
    """POST /thumbnail: (200, 'ok') after checking the image is what was asked for, or (4xx, code)."""
    response = client.post("/thumbnail", files={"image_file": ("a.tif", blob, "image/tiff")}, data=form)
    assert response.status_code < 500, (form, response.status_code, response.text[:300])
    if response.status_code != 200:
        return response.status_code, _check_error(response)
    image_format = form.get("format", "png")
    assert response.headers["content-type"] == f"image/{image_format}"
    image = Image.open(io.BytesIO(response.content))
    image.load()
    assert image.format == PIL_FORMATS[image_format]
    assert max(image.size) == int(form.get("target_resolution", 512))
    return 200, "ok"


@dataclass
class S3Trigger:
    """Drops each file under a fresh key in moto's bucket and runs the S3 trigger on its event."""

    s3: object
    context: object
    caplog: object
    outcomes: Counter = field(default_factory=Counter)
    _keys: itertools.count = field(default_factory=itertools.count)

    def drop(self, blob: bytes) -> str:
        """'written' or the rejection code; asserts the trigger's contract for this file."""
        name = f"fuzz-{next(self._keys)}"
        key = f"uploads/{name}.tif"
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=blob)
        self.caplog.clear()
        response = trigger(s3_put_event((BUCKET, key, len(blob))), self.context)  # must not raise
        rejections = [
            getattr(record, "error_code", None)
            for record in self.caplog.records
            if record.getMessage() == "input rejected"
        ]
        (result,) = response["results"]
        settings = Settings.from_env()
        outputs = output_keys(settings, key, BUCKET)
        written = sorted(
            o["Key"]
            for prefix in OUTPUT_FOLDERS  # any output of this key, even a stray one
            for o in self.s3.list_objects_v2(Bucket=outputs.bucket, Prefix=f"{prefix}{name}.").get("Contents", [])
        )
        if result["status"] == "written":
            assert written == sorted([outputs.thumbnail, outputs.item, outputs.attributes]), written
            outcome = "written"
        else:
            assert result["status"] == "rejected", result
            assert written == [outputs.status], f"a rejected file left outputs other than why: {written}"
            outcome = result["reason"]
            assert outcome in STATUS_BY_CODE, result
            assert rejections == [outcome], f"logged rejections {rejections}, expected [{outcome!r}]"
        self.outcomes[outcome] += 1
        return outcome


@contextmanager
def trigger_bucket() -> Iterator[object]:
    """moto's server with an empty BUCKET, for a whole test module (starting one per example would cost
    more than the examples); the trigger draws TRIGGER_SIZE px and logs warnings only, so -s stays
    readable while rejections are still logged."""
    level = logger.log_level
    with pytest.MonkeyPatch.context() as monkeypatch, moto_server(monkeypatch) as client:
        monkeypatch.setenv("INPUT_BUCKET", BUCKET)
        monkeypatch.setenv("THUMBNAIL_SIZE", str(TRIGGER_SIZE))
        client.create_bucket(Bucket=BUCKET)
        logger.setLevel("WARNING")
        try:
            yield client
        finally:
            logger.setLevel(level)
