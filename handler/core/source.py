"""Open any accepted input — GeoTIFF/COG, JPEG 2000, Sentinel-2 SAFE zip — through one call, every check
before GDAL sees a byte.

The first bytes choose the path. A TIFF or JPEG 2000 file gets its bounded structure scan and is opened
by the one driver its magic bytes name. A zip must be a SAFE product: its checked listing
(`zip_archive.py`), its layout and metadata (`safe.py`), then the JPEG 2000 pre-scan of the one image a
thumbnail reads (the TCI), through the archive; only then does GDAL open that member, in place when it is
STORED (`/vsizip/` range-reads the member alone, also over `/vsis3/`), from memory when it is DEFLATED
(GDAL's `/vsizip/` would inflate it again from its start on every backward seek: measured over `/vsis3/`,
885 requests, 612 MB and 50 s for one product).
"""

import os
from contextlib import contextmanager
from typing import Iterator, NamedTuple

from rasterio.io import DatasetReader, MemoryFile

from handler.core.errors import ArchiveTooLarge, UnreadableRaster
from handler.core.jp2_scan import scan_jp2
from handler.core.product import ProductMetadata
from handler.core.safe_open import JP2_DRIVER, check_header, open_path
from handler.core.safe import read_product, vsizip_path
from handler.core.spans import span
from handler.core.tiff_scan import Read, file_reader
from handler.core.zip_archive import CORRUPT, DEFLATED, ZipArchive

ZIP_MAGIC = b"PK\x03\x04"  # a local file header: the first member of a zip
# A DEFLATED image is inflated into memory once: an L2A R60m TCI is ~3-4 MB, an L1C 10 m TCI ~130 MB.
MAX_INFLATED_IMAGE_BYTES = 256 << 20
INFLATE_CHUNK_BYTES = 1 << 20


class _SmallReadPages:
    """A zip's reads as few ranged requests: reads up to a page long (the archive's end and directory, local
    headers, the metadata XML, the image's JPEG 2000 header: a product's few scattered spots) come from
    aligned pages fetched once, one request per missing run; longer reads (an image to inflate) go straight
    through, uncached. At most `max_pages` are kept; past them every read goes straight through, so a hostile
    layout costs at most that many pages more than the archive's own budgets allow."""

    def __init__(self, read: Read, size: int, page: int = 1 << 16, max_pages: int = 64):
        self._read, self._size, self._page, self._max_pages = read, size, page, max_pages
        self._pages: dict[int, bytes] = {}

    def __call__(self, offset: int, length: int) -> bytes:
        if length <= 0 or length > self._page:
            return self._read(offset, length)
        first, last = offset // self._page, (offset + length - 1) // self._page
        missing = [index for index in range(first, last + 1) if index not in self._pages]
        if len(self._pages) + len(missing) > self._max_pages:
            return self._read(offset, length)
        if missing:
            start, end = missing[0] * self._page, min((missing[-1] + 1) * self._page, self._size)
            data = self._read(start, end - start)
            for index in missing:
                self._pages[index] = data[index * self._page - start : (index + 1) * self._page - start]
        joined = b"".join(self._pages[index] for index in range(first, last + 1))
        return joined[offset - first * self._page : offset - first * self._page + length]


class Source(NamedTuple):
    """An opened input: the dataset to render and describe; for a SAFE zip also its product metadata and
    the member rendered."""

    dataset: DatasetReader
    product: ProductMetadata | None = None
    member: str | None = None  # path inside the zip of the image read (the TCI)


@contextmanager
def _open_raster(read: Read, size: int, path: str) -> Iterator[Source]:
    """A GeoTIFF / COG or JPEG 2000 file: its header scan, then the driver its magic bytes chose."""
    driver = check_header(read, size)
    with open_path(path, driver) as dataset:
        yield Source(dataset)


@contextmanager
def _open_product(read: Read, size: int, path: str) -> Iterator[Source]:
    """A SAFE product zip: listing, layout and metadata, the image's JPEG 2000 pre-scan, then the image."""
    with span("product"):
        archive = ZipArchive(_SmallReadPages(read, size), size)
        product = read_product(archive.members, archive.read)
        image = product.image
        if image.method == DEFLATED and image.size > MAX_INFLATED_IMAGE_BYTES:
            raise ArchiveTooLarge(
                f"The product's image is deflated and {image.size:,} bytes uncompressed; at most "
                f"{MAX_INFLATED_IMAGE_BYTES:,} are inflated into memory (an image stored "
                "uncompressed in the zip is read in place, whatever its size)."
            )
        member = archive.member_reader(image.name)
        scan_jp2(member, image.size)
    if image.method != DEFLATED:  # STORED: GDAL range-reads the member alone
        with open_path(vsizip_path(path, image.name), JP2_DRIVER) as dataset:
            yield Source(dataset, product.metadata, image.name)
        return
    # One pass over the compressed bytes, inflated chunk by chunk straight into GDAL's /vsimem/: the image
    # is in memory once (the CRC is checked at its end). Then the (cheap) header checks on what was inflated.
    with MemoryFile() as memfile:
        with span("inflate"):
            for offset in range(0, image.size, INFLATE_CHUNK_BYTES):
                memfile.write(member(offset, min(INFLATE_CHUNK_BYTES, image.size - offset)))
        if memfile.tell() != image.size:
            raise UnreadableRaster(CORRUPT)
        driver = check_header(file_reader(memfile), image.size)
        with open_path(memfile.name, driver) as dataset:
            yield Source(dataset, product.metadata, image.name)


@contextmanager
def open_source(read: Read, size: int, path: str) -> Iterator[Source]:
    """Open the input `read` reads (`size` bytes): a GeoTIFF / COG, a JPEG 2000 file or a Sentinel-2 SAFE
    product zip. `path` is GDAL's path of the same bytes (a local file, /vsis3/bucket/key, a /vsimem/
    file); GDAL is given it only after every check passed. Refusals are RasterErrors."""
    opener = _open_product if read(0, min(size, len(ZIP_MAGIC))) == ZIP_MAGIC else _open_raster
    with opener(read, size, path) as source:
        yield source


@contextmanager
def open_file(path: str) -> Iterator[Source]:
    """An untrusted local file (a spooled upload): `open_source` over the file's bytes."""
    with open(path, "rb") as file, open_source(file_reader(file), os.fstat(file.fileno()).st_size, path) as source:
        yield source
