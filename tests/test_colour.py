"""Colour at the pixel level (issue 17 item 2): synthetic scenes whose red, green and blue bands hold
distinct known values, and the thumbnail's channels checked - not only the band numbers reported.

True colour is Sentinel Hub's: reflectance = DN x 0.0001, x gain 2.5, clipped, x 255. So
B04 = 3000 DN -> 0.75 -> 191, B03 = 1500 -> 0.375 -> 96, B02 = 500 -> 0.125 -> 32. Every other band
holds a value no channel expects (B08 = 6000 -> 255, the rest 100 + 700 x band -> other values), so
reading any wrong band shows in the pixels.

Planted bugs: PRESET_BANDS' true colour as ("B02", "B03", "B04") in handler/core/bands.py, or the
display's channels reversed in handler/core/render.py -> the tests here fail (real-data tests skip
without ../shared; these always run).
"""

import numpy as np
import pytest
from fastapi.testclient import TestClient
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile

from handler.api import app
from handler.core import RenderOptions, open_bytes, render_thumbnail
from handler.core.errors import InvalidRenderOptions
from handler.core.options import Preset
from handler.core.sentinel2 import L1C_BANDS, L2A_BANDS, TEN_METRE_BANDS
from tests.rasters import as_array, geotiff_bytes, profile

RED, GREEN, BLUE, NIR = 3000, 1500, 500, 6000
EXPECTED_RGB = (191, 96, 32)
KNOWN = {"B04": RED, "B03": GREEN, "B02": BLUE, "B08": NIR}


def value_of(name: str, index: int) -> int:
    return KNOWN.get(name, 100 + 700 * index)  # distinct from every expected channel after the stretch


def stack(names, dtype: str = "uint16", height: int = 12, width: int = 18) -> np.ndarray:
    values = np.array([value_of(name, i) for i, name in enumerate(names)], dtype=dtype)
    return np.broadcast_to(values[:, None, None], (len(names), height, width)).copy()


def pixels(content: bytes, **options) -> np.ndarray:
    with open_bytes(content) as dataset:
        thumbnail = render_thumbnail(dataset, RenderOptions(thumbnail_size=18, **options))
    image = as_array(thumbnail.content)
    assert image.shape == (12, 18, 3), image.shape
    return image


def assert_colour(image: np.ndarray, expected: tuple[int, int, int]) -> None:
    channels = tuple(int(round(image[..., c].mean())) for c in range(3))
    assert (image.max(axis=(0, 1)) - image.min(axis=(0, 1)) <= 1).all(), "a flat scene must stay flat"
    assert all(abs(got - want) <= 1 for got, want in zip(channels, expected)), (
        f"R, G, B = {channels}, expected {expected}"
    )


@pytest.mark.parametrize("names", [L2A_BANDS, L1C_BANDS, TEN_METRE_BANDS], ids=["12_band_l2a", "13_band_l1c", "4_band"])
@pytest.mark.parametrize("dtype", ["uint16", "int16"])
def test_true_colour_of_undescribed_stacks_takes_red_green_blue_from_b04_b03_b02(names, dtype):
    image = pixels(geotiff_bytes(stack(names, dtype)))
    assert_colour(image, EXPECTED_RGB)
    red, green, blue = (image[..., c].mean() for c in range(3))
    assert red > green > blue


@pytest.mark.parametrize(
    "descriptions",
    [["B02", "B03", "B04"], ["B04", "B03", "B02"], ["B03", "B02", "B04"]],
    ids=["blue_first", "red_first", "shuffled"],
)
def test_three_described_bands_are_drawn_by_their_names_not_their_order(descriptions):
    content = geotiff_bytes(stack(descriptions), descriptions=descriptions)
    assert_colour(pixels(content), EXPECTED_RGB)


def test_described_twelve_band_stack_in_a_non_standard_order():
    names = list(reversed(L2A_BANDS))
    assert_colour(pixels(geotiff_bytes(stack(names), descriptions=names)), EXPECTED_RGB)


def test_false_colour_draws_nir_red_green():
    image = pixels(geotiff_bytes(stack(L2A_BANDS)), preset=Preset.false_color)
    assert_colour(image, (255, 191, 96))  # B08 6000 -> 1.5 -> clipped


def test_requested_bands_are_drawn_in_the_requested_order():
    image = pixels(geotiff_bytes(stack(L2A_BANDS)), bands=(2, 3, 4))  # B02, B03, B04 as R, G, B
    assert_colour(image, (32, 96, 191))


def test_uint8_rgb_follows_the_colour_interpretation():
    """A display-ready 8-bit file: drawn as stored (gain 1), channel by channel, whatever its order."""
    data = np.stack([np.full((12, 18), v, "uint8") for v in (30, 120, 210)])  # stored as blue, green, red
    with MemoryFile() as memfile:
        with memfile.open(**profile(3, "uint8", 18, 12)) as dst:
            dst.write(data)
            dst.colorinterp = (ColorInterp.blue, ColorInterp.green, ColorInterp.red)
        content = memfile.read()
    with open_bytes(content) as dataset:
        assert tuple(dataset.colorinterp) == (ColorInterp.blue, ColorInterp.green, ColorInterp.red)
    assert_colour(pixels(content), (210, 120, 30))


def test_the_api_returns_the_same_pixels():
    client = TestClient(app)
    content = geotiff_bytes(stack(L2A_BANDS))
    response = client.post(
        "/thumbnail", files={"image_file": ("scene.tif", content, "image/tiff")}, data={"target_resolution": "18"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-thumbnail-bands"] == "4,3,2"
    assert_colour(as_array(response.content), EXPECTED_RGB)


def test_a_preset_whose_bands_the_file_lacks_names_both_lists():
    data = geotiff_bytes(np.full((3, 8, 8), 1000, np.uint16), descriptions=["B02", "B03", "B04"])
    with open_bytes(data) as dataset, pytest.raises(InvalidRenderOptions) as refused:
        render_thumbnail(dataset, RenderOptions(preset=Preset.false_color, thumbnail_size=32))
    assert refused.value.message == (
        "The false_color preset needs bands B08, B04, B03, but this file's bands are B02, B03, B04. "
        "Pass bands= to choose band numbers."
    )
