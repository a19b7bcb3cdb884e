"""Validated render options shared by every entry point (HTTP form, S3 trigger, benchmark)."""

from dataclasses import dataclass
from enum import Enum

from rasterio.enums import Resampling

from handler.core.errors import InvalidRenderOptions
from handler.core.limits import LIMITS


class Preset(str, Enum):
    """Band combinations users of Sentinel Hub / Copernicus Browser know by name."""

    true_color = "true_color"
    false_color = "false_color"
    swir = "swir"
    ndvi = "ndvi"


class Stretch(str, Enum):
    """`gain`: Sentinel Hub's reflectance x 2.5, clipped; `percentile`: per-band 2-98 % of the image."""

    gain = "gain"
    percentile = "percentile"


class ImageFormat(str, Enum):
    png = "png"
    jpeg = "jpeg"
    webp = "webp"


class ResamplingName(str, Enum):
    nearest = "nearest"
    average = "average"
    bilinear = "bilinear"
    cubic = "cubic"
    lanczos = "lanczos"
    mode = "mode"


MEDIA_TYPES = {ImageFormat.png: "image/png", ImageFormat.jpeg: "image/jpeg", ImageFormat.webp: "image/webp"}


@dataclass(frozen=True)
class RenderOptions:
    """What thumbnail to draw; `thumbnail_size` is its longest side in pixels (the API's `target_resolution`,
    the trigger's THUMBNAIL_SIZE, at most MAX_THUMBNAIL_SIZE); the aspect ratio is kept."""

    thumbnail_size: int = 512
    preset: Preset = Preset.true_color
    bands: tuple[int, ...] | None = None
    stretch: Stretch = Stretch.gain
    gain: float = 2.5
    boa_offset: int | None = None
    image_format: ImageFormat = ImageFormat.png
    resampling: ResamplingName = ResamplingName.average

    def __post_init__(self) -> None:
        try:  # accept plain strings ("ndvi", "jpeg") from callers other than the HTTP layer
            for name, enum in (
                ("preset", Preset),
                ("stretch", Stretch),
                ("image_format", ImageFormat),
                ("resampling", ResamplingName),
            ):
                object.__setattr__(self, name, enum(getattr(self, name)))
        except ValueError as exc:
            raise InvalidRenderOptions(str(exc)) from None
        if not 1 <= self.thumbnail_size <= LIMITS.max_thumbnail_size:
            raise InvalidRenderOptions(f"target_resolution must be an integer from 1 to {LIMITS.max_thumbnail_size}.")
        if not 0 < self.gain <= 100:
            raise InvalidRenderOptions("gain must be greater than 0 and at most 100.")
        if self.boa_offset is not None and not -10_000 <= self.boa_offset <= 10_000:
            # Python ints are unbounded: a 400-digit offset would overflow float() (a 500) later.
            raise InvalidRenderOptions("boa_offset must be from -10000 to 10000 (e.g. -1000).")
        if self.bands is not None and len(self.bands) not in self.band_counts():
            raise InvalidRenderOptions(
                f"bands must list {' or '.join(map(str, self.band_counts()))} "
                f"band numbers for the {self.preset.value} preset."
            )

    def band_counts(self) -> tuple[int, ...]:
        return (2,) if self.preset is Preset.ndvi else (1, 3)

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.image_format]

    @property
    def gdal_resampling(self) -> Resampling:
        return Resampling[self.resampling.value]


def parse_bands(text: str | None) -> tuple[int, ...] | None:
    """'4,3,2' -> (4, 3, 2); band numbers are 1-based as in GDAL."""
    if text is None or not text.strip():
        return None
    try:
        bands = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InvalidRenderOptions("bands must be comma-separated band numbers, e.g. 4,3,2.") from None
    if any(band < 1 for band in bands):
        raise InvalidRenderOptions("band numbers start at 1.")
    return bands
