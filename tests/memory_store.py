"""An in-memory `handler.scene.store.Store` for the scene lifecycle's tests: objects as bytes with ETags,
S3's conditional-write rules, and GDAL paths under /vsimem/, so the core reads pixels as it would over S3."""

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from rasterio.io import MemoryFile

from handler.scene.store import ObjectInfo, WriteConflict


class StoreUnavailable(Exception):
    """What the fake raises when told to fail like an outage (the store's transient error)."""


@dataclass
class Stored:
    body: bytes
    etag: str
    content_type: str = ""
    source_etag: str | None = None


@dataclass
class MemoryStore:
    """Buckets of objects in a dict. Ranged reads of `failing` keys raise StoreUnavailable; `log` records
    every call as (method, key)."""

    objects: dict[tuple[str, str], Stored] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    log: list[tuple[str, str]] = field(default_factory=list)
    _files: dict[tuple[str, str, str], MemoryFile] = field(default_factory=dict)

    def upload(self, bucket: str, key: str, body: bytes) -> ObjectInfo:
        """A client's put (no condition, no source ETag): the object's new version."""
        self.objects[bucket, key] = Stored(body, hashlib.md5(body).hexdigest())
        return self.head(bucket, key)

    def _get(self, method: str, bucket: str, key: str) -> Stored | None:
        self.log.append((method, key))
        return self.objects.get((bucket, key))

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        stored = self._get("head", bucket, key)
        return None if stored is None else ObjectInfo(bucket, key, len(stored.body), stored.etag)

    def output_etag(self, bucket: str, key: str) -> str | None:
        stored = self._get("output_etag", bucket, key)
        return None if stored is None else stored.etag

    def current_output(self, bucket: str, key: str, source: ObjectInfo) -> ObjectInfo | None:
        stored = self._get("current_output", bucket, key)
        if stored is None or stored.source_etag != source.etag:
            return None
        return ObjectInfo(bucket, key, len(stored.body), stored.etag)

    def read_range(self, bucket: str, key: str, offset: int, length: int) -> bytes:
        stored = self._get("read_range", bucket, key)
        if key in self.failing:
            raise StoreUnavailable(f"read_range {key}: the store is down")
        return stored.body[offset : offset + length]

    def read_bytes(self, bucket: str, key: str) -> bytes | None:
        stored = self._get("read_bytes", bucket, key)
        return None if stored is None else stored.body

    def put(
        self, bucket: str, key: str, body: bytes | Path, content_type: str, source_etag: str, replaces: str | None
    ) -> None:
        self.log.append(("put", key))
        current = self.objects.get((bucket, key))
        if (current.etag if current else None) != replaces:
            raise WriteConflict(f"{key} changed")
        data = body.read_bytes() if isinstance(body, Path) else body
        self.objects[bucket, key] = Stored(data, hashlib.md5(data).hexdigest(), content_type, source_etag)

    def presigned_url(self, method: str, bucket: str, key: str, expires: int, **params: str) -> str:
        return f"memory://{bucket}/{key}?method={method}&expires={expires}"

    def presigned_post(self, bucket: str, key: str, expires: int, content_type: str, max_bytes: int) -> dict:
        return {
            "url": f"memory://{bucket}",
            "fields": {"key": key, "Content-Type": content_type, "max-bytes": str(max_bytes), "expires": str(expires)},
        }

    def list_keys(self, bucket: str, prefix: str, limit: int) -> list[str]:
        self.log.append(("list_keys", prefix))
        return [key for key in self.keys(bucket) if key.startswith(prefix)][:limit]

    def gdal_path(self, bucket: str, key: str) -> str:
        self.log.append(("gdal_path", key))
        stored = self.objects[bucket, key]
        file = self._files.get((bucket, key, stored.etag))
        if file is None:
            # named like the key (a single-band JPEG 2000 file's name names its band), in a folder of its own
            file = self._files[bucket, key, stored.etag] = MemoryFile(stored.body, filename=key.rpartition("/")[2])
        return file.name

    def is_transient(self, error: BaseException) -> bool:
        return isinstance(error, StoreUnavailable) or isinstance(error.__cause__, StoreUnavailable)

    def keys(self, bucket: str) -> list[str]:
        return sorted(key for stored_bucket, key in self.objects if stored_bucket == bucket)

    def close(self) -> None:
        for file in self._files.values():
            file.close()
