"""STAC Items of scenes, validated offline against the official schemas vendored in tests/fixtures/stac."""

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Iterator
from urllib.parse import unquote

import pytest
from affine import Affine
from rasterio.transform import from_origin
from referencing.exceptions import Unresolvable

from handler.core import open_bytes, open_path, read_attributes
from handler.core.product import ProductMetadata
from handler.core.stac import (
    COG,
    EXTENSIONS,
    GEOTIFF,
    PNG,
    Asset,
    acquisition_time,
    item_id,
    s3_href,
    scene_assets,
    source_asset,
    stac_item,
)
from tests.conftest import requires_real_data
from tests.rasters import REAL_DATA, geotiff_bytes, real_files, reflectance_stack
from tests.stac_schemas import ITEM_SCHEMA, SCHEMAS, schema_registry, validate

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ASSETS = {
    "source": Asset("s3://input/uploads/scene.tif", GEOTIFF, ("data",), "Uploaded scene"),
    "thumbnail": Asset("s3://output/thumbnails/scene.png", PNG, ("thumbnail",)),
    "cog": Asset("s3://output/cogs/scene.tif", COG, ("data",), "Cloud-optimised copy"),
}
L2A = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")


def item_of(data: bytes, assets: dict[str, Asset] = ASSETS, **kwargs) -> dict[str, Any]:
    with open_bytes(data) as dataset:
        attributes, tags = read_attributes(dataset), dataset.tags()
    return stac_item("scene", attributes, assets, tags=tags, now=NOW, **kwargs)


def band_list(item: dict[str, Any]) -> list[dict[str, Any]]:
    return item["assets"]["source"]["bands"]


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


# --- the vendored schemas are complete: validation never needs the network ---


@pytest.mark.parametrize("url", [ITEM_SCHEMA, *EXTENSIONS.values()])
def test_every_schema_the_module_declares_is_vendored(url):
    assert schema_registry().resolver().lookup(url).contents["$schema"].startswith("http://json-schema.org/draft-07")


@pytest.mark.parametrize("path", sorted(SCHEMAS.rglob("*.json")), ids=lambda p: p.relative_to(SCHEMAS).as_posix())
def test_every_ref_in_the_vendored_schemas_resolves_offline(path):
    url = f"https://{path.relative_to(SCHEMAS).as_posix()}"
    scope = schema_registry().resolver().lookup(url).resolver
    for ref in refs(json.loads(path.read_text())):
        scope.lookup(ref)


def test_an_unvendored_extension_fails_validation_instead_of_fetching():
    item = item_of(geotiff_bytes(reflectance_stack(12)))
    item["stac_extensions"].append("https://stac-extensions.github.io/view/v1.0.0/schema.json")
    with pytest.raises(Unresolvable) as raised:
        validate(item)
    chain = [raised.value]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
    assert any("not vendored" in str(error) for error in chain)


# --- the real Copernicus files ---

PROJ_CODES = {
    "S2A_29RKH": "EPSG:32629",
    "S2A_34SGA": "EPSG:32634",
    "sentinelhub": "EPSG:4326",
    "bigearthnet": "EPSG:32633",
}  # from SOURCES.md, one per source


@requires_real_data
@pytest.mark.parametrize("path", real_files() or [REAL_DATA / "missing.tif"], ids=lambda p: p.name[:40])
def test_real_file_items_validate(path):
    with open_path(str(path)) as dataset:
        attributes, tags = read_attributes(dataset), dataset.tags()
    item = stac_item(path.stem, attributes, ASSETS, tags=tags, now=NOW)
    validate(item)
    properties = item["properties"]
    assert properties["proj:code"] == next(code for prefix, code in PROJ_CODES.items() if path.name.startswith(prefix))
    assert properties["proj:shape"] == [attributes["height"], attributes["width"]]
    assert properties["proj:transform"] == attributes["transform"]
    assert item["bbox"] == attributes["bbox_wgs84"]
    # No file here states when it was sensed (SOURCES.md): an honest range, never a guessed instant.
    assert (properties["datetime"], properties["start_datetime"], properties["end_datetime"]) == (
        None,
        "2015-06-23T00:00:00Z",
        "2026-11-27T12:00:00Z",
    )
    assert [band["data_type"] for band in band_list(item)] == attributes["dtypes"]
    assert item["assets"]["cog"]["bands"] == band_list(item) and "bands" not in item["assets"]["thumbnail"]


@requires_real_data
def test_real_12_band_item_names_the_bands_and_their_reflectance_scale():
    with open_path(str(REAL_DATA / "bigearthnet_S2A_MSIL2A_20170613T101031_87_48_12band_10m.tif")) as dataset:
        item = stac_item("bigearthnet", read_attributes(dataset), ASSETS, now=NOW)
    validate(item)
    bands = band_list(item)
    assert [band["name"] for band in bands] == list(L2A)
    assert [band["eo:common_name"] for band in bands] == [
        "coastal",
        "blue",
        "green",
        "red",
        "rededge071",
        "rededge075",
        "rededge078",
        "nir",
        "nir08",
        "nir09",
        "swir16",
        "swir22",
    ]
    assert bands[3]["eo:center_wavelength"] == 0.665 and bands[11]["eo:center_wavelength"] == 2.19
    assert {(band["raster:scale"], band["raster:offset"]) for band in bands} == {(1e-4, 0.0)}
    assert "nodata" not in bands[0]  # the file declares none


@requires_real_data
def test_real_tci_declares_no_reflectance_scale_and_only_the_extensions_it_uses():
    with open_path(str(REAL_DATA / "S2A_34SGA_20200318_L2A_TCI_100m.tif")) as dataset:
        item = stac_item("tci", read_attributes(dataset), ASSETS, now=NOW)
    validate(item)
    assert item["stac_extensions"] == [EXTENSIONS["proj"]]
    assert band_list(item) == [{"name": f"b{i}", "data_type": "uint8", "nodata": 0.0} for i in (1, 2, 3)]


# --- synthetic files: tags, no CRS, antimeridian ---


def test_sensing_time_tag_is_the_datetime_and_baseline_04_offset_is_declared():
    item = item_of(
        geotiff_bytes(
            reflectance_stack(12),
            tags={
                "SENSING_TIME": "2022-06-09T10:15:59.024Z",
                "TIFFTAG_DATETIME": "2023:01:02 03:04:05",
                "PROCESSING_BASELINE": "04.00",
            },
        )
    )
    validate(item)
    assert item["properties"]["datetime"] == "2022-06-09T10:15:59.024000Z"
    assert "start_datetime" not in item["properties"]
    assert [band["name"] for band in band_list(item)] == list(L2A)
    assert {(band["raster:scale"], band["raster:offset"]) for band in band_list(item)} == {(1e-4, -0.1)}
    assert item["properties"]["proj:code"] == "EPSG:32633"


@pytest.mark.parametrize(
    "tag, sensed",
    [
        ("DATATAKE_1_DATATAKE_SENSING_START", "2015-12-31T23:59:59.999Z"),
        ("product_start_time", "2015-12-31T23:59:59.999Z"),
    ],
)
def test_gdal_sentinel2_driver_time_tags_are_acquisition_times(tag, sensed):
    item = item_of(geotiff_bytes(reflectance_stack(4), tags={tag: sensed}))
    validate(item)
    assert item["properties"]["datetime"] == "2015-12-31T23:59:59.999000Z"


def test_file_write_time_only_bounds_the_acquisition():
    """TIFF DateTime is when the file was written: the scene was sensed before it, not at it."""
    item = item_of(geotiff_bytes(reflectance_stack(12), tags={"TIFFTAG_DATETIME": "2023:01:02 03:04:05"}))
    validate(item)
    properties = item["properties"]
    assert (properties["datetime"], properties["start_datetime"], properties["end_datetime"]) == (
        None,
        "2015-06-23T00:00:00Z",
        "2023-01-02T03:04:05Z",
    )
    assert properties["created"] == "2026-11-27T12:00:00Z"


@pytest.mark.parametrize("written", ["2009:01:01 00:00:00", "2099:01:01 00:00:00", "yesterday"])
def test_implausible_write_times_fall_back_to_the_item_creation(written):
    item = item_of(geotiff_bytes(reflectance_stack(1), tags={"TIFFTAG_DATETIME": written}))
    validate(item)
    assert item["properties"]["end_datetime"] == "2026-11-27T12:00:00Z"


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_file_without_crs_has_null_geometry_no_bbox_and_null_proj_code():
    item = item_of(geotiff_bytes(reflectance_stack(12, height=30, width=40), crs=None, transform=Affine.identity()))
    validate(item)
    assert item["geometry"] is None and "bbox" not in item
    properties = item["properties"]
    assert properties["proj:code"] is None and properties["proj:shape"] == [30, 40]
    assert "proj:bbox" not in properties and "proj:transform" not in properties


def test_crs_without_a_code_or_a_path_to_wgs84_keeps_its_grid_but_has_no_geometry():
    """A sphere of radius 1 (another planet): no WGS84 footprint, no authority code to name it."""
    item = item_of(
        geotiff_bytes(
            reflectance_stack(1, 10, 10),
            crs="+proj=longlat +R=1 +no_defs",
            transform=from_origin(0.1, 0.2, 0.001, 0.001),
        )
    )
    validate(item)
    assert item["geometry"] is None and "bbox" not in item
    assert item["properties"]["proj:code"] is None
    assert item["properties"]["proj:transform"] == [0.001, 0.0, 0.1, 0.0, -0.001, 0.2]


def test_other_authorities_codes_are_kept():
    item = item_of(geotiff_bytes(reflectance_stack(1, 10, 10), crs="ESRI:54009"))
    validate(item)
    assert item["properties"]["proj:code"] == "ESRI:54009"


def test_non_finite_wgs84_bounds_give_no_geometry():
    with open_bytes(geotiff_bytes(reflectance_stack(1, 10, 10))) as dataset:
        # non-finite numbers as read_attributes reports them (strings, JSON has no inf)
        attributes = {**read_attributes(dataset), "bbox_wgs84": ["-inf", 48.2, "inf", 48.3]}
    item = stac_item("scene", attributes, ASSETS, now=NOW)
    validate(item)
    assert item["geometry"] is None and "bbox" not in item


def test_scene_across_the_antimeridian_is_split_in_two():
    item = item_of(
        geotiff_bytes(
            reflectance_stack(1, 50, 50), crs="EPSG:32601", transform=from_origin(150000, 5000000, 4000, 4000)
        )
    )
    validate(item)
    west, south, east, north = item["bbox"]
    assert west > 178 and east < -178
    assert item["geometry"]["type"] == "MultiPolygon"
    assert [ring[0][0] for polygon in item["geometry"]["coordinates"] for ring in polygon] == [west, -180.0]


def test_float_reflectance_declares_no_scale():
    item = item_of(geotiff_bytes(reflectance_stack(4, dtype="float32") / 1e4))
    validate(item)
    assert all("raster:scale" not in band for band in band_list(item))
    assert EXTENSIONS["raster"] not in item["stac_extensions"]


# --- a product-backed Item ---

# Tuples, as a parser may build them: the Item must still be plain JSON.
FOOTPRINT = {
    "type": "Polygon",
    "coordinates": (((11.6, 46.0), (13.0, 46.0), (13.0, 47.0), (11.6, 47.0), (11.6, 46.0)),),
}


def product(**overrides) -> ProductMetadata:
    fields = dict(
        product_id="S2B_MSIL2A_20220609T101559_N0400_R065_T32TQM_20220609T131744",
        product_type="S2MSI2A",
        level="L2A",
        spacecraft="sentinel-2b",
        sensing_time=datetime(2022, 6, 9, 10, 15, 59, 24000, tzinfo=UTC),
        tile_id="32TQM",
        relative_orbit=65,
        processing_baseline="04.00",
        cloud_cover=12.5,
        nodata_pixel_percentage=0.0,
        footprint=FOOTPRINT,
        boa_offsets={name: -1000 for name in L2A},
    )
    return ProductMetadata(**{**fields, **overrides})


# The properties product() gives an Item (a Sentinel-2B L2A product of tile 32TQM, orbit 65).
PRODUCT_PROPERTIES = {
    "platform": "sentinel-2b",
    "constellation": "sentinel-2",
    "instruments": ["msi"],
    "sat:relative_orbit": 65,
    "processing:level": "L2A",
    "processing:version": "04.00",
    "eo:cloud_cover": 12.5,
    "grid:code": "MGRS-32TQM",
    "mgrs:utm_zone": 32,
    "mgrs:latitude_band": "T",
    "mgrs:grid_square": "QM",
}


def test_product_backed_item_carries_the_product_metadata():
    item = item_of(
        geotiff_bytes(reflectance_stack(12), tags={"SENSING_TIME": "2030-01-01T00:00:00Z"}), product=product()
    )
    validate(item)
    properties = item["properties"]
    assert properties["datetime"] == "2022-06-09T10:15:59.024000Z"  # the product's XML wins over tags
    assert {key: properties[key] for key in PRODUCT_PROPERTIES} == PRODUCT_PROPERTIES
    assert item["geometry"] == json.loads(json.dumps(FOOTPRINT)) and item["bbox"] == [11.6, 46.0, 13.0, 47.0]
    assert {(band["raster:scale"], band["raster:offset"]) for band in band_list(item)} == {(1e-4, -0.1)}
    assert set(item["stac_extensions"]) == set(EXTENSIONS.values())


def test_pre_04_baseline_product_declares_no_offset_and_no_cloud_cover_when_unknown():
    item = item_of(
        geotiff_bytes(reflectance_stack(12)),
        product=product(processing_baseline="02.14", boa_offsets={}, cloud_cover=None, footprint=None),
    )
    validate(item)
    assert {(band["raster:scale"], band["raster:offset"]) for band in band_list(item)} == {(1e-4, 0.0)}
    assert "eo:cloud_cover" not in item["properties"]
    assert item["geometry"]["type"] == "Polygon"  # from the raster's bounds when the product has no footprint


# --- ids and assets of the scenes the service holds ---


def test_item_ids_are_one_url_segment_and_one_per_name():
    # Planted bug: item_id dropping the extension -> a.tif, a.TIF and a.tiff share "a".
    names = ["a.tif", "a.TIF", "a.tiff", "a/b.tif", "a%2Fb.tif", "x:y.tif", "my scene é+ü.tif"]
    ids = [item_id(name) for name in names]
    assert len(set(ids)) == len(names) and [unquote(i) for i in ids] == names
    assert not any(set("/: ") & set(i) for i in ids)
    assert ids[0] == "a.tif"  # plain names stay readable


def test_scene_assets_validate_with_their_roles_and_encoded_hrefs():
    # Planted bug: s3_href without quote -> a space in the href, which is no URI reference.
    href = s3_href("input", "uploads/my scene+1.tif")
    assert href == "s3://input/uploads/my%20scene%2B1.tif"
    item = item_of(
        geotiff_bytes(reflectance_stack(4)),
        scene_assets(source_asset(href, "GTiff", False), "s3://output/thumbnails/x.png", "s3://output/cogs/x.tif"),
    )
    validate(item)
    assert {name: (a["type"], a["roles"], "bands" in a) for name, a in item["assets"].items()} == {
        "source": (GEOTIFF, ["data"], True),
        "thumbnail": (PNG, ["thumbnail"], False),
        "cog": (COG, ["data"], True),
    }
    assert list(scene_assets(source_asset("scene.tif", "GTiff", False))) == ["source"]


# --- exact Items: every key and value, from attributes as read_attributes reports them ---


def grid_attributes(band_names, radiometry, nodata=0.0, bbox_wgs84=(11.56, 45.94, 11.57, 45.95), dtype="uint16"):
    """The attributes stac_item reads, for a 3 x 2 grid of 10 m pixels in UTM 32N."""
    return {
        "width": 3,
        "height": 2,
        "crs": "EPSG:32632",
        "bbox": [699960.0, 5090220.0, 699990.0, 5090240.0],
        "transform": [10.0, 0.0, 699960.0, 0.0, -10.0, 5090240.0],
        "nodata": nodata,
        "dtypes": [dtype] * len(band_names),
        "band_names": list(band_names),
        "bbox_wgs84": list(bbox_wgs84) if bbox_wgs84 else bbox_wgs84,
        "radiometry": radiometry,
    }


L1C = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
EO = {
    "B01": ("coastal", 0.443),
    "B02": ("blue", 0.49),
    "B03": ("green", 0.56),
    "B04": ("red", 0.665),
    "B05": ("rededge071", 0.705),
    "B06": ("rededge075", 0.74),
    "B07": ("rededge078", 0.783),
    "B08": ("nir", 0.842),
    "B8A": ("nir08", 0.865),
    "B09": ("nir09", 0.945),
    "B10": ("cirrus", 1.375),
    "B11": ("swir16", 1.61),
    "B12": ("swir22", 2.19),
}  # Earth Search's / stactools' common names and centre wavelengths (micrometres)
PROJ = {
    "proj:code": "EPSG:32632",
    "proj:shape": [2, 3],
    "proj:bbox": [699960.0, 5090220.0, 699990.0, 5090240.0],
    "proj:transform": [10.0, 0.0, 699960.0, 0.0, -10.0, 5090240.0],
}


def test_exact_item_of_a_product_backed_l2a_scene():
    """Every key and value of a SAFE product's Item: the zip is an archive (no bands), its COG copy carries
    the 12 L2A bands with the product's -1000 BOA offset as STAC's DN * scale + offset."""
    assets = scene_assets(
        source_asset("s3://input/uploads/S2B.zip", "SENTINEL2", True), "s3://output/t.png", "s3://output/c.tif"
    )
    radiometry = {"scale": 1e-4, "offset": 0.0, "source": "default"}  # the file says nothing; the product does
    item = stac_item("S2B.zip", grid_attributes(L2A, radiometry), assets, product=product(), tags={}, now=NOW)
    validate(item)
    assert item == {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": list(EXTENSIONS.values()),
        "id": "S2B.zip",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[11.6, 46.0], [13.0, 46.0], [13.0, 47.0], [11.6, 47.0], [11.6, 46.0]]],
        },
        "bbox": [11.6, 46.0, 13.0, 47.0],
        "properties": {
            "datetime": "2022-06-09T10:15:59.024000Z",
            "created": "2026-11-27T12:00:00Z",
            **PROJ,
            **PRODUCT_PROPERTIES,
        },
        "links": [],
        "assets": {
            "source": {
                "href": "s3://input/uploads/S2B.zip",
                "type": "application/zip",
                "roles": ["archive"],
                "title": "SAFE product as uploaded",
            },
            "thumbnail": {
                "href": "s3://output/t.png",
                "type": "image/png",
                "roles": ["thumbnail"],
                "title": "Thumbnail",
            },
            "cog": {
                "href": "s3://output/c.tif",
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "title": "Cloud-optimised copy",
                "bands": [
                    {
                        "name": name,
                        "eo:common_name": EO[name][0],
                        "eo:center_wavelength": EO[name][1],
                        "data_type": "uint16",
                        "nodata": 0.0,
                        "raster:scale": 1e-4,
                        "raster:offset": -0.1,
                    }
                    for name in L2A
                ],
            },
        },
    }


def test_exact_item_of_an_l1c_jp2_stack_without_a_product():
    """No product: the acquisition tag dates it (in UTC), the file's radiometry scales all 13 L1C bands
    (B10 included), no nodata is declared when the file has none, and no thumbnail or copy exists yet."""
    radiometry = {"scale": 2e-4, "offset": 250.0, "source": "gdal_scale_offset"}
    attributes = grid_attributes(L1C, radiometry, nodata=None, bbox_wgs84=(8.5, 45.9, 8.6, 46.0))
    assets = scene_assets(source_asset("s3://input/uploads/t.jp2", "JP2OpenJPEG", False))
    tags = {"sensing_time": " 2017-12-15T09:12:00+02:00 "}  # another zone, padded, lower-case name
    item = stac_item("t.jp2", attributes, assets, tags=tags, now=NOW)
    validate(item)
    assert item == {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [EXTENSIONS["proj"], EXTENSIONS["eo"], EXTENSIONS["raster"]],
        "id": "t.jp2",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[8.5, 45.9], [8.6, 45.9], [8.6, 46.0], [8.5, 46.0], [8.5, 45.9]]],
        },
        "bbox": [8.5, 45.9, 8.6, 46.0],
        "properties": {"datetime": "2017-12-15T07:12:00Z", "created": "2026-11-27T12:00:00Z", **PROJ},
        "links": [],
        "assets": {
            "source": {
                "href": "s3://input/uploads/t.jp2",
                "type": "image/jp2",
                "roles": ["data"],
                "title": "Scene as uploaded",
                "bands": [
                    {
                        "name": name,
                        "eo:common_name": EO[name][0],
                        "eo:center_wavelength": EO[name][1],
                        "data_type": "uint16",
                        "raster:scale": 2e-4,
                        "raster:offset": 0.05,
                    }
                    for name in L1C
                ],
            }
        },
    }


def test_exact_item_of_a_display_ready_uint8_file_without_a_crs():
    """TCI-like uint8 with no CRS: no reflectance scale (no raster extension), no geometry, a null proj:code,
    bands named as stored, and the creation time in UTC whatever zone the clock gave."""
    radiometry = {"scale": 1 / 255, "offset": 0.0, "source": "display_uint8"}
    attributes = {**grid_attributes(("b1", "b2", "b3"), radiometry, dtype="uint8", bbox_wgs84=None), "crs": None}
    now = datetime(2026, 11, 27, 13, 30, 15, 5, tzinfo=timezone(timedelta(hours=1, minutes=30)))
    item = stac_item("tci.tif", attributes, {"source": ASSETS["source"]}, now=now)
    validate(item)
    assert item == {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": [EXTENSIONS["proj"]],
        "id": "tci.tif",
        "geometry": None,
        "properties": {
            "datetime": None,
            "start_datetime": "2015-06-23T00:00:00Z",
            "end_datetime": "2026-11-27T12:00:15.000005Z",
            "created": "2026-11-27T12:00:15.000005Z",
            "proj:code": None,
            "proj:shape": [2, 3],
        },
        "links": [],
        "assets": {
            "source": {
                "href": "s3://input/uploads/scene.tif",
                "type": "image/tiff; application=geotiff",
                "roles": ["data"],
                "title": "Uploaded scene",
                "bands": [{"name": f"b{i}", "data_type": "uint8", "nodata": 0.0} for i in (1, 2, 3)],
            }
        },
    }


def test_the_most_specific_acquisition_tag_wins():
    times = {
        "PRODUCT_START_TIME": "2020-01-01T00:00:00Z",
        "DATATAKE_1_DATATAKE_SENSING_START": "2020-01-02T00:00:00Z",
        "SENSING_TIME": "2020-01-03T00:00:00Z",
    }
    attributes = grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"})
    sensed = [
        stac_item("s", attributes, {}, tags=tags, now=NOW)["properties"]["datetime"]
        for tags in (
            times,
            {k: v for k, v in times.items() if k != "SENSING_TIME"},
            {"product_start_time": times["PRODUCT_START_TIME"]},
        )
    ]
    assert sensed == ["2020-01-03T00:00:00Z", "2020-01-02T00:00:00Z", "2020-01-01T00:00:00Z"]
    unreadable = stac_item("s", attributes, {}, tags={"SENSING_TIME": "soon"}, now=NOW)["properties"]
    assert (unreadable["datetime"], unreadable["end_datetime"]) == (None, "2026-11-27T12:00:00Z")  # never a guess


@pytest.mark.parametrize(
    "written, end",
    [
        ("2015:06:23 00:00:00", "2015-06-23T00:00:00Z"),  # on the mission's first day: still a bound
        ("2015:06:22 23:59:59", "2026-11-27T12:00:00Z"),
        (" 2026:11:27 12:00:00 ", "2026-11-27T12:00:00Z"),
        ("2026:11:27 12:00:01", "2026-11-27T12:00:00Z"),  # after the Item was made: not a bound
    ],
)
def test_write_time_bounds_only_inside_the_mission(written, end):
    attributes = grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"})
    properties = stac_item("s", attributes, {}, tags={"TIFFTAG_DATETIME": written}, now=NOW)["properties"]
    assert (properties["start_datetime"], properties["end_datetime"]) == ("2015-06-23T00:00:00Z", end)


def test_exact_geometry_across_the_antimeridian():
    attributes = grid_attributes(
        L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"}, bbox_wgs84=(179.5, 60, -179.5, 61)
    )
    item = stac_item("s", attributes, {}, now=NOW)
    validate(item)
    assert (item["geometry"], item["bbox"]) == (
        {
            "type": "MultiPolygon",
            "coordinates": [
                [[[179.5, 60], [180.0, 60], [180.0, 61], [179.5, 61], [179.5, 60]]],
                [[[-180.0, 60], [-179.5, 60], [-179.5, 61], [-180.0, 61], [-180.0, 60]]],
            ],
        },
        [179.5, 60, -179.5, 61],
    )


def test_a_box_whose_west_is_its_east_does_not_cross_the_antimeridian():
    """A one-column scene whose WGS84 bounds round to one longitude is no box around the world."""
    attributes = grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"}, bbox_wgs84=(12, 46, 12, 47))
    item = stac_item("s", attributes, {}, now=NOW)
    assert item["geometry"] == {"type": "Polygon", "coordinates": [[[12, 46], [12, 46], [12, 47], [12, 47], [12, 46]]]}


def test_a_multipolygon_footprint_is_bounded_over_all_its_polygons():
    footprint = {
        "type": "MultiPolygon",
        "coordinates": [
            [[[10.0, 45.0], [11.0, 45.0], [11.0, 46.0], [10.0, 45.0]]],
            [[[12.0, 44.5], [12.5, 47.5], [11.5, 46.0], [12.0, 44.5]]],
        ],
    }
    attributes = grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"})
    item = stac_item("s", attributes, {}, product=product(footprint=footprint), now=NOW)
    validate(item)
    assert (item["geometry"], item["bbox"]) == (footprint, [10.0, 44.5, 12.5, 47.5])


def test_product_offsets_apply_to_the_bands_they_list_with_the_products_quantification():
    attributes = grid_attributes(("B04", "B03", "elevation"), {"scale": 2e-4, "offset": 50.0, "source": "offset_tag"})
    item = stac_item(
        "s", attributes, ASSETS, product=product(boa_offsets={"B04": -1000}, quantification=20000.0), now=NOW
    )
    validate(item)
    assert [(b["name"], b["raster:scale"], b["raster:offset"]) for b in band_list(item)] == [
        ("B04", 5e-05, -0.05),
        ("B03", 2e-4, 0.01),  # not in the product's list: the file's own radiometry
        ("elevation", 2e-4, 0.01),
    ]
    assert "eo:common_name" not in band_list(item)[2]


def test_a_tile_id_that_is_no_mgrs_square_states_no_grid():
    attributes = grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"})
    for tile_id in ("32TIM", "32tqm", "2TQM", "32TQMX"):
        item = stac_item("s", attributes, {}, product=product(tile_id=tile_id), now=NOW)
        validate(item)
        assert not {"grid:code", "mgrs:utm_zone", "mgrs:latitude_band", "mgrs:grid_square"} & item["properties"].keys()
        assert EXTENSIONS["grid"] not in item["stac_extensions"] and EXTENSIONS["mgrs"] not in item["stac_extensions"]


@pytest.mark.parametrize(
    "crs, code",
    [
        ("EPSG:32632", "EPSG:32632"),
        ("IAU_2015:30100", "IAU_2015:30100"),
        ("OGC:CRS84", "OGC:CRS84"),
        ('LOCAL_CS["grid",UNIT["metre",1]]', None),  # WKT: no code to name it
        ("+proj=utm +zone=32 +datum=WGS84", None),
        ("EPSG:32632 ", None),
        ("1EPSG:32632", None),
    ],
)
def test_proj_code_only_for_an_authority_code(crs, code):
    attributes = {**grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"}), "crs": crs}
    properties = stac_item("s", attributes, {}, now=NOW)["properties"]
    assert (properties["proj:code"], properties["proj:bbox"]) == (code, [699960.0, 5090220.0, 699990.0, 5090240.0])


def test_product_metadata_as_dict_is_exact_and_in_utc(monkeypatch):
    import time

    sensed = datetime(2022, 6, 9, 12, 15, 59, 24000, tzinfo=timezone(timedelta(hours=2)))  # 10:15:59.024 UTC
    metadata = ProductMetadata(
        product_id="S2A_MSIL1C_20220609T101559_N0400_R065_T32TQM_20220609T121744",
        product_type="S2MSI1C",
        level="L1C",
        spacecraft="sentinel-2a",
        sensing_time=sensed,
        tile_id="32TQM",
        relative_orbit=65,
        processing_baseline="04.00",
    )
    monkeypatch.setenv("TZ", "Asia/Tokyo")  # UTC whatever the process zone (this machine runs in UTC)
    time.tzset()
    try:
        as_dict = metadata.as_dict()
    finally:
        monkeypatch.undo()
        time.tzset()
    assert as_dict == {
        "product_id": "S2A_MSIL1C_20220609T101559_N0400_R065_T32TQM_20220609T121744",
        "product_type": "S2MSI1C",
        "level": "L1C",
        "spacecraft": "sentinel-2a",
        "sensing_time": "2022-06-09T10:15:59.024000Z",
        "tile_id": "32TQM",
        "relative_orbit": 65,
        "processing_baseline": "04.00",
        "cloud_cover": None,
        "nodata_pixel_percentage": None,
        "footprint": None,
        "quantification": 10000.0,
        "boa_offsets": {},
    }
    item = stac_item(
        "s", grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"}), {}, product=metadata
    )
    assert item["properties"]["datetime"] == "2022-06-09T10:15:59.024000Z"
    assert acquisition_time(metadata, {}).isoformat() == "2022-06-09T10:15:59.024000+00:00"


def test_created_is_the_utc_clock_and_a_zone_less_time_is_utc_whatever_the_process_time_zone(monkeypatch):
    import time

    attributes = grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"})
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        before = datetime.now(UTC).replace(microsecond=0)
        clocked = stac_item("s", attributes, {})["properties"]
        after = datetime.now(UTC)
        naive = stac_item(
            "s", attributes, {}, tags={"SENSING_TIME": "2022-06-09T10:15:59"}, now=datetime(2026, 11, 27, 12)
        )
        in_another_zone = product(sensing_time=datetime(2022, 6, 9, 12, 15, tzinfo=timezone(timedelta(hours=2))))
        sensed = [
            acquisition_time(in_another_zone, {}),
            acquisition_time(None, {"SENSING_TIME": "2022-06-09T12:15:00+02:00"}),
            acquisition_time(None, {"SENSING_TIME": "2022-06-09T10:15:00"}),
        ]
        as_dict = in_another_zone.as_dict()  # /attributes' "product"
    finally:
        monkeypatch.undo()
        time.tzset()
    assert clocked["created"].endswith("Z") and clocked["end_datetime"] == clocked["created"]
    assert before <= datetime.fromisoformat(clocked["created"]) <= after
    assert naive["properties"]["created"] == "2026-11-27T12:00:00Z"
    assert naive["properties"]["datetime"] == "2022-06-09T10:15:59Z"
    assert [time.isoformat() for time in sensed] == ["2022-06-09T10:15:00+00:00"] * 3  # UTC, not Tokyo time
    assert as_dict["sensing_time"] == "2022-06-09T10:15:00Z"


def test_each_data_asset_has_its_own_band_objects():
    """Editing one asset's bands (a catalogue adding statistics to the COG's) must not change the other's."""
    item = stac_item("s", grid_attributes(L2A, {"scale": 1e-4, "offset": 0.0, "source": "default"}), ASSETS, now=NOW)
    item["assets"]["cog"]["bands"][0]["statistics"] = {"minimum": 1}
    assert "statistics" not in item["assets"]["source"]["bands"][0]
