"""Hostile Sentinel-2 products: zip bombs, zip-slip names, links, encryption, duplicate and overlapping
members, huge and entity-expanding XML, JPEG 2000 header bombs. Each is refused by the pure core
(zip_archive, safe, safe_metadata, jp2_scan) quickly, with a stable code, decompressing nothing it did
not choose and leaking nothing."""

import collections
import dataclasses
import io
import random
import stat
import struct
import tracemalloc
import zipfile

import pytest

from handler.core.errors import ArchiveTooLarge, RasterError
from handler.core.jp2_scan import scan_jp2
from handler.core.safe import read_product
from handler.core.tiff_scan import bytes_reader
from handler.core.zip_archive import ZIP_LIMITS, ZipArchive
from tests.products import L2A_N0500, codestream, jp2_file, rebuilt_zip, safe_zip
from tests.security.hostile import CountingServer, assert_no_leak, cpu_seconds_under

FIXTURE = safe_zip(L2A_N0500)
SAFE = f"{L2A_N0500.product_id}.SAFE"
PRODUCT_XML = f"{SAFE}/MTD_MSIL2A.xml"
TILE_XML = f"{SAFE}/GRANULE/{L2A_N0500.granule}/MTD_TL.xml"
FIXTURE_LARGEST = max(info.file_size for info in zipfile.ZipFile(io.BytesIO(FIXTURE.data)).infolist())
CENTRAL = struct.Struct("<4s6H3L5HLL")  # a central directory file header, up to the local header offset


def refused(data: bytes, code: str, read=None, size: int | None = None) -> RasterError:
    """Open `data` (or `size` bytes through `read`) as a product; it must fail with `code` in under a
    second, leaking nothing."""
    with cpu_seconds_under(1.0), pytest.raises(RasterError) as caught:
        archive = ZipArchive(read or bytes_reader(data), len(data) if size is None else size)
        read_product(archive.members, archive.read)
    assert caught.value.code == code, (caught.value.code, caught.value.message)
    assert_no_leak(caught.value.message)
    return caught.value


def with_member(name: str, content: bytes = b"x", **fields) -> bytes:
    """The fixture plus one member whose ZipInfo fields (create_system, external_attr ...) are set."""
    buffer = io.BytesIO(FIXTURE.data)
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo(name)
        for key, value in fields.items():
            setattr(info, key, value)
        archive.writestr(info, content)
    return buffer.getvalue()


def patch_central(data: bytes, name: str, **fields: int) -> bytes:
    """Rewrite fields (flags, method, compressed, size, offset) of `name`'s central directory entry."""
    index = {"flags": 3, "method": 4, "compressed": 8, "size": 9, "offset": 16}
    position = struct.unpack_from("<L", data, data.rindex(b"PK\x05\x06") + 16)[0]
    while data[position : position + 4] == b"PK\x01\x02":
        header = list(CENTRAL.unpack_from(data, position))
        name_length, extra_length, comment_length = header[10:13]
        if data[position + 46 : position + 46 + name_length] == name.encode():
            for key, value in fields.items():
                header[index[key]] = value
            return data[:position] + CENTRAL.pack(*header) + data[position + CENTRAL.size :]
        position += 46 + name_length + extra_length + comment_length
    raise AssertionError(f"{name} is not in the central directory")


@pytest.mark.parametrize(
    "name",
    [
        "../evil.jp2",
        f"{SAFE}/../../etc/passwd",
        "/etc/passwd",
        f"{SAFE}\\..\\..\\evil.jp2",
        "C:/Windows/evil",
        "C:\\evil",
        f"{SAFE}/./MTD_MSIL2A.xml",
        f"{SAFE}//MTD_MSIL2A.xml",
        f"{SAFE}/evil\x07.jp2",
        "..",
        "C:",
        f"{SAFE}/evil\x7f.jp2",
        "/",
    ],
    ids=[
        "dotdot",
        "nested-dotdot",
        "absolute",
        "backslashes",
        "drive-letter",
        "drive-backslash",
        "dot-segment",
        "empty-segment",
        "control-char",
        "bare-dotdot",
        "bare-drive",
        "delete-char",
        "root",
    ],
)
def test_zip_slip_names_are_refused(name):
    error = refused(with_member(name), "unsafe_archive")
    assert error.message == (
        "The archive holds a member whose name leaves the archive (absolute, '..', "
        "backslash, drive letter or control characters)."
    )


@pytest.mark.parametrize("name", [f"{SAFE}/a b.txt", f"{SAFE}/é~!.txt", f"{SAFE}/x:y.txt", "a", "X"])
def test_names_with_spaces_and_printable_characters_are_accepted(name):
    archive = ZipArchive(bytes_reader(data := with_member(name)), len(data))
    assert name in {member.name for member in archive.members}


def test_a_nul_in_a_name_is_refused():
    """zipfile cuts names at NUL; GDAL's C strings too: 'MTD_MSIL2A.xml\\0.txt' would alias another member."""
    data = with_member(f"{SAFE}/aXb.xml").replace(b"/aXb.xml", b"/a\x00b.xml")
    refused(data, "unsafe_archive")


@pytest.mark.parametrize("kind", [stat.S_IFLNK, stat.S_IFCHR, stat.S_IFIFO], ids=["symlink", "device", "fifo"])
def test_links_and_special_files_are_refused(kind):
    """A symlink member named like the TCI, pointing at /etc/passwd."""
    data = rebuilt_zip(FIXTURE.data, {FIXTURE.image: None})
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo(FIXTURE.image)
        info.create_system, info.external_attr = 3, (kind | 0o777) << 16
        archive.writestr(info, b"/etc/passwd")
    error = refused(buffer.getvalue(), "unsafe_archive")
    assert error.message == "The archive holds a symbolic link or special file; only regular files are accepted."


def test_unix_file_modes_count_only_in_unix_made_archives():
    """external_attr's high bits are a Unix mode only when create_system is 3; a DOS-made archive's are not."""
    data = rebuilt_zip(FIXTURE.data, {FIXTURE.image: None})
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        info = zipfile.ZipInfo(f"{SAFE}/x.bin")
        info.create_system, info.external_attr = 0, (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, b"x")
    data = buffer.getvalue()
    assert f"{SAFE}/x.bin" in {member.name for member in ZipArchive(bytes_reader(data), len(data)).members}


@pytest.mark.parametrize("flags", [0x1, 0x41], ids=["zipcrypto", "strong-encryption"])
def test_encrypted_members_are_refused(flags):
    error = refused(patch_central(FIXTURE.data, TILE_XML, flags=flags), "unsafe_archive")
    assert error.message == "The archive holds an encrypted member."


def test_duplicate_names_are_refused():
    """Two MTD_MSIL2A.xml: which one a tool reads differs (zipfile the last, others the first)."""
    buffer = io.BytesIO(FIXTURE.data)
    with zipfile.ZipFile(buffer, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr(PRODUCT_XML, b"<other/>")
    error = refused(buffer.getvalue(), "unsafe_archive")
    assert error.message == "The archive holds two members with the same name."


def test_a_stored_member_claiming_fewer_bytes_than_it_stores_is_refused():
    info = zipfile.ZipFile(io.BytesIO(FIXTURE.data)).getinfo(FIXTURE.image)
    assert info.compress_type == zipfile.ZIP_STORED
    error = refused(patch_central(FIXTURE.data, FIXTURE.image, size=info.compress_size - 1), "archive_too_large")
    assert error.message == "An archive member claims more bytes than its compressed data can hold (zip bomb)."


@pytest.mark.parametrize("overlap", [1, 2 * 30])
def test_members_overlapping_by_a_few_bytes_are_refused(overlap):
    """The check counts each member's 30-byte local header and name, not only its data."""
    second = sorted(zipfile.ZipFile(io.BytesIO(FIXTURE.data)).infolist(), key=lambda info: info.header_offset)[1]
    error = refused(
        patch_central(FIXTURE.data, second.filename, offset=second.header_offset - overlap), "unsafe_archive"
    )
    assert error.message == "The archive's members overlap each other or its directory."


def test_the_fetch_budget_counts_every_byte_read_and_admits_exactly_its_size():
    """The listing fetches what the reader hands over, no more and no less, and a budget of exactly that
    many bytes is enough while one byte fewer is refused before the read."""
    handed = []

    def read(offset: int, length: int) -> bytes:
        handed.append(length)
        return FIXTURE.data[offset : offset + length]

    archive = ZipArchive(read, len(FIXTURE.data))
    assert archive.fetched == sum(handed) > 0
    exact = dataclasses.replace(ZIP_LIMITS, max_fetch_bytes=archive.fetched)
    assert ZipArchive(bytes_reader(FIXTURE.data), len(FIXTURE.data), exact).fetched == archive.fetched
    with pytest.raises(ArchiveTooLarge):
        ZipArchive(
            bytes_reader(FIXTURE.data),
            len(FIXTURE.data),
            dataclasses.replace(exact, max_fetch_bytes=archive.fetched - 1),
        )


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_compression_other_than_stored_or_deflate_is_refused(method):
    error = refused(with_member(f"{SAFE}/x.bin", b"x" * 100, compress_type=method), "unsupported_format")
    assert error.message == "The archive holds a member compressed with other than STORED or DEFLATE."


def test_a_member_claiming_gigabytes_is_refused():
    """manifest.safe (never read) claiming 3 GiB from a few hundred compressed bytes."""
    refused(patch_central(FIXTURE.data, f"{SAFE}/manifest.safe", size=3 << 30), "archive_too_large")


def test_a_deflate_bomb_xml_is_refused_before_it_is_inflated():
    """MTD_TL.xml: 64 MB of spaces in 62 KB. Its declared size is over the XML cap: nothing is inflated."""
    bomb = b"<a>" + b" " * (64 << 20) + b"</a>"
    data = rebuilt_zip(FIXTURE.data, {TILE_XML: bomb})
    assert len(data) < len(FIXTURE.data) + 100_000
    tracemalloc.start()
    refused(data, "archive_too_large")
    assert tracemalloc.get_traced_memory()[1] < 2 << 20
    tracemalloc.stop()


def test_a_deflate_bomb_lying_about_its_size_is_cut_at_the_declared_size():
    """The same stream declared as 40 KB: inflating stops there and the CRC check refuses it."""
    bomb = b"<a>" + b" " * (64 << 20) + b"</a>"
    data = patch_central(rebuilt_zip(FIXTURE.data, {TILE_XML: bomb}), TILE_XML, size=40_000)
    tracemalloc.start()
    refused(data, "unreadable_raster")
    assert tracemalloc.get_traced_memory()[1] < 2 << 20
    tracemalloc.stop()


def test_a_deflated_image_claiming_more_than_jpeg_2000_can_hold_is_refused():
    data = safe_zip(L2A_N0500, zipfile.ZIP_DEFLATED).data
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(FIXTURE.image)
    error = refused(patch_central(data, FIXTURE.image, size=info.compress_size * 3 + (64 << 10)), "archive_too_large")
    assert error.message == "The product's image claims more bytes than its compressed data can hold (zip bomb)."


def test_a_deflated_image_at_exactly_the_jpeg_2000_ratio_is_accepted():
    """Twice the compressed size plus 64 KiB of metadata slack is the most an image may claim; a byte more is a bomb."""
    data = safe_zip(L2A_N0500, zipfile.ZIP_DEFLATED).data
    edge = zipfile.ZipFile(io.BytesIO(data)).getinfo(FIXTURE.image).compress_size * 2 + (64 << 10)
    archive = ZipArchive(bytes_reader(patched := patch_central(data, FIXTURE.image, size=edge)), len(patched))
    product = read_product(archive.members, archive.read)
    assert (product.image.name, product.image.size) == (FIXTURE.image, edge)
    refused(patch_central(data, FIXTURE.image, size=edge + 1), "archive_too_large")


def test_a_metadata_member_shorter_than_its_declared_size_is_corrupt():
    info = zipfile.ZipFile(io.BytesIO(FIXTURE.data)).getinfo(PRODUCT_XML)
    error = refused(patch_central(FIXTURE.data, PRODUCT_XML, size=info.file_size + 10), "unreadable_raster")
    assert error.message == "The zip archive is corrupt or truncated."


def test_overlapping_members_are_refused():
    """Members that share bytes (one deflate stream behind many entries: the non-recursive zip bomb)."""
    refused(patch_central(FIXTURE.data, TILE_XML, offset=0), "unsafe_archive")


def test_data_before_the_first_member_is_refused():
    """A JPEG 2000 or TIFF with a zip appended: zipfile would shift every offset and read it anyway."""
    error = refused(jp2_file(codestream(64, 64)) + FIXTURE.data, "unsafe_archive")
    assert error.message == "The archive has data before its first member."


def test_absurd_member_counts_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(ZIP_LIMITS.max_members + 1):
            archive.writestr(f"{SAFE}/HTML/{index}.html", b"")
    refused(buffer.getvalue(), "archive_too_large")


def test_the_member_reader_may_fetch_the_whole_member_beyond_the_metadata_budget():
    """Reading the image to pre-scan it costs its compressed size on top of the listing's budget."""
    listing = ZipArchive(bytes_reader(FIXTURE.data), len(FIXTURE.data)).fetched
    image = zipfile.ZipFile(io.BytesIO(FIXTURE.data)).getinfo(FIXTURE.image)
    limits = dataclasses.replace(ZIP_LIMITS, max_fetch_bytes=listing + 1024)  # + the member's local header
    assert image.compress_size > 1024
    read = ZipArchive(bytes_reader(FIXTURE.data), len(FIXTURE.data), limits).member_reader(FIXTURE.image)
    assert read(0, image.file_size) == zipfile.ZipFile(io.BytesIO(FIXTURE.data)).read(FIXTURE.image)


def test_limits_on_members_are_inclusive():
    """Exactly max_members members, a member of exactly max_member_bytes and a read of exactly max_bytes pass."""
    names = zipfile.ZipFile(io.BytesIO(FIXTURE.data)).namelist()
    tile = zipfile.ZipFile(io.BytesIO(FIXTURE.data)).getinfo(TILE_XML).file_size
    exact = dataclasses.replace(ZIP_LIMITS, max_members=len(names), max_member_bytes=FIXTURE_LARGEST)
    archive = ZipArchive(bytes_reader(FIXTURE.data), len(FIXTURE.data), exact)
    assert len(archive.read(TILE_XML, tile)) == tile
    with pytest.raises(ArchiveTooLarge):
        ZipArchive(
            bytes_reader(FIXTURE.data), len(FIXTURE.data), dataclasses.replace(exact, max_members=len(names) - 1)
        )
    with pytest.raises(ArchiveTooLarge):
        ZipArchive(
            bytes_reader(FIXTURE.data),
            len(FIXTURE.data),
            dataclasses.replace(exact, max_member_bytes=FIXTURE_LARGEST - 1),
        )
    with pytest.raises(ArchiveTooLarge):
        archive.read(TILE_XML, tile - 1)


def test_a_central_directory_claiming_gigabytes_is_not_fetched():
    """A 4 GiB object whose end record claims a 3 GiB directory: refused before any of it is fetched or
    allocated."""
    size, directory = 4 << 30, 3 << 30
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 60_000, 60_000, directory, size - 22 - directory, 0)
    fetched = []

    def read(offset: int, length: int) -> bytes:
        fetched.append(length)
        tail = max(0, offset + length - (size - 22))
        return bytes(length - tail) + end[:tail] if tail else bytes(length)

    tracemalloc.start()
    refused(b"", "archive_too_large", read=read, size=size)
    assert tracemalloc.get_traced_memory()[1] < 64 << 20
    tracemalloc.stop()
    assert sum(fetched) < 1 << 20


@pytest.mark.parametrize(
    "xml, what",
    [
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
            b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
            b'<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
            b'<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">'
            b'<!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]><l><PRODUCT_URI>&i;</PRODUCT_URI></l>',
            "billion-laughs",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<l><PRODUCT_URI>&x;</PRODUCT_URI></l>",
            "external-file-entity",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY % p SYSTEM "file:///proc/self/environ"> %p;]><l/>',
            "parameter-entity",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY q "' + b"q" * 100_000 + b'">]><l>' + b"&q;" * 30 + b"</l>",
            "quadratic-blowup",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_xml_entities_and_dtds_are_refused(xml, what):
    error = refused(rebuilt_zip(FIXTURE.data, {PRODUCT_XML: xml}), "invalid_product")
    assert "DTD" in error.message  # refused for declaring them, before any expansion or lookup


def test_an_external_dtd_is_never_fetched(tmp_path):
    with CountingServer(tmp_path) as server:
        for xml in (
            f'<?xml version="1.0"?><!DOCTYPE l SYSTEM "{server.url}/x.dtd"><l/>',
            f'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY x SYSTEM "{server.url}/e">]><l>&x;</l>',
        ):
            refused(rebuilt_zip(FIXTURE.data, {TILE_XML: xml.encode()}), "invalid_product")
        assert server.requests == []


def test_huge_xml_is_refused_by_its_declared_size():
    """5 MB of valid XML (comments): over the 4 MiB cap, refused before it is inflated or parsed."""
    xml = zipfile.ZipFile(io.BytesIO(FIXTURE.data)).read(PRODUCT_XML)
    padded = xml.replace(b"<n1:General_Info>", b"<!-- " + b"x" * (5 << 20) + b" --><n1:General_Info>", 1)
    refused(rebuilt_zip(FIXTURE.data, {PRODUCT_XML: padded}), "archive_too_large")


# --- JPEG 2000 header bombs --------------------------------------------------------------------------

JP2_BOMBS = {
    # 62,500 tiles of 64²: measured 4.8 s and 1.45 GB for a 512 px read of the patched header
    "tiles": (codestream(16000, 16000, tile=(64, 64)), "header_too_complex"),
    # one 60000² tile: 450 MB allocated by OpenJPEG before anything is decoded
    "one-huge-tile": (codestream(60000, 60000), "header_too_complex"),
    "levels-33": (codestream(4096, 4096, tile=(4096, 4096), levels=33), "unreadable_raster"),
    "components": (codestream(64, 64, components=65), "raster_too_large"),
    "pixels": (codestream(1_000_000, 1_000_000, tile=(1024, 1024)), "raster_too_large"),
    "tiles-over-the-spec": (codestream(70_000, 1, tile=(1, 1)), "unreadable_raster"),
}


@pytest.mark.parametrize("boxed", [True, False], ids=["jp2", "j2k"])
@pytest.mark.parametrize("name", JP2_BOMBS)
def test_jp2_header_bombs_are_refused_from_a_few_hundred_bytes(name, boxed):
    stream, code = JP2_BOMBS[name]
    data = jp2_file(stream) if boxed else stream
    read_bytes = []

    def read(offset: int, length: int) -> bytes:
        read_bytes.append(length)
        return data[offset : offset + length]

    with cpu_seconds_under(0.5), pytest.raises(RasterError) as caught:
        scan_jp2(read, len(data))
    assert caught.value.code == code
    assert sum(read_bytes) < 1024
    assert_no_leak(caught.value.message)


def test_a_jp2_bomb_inside_a_product_is_refused_through_the_member_reader():
    bomb = jp2_file(JP2_BOMBS["tiles"][0])
    data = rebuilt_zip(FIXTURE.data, {FIXTURE.image: bomb})
    archive = ZipArchive(bytes_reader(data), len(data))
    product = read_product(archive.members, archive.read)
    with pytest.raises(RasterError) as caught:
        scan_jp2(archive.member_reader(product.image.name), product.image.size)
    assert caught.value.code == "header_too_complex"


# --- Mutations -----------------------------------------------------------------------------------------


def _mutations(data: bytes, regions: list[tuple[int, int]], count: int, seed: int):
    """`count` copies of `data` with 1-4 random bytes changed inside `regions`, a tenth also truncated."""
    rng = random.Random(seed)
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            start, end = rng.choice(regions)
            mutated[rng.randrange(start, end)] = rng.randrange(256)
        yield bytes(mutated[: rng.randrange(len(mutated))] if rng.random() < 0.1 else mutated)


def test_mutated_products_fail_only_with_raster_errors():
    """Byte changes in the central directory and the metadata members (the parts the core parses and
    inflates): every outcome is a product or a RasterError, never zipfile's, zlib's or XML's own errors."""
    listing = zipfile.ZipFile(io.BytesIO(FIXTURE.data))
    xml = [listing.getinfo(name) for name in (PRODUCT_XML, TILE_XML)]
    regions = [(listing.start_dir, len(FIXTURE.data))] + [
        (info.header_offset, info.header_offset + 80 + info.compress_size) for info in xml
    ]
    outcomes = collections.Counter()
    for data in _mutations(FIXTURE.data, regions, 3000, seed=11):
        try:
            archive = ZipArchive(bytes_reader(data), len(data))
            product = read_product(archive.members, archive.read)
            scan_jp2(archive.member_reader(product.image.name), product.image.size)
            outcomes["product"] += 1
        except RasterError as error:
            outcomes[error.code] += 1
    assert outcomes["product"] and outcomes["unreadable_raster"] and outcomes["invalid_product"], outcomes


def test_mutated_jp2_headers_fail_only_with_raster_errors():
    encoded = jp2_file(codestream(256, 256, tile=(64, 64), components=3, levels=4))
    outcomes = collections.Counter()
    for data in _mutations(encoded, [(0, len(encoded))], 3000, seed=7):
        try:
            scan_jp2(bytes_reader(data), len(data))
            outcomes["accepted"] += 1
        except RasterError as error:
            outcomes[error.code] += 1
    assert outcomes["accepted"] and outcomes["unreadable_raster"], outcomes
