"""Deployment settings read from the environment (set by template.yaml or the developer)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """`max_upload_bytes` / `max_response_bytes` keep base64 bodies under Lambda's 6 MB payload limit;
    the S3 trigger reads under `input_prefix` and writes `thumbnails/` and `attributes/` under
    `output_prefix` in `output_bucket` (the source bucket when empty)."""

    max_upload_bytes: int = 4 * 1024 * 1024
    input_bucket: str = ""
    input_prefix: str = "uploads/"
    output_bucket: str = ""
    output_prefix: str = ""
    thumbnail_size: int = 512
    max_object_bytes: int = 4 * 1024**3
    max_response_bytes: int = 4_500_000
    presign_expires: int = 900

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        defaults = cls()
        return cls(
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", defaults.max_upload_bytes)),
            input_bucket=env.get("INPUT_BUCKET", defaults.input_bucket),
            input_prefix=env.get("INPUT_PREFIX", defaults.input_prefix),
            output_bucket=env.get("OUTPUT_BUCKET", defaults.output_bucket),
            output_prefix=env.get("OUTPUT_PREFIX", defaults.output_prefix),
            thumbnail_size=int(env.get("THUMBNAIL_SIZE", defaults.thumbnail_size)),
            max_object_bytes=int(env.get("MAX_OBJECT_BYTES", defaults.max_object_bytes)),
            max_response_bytes=int(env.get("MAX_RESPONSE_BYTES", defaults.max_response_bytes)),
            presign_expires=int(env.get("PRESIGN_EXPIRES", defaults.presign_expires)),
        )

    @property
    def thumbnails_prefix(self) -> str:
        return f"{self.output_prefix}thumbnails/"

    @property
    def attributes_prefix(self) -> str:
        return f"{self.output_prefix}attributes/"


    def output_keys(self, key: str, bucket: str) -> "OutputKeys":
        """Where the S3 trigger writes the outputs of an input key: uploads/a/b.tif ->
        thumbnails/a/b.png and attributes/a/b.json under the output prefix."""
        relative = key[len(self.input_prefix):]
        stem = relative[: relative.lower().rfind(".tif")]
        return OutputKeys(self.output_bucket or bucket, f"{self.thumbnails_prefix}{stem}.png",
                          f"{self.attributes_prefix}{stem}.json")


@dataclass(frozen=True)
class OutputKeys:
    bucket: str
    thumbnail: str
    attributes: str
