"""Byte-level fuzzing: mutations of generated and real GeoTIFFs through the API and the S3 trigger, and of
the thumbnail form options through the API.

Contract: the API answers 200 or a 4xx in the one JSON error shape (never a 5xx, never a leak); the
trigger returns for any content, writes both outputs or logs a rejection and writes nothing; in the
core, every outcome is a success or a RasterError and attributes are JSON-serialisable. Seeds are
drawn from `strategies.geotiffs()` (plus the real Sentinel-2 files when present), mutations from
`strategies.mutated()`. Budgets are fixed and the runs derandomized (`-s` prints the counts).
"""

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.core import RasterError, RenderOptions, open_bytes, read_attributes, render_thumbnail
from tests.rasters import geotiff_bytes, real_files, reflectance_stack
from tests.security.fuzz_targets import (
    S3Trigger,
    client,
    post_attributes,
    post_thumbnail,
    thumbnail_forms,
    trigger_bucket,
)
from tests.security.hostile import assert_no_leak
from tests.security.strategies import REAL_DTYPES, geotiffs, mutated

FUZZ = dict(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
API_EXAMPLES, REAL_EXAMPLES, TRIGGER_EXAMPLES, FORM_EXAMPLES = 400, 120, 120, 150
# Complex files are refused at open whatever their bytes say: mutate the drawable ones.
MUTATED_GENERATED = geotiffs(REAL_DTYPES).flatmap(lambda made: st.tuples(st.just(made[0].count), mutated(made[1])))


def attempt(blob: bytes, size: int = 48) -> str:
    """'ok' or the RasterError code of opening, describing and drawing `blob` in the core; any other
    exception fails the test."""
    try:
        with open_bytes(blob) as dataset:
            attributes = read_attributes(dataset)
            json.dumps(attributes, allow_nan=False)  # what Starlette's JSONResponse does
            render_thumbnail(dataset, RenderOptions(thumbnail_size=size))
    except RasterError as error:
        return error.code
    return "ok"


def through_the_api(files: st.SearchStrategy, examples: int) -> Counter:
    """Each (band count, bytes) through /attributes and /thumbnail with options drawn for that count."""
    outcomes: Counter = Counter()

    @settings(max_examples=examples, **FUZZ)
    @given(files.flatmap(lambda file: st.tuples(st.just(file[1]), thumbnail_forms(file[0]))))
    def case(blob_and_form):
        blob, form = blob_and_form
        status, _ = post_attributes(blob)
        outcomes[f"{status} {post_thumbnail(blob, form)[1]}"] += 1

    case()
    return outcomes


def test_fuzz_mutated_generated_geotiffs_through_the_api():
    outcomes = through_the_api(MUTATED_GENERATED, API_EXAMPLES)
    print(f"\nfuzz mutated generated files, API: {sum(outcomes.values())} files, outcomes {dict(outcomes)}")
    assert sum(outcomes.values()) >= API_EXAMPLES
    assert "200 ok" in outcomes and any(" unreadable_raster" in key for key in outcomes)


@pytest.mark.skipif(not real_files(), reason="real Sentinel-2 files not present (../shared/data/sentinel2)")
def test_fuzz_mutated_real_sentinel2_files_through_the_api():
    seeds = {path.name: path.read_bytes() for path in real_files()}
    assert all(attempt(seed) == "ok" for seed in seeds.values())
    files = st.sampled_from(sorted(seeds)).flatmap(lambda name: st.tuples(st.just(12), mutated(seeds[name])))
    outcomes = through_the_api(files, REAL_EXAMPLES)
    print(f"\nfuzz mutated real files ({len(seeds)}), API: {sum(outcomes.values())} files, outcomes {dict(outcomes)}")
    assert sum(outcomes.values()) >= REAL_EXAMPLES


@pytest.fixture(scope="module")
def s3():
    with trigger_bucket() as client_:
        yield client_


def test_fuzz_mutated_generated_geotiffs_through_the_s3_trigger(s3, lambda_context, caplog):
    trigger = S3Trigger(s3, lambda_context, caplog)

    @settings(max_examples=TRIGGER_EXAMPLES, **FUZZ)
    @given(MUTATED_GENERATED)
    def case(count_and_blob):
        trigger.drop(count_and_blob[1])

    case()
    print(
        f"\nfuzz mutated generated files, S3 trigger: {sum(trigger.outcomes.values())} files, "
        f"outcomes {dict(trigger.outcomes)}"
    )
    assert sum(trigger.outcomes.values()) >= TRIGGER_EXAMPLES
    assert trigger.outcomes["written"] and trigger.outcomes["unreadable_raster"]


# --- form options through the API, on a valid scene ---------------------------------------------

SCENE = geotiff_bytes(reflectance_stack(12, height=24, width=36))
NUMBERISH = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " ", "1e3", "0x10", "1_000", "٣", "NaN", "-0", "+5"]),
)
TEXT = st.text(max_size=30)
FORM = st.fixed_dictionaries(
    {},
    optional={
        "target_resolution": st.one_of(st.integers(1, 96).map(str), NUMBERISH),
        "preset": st.one_of(st.sampled_from(["true_color", "false_color", "swir", "ndvi"]), TEXT),
        "bands": st.one_of(st.lists(st.integers(-2, 14), max_size=4).map(lambda b: ",".join(map(str, b))), TEXT),
        "stretch": st.one_of(st.sampled_from(["gain", "percentile"]), TEXT),
        "gain": st.one_of(st.floats(0, 10).map(str), NUMBERISH),
        "boa_offset": st.one_of(st.sampled_from(["-1000", "0"]), NUMBERISH),
        "format": st.one_of(st.sampled_from(["png", "jpeg", "webp"]), TEXT),
        "resampling": st.one_of(st.sampled_from(["nearest", "average", "bilinear", "cubic", "lanczos", "mode"]), TEXT),
    },
)


def test_fuzz_thumbnail_form_options():
    statuses: Counter = Counter()

    @settings(max_examples=FORM_EXAMPLES, **FUZZ)
    @given(FORM)
    def case(form):
        if form.get("target_resolution", "").strip().isdigit() and int(form["target_resolution"]) > 96:
            form["target_resolution"] = "96"  # keep each render small: the budget is examples, not pixels
        response = client.post("/thumbnail", files={"image_file": ("a.tif", SCENE, "image/tiff")}, data=form)
        statuses[response.status_code] += 1
        assert response.status_code in (200, 422), (form, response.status_code, response.text[:300])
        if response.status_code != 200:
            assert response.json()["error"]["code"] in ("invalid_request", "invalid_options")
            assert_no_leak(response.text)

    case()
    print(f"\nfuzz form options: {sum(statuses.values())} requests, statuses {dict(statuses)}")
    assert statuses[200] > 0 and statuses[422] > 0
