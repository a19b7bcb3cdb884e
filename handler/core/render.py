"""The one thumbnail pipeline: choose bands, read decimated, scale to reflectance, stretch, encode."""

from dataclasses import dataclass

import numpy as np
from rasterio.io import DatasetReader

from handler.core.bands import select_bands
from handler.core.deadline import NO_DEADLINE, Deadline
from handler.core.options import Preset, RenderOptions, Stretch
from handler.core.plan import thumbnail_shape
from handler.core.read import read_bands
from handler.core.sentinel2 import Radiometry, dataset_radiometry
from handler.core.visualize import gain_stretch, ndvi_colour, percentile_stretch, to_reflectance
from handler.core.encode import encode_image


@dataclass(frozen=True)
class Thumbnail:
    """Encoded image plus what was drawn, for logs and response headers."""

    content: bytes
    media_type: str
    width: int
    height: int
    bands: tuple[int, ...]
    band_order: str  # how `bands` were chosen (bands.select_bands)
    radiometry: Radiometry


def render_display(
    dataset: DatasetReader, options: RenderOptions, deadline: Deadline = NO_DEADLINE
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], str, Radiometry]:
    """(display uint8 (1|3, rows, cols), valid mask, band indexes used, their order's source, radiometry
    applied) for `options`."""
    indexes, order = select_bands(dataset, options)
    shape = thumbnail_shape(dataset.width, dataset.height, options.thumbnail_size)
    data = read_bands(dataset, indexes, shape, options.gdal_resampling, deadline)
    radiometry = dataset_radiometry(dataset, options.boa_offset, data.values, data.valid)
    reflectance = to_reflectance(data.values, radiometry)
    if options.preset is Preset.ndvi:
        display = ndvi_colour(reflectance[0], reflectance[1])
    elif options.stretch is Stretch.percentile:
        display = percentile_stretch(reflectance, data.valid)
    else:
        gain = 1.0 if radiometry.source == "display_uint8" else options.gain
        display = gain_stretch(reflectance, gain, in_place=True)  # reflectance is this call's own array
    return display, data.valid, indexes, order, radiometry


def render_thumbnail(dataset: DatasetReader, options: RenderOptions, deadline: Deadline = NO_DEADLINE) -> Thumbnail:
    """Render and encode a thumbnail of an open dataset; `DeadlineExceeded` once `deadline` passes."""
    display, valid, indexes, order, radiometry = render_display(dataset, options, deadline)
    deadline.check()
    content = encode_image(display, valid, options.image_format)
    return Thumbnail(content, options.media_type, display.shape[2], display.shape[1], indexes, order, radiometry)
