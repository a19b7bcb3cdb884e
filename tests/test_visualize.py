"""The stretches' uint8 conversion (handler/core/visualize.py): clipped, rounded, NaN-safe, and it overwrites
only the temporaries it is told it may."""

import numpy as np

from handler.core.visualize import gain_stretch, to_uint8

UNIT = np.array([[-np.inf, -0.5, np.nan, 0.0, 0.5 / 255, 0.5, 1.0, 1.5, np.inf]], dtype=np.float32)
EXPECTED = np.array([[0, 0, 0, 0, 1, 128, 255, 255, 255]], dtype=np.uint8)


def test_to_uint8_clips_rounds_and_maps_nan_to_black():
    assert np.array_equal(to_uint8(UNIT.copy()), EXPECTED)
    assert np.array_equal(to_uint8(UNIT.copy(), scratch=True), EXPECTED)


def test_inputs_are_left_alone_unless_they_are_scratch():
    unit = UNIT.copy()
    to_uint8(unit)
    assert np.array_equal(unit, UNIT, equal_nan=True)
    reflectance = UNIT / 2  # exact: the gain brings back UNIT
    before = reflectance.copy()
    assert np.array_equal(gain_stretch(reflectance, 2.0), EXPECTED)
    assert np.array_equal(reflectance, before, equal_nan=True)
