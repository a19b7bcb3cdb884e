"""SAFE product zips (handler/core/safe.py, zip_archive.py, safe_metadata.py) on fixtures built from real
Sentinel-2 pixels: layout, the member to render, metadata, what is read, and opening the member
through GDAL's /vsizip/."""

import io
import logging
import re
import struct
import time
import zipfile
from dataclasses import replace
from datetime import datetime, timezone

import numpy as np
import pytest
import rasterio

from handler.core.errors import InvalidProduct, UnsafeArchive, UnsupportedFormat
from handler.core.jp2_scan import scan_jp2
from handler.core.safe import read_product, vsizip_path
from handler.core.sentinel2 import band_from_filename
from handler.core.safe_metadata import parse_metadata
from handler.core.tiff_scan import bytes_reader
from handler.core.zip_archive import ZipArchive, _RangeFile
from tests.products import (
    BAND_JP2_NAME,
    BANDS,
    L1C_N0500,
    L2A_N0214,
    L2A_N0500,
    TCI_JP2_NAME,
    bands_scene,
    metadata_documents,
    product_xml,
    rebuilt_zip,
    safe_zip,
    tci_from_bands,
)

SPECS = {"l2a-baseline-05.00": L2A_N0500, "l2a-baseline-02.14": L2A_N0214, "l1c-baseline-05.00": L1C_N0500}


def open_product(data: bytes):
    archive = ZipArchive(bytes_reader(data), len(data))
    return archive, read_product(archive.members, archive.read)


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_products_give_their_image_and_every_metadata_field(spec):
    fixture = safe_zip(spec)
    _, product = open_product(fixture.data)
    assert (product.image.name, product.resolution) == (fixture.image, fixture.resolution)
    metadata = product.metadata
    assert metadata.product_id == spec.product_id
    assert (metadata.product_type, metadata.level) == (f"S2MSI{spec.level}", f"L{spec.level}")
    assert metadata.spacecraft == "sentinel-2a"
    assert metadata.sensing_time == datetime.fromisoformat(spec.sensing_time).astimezone(timezone.utc)
    assert metadata.sensing_time.tzinfo is not None
    assert (metadata.tile_id, metadata.relative_orbit, metadata.processing_baseline) == (
        spec.tile,
        spec.orbit,
        spec.baseline,
    )
    assert metadata.cloud_cover == spec.cloud_cover
    assert metadata.nodata_pixel_percentage == pytest.approx(fixture.nodata_percentage, abs=1e-6)
    assert metadata.quantification == 10000
    assert metadata.boa_offsets == ({band: -1000 for band in BANDS} if spec.offset else {})
    # EXT_POS_LIST is "lat lon ...": GeoJSON wants [lon, lat]
    assert metadata.footprint == {"type": "Polygon", "coordinates": [[[lon, lat] for lat, lon in fixture.corners]]}


def test_the_l1c_nodata_wedge_is_reported():
    """The real 34SGA TCI has a nodata wedge outside the swath (SOURCES.md: about 26 %)."""
    _, product = open_product(safe_zip(L1C_N0500).data)
    assert 5 < product.metadata.nodata_pixel_percentage < 50


def test_only_the_directory_and_the_two_xml_members_are_read():
    """Never the images: every byte read lies in the central directory or the two metadata members."""
    fixture = safe_zip(L2A_N0500)
    data = fixture.data
    ranges = []

    def read(offset: int, length: int) -> bytes:
        ranges.append((offset, offset + length))
        return data[offset : offset + length]

    archive = ZipArchive(read, len(data))
    read_product(archive.members, archive.read)
    listing = zipfile.ZipFile(io.BytesIO(data))
    local = {
        info.filename: 30 + sum(struct.unpack_from("<HH", data, info.header_offset + 26)) for info in listing.infolist()
    }  # local header, name and extra field
    images = [
        (info.header_offset, info.header_offset + local[info.filename] + info.compress_size)
        for info in listing.infolist()
        if info.filename.endswith(".jp2")
    ]
    assert not [(r, i) for r in ranges for i in images if r[0] < i[1] and i[0] < r[1]]
    assert archive.fetched < 16_000


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_the_image_member_is_pre_scanned_and_opened_through_vsizip(tmp_path, compression):
    fixture = safe_zip(L2A_N0500, compression)
    archive, product = open_product(fixture.data)
    layout = scan_jp2(archive.member_reader(product.image.name), product.image.size)
    assert (layout.codestream.components, layout.codestream.levels, layout.codestream.bit_depth) == (3, 4, 8)
    assert product.image.method == compression
    path = tmp_path / "product.zip"
    path.write_bytes(fixture.data)
    with rasterio.open(vsizip_path(str(path), product.image.name)) as dataset:
        assert dataset.driver == "JP2OpenJPEG"
        assert (dataset.count, dataset.dtypes[0]) == (3, "uint8")
        assert (dataset.width, dataset.height) == (layout.codestream.width, layout.codestream.height)
        pixels = dataset.read().astype("float32")
    expected = tci_from_bands(bands_scene(dataset.width).data).astype("float32")
    assert np.abs(pixels - expected).mean() < 4  # lossy JPEG 2000 of the real pixels


def test_the_l1c_ten_metre_tci_is_read_through_its_resolution_levels(tmp_path):
    fixture = safe_zip(L1C_N0500)
    _, product = open_product(fixture.data)
    assert product.resolution == 10 and product.image.name.endswith("_TCI.jp2")
    path = tmp_path / "l1c.zip"
    path.write_bytes(fixture.data)
    with rasterio.open(vsizip_path(str(path), product.image.name)) as dataset:
        assert dataset.overviews(1) == [2, 4, 8, 16]
        assert dataset.read(out_shape=(3, 69, 69)).any()


def test_vsizip_path_format():
    member = "P.SAFE/GRANULE/G/IMG_DATA/R60m/T29RKH_20200219T112111_TCI_60m.jp2"
    assert vsizip_path("/vsis3/bucket/uploads/a b.zip", member) == f"/vsizip/{{/vsis3/bucket/uploads/a b.zip}}/{member}"
    assert vsizip_path("/tmp/x/upload", member) == f"/vsizip/{{/tmp/x/upload}}/{member}"
    assert vsizip_path("/vsis3/b/XYZ.zip", member) == f"/vsizip/{{/vsis3/b/XYZ.zip}}/{member}"  # only braces refused
    for archive in ("/vsis3/bucket/uploads/a}b.zip", "/vsis3/bucket/uploads/a{b.zip"):
        with pytest.raises(UnsafeArchive, match=r"^An archive path may not contain braces\.$"):
            vsizip_path(archive, member)


@pytest.mark.parametrize(
    "name, band",
    [
        ("T32TQM_20220609T101559_B04_10m.jp2", "B04"),
        (BAND_JP2_NAME, "B04"),
        (TCI_JP2_NAME, "TCI"),
        ("GRANULE/L2A_T32TQM_A036601_20220609T101554/IMG_DATA/R60m/T32TQM_20220609T101559_TCI_60m.jp2", "TCI"),
        ("T32TQM_20220609T101559_B8A_20m.jp2", "B8A"),
        ("T34UCF_20230823T095559_B10.jp2", "B10"),
        ("T34UCF_20230823T095559_TCI.JP2", "TCI"),
        ("T32TQM_20220609T101559_SCL_20m.jp2", "SCL"),
        ("T32TQM_20220609T101559_B13_10m.jp2", None),
        ("T32TQM_20220609T101559_B04_15m.jp2", None),
        ("T32TQM_20220609T101559_B04_10m.tif", None),
        ("B04.jp2", None),
        ("MSK_CLDPRB_20m.jp2", None),
    ],
)
def test_band_from_filename(name, band):
    assert band_from_filename(name) == band


def _product_files(spec):
    fixture = safe_zip(spec)
    safe = f"{spec.product_id}.SAFE"
    return fixture, safe, f"{safe}/GRANULE/{spec.granule}"


def test_a_zip_without_product_metadata_is_not_a_product():
    fixture, safe, _ = _product_files(L2A_N0500)
    with pytest.raises(UnsupportedFormat) as refused:
        open_product(rebuilt_zip(fixture.data, {f"{safe}/MTD_MSIL2A.xml": None}))
    assert str(refused.value) == "The zip is not a Sentinel-2 SAFE product (no MTD_MSIL1C.xml or MTD_MSIL2A.xml)."


NO_TCI = "The product has no true-colour (TCI) image where its layout puts one."


LAYOUT_REFUSALS = {
    "second-product-xml": "The product holds 2 product metadata files; exactly one is expected.",
    "second-granule": "The product holds 2 granule metadata files; exactly one is expected.",
    "no-tci": NO_TCI,
    "tci-in-wrong-folder": NO_TCI,
    "level-mismatch": "The product's metadata and its file names disagree on the processing level.",
    "two-tcis-same-resolution": "The product holds two 60 m TCI images.",
}


@pytest.mark.parametrize("change, message", LAYOUT_REFUSALS.items(), ids=LAYOUT_REFUSALS.keys())
def test_layouts_that_are_ambiguous_or_incomplete_are_refused(change, message):
    fixture, safe, granule = _product_files(L2A_N0500)
    tci60 = fixture.image
    listing = zipfile.ZipFile(io.BytesIO(fixture.data))
    tcis = {name: None for name in listing.namelist() if "_TCI_" in name}
    changes = {
        "second-product-xml": {f"{safe}/MTD_MSIL1C.xml": b"<a/>"},
        "second-granule": {f"{safe}/GRANULE/L2A_T29RKH_A000001_20200219T112111/MTD_TL.xml": b"<a/>"},
        "no-tci": tcis,
        "tci-in-wrong-folder": {**tcis, tci60.replace("/R60m/", "/R20m/"): listing.read(tci60)},
        "level-mismatch": {
            f"{safe}/MTD_MSIL2A.xml": product_xml(replace(L2A_N0500, level="1C"), [], fixture.corners, 0)
        },
        "two-tcis-same-resolution": {tci60.replace("T112111_TCI", "T112112_TCI"): listing.read(tci60)},
    }[change]
    with pytest.raises(InvalidProduct) as refused:
        open_product(rebuilt_zip(fixture.data, changes))
    assert str(refused.value) == message


# A TCI name the level's layout rules out: L2A's 60 m TCI in the R20m folder; an L1C TCI named at 60 m.
STRAY_TCIS = {"l2a-60m-tci-in-r20m": L2A_N0500, "l1c-tci-named-60m": L1C_N0500}


@pytest.mark.parametrize("spec", STRAY_TCIS.values(), ids=STRAY_TCIS.keys())
def test_a_tci_off_the_layout_is_skipped_even_when_listed_first(spec):
    fixture, _, granule = _product_files(spec)
    folder = f"{granule}/IMG_DATA"
    stray = (
        f"{folder}/R20m/{spec.file_prefix}_TCI_60m.jp2"
        if spec.level == "2A"
        else f"{folder}/{spec.file_prefix}_TCI_60m.jp2"
    )
    archive = ZipArchive(bytes_reader(data := rebuilt_zip(fixture.data, {stray: b"jp2"})), len(data))
    members = sorted(archive.members, key=lambda member: member.name != stray)  # the stray name listed first
    assert members[0].name == stray
    product = read_product(members, archive.read)
    assert (product.image.name, product.resolution) == (fixture.image, fixture.resolution)


PRODUCT_DOC, TILE_DOC = "MTD_MSIL*.xml", "MTD_TL.xml"
NOT_ESA = "The product's id, type, level, orbit and tile do not agree."
NOT_ESA_FORMAT = "The product's spacecraft or processing baseline is not in ESA's format."
PAIRS = "The product's footprint is not a list of latitude, longitude pairs."


def _element(name: str) -> bytes:
    """A pattern for one whole element of the fixture documents, start tag to end tag."""
    return re.compile(rb"<" + name.encode() + rb"[ >].*?</" + name.encode() + rb">", re.S)


# (document, pattern, replacement of every match, the exact message InvalidProduct carries)
REFUSALS = {
    "no-product-uri": (0, _element("PRODUCT_URI"), b"", "The product's metadata has no PRODUCT_URI."),
    "empty-spacecraft": (
        0,
        rb"<SPACECRAFT_NAME>Sentinel-2A<",
        b"<SPACECRAFT_NAME> <",
        "The product's metadata has no SPACECRAFT_NAME.",
    ),
    "no-baseline": (0, _element("PROCESSING_BASELINE"), b"", "The product's metadata has no PROCESSING_BASELINE."),
    "no-orbit": (0, _element("SENSING_ORBIT_NUMBER"), b"", "The product's metadata has no SENSING_ORBIT_NUMBER."),
    "no-product-type": (0, _element("PRODUCT_TYPE"), b"", "The product's metadata has no PRODUCT_TYPE."),
    "no-tile-id": (1, _element("TILE_ID"), b"", "The product's tile metadata has no TILE_ID."),
    "no-sensing-time": (1, _element("SENSING_TIME"), b"", "The product's tile metadata has no SENSING_TIME."),
    "no-quantification": (
        0,
        _element("BOA_QUANTIFICATION_VALUE"),
        b"",
        "The product's metadata has no BOA_QUANTIFICATION_VALUE.",
    ),
    "product-id-not-esas": (0, rb"<PRODUCT_URI>S2A_MSIL2A_", b"<PRODUCT_URI>S2A_MSIL2A_X", NOT_ESA),
    "tile-mismatch": (0, rb"_T29RKH_2023", b"_T29RKJ_2023", NOT_ESA),
    "orbit-mismatch": (0, rb"<SENSING_ORBIT_NUMBER>37<", b"<SENSING_ORBIT_NUMBER>38<", NOT_ESA),
    "orbit-over-143": (
        0,
        rb"<SENSING_ORBIT_NUMBER>37<",
        b"<SENSING_ORBIT_NUMBER>144<",
        "The product's relative orbit is out of range.",
    ),
    "orbit-zero": (
        0,
        rb"(_R|<SENSING_ORBIT_NUMBER>)0?37(_|<)",
        rb"\g<1>000\2",
        "The product's relative orbit is out of range.",
    ),
    "type-mismatch": (0, rb"<PRODUCT_TYPE>S2MSI2A<", b"<PRODUCT_TYPE>S2MSI1C<", NOT_ESA),
    "spacecraft": (0, rb"<SPACECRAFT_NAME>Sentinel-2A<", b"<SPACECRAFT_NAME>Landsat-9<", NOT_ESA_FORMAT),
    "baseline": (0, rb"<PROCESSING_BASELINE>05.00<", b"<PROCESSING_BASELINE>5<", NOT_ESA_FORMAT),
    "cloud-nan": (
        0,
        rb"<Cloud_Coverage_Assessment>4.05<",
        b"<Cloud_Coverage_Assessment>nan<",
        "The product's cloud cover is out of range.",
    ),
    "cloud-over-100": (
        0,
        rb"<Cloud_Coverage_Assessment>4.05<",
        b"<Cloud_Coverage_Assessment>100.01<",
        "The product's cloud cover is out of range.",
    ),
    "cloud-text": (
        0,
        rb"<Cloud_Coverage_Assessment>4.05<",
        b"<Cloud_Coverage_Assessment>few<",
        "The product's cloud cover is not a number.",
    ),
    "nodata-over-100": (
        1,
        rb"<NODATA_PIXEL_PERCENTAGE>0.000000<",
        b"<NODATA_PIXEL_PERCENTAGE>100.01<",
        "The product's nodata percentage is out of range.",
    ),
    "quantification-text": (
        0,
        rb'<BOA_QUANTIFICATION_VALUE unit="none">10000<',
        b'<BOA_QUANTIFICATION_VALUE unit="none">ten thousand<',
        "The product's quantification value is not a number.",
    ),
    "quantification-over-a-million": (
        0,
        rb'<BOA_QUANTIFICATION_VALUE unit="none">10000<',
        b'<BOA_QUANTIFICATION_VALUE unit="none">1000000.5<',
        "The product's quantification value is out of range.",
    ),
    "offset-band-13": (
        0,
        rb'band_id="12">-1000<',
        b'band_id="13">-1000<',
        "The product's BOA_ADD_OFFSET list names an unknown band.",
    ),
    "offset-no-band": (
        0,
        rb'band_id="12">-1000<',
        b">-1000<",
        "The product's BOA_ADD_OFFSET list names an unknown band.",
    ),
    "offset-band-twice": (
        0,
        rb'band_id="12">-1000<',
        b'band_id="11">-1000<',
        "The product's BOA_ADD_OFFSET list repeats a band or holds a fraction.",
    ),
    "offset-fraction": (
        0,
        rb'band_id="12">-1000<',
        b'band_id="12">-1000.5<',
        "The product's BOA_ADD_OFFSET list repeats a band or holds a fraction.",
    ),
    "offset-text": (
        0,
        rb'band_id="12">-1000<',
        b'band_id="12">minus<',
        "The product's BOA_ADD_OFFSET is not a number.",
    ),
    "offset-out-of-range": (
        0,
        rb'band_id="12">-1000<',
        b'band_id="12">-10001<',
        "The product's BOA_ADD_OFFSET is out of range.",
    ),
    "offset-over-range": (
        0,
        rb'band_id="12">-1000<',
        b'band_id="12">10001<',
        "The product's BOA_ADD_OFFSET is out of range.",
    ),
    "footprint-odd": (0, rb"<EXT_POS_LIST>", b"<EXT_POS_LIST>31.0 ", PAIRS),
    "footprint-three-points": (0, _element("EXT_POS_LIST"), b"<EXT_POS_LIST>1 2 3 4 5 6</EXT_POS_LIST>", PAIRS),
    "footprint-nine-values": (0, _element("EXT_POS_LIST"), b"<EXT_POS_LIST>1 2 3 4 5 6 7 8 9</EXT_POS_LIST>", PAIRS),
    "footprint-latitude-91": (
        0,
        rb"<EXT_POS_LIST>",
        b"<EXT_POS_LIST>91.0 0.0 ",
        "The product's footprint has a latitude out of range.",
    ),
    "footprint-longitude-180.5": (
        0,
        rb"<EXT_POS_LIST>",
        b"<EXT_POS_LIST>0.0 180.5 ",
        "The product's footprint is out of range.",
    ),
    "footprint-longitude-minus-180.5": (
        0,
        rb"<EXT_POS_LIST>",
        b"<EXT_POS_LIST>0.0 -180.5 ",
        "The product's footprint is out of range.",
    ),
    "quantification-zero": (
        0,
        rb'<BOA_QUANTIFICATION_VALUE unit="none">10000<',
        b'<BOA_QUANTIFICATION_VALUE unit="none">0<',
        "The product's quantification value is out of range.",
    ),
    "naive-sensing-time": (1, rb"36.467Z<", b"36.467<", "The tile's SENSING_TIME has no time zone."),
    "sensing-time-not-iso": (
        1,
        rb"2020-02-19T11:24:36.467Z<",
        b"19/02/2020 11:24<",
        "The tile's SENSING_TIME is not an ISO 8601 time.",
    ),
    "not-a-user-product": (
        0,
        rb"Level-2A_User_Product( |>)",
        rb"Level-2A_Datastrip_ID\1",
        "The product metadata is not a Sentinel-2 Level-1C or Level-2A user product.",
    ),
    "product-not-well-formed": (0, rb"</n1:General_Info>", b"", f"The product's {PRODUCT_DOC} is not well-formed XML."),
    "tile-not-well-formed": (1, rb"</n1:Level-2A_Tile_ID>", b"", f"The product's {TILE_DOC} is not well-formed XML."),
    # A DOCTYPE alone, with no entity and no external reference, is refused too: ESA's documents have none.
    "product-doctype": (
        0,
        rb"\?>\n",
        b"?>\n<!DOCTYPE product>\n",
        f"The product's {PRODUCT_DOC} {'declares a DTD, entities or external references; they are not accepted.'}",
    ),
    "tile-doctype": (
        1,
        rb"\?>\n",
        b"?>\n<!DOCTYPE tile []>\n",
        f"The product's {TILE_DOC} {'declares a DTD, entities or external references; they are not accepted.'}",
    ),
}


@pytest.mark.parametrize("document, pattern, replacement, message", REFUSALS.values(), ids=REFUSALS.keys())
def test_metadata_that_is_not_in_esas_format_is_refused_with_its_reason(document, pattern, replacement, message):
    documents = list(metadata_documents())
    documents[document], count = re.subn(pattern, replacement, documents[document])
    assert count, "the change does not apply to the fixture document"
    with pytest.raises(InvalidProduct) as refused:
        parse_metadata(*documents)
    assert str(refused.value) == message


def _with_footprint(positions: bytes):
    product, tile = metadata_documents()
    return parse_metadata(
        _element("EXT_POS_LIST").sub(b"<EXT_POS_LIST>" + positions + b"</EXT_POS_LIST>", product), tile
    )


def test_an_open_footprint_ring_of_four_points_is_closed_in_lon_lat_order():
    footprint = _with_footprint(b"10 -180 10 180 -90 180 90 -180")
    assert footprint.footprint == {
        "type": "Polygon",
        "coordinates": [[[-180, 10], [180, 10], [180, -90], [-180, 90], [-180, 10]]],
    }
    closed = _with_footprint(b"1 2 3 4 5 6 1 2")
    assert closed.footprint["coordinates"] == [[[2, 1], [4, 3], [6, 5], [2, 1]]]


@pytest.mark.parametrize("cloud, nodata, orbit", [(b"100", b"0", b"1"), (b"0", b"100", b"143")])
def test_range_bounds_are_inclusive(cloud, nodata, orbit):
    product, tile = metadata_documents()
    product = product.replace(b"<Cloud_Coverage_Assessment>4.05<", b"<Cloud_Coverage_Assessment>" + cloud + b"<")
    product = product.replace(b"_R037_", b"_R" + orbit.zfill(3) + b"_")
    product = product.replace(b"<SENSING_ORBIT_NUMBER>37<", b"<SENSING_ORBIT_NUMBER>" + orbit + b"<")
    tile = tile.replace(b"<NODATA_PIXEL_PERCENTAGE>0.000000<", b"<NODATA_PIXEL_PERCENTAGE>" + nodata + b"<")
    metadata = parse_metadata(product, tile)
    assert (metadata.cloud_cover, metadata.nodata_pixel_percentage, metadata.relative_orbit) == (
        float(cloud),
        float(nodata),
        int(orbit),
    )


def test_the_sensing_time_is_given_in_utc_whatever_the_process_time_zone(monkeypatch):
    product, tile = metadata_documents()
    tile = tile.replace(b"2020-02-19T11:24:36.467Z<", b"2020-02-19T13:24:36.467+02:00<")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        sensing_time = parse_metadata(product, tile).sensing_time
    finally:
        monkeypatch.undo()
        time.tzset()
    assert sensing_time.isoformat() == "2020-02-19T11:24:36.467000+00:00"
    assert sensing_time.tzinfo == timezone.utc


def test_comments_and_processing_instructions_in_the_documents_are_ignored():
    product, tile = metadata_documents()
    product = product.replace(b"<PRODUCT_URI>", b"<!-- a comment --><?pi data?><PRODUCT_URI>")
    tile = tile.replace(b"<TILE_ID", b"<!-- a comment --><TILE_ID")
    assert parse_metadata(product, tile) == parse_metadata(*metadata_documents())


def test_an_empty_optional_element_is_absent_and_a_quantification_of_a_million_is_accepted():
    product, tile = metadata_documents()
    product = product.replace(
        b"<Cloud_Coverage_Assessment>4.05</Cloud_Coverage_Assessment>", b"<Cloud_Coverage_Assessment/>"
    )
    product = product.replace(b'unit="none">10000<', b'unit="none">1000000<')
    metadata = parse_metadata(product, tile)
    assert (metadata.cloud_cover, metadata.quantification) == (None, 1_000_000)


def test_the_radiometry_bounds_are_inclusive():
    """A quantification of 1 and offsets of -10000 and +10000 are the ends of the accepted ranges."""
    product, tile = metadata_documents()
    product = product.replace(b'unit="none">10000<', b'unit="none">1<')
    product = product.replace(b'band_id="12">-1000<', b'band_id="12">10000<')
    product = product.replace(b'band_id="11">-1000<', b'band_id="11">-10000<')
    metadata = parse_metadata(product, tile)
    assert metadata.quantification == 1
    assert (metadata.boa_offsets["B12"], metadata.boa_offsets["B11"]) == (10000, -10000)


def test_optional_quality_fields_may_be_absent():
    product, tile = metadata_documents(L1C_N0500)
    product = product.replace(b"<Cloud_Coverage_Assessment>89.84</Cloud_Coverage_Assessment>", b"")
    start, end = product.index(b"<n1:Geometric_Info>"), product.index(b"</n1:Geometric_Info>")
    metadata = parse_metadata(product[:start] + product[end + len(b"</n1:Geometric_Info>") :], tile)
    assert (metadata.cloud_cover, metadata.footprint) == (None, None)
    assert metadata.nodata_pixel_percentage is not None


def test_the_image_opens_from_s3_through_vsizip_without_downloading_the_zip(monkeypatch, caplog):
    """GDAL's /vsizip/{/vsis3/bucket/key}/member reads the zip's end (directory) and the member's ranges:
    an 8 MB member in front of the product is never fetched. With the service's GDAL settings as they are:
    `.zip` must be in CPL_VSIL_CURL_ALLOWED_EXTENSIONS (gdal_config.py, template.yaml)."""
    from handler.core import gdal_config  # noqa: F401  (the service's GDAL settings, as the API has them)
    from tests.s3_helpers import moto_server

    fixture = safe_zip(L2A_N0500)
    padding = np.random.default_rng(0).bytes(8 << 20)
    source, buffer = zipfile.ZipFile(io.BytesIO(fixture.data)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{L2A_N0500.product_id}.SAFE/AUX_DATA/padding.bin", padding)
        for info in source.infolist():
            archive.writestr(info, source.read(info))
    with moto_server(monkeypatch) as s3:
        s3.create_bucket(Bucket="input-bucket")
        s3.put_object(Bucket="input-bucket", Key="uploads/product.zip", Body=buffer.getvalue())
        path = vsizip_path("/vsis3/input-bucket/uploads/product.zip", fixture.image)
        with caplog.at_level(logging.DEBUG, logger="rasterio"), rasterio.Env(CPL_DEBUG=True):
            with rasterio.open(path) as dataset:
                assert dataset.driver == "JP2OpenJPEG" and dataset.read().any()
    ranges = [tuple(map(int, match)) for match in re.findall(r"Downloading (\d+)-(\d+)", caplog.text)]
    assert ranges and sum(end - start + 1 for start, end in ranges) < 1 << 20, ranges


def test_the_archive_file_never_asks_the_reader_for_zero_bytes():
    """An HTTP range of zero bytes is invalid (S3 answers 416), so the end of the file is b"" locally."""

    def read(offset: int, length: int) -> bytes:
        assert length > 0
        return bytes(length)

    file = _RangeFile(read, 10, budget=100)
    assert file.readable() and file.seekable()  # the file protocol zipfile relies on
    assert file.read(0) == b"" and file.tell() == 0
    file.seek(0, io.SEEK_END)
    assert (file.read(5), file.read(), file.fetched) == (b"", b"", 0)


def test_the_archive_file_seeks_to_its_first_byte_but_not_before_it():
    """zipfile reads a member stored at byte 0 by seeking there; one byte before the start is an error."""
    file = _RangeFile(bytes_reader(b"PK0123456789"), 12, budget=100)
    assert (file.seek(-12, io.SEEK_END), file.read(3)) == (0, b"PK0")
    assert (file.seek(-3, io.SEEK_CUR), file.seek(0), file.read(2)) == (0, 0, b"PK")
    with pytest.raises(OSError):
        file.seek(-13, io.SEEK_END)
    assert file.tell() == 2
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as source:
        source.writestr("first.xml", b"<first/>")
    archive = ZipArchive(bytes_reader(buffer.getvalue()), len(buffer.getvalue()))
    assert archive.read("first.xml", 100) == b"<first/>"
