"""What a scene's lifecycle needs from object storage: a small protocol the S3 adapter (`handler.s3_store`)
satisfies, as do the tests' in-memory store, and the object facts passed between them."""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class ObjectInfo:
    """What the store says about an object right now (not what an event claimed)."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None = None  # set in versioned buckets

    def same_version(self, other: "ObjectInfo | None") -> bool:
        """True when `other` is this very version: same version id in a versioned bucket, else same ETag."""
        if other is None:
            return False
        return other.version_id == self.version_id if self.version_id else other.etag == self.etag


class WriteConflict(Exception):
    """A conditional write lost: the output is no longer what the writer saw (another render wrote it)."""


class Store(Protocol):
    """Objects by bucket and key: metadata, ranged and whole reads, conditional writes, and the GDAL
    path through which the core reads pixels."""

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        """The object's current version, or None when it does not exist."""

    def output_etag(self, bucket: str, key: str) -> str | None:
        """An output's ETag now (None: not written yet): the precondition of the next write to it."""

    def current_output(self, bucket: str, key: str, source: ObjectInfo) -> ObjectInfo | None:
        """The output at `key` when it was written from this version of `source`, else None."""

    def read_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        """`length` bytes at `offset`."""

    def read_bytes(self, bucket: str, key: str) -> bytes | None:
        """A small object's content, or None when it does not exist."""

    def put(
        self, bucket: str, key: str, body: bytes | Path, content_type: str, source_etag: str, replaces: str | None
    ) -> None:
        """Write a whole object recording `source_etag`, only while the key still holds ETag `replaces`
        (None: only if it does not exist); else raise WriteConflict."""

    def presigned_url(self, method: str, bucket: str, key: str, expires: int, **params: str) -> str:
        """A time-limited URL for `get_object` on one key."""

    def presigned_post(self, bucket: str, key: str, expires: int, content_type: str, max_bytes: int) -> dict:
        """A time-limited browser/curl upload of one key: `{"url", "fields"}` whose signed policy fixes the
        key and content type and bounds the size to 1..max_bytes."""

    def list_keys(self, bucket: str, prefix: str, limit: int) -> list[str]:
        """Up to `limit` keys under `prefix`, in key order."""

    def gdal_path(self, bucket: str, key: str) -> str:
        """The path GDAL opens the object's bytes with."""

    def is_transient(self, error: BaseException) -> bool:
        """True when `error` (or its cause) is the store's or the network's trouble: worth a retry."""
