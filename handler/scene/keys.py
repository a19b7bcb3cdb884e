"""Which object keys are scenes: one policy for the S3 trigger, `key=` and `/uploads`, so any key the
trigger renders also works through `key=` (spaces, `+`, `%`, `?`, non-ASCII ... are literal key
characters for boto3 and GDAL alike)."""

import re

from handler.scene.errors import InvalidKey

# The file kinds rendered, by key suffix (any case): GeoTIFF / COG, JPEG 2000 (Sentinel-2's band and TCI
# files) and zipped SAFE products (`S2B_MSIL2A_..._<generation>.SAFE.zip`).
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".j2k", ".zip")
MAX_KEY_BYTES = 1024  # S3's own limit
# Control characters (a newline would end a log line or a header), and braces, GDAL's archive-path syntax.
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x1f\x7f{}]")
# A client's file name kept as is (spooled uploads, upload keys): letters, digits and `_.-`, no leading dot.
_PLAIN_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def plain_file_name(filename: str | None) -> str | None:
    """The base name of a client's file name when it is plain (`T32TQM_..._B04_10m.jp2`), else None: it may
    name a band, and it never carries a path, a space or a character a key or a shell would read."""
    base = (filename or "").replace("\\", "/").rpartition("/")[2]
    return base if _PLAIN_FILE_NAME.fullmatch(base) else None


def has_dot_segment(key: str) -> bool:
    """True for keys with '.' or '..' segments: GDAL normalises them in a /vsis3/ path and would
    read another object than the one S3 was asked about."""
    return any(part in (".", "..") for part in key.split("/"))


def key_problem(key: str, prefix: str) -> str | None:
    """Why `key` is not a scene under `prefix` (a stable reason), or None when it is one."""
    if not key.startswith(prefix):
        return "outside_input_prefix"
    if key.endswith("/"):
        return "folder"
    if not key.lower().endswith(RASTER_SUFFIXES):
        return "unsupported_suffix"
    if len(key.encode()) > MAX_KEY_BYTES or _UNSAFE_CHARACTERS.search(key) or "//" in key or has_dot_segment(key):
        return "unsafe_key"
    return None


def validate_key(key: str, prefix: str) -> str:
    """`key` when it names a scene under `prefix` (the key= parameter); never a URL, GDAL path or another
    bucket, which all fail the policy before any S3 or GDAL call."""
    if key_problem(key, prefix) is not None:
        raise InvalidKey(
            f"key must be an object key like '{prefix}<name>.tif' in the input bucket "
            f"(.tif, .tiff, .jp2, .j2k or a SAFE product's .zip)."
        )
    return key
