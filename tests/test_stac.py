"""STAC Items of scenes, validated offline against the official schemas vendored in tests/fixtures/stac."""

import json
from datetime import UTC, datetime
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


def test_product_backed_item_carries_the_product_metadata():
    item = item_of(
        geotiff_bytes(reflectance_stack(12), tags={"SENSING_TIME": "2030-01-01T00:00:00Z"}), product=product()
    )
    validate(item)
    properties = item["properties"]
    assert properties["datetime"] == "2022-06-09T10:15:59.024000Z"  # the product's XML wins over tags
    assert {
        key: properties[key]
        for key in (
            "platform",
            "constellation",
            "instruments",
            "sat:relative_orbit",
            "processing:level",
            "processing:version",
            "eo:cloud_cover",
            "grid:code",
            "mgrs:utm_zone",
            "mgrs:latitude_band",
            "mgrs:grid_square",
        )
    } == {
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
