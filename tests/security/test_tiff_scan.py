"""The TIFF structure scan (handler/core/tiff_scan.py): what it refuses, what it accepts, what it reads.

Hostile structures come from tests/security/tiff_writer.py; every rule is checked at its boundary
(the limit accepted, one more refused) in classic TIFF and BigTIFF, both byte orders.
"""

import struct
from dataclasses import replace

import pytest

from handler.core import safe_open, source
from handler.core.errors import HeaderTooComplex, RasterTooLarge, UnreadableRaster, UnsupportedFormat
from handler.core.tiff_scan import CORRUPT, SCAN_LIMITS, PagedReader, bytes_reader, scan_tiff
from tests.conftest import requires_real_data
from tests.rasters import geotiff_bytes, real_files, reflectance_stack
from tests.security.hostile import SCENE, ifd_huge_count, ifd_loop, reader_within, truncated_ifd
from tests.security.tiff_writer import (
    IFD8,
    LONG8,
    IMAGE_WIDTH,
    IFD,
    CONTIG,
    GDAL_METADATA,
    IMAGE_DESCRIPTION,
    LONG,
    MASK,
    REDUCED,
    SAMPLES_PER_PIXEL,
    SEPARATE,
    UNDEFINED,
    Ifd,
    Tag,
    ascii_tag,
    geo_tags,
    write_tiff,
)

FORMATS = [
    pytest.param(False, "<", id="classic-little"),
    pytest.param(True, ">", id="bigtiff-big"),
    pytest.param(False, ">", id="classic-big"),
    pytest.param(True, "<", id="bigtiff-little"),
]
EXIF_IFD = 34665


def scan(data: bytes):
    """Scan `data` through a reader that fails the test if asked for bytes outside the file (an S3 error)."""
    return scan_tiff(reader_within(data), len(data))


def main(**tags: Tag) -> Ifd:
    return Ifd(16000, 16000, tags=geo_tags() | {int(tag.removeprefix("t")): value for tag, value in tags.items()})


def unknown_tags(count: int) -> dict[int, Tag]:
    return {40000 + i: Tag(LONG, (i,)) for i in range(count)}


def metadata(items: int) -> Tag:
    return ascii_tag(
        "<GDALMetadata>" + "".join(f'<Item name="K{i}">v</Item>' for i in range(items)) + "</GDALMetadata>"
    )


@requires_real_data
@pytest.mark.parametrize("path", real_files(), ids=lambda path: path.name[:40])
def test_real_sentinel2_files_pass_in_one_64_kib_read(path):
    data = path.read_bytes()
    paged = PagedReader(bytes_reader(data), len(data))
    layout = scan_tiff(paged, len(data))
    assert layout.ifds >= 1 and paged.requests == 1 and paged.fetched <= 1 << 16


@pytest.mark.parametrize(
    "data",
    [
        SCENE,
        geotiff_bytes(
            reflectance_stack(4, 300, 400),
            overviews=(2, 4, 8),
            tiled=True,
            blockxsize=128,
            blockysize=128,
            compress="deflate",
        ),
        geotiff_bytes(reflectance_stack(3, 64, 64, "uint8"), photometric="RGB", interleave="band"),
        geotiff_bytes(reflectance_stack(2, 64, 64, "float32"), tags={"A": "x" * 100_000}),
    ],
    ids=["scene", "tiled-overviews", "band-interleaved", "large-tag"],
)
def test_synthetic_geotiffs_pass(data):
    assert scan(data).ifds >= 1


@pytest.mark.parametrize("bigtiff, byteorder", FORMATS)
def test_the_writers_16000_square_cog_with_overviews_and_masks_passes(bigtiff, byteorder):
    ifds = [main(), Ifd(16000, 16000, "bit", subfile_type=MASK)]
    ifds += [Ifd(16000 >> level, 16000 >> level, subfile_type=REDUCED) for level in range(1, 6)]
    layout = scan(write_tiff(ifds, bigtiff=bigtiff, byteorder=byteorder))
    assert (layout.ifds, layout.bigtiff, layout.byteorder) == (7, bigtiff, byteorder)


@pytest.mark.parametrize("bigtiff, byteorder", FORMATS)
def test_more_than_64_image_directories_are_refused(bigtiff, byteorder):
    """Measured: 10,000 mask IFDs (1.6 MB) take 26 s to open, 50,000 overviews 3.3 s and 270 MB."""
    ifds = [main()] + [Ifd(16, 16, "bit", subfile_type=MASK) for _ in range(SCAN_LIMITS.max_ifds - 1)]
    assert scan(write_tiff(ifds, bigtiff=bigtiff, byteorder=byteorder)).ifds == 64
    with pytest.raises(HeaderTooComplex) as caught:
        scan(write_tiff(ifds + [Ifd(16, 16, subfile_type=REDUCED)], bigtiff=bigtiff, byteorder=byteorder))
    assert caught.value.message == "The file has more than 64 image directories (images, overviews, masks)."


@pytest.mark.parametrize("bigtiff, byteorder", FORMATS)
@pytest.mark.parametrize("loop_to", [0, 2])
def test_ifd_loops_are_refused(bigtiff, byteorder, loop_to):
    ifds = [main(), Ifd(8000, 8000, subfile_type=REDUCED), Ifd(4000, 4000, subfile_type=REDUCED)]
    with pytest.raises(UnreadableRaster) as caught:
        scan(write_tiff(ifds, bigtiff=bigtiff, byteorder=byteorder, loop_to=loop_to))
    assert caught.value.message == "The file's image directories form a loop (corrupt)."
    with pytest.raises(UnreadableRaster, match="loop"):
        scan(ifd_loop())


@pytest.mark.parametrize("bigtiff, byteorder", FORMATS)
def test_more_than_128_tags_in_one_directory_are_refused(bigtiff, byteorder):
    """Measured: 4,000 unknown tags cost 0.3 s per IFD, 64 IFDs of 1,000 tags 1.4 s, of 256 tags 0.5 s
    (libtiff merges each unknown tag into its field list)."""
    computed = len(main().entries(0, 0, bigtiff))
    at_limit = [Ifd(16000, 16000, tags=geo_tags() | unknown_tags(SCAN_LIMITS.max_entries - computed))]
    scan(write_tiff(at_limit, bigtiff=bigtiff, byteorder=byteorder))
    with pytest.raises(HeaderTooComplex) as caught:
        scan(
            write_tiff(
                [main(), Ifd(16, 16, subfile_type=REDUCED, tags=unknown_tags(129 - 13))],
                bigtiff=bigtiff,
                byteorder=byteorder,
            )
        )
    assert caught.value.message == "An image directory of the file has 129 tags; at most 128 are accepted."


@pytest.mark.parametrize("bigtiff, byteorder", FORMATS)
@pytest.mark.parametrize(
    "tag, kind",
    [(IMAGE_DESCRIPTION, "ascii"), (GDAL_METADATA, "ascii"), (42113, "ascii"), (40000, "undefined"), (40001, "long")],
)
def test_a_tag_over_1_mib_is_refused(bigtiff, byteorder, tag, kind):
    """Measured: a 128 MB tag costs 350-600 MB of memory at open."""

    def value(size: int) -> Tag:
        return {
            "ascii": lambda: ascii_tag("x" * (size - 1)),
            "undefined": lambda: Tag(UNDEFINED, bytes(size)),
            "long": lambda: Tag(LONG, (1,) * (size // 4)),
        }[kind]()

    limit = SCAN_LIMITS.max_tag_bytes
    scan(write_tiff([main(**{f"t{tag}": value(limit)})], bigtiff=bigtiff, byteorder=byteorder))
    with pytest.raises(HeaderTooComplex) as caught:
        scan(write_tiff([main(**{f"t{tag}": value(limit + 4)})], bigtiff=bigtiff, byteorder=byteorder))
    assert caught.value.message == f"TIFF tag {tag} holds 1,048,580 bytes; at most 1,048,576 per tag are accepted."


def test_tags_over_4_mib_in_all_are_refused():
    pages = [Ifd(16, 16, subfile_type=REDUCED, tags={IMAGE_DESCRIPTION: ascii_tag("d" * 1_000_000)})]
    scan(write_tiff([main()] + pages * 4))
    with pytest.raises(HeaderTooComplex) as caught:
        scan(write_tiff([main()] + pages * 5))
    assert caught.value.message == "The file's TIFF tags hold over 4,194,304 bytes."


def _tag_bytes(ifds: list[Ifd]) -> int:
    """What the scan counts towards the total: every tag's payload but the block arrays'."""
    blocks = (273, 279, 324, 325)
    return sum(
        len(tag.payload("<"))
        for ifd in ifds
        for number, tag in ifd.entries(0, 0, False).items()
        if number not in blocks
    )


def test_tags_of_exactly_4_mib_in_all_are_accepted():
    def pages(last: int) -> list[Ifd]:
        description = [Ifd(16, 16, subfile_type=REDUCED, tags={IMAGE_DESCRIPTION: ascii_tag("d" * 1_000_000)})] * 4
        return (
            [main()]
            + description
            + [Ifd(16, 16, subfile_type=REDUCED, tags={IMAGE_DESCRIPTION: ascii_tag("e" * last)})]
        )

    fill = SCAN_LIMITS.max_total_tag_bytes - _tag_bytes(pages(0))
    assert _tag_bytes(pages(fill)) == 4 << 20
    scan(write_tiff(pages(fill)))
    with pytest.raises(HeaderTooComplex) as caught:
        scan(write_tiff(pages(fill + 1)))
    assert caught.value.message == "The file's TIFF tags hold over 4,194,304 bytes."


def test_an_exif_pointer_to_a_walked_directory_is_not_walked_again_nor_a_loop():
    """Only the IFD chain can loop; an EXIF/GPS pointer back at a directory already walked is skipped."""
    first = struct.unpack_from("<I", write_tiff([main(t34665=Tag(LONG, (0,)))]), 4)[0]
    data = write_tiff([main(t34665=Tag(LONG, (first,)))])
    assert struct.unpack_from("<I", data, 4)[0] == first
    assert scan(data).ifds == 1


def test_more_than_4096_gdal_metadata_items_are_refused():
    """Measured: 100,000 items (2.8 MB) take 19 s to open, 10,000 0.13-0.36 s; GDAL adds each item to a
    list (quadratic). The count is over all IFDs."""
    scan(
        write_tiff(
            [main(t42112=metadata(3000)), Ifd(16, 16, subfile_type=REDUCED, tags={GDAL_METADATA: metadata(1096)})]
        )
    )
    with pytest.raises(HeaderTooComplex) as caught:
        scan(
            write_tiff(
                [main(t42112=metadata(3000)), Ifd(16, 16, subfile_type=REDUCED, tags={GDAL_METADATA: metadata(1097)})]
            )
        )
    assert caught.value.message == "The file's GDAL metadata holds over 4,096 items."


@pytest.mark.parametrize("planar", [SEPARATE, CONTIG], ids=["band-interleaved", "pixel-interleaved"])
@pytest.mark.parametrize("tile", [(512, 512), None], ids=["tiles", "strips"])
@pytest.mark.parametrize("extra", [1, 10_000_000])
def test_block_arrays_larger_than_the_raster_needs_are_refused(tile, extra, planar):
    """Fewer offsets than blocks are left to GDAL (libtiff ignores the array; reads then fail: 422).
    Band-interleaved rasters need a block per band, pixel-interleaved ones one for all bands."""
    ifd = Ifd(5000, 3000, samples=4, planar=planar, tile=tile, rows_per_strip=256)
    assert ifd.blocks_needed == (4 if planar == SEPARATE else 1) * (10 * 6 if tile else 12)
    scan(write_tiff([ifd]))
    ifd.block_count = ifd.blocks_needed - 1
    scan(write_tiff([ifd]))
    ifd.block_count = ifd.blocks_needed + extra
    with pytest.raises(UnreadableRaster) as caught:
        scan(write_tiff([ifd], bigtiff=True))
    assert caught.value.message == (
        f"The file lists {ifd.block_count:,} block offsets or sizes for an image of {ifd.blocks_needed:,} blocks "
        "(corrupt)."
    )


def test_a_directory_without_samples_per_pixel_has_one_band():
    """TIFF 6.0's default SamplesPerPixel is 1: checked against a one-band limit."""
    one_band = replace(SCAN_LIMITS, max_bands=1)
    data = write_tiff([Ifd(16, 16, "uint8", tags={SAMPLES_PER_PIXEL: None})])
    assert scan_tiff(bytes_reader(data), len(data), one_band).ifds == 1
    data = write_tiff([Ifd(16, 16, "uint8", samples=2)])
    with pytest.raises(RasterTooLarge) as caught:
        scan_tiff(bytes_reader(data), len(data), one_band)
    assert caught.value.message == "An image of the file has 2 bands; at most 1 are accepted."
    data = write_tiff([Ifd(16, 16, "uint8", tags={SAMPLES_PER_PIXEL: ascii_tag("2")})])  # not a number: the default
    assert scan_tiff(bytes_reader(data), len(data), one_band).ifds == 1
    band_interleaved = Ifd(5000, 3000, planar=SEPARATE, tags={SAMPLES_PER_PIXEL: None})  # one plane of 60 tiles
    band_interleaved.block_count = 61
    with pytest.raises(UnreadableRaster, match="61 block offsets or sizes for an image of 60 blocks"):
        scan(write_tiff([band_interleaved]))


def test_more_than_64_bands_are_refused_before_gdal_allocates_them():
    """Measured: 65,535 samples per pixel cost 154 MB at open."""
    scan(write_tiff([Ifd(16, 16, "uint8", samples=64, planar=SEPARATE)]))
    with pytest.raises(RasterTooLarge) as caught:
        scan(write_tiff([main(), Ifd(16, 16, "uint8", samples=65, subfile_type=REDUCED)]))
    assert caught.value.message == "An image of the file has 65 bands; at most 64 are accepted."


def _detach_second_ifd(data: bytes, bigtiff: bool = False) -> tuple[bytes, int]:
    """End a little-endian chain after its first IFD; returns the file and the detached IFD's offset."""
    count, offset, entry, start = ("<Q", "<Q", 20, 8) if bigtiff else ("<H", "<I", 12, 4)
    first = struct.unpack_from(offset, data, start)[0]
    next_field = first + struct.calcsize(count) + entry * struct.unpack_from(count, data, first)[0]
    second = struct.unpack_from(offset, data, next_field)[0]
    size = struct.calcsize(offset)
    return data[:next_field] + bytes(size) + data[next_field + size :], second


@pytest.mark.parametrize("pointer", [LONG, IFD], ids=["LONG", "IFD"])
def test_exif_directories_are_scanned_too(pointer):
    """GDAL reads EXIF and GPS directories as metadata: they count towards every limit, whether the
    pointer is typed LONG or IFD (TIFF Technical Note 1)."""
    layout = [main(t34665=Tag(pointer, (0,))), Ifd(16, 16, tags=unknown_tags(300))]
    _, exif_at = _detach_second_ifd(write_tiff(layout))
    data, _ = _detach_second_ifd(write_tiff([main(t34665=Tag(pointer, (exif_at,))), layout[1]]))
    with pytest.raises(HeaderTooComplex, match="tags"):
        scan(data)
    layout[1].tags = unknown_tags(3)
    data, _ = _detach_second_ifd(write_tiff([main(t34665=Tag(pointer, (exif_at,))), layout[1]]))
    assert scan(data).ifds == 2


@pytest.mark.parametrize(
    "name, data",
    [
        ("truncated_ifd", truncated_ifd()),
        ("65535_entries_in_64_bytes", ifd_huge_count()),
        ("ifd_past_the_end", b"II*\x00" + struct.pack("<I", 1 << 30) + bytes(8)),
        ("tag_past_the_end", write_tiff([Ifd(64, 64, tags={IMAGE_DESCRIPTION: ascii_tag("x" * 100)})])[:-10]),
        ("bigtiff_bad_offset_size", b"II+\x00\x04\x00\x00\x00" + bytes(16)),
        # BigTIFF offsets are unsigned: one with its top bit set is far past the end, not 16 bytes before it
        (
            "bigtiff_offset_top_bit",
            b"II+\x00\x08\x00\x00\x00" + struct.pack("<QQHHQQQ", 16, 1, 40000, 7, 16, (1 << 64) - 16, 0),
        ),
        # 200 entries cut 2 bytes short: truncation is reported, not the entry count
        ("truncated_long_ifd", b"II*\x00" + struct.pack("<IH", 8, 200) + bytes(200 * 12 + 4 - 2)),
        ("not_a_tiff", b"<VRTDataset>" + bytes(100)),
    ],
)
def test_corrupt_structures_are_unreadable(name, data):
    with pytest.raises(UnreadableRaster) as caught:
        scan(data)
    assert caught.value.message == CORRUPT


def test_a_file_shorter_than_its_declared_size_is_corrupt():
    """A reader returning fewer bytes than asked (an S3 object or zip member shorter than declared)."""
    cut = SCENE[: struct.unpack_from("<I", SCENE, 4)[0] + 10]
    with pytest.raises(UnreadableRaster) as caught:
        scan_tiff(bytes_reader(cut), len(SCENE))
    assert caught.value.message == CORRUPT


@pytest.mark.parametrize("header", [b"II*\x00" + bytes(4), b"MM\x00*" + bytes(4)], ids=["little", "big"])
def test_a_header_without_image_directories_is_left_to_gdal(header):
    """Eight bytes whose first IFD offset is 0: nothing to walk, so nothing costly; GDAL refuses the file."""
    assert scan(header).ifds == 0
    with pytest.raises(UnreadableRaster) as caught:
        with safe_open.open_bytes(header):
            pass
    assert caught.value.message == "The file could not be read (corrupt or truncated)."


def test_paged_reader_fetches_each_page_once_within_its_budget():
    data = bytes(range(256)) * 4096  # 1 MiB
    calls = []

    def fetch(offset: int, length: int) -> bytes:
        calls.append((offset, length))
        return data[offset : offset + length]

    paged = PagedReader(fetch, len(data), page=1 << 16, budget=3 << 16)
    assert paged(70_000, 100_000) == data[70_000:170_000] and calls == [(65_536, 131_072)]
    assert paged(131_071, 2) == data[131_071:131_073] and len(calls) == 1  # one byte on each side of a page edge
    assert paged(65_536, 10) == data[65_536:65_546] and len(calls) == 1
    assert paged(0, 70_000) == data[:70_000] and calls[-1] == (0, 65_536)
    with pytest.raises(HeaderTooComplex) as refused:
        paged(600_000, 10)  # a fourth page: over the 192 KiB budget
    assert str(refused.value) == "The file's TIFF structure is spread over too many bytes to read."
    assert paged.fetched == 3 << 16 and paged.requests == 2
    one_call = PagedReader(fetch, len(data), max_requests=1)
    assert one_call(0, 10) == data[:10]
    with pytest.raises(HeaderTooComplex):
        one_call(1 << 19, 10)


def test_a_read_ending_just_before_a_page_edge_fetches_only_its_own_page():
    data = bytes(range(256)) * 64  # 16 KiB, four 4 KiB pages
    calls = []
    paged = PagedReader(
        lambda offset, length: calls.append((offset, length)) or data[offset : offset + length], len(data), page=4096
    )
    assert paged(4000, 95) == data[4000:4095] and calls == [(0, 4096)]  # last byte 4094: page 0 only
    assert paged(8190, 2) == data[8190:8192] and calls[-1] == (4096, 4096)  # last byte 8191: page 1 only


def test_uploads_are_scanned_before_gdal_sees_them(monkeypatch, tmp_path):
    hostile = write_tiff([main()] + [Ifd(16, 16, "bit", subfile_type=MASK) for _ in range(100)])
    monkeypatch.setattr(safe_open, "_open", lambda *args, **kwargs: pytest.fail("GDAL opened a refused file"))
    with pytest.raises(HeaderTooComplex):
        with safe_open.open_bytes(hostile):
            pass
    (tmp_path / "a.tif").write_bytes(hostile)
    with pytest.raises(HeaderTooComplex):
        with source.open_file(str(tmp_path / "a.tif")):
            pass
    with pytest.raises(UnsupportedFormat):
        safe_open.check_header(bytes_reader(b"%PDF-1.7" + bytes(100)), 108)


def test_an_inline_gdal_metadata_item_counts_too():
    """A BigTIFF entry holds up to 8 bytes in place of an offset: '<Item/>' fits there, and counts."""
    scan(write_tiff([main(t42112=metadata(4096))], bigtiff=True))  # at the limit
    inline = Ifd(16, 16, subfile_type=REDUCED, tags={GDAL_METADATA: ascii_tag("<Item/>")})  # 7 bytes and NUL
    with pytest.raises(HeaderTooComplex, match="over 4,096 items"):
        scan(write_tiff([main(t42112=metadata(4096)), inline], bigtiff=True))


@pytest.mark.parametrize("pointer", [LONG8, IFD8], ids=["LONG8", "IFD8"])
def test_bigtiff_exif_directories_and_long8_sizes_are_read(pointer):
    """BigTIFF's 8-byte types: an EXIF pointer typed LONG8 or IFD8 is followed, a LONG8 width is a width."""
    exif = Ifd(16, 16, tags=unknown_tags(300))
    _, exif_at = _detach_second_ifd(write_tiff([main(t34665=Tag(pointer, (0,))), exif], bigtiff=True), bigtiff=True)
    data, _ = _detach_second_ifd(write_tiff([main(t34665=Tag(pointer, (exif_at,))), exif], bigtiff=True), bigtiff=True)
    with pytest.raises(HeaderTooComplex, match="tags"):
        scan(data)
    wide = Ifd(5000, 3000, tags={IMAGE_WIDTH: Tag(LONG8, (5000,))})  # 10 x 6 tiles of 512
    wide.block_count = 61
    with pytest.raises(UnreadableRaster, match="61 block offsets or sizes for an image of 60 blocks"):
        scan(write_tiff([wide], bigtiff=True))


@pytest.mark.parametrize("first_ifd", [15, 0xFFFF_FFF0], ids=["one-byte-short", "top-bit-set"])
def test_an_ifd_past_the_end_is_corrupt_without_asking_the_reader(first_ifd):
    """Offsets are unsigned and checked against the size first: a ranged GET past the end is an S3 error
    (retried), not a corrupt file."""
    data = b"II*\x00" + struct.pack("<I", first_ifd) + bytes(8)

    with pytest.raises(UnreadableRaster) as caught:
        scan(data)
    assert caught.value.message == "The file's TIFF structure is corrupt or truncated."


def test_next_ifd_and_exif_pointers_with_the_top_bit_set_are_past_the_end():
    """Classic TIFF offsets and LONG values are unsigned: 0xFFFFFFF0 is far past the end, never 16 bytes
    before it (Python would read those from the end of the file)."""
    one = write_tiff([Ifd(16, 16)])
    first = struct.unpack_from("<I", one, 4)[0]
    next_field = first + 2 + 12 * struct.unpack_from("<H", one, first)[0]
    far = struct.pack("<I", 0xFFFF_FFF0)
    for data in (one[:next_field] + far + one[next_field + 4 :], write_tiff([main(t34665=Tag(LONG, (0xFFFF_FFF0,)))])):
        with pytest.raises(UnreadableRaster) as caught:
            scan(data)
        assert caught.value.message == "The file's TIFF structure is corrupt or truncated."


@pytest.mark.parametrize("pointer", [LONG8, IFD8], ids=["LONG8", "IFD8"])
def test_bigtiff_pointers_with_the_top_bit_set_are_past_the_end(pointer):
    data = write_tiff([main(t34665=Tag(pointer, (0xFFFF_FFFF_FFFF_FFF0,)))], bigtiff=True)

    with pytest.raises(UnreadableRaster) as caught:
        scan(data)
    assert caught.value.message == "The file's TIFF structure is corrupt or truncated."


def test_a_bigtiff_first_ifd_with_the_top_bit_set_is_past_the_end():
    data = b"II+\x00\x08\x00\x00\x00" + struct.pack("<Q", 0xFFFF_FFFF_FFFF_FFF0) + bytes(16)

    with pytest.raises(UnreadableRaster):
        scan(data)


@pytest.mark.parametrize("pointer", [Tag(LONG, (0,)), ascii_tag("12")], ids=["zero", "not-a-number"])
def test_an_exif_pointer_to_nothing_is_skipped_and_the_chain_still_scanned(pointer):
    """A zero or non-integer EXIF pointer names no directory: skipped, and the next image of the chain is
    still checked (its 300 tags are over the limit)."""
    data = write_tiff([main(t34665=pointer), Ifd(16, 16, tags=unknown_tags(3))])
    assert scan(data).ifds == 2
    data = write_tiff([main(t34665=pointer), Ifd(16, 16, tags=unknown_tags(300))])
    with pytest.raises(HeaderTooComplex, match="tags"):
        scan(data)
