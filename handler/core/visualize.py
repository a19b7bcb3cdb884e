"""Turn reflectance into display bytes the way Sentinel Hub and the Copernicus Browser do."""

import numpy as np

from handler.core.sentinel2 import Radiometry

# Sentinel Hub's NDVI palette: (NDVI, RGB) stops, interpolated linearly.
NDVI_STOPS = (
    (-0.5, 0x0C0C0C),
    (-0.2, 0xBFBFBF),
    (-0.1, 0xDBDBDB),
    (0.0, 0xEAEAEA),
    (0.025, 0xFFF9CC),
    (0.05, 0xEDE8B5),
    (0.075, 0xDDD89B),
    (0.1, 0xCCC682),
    (0.125, 0xBCB76B),
    (0.15, 0xAFC160),
    (0.175, 0xA3CC59),
    (0.2, 0x91BF51),
    (0.25, 0x7FB247),
    (0.3, 0x70A33F),
    (0.35, 0x609635),
    (0.4, 0x4F892D),
    (0.45, 0x3F7C23),
    (0.5, 0x306D1C),
    (0.55, 0x216011),
    (0.6, 0x0F540A),
    (1.0, 0x004400),
)


def to_reflectance(values: np.ndarray, radiometry: Radiometry) -> np.ndarray:
    """(value + offset) * scale, in place on a float32 array."""
    if radiometry.offset:
        values += radiometry.offset
    values *= radiometry.scale
    return values


def to_uint8(unit: np.ndarray, scratch: bool = False) -> np.ndarray:
    """[0, 1] floats -> uint8, clipping first so values never wrap (NaN -> 0); `scratch`: `unit` is a
    temporary this call may overwrite (one array fewer to allocate and fill)."""
    # fmax returns the non-NaN operand: NaN -> 0, and -inf -> 0
    scaled = np.fmax(unit, 0.0, out=unit if scratch else None)
    np.minimum(scaled, 1.0, out=scaled)
    scaled *= 255.0
    scaled += 0.5
    return scaled.astype(np.uint8)


def gain_stretch(reflectance: np.ndarray, gain: float, in_place: bool = False) -> np.ndarray:
    """Sentinel Hub's true colour: reflectance x gain, clipped to [0, 1]; `in_place`: `reflectance` is the
    caller's temporary, overwritten instead of copied (a large fresh array costs page faults)."""
    if in_place:
        reflectance *= np.float32(gain)
        return to_uint8(reflectance, scratch=True)
    return to_uint8(reflectance * gain, scratch=True)


def percentile_stretch(values: np.ndarray, valid: np.ndarray, low: float = 2, high: float = 98) -> np.ndarray:
    """Per-band linear stretch between the `low` and `high` percentiles of the valid pixels."""
    out = np.zeros(values.shape, dtype=np.uint8)
    if not valid.any():
        return out
    for i, band in enumerate(values):
        lo, hi = np.percentile(band[valid], (low, high))
        out[i] = to_uint8((band - lo) / (hi - lo) if hi > lo else np.zeros_like(band), scratch=True)
    return out


def ndvi_colour(nir: np.ndarray, red: np.ndarray) -> np.ndarray:
    """(NIR - red) / (NIR + red) coloured with Sentinel Hub's NDVI palette -> (3, rows, cols) uint8."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (nir - red) / (nir + red)
    ndvi = np.nan_to_num(ndvi, nan=0.0, posinf=0.0, neginf=0.0)
    stops = np.array([s for s, _ in NDVI_STOPS])
    channels = [np.array([(c >> shift) & 0xFF for _, c in NDVI_STOPS], dtype=np.float32) for shift in (16, 8, 0)]
    return np.stack([np.interp(ndvi, stops, ch).astype(np.uint8) for ch in channels])
