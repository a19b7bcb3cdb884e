"""Display bytes from reflectance (handler/core/visualize.py), pixel by pixel: Sentinel Hub's NDVI palette at
its stops and between them, what NDVI is where NIR + red is 0, and the percentile stretch's ends."""

import warnings

import numpy as np
import pytest

from handler.core import RenderOptions
from handler.core.errors import InvalidRenderOptions
from handler.core.options import Preset
from handler.core.visualize import gain_stretch, ndvi_colour, percentile_stretch, to_uint8


def colours(nir: list[float], red: list[float]) -> list[tuple[int, int, int]]:
    """ndvi_colour of one row of pixels, as RGB tuples; any numpy warning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgb = ndvi_colour(np.array([nir], np.float32), np.array([red], np.float32))
    assert rgb.shape == (3, 1, len(nir)) and rgb.dtype == np.uint8
    return [tuple(int(v) for v in pixel) for pixel in rgb[:, 0, :].T]


def test_ndvi_at_the_palettes_stops():
    # NDVI (3-1)/(3+1) = 0.5 -> 0x306D1C; 1 -> 0x004400; -1 is below the first stop (-0.5) -> 0x0C0C0C;
    # 0 -> 0xEAEAEA; (1-3)/(1+3) = -0.5 -> 0x0C0C0C.
    assert colours([3, 1, 0, 1, 1], [1, 0, 1, 1, 3]) == [
        (0x30, 0x6D, 0x1C),
        (0x00, 0x44, 0x00),
        (0x0C, 0x0C, 0x0C),
        (0xEA, 0xEA, 0xEA),
        (0x0C, 0x0C, 0x0C),
    ]


def test_ndvi_between_stops_is_interpolated_per_channel():
    # NDVI (17-3)/(17+3) = 0.7: a quarter of the way from 0.6 (0x0F540A) to 1.0 (0x004400), truncated.
    assert colours([17], [3]) == [(int(15 * 0.75), int(84 - 16 * 0.25), int(10 * 0.75))]


def test_ndvi_without_a_ratio_is_zero_and_warns_nothing():
    # 0/0, 2/0 and -2/0 (NIR + red = 0) are NDVI 0 (0xEAEAEA), never the palette's ends.
    assert colours([0, 1, -1], [0, -1, 1]) == [(0xEA, 0xEA, 0xEA)] * 3


def flat_stretch(values: list[float]) -> list[int]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = percentile_stretch(np.array([[values]], np.float32), np.ones((1, len(values)), bool))
    return [int(v) for v in out[0, 0]]


def test_percentile_stretch_maps_the_2nd_and_98th_percentiles_to_black_and_white():
    stretched = flat_stretch(list(range(101)))  # percentiles 2 and 98 are 2 and 98
    assert stretched[:3] == [0, 0, 0] and stretched[98:] == [255, 255, 255]
    assert stretched[50] == 128 and stretched[97] == round(95 / 96 * 255)  # (50 - 2) / 96 = 0.5


def test_a_flat_band_stretches_to_black_without_dividing_by_zero():
    assert flat_stretch([7.0] * 10) == [0] * 10


def test_ndvi_takes_two_bands_and_the_others_one_or_three():
    assert RenderOptions(preset=Preset.ndvi, bands=(8, 4)).bands == (8, 4)
    with pytest.raises(InvalidRenderOptions, match="^bands must list 2 band numbers for the ndvi preset.$"):
        RenderOptions(preset=Preset.ndvi, bands=(8, 4, 3))
    with pytest.raises(InvalidRenderOptions, match="^bands must list 1 or 3 band numbers for the true_color preset"):
        RenderOptions(bands=(4, 3))


def test_to_uint8_clips_rounds_and_keeps_its_input_unless_told_it_is_scratch():
    unit = np.array([-1.0, np.nan, 0.5, 2.0], np.float32)
    assert to_uint8(unit).tolist() == [0, 0, 128, 255]
    assert np.array_equal(unit, [-1.0, np.nan, 0.5, 2.0], equal_nan=True)  # the caller's array, untouched


def test_in_place_gain_stretch_draws_the_same_bytes():
    rng = np.random.default_rng(7)
    reflectance = (rng.random((3, 64, 48)) * 0.8 - 0.1).astype(np.float32)
    reflectance[0, :3, :3] = [np.nan, np.inf, -np.inf]
    before = reflectance.copy()
    expected = gain_stretch(reflectance, 2.5)
    assert np.array_equal(reflectance, before, equal_nan=True)  # not in place unless told
    scratch = reflectance.copy()
    assert np.array_equal(gain_stretch(scratch, 2.5, in_place=True), expected)
    assert not np.array_equal(scratch, reflectance, equal_nan=True)  # it did work in place


def test_gain_and_boa_offset_bounds_are_inclusive_and_refusals_say_the_range():
    assert RenderOptions(gain=100).gain == 100
    with pytest.raises(InvalidRenderOptions, match=r"^gain must be greater than 0 and at most 100\.$"):
        RenderOptions(gain=100.5)
    assert RenderOptions(boa_offset=-10_000).boa_offset == -10_000 and RenderOptions(boa_offset=10_000).boa_offset
    for outside in (-10_001, 10_001):
        with pytest.raises(InvalidRenderOptions, match=r"^boa_offset must be from -10000 to 10000 \(e\.g\. -1000\)\.$"):
            RenderOptions(boa_offset=outside)
