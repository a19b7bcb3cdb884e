"""The JPEG 2000 pre-open scan (handler/core/jp2_scan.py) against files from the rasterio wheel's
JP2OpenJPEG driver (real Sentinel-2 pixels) and hand-made headers; and what GDAL does with the
codestream's resolution levels."""

import struct

import numpy as np
import pytest
from rasterio.io import MemoryFile

from handler.core.errors import HeaderTooComplex, UnreadableRaster, UnsupportedFormat
from handler.core.jp2_scan import GEOJP2_UUID, JP2_LIMITS, scan_jp2
from handler.core.tiff_scan import bytes_reader
from tests.products import band_jp2, box, codestream, jp2_file, tci_jp2


def scan(data: bytes):
    return scan_jp2(bytes_reader(data), len(data))


@pytest.mark.parametrize(
    "build, ext, components, bits",
    [
        (band_jp2, ".jp2", 1, 16),
        (tci_jp2, ".jp2", 3, 8),
        (lambda: band_jp2(codec="J2K"), ".j2k", 1, 16),
    ],
    ids=["band", "tci", "raw-codestream"],
)
def test_scan_reads_what_gdal_reads(build, ext, components, bits):
    data = build()
    layout = scan(data)
    stream = layout.codestream
    with MemoryFile(data, ext=ext) as memfile, memfile.open() as dataset:
        assert dataset.driver == "JP2OpenJPEG"
        assert (stream.width, stream.height, stream.components) == (dataset.width, dataset.height, dataset.count)
        assert (stream.tile_height, stream.tile_width) == dataset.block_shapes[0]
        assert stream.levels == 5  # RESOLUTIONS=6, as ESA writes
        assert dataset.overviews(1) == [2**k for k in range(1, len(dataset.overviews(1)) + 1)]
        assert max(dataset.overviews(1)) <= 2**stream.levels
    assert stream.bit_depth == bits and stream.components == components
    assert stream.tiles == -(-stream.width // stream.tile_width) * -(-stream.height // stream.tile_height)
    assert layout.boxed == (ext == ".jp2")


def test_decimated_reads_come_from_the_resolution_levels():
    """GDAL exposes the codestream's levels as overviews and serves an out_shape read from them: the
    pixels equal those of the level itself (reduce factor 3), not a resampled full read."""
    data = tci_jp2()
    assert scan(data).codestream.levels == 5
    with MemoryFile(data, ext=".jp2") as memfile:
        with memfile.open() as dataset:
            assert dataset.overviews(1) == [2, 4, 8, 16]
            shape = (3, -(-dataset.height // 8), -(-dataset.width // 8))
            decimated = dataset.read(out_shape=shape)
        with memfile.open(overview_level=2) as level:
            assert level.shape == shape[1:]
            assert np.array_equal(decimated, level.read())


def test_a_hand_made_header_is_read_by_gdal_as_the_scan_reads_it():
    data = jp2_file(codestream(256, 128, tile=(64, 64), components=3, levels=3))
    stream = scan(data).codestream
    assert (stream.width, stream.height, stream.tiles, stream.levels, stream.bit_depth) == (256, 128, 8, 3, 8)
    with MemoryFile(data, ext=".jp2") as memfile, memfile.open() as dataset:
        assert (dataset.width, dataset.height, dataset.count, dataset.block_shapes[0]) == (256, 128, 3, (64, 64))


def test_the_scan_reads_headers_only():
    """A 1098² TCI: the scan reads box headers, ihdr, GeoJP2 and the main header, never the tiles."""
    data = tci_jp2()
    calls = []

    def read(offset: int, length: int) -> bytes:
        calls.append(length)
        return data[offset : offset + length]

    scan_jp2(read, len(data))
    assert sum(calls) < 4096 and len(calls) < 40, (sum(calls), len(calls))


def test_coc_with_fewer_levels_gives_the_levels_every_component_has():
    coc = b"\xff\x53" + struct.pack(">HBBBBBBB", 9, 1, 0, 2, 4, 4, 0, 1)
    assert scan(jp2_file(codestream(64, 64, components=3, levels=5, extra_markers=coc))).codestream.levels == 2


def _replace_box(data: bytes, kind: bytes, new: bytes) -> bytes:
    at = data.index(kind) - 4
    (length,) = struct.unpack_from(">I", data, at)
    return data[:at] + new + data[at + length :]


GOOD = jp2_file(codestream(64, 64))
IHDR_64 = struct.pack(">IIHBBBB", 64, 64, 1, 7, 7, 0, 0)
SIGNATURE, FTYP = box(b"jP  ", b"\r\n\x87\n"), box(b"ftyp", b"jp2 \0\0\0\0jp2 ")


@pytest.mark.parametrize(
    "data",
    [
        GOOD[:-1] + b"",  # the codestream box now claims a byte past the end
        GOOD + box(b"free", b"", length=4),  # LBox below the header size
        GOOD + struct.pack(">I4sQ", 1, b"free", 1 << 40),  # XLBox far past the end
        SIGNATURE + box(b"jp2h", b"") + FTYP,  # ftyp is not second
        _replace_box(GOOD, b"jp2h", b""),  # no jp2h
        _replace_box(GOOD, b"jp2h", b"") + box(b"jp2h", box(b"ihdr", IHDR_64)),  # jp2h after jp2c
        _replace_box(GOOD, b"jp2h", box(b"jp2h", box(b"colr", IHDR_64) + box(b"ihdr", IHDR_64))),  # ihdr not first
        _replace_box(GOOD, b"jp2c", b""),  # no codestream
        jp2_file(codestream(64, 64), ihdr=(64, 65, 1)),  # ihdr and SIZ disagree
        jp2_file(b"\xff\x4f\xff\x52" + codestream(64, 64)[4:]),  # SIZ is not the first marker
        jp2_file(codestream(64, 64).replace(b"\xff\x52", b"\xff\x64")),  # no COD (now a comment)
        jp2_file(codestream(64, 64)[:-20]),  # the main header never reaches SOT
        jp2_file(codestream(64, 64, tile=(0, 64))),  # zero tile width
        jp2_file(codestream(64, 64)[:43] + b"\x00\x00" + codestream(64, 64)[45:]),  # component sampling 0
        jp2_file(codestream(64, 64, extra_markers=codestream(64, 64)[2:45])),  # a second SIZ
    ],
    ids=[
        "box-past-end",
        "lbox-below-header",
        "xlbox-past-end",
        "ftyp-not-second",
        "no-jp2h",
        "jp2h-after-jp2c",
        "ihdr-not-first",
        "no-codestream",
        "ihdr-disagrees",
        "siz-not-first",
        "no-cod",
        "truncated-main-header",
        "zero-tile-width",
        "zero-sampling",
        "two-siz",
    ],
)
def test_malformed_structures_are_unreadable(data):
    with pytest.raises(UnreadableRaster):
        scan(data)


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n" + bytes(64), b"II*\x00" + bytes(64), jp2_file(codestream(64, 64), brand=b"mjp2")],
    ids=["png", "tiff", "mjp2-brand"],
)
def test_other_formats_are_unsupported(data):
    with pytest.raises(UnsupportedFormat):
        scan(data)


def test_metadata_boxes_are_capped():
    xml = box(b"xml ", b"<a>" + b" " * JP2_LIMITS.max_metadata_bytes + b"</a>")
    with pytest.raises(HeaderTooComplex):
        scan(jp2_file(codestream(64, 64), trailing_boxes=xml))
    scan(jp2_file(codestream(64, 64), trailing_boxes=box(b"xml ", b"<a/>")))


def test_box_count_is_capped_after_the_codestream_too():
    """GDAL walks every top-level box for metadata, including those after the codestream."""
    with pytest.raises(HeaderTooComplex):
        scan(jp2_file(codestream(64, 64), trailing_boxes=box(b"free", b"") * JP2_LIMITS.max_boxes))
    scan(jp2_file(codestream(64, 64), trailing_boxes=box(b"free", b"") * (JP2_LIMITS.max_boxes - 8)))


def test_main_header_markers_and_bytes_are_capped():
    comment = b"\xff\x64" + struct.pack(">HH", 6, 1) + b"ab"
    with pytest.raises(HeaderTooComplex):
        scan(jp2_file(codestream(64, 64, extra_markers=comment * JP2_LIMITS.max_markers)))
    big = b"\xff\x64" + struct.pack(">HH", 65535, 1) + bytes(65531)
    with pytest.raises(HeaderTooComplex):
        scan(jp2_file(codestream(64, 64, extra_markers=big * 17)))
    scan(jp2_file(codestream(64, 64, extra_markers=comment * 10 + big)))


def test_the_geojp2_geotiff_gets_the_tiff_pre_scan():
    """GDAL opens the GeoJP2 box's GeoTIFF with its GTiff driver: its structure is scanned as an upload's."""
    loop = b"II*\x00\x08\x00\x00\x00" + struct.pack("<H", 0) + struct.pack("<I", 8)  # an IFD pointing at itself
    with pytest.raises(UnreadableRaster):
        scan(jp2_file(codestream(64, 64), extra_boxes=box(b"uuid", GEOJP2_UUID + loop)))
    encoded = band_jp2()
    assert GEOJP2_UUID in encoded
    scan(encoded)
