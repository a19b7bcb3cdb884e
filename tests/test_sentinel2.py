"""Sentinel-2 band naming and DN -> reflectance rules."""

import pytest

from handler.core.sentinel2 import band_names, canonical_band_name, radiometry


@pytest.mark.parametrize(
    "text, name",
    [
        ("B4", "B04"),
        ("B04", "B04"),
        ("b8a", "B8A"),
        ("B8A", "B8A"),
        ("B04 (red)", "B04"),
        ("red", "B04"),
        ("B10", "B10"),
        ("B13", None),
        ("elevation", None),
        ("", None),
        (None, None),
    ],
)
def test_canonical_band_name(text, name):
    assert canonical_band_name(text) == name


def test_band_names_by_count():
    assert band_names(12, [None] * 12) == [
        "B01",
        "B02",
        "B03",
        "B04",
        "B05",
        "B06",
        "B07",
        "B08",
        "B8A",
        "B09",
        "B11",
        "B12",
    ]
    assert band_names(13, [None] * 13)[9:12] == ["B09", "B10", "B11"]
    assert band_names(4, [None] * 4) == ["B02", "B03", "B04", "B08"]
    assert band_names(3, [None] * 3) == ["b1", "b2", "b3"]


def test_descriptions_win_over_count():
    assert band_names(4, ["B4", "B3", "B2", "B8"]) == ["B04", "B03", "B02", "B08"]
    assert band_names(2, ["elevation", None]) == ["elevation", "b2"]


def test_uint16_defaults_to_plain_quantification():
    r = radiometry("uint16", {}, 1.0, 0.0)
    assert (r.scale, r.offset, r.source) == (1e-4, 0.0, "default")


@pytest.mark.parametrize(
    "tags, offset, source",
    [
        ({"PROCESSING_BASELINE": "04.00"}, -1000, "processing_baseline"),
        ({"PROCESSING_BASELINE": "05.09"}, -1000, "processing_baseline"),
        ({"PROCESSING_BASELINE": "02.14"}, 0, "processing_baseline"),
        ({"BOA_ADD_OFFSET_B04": "-1000"}, -1000, "offset_tag"),
        ({"PROCESSING_BASELINE": "04.00", "HARMONIZED": "true"}, 0, "harmonised_tag"),
    ],
)
def test_offset_only_when_the_file_says_so(tags, offset, source):
    r = radiometry("uint16", tags, 1.0, 0.0)
    assert (r.offset, r.source) == (offset, source)


def test_parameter_wins_and_float_is_reflectance():
    assert radiometry("uint16", {"PROCESSING_BASELINE": "04.00"}, 1, 0, boa_offset=0).offset == 0
    assert radiometry("float32", {}, 1.0, 0.0).scale == 1.0
    assert radiometry("uint8", {}, 1.0, 0.0).source == "display_uint8"


def test_gdal_scale_offset_is_honoured():
    r = radiometry("uint16", {}, 0.0001, -0.1)
    assert r.scale == 0.0001 and r.offset == pytest.approx(-1000)
