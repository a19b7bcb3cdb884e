"""The benchmarks' inputs: the real Sentinel-2 files, and synthetic 12-band scenes built once and cached
(a COG and the same scene without overviews; bench/lambda_bench.py reads the 10980 pair too)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import CACHE_DIR, log

SOURCE_GLOB = "bigearthnet_*_12band_10m.tif"
SCENE_VERSION = 1  # bump when the synthetic scene recipe changes (invalidates the cache)
SIDES = (5490, 10980)


def synthetic_paths(cache: Path = CACHE_DIR, side: int = 10980, interleave: str = "pixel") -> tuple[Path, Path]:
    """(COG, the same scene without overviews) of a synthetic side x side scene in `cache`."""
    stem = f"synthetic_v{SCENE_VERSION}_{side}_{interleave}"
    return cache / f"{stem}_cog.tif", cache / f"{stem}_no_overviews.tif"


def synthetic_source(data_dir: Path) -> Path | None:
    """The 120x120 12-band real file the synthetic scenes are tiled from; None when it is absent."""
    sources = sorted(data_dir.glob(SOURCE_GLOB)) if data_dir.is_dir() else []
    return sources[0] if sources else None


def build_synthetic(source: Path, cache: Path, side: int, interleave: str) -> tuple[Path, Path]:
    """Tile the 120x120 12-band file to side x side, block window by block window (bounded RAM):
    a tiled 512x512 deflate+predictor-2 GeoTIFF without overviews, and a COG of it with average
    overviews (2, 4, 8, ... down to < 512 px: 2..32 for 10980)."""
    import numpy as np
    import rasterio
    from rasterio.shutil import copy as rio_copy
    from rasterio.transform import Affine
    from rasterio.windows import Window

    cache.mkdir(parents=True, exist_ok=True)
    cog, plain = synthetic_paths(cache, side, interleave)
    with rasterio.Env(GDAL_CACHEMAX=256, GDAL_NUM_THREADS=2):
        if not plain.exists():
            t0 = time.perf_counter()
            with rasterio.open(source) as src:
                tile = src.read()
                profile = {"crs": src.crs, "transform": src.transform}
            count, th, tw = tile.shape
            origin = profile["transform"]
            tmp = plain.with_suffix(".tmp.tif")
            with rasterio.open(
                tmp,
                "w",
                driver="GTiff",
                width=side,
                height=side,
                count=count,
                dtype=tile.dtype,
                crs=profile["crs"],
                transform=Affine(origin.a, 0, origin.c, 0, origin.e, origin.f),
                tiled=True,
                blockxsize=512,
                blockysize=512,
                compress="deflate",
                predictor=2,
                interleave=interleave,
                BIGTIFF="IF_SAFER",
                NUM_THREADS=2,
            ) as dst:
                for row in range(0, side, 512):
                    rows = np.arange(row, min(row + 512, side)) % th
                    for col in range(0, side, 512):
                        cols = np.arange(col, min(col + 512, side)) % tw
                        block = tile[:, rows[:, None], cols[None, :]]
                        dst.write(block, window=Window(col, row, len(cols), len(rows)))
            tmp.rename(plain)
            log(f"  built {plain} ({plain.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s")
        if not cog.exists():
            t0 = time.perf_counter()
            tmp = cog.with_suffix(".tmp.tif")
            rio_copy(
                str(plain),
                str(tmp),
                driver="COG",
                BLOCKSIZE=512,
                COMPRESS="DEFLATE",
                PREDICTOR="YES",
                OVERVIEW_RESAMPLING="AVERAGE",
                INTERLEAVE=interleave.upper(),
                NUM_THREADS=2,
                BIGTIFF="IF_SAFER",
            )
            tmp.rename(cog)
            with rasterio.open(cog) as ds:
                log(
                    f"  built {cog} ({cog.stat().st_size / 1e6:.0f} MB, overviews {ds.overviews(1)}) "
                    f"in {time.perf_counter() - t0:.0f} s"
                )
    return cog, plain


def thumbnail_shape(width: int, height: int, size: int) -> tuple[int, int]:
    # Same rule as handler.core.read.thumbnail_shape, duplicated so peers do not import our core.
    if width >= height:
        return max(1, round(size * height / width)), size
    return size, max(1, round(size * width / height))


def bench_driver(path: str) -> str:
    """The GDAL driver our service would choose from the magic bytes; the bench's inputs are named for
    their format, and a /vsis3/ path cannot be read before GDAL opens it."""
    from handler.core.safe_open import GTIFF_DRIVER, JP2_DRIVER

    return JP2_DRIVER if path.lower().endswith((".jp2", ".j2k")) else GTIFF_DRIVER


@dataclass
class Input:
    """One benchmark input: what the peers are asked to draw from it, and their results."""

    label: str
    path: str
    indexes: tuple[int, ...]
    in_max: float
    shape: tuple[int, int]
    size_mb: float
    overviews: list[int]
    results: dict = field(default_factory=dict)  # method -> a worker's result
    pairs: dict = field(default_factory=dict)  # resampling -> interleaved ours/floor/rio-tiler worker's result


def describe_input(label: str, path: str, size: int, size_mb: float | None = None) -> Input:
    """Bands our default picks, and the DN that maps to white (so peers rescale the same way)."""
    from handler.core import RenderOptions, open_path
    from handler.core.bands import select_bands
    from handler.core.sentinel2 import dataset_radiometry

    options = RenderOptions(thumbnail_size=size)
    with open_path(path, bench_driver(path)) as ds:
        indexes, _ = select_bands(ds, options)
        radiometry = dataset_radiometry(ds)
        gain = 1.0 if radiometry.source == "display_uint8" else options.gain
        in_max = round(1.0 / gain / radiometry.scale - radiometry.offset, 3)
        overviews = ds.overviews(1)
        shape = (ds.height, ds.width)
    if size_mb is None:
        size_mb = os.path.getsize(path) / 1e6
    return Input(label, path, tuple(indexes), in_max, shape, size_mb, overviews)


def gather_inputs(
    data_dir: Path, cache_dir: Path, size: int, interleave: str, synthetic: bool = True, large_plain: bool = True
) -> tuple[list[Input], list[str]]:
    """Every real file in `data_dir`, then the synthetic 5490 and 10980 scenes (built if not cached): each
    COG, and each scene without overviews (the 10980 one only with `large_plain`); notes on what was
    skipped."""
    inputs, notes = [], []
    if data_dir.is_dir():
        inputs += [describe_input(path.name, str(path), size) for path in sorted(data_dir.glob("*.tif"))]
    else:
        log(f"SKIP real files: {data_dir} does not exist.")
        notes.append(f"Real Sentinel-2 files skipped: {data_dir} is absent.")
    if not synthetic:
        return inputs, notes
    source = synthetic_source(data_dir)
    if source is None:
        log(f"SKIP synthetic scenes: no {SOURCE_GLOB} in {data_dir}.")
        notes.append("Synthetic scenes skipped: the 12-band source file is absent.")
        return inputs, notes
    for side in SIDES:
        log(f"synthetic {side}x{side} ({interleave}-interleaved) in {cache_dir}")
        cog, plain = build_synthetic(source, cache_dir, side, interleave)
        inputs.append(describe_input(f"synthetic {side} COG", str(cog), size))
        if large_plain or side != SIDES[-1]:
            inputs.append(describe_input(f"synthetic {side} no overviews", str(plain), size))
    notes.append(
        f"Synthetic scenes: the 120x120 12-band BigEarthNet tile repeated to NxN, uint16, "
        f"{interleave}-interleaved, 512x512 deflate+predictor 2; cached in {cache_dir}."
    )
    return inputs, notes
