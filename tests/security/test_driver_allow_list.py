"""The driver allow-list itself, below the magic-byte check (issue 17 item 2).

`safe_open.check_magic` refuses non-TIFF, non-JPEG 2000 uploads before GDAL sees them, so the upload tests
never reach `safe_open._open`. These tests call the layer below (`open_path` / `_open`) with rasters GDAL
*can* read - PNG, JPEG, GIF, BMP, WebP, PNM, HFA, netCDF (classic and netCDF-4, which is HDF5), an ERS
header naming another file as its pixels, a JPEG 2000 - all named `.tif`, and check that each of the two
mechanisms refuses them on its own:

- `driver=`: GDAL is told the one driver the magic bytes chose, so a PNG opened "as GTiff" is not
  recognised (UnreadableRaster).
  Planted bug: `rasterio.open(path)` without `driver=` -> test_gdal_opens_with_the_chosen_driver_only.
- the post-open check `dataset.driver in ALLOWED_DRIVERS`: a dataset some other driver opened is closed
  and refused (UnsupportedFormat).
  Planted bug: the post-open check removed -> test_a_dataset_opened_by_a_driver_off_the_list_is_refused.
- both removed -> test_non_tiff_rasters_named_tif_are_refused_by_the_allow_list (and the two above).

TIFF-like magic: no format in this wheel's GDAL was found that reads a file starting with `II*\\0` /
`MM\\0*` with a driver other than GTiff when probing freely: GTiff's probe runs first and claims (then
fails on) such files, so a polyglot cannot get past it. The cases below pin that (a TIFF-magic file named
like an SRTM tile or a GTX grid, formats GDAL identifies by name and size, still reaches only GTiff),
and LIBERTIFF - the one other reader of TIFF bytes - is refused by the post-open check.
"""

import struct
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil

from handler.core import safe_open
from handler.core.errors import UnreadableRaster, UnsupportedFormat
from tests.rasters import geotiff_bytes, profile, reflectance_stack
from tests.security.hostile import jp2_bytes

SECRET_BYTES = b"private-bytes-" * 64


def _write(path: Path, driver: str, count: int = 3, dtype: str = "uint8", **options) -> None:
    data = (np.arange(count * 16 * 16).reshape(count, 16, 16) % 200).astype(dtype)
    with rasterio.open(path, "w", **profile(count, dtype, 16, 16, driver=driver, **options)) as dst:
        dst.write(data)


def _copy(path: Path, driver: str, count: int = 1, **options) -> None:
    source = path.with_name(path.name + ".src.tif")
    source.write_bytes(geotiff_bytes(reflectance_stack(count, height=16, width=16)))
    rasterio.shutil.copy(str(source), str(path), driver=driver, **options)
    source.unlink()


def _ers(path: Path, data_file: Path) -> None:
    """An ER Mapper header (plain text, written by GDAL) edited to read its pixels from another file
    (any name, relative to the header's folder)."""
    _write(path, "ERS", count=1)
    data_file.write_bytes(SECRET_BYTES[: 16 * 16])
    header = path.read_text()
    path.write_text(header.replace("\tDataSetType", f'\tDataFile\t= "{data_file.name}"\n\tDataSetType', 1))
    path.with_suffix("").unlink()  # GDAL's own data file: the header must read the other one


# name -> (GDAL's own driver for it, how to write it at a path)
NON_TIFF = {
    "png": ("PNG", lambda p: _write(p, "PNG")),
    "jpeg": ("JPEG", lambda p: _write(p, "JPEG")),
    "gif": ("GIF", lambda p: _write(p, "GIF", count=1)),
    "bmp": ("BMP", lambda p: _write(p, "BMP")),
    "webp": ("WEBP", lambda p: _write(p, "WEBP")),
    "pnm": ("PNM", lambda p: _write(p, "PNM")),
    "hfa": ("HFA", lambda p: _write(p, "HFA")),
    "netcdf_classic": ("netCDF", lambda p: _copy(p, "netCDF", FORMAT="NC")),
    "netcdf4_hdf5": ("netCDF", lambda p: _copy(p, "netCDF", FORMAT="NC4")),
    "ers_reading_another_file": ("ERS", lambda p: _ers(p, p.with_name("elsewhere.dat"))),
    "jp2": ("JP2OpenJPEG", lambda p: p.write_bytes(jp2_bytes())),
}
EXTENSION = {
    "netcdf_classic": "nc",
    "netcdf4_hdf5": "nc",
    "ers_reading_another_file": "ers",
    "jpeg": "jpg",
    "hfa": "img",
}
MAGIC = {"netcdf_classic": b"CDF\x01", "netcdf4_hdf5": b"\x89HDF", "png": b"\x89PNG", "jp2": b"\x00\x00\x00\x0cjP"}


@pytest.fixture(scope="module")
def rasters(tmp_path_factory) -> dict[str, Path]:
    """Each raster written by GDAL itself (so GDAL can read it), then renamed `scene.tif` (the ERS header
    keeps its `.ers`: GDAL identifies ERS by that extension)."""
    made = {}
    for name, (_, write) in NON_TIFF.items():
        folder = tmp_path_factory.mktemp(name)
        native = folder / f"native.{EXTENSION.get(name, name)}"
        write(native)
        path = folder / ("scene.ers" if name.startswith("ers") else "scene.tif")
        native.rename(path)
        made[name] = path
    return made


@pytest.mark.parametrize("name", sorted(NON_TIFF))
def test_each_raster_is_one_gdal_reads_with_its_own_driver(rasters, name):
    """The oracle's precondition: without the allow-list these files would open (and render)."""
    driver = NON_TIFF[name][0]
    with rasterio.open(rasters[name], driver=driver) as dataset:
        assert dataset.driver == driver and dataset.width in (16, 32)
    if name in MAGIC:
        assert rasters[name].read_bytes().startswith(MAGIC[name])
    if name != "jp2":  # and the magic check in front refuses them all: only these tests reach `_open`
        with pytest.raises(UnsupportedFormat):
            safe_open.check_magic(rasters[name].read_bytes()[: safe_open.MAGIC_BYTES])


@pytest.mark.parametrize(
    "head, looks_like",
    [(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d", " It looks like PNG."), (b"CDF\x01" + bytes(8), "")],
    ids=["png", "unnamed"],
)
def test_the_magic_check_names_what_a_file_looks_like_only_when_it_knows(head, looks_like):
    with pytest.raises(UnsupportedFormat) as caught:
        safe_open.check_magic(head)
    assert caught.value.message == (
        "Only GeoTIFF / COG, JPEG 2000 and Sentinel-2 SAFE product zip files are accepted." + looks_like
    )


@pytest.mark.parametrize("name", sorted(set(NON_TIFF) - {"jp2"}))
@pytest.mark.parametrize("driver", [safe_open.GTIFF_DRIVER, safe_open.JP2_DRIVER])
def test_non_tiff_rasters_named_tif_are_refused_by_the_allow_list(rasters, name, driver):
    """Planted bug: `driver=` AND the post-open check removed -> these open and this fails."""
    with pytest.raises((UnsupportedFormat, UnreadableRaster)) as caught:
        with safe_open.open_path(str(rasters[name]), driver):
            pass
    assert str(rasters[name]) not in caught.value.message
    assert "private-bytes" not in caught.value.message


def test_a_jp2_passed_as_gtiff_and_a_tiff_passed_as_jp2_are_refused(rasters, tmp_path):
    with pytest.raises(UnreadableRaster):
        with safe_open.open_path(str(rasters["jp2"]), safe_open.GTIFF_DRIVER):
            pass
    tiff = tmp_path / "scene.jp2"
    tiff.write_bytes(geotiff_bytes(reflectance_stack(3, height=16, width=16)))
    with pytest.raises(UnreadableRaster):
        with safe_open.open_path(str(tiff), safe_open.JP2_DRIVER):
            pass


@pytest.mark.parametrize("name", sorted(NON_TIFF))
def test_gdal_opens_with_the_chosen_driver_only(rasters, name):
    """GDAL itself refuses: the GTiff driver does not recognise the file (UnreadableRaster, not the
    post-open check's UnsupportedFormat). Planted bug: `driver=` dropped -> UnsupportedFormat here."""
    with pytest.raises(UnreadableRaster):
        with safe_open.open_path(str(rasters[name]), safe_open.GTIFF_DRIVER):
            pass


@pytest.mark.parametrize("name", sorted(set(NON_TIFF) - {"jp2"}))
def test_a_dataset_opened_by_a_driver_off_the_list_is_refused(rasters, name, monkeypatch):
    """The post-open check alone: the file opened with its own driver is closed and refused.
    Planted bug: the `dataset.driver not in ALLOWED_DRIVERS` check removed -> this opens."""
    driver = NON_TIFF[name][0]
    opened = []
    real_open = rasterio.open
    monkeypatch.setattr(safe_open.rasterio, "open", lambda *a, **k: opened.append(real_open(*a, **k)) or opened[-1])
    with pytest.raises(UnsupportedFormat, match=f"The {driver} format is not accepted"):
        safe_open._open(str(rasters[name]), driver)
    assert len(opened) == 1 and opened[0].closed


def test_the_hdf5_driver_on_a_netcdf4_file_is_refused_after_open(rasters):
    """netCDF-4 files are HDF5 files: GDAL's HDF5 driver opens them too."""
    with rasterio.open(rasters["netcdf4_hdf5"], driver="HDF5") as dataset:
        assert dataset.driver.startswith("HDF5")  # HDF5Image for a file of one dataset
    with pytest.raises(UnsupportedFormat, match=r"The HDF5\w* format is not accepted"):
        safe_open._open(str(rasters["netcdf4_hdf5"]), "HDF5")


def test_libertiff_the_other_reader_of_tiff_bytes_is_refused_after_open(tmp_path):
    path = tmp_path / "scene.tif"
    path.write_bytes(geotiff_bytes(reflectance_stack(3, height=16, width=16)))
    with rasterio.open(path, driver="LIBERTIFF") as dataset:
        assert dataset.driver == "LIBERTIFF"
    with pytest.raises(UnsupportedFormat):
        safe_open._open(str(path), "LIBERTIFF")
    with safe_open.open_path(str(path)) as dataset:  # the same file, with the chosen driver, is fine
        assert dataset.driver == "GTiff"


SRTM_TILE_BYTES = 1201 * 1201 * 2


@pytest.mark.parametrize(
    "name, body",
    [
        ("N45E006.hgt", bytes(SRTM_TILE_BYTES)),  # SRTMHGT: identified by its name and size, any content
        ("grid.gtx", struct.pack(">4d2i", 0, 0, 1, 1, 4, 4) + bytes(64)),  # GTX: identified by its extension
    ],
)
def test_formats_gdal_identifies_by_name_are_refused_and_tiff_magic_does_not_smuggle_them(tmp_path, name, body):
    path = tmp_path / name
    path.write_bytes(body)
    with rasterio.open(path) as dataset:  # free probing opens them...
        assert dataset.driver in ("SRTMHGT", "GTX")
    with pytest.raises((UnreadableRaster, UnsupportedFormat)):  # ...the reader does not
        with safe_open.open_path(str(path)):
            pass
    # With TIFF magic in front, GTiff's probe claims the file first even when GDAL probes freely.
    path.write_bytes(b"II*\x00" + body[4:])
    with pytest.raises(rasterio.errors.RasterioIOError):
        rasterio.open(path)
    with pytest.raises(UnreadableRaster):
        with safe_open.open_path(str(path)):
            pass
