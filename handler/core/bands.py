"""Choose which bands of a file make up a preset (true colour, false colour, SWIR, NDVI)."""

from rasterio.enums import ColorInterp
from rasterio.io import DatasetReader

from handler.core.errors import InvalidRenderOptions
from handler.core.options import Preset, RenderOptions
from handler.core.sentinel2 import AS_STORED, named_bands

PRESET_BANDS = {
    Preset.true_color: ("B04", "B03", "B02"),
    Preset.false_color: ("B08", "B04", "B03"),
    Preset.swir: ("B12", "B8A", "B04"),
    Preset.ndvi: ("B08", "B04"),
}


def _by_colour_interpretation(dataset: DatasetReader) -> tuple[int, ...] | None:
    """uint8 RGB(A) files (e.g. the L2A TCI product) say where red, green and blue are."""
    interp = list(dataset.colorinterp)
    wanted = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
    if dataset.dtypes[0] != "uint8" or not all(c in interp for c in wanted):
        return None
    return tuple(interp.index(c) + 1 for c in wanted)


# Band orders beyond sentinel2.named_bands': the request chose (bands=), the colour interpretation said.
REQUESTED, COLOUR_INTERPRETATION = "requested", "colour_interpretation"


def select_bands(dataset: DatasetReader, options: RenderOptions) -> tuple[tuple[int, ...], str]:
    """1-based band indexes to read, in display order (R, G, B), (gray,) or (NIR, red) for NDVI, and how
    the order was found (sentinel2.DESCRIBED, ASSUMED ..., REQUESTED, COLOUR_INTERPRETATION): "as_stored"
    and "assumed" tell a client that bands= may be needed (a blue-first export)."""
    count = dataset.count
    if options.bands is not None:
        missing = [b for b in options.bands if b > count]
        if missing:
            raise InvalidRenderOptions(f"band {missing[0]} does not exist; the file has {count} band(s).")
        return options.bands, REQUESTED
    names, order = named_bands(count, dataset.descriptions, dataset.name)
    wanted = PRESET_BANDS[options.preset]
    if options.preset is Preset.true_color:
        by_colour = _by_colour_interpretation(dataset)
        if by_colour and not any(dataset.descriptions):
            return by_colour, COLOUR_INTERPRETATION
    if all(name in names for name in wanted):
        return tuple(names.index(name) + 1 for name in wanted), order
    if options.preset is Preset.true_color:
        return ((1, 2, 3) if count >= 3 else (1,)), AS_STORED  # unknown 3-band: as stored; 1-2 bands: grayscale
    raise InvalidRenderOptions(
        f"The {options.preset.value} preset needs bands {', '.join(wanted)}, but this file's bands are "
        f"{', '.join(names)}. Pass bands= to choose band numbers."
    )
