"""The resolution levels of a raster (the full image and its overviews) with their true sizes, GDAL's
choice among them, and opening exactly one of them.

rasterio reports an overview only as a factor derived from its width; a hostile file can hold an
overview reduced in one axis only, or larger than the image. Those are treated as absent: the plan
never picks one, and `open_level` opens the chosen level alone (GDAL's OVERVIEW_LEVEL=<k>only, or
NONE for the full image), so GDAL cannot pick one either.
"""

from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Iterator

import rasterio
from rasterio.enums import Resampling
from rasterio.io import DatasetReader

# GDAL's GDALBandGetBestOverviewLevel2: an overview is used when its resolution (source pixels per
# overview pixel, on its least reduced axis) is below the requested one times this threshold
# (GDAL_OVERVIEW_OVERSAMPLING_THRESHOLD's defaults: 1.2 for nearest, 1.0 plus GDAL's 0.01 otherwise).
OVERSAMPLING_THRESHOLD = {Resampling.nearest: 1.2}
DEFAULT_THRESHOLD = 1.01


@dataclass(frozen=True)
class Level:
    """The full image (`index` None) or overview `index`, with its true size and block shape."""

    index: int | None
    width: int
    height: int
    block_shape: tuple[int, int]  # (rows, cols)


def full_level(dataset: DatasetReader, band: int) -> Level:
    """The full-resolution image as a level."""
    return Level(None, dataset.width, dataset.height, dataset.block_shapes[band - 1])


@contextmanager
def open_level(dataset: DatasetReader, index: int | None, own_handle: bool = False) -> Iterator[DatasetReader]:
    """`dataset` when it is the level (full image, no overviews), else that level opened on its own;
    always a new handle with `own_handle` (a GDAL dataset must not be read from two threads at once)."""
    if index is None and not dataset.overviews(1) and not own_handle:
        yield dataset
        return
    with rasterio.open(
        dataset.name,
        driver=dataset.driver,  # the driver the allow-list admitted
        overview_level="NONE" if index is None else f"{index}only",
    ) as level:
        yield level


@dataclass
class OpenLevels:
    """The levels of one dataset opened so far, each at most once per request: reopening a /vsis3/
    object costs a range request for its header."""

    dataset: DatasetReader
    stack: ExitStack
    opened: dict[int | None, DatasetReader] = field(default_factory=dict)

    def get(self, index: int | None) -> DatasetReader:
        if index not in self.opened:
            self.opened[index] = self.stack.enter_context(open_level(self.dataset, index))
        return self.opened[index]

    def handles(self, index: int | None, count: int) -> list[DatasetReader]:
        """`count` handles of one level for `count` threads: the shared one and `count - 1` of their own."""
        extra = [self.stack.enter_context(open_level(self.dataset, index, own_handle=True)) for _ in range(count - 1)]
        return [self.get(index), *extra]


@contextmanager
def opened_levels(dataset: DatasetReader) -> Iterator[OpenLevels]:
    """Levels of `dataset` for planning and reading one render, closed at the end."""
    with ExitStack() as stack:
        yield OpenLevels(dataset, stack)


def consistent(dataset: DatasetReader, width: int, height: int) -> bool:
    """An overview is usable when it is no larger than the image and both sides are the image's divided
    by the same factor (within the one pixel of rounding GDAL and other writers apply)."""
    if not (1 <= width <= dataset.width and 1 <= height <= dataset.height):
        return False
    factor = max(dataset.width / width, dataset.height / height)
    return abs(width - dataset.width / factor) <= 1 and abs(height - dataset.height / factor) <= 1


def desired_resolution(dataset: DatasetReader, shape: tuple[int, int]) -> float:
    """Source pixels per output pixel on the least reduced axis, as GDAL computes it."""
    rows, cols = shape
    x, y = dataset.width / cols, dataset.height / rows
    return x if x < y or rows == 1 else y


def may_pass(factor: int, height: int, limit: float) -> bool:
    """Whether an overview rasterio reports at width `factor` (rounded: the true factor is at least
    factor - 0.5) can be consistent and below `limit`: if the height is reduced less than the width,
    consistency still bounds its factor from below by fx * h / (h + fx)."""
    low = factor - 0.5
    return low * height / (height + low) < limit


def choose_level(levels: OpenLevels, band: int, shape: tuple[int, int], resampling: Resampling) -> Level:
    """The coarsest consistent level GDAL's own rule accepts for reading `shape` (the full image when
    none does). Overviews are probed coarsest first; those that cannot pass are never opened."""
    dataset = levels.dataset
    limit = desired_resolution(dataset, shape) * OVERSAMPLING_THRESHOLD.get(resampling, DEFAULT_THRESHOLD)
    factors = dataset.overviews(band)
    for index in sorted(range(len(factors)), key=lambda i: -factors[i]):
        if not may_pass(factors[index], dataset.height, limit):
            continue
        level = levels.get(index)
        width, height = level.width, level.height
        if consistent(dataset, width, height) and min(dataset.width / width, dataset.height / height) < limit:
            return Level(index, width, height, level.block_shapes[band - 1])
    return full_level(dataset, band)
