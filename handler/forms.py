"""The form of POST /thumbnail as one model, whose option defaults are RenderOptions' own (one place)."""

from fastapi import UploadFile
from pydantic import BaseModel, ConfigDict, Field

from handler.core import RenderOptions
from handler.core.options import ImageFormat, Preset, ResamplingName, Stretch, parse_bands

IMAGE_FILE = (
    "A Sentinel-2 GeoTIFF or COG, JPEG 2000 band or TCI file, or SAFE product zip (up to 4 MiB on Lambda, "
    "MAX_UPLOAD_BYTES (2 GiB) on a local server)."
)
OBJECT_KEY = "Instead of a file: a key in the input bucket, e.g. uploads/scene.tif (for scenes over 4 MiB)."
_DEFAULT = RenderOptions()


class ThumbnailForm(BaseModel):
    """The input (exactly one of `image_file` and `key`) and what to draw; the field names are those of the
    seed's curl commands (`target_resolution`, `format`). Range checks stay in RenderOptions, so every
    entry point answers the same `invalid_options`; an empty field means its default."""

    model_config = ConfigDict(frozen=True)

    image_file: UploadFile | None = Field(None, description=IMAGE_FILE)
    key: str | None = Field(None, description=OBJECT_KEY)
    target_resolution: int = Field(_DEFAULT.thumbnail_size, description="Longest side of the thumbnail in pixels.")
    preset: Preset = _DEFAULT.preset
    bands: str | None = Field(None, description="Band numbers to draw, e.g. 4,3,2 (overrides the preset's).")
    stretch: Stretch = _DEFAULT.stretch
    gain: float = Field(_DEFAULT.gain, description="Reflectance gain for stretch=gain.")
    boa_offset: int | None = Field(
        _DEFAULT.boa_offset,
        description="BOA offset added to DNs, e.g. -1000 for baseline 04.00+ when the file does not say so.",
    )
    format: ImageFormat = _DEFAULT.image_format
    resampling: ResamplingName = _DEFAULT.resampling

    def render_options(self) -> RenderOptions:
        """The validated options (InvalidRenderOptions, a 422 `invalid_options`, when out of range)."""
        return RenderOptions(
            thumbnail_size=self.target_resolution,
            preset=self.preset,
            bands=parse_bands(self.bands),
            stretch=self.stretch,
            gain=self.gain,
            boa_offset=self.boa_offset,
            image_format=self.format,
            resampling=self.resampling,
        )
