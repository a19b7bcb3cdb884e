"""S3 adapter: the only module that talks to S3 (boto3 for metadata and writes, GDAL /vsis3/ paths for
pixel reads); it satisfies `handler.scene.store.Store`."""

import os
from contextlib import ExitStack
from functools import lru_cache
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from handler.core import gdal_config  # noqa: F401  (GDAL hardening before rasterio loads)

from rasterio._err import (
    CPLE_AWSAccessDeniedError,
    CPLE_AWSBucketNotFoundError,
    CPLE_AWSError,
    CPLE_AWSInvalidCredentialsError,
    CPLE_AWSObjectNotFoundError,
    CPLE_AWSSignatureDoesNotMatchError,
    CPLE_HttpResponseError,
)

from handler.observability import tracer
from handler.scene.errors import InvalidKey
from handler.scene.keys import has_dot_segment
from handler.scene.store import ObjectInfo, WriteConflict

# Outputs carry the source object's ETag so replayed events are recognised.
SOURCE_ETAG = "source-etag"
MISSING = ("404", "NoSuchKey", "NotFound")
NULL_VERSION = "null"  # the version id of objects put while versioning is suspended: names no version
# A conditional write that lost: the key changed since it was looked at (or a concurrent one won).
CONFLICT = ("PreconditionFailed", "ConditionalRequestConflict", *MISSING)
# S3 or network trouble: boto3's errors, and what GDAL's /vsis3/ reads raise for HTTP and AWS errors
# (the core wraps those in UnreadableRaster; they stay in its cause chain).
TRANSIENT_ERRORS = (
    BotoCoreError,
    ClientError,
    CPLE_HttpResponseError,
    CPLE_AWSError,
    CPLE_AWSObjectNotFoundError,
    CPLE_AWSAccessDeniedError,
    CPLE_AWSBucketNotFoundError,
    CPLE_AWSInvalidCredentialsError,
    CPLE_AWSSignatureDoesNotMatchError,
)


@lru_cache(maxsize=1)
def s3_client():
    """One client per process, signing with SigV4 (new buckets refuse SigV2) in the bucket's region and
    addressing buckets by virtual host, as S3 wants; path-style only for a local stand-in
    (AWS_ENDPOINT_URL_S3, e.g. moto's server on 127.0.0.1). boto3 is imported here, not at module load:
    uploads never need it, and it costs ~0.1 s of cold start."""
    import boto3
    from botocore.config import Config

    tracer.patch(["botocore"])  # S3 calls become X-Ray subsegments (a no-op when tracing is off)
    local = bool(os.environ.get("AWS_ENDPOINT_URL_S3"))
    return boto3.client(
        "s3", config=Config(signature_version="s3v4", s3={"addressing_style": "path" if local else "virtual"})
    )


def is_missing(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in MISSING


def version_id(value: str | None) -> str | None:
    """A version id that names one version, or None (unversioned, or "null" while versioning is suspended,
    where every put reuses it and only the ETag tells versions apart)."""
    return None if value in (None, "", NULL_VERSION) else value


def _head(bucket: str, key: str) -> dict | None:
    try:
        return s3_client().head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if is_missing(error):
            return None
        raise


def _info(bucket: str, key: str, response: dict) -> ObjectInfo:
    return ObjectInfo(
        bucket, key, response["ContentLength"], response["ETag"].strip('"'), version_id(response.get("VersionId"))
    )


def head(bucket: str, key: str) -> ObjectInfo | None:
    """Size, ETag and version id of an object's current version, or None when it does not exist."""
    response = _head(bucket, key)
    return None if response is None else _info(bucket, key, response)


def output_etag(bucket: str, key: str) -> str | None:
    """An output's ETag now (None: not written yet): the precondition of the next write to it."""
    response = _head(bucket, key)
    return None if response is None else response["ETag"]


def current_output(bucket: str, key: str, source: ObjectInfo) -> ObjectInfo | None:
    """An output object written from this version of `source` (its ETag recorded on the output), or
    None when it is missing or was made from an older version."""
    response = _head(bucket, key)
    if response is None or response.get("Metadata", {}).get(SOURCE_ETAG) != source.etag:
        return None
    return _info(bucket, key, response)


def read_range(bucket: str, key: str, offset: int, length: int) -> bytes:
    """`length` bytes at `offset` (one ranged GET): what the TIFF header scan reads before GDAL does."""
    response = s3_client().get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")
    return response["Body"].read()


def read_bytes(bucket: str, key: str) -> bytes | None:
    """A small object's content, or None when it does not exist."""
    try:
        return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if is_missing(error):
            return None
        raise


def put(bucket: str, key: str, body: bytes | Path, content_type: str, source_etag: str, replaces: str | None) -> None:
    """Write one complete object (bytes, or a local file of up to 5 GB) only if the key still holds the
    ETag `replaces` (None: only if it does not exist), else raise WriteConflict: S3 conditional writes
    (If-Match / If-None-Match), so a writer can never overwrite an object written after it looked.
    S3 puts are atomic: readers never see half of an object."""
    condition = {"IfMatch": replaces} if replaces else {"IfNoneMatch": "*"}
    try:
        with ExitStack() as stack:
            data = stack.enter_context(body.open("rb")) if isinstance(body, Path) else body
            s3_client().put_object(
                Bucket=bucket,
                Key=key,
                Body=data,
                ContentType=content_type,
                Metadata={SOURCE_ETAG: source_etag},
                **condition,
            )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in CONFLICT:
            raise WriteConflict(f"s3://{bucket}/{key} changed since it was looked at") from error
        raise


def presigned_url(method: str, bucket: str, key: str, expires: int, **params) -> str:
    """A time-limited URL for `get_object` on one key."""
    return s3_client().generate_presigned_url(
        method, Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=expires
    )


def presigned_post(bucket: str, key: str, expires: int, content_type: str, max_bytes: int) -> dict:
    """A presigned POST (SigV4 policy) for exactly `key`, of `content_type`, 1..max_bytes long: S3 refuses
    any other key, type or size, and the form after `expires` seconds."""
    return s3_client().generate_presigned_post(
        bucket,
        key,
        Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
        ExpiresIn=expires,
    )


def list_keys(bucket: str, prefix: str, limit: int) -> list[str]:
    """Up to `limit` keys under `prefix` (one ListObjectsV2 call)."""
    response = s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=limit)
    return [item["Key"] for item in response.get("Contents", [])]


def gdal_path(bucket: str, key: str) -> str:
    """GDAL's path of an object (range reads through /vsis3/); never one GDAL would normalise into another
    object's (the key policy refuses such keys first)."""
    if has_dot_segment(key):
        raise InvalidKey("Keys with '.' or '..' segments are not read.")
    return f"/vsis3/{bucket}/{key}"


def is_transient(error: BaseException) -> bool:
    """True when S3 or the network failed (anywhere in the cause chain): worth a retry. Anything else
    raised while reading an object comes from its content, which a retry would read again."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, TRANSIENT_ERRORS):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
