"""Deployment settings read once from the environment (set by template.yaml or the developer)."""

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """`max_upload_bytes` keeps a base64 request under Lambda's 6 MB synchronous payload limit."""

    max_upload_bytes: int = int(os.environ.get("MAX_UPLOAD_BYTES", 4 * 1024 * 1024))


SETTINGS = Settings()
