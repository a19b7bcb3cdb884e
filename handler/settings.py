"""Deployment settings read from the environment (set by template.yaml or the developer)."""

import os
from dataclasses import dataclass, field, fields

# A base64 multipart body must stay under Lambda's 6 MB synchronous payload limit.
LAMBDA_UPLOAD_BYTES = 4 * 1024 * 1024
# The local server has no payload limit: full-size exports (a 12-band L2A scene is ~72 MB) are fine.
LOCAL_UPLOAD_BYTES = 2 * 1024**3


def running_on_lambda() -> bool:
    """True inside Lambda, `sam local` and the runtime interface emulator, which all set these."""
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ or "AWS_LAMBDA_RUNTIME_API" in os.environ


def default_upload_bytes() -> int:
    """The request body cap of the runtime we are in (MAX_UPLOAD_BYTES overrides it)."""
    return LAMBDA_UPLOAD_BYTES if running_on_lambda() else LOCAL_UPLOAD_BYTES


class InvalidSetting(ValueError):
    """An environment variable holds a value its setting cannot take (MAX_UPLOAD_BYTES=4MB)."""


@dataclass(frozen=True)
class Settings:
    """`max_upload_bytes` follows the runtime (Lambda's payload limit there, GB locally) and
    `max_response_bytes` keeps base64 responses under Lambda's 6 MB payload limit;
    the S3 trigger renders objects of `input_bucket` (any bucket when empty) under `input_prefix` and
    writes `thumbnails/`, `items/` (STAC), `attributes/` and `status/` in `output_bucket` (the source
    bucket when empty; the folders are fixed, as the IAM policies name them), and `cogs/` copies of
    inputs up to `cog_copy_max_bytes` that lack overviews (0: none)."""

    max_upload_bytes: int = field(default_factory=default_upload_bytes)
    input_bucket: str = ""
    input_prefix: str = "uploads/"
    output_bucket: str = ""
    thumbnail_size: int = 512
    max_object_bytes: int = 4 * 1024**3
    max_response_bytes: int = 4_500_000
    presign_expires: int = 900
    cog_copy_max_bytes: int = 0
    # API requests stop rendering after this many seconds: below API Gateway's 29 s integration timeout,
    # so the client gets our 413 deadline_exceeded instead of a gateway 503/504.
    request_deadline_seconds: float = 25.0
    # The S3 trigger keeps this much of Lambda's remaining time to write outputs after rendering.
    trigger_write_margin_seconds: float = 15.0

    @classmethod
    def from_env(cls) -> "Settings":
        """Each field from the environment variable of its upper-cased name (INPUT_BUCKET, ...); a value
        of the wrong type is an InvalidSetting naming the variable (the entry points read the settings at
        import, so a bad deployment fails at start-up, not as a 500 on its first request)."""
        values = {}
        for f in fields(cls):
            name = f.name.upper()
            if name in os.environ:
                try:
                    values[f.name] = f.type(os.environ[name])
                except ValueError:
                    raise InvalidSetting(f"{name}={os.environ[name]!r} is not a valid {f.type.__name__}") from None
        return cls(**values)
