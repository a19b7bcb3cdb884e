"""Sentinel-2 SAFE products in zips: recognise ESA's layout in a checked member listing, choose the image a
thumbnail reads (the TCI at its coarsest resolution) and parse the product's metadata; plus band names
from Sentinel-2 image file names and the GDAL path of a member.

Only members whose full names match the layout are ever read or opened; nothing inside the archive
(XML paths, manifest entries) is followed.
"""

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from handler.core.errors import ArchiveTooLarge, InvalidProduct, UnsafeArchive, UnsupportedFormat
from handler.core.product import ProductMetadata
from handler.core.safe_metadata import parse_metadata
from handler.core.sentinel2 import IMAGE_NAME
from handler.core.zip_archive import Member

PRODUCT_XML = re.compile(r"(?P<safe>[^/]+\.SAFE)/MTD_MSIL(?P<level>1C|2A)\.xml")
MAX_XML_BYTES = 4 << 20  # MTD_TL.xml ~0.6 MB, MTD_MSIL2A.xml ~60 KB
# JPEG 2000 data does not compress (only its few KB of XML boxes do): a deflated image inflating to more
# than twice its compressed size, plus that slack, is a bomb.
MAX_IMAGE_RATIO, IMAGE_METADATA_SLACK = 2, 64 << 10
ReadMember = Callable[[str, int], bytes]  # (member name, max bytes) -> its uncompressed bytes


@dataclass(frozen=True)
class Product:
    """A recognised product: its metadata and the member a thumbnail reads (`image.name`, its path inside the
    zip, e.g. `S2B_MSIL2A_....SAFE/GRANULE/L2A_.../IMG_DATA/R60m/T32TQM_..._TCI_60m.jp2`; `image.method`
    says whether GDAL can seek in it or must inflate it from its start)."""

    metadata: ProductMetadata
    image: Member
    resolution: int  # metres per pixel of `image` (60 for L2A, 10 for L1C: read through its JPEG 2000 levels)


def _one(matches: list[re.Match], what: str) -> re.Match:
    """The single match, or InvalidProduct: a product with two metadata files or granules is ambiguous."""
    if len(matches) != 1:
        raise InvalidProduct(f"The product holds {len(matches)} {what}; exactly one is expected.")
    return matches[0]


def _images(names: Iterable[str], granule: str, level: str) -> dict[int, str]:
    """The granule's TCI images by resolution, from the names that follow the level's layout exactly."""
    folder = (
        re.escape(granule) + r"/IMG_DATA/R(?P<folder>10|20|60)m/"
        if level == "2A"
        else re.escape(granule) + r"/IMG_DATA/"
    )
    layout = re.compile(folder + IMAGE_NAME.pattern)
    images: dict[int, str] = {}
    for name in names:
        match = layout.fullmatch(name)
        if match is None or match.group("band") != "TCI":
            continue
        resolution = match.group("resolution")
        if level == "2A" and resolution != match.group("folder") or level == "1C" and resolution is not None:
            continue
        key = int(resolution or 10)
        if key in images:
            raise InvalidProduct(f"The product holds two {key} m TCI images.")
        images[key] = name
    return images


def read_product(members: Iterable[Member], read_member: ReadMember) -> Product:
    """Recognise a SAFE product in a checked zip listing (`ZipArchive.members`) and read its metadata
    through `read_member` (`ZipArchive.read`): `<name>.SAFE/MTD_MSIL2A.xml` or `MTD_MSIL1C.xml`, one
    `GRANULE/<granule>/MTD_TL.xml`, and the TCI to render (R60m for L2A, the 10 m TCI for L1C)."""
    by_name = {member.name: member for member in members}
    product = [match for name in by_name if (match := PRODUCT_XML.fullmatch(name))]
    if not product:
        raise UnsupportedFormat("The zip is not a Sentinel-2 SAFE product (no MTD_MSIL1C.xml or MTD_MSIL2A.xml).")
    safe, level = _one(product, "product metadata files").group("safe", "level")
    tile_xml = re.compile(re.escape(safe) + r"/GRANULE/[^/]+/MTD_TL\.xml")
    granule = (
        _one([match for name in by_name if (match := tile_xml.fullmatch(name))], "granule metadata files")
        .group(0)
        .rpartition("/")[0]
    )
    images = _images(by_name, granule, level)
    if not images:
        raise InvalidProduct("The product has no true-colour (TCI) image where its layout puts one.")
    resolution = max(images)
    image = by_name[images[resolution]]
    if image.size > MAX_IMAGE_RATIO * image.compressed_size + IMAGE_METADATA_SLACK:
        raise ArchiveTooLarge("The product's image claims more bytes than its compressed data can hold (zip bomb).")
    metadata = parse_metadata(
        read_member(f"{safe}/MTD_MSIL{level}.xml", MAX_XML_BYTES), read_member(f"{granule}/MTD_TL.xml", MAX_XML_BYTES)
    )
    if metadata.level != f"L{level}":
        raise InvalidProduct("The product's metadata and its file names disagree on the processing level.")
    return Product(metadata, image, resolution)


def vsizip_path(archive: str, member: str) -> str:
    """GDAL's path of `member` inside the zip at `archive` (a local path or `/vsis3/bucket/key`):
    `/vsizip/{archive}/member`; the braces let the archive's name end in anything but `.zip`, so a brace in
    `archive` would end it early and let the rest name another file: refused."""
    if any(char in archive for char in "{}"):
        raise UnsafeArchive("An archive path may not contain braces.")
    return f"/vsizip/{{{archive}}}/{member}"
