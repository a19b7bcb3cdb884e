"""Deployment settings read from the environment (set by template.yaml or the developer), validated."""

import os

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator
from pydantic_settings import BaseSettings

from handler.core.env_settings import ENV_CONFIG, InvalidSetting, load_settings
from handler.core.limits import LIMITS

__all__ = ["InvalidSetting", "Settings"]  # InvalidSetting: the error both entry points raise at import

# A base64 multipart body must stay under Lambda's 6 MB synchronous payload limit.
LAMBDA_UPLOAD_BYTES = 4 * 1024 * 1024
# The local server has no payload limit: full-size exports (a 12-band L2A scene is ~72 MB) are fine.
LOCAL_UPLOAD_BYTES = 2 * 1024**3
# SigV4 presigned requests are valid for at most 7 days.
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


def running_on_lambda() -> bool:
    """True inside Lambda, `sam local` and the runtime interface emulator, which all set these."""
    return "AWS_LAMBDA_FUNCTION_NAME" in os.environ or "AWS_LAMBDA_RUNTIME_API" in os.environ


def default_upload_bytes() -> int:
    """The request body cap of the runtime we are in (MAX_UPLOAD_BYTES overrides it)."""
    return LAMBDA_UPLOAD_BYTES if running_on_lambda() else LOCAL_UPLOAD_BYTES


class Settings(BaseSettings):
    """`max_upload_bytes` follows the runtime (Lambda's payload limit there, GB locally) and
    `max_response_bytes` keeps base64 responses under Lambda's 6 MB payload limit;
    the S3 trigger renders objects of `input_bucket` (any bucket when empty) under `input_prefix` and
    writes `thumbnails/`, `items/` (STAC), `attributes/` and `status/` in `output_bucket` (the source
    bucket when empty; the folders are fixed, as the IAM policies name them), and `cogs/` copies of
    inputs up to `cog_copy_max_bytes` that lack overviews (0: none). Each field is read from the variable
    of its upper-cased name (INPUT_BUCKET, ...); the core's budgets (MAX_READ_BYTES, ...) are `Limits`."""

    model_config = ENV_CONFIG

    max_upload_bytes: PositiveInt = Field(default_factory=default_upload_bytes)
    input_bucket: str = ""
    input_prefix: str = "uploads/"
    output_bucket: str = ""
    thumbnail_size: PositiveInt = 512
    max_object_bytes: PositiveInt = 4 * 1024**3
    max_response_bytes: PositiveInt = 4_500_000
    presign_expires: PositiveInt = Field(900, le=MAX_PRESIGN_SECONDS)
    cog_copy_max_bytes: NonNegativeInt = 0
    # API requests stop rendering after this many seconds: below API Gateway's 29 s integration timeout,
    # so the client gets our 413 deadline_exceeded instead of a gateway 503/504.
    request_deadline_seconds: float = Field(25.0, ge=0, allow_inf_nan=False)
    # The S3 trigger keeps this much of Lambda's remaining time to write outputs after rendering.
    trigger_write_margin_seconds: float = Field(15.0, ge=0, allow_inf_nan=False)
    # API_DOCS=false (template parameter ApiDocs) hides /docs, /redoc and /openapi.json.
    api_docs: bool = True

    @field_validator("thumbnail_size")
    @classmethod
    def _within_the_core_limit(cls, size: int) -> int:
        """The trigger's thumbnails must be ones the core draws: else every upload would be rejected."""
        if size > LIMITS.max_thumbnail_size:
            raise ValueError(f"Input should be at most MAX_THUMBNAIL_SIZE ({LIMITS.max_thumbnail_size})")
        return size

    @classmethod
    def from_env(cls) -> "Settings":
        """The settings of the current environment, or an InvalidSetting naming each bad variable."""
        return load_settings(cls)
