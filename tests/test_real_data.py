"""Every real Sentinel-2 file in the shared data folder: attributes match GDAL, thumbnails look right."""

import numpy as np
import pytest
import rasterio

from handler.core import RenderOptions, open_bytes, read_attributes, render_thumbnail
from tests.conftest import requires_real_data
from tests.rasters import REAL_DATA, as_array, real_files

pytestmark = requires_real_data
FILES = real_files() or [REAL_DATA / "missing.tif"]


def thumbnail(path, **options) -> np.ndarray:
    with open_bytes(path.read_bytes()) as dataset:
        return as_array(render_thumbnail(dataset, RenderOptions(**options)).content)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:40])
def test_attributes_match_rasterio(path):
    with open_bytes(path.read_bytes()) as dataset:
        attrs = read_attributes(dataset)
    with rasterio.open(path) as reference:
        assert (attrs["width"], attrs["height"], attrs["bands"]) == (reference.width, reference.height, reference.count)
        assert attrs["crs"] == reference.crs.to_string()
        assert attrs["bbox"] == pytest.approx(list(reference.bounds))
        assert attrs["transform"] == pytest.approx(list(reference.transform)[:6])
        assert attrs["dtypes"] == list(reference.dtypes)
        assert attrs["overviews"] == reference.overviews(1)
    west, south, east, north = attrs["bbox_wgs84"]
    assert -180 <= west < east <= 180 and -90 <= south < north <= 90


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:40])
def test_thumbnail_is_not_black_and_keeps_aspect(path):
    image = thumbnail(path, thumbnail_size=200)
    with rasterio.open(path) as reference:
        expected_ratio = reference.width / reference.height
    assert max(image.shape[:2]) == 200
    assert image.shape[1] / image.shape[0] == pytest.approx(expected_ratio, rel=0.02)
    colour = image[..., : 3 if image.ndim == 3 and image.shape[2] >= 3 else 1]
    assert colour.mean() > 40, "thumbnail is (nearly) black"
    assert colour.std() > 5, "thumbnail is flat"


def test_bigearthnet_12_band_is_green_farmland():
    path = REAL_DATA / "bigearthnet_S2A_MSIL2A_20170613T101031_87_48_12band_10m.tif"
    image = thumbnail(path, thumbnail_size=120)
    red, green, blue = (image[..., i].astype(float).mean() for i in range(3))
    assert green > red and green > blue, "fields in June should be green in true colour"
    ndvi = thumbnail(path, thumbnail_size=120, preset="ndvi")
    assert ndvi[..., 1].mean() > ndvi[..., 0].mean()


def test_tci_keeps_its_colours_and_nodata_wedge():
    image = thumbnail(REAL_DATA / "S2A_34SGA_20200318_L2A_TCI_100m.tif", thumbnail_size=200)
    assert image.shape == (200, 200, 4)
    transparent = (image[..., 3] == 0).mean()
    assert 0.2 < transparent < 0.32, "about 26 % of the TCI is outside the swath"
    assert (image[:, 0, 3] == 0).any() and (image[:, -1, 3] == 255).all()


def test_sahara_single_band_is_bright_desert():
    image = thumbnail(REAL_DATA / "S2A_29RKH_20200219_L2A_B04_100m.tif", thumbnail_size=200)
    assert image.ndim == 2 and image.mean() > 150  # B04 mean 0.34 reflectance x 2.5


def test_betsiboka_true_colour_needs_bands_321():
    """Sentinel Hub wrote B02,B03,B04 with photometric RGB: as stored it is blue-heavy, 3,2,1 fixes it."""
    path = REAL_DATA / "sentinelhub_process_S2L1C_20171215_betsiboka_B02_B03_B04_epsg4326.tif"
    fixed = thumbnail(path, thumbnail_size=256, bands=(3, 2, 1))
    assert fixed[..., 0].mean() > fixed[..., 2].mean(), "sediment-laden delta: red over blue"
