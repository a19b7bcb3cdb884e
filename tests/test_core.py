"""The raster core on small synthetic GeoTIFFs: opening, attributes, band choice, rendering."""

import numpy as np
import pytest
from rasterio.enums import Resampling
from rasterio.io import MemoryFile

from handler.core import RenderOptions, open_bytes, read_attributes, render_thumbnail
from handler.core.errors import EmptyInput, InvalidRenderOptions, RasterTooLarge, UnreadableRaster, UnsupportedFormat
from handler.core.options import ImageFormat, Preset, Stretch
from handler.core.levels import opened_levels
from handler.core.plan import plan_read, thumbnail_shape
from handler.core.safe_open import check_budget
from tests.rasters import as_array, geotiff_bytes, open_png, profile, reflectance_stack


def render(data: bytes, **options):
    with open_bytes(data) as dataset:
        return render_thumbnail(dataset, RenderOptions(**options))


def attributes(data: bytes) -> dict:
    with open_bytes(data) as dataset:
        return read_attributes(dataset)


def test_attributes_of_a_12_band_l2a_stack():
    attrs = attributes(geotiff_bytes(reflectance_stack(12), nodata=0))
    assert {"width", "height", "bands", "crs", "bbox", "driver", "dtype", "transform"} <= attrs.keys()
    assert (attrs["width"], attrs["height"], attrs["bands"]) == (80, 60, 12)
    assert attrs["crs"] == "EPSG:32633" and attrs["driver"] == "GTiff" and attrs["dtype"] == "uint16"
    assert attrs["bbox"] == [404400.0, 5341800.0, 405200.0, 5342400.0]
    assert attrs["transform"] == [10.0, 0.0, 404400.0, 0.0, -10.0, 5342400.0]
    assert attrs["band_names"][3] == "B04" and attrs["band_names"][8] == "B8A"
    assert attrs["nodata"] == 0 and attrs["resolution"] == [10.0, 10.0]
    west, south, east, north = attrs["bbox_wgs84"]
    assert 13.7 < west < east < 13.73 and 48.21 < south < north < 48.23


def test_nan_nodata_is_json_safe():
    data = reflectance_stack(1, dtype="float32") / 10000
    assert attributes(geotiff_bytes(data.astype("float32"), nodata=float("nan")))["nodata"] == "nan"


@pytest.mark.parametrize("count, expected", [(12, (4, 3, 2)), (13, (4, 3, 2)), (4, (3, 2, 1)), (1, (1,))])
def test_true_colour_band_choice_by_count(count, expected):
    assert render(geotiff_bytes(reflectance_stack(count)), thumbnail_size=32).bands == expected


def test_descriptions_choose_bands():
    data = geotiff_bytes(reflectance_stack(4), descriptions=["B4", "B3", "B2", "B8"])
    assert render(data, thumbnail_size=32).bands == (1, 2, 3)
    assert render(data, thumbnail_size=32, preset=Preset.false_color).bands == (4, 1, 2)


def test_uint8_rgb_is_drawn_as_stored():
    rgb = np.stack([np.full((40, 40), v, np.uint8) for v in (200, 100, 50)])
    image = as_array(render(geotiff_bytes(rgb, photometric="RGB"), thumbnail_size=40).content)
    assert tuple(image[0, 0][:3]) == (200, 100, 50)


def test_sixteen_bit_is_not_black():
    """A plain 0-65535 stretch would make 0.05-0.3 reflectance black; gain 2.5 must not."""
    image = as_array(render(geotiff_bytes(reflectance_stack(12)), thumbnail_size=64).content)
    assert image[..., :3].mean() > 60


def test_values_clip_and_never_wrap():
    data = np.stack([np.full((10, 10), v, np.uint16) for v in (60000, 12000, 4000)])
    image = as_array(render(geotiff_bytes(data), thumbnail_size=10).content)
    assert tuple(image[5, 5][:3]) == (255, 255, 255)
    negatives = np.stack([np.full((10, 10), -500, np.int16)] * 3)
    assert tuple(as_array(render(geotiff_bytes(negatives), thumbnail_size=10).content)[5, 5][:3]) == (0, 0, 0)


def test_boa_offset_darkens():
    data = geotiff_bytes(np.stack([np.full((10, 10), 1400, np.uint16)] * 3))
    plain = as_array(render(data, thumbnail_size=10).content)[5, 5, 0]
    offset = as_array(render(data, thumbnail_size=10, boa_offset=-1000).content)[5, 5, 0]
    assert abs(int(plain) - 0.14 * 2.5 * 255) <= 1 and abs(int(offset) - 0.04 * 2.5 * 255) <= 1


def test_baseline_tag_applies_offset():
    data = geotiff_bytes(np.stack([np.full((10, 10), 1400, np.uint16)] * 3), tags={"PROCESSING_BASELINE": "04.00"})
    assert abs(int(as_array(render(data, thumbnail_size=10).content)[5, 5, 0]) - 0.04 * 2.5 * 255) <= 1


def test_nodata_becomes_transparent():
    data = reflectance_stack(12)
    data[:, :, :40] = 0
    image = as_array(render(geotiff_bytes(data, nodata=0), thumbnail_size=80).content)
    assert image.shape == (60, 80, 4)
    assert (image[:, :38, 3] == 0).all() and (image[:, 42:, 3] == 255).all()


def test_float_nan_is_transparent_and_reflectance():
    data = (reflectance_stack(3) / 10000).astype("float32")
    data[:, :10, :] = np.nan
    image = as_array(render(geotiff_bytes(data), thumbnail_size=80).content)
    assert (image[:8, :, 3] == 0).all() and (image[12:, :, 3] == 255).all()
    assert image[30, 40, 0] > 60


def test_all_nodata_renders_fully_transparent():
    image = as_array(render(geotiff_bytes(np.zeros((12, 20, 20), np.uint16), nodata=0), thumbnail_size=20).content)
    assert (image[..., 3] == 0).all()


def test_constant_image_with_percentile_stretch_does_not_fail():
    data = geotiff_bytes(np.full((3, 20, 20), 1500, np.uint16))
    image = as_array(render(data, thumbnail_size=20, stretch=Stretch.percentile).content)
    assert image.shape[:2] == (20, 20)


def test_percentile_stretch_spans_the_range():
    data = geotiff_bytes(reflectance_stack(12))
    image = as_array(render(data, thumbnail_size=64, stretch=Stretch.percentile).content)
    assert image[..., 0].min() <= 5 and image[..., 0].max() >= 250


def test_grayscale_single_band():
    assert open_png(render(geotiff_bytes(reflectance_stack(1)), thumbnail_size=32).content).mode == "L"


def test_aspect_ratio_and_size():
    th = render(geotiff_bytes(reflectance_stack(12, height=50, width=200)), thumbnail_size=100)
    assert (th.width, th.height) == (100, 25)
    assert thumbnail_shape(1098, 1098, 200) == (200, 200)
    assert thumbnail_shape(512, 856, 200) == (200, 120)


@pytest.mark.parametrize(
    "fmt, magic", [(ImageFormat.png, b"\x89PNG"), (ImageFormat.jpeg, b"\xff\xd8\xff"), (ImageFormat.webp, b"RIFF")]
)
def test_formats(fmt, magic):
    assert render(geotiff_bytes(reflectance_stack(12)), thumbnail_size=16, image_format=fmt).content.startswith(magic)


def test_ndvi_preset_colours_vegetation_green():
    data = np.zeros((12, 10, 10), np.uint16) + 500
    data[7] = 4000  # B08 (NIR) high, B04 (red) low -> NDVI ~0.78
    pixel = as_array(render(geotiff_bytes(data), thumbnail_size=10, preset=Preset.ndvi).content)[5, 5]
    assert pixel[1] > pixel[0] and pixel[1] > pixel[2]


def test_preset_needing_missing_bands_is_a_clear_error():
    with pytest.raises(InvalidRenderOptions, match="B12, B8A, B04"):
        render(geotiff_bytes(reflectance_stack(4)), preset=Preset.swir)


def test_explicit_bands_are_checked():
    with pytest.raises(InvalidRenderOptions, match="band 9 does not exist"):
        render(geotiff_bytes(reflectance_stack(3)), bands=(9, 2, 1))
    with pytest.raises(InvalidRenderOptions):
        RenderOptions(bands=(1, 2))


@pytest.mark.parametrize("size", [0, -10, 2049, 100000])
def test_size_bounds(size):
    with pytest.raises(InvalidRenderOptions):
        RenderOptions(thumbnail_size=size)


@pytest.mark.parametrize(
    "data, error",
    [
        (b"", EmptyInput),
        (b"%PDF-1.7 ...", UnsupportedFormat),
        (b"\x89PNG\r\n\x1a\n" + b"0" * 64, UnsupportedFormat),
        (b"<VRTDataset rasterXSize='1'>", UnsupportedFormat),
        (b"II*\x00" + b"\x00" * 4, UnreadableRaster),
    ],
)
def test_bad_inputs(data, error):
    with pytest.raises(error):
        with open_bytes(data):
            pass


def test_truncated_tiff_is_unreadable():
    data = geotiff_bytes(reflectance_stack(12, height=200, width=200))
    with pytest.raises(UnreadableRaster):
        render(data[: len(data) // 2], thumbnail_size=64)


def test_reads_decimated_from_overviews_within_budget(monkeypatch):
    """A raster over the decode budget renders when an overview is small enough, and not otherwise."""
    from handler.core import plan

    monkeypatch.setattr(plan, "LIMITS", type(plan.LIMITS)(max_read_pixels=100 * 100))
    data = reflectance_stack(3, height=256, width=256)
    with pytest.raises(RasterTooLarge, match="overviews"):
        render(geotiff_bytes(data, tiled=True), thumbnail_size=32)
    assert render(geotiff_bytes(data, tiled=True, overviews=(2, 4, 8)), thumbnail_size=32).width == 32


def test_pixel_interleaved_files_count_every_band_against_the_budget(monkeypatch):
    """Pixel-interleaved blocks hold every band: drawing 3 of 12 bands still decodes all 12."""
    from handler.core import plan

    monkeypatch.setattr(plan, "LIMITS", type(plan.LIMITS)(max_read_bytes=256 * 256 * 2 * 6))  # 6 bands of a tile
    data = reflectance_stack(12, height=200, width=200)
    with pytest.raises(RasterTooLarge, match=r"12 band\(s\)"):
        render(geotiff_bytes(data, tiled=True, interleave="pixel"), thumbnail_size=64)
    assert render(geotiff_bytes(data, tiled=True, interleave="band"), thumbnail_size=64).width == 64  # 3 bands decoded


@pytest.mark.parametrize("resampling", ["nearest", "average"])
def test_chunked_full_resolution_reads_match_a_single_read(monkeypatch, resampling):
    """Rasters without overviews that outgrow GDAL's block cache are read tile by tile: same pixels."""
    from handler.core import read

    data = geotiff_bytes(
        reflectance_stack(4, height=1024, width=768), tiled=True, blockxsize=256, blockysize=256, interleave="pixel"
    )
    monkeypatch.setenv("GDAL_CACHEMAX", "1")  # 1 MB: a 4-band 256 x 256 block is 0.5 MB
    with open_bytes(data) as dataset:
        with opened_levels(dataset) as levels:
            plan = plan_read(levels, (3, 2, 1), (400, 300), Resampling[resampling])
            chunks = read.read_chunks(plan.values, plan.read_shape, plan.weight)
            assert chunks is not None and len(chunks) > 4
            chunked = read.read_plan(levels, plan)
            monkeypatch.setattr(read, "read_chunks", lambda *args: None)
            single = read.read_plan(levels, plan)
    assert np.array_equal(chunked.valid, single.valid)
    if resampling == "nearest":
        assert np.array_equal(chunked.values, single.values)
    else:
        assert np.abs(chunked.values - single.values).max() <= 1.0  # fractional window edges


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_exports_holding_dn_render_like_the_uint16_scene(dtype):
    """xarray / stackstac exports keep DN (x 10000) in floats: rendering them as reflectance gave a white
    picture. The values tell: they render exactly like the uint16 file, and the render says why."""
    dn = reflectance_stack(12)
    reference = render(geotiff_bytes(dn, nodata=0))
    as_dn = render(geotiff_bytes(dn.astype(dtype), nodata=0))
    as_reflectance = render(geotiff_bytes((dn / 10000).astype(dtype), nodata=0))
    assert as_dn.radiometry.source == "float_dn_values" and as_reflectance.radiometry.source == "float_reflectance"
    assert reference.radiometry.source == "default"
    np.testing.assert_array_equal(as_array(as_dn.content), as_array(reference.content))
    np.testing.assert_allclose(as_array(as_reflectance.content), as_array(reference.content), atol=1)


def test_float_dn_exports_take_the_baseline_offset_their_tags_declare():
    dn = reflectance_stack(12) + 1000
    declared = render(geotiff_bytes(dn.astype("float32"), tags={"PROCESSING_BASELINE": "05.09"}))
    reference = render(geotiff_bytes(dn, tags={"PROCESSING_BASELINE": "05.09"}))
    assert declared.radiometry.offset == -1000
    np.testing.assert_array_equal(as_array(declared.content), as_array(reference.content))


def test_a_few_hot_pixels_do_not_make_reflectance_dn():
    reflectance = (reflectance_stack(3) / 10000).astype("float32")
    reflectance[:, :2, :2] = 5000.0  # saturated or corrupt pixels: well under 1 % of the image
    assert render(geotiff_bytes(reflectance)).radiometry.source == "float_reflectance"


@pytest.mark.parametrize(
    "text, message",
    [("4,x,2", "bands must be comma-separated band numbers, e.g. 4,3,2."), ("4,0,2", "band numbers start at 1.")],
)
def test_bad_band_lists_say_what_is_expected(text, message):
    # Planted bug: the message upper-cased -> the API's error.message changes.
    from handler.core.options import parse_bands

    with pytest.raises(InvalidRenderOptions) as error:
        parse_bands(text)
    assert str(error.value) == message
    assert parse_bands(" ") is None and parse_bands("4, 3,2") == (4, 3, 2)


def test_float_reflectance_is_told_from_dn_by_its_valid_pixels_only():
    """Nodata pixels holding a DN-sized value (20000) must not make a reflectance export look like DN
    (planted: render_display not passing the valid mask to the radiometry -> the picture goes black)."""
    data = np.full((3, 20, 20), 0.2, np.float32)
    data[:, :, 12:] = 20000.0  # 40 % nodata
    image = as_array(render(geotiff_bytes(data, nodata=20000.0), thumbnail_size=20).content)
    assert abs(int(image[5, 2, 0]) - round(0.2 * 2.5 * 255)) <= 1  # reflectance x gain, not DN / 10000


def test_a_single_band_named_by_its_file_is_named_in_errors(tmp_path):
    """An ESA band file's name names its band (planted: select_bands not passing the file name -> 'b1')."""
    from handler.core import open_path

    path = tmp_path / "T29RKH_20200219T112109_B04_20m.jp2"  # ESA's band file name (GeoTIFF bytes here)
    path.write_bytes(geotiff_bytes(reflectance_stack(1)))
    with open_path(str(path)) as dataset, pytest.raises(InvalidRenderOptions, match="this file's bands are B04\\."):
        render_thumbnail(dataset, RenderOptions(thumbnail_size=16, preset=Preset.ndvi))


def test_exact_attributes_of_a_tiled_compressed_file_with_overviews_and_tags():
    """Every key and value of /attributes (only the WGS84 bounds, PROJ's arithmetic, to a micro-degree)."""
    content = geotiff_bytes(
        reflectance_stack(4, 64, 48),
        descriptions=["B2", None, "red", "B8"],
        tags={"PROCESSING_BASELINE": "04.00"},
        overviews=(2, 4),
        nodata=0,
        tiled=True,
        blockxsize=16,
        blockysize=32,
        compress="deflate",
    )
    attrs = attributes(content)
    assert attrs.pop("bbox_wgs84") == pytest.approx([13.712737, 48.221857, 13.719342, 48.227686], abs=1e-6)
    assert attrs == {
        "width": 48,
        "height": 64,
        "bands": 4,
        "crs": "EPSG:32633",
        "bbox": [404400.0, 5341760.0, 404880.0, 5342400.0],
        "driver": "GTiff",
        "dtype": "uint16",
        "transform": [10.0, 0.0, 404400.0, 0.0, -10.0, 5342400.0],
        "nodata": 0.0,
        "dtypes": ["uint16"] * 4,
        "band_names": ["B02", "b2", "B04", "B08"],
        "band_order": "described",
        "resolution": [10.0, 10.0],
        "overviews": [2, 4],
        "blocksize": [32, 16],
        "compression": "DEFLATE",
        "radiometry": {"scale": 1e-4, "offset": -1000.0, "source": "processing_baseline"},
    }


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
@pytest.mark.parametrize("nodata, reported", [(float("inf"), "inf"), (float("-inf"), "-inf")])
def test_a_file_without_crs_has_no_wgs84_bounds_and_infinite_nodata_is_a_string(nodata, reported):
    from affine import Affine

    data = (reflectance_stack(1, 4, 6) / 10000).astype("float32")
    attrs = attributes(geotiff_bytes(data, nodata=nodata, crs=None, transform=Affine.identity()))
    assert (attrs["crs"], attrs["bbox_wgs84"], attrs["nodata"], attrs["compression"]) == (None, None, reported, None)
    assert attrs["radiometry"] == {"scale": 1.0, "offset": 0.0, "source": "float_reflectance"}


def encoded(display: np.ndarray, valid: np.ndarray, image_format: ImageFormat):
    from handler.core.encode import encode_image

    image = open_png(encode_image(display, valid, image_format))
    return image.mode, np.asarray(image)


def pillow_bytes(pixels: np.ndarray, **options) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, **options)
    return buffer.getvalue()


DISPLAY = np.random.default_rng(4).integers(1, 256, (3, 16, 24), dtype=np.uint8)
HOLE = np.ones((16, 24), bool)
HOLE[:8, :8] = False  # an 8 x 8 nodata corner: one JPEG block


def test_png_keeps_the_display_and_makes_nodata_transparent():
    mode, pixels = encoded(DISPLAY[:1], np.ones_like(HOLE), ImageFormat.png)
    assert mode == "L" and np.array_equal(pixels, DISPLAY[0])  # all valid: no alpha channel
    mode, pixels = encoded(DISPLAY[:1], HOLE, ImageFormat.png)
    assert mode == "LA" and np.array_equal(pixels, np.dstack([DISPLAY[0], np.where(HOLE, 255, 0)]))
    mode, pixels = encoded(DISPLAY, HOLE, ImageFormat.png)
    assert mode == "RGBA" and np.array_equal(pixels, np.dstack([*DISPLAY, np.where(HOLE, 255, 0)]))
    mode, pixels = encoded(DISPLAY, np.ones_like(HOLE), ImageFormat.png)
    assert mode == "RGB" and np.array_equal(pixels, np.dstack(DISPLAY))


def test_jpeg_paints_nodata_black_at_quality_85():
    from handler.core.encode import encode_image

    content = encode_image(DISPLAY, HOLE, ImageFormat.jpeg)
    assert content == pillow_bytes(np.dstack(DISPLAY * HOLE), format="JPEG", quality=85)
    assert encode_image(DISPLAY[:1], HOLE, ImageFormat.jpeg) == pillow_bytes(
        DISPLAY[0] * HOLE, format="JPEG", quality=85
    )  # gray stays gray, no alpha


def test_webp_is_rgb_or_rgba_at_quality_85_with_gray_repeated():
    from handler.core.encode import encode_image

    gray, alpha = DISPLAY[0], np.where(HOLE, 255, 0).astype(np.uint8)
    expected = pillow_bytes(np.dstack([gray, gray, gray, alpha]), format="WEBP", quality=85)
    assert encode_image(DISPLAY[:1], HOLE, ImageFormat.webp) == expected
    expected = pillow_bytes(np.dstack([*DISPLAY, alpha]), format="WEBP", quality=85)
    assert encode_image(DISPLAY, HOLE, ImageFormat.webp) == expected
    mode, pixels = encoded(DISPLAY, HOLE, ImageFormat.webp)
    assert mode == "RGBA" and np.array_equal(pixels[..., 3], alpha)  # lossy colours, exact alpha


def test_each_step_of_a_render_is_a_named_span(monkeypatch):
    """The Lambda adapters route spans to X-Ray subsegments; without a factory they cost nothing."""
    import importlib
    from contextlib import nullcontext

    from handler.core import spans

    names = []
    monkeypatch.setattr(spans, "_factory", spans._factory)  # restored after the test
    importlib.reload(spans)  # the default factory: importing handler.observability (the adapters) replaced it
    assert isinstance(spans.span("read"), nullcontext)
    spans.set_span_factory(lambda name: names.append(name) or nullcontext())
    render(geotiff_bytes(reflectance_stack(3)), thumbnail_size=16)
    assert names == ["open", "read", "encode"]


def test_wgs84_bounds_of_a_whole_utm_zone_reach_its_northern_peak():
    """A grid's straight top edge bulges north in WGS84 and peaks on the central meridian: the densified
    edge must sample it, or the bounds miss part of the raster (catalogue searches there would miss it)."""
    from rasterio.transform import from_origin
    from rasterio.warp import transform

    # UTM 33N from 166 km to 834 km east (15 degrees E, 500 km east, mid-edge) up to 9300 km north
    content = geotiff_bytes(reflectance_stack(1, 100, 10), transform=from_origin(166000, 9300000, 66800, 93000))
    west, south, east, north = attributes(content)["bbox_wgs84"]
    (_,), (peak,) = transform("EPSG:32633", "EPSG:4326", [500000], [9300000])
    assert north >= peak > 83.74
    assert south == pytest.approx(0.0, abs=1e-9) and west < -10 and east > 40  # the zone widens southward


def test_render_options_take_their_bounds_inclusively_and_say_which_one_failed():
    for size in (1, 2048):
        assert RenderOptions(thumbnail_size=size).thumbnail_size == size
    for size in (0, 2049):
        with pytest.raises(InvalidRenderOptions) as refused:
            RenderOptions(thumbnail_size=size)
        assert refused.value.message == "target_resolution must be an integer from 1 to 2048."
    for gain in (0.5, 1, 100):
        assert RenderOptions(gain=gain).gain == gain
    for gain in (0, 100.5):
        with pytest.raises(InvalidRenderOptions) as refused:
            RenderOptions(gain=gain)
        assert refused.value.message == "gain must be greater than 0 and at most 100."
    with pytest.raises(InvalidRenderOptions) as refused:
        RenderOptions(preset="truecolour")
    assert refused.value.message == "'truecolour' is not a valid Preset"


def test_an_empty_file_and_a_complex_raster_are_refused_with_their_reasons():
    with pytest.raises(EmptyInput) as empty, open_bytes(b""):
        pass
    assert empty.value.message == "The file is empty."
    with pytest.raises(UnsupportedFormat) as radar, open_bytes(geotiff_bytes(np.ones((1, 8, 8), np.complex64))):
        pass
    assert radar.value.message == (
        "Band data type complex64 is not supported: only integer and floating-point bands can be drawn "
        "(complex values, e.g. radar, are not)."
    )


def test_a_16_bit_palette_is_refused_with_its_reason():
    with MemoryFile() as memfile:
        with memfile.open(**profile(1, "uint16", 8, 8), photometric="palette") as dataset:
            dataset.write(np.ones((1, 8, 8), np.uint16))
            dataset.write_colormap(1, {0: (0, 0, 0, 255), 1: (255, 0, 0, 255)})
        data = memfile.read()
    with pytest.raises(UnsupportedFormat) as refused, open_bytes(data):
        pass
    assert (
        refused.value.message == "Colour tables (palettes, or PHOTOMETRIC=MINISWHITE) are only accepted on 8-bit bands."
    )


@pytest.mark.parametrize("count", [64, 65])
def test_the_band_budget_behind_the_header_scans_is_inclusive(count):
    """check_budget refuses what the TIFF and JPEG 2000 scans let through (they refuse 65 bands first)."""
    with MemoryFile(geotiff_bytes(np.ones((count, 4, 4), np.uint8))) as memfile, memfile.open() as dataset:
        if count == 64:
            check_budget(dataset)
            return
        with pytest.raises(RasterTooLarge) as refused:
            check_budget(dataset)
    assert refused.value.message == "The raster has 65 bands; at most 64 are accepted."
