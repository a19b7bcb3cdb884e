"""Open untrusted rasters safely: magic bytes, a bounded header scan, one driver chosen by the magic
bytes from an allow-list, and a size budget, all before any pixel is read."""

from contextlib import contextmanager
from typing import Iterator

from handler.core import gdal_config  # noqa: F401  (hardening before rasterio loads)

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader, MemoryFile

from handler.core.errors import EmptyInput, RasterError, RasterTooLarge, UnreadableRaster, UnsupportedFormat
from handler.core.limits import LIMITS
from handler.core.spans import span
from handler.core.jp2_scan import J2K_START, JP2_SIGNATURE, scan_jp2
from handler.core.tiff_scan import Read, bytes_reader, scan_tiff

# GDAL errors on a corrupt file surface as RasterioError or, from property getters (colorinterp, tags,
# overviews ...), as rasterio's CPLE_* errors, which are not RasterioErrors; metadata that is not UTF-8
# (band descriptions, tags) as UnicodeDecodeError when rasterio decodes it.
GDAL_ERRORS = (RasterioError, CPLE_BaseError, UnicodeDecodeError)
CORRUPT = "The file's metadata or pixel data could not be decoded (corrupt or truncated)."

# GDAL reads COGs with its GTiff driver (its COG driver only writes); Sentinel-2's own band and TCI
# files are JPEG 2000, read by the one JPEG 2000 driver the rasterio wheel ships.
GTIFF_DRIVER, JP2_DRIVER = "GTiff", "JP2OpenJPEG"
# Real-valued sample types the renderer converts to float32; complex ones have no single value to draw.
DRAWABLE_DTYPES = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float16",
    "float32",
    "float64",
)
ALLOWED_DRIVERS = ("GTiff", "COG", JP2_DRIVER)
TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF
JP2_MAGIC = (JP2_SIGNATURE, J2K_START)  # a boxed JP2 file, a raw codestream
MAGIC_BYTES = len(JP2_SIGNATURE)
# What a refused input is told (`source.open_source` is the one entry point, and it also opens SAFE zips).
ACCEPTED = "Only GeoTIFF / COG, JPEG 2000 and Sentinel-2 SAFE product zip files are accepted."
_KNOWN_MAGIC = {
    b"\x89PNG": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"%PDF": "PDF",
    b"<VRT": "VRT",
    b"PK\x03\x04": "ZIP",
    b"GIF8": "GIF",
}


def check_magic(head: bytes) -> str:
    """The driver for a file's first bytes (TIFF or JPEG 2000), or a refusal naming what it looks like.
    Zips are refused here too: only `source.open_source` opens one, as a SAFE product, never with GDAL's
    own zip handling of the whole file."""
    if not head:
        raise EmptyInput("The file is empty.")
    if head[:4] in TIFF_MAGIC:
        return GTIFF_DRIVER
    if head.startswith(JP2_MAGIC):
        return JP2_DRIVER
    kind = next((name for magic, name in _KNOWN_MAGIC.items() if head.startswith(magic)), None)
    looks_like = f" It looks like {kind}." if kind else ""
    raise UnsupportedFormat(f"{ACCEPTED}{looks_like}")


def check_header(read: Read, size: int) -> str:
    """Everything checked before GDAL sees a byte: the magic bytes, then that format's bounded structure
    scan. Returns the one driver the file may be opened with."""
    driver = check_magic(read(0, min(size, MAGIC_BYTES)))
    (scan_jp2 if driver == JP2_DRIVER else scan_tiff)(read, size)
    return driver


def check_budget(dataset: DatasetReader) -> None:
    """Refuse header bombs before reading a pixel: absurd sizes, too many bands."""
    if dataset.count > LIMITS.max_bands:
        raise RasterTooLarge(f"The raster has {dataset.count} bands; at most {LIMITS.max_bands} are accepted.")
    pixels = dataset.width * dataset.height
    if pixels > LIMITS.max_raster_pixels:
        raise RasterTooLarge(
            f"The raster is {dataset.width} x {dataset.height} pixels; at most "
            f"{LIMITS.max_raster_pixels:,} pixels are accepted. Use a smaller file or a COG with overviews."
        )


def check_drawable(dataset: DatasetReader) -> None:
    """Refuse at open what a thumbnail cannot draw: complex sample types (including GDAL's CInt16/CInt32),
    and colour tables on 16-bit bands, which GDAL pads to 65,536 entries and searches for every output
    pixel when averaging (a 5 KB upload took 35 s for a 512 px thumbnail)."""
    unsupported = sorted(set(dataset.dtypes) - set(DRAWABLE_DTYPES))
    if unsupported:
        raise UnsupportedFormat(
            f"Band data type {unsupported[0]} is not supported: only integer and floating-point bands can be "
            "drawn (complex values, e.g. radar, are not)."
        )
    if any(
        interp is ColorInterp.palette and np.dtype(dtype).itemsize > 1
        for interp, dtype in zip(dataset.colorinterp, dataset.dtypes)
    ):
        raise UnsupportedFormat("Colour tables (palettes, or PHOTOMETRIC=MINISWHITE) are only accepted on 8-bit bands.")


def check_metadata(dataset: DatasetReader) -> None:
    """Decode the band descriptions and the dataset's and bands' tags now (rasterio decodes them as UTF-8),
    so that a file whose metadata is not text is refused at open by every route alike, not only by
    those that happen to read it (a thumbnail with `bands=` never reads the descriptions)."""
    dataset.descriptions
    dataset.tags()
    for band in dataset.indexes:
        dataset.tags(band)


def _open(path: str, driver: str) -> DatasetReader:
    try:
        dataset = rasterio.open(path, driver=driver)
    except GDAL_ERRORS as exc:
        # GDAL's message can hold internal paths: keep it out of the user-facing text.
        raise UnreadableRaster("The file could not be read (corrupt or truncated).") from exc
    if dataset.driver not in ALLOWED_DRIVERS:  # defence in depth: the allow-list is also enforced by GDAL
        dataset.close()
        raise UnsupportedFormat(f"The {dataset.driver} format is not accepted.")
    try:
        check_budget(dataset)
        check_drawable(dataset)
        check_metadata(dataset)
    except GDAL_ERRORS as exc:  # colorinterp reads the file; metadata may not be UTF-8
        dataset.close()
        raise UnreadableRaster(CORRUPT) from exc
    except RasterError:
        dataset.close()
        raise
    return dataset


@contextmanager
def _gdal_errors_are_unreadable() -> Iterator[None]:
    """A GDAL error while the caller uses the dataset means a corrupt file: a RasterError, never a 500."""
    try:
        yield
    except GDAL_ERRORS as exc:
        raise UnreadableRaster(CORRUPT) from exc


@contextmanager
def open_bytes(data: bytes) -> Iterator[DatasetReader]:
    """Open an uploaded file held in memory (GDAL /vsimem/, no temp files)."""
    driver = check_header(bytes_reader(data), len(data))
    memfile = MemoryFile(data)
    try:
        with span("open"):
            dataset = _open(memfile.name, driver)
    except BaseException:
        memfile.close()
        raise
    with memfile, dataset, _gdal_errors_are_unreadable():
        yield dataset


@contextmanager
def open_path(path: str, driver: str = GTIFF_DRIVER) -> Iterator[DatasetReader]:
    """Open a local file or a GDAL /vsis3/ path the caller has already checked (`check_header`, which
    chose `driver`)."""
    with span("open"):
        dataset = _open(path, driver)
    with dataset, _gdal_errors_are_unreadable():
        yield dataset
