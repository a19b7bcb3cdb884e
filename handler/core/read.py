"""Decimated reads that follow a read plan (`plan.py`): only the needed bands, from the planned level."""

import functools
import math
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from handler.core.deadline import NO_DEADLINE, Deadline
from handler.core.errors import UnreadableRaster
from handler.core.levels import OpenLevels, opened_levels
from handler.core.plan import LevelRead, ReadPlan, check_plan, plan_read
from handler.core.spans import span
from handler.core.threads import core_threads


@dataclass(frozen=True)
class BandData:
    """float32 band values (bands, rows, cols) and where they are valid (rows, cols)."""

    values: np.ndarray
    valid: np.ndarray


def _block_cache_bytes() -> int:
    """GDAL_CACHEMAX in bytes (GDAL reads values below 100000 as megabytes); 64 MB if unparsable."""
    value = os.environ.get("GDAL_CACHEMAX", "64").strip()
    if not value.isdigit():
        return 64 * 1024 * 1024
    return int(value) * 1024 * 1024 if int(value) < 100_000 else int(value)


Chunk = tuple[Window, slice, slice]


def read_chunks(read: LevelRead, shape: tuple[int, int], weight: int, workers: int = 1) -> list[Chunk] | None:
    """Output tiles, and the fractional windows of the level they come from, when one GDAL call would
    not be bounded; None when one call is fine.

    In one call GDAL walks the output row by row (nearest) or band by band (average), so once the
    blocks in play outgrow the block cache it decodes each block again and again (minutes instead of
    seconds for a 12-band 10980² file without overviews), and it cannot be interrupted: each window here touches
    blocks that fit the cache's share of one of `workers` threads, `weight` times fewer for slow codecs
    so that the deadline is checked about every 0.1 s. The pixels are identical because windows start
    and end on output pixel edges.
    """
    budget = _block_cache_bytes() // weight // workers
    if read.blocks * read.block_bytes <= budget:
        return None
    level, fit = read.level, max(1, budget // read.block_bytes)
    block_rows, block_cols = level.block_shape
    side_c = min(math.ceil(level.width / block_cols), max(1, math.isqrt(fit) - 1))
    side_r = max(1, fit // (side_c + 1) - 1)
    rows, cols = shape
    step_r = max(1, side_r * block_rows * rows // level.height)
    step_c = max(1, side_c * block_cols * cols // level.width)
    if step_r >= rows and step_c >= cols:
        return None
    y_scale, x_scale = level.height / rows, level.width / cols
    chunks = []
    for r0 in range(0, rows, step_r):
        r1 = min(rows, r0 + step_r)
        for c0 in range(0, cols, step_c):
            c1 = min(cols, c0 + step_c)
            window = Window(c0 * x_scale, r0 * y_scale, (c1 - c0) * x_scale, (r1 - r0) * y_scale)
            chunks.append((window, slice(r0, r1), slice(c0, c1)))
    return chunks


def _read_chunked(
    reads: Sequence[Callable[..., np.ndarray]],
    lead: tuple[int, ...],
    shape: tuple[int, int],
    chunks: list[Chunk] | None,
    dtype: str,
    deadline: Deadline,
) -> np.ndarray:
    """`reads[0](out_shape=...)` in one call, or chunk by chunk into one array of `dtype`, the chunks
    split into contiguous runs, one per reader, each reader (its own dataset handle) in its own thread.

    Each thread checks `deadline` before each chunk and stops once another has failed; the first error
    is raised here, in the caller's thread. (GDAL's own worker threads, GDAL_NUM_THREADS, would lose a
    read error: a truncated file would render as a partial picture.) Reads come in the file's own dtype
    and numpy converts them: GDAL's own conversion to float32 (`out_dtype`) was slower."""
    deadline.check()
    if chunks is None:
        return reads[0](out_shape=(*lead, *shape)).astype(dtype, copy=False)
    out = np.empty((*lead, *shape), dtype=dtype)
    failed = threading.Event()

    def read_run(read: Callable[..., np.ndarray], run: list[Chunk]) -> None:
        try:
            for window, rows, cols in run:
                if failed.is_set():
                    return
                deadline.check()
                out[..., rows, cols] = read(
                    window=window, out_shape=(*lead, rows.stop - rows.start, cols.stop - cols.start)
                )
        except BaseException:
            failed.set()
            raise

    count = len(reads)
    runs = [chunks[len(chunks) * i // count : len(chunks) * (i + 1) // count] for i in range(count)]
    if count == 1:
        read_run(reads[0], runs[0])
        return out
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(read_run, read, run) for read, run in zip(reads, runs)]
    for future in futures:
        future.result()
    return out


def _read_mask(
    sources: list[DatasetReader], plan: ReadPlan, chunks: list[Chunk] | None, deadline: Deadline
) -> np.ndarray | None:
    """The planned mask read (uint8, 0 = invalid) at `plan.read_shape`, through the planned level."""
    if plan.mask is None:
        return None
    band = plan.indexes[0]
    reads = [functools.partial(source.read_masks, band, resampling=Resampling.nearest) for source in sources]
    return _read_chunked(reads, (), plan.read_shape, chunks, "uint8", deadline)


def _holds(dtype: np.dtype, value: float) -> bool:
    """Whether `dtype` can hold `value` exactly enough to compare (NaN only in floating types)."""
    if np.dtype(dtype).kind == "f":
        return math.isnan(value) or abs(value) <= float(np.finfo(dtype).max)
    info = np.iinfo(dtype)
    return not math.isnan(value) and int(info.min) <= value <= int(info.max)


def _apply_kernel(values: np.ndarray, shape: tuple[int, int], kernel: Resampling, nodata: float | None) -> np.ndarray:
    """Resample the bounded intermediate `values` to `shape` with `kernel`, in memory (GDAL's MEM driver,
    so the kernel and its nodata handling are GDAL's own). A nodata the intermediate's dtype cannot
    hold (a uint16 file declaring -1) matches no pixel, so it is left out."""
    bands, rows, cols = values.shape
    if nodata is not None and not _holds(values.dtype, nodata):
        nodata = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(
            "", "w+", driver="MEM", count=bands, width=cols, height=rows, dtype=values.dtype, nodata=nodata
        ) as memory:
            memory.write(values)
            return memory.read(out_shape=(bands, *shape), resampling=kernel)


def _intermediate_dtype(dtype: str) -> str:
    """8- and 16-bit integers stay as they are in the intermediate (half of float32's memory: 4096² x 3
    bands is the largest); wider types become float32."""
    return dtype if np.dtype(dtype).kind in "iu" and np.dtype(dtype).itemsize <= 2 else "float32"


def _nearest(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """`mask` resized to `shape` by picking the pixel under each output pixel's centre."""
    rows = ((np.arange(shape[0]) + 0.5) * mask.shape[0] / shape[0]).astype(int)
    cols = ((np.arange(shape[1]) + 0.5) * mask.shape[1] / shape[1]).astype(int)
    return mask[np.ix_(rows, cols)]


def _validity(dataset: DatasetReader, values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Valid pixels: not NaN, and the file's own mask/alpha band where it has one, or else not nodata
    (declared, or Sentinel-2's 0 in every band)."""
    valid = ~np.isnan(values).any(axis=0)
    if mask is not None:
        return valid & (mask > 0)
    nodata = dataset.nodata if dataset.nodata is not None else 0
    if not np.isnan(nodata) and _holds(values.dtype, nodata):  # float32 cannot equal 1e300
        valid &= ~(values == nodata).all(axis=0)
    return valid


def read_plan(levels: OpenLevels, plan: ReadPlan, deadline: Deadline = NO_DEADLINE) -> BandData:
    """Execute `plan`: its level only, chunked when one GDAL call would not be bounded (the chunks read
    by as many threads as the process has CPUs), then its kernel."""
    dataset, workers = levels.dataset, core_threads()
    chunks = read_chunks(plan.values, plan.read_shape, plan.weight, workers)
    sources = levels.handles(plan.level.index, 1 if chunks is None else min(workers, len(chunks)))
    dtype = "float32" if plan.kernel is None else _intermediate_dtype(dataset.dtypes[plan.indexes[0] - 1])
    reads = [functools.partial(source.read, plan.indexes, resampling=plan.method) for source in sources]
    values = _read_chunked(reads, (len(plan.indexes),), plan.read_shape, chunks, dtype, deadline)
    mask = _read_mask(sources, plan, chunks, deadline)
    if plan.kernel is not None:
        deadline.check()
        values = _apply_kernel(values, plan.shape, plan.kernel, dataset.nodata).astype("float32", copy=False)
        mask = None if mask is None else _nearest(mask, plan.shape)
    return BandData(values, _validity(dataset, values, mask))


def read_bands(
    dataset: DatasetReader,
    indexes: tuple[int, ...],
    shape: tuple[int, int],
    resampling: Resampling,
    deadline: Deadline = NO_DEADLINE,
) -> BandData:
    """Read `indexes` resampled to `shape` within the read budget (never the full-resolution stack
    when overviews exist)."""
    try:
        with opened_levels(dataset) as levels:
            plan = plan_read(levels, indexes, shape, resampling)
            check_plan(plan)
            with span("read"):
                return read_plan(levels, plan, deadline)
    except RasterioError as exc:
        raise UnreadableRaster("The file's pixel data could not be decoded (corrupt or truncated).") from exc
