"""Sentinel-2 knowledge: band names of common exports and how DNs become reflectance."""

import math
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

L2A_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
L1C_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
# Four-band exports (Sentinel Hub "B02,B03,B04,B08", 10 m bands in wavelength order).
TEN_METRE_BANDS = ("B02", "B03", "B04", "B08")
BANDS_BY_COUNT: Mapping[int, tuple[str, ...]] = {12: L2A_BANDS, 13: L1C_BANDS, 4: TEN_METRE_BANDS}

# Band descriptions seen in the wild ("B4", "B04", "b8a", "B04 (red)", "red") -> canonical name.
# ASCII digits only: Python's \d and int() also accept Arabic-Indic or fullwidth digits.
_BAND_NAME = re.compile(r"\s*b(\d{1,3})(a?)\b", re.IGNORECASE | re.ASCII)
_COLOUR_NAMES = {
    "coastal": "B01",
    "blue": "B02",
    "green": "B03",
    "red": "B04",
    "nir": "B08",
    "nir08": "B8A",
    "swir16": "B11",
    "swir22": "B12",
}
_KNOWN = set(L1C_BANDS)
# ESA's image file names: T32TQM_20220609T101559_B04_10m.jp2 (L2A: R10m|R20m|R60m), T32TQM_20220609T101559_B04.jp2
# (L1C), TCI and the L2A AOT/WVP/SCL layers too.
IMAGE_NAME = re.compile(
    r"T\d{2}[A-Z]{3}_\d{8}T\d{6}_(?P<band>B0[1-9]|B1[0-2]|B8A|TCI|AOT|WVP|SCL)"
    r"(?:_(?P<resolution>10|20|60)m)?\.(?i:jp2)"
)

# DN -> reflectance: reflectance = (DN + offset) * QUANTIFICATION.
QUANTIFICATION = 1e-4
BASELINE_04_OFFSET = -1000
# Float exports hold reflectance (0-1; clouds and snow reach ~1.5) or DN (x 10000: xarray, GeoWombat or
# stackstac exports of Earth Search data). Valid values whose 99th percentile is above this are DN.
FLOAT_DN_ABOVE = 10.0
_BASELINE_KEYS = ("PROCESSING_BASELINE", "PROCESSINGBASELINE", "S2_PROCESSING_BASELINE")
_OFFSET_KEYS = ("BOA_ADD_OFFSET", "RADIO_ADD_OFFSET")
_HARMONISED_KEYS = ("BOA_OFFSET_APPLIED", "HARMONIZED", "HARMONISED")


def canonical_band_name(description: str | None) -> str | None:
    """'B4', 'b04', 'B04 (red)', 'red' -> 'B04'; None when it names no Sentinel-2 band."""
    if not description:
        return None
    match = _BAND_NAME.match(description)
    if match:
        number, suffix = int(match.group(1)), match.group(2).upper()
        name = f"B{number}{suffix}" if suffix else f"B{number:02d}"  # only B8A has a suffix
        return name if name in _KNOWN else None
    return _COLOUR_NAMES.get(description.strip().lower())


def band_from_filename(name: str) -> str | None:
    """'.../T32TQM_20220609T101559_B04_10m.jp2' -> 'B04' ('TCI', 'SCL', ... too); None for other names."""
    match = IMAGE_NAME.fullmatch(name.rpartition("/")[2])
    return match.group("band") if match else None


# How band names were found (attributes' `band_order`, the thumbnail's X-Thumbnail-Band-Order): the file
# says (descriptions), ESA's file name says (a single band), Sentinel-2's order for the band count is
# assumed (12 = L2A, 13 = L1C, 4 = B02,B03,B04,B08), or nothing says and bands are taken as stored.
DESCRIBED, FILE_NAME, ASSUMED, AS_STORED = "described", "file_name", "assumed", "as_stored"


def named_bands(count: int, descriptions: Sequence[str | None], file_name: str = "") -> tuple[list[str], str]:
    """Name of each band, and how it was found: descriptions win when present, then a single band's ESA
    file name (..._B04_10m.jp2, whose JPEG 2000 carries no band name), else the Sentinel-2 order for the
    band count, else rio-tiler style 'b1', 'b2', ..."""
    if any(descriptions):
        return [canonical_band_name(d) or d or f"b{i}" for i, d in enumerate(descriptions, start=1)], DESCRIBED
    named = band_from_filename(file_name) if count == 1 else None
    if named in _KNOWN:
        return [named], FILE_NAME
    if count in BANDS_BY_COUNT:
        return list(BANDS_BY_COUNT[count]), ASSUMED
    return [f"b{i}" for i in range(1, count + 1)], AS_STORED


@dataclass(frozen=True)
class Radiometry:
    """How stored values become reflectance: reflectance = (value + offset) * scale."""

    scale: float
    offset: float
    source: str

    def as_dict(self) -> dict:
        return {"scale": self.scale, "offset": self.offset, "source": self.source}


def _lookup(tags: Mapping[str, str], keys: Sequence[str]) -> str | None:
    upper = {k.upper(): v for k, v in tags.items()}
    for key in keys:
        for tag, value in upper.items():
            if tag == key or tag.startswith(key + "_"):
                return value
    return None


def _number(text: str) -> float | None:
    """A finite number written in ASCII ('04.00', '-1000'); None for 'nan', 'inf', '1e400', '٣' or words."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes")


def boa_offset_from_tags(tags: Mapping[str, str]) -> tuple[int, str] | None:
    """The BOA offset the file itself declares, with where it came from, or None if it says nothing."""
    explicit = _number(_lookup(tags, _OFFSET_KEYS) or "")
    if explicit is not None:
        return int(explicit), "offset_tag"
    if _truthy(_lookup(tags, _HARMONISED_KEYS)):
        return 0, "harmonised_tag"
    baseline = _number(_lookup(tags, _BASELINE_KEYS) or "")
    if baseline is not None:
        return (BASELINE_04_OFFSET if baseline >= 4.0 else 0), "processing_baseline"
    return None


def _gdal_radiometry(scale: float, offset: float) -> Radiometry | None:
    """GDAL's value * scale + offset as (value + offset / scale) * scale, or None when it says nothing
    or cannot be applied: a zero scale (every pixel the same value), NaN or infinities (a blank image)."""
    if (scale, offset) == (1.0, 0.0) or scale == 0.0 or not math.isfinite(scale):
        return None
    shift = offset / scale
    return Radiometry(scale, shift, "gdal_scale_offset") if math.isfinite(shift) else None


def radiometry(
    dtype: str, tags: Mapping[str, str], gdal_scale: float, gdal_offset: float, boa_offset: int | None = None
) -> Radiometry:
    """Work out DN -> reflectance for a file; `boa_offset` (a request parameter) wins over tags.

    float exports are reflectance already; uint8 is display-ready (TCI) and keeps a 0-255 range.
    The -1000 offset of baseline 04.00+ is applied only when the file (or the caller) says so:
    Sentinel Hub and harmonised exports are already corrected, and guessing from dates darkens them.
    """
    if boa_offset is not None:
        return Radiometry(QUANTIFICATION, float(boa_offset), "parameter")
    if dtype.startswith("float"):
        return Radiometry(1.0, 0.0, "float_reflectance")
    if dtype == "uint8":
        return Radiometry(1.0 / 255.0, 0.0, "display_uint8")
    from_gdal = _gdal_radiometry(gdal_scale, gdal_offset)
    if from_gdal is not None:
        return from_gdal
    declared = boa_offset_from_tags(tags)
    if declared is not None:
        return Radiometry(QUANTIFICATION, float(declared[0]), declared[1])
    return Radiometry(QUANTIFICATION, 0.0, "default")


def values_look_like_dn(values: np.ndarray, valid: np.ndarray) -> bool:
    """True when float values are DN (x 10000), not reflectance: their 99th percentile (a few hot
    pixels do not decide) is above FLOAT_DN_ABOVE."""
    sample = values[:, valid]
    sample = sample[np.isfinite(sample)]
    return bool(sample.size) and float(np.percentile(sample, 99)) > FLOAT_DN_ABOVE


def dataset_radiometry(
    dataset, boa_offset: int | None = None, values: np.ndarray | None = None, valid: np.ndarray | None = None
) -> Radiometry:
    """`radiometry` for an open rasterio dataset, from its dataset- and first-band tags; for float data
    whose metadata is silent, the `values` a render read (with their `valid` mask) tell DN from reflectance."""
    tags = {**dataset.tags(), **dataset.tags(1)}
    found = radiometry(dataset.dtypes[0], tags, dataset.scales[0], dataset.offsets[0], boa_offset)
    if found.source == "float_reflectance" and values is not None and values_look_like_dn(values, valid):
        declared = boa_offset_from_tags(tags)
        return Radiometry(QUANTIFICATION, float(declared[0]) if declared else 0.0, "float_dn_values")
    return found
