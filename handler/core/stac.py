"""A scene as a STAC 1.1.0 Item (a JSON-ready dict), so catalogues (stac-fastapi, STAC Browser,
pystac-client) can index what the service writes.

Built from facts the core already has: `read_attributes` (grid, bands, radiometry), the product's
own metadata when there is one, and the file's tags. Fields that nothing states are left out rather
than guessed, and `stac_extensions` lists exactly the extensions whose fields the Item uses.
"""

import json
import re
from datetime import UTC, datetime
from typing import Any, Callable, Mapping, NamedTuple, Sequence
from urllib.parse import quote

from handler.core.product import ProductMetadata

STAC_VERSION = "1.1.0"

# Field prefix -> the schema version this module writes (checked offline in tests/test_stac.py).
EXTENSIONS: Mapping[str, str] = {
    "proj": "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "eo": "https://stac-extensions.github.io/eo/v2.0.0/schema.json",
    "raster": "https://stac-extensions.github.io/raster/v2.0.0/schema.json",
    "sat": "https://stac-extensions.github.io/sat/v1.2.0/schema.json",
    "processing": "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "grid": "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "mgrs": "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json",
}

GEOTIFF = "image/tiff; application=geotiff"
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
PNG = "image/png"
JP2 = "image/jp2"
ZIP = "application/zip"
# What a source file is, by the GDAL driver that read it (the reader picks it from the magic bytes).
SOURCE_MEDIA_TYPES = {"JP2OpenJPEG": JP2}
GEOJSON = "application/geo+json"  # the media type of an Item

# MSI band -> (eo:common_name, eo:center_wavelength in micrometres), as Earth Search and stactools name them.
SENTINEL2_BANDS: Mapping[str, tuple[str, float]] = {
    "B01": ("coastal", 0.443),
    "B02": ("blue", 0.490),
    "B03": ("green", 0.560),
    "B04": ("red", 0.665),
    "B05": ("rededge071", 0.705),
    "B06": ("rededge075", 0.740),
    "B07": ("rededge078", 0.783),
    "B08": ("nir", 0.842),
    "B8A": ("nir08", 0.865),
    "B09": ("nir09", 0.945),
    "B10": ("cirrus", 1.375),
    "B11": ("swir16", 1.610),
    "B12": ("swir22", 2.190),
}

# No Sentinel-2 image was acquired before Sentinel-2A's launch day: the lower bound of an unknown date.
MISSION_START = datetime(2015, 6, 23, tzinfo=UTC)

# Acquisition-time tags, most specific first: GDAL's SENTINEL2 driver writes these (granule
# SENSING_TIME, product DATATAKE_1_DATATAKE_SENSING_START / PRODUCT_START_TIME) and gdal_translate
# carries them into GeoTIFF exports. TIFFTAG_DATETIME is not among them: TIFF 6.0 defines it as the
# "date and time of image creation", i.e. when the file was written, which only bounds acquisition.
_ACQUISITION_TAGS = ("SENSING_TIME", "DATATAKE_1_DATATAKE_SENSING_START", "PRODUCT_START_TIME")
_FILE_WRITTEN_TAG = "TIFFTAG_DATETIME"

# Radiometry sources whose values are not DNs: no DN -> reflectance scale to declare.
_NOT_DN = ("display_uint8", "float_reflectance")
_PROJ_CODE = re.compile(r"[A-Za-z][A-Za-z0-9_]*:[A-Za-z0-9_.]+")
_MGRS_TILE = re.compile(r"(\d{2})([C-HJ-NP-X])([A-HJ-NP-Z]{2})")


class Asset(NamedTuple):
    """One file the Item points at (source upload, thumbnail, COG copy). Assets whose roles
    include "data" hold the scene's pixels and carry the per-band fields."""

    href: str
    media_type: str
    roles: Sequence[str]
    title: str | None = None


def item_id(name: str) -> str:
    """The Item id of a file name (or a path under the input prefix), percent-encoded into one URI
    segment: no '/' or ':' (STAC best practice: ids name API paths and files), and one id per name,
    since the encoding is reversible (a.tif, a.TIF and a/b.tif never share an id)."""
    return quote(name, safe="")


def s3_href(bucket: str, key: str) -> str:
    """An `s3://` href of an object, the key percent-encoded (asset hrefs are URI references)."""
    return f"s3://{bucket}/{quote(key)}"


def source_asset(href: str, driver: str, is_product: bool) -> Asset:
    """The file as uploaded: a raster ("data", its media type from the `driver` that read it), or a SAFE
    product zip (an "archive": its bands are JPEG 2000 members, not pixels a client reads at `href`)."""
    if is_product:
        return Asset(href, ZIP, ("archive",), "SAFE product as uploaded")
    return Asset(href, SOURCE_MEDIA_TYPES.get(driver, GEOTIFF), ("data",), "Scene as uploaded")


def scene_assets(source: Asset, thumbnail: str | None = None, cog: str | None = None) -> dict[str, Asset]:
    """The assets of a scene: its `source_asset`, its thumbnail and its COG copy when there is one.
    Source and copy hold the same pixels, so both are "data" (as Earth Search lists each band's COG and
    its original JP2); the copy's media type tells clients which one reads in few range requests."""
    assets = {"source": source}
    if thumbnail is not None:
        assets["thumbnail"] = Asset(thumbnail, PNG, ("thumbnail",), "Thumbnail")
    if cog is not None:
        assets["cog"] = Asset(cog, COG, ("data",), "Cloud-optimised copy")
    return assets


def stac_item(
    item_id: str,
    attributes: Mapping[str, Any],
    assets: Mapping[str, Asset],
    *,
    product: ProductMetadata | None = None,
    tags: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The STAC Item of one scene: `attributes` from `read_attributes`, `tags` the file's
    dataset tags, `now` the Item's creation time (default: the clock)."""
    tags = tags or {}
    created = _utc(now or datetime.now(UTC))
    geometry, bbox = _location(attributes, product)
    properties = {
        **_temporal(product, tags, created),
        "created": _rfc3339(created),
        **_projection(attributes),
        **(_product_fields(product) if product else {}),
    }
    bands = _bands(attributes, product)
    item_assets = {name: _asset(asset, bands) for name, asset in assets.items()}
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": _extensions(properties, item_assets),
        "id": item_id,
        "geometry": geometry,
        **({"bbox": bbox} if bbox else {}),
        "properties": properties,
        "links": [],
        "assets": item_assets,
    }


def acquisition_time(product: ProductMetadata | None, tags: Mapping[str, str]) -> datetime | None:
    """When the scene was sensed: the product's sensing time, else an acquisition tag, else None."""
    if product is not None:
        return _utc(product.sensing_time)
    return _parse_time(_tag(tags, _ACQUISITION_TAGS), datetime.fromisoformat)


def _temporal(product: ProductMetadata | None, tags: Mapping[str, str], created: datetime) -> dict[str, Any]:
    """`datetime`, or when nothing states it: null with the range the acquisition must lie in
    (STAC 1.1 allows a null datetime only with start/end). It is never the file's write time."""
    sensed = acquisition_time(product, tags)
    if sensed is not None:
        return {"datetime": _rfc3339(sensed)}
    written = _parse_time(_tag(tags, (_FILE_WRITTEN_TAG,)), _tiff_datetime)
    end = written if written is not None and MISSION_START <= written <= created else created
    return {"datetime": None, "start_datetime": _rfc3339(MISSION_START), "end_datetime": _rfc3339(end)}


def _location(attributes: Mapping[str, Any], product: ProductMetadata | None) -> tuple[dict | None, list | None]:
    """GeoJSON geometry and bbox in WGS84: the product footprint, else the raster's bounds; none
    for a file without a CRS (or one with no path to WGS84), as STAC requires."""
    if product is not None and product.footprint:
        footprint = json.loads(json.dumps(product.footprint))  # plain lists, whatever sequences it holds
        return footprint, _footprint_bbox(footprint)
    corners = attributes.get("bbox_wgs84") or ()
    if attributes.get("crs") is None or not corners or not all(isinstance(v, (int, float)) for v in corners):
        return None, None  # no CRS, no path to WGS84, or non-finite bounds (reported as strings)
    west, south, east, north = corners
    if west > east:  # crosses the antimeridian: one box each side (RFC 7946 3.1.9)
        return {
            "type": "MultiPolygon",
            "coordinates": [_box(west, south, 180.0, north), _box(-180.0, south, east, north)],
        }, [west, south, east, north]
    return {"type": "Polygon", "coordinates": _box(west, south, east, north)}, [west, south, east, north]


def _box(west: float, south: float, east: float, north: float) -> list:
    """A counter-clockwise rectangle ring, as RFC 7946 wants exterior rings."""
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def _footprint_bbox(footprint: Mapping[str, Any]) -> list[float]:
    """Bounds of a Polygon or MultiPolygon footprint."""
    rings = (
        footprint["coordinates"]
        if footprint["type"] == "Polygon"
        else [ring for polygon in footprint["coordinates"] for ring in polygon]
    )
    lons = [point[0] for ring in rings for point in ring]
    lats = [point[1] for ring in rings for point in ring]
    return [min(lons), min(lats), max(lons), max(lats)]


def _projection(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """proj:* of the raster grid. Without a CRS, proj:code is null and the pixel grid has no
    geographic bbox or transform to state (the projection extension's non-rectified case)."""
    crs = attributes.get("crs")
    fields: dict[str, Any] = {
        "proj:code": crs if crs and _PROJ_CODE.fullmatch(crs) else None,
        "proj:shape": [attributes["height"], attributes["width"]],
    }
    if crs:
        fields["proj:bbox"] = list(attributes["bbox"])
        fields["proj:transform"] = list(attributes["transform"])
    return fields


def _product_fields(product: ProductMetadata) -> dict[str, Any]:
    """What the product's XML says about the acquisition and its processing."""
    fields: dict[str, Any] = {
        "platform": product.spacecraft,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "sat:relative_orbit": product.relative_orbit,
        "processing:level": product.level,
        "processing:version": product.processing_baseline,
    }
    if product.cloud_cover is not None:
        fields["eo:cloud_cover"] = product.cloud_cover
    tile = _MGRS_TILE.fullmatch(product.tile_id)
    if tile:
        zone, band, square = tile.groups()
        fields.update(
            {
                "grid:code": f"MGRS-{product.tile_id}",
                "mgrs:utm_zone": int(zone),
                "mgrs:latitude_band": band,
                "mgrs:grid_square": square,
            }
        )
    return fields


def _bands(attributes: Mapping[str, Any], product: ProductMetadata | None) -> list[dict[str, Any]]:
    """One STAC 1.1 band object per raster band: name, eo fields for Sentinel-2 bands, data type,
    nodata, and how DNs become reflectance (raster:scale * value + raster:offset)."""
    radiometry = attributes["radiometry"]
    bands = []
    for name, dtype in zip(attributes["band_names"], attributes["dtypes"]):
        band: dict[str, Any] = {"name": name}
        if name in SENTINEL2_BANDS:
            band["eo:common_name"], band["eo:center_wavelength"] = SENTINEL2_BANDS[name]
        band["data_type"] = dtype  # the reader admits only int/float dtypes: STAC names them alike
        if attributes.get("nodata") is not None:
            band["nodata"] = attributes["nodata"]
        if radiometry["source"] not in _NOT_DN:
            band.update(_scale_offset(name, radiometry, product))
        bands.append(band)
    return bands


def _scale_offset(name: str, radiometry: Mapping[str, Any], product: ProductMetadata | None) -> dict[str, float]:
    """raster:scale/offset of one DN band: the product's quantification and BOA offset for the bands
    it lists, else the file's radiometry. Ours is (DN + offset) * scale, STAC's DN * scale + offset."""
    if product is not None and name in product.boa_offsets:
        scale, offset = 1.0 / product.quantification, float(product.boa_offsets[name])
    else:
        scale, offset = radiometry["scale"], radiometry["offset"]
    return {"raster:scale": scale, "raster:offset": offset * scale}


def _asset(asset: Asset, bands: list[dict[str, Any]]) -> dict[str, Any]:
    """An asset object; pixel ("data") assets carry the band list."""
    fields: dict[str, Any] = {"href": asset.href, "type": asset.media_type, "roles": list(asset.roles)}
    if asset.title:
        fields["title"] = asset.title
    if "data" in asset.roles and bands:
        fields["bands"] = [dict(band) for band in bands]  # each asset its own copy: no aliased dicts
    return fields


def _extensions(properties: Mapping[str, Any], assets: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Schema URLs of the extensions whose prefixed fields appear anywhere in the Item."""
    keys = set(properties)
    for asset in assets.values():
        keys.update(asset)
        for band in asset.get("bands", ()):
            keys.update(band)
    prefixes = {key.split(":", 1)[0] for key in keys if ":" in key}
    return [url for prefix, url in EXTENSIONS.items() if prefix in prefixes]


def _tag(tags: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The first of `names` present in `tags`, matched case-insensitively."""
    upper = {key.upper(): value for key, value in tags.items()}
    return next((upper[name] for name in names if name in upper), None)


def _tiff_datetime(text: str) -> datetime:
    """TIFF's DateTime format, "YYYY:MM:DD HH:MM:SS"."""
    return datetime.strptime(text, "%Y:%m:%d %H:%M:%S")


def _parse_time(text: str | None, parse: Callable[[str], datetime]) -> datetime | None:
    """A tag's time in UTC, or None when absent or unparseable; zone-less times are read as UTC
    (TIFF DateTime has no zone)."""
    if text is None:
        return None
    try:
        return _utc(parse(text.strip()))
    except ValueError:
        return None


def _utc(value: datetime) -> datetime:
    """The same instant in UTC; a zone-less time is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _rfc3339(value: datetime) -> str:
    """RFC 3339 in UTC with a Z, the only form the STAC schemas accept."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
