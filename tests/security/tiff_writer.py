"""A raw TIFF writer for hostile-structure tests: any tags, any IFD chain, tiny files for huge rasters.

Every tile or strip offset of an IFD points at ONE shared block (by default the deflate of a zero
block), so a 16000 x 16000 raster with thousands of blocks is a few KB. Classic TIFF and BigTIFF,
little or big endian. Nothing is validated: writing absurd structures is the point.

    write_tiff([Ifd(16000, 16000), Ifd(4000, 4000, subfile_type=REDUCED)], bigtiff=True)
"""

from __future__ import annotations

import functools
import lzma
import math
import struct
import zlib
from dataclasses import dataclass, field
from typing import Sequence

# Field types (TIFF 6.0 and BigTIFF) and the struct code of one value.
BYTE, ASCII, SHORT, LONG, RATIONAL, SBYTE, UNDEFINED, SSHORT, SLONG, SRATIONAL, FLOAT, DOUBLE = range(1, 13)
IFD = 13  # a LONG that points at a directory (TIFF Technical Note 1)
LONG8, SLONG8, IFD8 = 16, 17, 18
_CODE = {
    BYTE: "B",
    ASCII: "B",
    SHORT: "H",
    LONG: "I",
    RATIONAL: "I",
    SBYTE: "b",
    UNDEFINED: "B",
    SSHORT: "h",
    SLONG: "i",
    SRATIONAL: "i",
    FLOAT: "f",
    DOUBLE: "d",
    IFD: "I",
    LONG8: "Q",
    SLONG8: "q",
    IFD8: "Q",
}
_BYTES_TYPES = (BYTE, ASCII, SBYTE, UNDEFINED)

# Tags the writer fills in from an Ifd's fields (override or drop any of them with Ifd.tags).
NEW_SUBFILE_TYPE, IMAGE_WIDTH, IMAGE_LENGTH, BITS_PER_SAMPLE, COMPRESSION = 254, 256, 257, 258, 259
PHOTOMETRIC, IMAGE_DESCRIPTION, STRIP_OFFSETS, SAMPLES_PER_PIXEL, ROWS_PER_STRIP = 262, 270, 273, 277, 278
STRIP_BYTE_COUNTS, PLANAR_CONFIG, PREDICTOR = 279, 284, 317
TILE_WIDTH, TILE_LENGTH, TILE_OFFSETS, TILE_BYTE_COUNTS, EXTRA_SAMPLES, SAMPLE_FORMAT = 322, 323, 324, 325, 338, 339
MODEL_PIXEL_SCALE, MODEL_TIEPOINT, GEO_KEY_DIRECTORY, GDAL_METADATA, GDAL_NODATA = 33550, 33922, 34735, 42112, 42113

# Compression tag values with a built-in zero-block encoder; any other value needs Ifd.blob.
NONE, DEFLATE, ADOBE_DEFLATE, LZMA = 1, 8, 32946, 34925
# NewSubfileType values GDAL uses: an overview, a mask, a mask of an overview.
FULL, REDUCED, MASK, REDUCED_MASK = 0, 1, 4, 5
CONTIG, SEPARATE = 1, 2  # PlanarConfiguration: pixel-interleaved, band-interleaved
MINISBLACK, RGB, TRANSPARENCY_MASK = 1, 2, 4

# dtype -> (BitsPerSample, SampleFormat); "bit" is GDAL's 1-bit mask, cint* are GDAL's complex integers.
SAMPLE = {
    "bit": (1, 1),
    "uint8": (8, 1),
    "int8": (8, 2),
    "uint16": (16, 1),
    "int16": (16, 2),
    "uint32": (32, 1),
    "int32": (32, 2),
    "uint64": (64, 1),
    "int64": (64, 2),
    "float16": (16, 3),
    "float32": (32, 3),
    "float64": (64, 3),
    "cint16": (32, 5),
    "cint32": (64, 5),
    "complex64": (64, 6),
    "complex128": (128, 6),
}


@dataclass(frozen=True)
class Tag:
    """One IFD entry: a field type and its values (bytes or str for byte types, numbers otherwise).

    RATIONAL values are flat (numerator, denominator) pairs; `count` overrides the written count
    (to lie about the payload's length)."""

    type: int
    values: bytes | str | Sequence[float]
    count: int | None = None

    def payload(self, order: str) -> bytes:
        if self.type in _BYTES_TYPES:
            values = self.values
            return values.encode() + b"\0" if isinstance(values, str) else bytes(values)
        return struct.pack(f"{order}{len(self.values)}{_CODE[self.type]}", *self.values)

    def written_count(self, payload: bytes) -> int:
        if self.count is not None:
            return self.count
        size = struct.calcsize(_CODE[self.type]) * (2 if self.type in (RATIONAL, SRATIONAL) else 1)
        return len(payload) // size


def ascii_tag(text: str) -> Tag:
    return Tag(ASCII, text)


def geo_tags(
    epsg: int = 32633, origin: tuple[float, float] = (404400.0, 5342400.0), pixel: float = 10.0
) -> dict[int, Tag]:
    """GeoTIFF tags for a north-up projected raster (pixel size, top-left corner, EPSG code)."""
    return {
        MODEL_PIXEL_SCALE: Tag(DOUBLE, (pixel, pixel, 0.0)),
        MODEL_TIEPOINT: Tag(DOUBLE, (0.0, 0.0, 0.0, origin[0], origin[1], 0.0)),
        # version 1.1.0, 2 keys: GTModelType = projected, ProjectedCSTypeGeoKey = epsg
        GEO_KEY_DIRECTORY: Tag(SHORT, (1, 1, 0, 2, 1024, 0, 1, 1, 3072, 0, 1, epsg)),
    }


@functools.lru_cache(maxsize=32)
def zero_block(compression: int, size: int) -> bytes:
    """`size` zero bytes encoded with `compression` (streamed: a 256 MB block never sits in memory)."""
    if compression == NONE:
        return bytes(size)
    if compression in (DEFLATE, ADOBE_DEFLATE):
        encoder = zlib.compressobj(9)
    elif compression == LZMA:
        encoder = lzma.LZMACompressor(lzma.FORMAT_XZ)
    else:
        raise ValueError(f"no built-in encoder for compression {compression}: pass Ifd.blob")
    chunk, parts = bytes(min(size, 1 << 20)), []
    for start in range(0, size, len(chunk)):
        parts.append(encoder.compress(chunk[: min(len(chunk), size - start)]))
    return b"".join(parts) + encoder.flush()


@dataclass
class Ifd:
    """One image (IFD): a width x height raster whose blocks all share one stored block.

    `tile` is (width, height), or None for strips of `rows_per_strip` rows (None: one strip for the
    whole image). `block_count` overrides how many offsets are written (more or fewer than the raster
    needs). `tags` adds tags or replaces the computed ones; a None value drops a computed tag."""

    width: int
    height: int
    dtype: str = "uint16"
    samples: int = 1
    planar: int = CONTIG
    compression: int = DEFLATE
    tile: tuple[int, int] | None = (512, 512)
    rows_per_strip: int | None = None
    subfile_type: int = FULL
    photometric: int | None = None
    blob: bytes | None = None
    block_count: int | None = None
    tags: dict[int, Tag | None] = field(default_factory=dict)

    @property
    def block_shape(self) -> tuple[int, int]:
        """(width, height) of one block."""
        if self.tile:
            return self.tile
        return self.width, min(self.rows_per_strip or self.height, self.height)

    @property
    def blocks_needed(self) -> int:
        """How many blocks the raster needs (per band plane when band-interleaved)."""
        block_width, block_height = self.block_shape
        per_plane = math.ceil(self.width / block_width) * math.ceil(self.height / block_height)
        return per_plane * (self.samples if self.planar == SEPARATE else 1)

    @property
    def block_bytes(self) -> int:
        """Decoded size of one block."""
        bits, _ = SAMPLE[self.dtype]
        block_width, block_height = self.block_shape
        samples = self.samples if self.planar == CONTIG else 1
        return math.ceil(block_width * samples * bits / 8) * block_height

    def stored_block(self) -> bytes:
        return self.blob if self.blob is not None else zero_block(self.compression, self.block_bytes)

    def entries(self, block_offset: int, block_size: int, bigtiff: bool) -> dict[int, Tag]:
        """All tags of this IFD, computed ones first, then `tags` applied on top."""
        bits, sample_format = SAMPLE[self.dtype]
        mask = self.subfile_type in (MASK, REDUCED_MASK)
        photometric = self.photometric or (TRANSPARENCY_MASK if mask else RGB if self.samples == 3 else MINISBLACK)
        count = self.blocks_needed if self.block_count is None else self.block_count
        tags = {
            NEW_SUBFILE_TYPE: Tag(LONG, (self.subfile_type,)),
            IMAGE_WIDTH: Tag(LONG, (self.width,)),
            IMAGE_LENGTH: Tag(LONG, (self.height,)),
            BITS_PER_SAMPLE: Tag(SHORT, (bits,) * self.samples),
            COMPRESSION: Tag(SHORT, (self.compression,)),
            PHOTOMETRIC: Tag(SHORT, (photometric,)),
            SAMPLES_PER_PIXEL: Tag(SHORT, (self.samples,)),
            PLANAR_CONFIG: Tag(SHORT, (self.planar,)),
            SAMPLE_FORMAT: Tag(SHORT, (sample_format,) * self.samples),
        }
        extra = self.samples - (3 if photometric == RGB else 1)
        if extra > 0:
            tags[EXTRA_SAMPLES] = Tag(SHORT, (0,) * extra)
        offsets = Tag(LONG8 if bigtiff else LONG, (block_offset,) * count)
        sizes = Tag(LONG, (block_size,) * count)
        if self.tile:
            tags |= {
                TILE_WIDTH: Tag(LONG, (self.tile[0],)),
                TILE_LENGTH: Tag(LONG, (self.tile[1],)),
                TILE_OFFSETS: offsets,
                TILE_BYTE_COUNTS: sizes,
            }
        else:
            tags |= {
                ROWS_PER_STRIP: Tag(LONG, (self.block_shape[1],)),
                STRIP_OFFSETS: offsets,
                STRIP_BYTE_COUNTS: sizes,
            }
        for tag, value in self.tags.items():
            if value is None:
                tags.pop(tag, None)
            else:
                tags[tag] = value
        return tags


class _Encoder:
    """Classic TIFF or BigTIFF field widths for one byte order."""

    def __init__(self, bigtiff: bool, byteorder: str):
        if byteorder not in "<>":
            raise ValueError("byteorder is '<' or '>'")
        self.order, self.bigtiff = byteorder, bigtiff
        self.count, self.offset = ("Q", "Q") if bigtiff else ("H", "I")
        self.entry_size, self.inline = (20, 8) if bigtiff else (12, 4)

    def pack(self, code: str, value: int) -> bytes:
        return struct.pack(self.order + code, value)

    def header(self, first_ifd: int) -> bytes:
        mark = b"II" if self.order == "<" else b"MM"
        if self.bigtiff:
            return mark + self.pack("H", 43) + self.pack("H", 8) + self.pack("H", 0) + self.pack("Q", first_ifd)
        return mark + self.pack("H", 42) + self.pack("I", first_ifd)

    def ifd_size(self, entries: int) -> int:
        return struct.calcsize(self.count) + entries * self.entry_size + struct.calcsize(self.offset)


def write_tiff(ifds: Sequence[Ifd], bigtiff: bool = False, byteorder: str = "<", loop_to: int | None = None) -> bytes:
    """The TIFF file holding `ifds` in order (the first is the main image); `loop_to` makes the last
    IFD's next pointer go back to IFD number `loop_to` instead of ending the chain."""
    enc = _Encoder(bigtiff, byteorder)
    out = bytearray(enc.header(0))
    block_at: dict[bytes, int] = {}
    for ifd in ifds:
        block = ifd.stored_block()
        if block not in block_at:
            block_at[block] = len(out)
            out += block + b"\0" * (len(block) % 2)
    ifd_at, next_fields = [], []
    for ifd in ifds:
        block = ifd.stored_block()
        tags = ifd.entries(block_at[block], len(block), bigtiff)
        start = len(out)
        ifd_at.append(start)
        data_at = start + enc.ifd_size(len(tags))
        table, data = bytearray(enc.pack(enc.count, len(tags))), bytearray()
        for number, tag in sorted(tags.items()):
            payload = tag.payload(enc.order)
            table += enc.pack("H", number) + enc.pack("H", tag.type) + enc.pack(enc.offset, tag.written_count(payload))
            if len(payload) <= enc.inline:
                table += payload.ljust(enc.inline, b"\0")
            else:
                table += enc.pack(enc.offset, data_at + len(data))
                data += payload + b"\0" * (len(payload) % 2)
        next_fields.append(start + len(table))
        out += table + enc.pack(enc.offset, 0) + data
    links = ifd_at[1:] + [ifd_at[loop_to] if loop_to is not None else 0]
    for position, target in zip(next_fields, links):
        out[position : position + struct.calcsize(enc.offset)] = enc.pack(enc.offset, target)
    out[: len(enc.header(0))] = enc.header(ifd_at[0] if ifd_at else 0)
    return bytes(out)
