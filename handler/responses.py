"""The JSON bodies of the API's routes as models, so /docs and /openapi.json show what each answers."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


# JSON has no NaN or infinity: the attributes report them as GDAL prints them ("nan", "inf").
Number = float | str


class Radiometry(BaseModel):
    """How stored values become reflectance: reflectance = (value + offset) * scale."""

    scale: Number
    offset: Number
    source: str = Field(description="Where scale and offset were found (a tag, the product metadata, a guess).")


class Product(BaseModel):
    """What a SAFE product's own metadata says about the scene."""

    product_id: str
    product_type: str
    level: str
    spacecraft: str
    sensing_time: str = Field(description="RFC 3339, UTC.")
    tile_id: str
    relative_orbit: int
    processing_baseline: str
    cloud_cover: float | None = None
    nodata_pixel_percentage: float | None = None
    footprint: dict[str, Any] | None = Field(None, description="GeoJSON Polygon in WGS 84.")
    quantification: float
    boa_offsets: dict[str, int] = Field(description="Offset added to each band's DNs before scaling.")


class Attributes(BaseModel):
    """POST /attributes (format=json): size, georeferencing, layout and band names of a scene."""

    model_config = ConfigDict(extra="forbid")  # the tests hold the real bodies to this model

    width: int
    height: int
    bands: int
    crs: str | None
    bbox: list[Number] = Field(description="Bounds in the scene's CRS: left, bottom, right, top.")
    driver: str
    dtype: str
    transform: list[Number] = Field(description="Affine geotransform a, b, c, d, e, f.")
    nodata: Number | None
    dtypes: list[str]
    band_names: list[str]
    band_order: Literal["described", "file_name", "assumed", "as_stored"] = Field(
        description="How the band names were found; `assumed`: from the band count only (pass bands= otherwise)."
    )
    resolution: list[Number]
    bbox_wgs84: list[float] | None
    overviews: list[int]
    blocksize: list[int]
    compression: str | None
    radiometry: Radiometry
    product: Product | None = Field(None, description="SAFE product zips only.")


class StacItem(BaseModel):
    """POST /attributes (format=stac), items/<name>.json: a STAC 1.1 Item (application/geo+json)."""

    type: Literal["Feature"]
    stac_version: str
    stac_extensions: list[str]
    id: str
    geometry: dict[str, Any] | None
    bbox: list[float] | None = None
    properties: dict[str, Any]
    links: list[dict[str, Any]]
    assets: dict[str, dict[str, Any]]


class SourceObject(BaseModel):
    """The S3 object version the trigger rendered."""

    bucket: str
    key: str
    size: int
    etag: str
    version_id: str | None = None


class StoredAttributes(Attributes):
    """The trigger's attributes/<name>.json: the /attributes JSON plus the object it describes."""

    source: SourceObject


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer (handler/http_errors.py); never a stack trace or a path."""

    error: ErrorDetail


class Result(BaseModel):
    """An upload's state: pending (202), done or failed (200)."""

    status: Literal["pending", "done", "failed"]
    attributes: StoredAttributes | None = Field(None, description="done: the /attributes JSON plus `source`.")
    thumbnail_url: str | None = Field(None, description="done: presigned GET of the PNG.")
    item_url: str | None = Field(None, description="done: presigned GET of the STAC Item.")
    cog_url: str | None = Field(None, description="done: presigned GET of the COG copy, when the trigger made one.")
    error: ErrorDetail | None = Field(None, description="failed: why the trigger rejected the file.")
