"""Chunked reads run in as many threads as the process has CPUs (handler/core/read.py): each thread reads
through its own dataset handle, the pixels are those of one GDAL call, and a read error or an expired
deadline in any thread reaches the caller (GDAL's own worker threads lose read errors).

Planted bugs: `read_run` swallowing its exception -> test_a_read_error_in_any_thread_is_raised;
`handles` returning the shared handle `count` times -> test_each_thread_reads_through_its_own_handle;
`read_plan` passing 1 instead of the thread count -> test_the_thread_count_follows_the_cpus."""

import numpy as np
import pytest
from rasterio.enums import Resampling

from handler.core import open_bytes, read
from handler.core.deadline import Deadline
from handler.core.errors import DeadlineExceeded, UnreadableRaster
from handler.core.levels import OpenLevels, opened_levels
from handler.core.plan import plan_read
from tests.deadlines import CountingDeadline
from tests.rasters import geotiff_bytes, reflectance_stack

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


def test_the_thread_count_follows_the_cpus(monkeypatch, small_cache):
    counts = []
    real = OpenLevels.handles

    def counted(self, index, count):
        counts.append(count)
        return real(self, index, count)

    monkeypatch.setattr(OpenLevels, "handles", counted)
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
