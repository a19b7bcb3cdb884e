"""Chunked reads run in as many threads as the process has CPUs (handler/core/read.py): each thread reads
through its own dataset handle, the pixels are those of one GDAL call, and a read error or an expired
deadline in any thread reaches the caller (GDAL's own worker threads lose read errors).

Planted bugs: `read_run` swallowing its exception -> test_a_read_error_in_any_thread_is_raised;
`handles` returning the shared handle `count` times -> test_each_thread_reads_through_its_own_handle;
`read_plan` passing 1 instead of the thread count -> test_the_thread_count_follows_the_cpus;
`read_chunks` called without the thread count -> test_each_threads_share_of_the_block_cache_decides_the_chunks;
a default-sized thread pool -> test_every_reader_runs_at_once_in_its_own_thread."""

import threading

import numpy as np
import pytest
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.windows import Window

from handler.core import open_bytes, read
from handler.core.deadline import NO_DEADLINE, Deadline
from handler.core.errors import DeadlineExceeded, UnreadableRaster
from handler.core.levels import OpenLevels, opened_levels
from handler.core.plan import plan_read
from tests.deadlines import CountingDeadline
from tests.rasters import geotiff_bytes, profile, reflectance_stack

# 4 bands of 1024 x 768 in 256² tiles: with a 1 MB block cache, a dozen chunks or more.
SCENE = geotiff_bytes(
    reflectance_stack(4, height=1024, width=768), tiled=True, blockxsize=256, blockysize=256, interleave="pixel"
)


@pytest.fixture
def small_cache(monkeypatch):
    monkeypatch.setenv("GDAL_CACHEMAX", "1")


def read_with(
    monkeypatch, threads: int, data: bytes = SCENE, resampling=Resampling.nearest, deadline: Deadline | None = None
):
    monkeypatch.setattr(read, "core_threads", lambda: threads)
    with open_bytes(data) as dataset:
        return read.read_bands(dataset, (3, 2, 1), (400, 300), resampling, *([deadline] if deadline else []))


@pytest.mark.parametrize("resampling", [Resampling.nearest, Resampling.average])
def test_threads_draw_the_pixels_of_one_gdal_call(monkeypatch, small_cache, resampling):
    threaded = read_with(monkeypatch, 3, resampling=resampling)
    monkeypatch.setattr(read, "read_chunks", lambda *args: None)
    single = read_with(monkeypatch, 1, resampling=resampling)
    assert np.array_equal(threaded.valid, single.valid)
    tolerance = 0.0 if resampling == Resampling.nearest else 1.0  # fractional window edges
    assert np.abs(threaded.values - single.values).max() <= tolerance


def handle_counts(monkeypatch) -> list[int]:
    """The thread counts OpenLevels.handles is asked for, in order (each read asks once)."""
    counts = []
    real = OpenLevels.handles

    def counted(self, index, count):
        counts.append(count)
        return real(self, index, count)

    monkeypatch.setattr(OpenLevels, "handles", counted)
    return counts


def test_the_thread_count_follows_the_cpus(monkeypatch, small_cache):
    counts = handle_counts(monkeypatch)
    read_with(monkeypatch, 3)
    read_with(monkeypatch, 1)
    assert counts == [3, 1]


def test_each_thread_reads_through_its_own_handle():
    with open_bytes(SCENE) as dataset, opened_levels(dataset) as levels:
        handles = levels.handles(None, 3)
        assert len({id(handle) for handle in handles}) == 3
        assert handles[0] is levels.get(None)
        assert all(handle.shape == dataset.shape and handle.driver == dataset.driver for handle in handles)
        assert all(not handle.closed for handle in handles)
    assert all(handle.closed for handle in handles[1:])  # closed with the levels


def test_every_threads_handle_opens_the_planned_overview():
    data = geotiff_bytes(reflectance_stack(1, height=512, width=512), tiled=True, overviews=(2,))
    with open_bytes(data) as dataset, opened_levels(dataset) as levels:
        assert [handle.shape for handle in levels.handles(0, 3)] == [(256, 256)] * 3


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_read_error_in_any_thread_is_raised(monkeypatch, small_cache, threads):
    truncated = SCENE[: int(len(SCENE) * 0.8)]  # the header is whole; the last rows' tiles are missing
    with pytest.raises(UnreadableRaster):
        read_with(monkeypatch, threads, data=truncated)


def test_an_expired_deadline_in_a_thread_stops_every_thread(monkeypatch, small_cache):
    with open_bytes(SCENE) as dataset, opened_levels(dataset) as levels:
        plan = plan_read(levels, (3, 2, 1), (400, 300), Resampling.nearest)
        chunks = read.read_chunks(plan.values, plan.read_shape, plan.weight, 2)
    assert len(chunks) >= 12
    deadline = CountingDeadline(allowed=3)
    with pytest.raises(DeadlineExceeded):
        read_with(monkeypatch, 2, deadline=deadline)
    # One check before the threads start, then at most a chunk or two per thread past the expiry.
    assert deadline.checks <= 3 + 2 + 2 < len(chunks)


def test_each_threads_share_of_the_block_cache_decides_the_chunks(monkeypatch):
    """The level's 12 blocks of 512 KiB (6 MiB) fit an 8 MB block cache read by one thread, but not the
    4 MB share of each of two threads: two threads read it in chunks, two handles; one reads it in one call."""
    monkeypatch.setenv("GDAL_CACHEMAX", "8")
    counts = handle_counts(monkeypatch)
    read_with(monkeypatch, 2)
    read_with(monkeypatch, 1)
    assert counts == [2, 1]


def test_every_reader_runs_at_once_in_its_own_thread():
    """40 readers, more than a default thread pool runs (at most 32): each waits until all 40 are reading,
    so a pool with fewer threads than readers times out instead of filling the output."""
    readers = 40
    barrier = threading.Barrier(readers, timeout=5)

    def reader(window, out_shape):
        barrier.wait()
        return np.full(out_shape, int(window.row_off) + 1, np.uint16)

    chunks = [(Window(0, row, 1, 1), slice(row, row + 1), slice(0, 1)) for row in range(readers)]
    out = read._read_chunked([reader] * readers, (), (readers, 1), chunks, "float32", NO_DEADLINE)
    assert out.dtype == np.float32 and out[:, 0].tolist() == list(range(1, readers + 1))


@pytest.mark.parametrize("threads", [1, 2])
def test_the_mask_is_read_as_one_byte_per_pixel(monkeypatch, threads):
    """The plan counts the mask at 1 byte per pixel: it is read as uint8 (0 invalid, 255 valid), in one
    call or in chunks."""
    monkeypatch.setenv("GDAL_CACHEMAX", "8")
    monkeypatch.setenv("GDAL_TIFF_INTERNAL_MASK", "YES")
    mask = np.full((1024, 768), 255, np.uint8)
    mask[:512] = 0
    with MemoryFile() as memfile:
        tiles = {"tiled": True, "blockxsize": 256, "blockysize": 256, "interleave": "pixel"}
        with memfile.open(**profile(4, "uint16", 768, 1024, **tiles)) as dst:
            dst.write(reflectance_stack(4, height=1024, width=768))
            dst.write_mask(mask)
        with open_bytes(memfile.read()) as dataset, opened_levels(dataset) as levels:
            plan = plan_read(levels, (3, 2, 1), (400, 300), Resampling.nearest)
            chunks = read.read_chunks(plan.values, plan.read_shape, plan.weight, threads)
            assert (chunks is None) == (threads == 1)
            sources = levels.handles(plan.level.index, 1 if chunks is None else threads)
            masks = read._read_mask(sources, plan, chunks, NO_DEADLINE)
    assert masks.dtype == np.uint8 and masks.shape == (400, 300)
    assert masks[:200].max() == 0 and masks[200:].min() == 255
