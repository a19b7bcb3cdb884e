"""A bounded pre-open check of a JPEG 2000 file (JP2 boxes or a raw J2K codestream) before GDAL's
JP2OpenJPEG driver sees it.

OpenJPEG's cost grows with the codestream's structure, not with its bytes: measured with patched
headers on 2 cores (rasterio 1.5.2, OpenJPEG 2.5.4), a 512 px read of a 16000² image in 62,500
tiles of 64² takes 4.8 s and 1.45 GB (1,024 tiles of 1024²: 0.1 s, 105 MB), and one 60000² tile
450 MB before a pixel is decoded (one 16384² tile: 114 MB). This module walks the boxes and the
codestream's main header through a `read(offset, length)` callable (bytes, a file, ranged S3 GETs),
reading box headers, `ihdr`, the GeoJP2 GeoTIFF (checked like an upload) and the main header only,
and refuses such files. Pure Python, no GDAL.
"""

import struct
from dataclasses import dataclass, replace

from handler.core.errors import HeaderTooComplex, RasterTooLarge, UnreadableRaster, UnsupportedFormat
from handler.core.limits import LIMITS
from handler.core.tiff_scan import Read, bytes_reader, scan_tiff

JP2_SIGNATURE = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
J2K_START = b"\xff\x4f\xff\x51"  # SOC then SIZ: a raw codestream
SOC, SIZ, COD, COC, SOT = 0xFF4F, 0xFF51, 0xFF52, 0xFF53, 0xFF90
# The uuid of a GeoJP2 box: a small GeoTIFF that GDAL opens with its GTiff driver for georeferencing.
GEOJP2_UUID = bytes.fromhex("b14bf8bd083d4b43a5ae8cd7d5a6ce03")
MAX_LEVELS = 32  # ISO 15444-1 A.6.1: at most 32 decomposition levels (OpenJPEG refuses more at open)
MAX_TILES = 65535  # ISO 15444-1 A.4.2: tile indexes are 16-bit, 0..65534
CORRUPT = "The file's JPEG 2000 structure is corrupt or truncated."


@dataclass(frozen=True)
class Jp2Limits:
    """What a JPEG 2000 file may hold before GDAL opens it (Sentinel-2: 121 tiles of 1024², 5 levels)."""

    max_boxes: int = 64  # GDAL parses every xml box: 20,000 take 1.15 s at open
    max_metadata_bytes: int = 1 << 20  # boxes but the codestream (GMLJP2, GeoJP2): S2 ~3 KB; GDAL keeps
    # them in memory (one 64 MB xml box: +183 MB RSS)
    max_markers: int = 256  # main-header markers (S2 < 10) and bytes (S2's TLM ~1 KB): bound this
    max_main_header_bytes: int = 1 << 20  # scan's own reads, one per marker, and PPM packet headers
    max_tiles: int = 4096  # 4,096 tiles: 0.3 s, 175 MB measured; 62,500: 4.8 s, 1.45 GB
    max_tile_pixels: int = 1 << 28  # one 16384² tile: 114 MB measured; one 60000² tile: 450 MB
    max_components: int = LIMITS.max_bands
    max_pixels: int = LIMITS.max_raster_pixels


JP2_LIMITS = Jp2Limits()


@dataclass(frozen=True)
class Codestream:
    """What SIZ and COD say: the image grid, its tiling, components and resolution levels."""

    width: int
    height: int
    components: int
    bit_depth: int  # the largest component precision, in bits
    tile_width: int
    tile_height: int
    tiles: int
    levels: int  # decomposition levels: the codestream holds levels + 1 resolutions (GDAL's overviews)


@dataclass(frozen=True)
class Jp2Layout:
    """What the scan found: a boxed JP2 file or a raw codestream, where the codestream starts, its header."""

    boxed: bool
    codestream_offset: int
    codestream: Codestream


@dataclass(frozen=True)
class _Box:
    kind: bytes
    start: int  # the box header's offset
    payload: int  # the payload's offset
    end: int


def _read(read: Read, size: int, offset: int, length: int) -> bytes:
    """Exactly `length` bytes at `offset`, or UnreadableRaster when they are not in the file."""
    if offset < 0 or length < 0 or offset + length > size:
        raise UnreadableRaster(CORRUPT)
    data = read(offset, length)
    if len(data) != length:
        raise UnreadableRaster(CORRUPT)
    return data


def _boxes(read: Read, start: int, end: int, budget: list[int], limits: Jp2Limits) -> list[_Box]:
    """The boxes between `start` and `end`: each must lie inside, with a valid length (ISO 15444-1 I.4).
    `budget` is the shared count of boxes the scan may still walk, of `limits.max_boxes`."""
    boxes, offset = [], start
    while offset < end:
        if budget[0] == 0:
            raise HeaderTooComplex(f"The JPEG 2000 file has more than {limits.max_boxes} boxes.")
        budget[0] -= 1
        length, kind = struct.unpack(">I4s", _read(read, end, offset, 8))
        header = 8
        if length == 1:
            (length,) = struct.unpack(">Q", _read(read, end, offset + 8, 8))
            header = 16
        elif length == 0:  # the last box runs to the end of its container
            length = end - offset
        if length < header or offset + length > end:
            raise UnreadableRaster(CORRUPT)
        boxes.append(_Box(kind, offset, offset + header, offset + length))
        offset += length
    return boxes


def _check_metadata(read: Read, boxes: list[_Box], limits: Jp2Limits) -> None:
    """Cap the bytes GDAL parses outside the codestream; the GeoJP2 GeoTIFF gets the TIFF pre-scan."""
    metadata = sum(box.end - box.start for box in boxes if box.kind != b"jp2c")
    if metadata > limits.max_metadata_bytes:
        raise HeaderTooComplex(f"The JPEG 2000 file's metadata boxes hold over {limits.max_metadata_bytes:,} bytes.")
    for box in boxes:
        if box.kind == b"uuid" and box.end - box.payload > 16:
            payload = _read(read, box.end, box.payload, box.end - box.payload)
            if payload[:16] == GEOJP2_UUID:
                scan_tiff(bytes_reader(payload[16:]), len(payload) - 16)


def _jp2_boxes(read: Read, size: int, limits: Jp2Limits) -> tuple[int, int, tuple[int, int, int]]:
    """Walk a JP2 file's boxes: signature, ftyp with the jp2 brand, jp2h starting with ihdr, one
    codestream. Returns the codestream's offset and end and ihdr's (width, height, components)."""
    budget = [limits.max_boxes]
    boxes = _boxes(read, 0, size, budget, limits)
    if len(boxes) < 2 or boxes[0].end != 12 or boxes[1].kind != b"ftyp":
        raise UnreadableRaster(CORRUPT)
    ftyp = _read(read, size, boxes[1].payload, boxes[1].end - boxes[1].payload)
    brands = {ftyp[i : i + 4] for i in range(8, len(ftyp) - 3, 4)} | {ftyp[:4]}
    if b"jp2 " not in brands:
        raise UnsupportedFormat(
            "Only JP2-compatible JPEG 2000 files are accepted (this one needs a JPX or Motion JPEG 2000 reader)."
        )
    kinds = [box.kind for box in boxes]
    if kinds.count(b"jp2h") != 1 or b"jp2c" not in kinds or kinds.index(b"jp2h") > kinds.index(b"jp2c"):
        raise UnreadableRaster(CORRUPT)
    _check_metadata(read, boxes, limits)
    header = boxes[kinds.index(b"jp2h")]
    children = _boxes(read, header.payload, header.end, budget, limits)
    if not children or children[0].kind != b"ihdr" or children[0].end - children[0].payload != 14:
        raise UnreadableRaster(CORRUPT)
    height, width, components = struct.unpack(">IIH", _read(read, size, children[0].payload, 10))
    codestream = boxes[kinds.index(b"jp2c")]
    return codestream.payload, codestream.end, (width, height, components)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _siz(segment: bytes, limits: Jp2Limits) -> Codestream:
    """Image and tile grid from SIZ (ISO 15444-1 A.5.1), checked against the spec and `limits`;
    `levels` is filled in from COD afterwards."""
    if len(segment) < 38:
        raise UnreadableRaster(CORRUPT)
    x1, y1, x0, y0, tile_w, tile_h, tile_x0, tile_y0, components = struct.unpack_from(">IIIIIIIIH", segment, 4)
    if len(segment) != 38 + 3 * components or components == 0:
        raise UnreadableRaster(CORRUPT)
    precisions = [(segment[38 + 3 * i] & 0x7F) + 1 for i in range(components)]
    sampling = segment[39::3] + segment[40::3]
    if (
        x1 <= x0
        or y1 <= y0
        or not tile_w
        or not tile_h
        or tile_x0 > x0
        or tile_y0 > y0
        or tile_x0 + tile_w <= x0
        or tile_y0 + tile_h <= y0
        or 0 in sampling
        or max(precisions) > 38
    ):
        raise UnreadableRaster(CORRUPT)
    width, height = x1 - x0, y1 - y0
    if components > limits.max_components:
        raise RasterTooLarge(f"The image has {components} components; at most {limits.max_components} are accepted.")
    if width * height > limits.max_pixels:
        raise RasterTooLarge(
            f"The image is {width} x {height} pixels; at most {limits.max_pixels:,} pixels are accepted."
        )
    tiles = _ceil_div(x1 - tile_x0, tile_w) * _ceil_div(y1 - tile_y0, tile_h)
    if tiles > MAX_TILES:
        raise UnreadableRaster(CORRUPT)
    if tiles > limits.max_tiles:
        raise HeaderTooComplex(f"The image is cut into {tiles:,} tiles; at most {limits.max_tiles:,} are accepted.")
    if min(tile_w, width) * min(tile_h, height) > limits.max_tile_pixels:
        raise HeaderTooComplex(
            f"The image's tiles are {min(tile_w, width)} x {min(tile_h, height)} pixels; at "
            f"most {limits.max_tile_pixels:,} pixels per tile are accepted."
        )
    return Codestream(width, height, components, max(precisions), tile_w, tile_h, tiles, levels=0)


def _levels(marker: int, segment: bytes, components: int) -> int:
    """Decomposition levels from COD (A.6.1) or COC (A.6.2; its component index is 1 or 2 bytes)."""
    at = 7 if marker == COD else (4 if components < 257 else 5)
    if len(segment) <= at:
        raise UnreadableRaster(CORRUPT)
    levels = segment[at]
    if levels > MAX_LEVELS:
        raise UnreadableRaster(
            f"The codestream has {levels} resolution levels; JPEG 2000 allows at most {MAX_LEVELS} (corrupt)."
        )
    return levels


def scan_codestream(read: Read, start: int, end: int, limits: Jp2Limits = JP2_LIMITS) -> Codestream:
    """Walk the main header (SOC, SIZ, then marker segments up to the first SOT) of the codestream at
    `start`; `levels` is the fewest decomposition levels any COD/COC gives (what every band has)."""
    if _read(read, end, start, 4) != J2K_START:
        raise UnreadableRaster(CORRUPT)
    offset, markers = start + 2, 0
    info, levels = None, []
    while True:
        marker, length = struct.unpack(">HH", _read(read, end, offset, 4))
        if marker == SOT:
            break
        if marker >> 8 != 0xFF or length < 2:
            raise UnreadableRaster(CORRUPT)
        markers += 1
        if markers > limits.max_markers or offset + 2 + length - start > limits.max_main_header_bytes:
            raise HeaderTooComplex(
                f"The codestream's main header has over {limits.max_markers} markers or "
                f"{limits.max_main_header_bytes:,} bytes."
            )
        if (marker == SIZ) != (info is None):  # SIZ comes first, once
            raise UnreadableRaster(CORRUPT)
        if marker in (SIZ, COD, COC):
            segment = _read(read, end, offset + 2, length)
            if marker == SIZ:
                info = _siz(segment, limits)
            else:
                levels.append(_levels(marker, segment, info.components))
        offset += 2 + length
    if info is None or not levels:
        raise UnreadableRaster(CORRUPT)
    return replace(info, levels=min(levels))


def scan_jp2(read: Read, size: int, limits: Jp2Limits = JP2_LIMITS) -> Jp2Layout:
    """Check a JP2 file or a raw J2K codestream before GDAL opens it: malformed boxes, absurd sizes,
    component, tile and level counts are refused with RasterErrors. Reads box headers, ihdr, GeoJP2
    and the main header only: a bounded number of bytes whatever `size` is."""
    head = _read(read, size, 0, min(size, 12))
    if head == JP2_SIGNATURE:
        start, end, (width, height, components) = _jp2_boxes(read, size, limits)
        codestream = scan_codestream(read, start, end, limits)
        if (width, height, components) != (codestream.width, codestream.height, codestream.components):
            raise UnreadableRaster("The file's JP2 header and its codestream disagree on the image size (corrupt).")
        return Jp2Layout(True, start, codestream)
    if head.startswith(J2K_START):
        return Jp2Layout(False, 0, scan_codestream(read, 0, size, limits))
    raise UnsupportedFormat("The file is not a JPEG 2000 image.")
