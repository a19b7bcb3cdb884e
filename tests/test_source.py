"""One opener for every accepted input (handler/core/source.py): GeoTIFF / COG, JPEG 2000 and Sentinel-2 SAFE
product zips, STORED and DEFLATED, from bytes, a local file and S3 (moto), every check before GDAL.
Products are built from the real pixels in ../shared/data/sentinel2 (synthetic stand-ins without it)."""

import io
import json
import logging
import re
import struct
import zipfile
from dataclasses import fields
from datetime import datetime

import numpy as np
import pytest
import rasterio
from rasterio.io import MemoryFile

from handler.core import Source, open_file, open_source, read_attributes, render_thumbnail, safe_open, source
from handler.core.errors import ArchiveTooLarge, EmptyInput, HeaderTooComplex, UnreadableRaster, UnsupportedFormat
from handler.core.options import RenderOptions
from handler.core.product import ProductMetadata
from handler.core.tiff_scan import bytes_reader
from tests.products import (
    L1C_N0500,
    L1C_TCI_SIZE,
    L2A_N0214,
    L2A_N0500,
    bands_scene,
    codestream,
    jp2_bytes,
    jp2_file,
    rebuilt_zip,
    safe_zip,
    tci_from_bands,
    tci_jp2,
    tci_scene,
)
from tests.rasters import geotiff_bytes, reflectance_stack

SPECS = {"l2a-05.00": L2A_N0500, "l2a-02.14": L2A_N0214, "l1c-05.00": L1C_N0500}
COMPRESSIONS = {"stored": zipfile.ZIP_STORED, "deflated": zipfile.ZIP_DEFLATED}
TILE_BOMB = codestream(16000, 16000, tile=(64, 64))  # 62,500 tiles: 4.8 s and 1.45 GB in OpenJPEG


def expected_tci(spec, width: int) -> np.ndarray:
    """The TCI the fixture encoded (lossy): ESA's formula on the 29RKH bands (L2A), the 34SGA TCI (L1C)."""
    return tci_scene(width).data if spec.level == "1C" else tci_from_bands(bands_scene(width).data)


def member_span(data: bytes, name: str) -> tuple[int, int]:
    """Where `name`'s (compressed) data lies in the zip: after its local header, name and extra field."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    start = info.header_offset + 30 + sum(struct.unpack_from("<HH", data, info.header_offset + 26))
    return start, start + info.compress_size


def counting_reader(data: bytes, ranges: list[tuple[int, int]]):
    def read(offset: int, length: int) -> bytes:
        ranges.append((offset, offset + length))
        return data[offset : offset + length]

    return read


def open_from(how: str, data: bytes, tmp_path):
    """open_source over bytes (GDAL's path: a /vsimem/ file of the same bytes), or open_file on disk."""
    if how == "file":
        path = tmp_path / "input.bin"  # the spooled upload's name says nothing about its content
        path.write_bytes(data)
        return open_file(str(path))
    memfile = MemoryFile(data)

    class Opened:
        def __enter__(self):
            self._source = open_source(bytes_reader(data), len(data), memfile.name)
            return self._source.__enter__()

        def __exit__(self, *exc):
            try:
                return self._source.__exit__(*exc)
            finally:
                memfile.close()

    return Opened()


@pytest.mark.parametrize("how", ["bytes", "file"])
@pytest.mark.parametrize("compression", COMPRESSIONS.values(), ids=COMPRESSIONS.keys())
@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_a_safe_zip_opens_as_its_tci_with_the_products_metadata(spec, compression, how, tmp_path):
    fixture = safe_zip(spec, compression)
    with open_from(how, fixture.data, tmp_path) as opened:
        assert isinstance(opened, Source)
        dataset = opened.dataset
        assert (dataset.driver, dataset.count, dataset.dtypes) == ("JP2OpenJPEG", 3, ("uint8",) * 3)
        assert opened.member == fixture.image
        assert opened.product.product_id == spec.product_id and opened.product.level == f"L{spec.level}"
        # STORED: GDAL range-reads the member in place; DEFLATED: the member inflated once, from memory
        assert ("/vsizip/" in dataset.name) == (compression == zipfile.ZIP_STORED), dataset.name
        pixels = dataset.read().astype("float32")
        thumbnail = render_thumbnail(dataset, RenderOptions(thumbnail_size=64))
    assert np.abs(pixels - expected_tci(spec, pixels.shape[2]).astype("float32")).mean() < 4  # lossy JPEG 2000
    assert thumbnail.radiometry.source == "display_uint8" and thumbnail.content


@pytest.mark.parametrize("compression", COMPRESSIONS.values(), ids=COMPRESSIONS.keys())
def test_the_tci_member_is_pre_scanned_before_gdal_opens_it(monkeypatch, compression):
    """A JPEG 2000 header bomb as the TCI: refused by the scan through the archive; GDAL never opens it.
    (A DEFLATED member is scanned again by open_bytes once inflated; a STORED one only here.)"""
    fixture = safe_zip(L2A_N0500, compression)
    bomb = jp2_file(TILE_BOMB)
    data = rebuilt_zip(fixture.data, {fixture.image: bomb})
    monkeypatch.setattr(safe_open, "_open", lambda *args, **kwargs: pytest.fail("GDAL opened a refused member"))
    with MemoryFile(data) as memfile, pytest.raises(HeaderTooComplex):
        with open_source(bytes_reader(data), len(data), memfile.name):
            pass


def test_a_deflated_image_over_the_cap_is_refused_before_it_is_read(monkeypatch):
    """Refused from the directory's sizes: the image is never read (no member reader, no inflation); of its
    bytes only what shares a page with the metadata in front of it or the directory behind it is fetched."""
    fixture = safe_zip(L1C_N0500, zipfile.ZIP_DEFLATED)
    # A noise TCI on the fixture's grid: far more than two 64 KiB pages however well the pixels compress
    # (the synthetic stand-in's gradient, used when the shared data is absent, deflates to less than two).
    scene = tci_scene(L1C_TCI_SIZE)
    noise = np.random.default_rng(0).integers(1, 256, scene.data.shape, dtype="uint8")
    data = rebuilt_zip(fixture.data, {fixture.image: jp2_bytes(noise, scene.transform, scene.crs, lossless=False)})
    size = zipfile.ZipFile(io.BytesIO(data)).getinfo(fixture.image).file_size
    monkeypatch.setattr(source, "MAX_INFLATED_IMAGE_BYTES", size - 1)
    monkeypatch.setattr(source.ZipArchive, "member_reader", lambda *args: pytest.fail("the image was read"))
    monkeypatch.setattr(safe_open, "_open", lambda *args, **kwargs: pytest.fail("GDAL opened a refused member"))
    ranges: list[tuple[int, int]] = []
    with pytest.raises(ArchiveTooLarge) as caught:
        with open_source(counting_reader(data, ranges), len(data), "/vsimem/unused.zip"):
            pass
    assert f"{size:,}" in caught.value.message
    start, end = member_span(data, fixture.image)
    inside = sum(max(0, min(b, end) - max(a, start)) for a, b in ranges)
    assert ranges and inside <= 2 << 16 < end - start, (inside, end - start)
    monkeypatch.undo()
    monkeypatch.setattr(source, "MAX_INFLATED_IMAGE_BYTES", size)  # at the cap: inflated and opened
    with open_source(bytes_reader(data), len(data), "/vsimem/unused.zip") as opened:
        assert opened.dataset.count == 3


def test_the_cap_is_for_deflated_images_only(monkeypatch, tmp_path):
    """A STORED image is read in place whatever its size: the cap bounds memory, not GDAL's range reads."""
    fixture = safe_zip(L1C_N0500, zipfile.ZIP_STORED)
    monkeypatch.setattr(source, "MAX_INFLATED_IMAGE_BYTES", 1)
    path = tmp_path / "product.zip"
    path.write_bytes(fixture.data)
    with open_file(str(path)) as opened:
        assert opened.member == fixture.image and "/vsizip/" in opened.dataset.name


def test_a_corrupt_deflated_image_is_unreadable_not_opened(monkeypatch):
    """Bytes changed inside the deflated TCI (after its header): the CRC or the inflater refuses them."""
    fixture = safe_zip(L2A_N0500, zipfile.ZIP_DEFLATED)
    start, end = member_span(fixture.data, fixture.image)
    data = bytearray(fixture.data)
    middle = (start + end) // 2 + 64  # past what the header scan inflates
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    monkeypatch.setattr(safe_open, "_open", lambda *args, **kwargs: pytest.fail("GDAL opened a corrupt member"))
    with pytest.raises(UnreadableRaster):
        with open_source(bytes_reader(bytes(data)), len(data), "/vsimem/unused.zip"):
            pass


def test_a_zip_that_is_not_a_product_is_unsupported(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("scene.tif", geotiff_bytes(reflectance_stack(3, height=20, width=20)))
    path = tmp_path / "scene.zip"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(UnsupportedFormat) as caught:
        with open_file(str(path)):
            pass
    assert "SAFE" in caught.value.message


@pytest.mark.parametrize(
    "data, message",
    [
        (b"%PDF-1.7" + bytes(100), "It looks like PDF."),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "It looks like PNG."),
        (b"PK\x05\x06" + bytes(18), ""),  # an empty zip: no member, not a product
    ],
    ids=["pdf", "png", "empty-zip"],
)
def test_other_formats_are_refused_naming_what_is_accepted(data, message, tmp_path):
    path = tmp_path / "upload.tif"
    path.write_bytes(data)
    with pytest.raises(UnsupportedFormat) as caught:
        with open_file(str(path)):
            pass
    assert "Sentinel-2 SAFE product zip" in caught.value.message and message in caught.value.message


def test_an_empty_input_is_empty(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(EmptyInput):
        with open_file(str(tmp_path / "empty")):
            pass


@pytest.mark.parametrize("how", ["bytes", "file"])
@pytest.mark.parametrize("kind", ["geotiff", "jp2"])
def test_rasters_open_as_themselves_without_a_product(kind, how, tmp_path):
    data = geotiff_bytes(reflectance_stack(4, height=30, width=40)) if kind == "geotiff" else tci_jp2()
    with open_from(how, data, tmp_path) as opened:
        assert (opened.product, opened.member) == (None, None)
        assert opened.dataset.driver == ("GTiff" if kind == "geotiff" else "JP2OpenJPEG")
        assert opened.dataset.read(1, out_shape=(8, 8)).any()


def test_a_raster_is_scanned_before_gdal_opens_it(monkeypatch):
    bomb = jp2_file(TILE_BOMB)
    monkeypatch.setattr(safe_open, "_open", lambda *args, **kwargs: pytest.fail("GDAL opened a refused file"))
    with pytest.raises(HeaderTooComplex):
        with open_source(bytes_reader(bomb), len(bomb), "/vsimem/unused.jp2"):
            pass


# --- Attributes --------------------------------------------------------------------------------------


def test_product_metadata_as_dict_holds_every_field_json_ready():
    fixture = safe_zip(L2A_N0500, zipfile.ZIP_DEFLATED)
    with open_source(bytes_reader(fixture.data), len(fixture.data), "/vsimem/unused.zip") as opened:
        pass
    metadata = opened.product
    values = metadata.as_dict()
    assert list(values) == [item.name for item in fields(ProductMetadata)]
    assert json.loads(json.dumps(values)) == values
    assert values["sensing_time"] == "2020-02-19T11:24:36.467000Z"
    assert datetime.fromisoformat(values["sensing_time"]) == metadata.sensing_time
    assert values["boa_offsets"] == dict(metadata.boa_offsets) and values["boa_offsets"]["B04"] == -1000
    assert values["footprint"] == metadata.footprint and values["footprint"]["type"] == "Polygon"
    assert (values["product_id"], values["tile_id"], values["cloud_cover"]) == (L2A_N0500.product_id, "29RKH", 4.05)


@pytest.mark.parametrize("compression", COMPRESSIONS.values(), ids=COMPRESSIONS.keys())
def test_attributes_of_a_product_describe_its_tci_and_its_metadata(compression, tmp_path):
    fixture = safe_zip(L1C_N0500, compression)
    path = tmp_path / "product.zip"
    path.write_bytes(fixture.data)
    with open_file(str(path)) as opened:
        attributes = read_attributes(opened.dataset, opened.product)
        plain = read_attributes(opened.dataset)
    assert attributes["product"] == opened.product.as_dict()
    assert {key: value for key, value in attributes.items() if key != "product"} == plain
    assert "product" not in plain
    assert attributes["product"]["level"] == "L1C" and attributes["product"]["sensing_time"].endswith("Z")
    assert (attributes["driver"], attributes["bands"], attributes["width"]) == ("JP2OpenJPEG", 3, 1098)
    json.dumps(attributes)


# --- In place from S3 --------------------------------------------------------------------------------


@pytest.mark.parametrize("compression", COMPRESSIONS.values(), ids=COMPRESSIONS.keys())
@pytest.mark.parametrize("spec", [L2A_N0500, L1C_N0500], ids=["l2a", "l1c"])
def test_a_product_on_s3_is_read_in_place(monkeypatch, caplog, spec, compression):
    """open_source over ranged GETs and /vsis3/: a 16 MB member in front of the product is never fetched,
    by our reads (listing, metadata, the image's pre-scan and, DEFLATED, its one inflation: a handful of
    requests, small reads coming from pages) nor by GDAL's (STORED: the member's ranges only)."""
    from tests.s3_helpers import moto_server

    fixture = safe_zip(spec, compression)
    padding = np.random.default_rng(0).bytes(16 << 20)  # incompressible, like a band
    zipped, buffer = zipfile.ZipFile(io.BytesIO(fixture.data)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{spec.product_id}.SAFE/AUX_DATA/padding.bin", padding)
        for info in zipped.infolist():
            archive.writestr(info, zipped.read(info))
    data = buffer.getvalue()
    with moto_server(monkeypatch) as s3:
        s3.create_bucket(Bucket="input-bucket")
        s3.put_object(Bucket="input-bucket", Key="uploads/product.zip", Body=data)
        fetched = []

        def read(offset: int, length: int) -> bytes:
            body = s3.get_object(
                Bucket="input-bucket", Key="uploads/product.zip", Range=f"bytes={offset}-{offset + length - 1}"
            )["Body"].read()
            fetched.append(len(body))
            return body

        with caplog.at_level(logging.DEBUG, logger="rasterio"), rasterio.Env(CPL_DEBUG=True):
            with open_source(read, len(data), "/vsis3/input-bucket/uploads/product.zip") as opened:
                assert opened.member == fixture.image and opened.product.product_id == spec.product_id
                assert opened.dataset.read(out_shape=(3, 32, 32)).any()
                assert ("/vsizip/" in opened.dataset.name) == (compression == zipfile.ZIP_STORED)
    gdal = [int(end) - int(start) + 1 for start, end in re.findall(r"Downloading (\d+)-(\d+)", caplog.text)]
    image = zipfile.ZipFile(io.BytesIO(data)).getinfo(fixture.image).compress_size
    assert bool(gdal) == (compression == zipfile.ZIP_STORED)
    assert sum(fetched) + sum(gdal) < image + (1 << 20) < len(data) // 10, (fetched, gdal)
    assert len(fetched) <= 5  # the magic bytes, the directory's page, the metadata's, the image's header, its inflation


def test_small_reads_come_from_pages_and_large_ones_straight_through():
    data = np.random.default_rng(1).bytes(1 << 20)
    calls: list[tuple[int, int]] = []
    pages = source._SmallReadPages(counting_reader(data, calls), len(data), page=1 << 12, max_pages=8)
    assert pages(5000, 10) == data[5000:5010] and calls == [(4096, 8192)]
    assert pages(4096, 4096) == data[4096:8192] and pages(8190, 2) == data[8190:8192] and len(calls) == 1
    assert pages(8190, 4) == data[8190:8194] and calls[-1] == (8192, 12288)  # the missing page only
    assert pages(len(data) - 3, 3) == data[-3:] and pages(0, 0) == b""
    assert pages(100, 5000) == data[100:5100] and calls[-1] == (100, 5100)  # over a page: uncached
    rng = np.random.default_rng(2)
    for _ in range(200):  # past max_pages every read goes straight through, still exact
        offset, length = int(rng.integers(0, len(data))), int(rng.integers(1, 5000))
        assert pages(offset, length) == data[offset : offset + length]
    assert len(pages._pages) <= 8


def test_the_page_cache_keeps_64_pages_of_64_kib():
    """Production's bound (the defaults): 4 MiB of pages; the 65th distinct page goes straight through."""
    data = np.random.default_rng(5).bytes(65 << 16)
    calls: list[tuple[int, int]] = []
    pages = source._SmallReadPages(counting_reader(data, calls), len(data))
    for index in range(65):
        assert pages(index << 16, 1) == data[index << 16 : (index << 16) + 1]
    assert calls[:64] == [(index << 16, (index + 1) << 16) for index in range(64)]
    assert calls[64:] == [(64 << 16, (64 << 16) + 1)] and len(pages._pages) == 64


def test_a_small_read_over_a_page_boundary_fetches_both_pages_and_keeps_them_a_page_each():
    data = np.random.default_rng(3).bytes(1 << 16)
    calls: list[tuple[int, int]] = []
    pages = source._SmallReadPages(counting_reader(data, calls), len(data), page=1 << 12, max_pages=8)
    assert pages(8190, 3) == data[8190:8193] and calls == [(4096, 12288)]  # its last byte opens page 2
    assert pages(4000, 200) == data[4000:4200] and calls[-1] == (0, 4096)
    assert sorted(pages._pages) == [0, 1, 2] and {len(page) for page in pages._pages.values()} == {1 << 12}


def test_a_one_byte_read_comes_from_a_page_and_exactly_max_pages_are_kept():
    """A single byte is a small read like any other; the page that brings the cache to `max_pages` is
    still kept, and only the one after it goes straight through."""
    data = np.random.default_rng(4).bytes(1 << 16)
    calls: list[tuple[int, int]] = []
    pages = source._SmallReadPages(counting_reader(data, calls), len(data), page=1 << 12, max_pages=2)
    assert pages(5000, 1) == data[5000:5001] and calls == [(4096, 8192)]
    assert pages(5001, 1) == data[5001:5002] and len(calls) == 1
    assert pages(9000, 1) == data[9000:9001] and calls[-1] == (8192, 12288) and sorted(pages._pages) == [1, 2]
    assert pages(9001, 1) == data[9001:9002] and len(calls) == 2
    assert pages(13000, 1) == data[13000:13001] and calls[-1] == (13000, 13001) and sorted(pages._pages) == [1, 2]
