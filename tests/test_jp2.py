"""The JPEG 2000 pre-open scan (handler/core/jp2_scan.py) against files from the rasterio wheel's
JP2OpenJPEG driver (real Sentinel-2 pixels) and hand-made headers; and what GDAL does with the
codestream's resolution levels."""

import struct
from dataclasses import replace

import numpy as np
import pytest
from rasterio.io import MemoryFile

from handler.core.errors import HeaderTooComplex, RasterTooLarge, UnreadableRaster, UnsupportedFormat
from handler.core.jp2_scan import CORRUPT, GEOJP2_UUID, JP2_LIMITS, scan_jp2
from handler.core.tiff_scan import CORRUPT as TIFF_CORRUPT
from handler.core.tiff_scan import bytes_reader
from tests.products import band_jp2, box, codestream, jp2_file, tci_jp2
from tests.security.hostile import reader_within


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
    with pytest.raises(UnreadableRaster) as caught:
        scan(data)
    disagree = "The file's JP2 header and its codestream disagree on the image size (corrupt)."
    assert caught.value.message == (disagree if data == MALFORMED_IHDR else CORRUPT)


MALFORMED_IHDR = jp2_file(codestream(64, 64), ihdr=(64, 65, 1))
NOT_JPEG_2000 = "The file is not a JPEG 2000 image."
NOT_JP2 = "Only JP2-compatible JPEG 2000 files are accepted (this one needs a JPX or Motion JPEG 2000 reader)."


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(64), NOT_JPEG_2000),
        (b"II*\x00" + bytes(64), NOT_JPEG_2000),
        (jp2_file(codestream(64, 64), brand=b"mjp2"), NOT_JP2),
        (SIGNATURE + box(b"ftyp", b"mjp2\0\0\0\0mjp2"), NOT_JP2),  # judged by its brand before what follows
        (_replace_box(GOOD, b"ftyp", box(b"ftyp", b"jpx jp2 jpx ")), NOT_JP2),  # jp2 as minor version only
        (_replace_box(GOOD, b"ftyp", box(b"ftyp", b"jpx \0\0\0\0jpx jp2")), NOT_JP2),  # a 3-byte tail
    ],
    ids=["png", "tiff", "mjp2-brand", "mjp2-header-only", "jp2-minor-version", "jp2-truncated-brand"],
)
def test_other_formats_are_unsupported(data, message):
    with pytest.raises(UnsupportedFormat) as caught:
        scan(data)
    assert caught.value.message == message


def test_a_file_that_is_only_the_signature_box_is_corrupt():
    with pytest.raises(UnreadableRaster) as caught:
        scan(box(b"jP  ", b"\r\n\x87\n"))
    assert caught.value.message == CORRUPT


def test_jp2_as_the_major_brand_alone_is_enough():
    """ftyp's major brand counts as one of its brands: a JP2 that lists only jpx as compatible is a JP2."""
    standard = jp2_file(codestream(64, 64))
    ftyp = box(b"ftyp", b"jp2 \0\0\0\0jp2 ")
    assert standard.count(ftyp) == 1
    layout = scan(standard.replace(ftyp, box(b"ftyp", b"jp2 \0\0\0\0jpx ")))
    assert (layout.codestream.width, layout.codestream.height) == (64, 64)


@pytest.mark.parametrize("compatible", [[b"jp2 "], [b"jpx ", b"jp2 "], [b"jpxb", b"jpx ", b"jp2 "]])
def test_the_jp2_brand_is_found_at_any_position_of_the_compatibility_list(compatible):
    """A JPX file that lists jp2 among its compatible brands holds a JP2 reader's subset: accepted."""
    ftyp = box(b"ftyp", b"jpx \0\0\0\0" + b"".join(compatible))
    assert scan(_replace_box(GOOD, b"ftyp", ftyp)).codestream.width == 64


def test_a_codestream_box_may_use_a_64_bit_length_or_run_to_the_end_of_the_file():
    """ISO 15444-1 I.4: LBox 1 puts the length in the 8-byte XLBox; LBox 0 means 'to the end of the file'."""
    stream = codestream(64, 32)
    base = jp2_file(stream)
    at = base.index(b"jp2c") - 4
    head = _replace_box(base, b"jp2c", b"")
    extended = head + struct.pack(">I4sQ", 1, b"jp2c", 16 + len(stream)) + stream
    layout = scan_jp2(bytes_reader(extended), len(extended))
    assert (layout.codestream_offset, layout.codestream.width, layout.codestream.height) == (at + 16, 64, 32)
    to_the_end = head + struct.pack(">I4s", 0, b"jp2c") + stream
    layout = scan_jp2(bytes_reader(to_the_end), len(to_the_end))
    assert (layout.codestream_offset, layout.codestream.width, layout.codestream.height) == (at + 8, 64, 32)


def _grid(stream: bytes, x1: int, y1: int, x0: int, y0: int, tile_x0: int, tile_y0: int) -> bytes:
    """`stream` with SIZ's image and tile origins moved (its tile size kept)."""
    return (
        stream[:8]
        + struct.pack(">IIII", x1, y1, x0, y0)
        + stream[24:32]
        + struct.pack(">II", tile_x0, tile_y0)
        + stream[40:]
    )


@pytest.mark.parametrize(
    "grid",
    [(80, 96, 16, 32, 16, 32), (2**31 + 32, 2**31 + 32, 2**31 - 32, 2**31 - 32, 2**31 - 32, 2**31 - 32)],
    ids=["offset-origin", "across-2^31"],
)
def test_the_image_size_is_its_extent_on_the_reference_grid(grid):
    """SIZ's coordinates are unsigned 32-bit (ISO 15444-1 A.5.1): the image is x1 - x0 by y1 - y0, one
    64² tile from a tile origin at the image's, wherever on the grid it lies, as GDAL reads it."""
    data = jp2_file(_grid(codestream(64, 64), *grid))
    stream = scan(data).codestream
    assert (stream.width, stream.height, stream.tiles) == (64, 64, 1)
    with MemoryFile(data, ext=".jp2") as memfile, memfile.open() as dataset:
        assert (dataset.width, dataset.height, dataset.block_shapes[0]) == (64, 64, (64, 64))


def test_tile_count_and_tile_size_limits_are_inclusive():
    assert scan(jp2_file(codestream(4096, 4096, tile=(64, 64)))).codestream.tiles == JP2_LIMITS.max_tiles == 4096
    with pytest.raises(HeaderTooComplex) as caught:
        scan(jp2_file(codestream(4097 * 64, 64, tile=(64, 64))))
    assert caught.value.message == "The image is cut into 4,097 tiles; at most 4,096 are accepted."
    assert scan(jp2_file(codestream(16384, 16384))).codestream.tile_width == 16384
    with pytest.raises(HeaderTooComplex) as caught:
        scan(jp2_file(codestream(16384, 16385)))
    assert caught.value.message == (
        "The image's tiles are 16384 x 16385 pixels; at most 268,435,456 pixels per tile are accepted."
    )


@pytest.mark.parametrize(
    "grid",
    [
        (16, 96, 16, 32, 0, 0),  # x1 == x0: no columns
        (80, 32, 16, 32, 0, 0),  # y1 == y0: no rows
        (80, 96, 16, 32, 17, 0),  # the tile grid starts right of the image
        (80, 96, 16, 32, 0, 33),  # the tile grid starts below the image
        (128, 96, 64, 32, 0, 0),  # the first tile column ends where the image starts
        (80, 128, 16, 64, 0, 0),  # the first tile row ends where the image starts
    ],
    ids=["no-columns", "no-rows", "tile-origin-right", "tile-origin-below", "first-tile-left", "first-tile-above"],
)
def test_each_siz_grid_rule_alone_makes_the_codestream_corrupt(grid):
    """ISO 15444-1 A.5.1 (x0 < x1, y0 < y1, XTOsiz <= x0 < XTOsiz + XTsiz, the same in y): a SIZ that
    breaks one rule, every other field valid, is refused as corrupt (64² tiles)."""
    with pytest.raises(UnreadableRaster) as caught:
        scan(_grid(codestream(64, 64), *grid))
    assert caught.value.message == CORRUPT


@pytest.mark.parametrize(
    "grid, size, tiles",
    [
        ((17, 96, 16, 32, 0, 0), (1, 64), 2),  # one column
        ((80, 33, 16, 32, 0, 0), (64, 1), 2),  # one row
        ((80, 96, 16, 32, 16, 32), (64, 64), 1),  # tile origin at the image's
        ((127, 96, 63, 32, 0, 0), (64, 64), 2 * 2),  # the first tile column holds the image's first column only
        ((80, 127, 16, 63, 0, 0), (64, 64), 2 * 2),  # the first tile row holds the image's first row only
    ],
    ids=["one-column", "one-row", "tile-origin-at-image", "first-tile-one-column", "first-tile-one-row"],
)
def test_siz_grids_at_the_edge_of_each_rule_are_read(grid, size, tiles):
    stream = scan(_grid(codestream(64, 64), *grid)).codestream
    assert ((stream.width, stream.height), stream.tiles) == (size, tiles)


@pytest.mark.parametrize("at", [0, 1, 2, 3, 4, 5], ids=["x-1", "y-1", "x-2", "y-2", "x-3", "y-3"])
def test_a_zero_sampling_step_in_any_component_and_axis_is_corrupt(at):
    """XRsiz and YRsiz (SIZ bytes 39 + 3i and 40 + 3i) must be 1..255 for every component: one zero,
    in x or y of the first, second or third component, every other byte valid, is corrupt."""
    stream = bytearray(codestream(64, 64, components=3))
    assert scan(bytes(stream)).codestream.components == 3
    stream[4 + 39 + 3 * (at // 2) + at % 2] = 0  # the SIZ segment starts after SOC and its own marker
    with pytest.raises(UnreadableRaster) as caught:
        scan(bytes(stream))
    assert caught.value.message == CORRUPT


def test_component_precision_is_at_most_38_bits():
    """Ssiz's low 7 bits are the precision minus one; ISO 15444-1 A.5.1 allows 1 to 38 bits."""
    assert scan(codestream(64, 64, bits=38)).codestream.bit_depth == 38
    with pytest.raises(UnreadableRaster) as caught:
        scan(codestream(64, 64, bits=39))
    assert caught.value.message == CORRUPT


def test_the_component_limit_is_inclusive():
    assert scan(codestream(64, 64, components=JP2_LIMITS.max_components)).codestream.components == 64
    with pytest.raises(RasterTooLarge) as caught:
        scan(codestream(64, 64, components=65))
    assert caught.value.message == "The image has 65 components; at most 64 are accepted."


def test_65535_tiles_is_the_spec_maximum():
    """Tile indexes are 16-bit (0..65534, ISO 15444-1 A.4.2): 65,535 tiles are within the spec, so over
    the default limit they are too complex, and read under a limit raised to it; 65,536 are corrupt."""
    with pytest.raises(HeaderTooComplex) as caught:
        scan(codestream(65535, 1, tile=(1, 1)))
    assert caught.value.message == "The image is cut into 65,535 tiles; at most 4,096 are accepted."
    raised = replace(JP2_LIMITS, max_tiles=65535)
    data = codestream(65535, 1, tile=(1, 1))
    assert scan_jp2(bytes_reader(data), len(data), raised).codestream.tiles == 65535
    data = codestream(65536, 1, tile=(1, 1))
    with pytest.raises(UnreadableRaster) as caught:
        scan_jp2(bytes_reader(data), len(data), raised)
    assert caught.value.message == CORRUPT


def test_metadata_boxes_are_capped():
    xml = box(b"xml ", b"<a>" + b" " * JP2_LIMITS.max_metadata_bytes + b"</a>")
    with pytest.raises(HeaderTooComplex) as caught:
        scan(jp2_file(codestream(64, 64), trailing_boxes=xml))
    assert caught.value.message == "The JPEG 2000 file's metadata boxes hold over 1,048,576 bytes."
    scan(jp2_file(codestream(64, 64), trailing_boxes=box(b"xml ", b"<a/>")))


def test_box_count_is_capped_after_the_codestream_too():
    """GDAL walks every top-level box for metadata, including those after the codestream; jp2h's ihdr and
    colr count too (6 boxes before the trailing ones)."""
    with pytest.raises(HeaderTooComplex) as caught:
        scan(jp2_file(codestream(64, 64), trailing_boxes=box(b"free", b"") * (JP2_LIMITS.max_boxes - 5)))
    assert caught.value.message == "The JPEG 2000 file has more than 64 boxes."
    scan(jp2_file(codestream(64, 64), trailing_boxes=box(b"free", b"") * (JP2_LIMITS.max_boxes - 6)))
    data = jp2_file(codestream(64, 64), trailing_boxes=box(b"free", b"") * 7)  # 11 top-level boxes
    with pytest.raises(HeaderTooComplex) as caught:
        scan_jp2(bytes_reader(data), len(data), replace(JP2_LIMITS, max_boxes=10))
    assert caught.value.message == "The JPEG 2000 file has more than 10 boxes."


def test_main_header_markers_and_bytes_are_capped():
    """SIZ, COD and QCD count: 253 comments make the 256 markers accepted, one more is refused."""
    comment = b"\xff\x64" + struct.pack(">HH", 6, 1) + b"ab"
    scan(jp2_file(codestream(64, 64, extra_markers=comment * (JP2_LIMITS.max_markers - 3))))
    with pytest.raises(HeaderTooComplex) as caught:
        scan(jp2_file(codestream(64, 64, extra_markers=comment * (JP2_LIMITS.max_markers - 2))))
    assert caught.value.message == "The codestream's main header has over 256 markers or 1,048,576 bytes."
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


def _geojp2(tiff: bytes) -> bytes:
    return jp2_file(codestream(64, 64), extra_boxes=box(b"uuid", GEOJP2_UUID + tiff))


def test_the_geojp2_geotiff_ends_with_its_box():
    """The GeoTIFF is the box's payload after the uuid: a tag past its end is corrupt even when the file
    goes on; a GeoJP2 box with no GeoTIFF at all holds nothing to scan (GDAL opens the file ungeoreferenced)."""
    ifd = struct.pack("<H", 1) + struct.pack("<HHII", 33922, 12, 6, 26) + struct.pack("<I", 0)  # ModelTiepoint
    tiepoint = b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<6d", 0, 0, 0, 500000, 4000000, 0)
    scan(_geojp2(tiepoint))
    with pytest.raises(UnreadableRaster) as caught:
        scan(_geojp2(tiepoint[:-8]))
    assert caught.value.message == TIFF_CORRUPT
    assert scan(_geojp2(b"")).codestream.width == 64
    assert scan(_geojp2(b"II*\x00" + bytes(4))).codestream.width == 64  # a GeoTIFF header with no directory


def test_a_file_shorter_than_its_declared_size_is_corrupt():
    """A reader returning fewer bytes than asked (an S3 object or zip member shorter than declared)."""
    with pytest.raises(UnreadableRaster) as caught:
        scan_jp2(bytes_reader(GOOD), len(GOOD) + 8)
    assert caught.value.message == CORRUPT


def test_a_box_length_is_unsigned_so_a_codestream_box_may_exceed_2_gib():
    """LBox is an unsigned 32-bit length (ISO 15444-1 I.4): a 3 GiB file whose jp2c box is over 2^31 bytes
    is walked by its headers alone (the reader only holds the first bytes)."""
    stream = codestream(64, 64)
    head = _replace_box(GOOD, b"jp2c", b"")
    length = 2**31 + 2**30
    data = head + struct.pack(">I4s", length, b"jp2c") + stream
    layout = scan_jp2(lambda offset, size: data[offset : offset + size], len(head) + length)
    assert (layout.codestream_offset, layout.codestream.width, layout.codestream.height) == (len(head) + 8, 64, 64)


def test_the_metadata_budget_counts_every_box_but_the_codestream_and_is_inclusive():
    stream = codestream(64, 64)
    data = jp2_file(stream, trailing_boxes=box(b"xml ", b"<a/>"))
    metadata = len(data) - len(box(b"jp2c", stream))  # signature, ftyp, jp2h (ihdr, colr), xml
    layout = scan_jp2(bytes_reader(data), len(data), replace(JP2_LIMITS, max_metadata_bytes=metadata))
    assert layout.codestream.width == 64
    with pytest.raises(HeaderTooComplex) as caught:
        scan_jp2(bytes_reader(data), len(data), replace(JP2_LIMITS, max_metadata_bytes=metadata - 1))
    assert caught.value.message == f"The JPEG 2000 file's metadata boxes hold over {metadata - 1:,} bytes."


def test_a_geojp2_box_with_a_one_byte_geotiff_gets_the_tiff_pre_scan():
    """Any byte after the uuid is a GeoTIFF GDAL tries to open: one byte is a corrupt TIFF."""
    with pytest.raises(UnreadableRaster) as caught:
        scan(_geojp2(b"I"))
    assert caught.value.message == TIFF_CORRUPT


@pytest.mark.parametrize(
    "compatible, accepted",
    [
        ([b"jp2 ", b"jpx "], True),  # jp2 first, another brand after it
        ([b"jpxb", b"jp2 ", b"jpx "], True),
        ([b"ajp2", b" jpx"], False),  # "jp2 " only across two brands: not a brand
    ],
    ids=["jp2-first", "jp2-middle", "jp2-straddling"],
)
def test_compatible_brands_are_the_4_byte_words_of_the_list(compatible, accepted):
    data = _replace_box(GOOD, b"ftyp", box(b"ftyp", b"jpx \0\0\0\0" + b"".join(compatible)))
    if accepted:
        assert scan(data).codestream.width == 64
    else:
        with pytest.raises(UnsupportedFormat) as caught:
            scan(data)
        assert caught.value.message == NOT_JP2


@pytest.mark.parametrize("components, index", [(256, b"\xff"), (257, b"\x01\x00")], ids=["1-byte", "2-byte"])
def test_coc_component_index_is_two_bytes_from_257_components(components, index):
    """ISO 15444-1 A.6.2: Ccoc is 1 byte below 257 components, 2 bytes from 257 on; the levels follow Scoc."""
    coc = b"\xff\x53" + struct.pack(">H", 8 + len(index)) + index + bytes([0, 2, 4, 4, 0, 1])
    data = jp2_file(codestream(64, 64, components=components, levels=5, extra_markers=coc))
    limits = replace(JP2_LIMITS, max_components=300)
    assert scan_jp2(bytes_reader(data), len(data), limits).codestream.levels == 2


def test_a_cod_segment_ending_before_its_levels_is_corrupt():
    cod = b"\xff\x52" + struct.pack(">HBBHB", 12, 0, 0, 1, 0) + bytes([5, 4, 4, 0, 1])
    assert codestream(64, 64).count(cod) == 1
    short = b"\xff\x52" + struct.pack(">HBBHB", 7, 0, 0, 1, 0)  # Lcod 7: the levels byte is past the segment
    with pytest.raises(UnreadableRaster) as caught:
        scan(jp2_file(codestream(64, 64).replace(cod, short)))
    assert caught.value.message == CORRUPT


def test_32_decomposition_levels_are_accepted_33_are_corrupt():
    assert scan(jp2_file(codestream(64, 64, levels=32))).codestream.levels == 32
    with pytest.raises(UnreadableRaster) as caught:
        scan(jp2_file(codestream(64, 64, levels=33)))
    assert caught.value.message == "The codestream has 33 resolution levels; JPEG 2000 allows at most 32 (corrupt)."


def test_a_marker_segment_is_an_ff_marker_with_a_length_of_at_least_two():
    """Lxxx counts its own two bytes: 2 is an empty segment (skipped), 1 is corrupt, as is a marker not
    starting with 0xFF."""
    assert scan(jp2_file(codestream(64, 64, extra_markers=b"\xff\x64\x00\x02"))).codestream.levels == 5
    for marker in (b"\xff\x64\x00\x01", b"\x12\x64\x00\x04ab"):
        with pytest.raises(UnreadableRaster) as caught:
            scan(jp2_file(codestream(64, 64, extra_markers=marker)))
        assert caught.value.message == CORRUPT


@pytest.mark.parametrize("boxed", [True, False], ids=["jp2", "j2k"])
def test_the_main_header_byte_budget_runs_from_soc_to_sot_and_is_inclusive(boxed):
    """Measured from the codestream's start (inside the JP2 file, or at 0 in a raw codestream), with the
    limits passed in."""
    stream = codestream(64, 64)
    assert stream.count(b"\xff\x90") == 1
    header = stream.index(b"\xff\x90")  # SOC, SIZ, COD, QCD: the bytes before the first SOT
    data = jp2_file(stream) if boxed else stream
    layout = scan_jp2(bytes_reader(data), len(data), replace(JP2_LIMITS, max_main_header_bytes=header))
    assert (layout.boxed, layout.codestream_offset) == (boxed, data.index(stream))
    assert layout.codestream.width == 64
    with pytest.raises(HeaderTooComplex) as caught:
        scan_jp2(bytes_reader(data), len(data), replace(JP2_LIMITS, max_main_header_bytes=header - 1))
    assert caught.value.message == f"The codestream's main header has over 256 markers or {header - 1:,} bytes."


def test_a_box_header_past_the_end_is_corrupt_without_asking_the_reader_and_an_empty_file_is_no_jp2():
    data = jp2_file(codestream(64, 64))[:14]  # the signature box, then 2 bytes of the next box's header
    with pytest.raises(UnreadableRaster) as caught:
        scan_jp2(reader_within(data), len(data))
    assert caught.value.message == CORRUPT
    with pytest.raises(UnsupportedFormat) as empty:
        scan_jp2(bytes_reader(b""), 0)
    assert empty.value.message == "The file is not a JPEG 2000 image."
