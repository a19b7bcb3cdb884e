"""A zip archive read in place and distrusted: the central directory through a `read(offset, length)`
callable (bytes, a file, ranged S3 GETs) with a byte budget, every member checked before any is used,
and only members the caller names decompressed, each up to a byte cap.

Python's zipfile parses the structures (zip64 included) over a read-only, seekable file object; this
module decides what is acceptable: no zip-slip, absolute, backslash or drive-letter names, no links or
device members, no encryption, only STORED and DEFLATE, no duplicate or overlapping members, no data
before the first member, and sizes and ratios a real archive can have.
"""

import io
import stat
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from handler.core.errors import ArchiveTooLarge, RasterError, UnreadableRaster, UnsafeArchive, UnsupportedFormat
from handler.core.tiff_scan import Read

CORRUPT = "The zip archive is corrupt or truncated."
STORED, DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
LOCAL_HEADER = 30  # bytes of a local file header before its name and extra field
# DEFLATE cannot expand more than 1032:1; a member claiming more lies about its size.
MAX_DEFLATE_RATIO = 1032
ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional and strong encryption
# What zipfile raises on malformed structures; I/O errors (OSError) are left to the caller to retry.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    EOFError,
    ValueError,
    OverflowError,
    NotImplementedError,
    UnicodeDecodeError,
)


@dataclass(frozen=True)
class ZipLimits:
    """What an archive may hold (a Sentinel-2 L2A SAFE zip: ~150 members, ~30 KB of central directory,
    members up to ~150 MB, 0.5-1.2 GB in all)."""

    max_members: int = 1000
    max_fetch_bytes: int = 16 << 20  # everything this module reads: listing and chosen members
    max_member_bytes: int = 2 << 30  # any member, uncompressed


ZIP_LIMITS = ZipLimits()


@dataclass(frozen=True)
class Member:
    """One checked regular file in the archive (directories are not members)."""

    name: str
    size: int  # uncompressed
    compressed_size: int
    method: int  # STORED or DEFLATED


class _RangeFile(io.RawIOBase):
    """A read-only, seekable file over a `Read`, refusing to fetch more than `budget` bytes in all."""

    def __init__(self, read: Read, size: int, budget: int):
        self._read, self._size, self._budget, self._position = read, size, budget, 0
        self.fetched = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise OSError("negative seek position")
        self._position = base + offset
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        """Up to `size` bytes (the rest when negative), the budget checked before anything is allocated."""
        remaining = max(0, self._size - self._position)
        length = remaining if size is None or size < 0 else min(size, remaining)
        if self.fetched + length > self._budget:
            raise ArchiveTooLarge(f"Reading the archive's directory and metadata needs over {self._budget:,} bytes.")
        data = self._read(self._position, length) if length else b""
        self.fetched += len(data)
        self._position += len(data)
        return data


def _unsafe_name(name: str) -> bool:
    """True for names that could leave an extraction folder or mean different files to different tools.
    An empty segment covers "" and absolute names ("/etc" splits into "" and "etc")."""
    segments = name.rstrip("/").split("/")
    return (
        "\\" in name
        or (len(name) > 1 and name[1] == ":")
        or any(segment in ("", ".", "..") for segment in segments)
        or any(ord(char) < 32 or ord(char) == 127 for char in name)
    )


def _check_entry(info: zipfile.ZipInfo, limits: ZipLimits) -> None:
    """Refuse one central-directory entry that is unsafe or claims impossible sizes."""
    if info.orig_filename != info.filename or _unsafe_name(info.filename):
        raise UnsafeArchive(
            "The archive holds a member whose name leaves the archive (absolute, '..', "
            "backslash, drive letter or control characters)."
        )
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise UnsafeArchive("The archive holds a symbolic link or special file; only regular files are accepted.")
    if info.flag_bits & ENCRYPTED_FLAGS:
        raise UnsafeArchive("The archive holds an encrypted member.")
    if info.compress_type not in (STORED, DEFLATED):
        raise UnsupportedFormat("The archive holds a member compressed with other than STORED or DEFLATE.")
    if info.file_size > limits.max_member_bytes:
        raise ArchiveTooLarge(
            f"An archive member is {info.file_size:,} bytes uncompressed; at most "
            f"{limits.max_member_bytes:,} are accepted."
        )
    ratio = 1 if info.compress_type == STORED else MAX_DEFLATE_RATIO
    if info.file_size > ratio * info.compress_size or (ratio == 1 and info.file_size != info.compress_size):
        raise ArchiveTooLarge("An archive member claims more bytes than its compressed data can hold (zip bomb).")


def _name_bytes(info: zipfile.ZipInfo) -> int:
    return len(info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437"))


def _check_layout(infos: list[zipfile.ZipInfo], directory_start: int) -> None:
    """Members start at byte 0, are stored one after another, never share bytes with each other or
    with the central directory (overlapping members are how one deflate stream becomes many)."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    if ordered and ordered[0].header_offset != 0:
        raise UnsafeArchive("The archive has data before its first member.")
    ends = [info.header_offset + LOCAL_HEADER + _name_bytes(info) + info.compress_size for info in ordered]
    starts = [info.header_offset for info in ordered[1:]] + [directory_start]
    if any(end > start for end, start in zip(ends, starts)):
        raise UnsafeArchive("The archive's members overlap each other or its directory.")


@contextmanager
def _zip_errors() -> Iterator[None]:
    """zipfile's errors on malformed input become UnreadableRaster; RasterErrors (budgets) pass through."""
    try:
        yield
    except RasterError:
        raise
    except ZIP_ERRORS as exc:
        raise UnreadableRaster(CORRUPT) from exc


class ZipArchive:
    """The checked listing of a zip read through `read`, and bounded reads of the members it names."""

    def __init__(self, read: Read, size: int, limits: ZipLimits = ZIP_LIMITS):
        self._read, self._size, self._limits = read, size, limits
        self._file = _RangeFile(read, size, limits.max_fetch_bytes)
        with _zip_errors():
            self._zip = zipfile.ZipFile(self._file)
        infos = self._zip.infolist()
        if len(infos) > limits.max_members:
            raise ArchiveTooLarge(
                f"The archive has {len(infos):,} members; at most {limits.max_members:,} are accepted."
            )
        for info in infos:
            _check_entry(info, limits)
        if len({info.filename for info in infos}) != len(infos):
            raise UnsafeArchive("The archive holds two members with the same name.")
        _check_layout(infos, self._zip.start_dir)
        self.members = tuple(
            Member(info.filename, info.file_size, info.compress_size, info.compress_type)
            for info in infos
            if not info.is_dir()
        )

    @property
    def fetched(self) -> int:
        """Bytes read from the archive so far (the listing and the members read)."""
        return self._file.fetched

    def read(self, name: str, max_bytes: int) -> bytes:
        """The uncompressed bytes of member `name`, refused (before decompressing) when it is over `max_bytes`;
        the local header must name the same member and the CRC must match."""
        info = self._zip.getinfo(name)
        if info.file_size > max_bytes:
            raise ArchiveTooLarge(
                f"An archive member to read is {info.file_size:,} bytes; at most {max_bytes:,} are accepted."
            )
        with _zip_errors(), self._zip.open(info) as member:
            data = member.read(info.file_size)  # inflates no further than the declared size
        if len(data) != info.file_size:
            raise UnreadableRaster(CORRUPT)
        return data

    def member_reader(self, name: str) -> Read:
        """A `Read` over member `name`'s uncompressed bytes (for the JPEG 2000 pre-scan of the image to
        render): STORED members seek directly, DEFLATE members decompress from their start; either way it
        fetches at most the member once plus the archive's metadata budget."""
        info = self._zip.getinfo(name)
        source = _RangeFile(self._read, self._size, self._limits.max_fetch_bytes + info.compress_size)
        with _zip_errors():
            member = zipfile.ZipFile(source).open(info)

        def read(offset: int, length: int) -> bytes:
            with _zip_errors():
                member.seek(offset)
                return member.read(length)

        return read
