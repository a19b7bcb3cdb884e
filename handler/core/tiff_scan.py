"""A bounded pre-scan of a TIFF's structure (classic and BigTIFF) before GDAL opens it.

GDAL's open cost grows with structure, not pixels: measured with tests/security/tiff_writer.py on
2 cores, 10,000 mask IFDs (1.6 MB) take 26 s to open, 100,000 GDAL_METADATA items (2.8 MB) 19 s,
4,000 unknown tags per IFD 0.3 s each, and a 128 MB tag 480 MB of memory. This module walks the IFD
chain through a `read(offset, length)` callable (bytes, a file or ranged S3 GETs), reading only IFD
tables and GDAL_METADATA, and refuses such files before GDAL sees them. Pure Python, no GDAL.
"""

import struct
from dataclasses import dataclass
from typing import BinaryIO, Callable

from handler.core.errors import HeaderTooComplex, RasterTooLarge, UnreadableRaster
from handler.core.limits import LIMITS

Read = Callable[[int, int], bytes]

# Bytes per value of each TIFF field type (TIFF 6.0, BigTIFF); other types count as 8 so the caps stay safe.
TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
IMAGE_WIDTH, IMAGE_LENGTH, SAMPLES_PER_PIXEL, ROWS_PER_STRIP, PLANAR_CONFIG = 256, 257, 277, 278, 284
STRIP_OFFSETS, STRIP_BYTE_COUNTS, TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS = 273, 279, 322, 323, 324, 325
GDAL_METADATA = 42112
# Tags whose value is another IFD that GDAL reads as metadata (EXIF, GPS).
SUB_IFD_POINTERS = (34665, 34853)
# Block offset and size arrays: bounded by the raster's block count, not by the tag-size cap.
BLOCK_ARRAYS = (STRIP_OFFSETS, STRIP_BYTE_COUNTS, TILE_OFFSETS, TILE_BYTE_COUNTS)
CORRUPT = "The file's TIFF structure is corrupt or truncated."


@dataclass(frozen=True)
class ScanLimits:
    """What a file may hold before GDAL opens it (real GeoTIFFs and COGs use a small fraction)."""

    max_ifds: int = 64  # images, overviews, masks, EXIF/GPS directories
    max_entries: int = 128  # tags per IFD
    max_tag_bytes: int = 1 << 20  # one tag's payload (block arrays excepted)
    max_total_tag_bytes: int = 4 << 20  # all tags' payloads in the file (block arrays excepted)
    max_metadata_items: int = 4096  # <Item> elements in all GDAL_METADATA tags
    max_bands: int = LIMITS.max_bands  # SamplesPerPixel of any IFD


SCAN_LIMITS = ScanLimits()


@dataclass(frozen=True)
class Entry:
    """One IFD entry: its payload is `count` values of `type` at `offset` (or inline in the entry)."""

    tag: int
    type: int
    count: int
    offset: int
    inline: bytes | None

    @property
    def size(self) -> int:
        return self.count * TYPE_SIZE.get(self.type, 8)


@dataclass(frozen=True)
class TiffLayout:
    """What the scan found: byte order, BigTIFF or not, and how many IFDs it walked."""

    byteorder: str
    bigtiff: bool
    ifds: int


class _Format:
    """Field widths of classic TIFF or BigTIFF in one byte order."""

    def __init__(self, byteorder: str, bigtiff: bool):
        self.byteorder, self.bigtiff = byteorder, bigtiff
        self.count, self.offset = ("Q", "Q") if bigtiff else ("H", "I")
        self.entry_size, self.inline = (20, 8) if bigtiff else (12, 4)

    def unpack(self, code: str, data: bytes, at: int = 0) -> tuple:
        return struct.unpack_from(self.byteorder + code, data, at)


def _read(read: Read, size: int, offset: int, length: int) -> bytes:
    """Exactly `length` bytes at `offset`, or UnreadableRaster when they are not in the file (never
    asking `read` for them: a ranged GET past the end is an S3 error, not a corrupt file)."""
    if offset + length > size:
        raise UnreadableRaster(CORRUPT)
    data = read(offset, length)
    if len(data) != length:
        raise UnreadableRaster(CORRUPT)
    return data


def _header(read: Read, size: int) -> tuple[_Format, int]:
    """The format and the first IFD's offset."""
    head = _read(read, size, 0, min(size, 16))
    byteorder = {b"II": "<", b"MM": ">"}.get(head[:2])
    if byteorder is None or len(head) < 8:
        raise UnreadableRaster(CORRUPT)
    version = struct.unpack_from(byteorder + "H", head, 2)[0]
    if version == 42:
        return _Format(byteorder, False), struct.unpack_from(byteorder + "I", head, 4)[0]
    if version == 43 and len(head) == 16 and struct.unpack_from(byteorder + "HH", head, 4) == (8, 0):
        return _Format(byteorder, True), struct.unpack_from(byteorder + "Q", head, 8)[0]
    raise UnreadableRaster(CORRUPT)


def _entries(read: Read, size: int, fmt: _Format, offset: int, limits: ScanLimits) -> tuple[list[Entry], int]:
    """The entries of the IFD at `offset` and the next IFD's offset."""
    count_size = struct.calcsize(fmt.count)
    (count,) = fmt.unpack(fmt.count, _read(read, size, offset, count_size))
    table_size = count * fmt.entry_size + struct.calcsize(fmt.offset)
    if offset + count_size + table_size > size:
        raise UnreadableRaster(CORRUPT)
    if count > limits.max_entries:
        raise HeaderTooComplex(
            f"An image directory of the file has {count:,} tags; at most {limits.max_entries} are accepted."
        )
    table = _read(read, size, offset + count_size, table_size)
    entries = []
    for start in range(0, count * fmt.entry_size, fmt.entry_size):
        tag, kind, number = fmt.unpack("HH" + fmt.offset, table, start)
        value = table[start + fmt.entry_size - fmt.inline : start + fmt.entry_size]
        entry = Entry(tag, kind, number, 0, value)
        if entry.size > fmt.inline:
            entry = Entry(tag, kind, number, fmt.unpack(fmt.offset, value)[0], None)
            if entry.offset + entry.size > size:
                raise UnreadableRaster(CORRUPT)
        entries.append(entry)
    return entries, fmt.unpack(fmt.offset, table, count * fmt.entry_size)[0]


def _value(fmt: _Format, entry: Entry, default: int | None = None) -> int | None:
    """The first value of an inline integer entry (SHORT, LONG, LONG8, IFD, IFD8), else `default`."""
    code = {3: "H", 4: "I", 16: "Q", 13: "I", 18: "Q"}.get(entry.type)
    if code is None or entry.inline is None or entry.count < 1:
        return default
    return fmt.unpack(code, entry.inline)[0]


def _blocks_needed(fmt: _Format, tags: dict[int, Entry]) -> int | None:
    """How many blocks the IFD's raster has (x bands when band-interleaved), or None when its size or
    block shape is missing or zero (GDAL then refuses the IFD itself)."""
    values = {tag: _value(fmt, entry) for tag, entry in tags.items()}
    width, height = values.get(IMAGE_WIDTH), values.get(IMAGE_LENGTH)
    if TILE_OFFSETS in tags:
        block_width, block_height = values.get(TILE_WIDTH), values.get(TILE_LENGTH)
    else:
        block_width, block_height = width, values.get(ROWS_PER_STRIP) or height
    if not (width and height and block_width and block_height):
        return None
    planes = (values.get(SAMPLES_PER_PIXEL) or 1) if values.get(PLANAR_CONFIG) == 2 else 1
    return -(-width // block_width) * -(-height // block_height) * planes


def _check_ifd(fmt: _Format, entries: list[Entry], limits: ScanLimits) -> None:
    """Per-IFD rules: bands, tag payload sizes, block arrays no larger than the raster needs."""
    tags = {entry.tag: entry for entry in entries}
    samples = _value(fmt, tags[SAMPLES_PER_PIXEL], 1) if SAMPLES_PER_PIXEL in tags else 1
    if samples > limits.max_bands:
        raise RasterTooLarge(f"An image of the file has {samples} bands; at most {limits.max_bands} are accepted.")
    for entry in entries:
        if entry.tag not in BLOCK_ARRAYS and entry.size > limits.max_tag_bytes:
            raise HeaderTooComplex(
                f"TIFF tag {entry.tag} holds {entry.size:,} bytes; at most "
                f"{limits.max_tag_bytes:,} per tag are accepted."
            )
    # Fewer offsets than blocks: libtiff ignores the array and GDAL fails on read; more: absurd.
    needed = _blocks_needed(fmt, tags)
    for tag in BLOCK_ARRAYS:
        if needed is not None and tag in tags and tags[tag].count > needed:
            raise UnreadableRaster(
                f"The file lists {tags[tag].count:,} block offsets or sizes for an image "
                f"of {needed:,} blocks (corrupt)."
            )


def _metadata_items(read: Read, size: int, entry: Entry) -> int:
    """How many <Item> elements a GDAL_METADATA tag holds (GDAL adds each to a list: quadratic)."""
    if entry.inline is not None:
        return entry.inline[: entry.size].count(b"<Item")
    return _read(read, size, entry.offset, entry.size).count(b"<Item")


def scan_tiff(read: Read, size: int, limits: ScanLimits = SCAN_LIMITS) -> TiffLayout:
    """Walk every IFD (the chain, plus EXIF/GPS directories) and refuse structures that make GDAL's
    open slow or memory-hungry, loops and out-of-file offsets. Reads IFD tables and GDAL_METADATA
    only, each at most once: a bounded number of bytes whatever `size` is."""
    fmt, first = _header(read, size)
    pending, seen = [(first, True)], set()
    tag_bytes = metadata_items = 0
    while pending:
        offset, in_chain = pending.pop(0)
        if offset == 0 or (offset in seen and not in_chain):
            continue
        if offset in seen:
            raise UnreadableRaster("The file's image directories form a loop (corrupt).")
        if len(seen) == limits.max_ifds:
            raise HeaderTooComplex(
                f"The file has more than {limits.max_ifds} image directories (images, overviews, masks)."
            )
        seen.add(offset)
        entries, next_offset = _entries(read, size, fmt, offset, limits)
        _check_ifd(fmt, entries, limits)
        tag_bytes += sum(entry.size for entry in entries if entry.tag not in BLOCK_ARRAYS)
        if tag_bytes > limits.max_total_tag_bytes:
            raise HeaderTooComplex(f"The file's TIFF tags hold over {limits.max_total_tag_bytes:,} bytes.")
        for entry in entries:
            if entry.tag == GDAL_METADATA:
                metadata_items += _metadata_items(read, size, entry)
            elif entry.tag in SUB_IFD_POINTERS:
                pending.append((_value(fmt, entry, 0), False))
        if metadata_items > limits.max_metadata_items:
            raise HeaderTooComplex(f"The file's GDAL metadata holds over {limits.max_metadata_items:,} items.")
        pending.append((next_offset, True))
    return TiffLayout(fmt.byteorder, fmt.bigtiff, len(seen))


class PagedReader:
    """A `Read` over a remote object: aligned pages fetched once (one call per missing run) and kept,
    within a budget of bytes and calls, so a scan never downloads more than `budget` bytes in at most
    `max_requests` calls (real files: one 64 KiB call; IFDs spread over a file: one or two per IFD)."""

    def __init__(self, fetch: Read, size: int, page: int = 1 << 16, budget: int = 8 << 20, max_requests: int = 160):
        self.fetch, self.size, self.page, self.budget, self.max_requests = fetch, size, page, budget, max_requests
        self.pages: dict[int, bytes] = {}
        self.fetched = self.requests = 0

    def __call__(self, offset: int, length: int) -> bytes:
        first, last = offset // self.page, (offset + length - 1) // self.page
        missing = [index for index in range(first, last + 1) if index not in self.pages]
        if missing:
            start = missing[0] * self.page
            end = min((missing[-1] + 1) * self.page, self.size)
            if self.fetched + end - start > self.budget or self.requests == self.max_requests:
                raise HeaderTooComplex("The file's TIFF structure is spread over too many bytes to read.")
            data = self.fetch(start, end - start)
            self.fetched, self.requests = self.fetched + len(data), self.requests + 1
            for index in range(missing[0], missing[-1] + 1):
                at = index * self.page - start
                self.pages[index] = data[at : at + self.page]
        joined = b"".join(self.pages[index] for index in range(first, last + 1))
        return joined[offset - first * self.page : offset - first * self.page + length]


def bytes_reader(data: bytes) -> Read:
    """A `Read` over bytes in memory (an upload)."""
    view = memoryview(data)
    return lambda offset, length: bytes(view[offset : offset + length])


def file_reader(file: BinaryIO) -> Read:
    """A `Read` over an open binary file (an upload spooled to disk)."""

    def read(offset: int, length: int) -> bytes:
        file.seek(offset)
        return file.read(length)

    return read
