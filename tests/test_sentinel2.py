"""Sentinel-2 band naming and DN -> reflectance rules."""

import math

import numpy as np
import pytest

from handler.core.sentinel2 import (
    L1C_BANDS,
    L2A_BANDS,
    Radiometry,
    canonical_band_name,
    named_bands,
    radiometry,
    values_look_like_dn,
)


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
    assert named_bands(12, [None] * 12)[0] == [
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
    assert named_bands(13, [None] * 13)[0][9:12] == ["B09", "B10", "B11"]
    assert named_bands(4, [None] * 4)[0] == ["B02", "B03", "B04", "B08"]
    assert named_bands(3, [None] * 3)[0] == ["b1", "b2", "b3"]


def test_descriptions_win_over_count():
    assert named_bands(4, ["B4", "B3", "B2", "B8"])[0] == ["B04", "B03", "B02", "B08"]
    assert named_bands(2, ["elevation", None])[0] == ["elevation", "b2"]


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


@pytest.mark.parametrize(
    "text, name",
    [
        (" B4", "B04"),  # leading blanks, as some exporters write
        ("b1", "B01"),
        ("B004", "B04"),
        ("B0004", None),  # at most three digits
        ("B4x", None),  # the number must end the token
        ("B4a", None),  # only B8A has an 'a'
        ("B\u0664", None),  # Arabic-Indic four: ASCII digits only
        (" Red ", "B04"),
        ("nir08", "B8A"),
        ("swir22", "B12"),
        ("cirrus", None),
    ],
)
def test_canonical_band_name_edge_cases(text, name):
    assert canonical_band_name(text) == name


@pytest.mark.parametrize(
    "count, descriptions, file_name, expected",
    [
        (1, [None], "R10m/T32TQM_20220609T101559_B04_10m.jp2", (["B04"], "file_name")),
        (1, [None], "T32TQM_20220609T101559_TCI_10m.jp2", (["b1"], "as_stored")),  # TCI names no one band
        (2, [None, None], "T32TQM_20220609T101559_B04_10m.jp2", (["b1", "b2"], "as_stored")),
        (1, ["B03"], "T32TQM_20220609T101559_B04_10m.jp2", (["B03"], "described")),
        (3, ["", "b8a", None], "", (["b1", "B8A", "b3"], "described")),
        (12, [None] * 12, "", (list(L2A_BANDS), "assumed")),
        (13, [None] * 13, "", (list(L1C_BANDS), "assumed")),
    ],
)
def test_named_bands_says_how_it_found_the_names(count, descriptions, file_name, expected):
    assert named_bands(count, descriptions, file_name) == expected


@pytest.mark.parametrize(
    "tags, offset, source",
    [
        ({"BOA_ADD_OFFSET": "-1000"}, -1000, "offset_tag"),
        ({"radio_add_offset_b02": "-1000"}, -1000, "offset_tag"),  # L1C's name, any case
        ({"BOA_ADD_OFFSET": "-1000.7"}, -1000, "offset_tag"),
        ({"BOA_ADD_OFFSET": "-1000", "HARMONIZED": "true"}, -1000, "offset_tag"),  # the explicit offset wins
        ({"BOA_ADD_OFFSETS": "-1000"}, 0, "default"),  # another tag, not BOA_ADD_OFFSET[_band]
        ({"BOA_ADD_OFFSET": "\u0663", "PROCESSING_BASELINE": "02.14"}, 0, "processing_baseline"),  # not ASCII
        ({"BOA_ADD_OFFSET": "nan", "PROCESSING_BASELINE": "04.00"}, -1000, "processing_baseline"),
        ({"BOA_ADD_OFFSET": "1e400", "PROCESSING_BASELINE": "04.00"}, -1000, "processing_baseline"),
        ({"BOA_OFFSET_APPLIED": "1", "PROCESSING_BASELINE": "04.00"}, 0, "harmonised_tag"),
        ({"HARMONISED": " YES ", "PROCESSING_BASELINE": "04.00"}, 0, "harmonised_tag"),
        ({"HARMONIZED": "false", "PROCESSING_BASELINE": "04.00"}, -1000, "processing_baseline"),
        ({"PROCESSINGBASELINE": "04.00"}, -1000, "processing_baseline"),
        ({"S2_PROCESSING_BASELINE": "05.10"}, -1000, "processing_baseline"),
        ({"PROCESSING_BASELINE": "03.99"}, 0, "processing_baseline"),
        ({"PROCESSING_BASELINE": "inf"}, 0, "default"),
        ({"PROCESSING_BASELINE": "N/A"}, 0, "default"),
    ],
)
def test_declared_offsets_by_tag(tags, offset, source):
    r = radiometry("uint16", tags, 1.0, 0.0)
    assert (r.scale, r.offset, r.source) == (1e-4, offset, source)


@pytest.mark.parametrize(
    "scale, offset, expected",
    [
        (0.0001, -0.1, (0.0001, -1000.0, "gdal_scale_offset")),  # wins over the baseline tag below
        (2.0, 0.0, (2.0, 0.0, "gdal_scale_offset")),
        (1.0, 5.0, (1.0, 5.0, "gdal_scale_offset")),
        (1.0, 0.0, (1e-4, -1000.0, "processing_baseline")),  # GDAL's identity says nothing
        (0.0, 5.0, (1e-4, -1000.0, "processing_baseline")),  # every pixel the same value
        (math.nan, 0.0, (1e-4, -1000.0, "processing_baseline")),
        (math.inf, 0.0, (1e-4, -1000.0, "processing_baseline")),
        (1e-300, 1e300, (1e-4, -1000.0, "processing_baseline")),  # offset / scale overflows
    ],
)
def test_gdal_scale_and_offset_only_when_usable(scale, offset, expected):
    r = radiometry("int16", {"PROCESSING_BASELINE": "04.00"}, scale, offset)
    assert (r.scale, r.offset, r.source) == expected


def test_dtype_and_parameter_radiometry_exactly():
    assert radiometry("float64", {"BOA_ADD_OFFSET": "-1000"}, 2.0, 0.0).as_dict() == {
        "scale": 1.0,
        "offset": 0.0,
        "source": "float_reflectance",
    }
    assert radiometry("uint8", {"BOA_ADD_OFFSET": "-1000"}, 2.0, 0.0) == Radiometry(1 / 255, 0.0, "display_uint8")
    # the request parameter wins over dtype, GDAL and tags
    assert radiometry("float32", {"BOA_ADD_OFFSET": "0"}, 2.0, 0.0, boa_offset=-1000) == Radiometry(
        1e-4, -1000.0, "parameter"
    )


def test_float_values_are_dn_only_when_their_99th_percentile_is_above_ten():
    valid = np.ones(1000, bool)
    reflectance = np.full((1, 1000), 0.3)
    reflectance[0, :5] = 5000.0  # 0.5 % hot pixels do not decide
    assert not values_look_like_dn(reflectance, valid)
    at_threshold = np.full((1, 1000), 10.0)
    assert not values_look_like_dn(at_threshold, valid)
    assert values_look_like_dn(np.nextafter(at_threshold, 11.0), valid)
    masked = np.full((1, 1000), 3000.0)
    assert not values_look_like_dn(masked, np.zeros(1000, bool))  # nothing valid: nothing says DN
    assert not values_look_like_dn(np.full((1, 1000), np.nan), valid)
    nan_and_dn = np.full((1, 1000), np.nan)
    nan_and_dn[0, 0] = 3000.0
    assert values_look_like_dn(nan_and_dn, valid)  # NaN (float nodata) is not a value


def test_dataset_radiometry_reads_the_first_bands_tags_over_the_datasets():
    """Exporters put BOA_ADD_OFFSET_Bxx on the bands (GDAL's band metadata): band 1's tags count, and win."""
    from rasterio.io import MemoryFile

    from handler.core.sentinel2 import dataset_radiometry
    from tests.rasters import profile

    with MemoryFile() as memfile:
        with memfile.open(**profile(2, "uint16", 4, 3)) as dst:
            dst.write(np.full((2, 3, 4), 1500, np.uint16))
            dst.update_tags(PROCESSING_BASELINE="04.00", BOA_ADD_OFFSET="-500")
            dst.update_tags(1, BOA_ADD_OFFSET="-1000")
            dst.update_tags(2, BOA_ADD_OFFSET="-2000")
        with memfile.open() as dataset:
            assert dataset_radiometry(dataset) == Radiometry(1e-4, -1000.0, "offset_tag")
            assert dataset_radiometry(dataset, boa_offset=0) == Radiometry(1e-4, 0.0, "parameter")
