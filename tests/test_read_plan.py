"""The read plan (handler/core/plan.py, levels.py) and the deadline: what a render will decode, decided
before any pixel is read, and reads that follow it. Hostile structures come from the raw TIFF writer,
so a 16000² raster is a few KB."""

import zlib

import numpy as np
import pytest
from rasterio.enums import MaskFlags, Resampling

from handler.core import RenderOptions, open_bytes, render_thumbnail
from handler.core import plan as plan_module
from handler.core import read
from handler.core.deadline import Deadline
from handler.core.errors import DeadlineExceeded, RasterTooLarge, UnsupportedFormat
from handler.core.levels import opened_levels
from handler.core.plan import plan_read
from handler.http_errors import STATUS_BY_ERROR
from tests.deadlines import CountingDeadline
from tests.rasters import geotiff_bytes, reflectance_stack
from tests.security.tiff_writer import GDAL_NODATA, LZMA, MASK, REDUCED, Ifd, ascii_tag, geo_tags, write_tiff

# A deflate block of 512 x 512 uint16 ones: an overview that is read shows up as non-zero pixels.
ONES = zlib.compress(np.ones((512, 512), "<u2").tobytes())


def plan_for(data: bytes, size: int = 64, resampling: Resampling = Resampling.average, indexes: tuple[int, ...] = (1,)):
    with open_bytes(data) as dataset, opened_levels(dataset) as levels:
        shape = plan_module.thumbnail_shape(dataset.width, dataset.height, size)
        return plan_read(levels, indexes, shape, resampling)


def test_an_overview_reduced_in_one_axis_is_treated_as_absent_and_never_read():
    """An overview 16x narrower but as tall as the image: rasterio reports factor 16, GDAL would read
    4096 x 256 pixels of it; the plan counts the full image instead and the read really uses it."""
    data = write_tiff([Ifd(4096, 4096, tags=geo_tags()), Ifd(256, 4096, subfile_type=REDUCED, blob=ONES)])
    plan = plan_for(data)
    assert plan.level.index is None and (plan.level.width, plan.level.height) == (4096, 4096)
    with open_bytes(data) as dataset:
        values = read.read_bands(dataset, (1,), (64, 64), Resampling.average).values
    assert values.max() == 0  # the zero full-resolution blocks, not the overview's ones


def test_a_consistent_overview_is_used_with_its_true_size():
    data = write_tiff([Ifd(4096, 4096, tags=geo_tags()), Ifd(1024, 1024, subfile_type=REDUCED, blob=ONES)])
    plan = plan_for(data, size=256)
    assert (plan.level.index, plan.level.width, plan.level.height) == (0, 1024, 1024)
    assert plan.values.blocks == 4
    with open_bytes(data) as dataset:
        assert read.read_bands(dataset, (1,), (256, 256), Resampling.average).values.min() == 1


def test_an_internal_mask_is_counted_at_full_resolution():
    """The mask has no overview: GDAL decodes all of it even when the values come from an overview."""
    data = write_tiff(
        [
            Ifd(4096, 4096, samples=3, tags=geo_tags()),
            Ifd(4096, 4096, dtype="bit", subfile_type=MASK),
            Ifd(512, 512, samples=3, subfile_type=REDUCED),
        ]
    )
    plan = plan_for(data, indexes=(1, 2, 3))
    assert plan.level.index == 0
    assert plan.mask is not None and plan.mask.decoded_bytes == 4096 * 4096  # 1 byte a pixel, not 3 bands
    assert plan.cost == 512 * 512 * 3 * 2 + 4096 * 4096


def test_an_alpha_band_is_counted_as_the_mask_at_full_resolution():
    """GDAL flags an alpha band per_dataset as well as alpha: it is counted like a mask, 1 byte a pixel."""
    data = geotiff_bytes(
        np.full((4, 1024, 1024), 200, np.uint8), tiled=True, photometric="RGB", alpha="YES", overviews=[4]
    )
    with open_bytes(data) as dataset:
        assert set(dataset.mask_flag_enums[0]) == {MaskFlags.per_dataset, MaskFlags.alpha}
    plan = plan_for(data, size=256, indexes=(1, 2, 3))
    assert plan.level.index == 0 and plan.mask is not None and plan.mask.decoded_bytes == 1024 * 1024


def test_one_strip_holding_the_whole_image_is_refused_with_the_reason():
    data = write_tiff([Ifd(4096, 4096, tile=None, tags=geo_tags())])  # one 32 MB strip
    with pytest.raises(RasterTooLarge) as refused, open_bytes(data) as dataset:
        render_thumbnail(dataset, RenderOptions(thumbnail_size=64))
    assert str(refused.value) == (
        "This raster is stored in blocks of 4096 x 4096 pixels (32 MB each decoded, limit 16 MB): GDAL decodes "
        "whole blocks, so one strip or tile covering the image cannot be read in bounded memory. Save it tiled "
        "(e.g. a COG)."
    )


def test_a_read_over_the_weighted_budget_is_refused_with_its_numbers():
    """16000² uint16 in 1,024 LZMA tiles of 512²: 0.54 GB decoded, x16 for LZMA, over the 3.22 GB budget."""
    data = write_tiff([Ifd(16000, 16000, compression=LZMA, tags=geo_tags())])
    with pytest.raises(RasterTooLarge) as refused, open_bytes(data) as dataset:
        render_thumbnail(dataset, RenderOptions(thumbnail_size=64))
    assert str(refused.value) == (
        "Rendering this raster would decode the full image: 0.54 GB of pixels (1 band(s) in 1,024 blocks), "
        "0.00 GB of mask, LZMA compression (cost x16); the limits are 256,000,000 pixels per band and 3.22 GB "
        "weighted. Add internal overviews (a COG) or send a smaller file."
    )


def test_slow_codecs_and_pixel_interleaving_weigh_in_the_cost():
    deflate = plan_for(write_tiff([Ifd(2048, 2048, tags=geo_tags())]))
    lzma = plan_for(write_tiff([Ifd(2048, 2048, compression=LZMA, tags=geo_tags())]))
    assert (deflate.codec, lzma.codec) == ("DEFLATE", "LZMA")
    assert lzma.cost == 16 * deflate.cost == 16 * 2048 * 2048 * 2
    pixel = plan_for(write_tiff([Ifd(2048, 2048, dtype="float64", samples=12, tags=geo_tags())]))
    assert pixel.values.bands == 12 and pixel.cost == 12 * 8 * 2048 * 2048  # every band of each block


def test_compressions_whose_cost_cannot_be_bounded_are_refused():
    data = write_tiff([Ifd(64, 64, dtype="uint8", compression=2, blob=bytes(100), tags=geo_tags())])  # CCITT RLE
    with pytest.raises(UnsupportedFormat, match="CCITTRLE"):
        plan_for(data)


@pytest.mark.parametrize("resampling", [Resampling.mode, Resampling.cubic, Resampling.lanczos, Resampling.bilinear])
def test_kernels_run_on_a_bounded_intermediate(resampling):
    """Their cost grows with the decimation factor: the file is read to 2x the output with a cheap
    method, the kernel then runs in memory."""
    plan = plan_for(write_tiff([Ifd(16000, 16000, tags=geo_tags())]), size=512, resampling=resampling)
    assert plan.read_shape == (1024, 1024) and plan.kernel is resampling
    assert plan.method is (Resampling.nearest if resampling is Resampling.mode else Resampling.average)


def test_tiny_outputs_average_a_bounded_intermediate_and_nearest_reads_directly():
    data = write_tiff([Ifd(16000, 8000, tags=geo_tags())])
    plan = plan_for(data, size=4)
    assert plan.read_shape == (128, 256) and plan.kernel is Resampling.average
    nearest = plan_for(data, size=4, resampling=Resampling.nearest)  # one pixel per output pixel
    assert nearest.read_shape == (2, 4) and nearest.kernel is None


def test_a_level_no_larger_than_the_intermediate_is_read_directly():
    """An intermediate as large as the level itself would bound nothing: a 256² image to 4 px is averaged
    in one GDAL call; one pixel more and it goes through the 256 px intermediate."""
    plan = plan_for(write_tiff([Ifd(256, 256, tags=geo_tags())]), size=4)
    assert plan.read_shape == (4, 4) and plan.kernel is None
    plan = plan_for(write_tiff([Ifd(257, 257, tags=geo_tags())]), size=4)
    assert plan.read_shape == (256, 256) and plan.kernel is Resampling.average


@pytest.mark.parametrize("resampling", [Resampling.cubic, Resampling.lanczos, Resampling.bilinear])
def test_the_intermediate_draws_what_the_kernel_draws(resampling):
    """On noise, where the kernel matters most, the two steps give what GDAL's kernel gives directly
    (the smooth mean), not a sample of the noise."""
    noise = np.random.default_rng(0).integers(1, 10_000, (1, 1024, 1024)).astype("uint16")
    with open_bytes(geotiff_bytes(noise, tiled=True)) as dataset:
        planned = read.read_bands(dataset, (1,), (64, 64), resampling).values[0]
        direct = dataset.read(1, out_shape=(64, 64), resampling=resampling).astype("float32")
    assert planned.std() < 200 and np.abs(planned - direct).mean() < 100  # the noise itself: std 2900


def test_budget_check_and_read_use_the_same_plan(monkeypatch):
    """The budget that refuses is the plan's cost: 1 byte under it is refused, at it renders."""
    data = geotiff_bytes(reflectance_stack(3, height=600, width=600), tiled=True, interleave="pixel")
    cost = plan_for(data, size=300, indexes=(3, 2, 1)).cost
    assert cost == 3 * 256 * 256 * 3 * 2 * 3  # 9 tiles of 256² x 3 bands x 2 bytes
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_read_bytes=cost - 1))
    with pytest.raises(RasterTooLarge), open_bytes(data) as dataset:
        render_thumbnail(dataset, RenderOptions(thumbnail_size=300))
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_read_bytes=cost))
    with open_bytes(data) as dataset:
        assert render_thumbnail(dataset, RenderOptions(thumbnail_size=300)).width == 300


def test_the_deadline_is_checked_between_chunks(monkeypatch):
    monkeypatch.setenv("GDAL_CACHEMAX", "1")  # chunks of a few 256² tiles
    monkeypatch.setattr(read, "core_threads", lambda: 1)  # one thread: checks in order (threads: test_parallel_read)
    data = geotiff_bytes(reflectance_stack(3, height=1024, width=1024), tiled=True, blockxsize=256, blockysize=256)
    deadline = CountingDeadline(allowed=3)
    with pytest.raises(DeadlineExceeded), open_bytes(data) as dataset:
        read.read_bands(dataset, (3, 2, 1), (512, 512), Resampling.average, deadline)
    assert deadline.checks == 4  # stopped at the 3rd chunk, not after all of them


def test_an_expired_deadline_is_a_413_with_its_own_code():
    with (
        pytest.raises(DeadlineExceeded, match="time this request has") as error,
        open_bytes(geotiff_bytes(reflectance_stack(3))) as dataset,
    ):
        render_thumbnail(dataset, RenderOptions(thumbnail_size=32), deadline=Deadline.after(-1))
    assert error.value.code == "deadline_exceeded" and STATUS_BY_ERROR[DeadlineExceeded] == 413


def test_no_deadline_never_expires():
    with open_bytes(geotiff_bytes(reflectance_stack(3))) as dataset:
        assert render_thumbnail(dataset, RenderOptions(thumbnail_size=32), deadline=Deadline.after(60)).width == 32


def test_a_cog_copy_that_would_outlast_the_deadline_is_not_started(tmp_path, monkeypatch):
    """GDAL's copy cannot be interrupted: one expected to take longer than the time left is skipped."""
    from handler.core import cog

    monkeypatch.setattr(cog, "COPY_ABOVE_PIXELS", 100_000)
    data = geotiff_bytes(reflectance_stack(12, height=300, width=700))  # 5 MB decoded: ~0.06 s estimated
    with open_bytes(data) as dataset:
        assert cog.needs_cog_copy(dataset, 512, Deadline.after(60))
        assert not cog.needs_cog_copy(dataset, 512, Deadline.after(0.01))


def test_a_nodata_the_intermediate_cannot_hold_is_not_an_error():
    """float64 becomes a float32 intermediate; GDAL's MEM dataset refuses a nodata of 1e300 for it."""
    data = write_tiff([Ifd(2048, 2048, dtype="float64", tags={**geo_tags(), GDAL_NODATA: ascii_tag("1e300")})])
    with open_bytes(data) as dataset:
        assert dataset.nodata == 1e300
        assert render_thumbnail(dataset, RenderOptions(thumbnail_size=64, resampling="cubic")).width == 64


def test_a_cog_copy_costs_every_band_and_the_mask_at_full_resolution(monkeypatch):
    """copy_cost, block by block: 512² in 256² tiles is 4 blocks per band; an internal mask is counted at
    1 byte per pixel of the same blocks; a pixel-interleaved block holds every band; the codec's weight
    multiplies the whole."""
    import rasterio
    from rasterio.io import MemoryFile

    from tests.rasters import profile

    def scene(count: int, dtype: str, **extra) -> bytes:
        tiles = {"tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate"}
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), MemoryFile() as memfile:
            with memfile.open(**profile(count, dtype, 512, 512, **tiles, **extra)) as dst:
                dst.write(np.ones((count, 512, 512), dtype))
                dst.write_mask(np.full((512, 512), 255, np.uint8))
            return memfile.read()

    with open_bytes(scene(1, "uint16")) as dataset:  # one band: 4 x 256² x 2 bytes, mask 4 x 256²
        assert plan_module.copy_cost(dataset) == 4 * 256 * 256 * 2 + 4 * 256 * 256
    with open_bytes(scene(3, "uint16", interleave="band")) as dataset:  # each band's blocks
        assert plan_module.copy_cost(dataset) == 3 * 4 * 256 * 256 * 2 + 4 * 256 * 256
    with open_bytes(scene(3, "uint8", interleave="pixel")) as dataset:
        assert plan_module.copy_cost(dataset) == 4 * 256 * 256 * 3 + 4 * 256 * 256
    with open_bytes(scene(1, "float32", predictor=3)) as dataset:  # the float predictor weighs 4
        assert plan_module.copy_cost(dataset) == (4 * 256 * 256 * 4 + 4 * 256 * 256) * 4


def test_a_block_at_the_block_limit_renders_and_one_byte_over_is_refused_saying_why(monkeypatch):
    data = geotiff_bytes(reflectance_stack(1, height=600, width=600), tiled=True)  # 256² uint16 tiles: 128 KiB
    block = 256 * 256 * 2
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_block_bytes=block))
    with open_bytes(data) as dataset:
        assert render_thumbnail(dataset, RenderOptions(thumbnail_size=64, bands=(1,))).width == 64
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_block_bytes=block - 1))
    with pytest.raises(RasterTooLarge) as refused, open_bytes(data) as dataset:
        render_thumbnail(dataset, RenderOptions(thumbnail_size=64, bands=(1,)))
    assert str(refused.value) == (
        "This raster is stored in blocks of 256 x 256 pixels (0 MB each decoded, limit 0 MB): GDAL decodes whole "
        "blocks, so one strip or tile covering the image cannot be read in bounded memory. Save it tiled (e.g. a COG)."
    )


def test_a_thumbnail_of_a_sliver_is_one_pixel_thin():
    assert plan_module.thumbnail_shape(10_000, 10, 64) == (1, 64)
    assert plan_module.thumbnail_shape(10, 10_000, 64) == (64, 1)


def test_the_render_passes_its_deadline_to_the_read(monkeypatch):
    """An expired deadline stops the read itself, not only the encoding after it."""
    outcomes = []
    read_plan = read.read_plan

    def watched(*args, **kwargs):
        try:
            result = read_plan(*args, **kwargs)
        except DeadlineExceeded:
            outcomes.append("stopped")
            raise
        outcomes.append("read")
        return result

    monkeypatch.setattr(read, "read_plan", watched)
    with pytest.raises(DeadlineExceeded), open_bytes(geotiff_bytes(reflectance_stack(3))) as dataset:
        render_thumbnail(dataset, RenderOptions(thumbnail_size=32, bands=(1, 2, 3)), CountingDeadline(allowed=0))
    assert outcomes == ["stopped"]


def test_the_floating_point_predictor_weighs_four_times():
    """PREDICTOR=3 decodes at ~120 MB/s whatever the codec: its cost weight is x4."""
    values = np.random.default_rng(0).random((1, 64, 64)).astype("float32")
    with open_bytes(geotiff_bytes(values, compress="deflate", predictor=3)) as dataset:
        assert plan_module.codec_weight(dataset) == ("DEFLATE", 4)
    with open_bytes(geotiff_bytes(values, compress="deflate")) as dataset:
        assert plan_module.codec_weight(dataset) == ("DEFLATE", 1)


def test_the_overview_threshold_follows_the_resampling():
    """GDAL's rule: nearest takes an overview up to 1.2x coarser than asked, other methods up to 1.01x
    (planted: plan_read's first choose_level without the resampling -> nearest reads the full image)."""
    data = geotiff_bytes(reflectance_stack(1, height=1000, width=1000), tiled=True, overviews=(2,))
    # 550 px from 1000: 1.82 source pixels per output pixel; the overview has 2.
    assert plan_for(data, size=550, resampling=Resampling.nearest).level.index == 0
    assert plan_for(data, size=550, resampling=Resampling.average).level.index is None


def test_the_refusal_gives_the_mask_in_gigabytes(monkeypatch):
    """5,000,000 mask bytes print as 0.01 GB (planted: dividing by 1,000,000,001 -> 0.00 GB)."""
    data = write_tiff(
        [
            Ifd(5000, 1000, tile=None, rows_per_strip=1, tags=geo_tags()),
            Ifd(5000, 1000, dtype="bit", tile=None, rows_per_strip=1, subfile_type=MASK),
        ]
    )
    plan = plan_for(data)
    assert plan.mask is not None and plan.mask.decoded_bytes == 5_000_000
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_read_bytes=1))
    with pytest.raises(RasterTooLarge, match=r"0\.01 GB of mask"):
        plan_module.check_plan(plan)


def test_the_refusal_names_the_overview_it_would_decode_and_its_pixels_in_gigabytes(monkeypatch):
    """The plan's 5000 x 1000 uint8 overview: 5,000,000 bytes print as 0.01 GB (dividing by 1,000,000,001
    would print 0.00), and no mask as 0.00 GB."""
    data = write_tiff(
        [
            Ifd(10000, 2000, dtype="uint8", tags=geo_tags()),
            Ifd(5000, 1000, dtype="uint8", tile=None, rows_per_strip=1, subfile_type=REDUCED),
        ]
    )
    plan = plan_for(data, size=1000)
    assert (plan.level.index, plan.values.decoded_bytes, plan.mask) == (0, 5_000_000, None)
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_read_bytes=1))
    with pytest.raises(RasterTooLarge) as refused:
        plan_module.check_plan(plan)
    assert str(refused.value).startswith(
        "Rendering this raster would decode its 5000 x 1000 overview: 0.01 GB of pixels (1 band(s) in 1,000 "
        "blocks), 0.00 GB of mask, DEFLATE compression"
    )


def test_the_pixel_budget_per_band_is_inclusive(monkeypatch):
    plan = plan_for(write_tiff([Ifd(5000, 1000, dtype="uint8", tags=geo_tags())]))
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_read_pixels=5_000_000))
    plan_module.check_plan(plan)  # exactly at the budget
    monkeypatch.setattr(plan_module, "LIMITS", type(plan_module.LIMITS)(max_read_pixels=4_999_999))
    with pytest.raises(RasterTooLarge):
        plan_module.check_plan(plan)


def test_overviews_are_probed_coarsest_first_skipping_those_too_coarse():
    """1000 px from 4096: the 256² overview (x16) is too coarse and skipped unopened, the 1024² one (x4) is
    the coarsest GDAL's rule accepts, the 2048² one (x2) would be finer than needed."""
    data = write_tiff(
        [Ifd(4096, 4096, tags=geo_tags())]
        + [Ifd(side, side, subfile_type=REDUCED, blob=ONES) for side in (2048, 1024, 256)]
    )
    assert plan_for(data, size=1000).level.index == 1
    assert plan_for(data, size=200).level.index == 2


@pytest.mark.parametrize(
    ("size", "nearest", "average"), [(1034, 0, 0), (1035, 0, None), (1228, 0, None), (1229, None, None)]
)
def test_the_overview_thresholds_at_their_bounds(size, nearest, average):
    """A 1024² overview of 4096² (x4) is taken while x4 is below 4096 / size times 1.2 (nearest) or 1.01."""
    data = write_tiff([Ifd(4096, 4096, tags=geo_tags()), Ifd(1024, 1024, subfile_type=REDUCED, blob=ONES)])
    assert plan_for(data, size=size, resampling=Resampling.nearest).level.index == nearest
    assert plan_for(data, size=size, resampling=Resampling.average).level.index == average


@pytest.mark.parametrize(
    ("overview", "used"),
    [
        ((1024, 1024), True),
        ((1024, 1025), True),  # one pixel of rounding
        ((1025, 1024), True),
        ((1024, 1026), False),
        ((1026, 1024), False),
        ((4096, 4096), True),  # as large as the image: usable (factor 1)
        ((4097, 4096), False),  # larger than the image
        ((4096, 4097), False),
    ],
)
def test_an_overview_is_consistent_within_one_pixel_of_rounding_and_no_larger_than_the_image(overview, used):
    width, height = overview
    data = write_tiff([Ifd(4096, 4096, tags=geo_tags()), Ifd(width, height, subfile_type=REDUCED, blob=ONES)])
    assert plan_for(data, size=64).level.index == (0 if used else None)


def test_the_factor_of_a_non_square_overview_is_that_of_its_more_reduced_side():
    """4000 x 400 to 400 x 41: x10 across, 400 / 41 = x9.76 down, one pixel of rounding from 400 x 40 (at
    x9.76 it would be 390 px wide, 10 off): consistent, and used."""
    data = write_tiff([Ifd(4000, 400, tags=geo_tags()), Ifd(400, 41, subfile_type=REDUCED, blob=ONES)])
    assert plan_for(data, size=64).level.index == 0


def test_an_overview_one_pixel_wide_is_usable():
    """A 16 x 4096 sliver's 1 x 256 overview (x16) serves its 1 x 64 thumbnail."""
    data = write_tiff([Ifd(16, 4096, tags=geo_tags()), Ifd(1, 256, subfile_type=REDUCED, blob=ONES)])
    assert plan_for(data, size=64).level.index == 0


DEADLINE_MESSAGE = (
    "Rendering this scene costs more than the time this request has. Use a COG with internal overviews, a smaller "
    "target_resolution, or the S3 upload flow for large scenes."
)


def test_a_deadline_expires_at_its_instant_and_not_before(monkeypatch):
    from types import SimpleNamespace

    from handler.core import deadline as deadline_module

    monkeypatch.setattr(deadline_module, "time", SimpleNamespace(monotonic=lambda: 1000.0))
    deadline = Deadline.after(2.5)
    assert deadline.expires_at == 1002.5 and deadline.remaining() == 2.5
    monkeypatch.setattr(deadline_module, "time", SimpleNamespace(monotonic=lambda: 1002.0))
    deadline.check()  # half a second left
    assert deadline.remaining() == 0.5
    monkeypatch.setattr(deadline_module, "time", SimpleNamespace(monotonic=lambda: 1002.5))
    with pytest.raises(DeadlineExceeded) as expired:
        deadline.check()
    assert str(expired.value) == expired.value.message == DEADLINE_MESSAGE
    assert Deadline().remaining() == float("inf")


@pytest.mark.parametrize(("size", "opened"), [(29, [0]), (30, [])])
def test_an_overview_that_cannot_pass_is_never_opened(size, opened):
    """84² with a 21² overview (x4), nearest: at 30 px the limit is 84 / 30 x 1.2 = 3.36, exactly may_pass's
    bound for x4 (3.5 x 84 / 87.5), so the overview is not opened; at 29 px (3.48) it is opened, and found too
    coarse. Each open of a /vsis3/ level costs a range request."""
    data = write_tiff([Ifd(84, 84, tags=geo_tags()), Ifd(21, 21, subfile_type=REDUCED, blob=ONES)])
    with open_bytes(data) as dataset, opened_levels(dataset) as levels:
        shape = plan_module.thumbnail_shape(dataset.width, dataset.height, size)
        assert plan_read(levels, (1,), shape, Resampling.nearest).level.index is None
        assert list(levels.opened) == opened


def test_an_overview_one_pixel_tall_is_usable():
    """A 4096 x 16 sliver's 256 x 1 overview (x16) serves its 64 x 1 thumbnail."""
    data = write_tiff([Ifd(4096, 16, tags=geo_tags()), Ifd(256, 1, subfile_type=REDUCED, blob=ONES)])
    assert plan_for(data, size=64).level.index == 0


@pytest.mark.parametrize(
    ("image", "overview", "size"),
    [
        ((1000, 200), (100, 20), 101),  # 101 x 20 px: x 9.90 < y 10, x counts
        ((1000, 306), (125, 38), 126),  # 126 x 39 px: x 7.94 > y 7.85, y counts
        ((10, 5), (3, 1), 3),  # 3 x 2 px: x 3.33 > y 2.5, y counts (two rows are not one)
    ],
)
def test_the_desired_resolution_is_that_of_the_less_reduced_axis(image, overview, size):
    """GDAL's rule: source pixels per output pixel across (x) when smaller or when the output is one row,
    else down (y); the overview (x10, x8, x3.3) is taken one pixel of thumbnail below `size`, not at it."""
    data = write_tiff([Ifd(*image, tags=geo_tags()), Ifd(*overview, subfile_type=REDUCED, blob=ONES)])
    assert plan_for(data, size=size - 1).level.index == 0
    assert plan_for(data, size=size).level.index is None


@pytest.mark.parametrize(("image", "overview"), [((1000, 306), (125, 38)), ((306, 1000), (38, 125))])
def test_an_overview_is_taken_when_its_smaller_axis_factor_is_under_the_limit(monkeypatch, image, overview):
    """Factors 8.0 on one axis and 8.05 on the other: GDAL compares the smaller, so a limit of 8.02 takes
    the overview whichever axis is the less reduced."""
    from handler.core import levels as levels_module

    monkeypatch.setattr(levels_module, "desired_resolution", lambda dataset, shape: 8.02 / 1.01)
    data = write_tiff([Ifd(*image, tags=geo_tags()), Ifd(*overview, subfile_type=REDUCED, blob=ONES)])
    assert plan_for(data, size=130).level.index == 0


def test_average_reads_straight_to_a_thumbnail_over_the_minimum_side():
    """GDAL's average over the decimation window is the kernel itself: no larger intermediate once the
    thumbnail is over MIN_READ_SIDE (a cubic read still gets one)."""
    data = write_tiff([Ifd(4096, 4096, tags=geo_tags())])
    plan = plan_for(data, size=512)
    assert (plan.read_shape, plan.kernel) == ((512, 512), None)
    assert plan_for(data, size=512, resampling=Resampling.cubic).read_shape == (1024, 1024)
