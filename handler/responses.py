"""The JSON bodies of the API's routes as models, so /docs and /openapi.json show what each answers."""

from typing import Any, Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: Literal["ok"]


class Config(BaseModel):
    """What a client needs to choose a path for a file."""

    max_upload_bytes: int = Field(description="Largest body POST /thumbnail and /attributes accept.")
    s3_uploads: bool = Field(description="Whether POST /uploads can take larger scenes into the input bucket.")


class PresignedPost(BaseModel):
    method: Literal["POST"]
    url: str
    fields: dict[str, str] = Field(description="Form fields to send first; the file goes last, as field `file`.")


class Upload(BaseModel):
    """A new upload: where to POST the file, and where its result will be."""

    id: str
    key: str
    expires_in: int = Field(description="Seconds the presigned POST stays valid.")
    max_bytes: int
    result: str = Field(description="Relative URL of the upload's status: results/<id>.")
    upload: PresignedPost


class ErrorDetail(BaseModel):
    code: str
    message: str


class Result(BaseModel):
    """An upload's state: pending (202), done or failed (200)."""

    status: Literal["pending", "done", "failed"]
    attributes: dict[str, Any] | None = Field(None, description="done: the /attributes JSON plus `source`.")
    thumbnail_url: str | None = Field(None, description="done: presigned GET of the PNG.")
    item_url: str | None = Field(None, description="done: presigned GET of the STAC Item.")
    cog_url: str | None = Field(None, description="done: presigned GET of the COG copy, when the trigger made one.")
    error: ErrorDetail | None = Field(None, description="failed: why the trigger rejected the file.")
