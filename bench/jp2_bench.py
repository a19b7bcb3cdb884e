"""JPEG 2000 benchmark: thumbnails of Sentinel-2's own JP2 files, on disk and read in place from S3.

Inputs, built once into the bench cache from the real pixels (tests/products.py encoders, ESA's layout:
1024² tiles, 5 decomposition levels):
- the L2A TCI at 1098² (uint8 RGB, lossy, as ESA ships TCI);
- a 10980² B04 band (uint16, lossless: the 100 m band upsampled to the 10 m grid), a full tile's size.
For each, every method in a fresh worker (thumbnail_bench's workers and GDAL settings): on disk, and
through /vsis3/ from moto on 127.0.0.1 behind a byte-counting proxy (one cold run per method).

    python -m bench.jp2_bench
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bench import thumbnail_bench as tb

RESULTS = Path(__file__).resolve().parent / "RESULTS-jp2.md"
METHODS = ("ours_average", "ours_nearest", "riotiler_average", "riotiler_nearest")
FULL_TILE = 10980


def build_inputs(cache: Path) -> list[Path]:
    """The TCI and the full-tile band JP2s, encoded once from the real pixels."""
    from tests.products import BAND_JP2_NAME, TCI_JP2_NAME, bands_scene, jp2_bytes, tci_jp2

    cache.mkdir(parents=True, exist_ok=True)
    tci, band = cache / TCI_JP2_NAME, cache / BAND_JP2_NAME
    if not tci.exists():
        tci.write_bytes(tci_jp2())
    if not band.exists():
        scene = bands_scene(FULL_TILE // 10)
        b04 = np.repeat(np.repeat(scene.data[2:3], 10, axis=1), 10, axis=2)
        tb.log(f"  encoding {band.name} ({FULL_TILE}², lossless; about a minute)")
        band.write_bytes(jp2_bytes(b04, scene.transform * scene.transform.scale(0.1), scene.crs))
    return [tci, band]


def measure(inp: tb.Input, env: dict, args: argparse.Namespace) -> dict[str, dict]:
    """Each method on disk, then one cold run through S3 with the bytes and requests it fetched."""
    results: dict[str, dict] = {}
    for method in METHODS:
        results[method] = {"local": tb.run_worker(method, inp, args, env, repeat=3, warmup=True)}
    with tb.remote_s3(Path(inp.path)) as (extra_env, proxy, vsipath):
        remote = tb.Input(inp.label, vsipath, inp.indexes, inp.in_max, inp.shape, inp.size_mb, inp.overviews)
        for method in METHODS:
            proxy.reset()
            result = tb.run_worker(method, remote, args, {**env, **extra_env}, repeat=1, warmup=False)
            results[method]["s3"] = {**result, "bytes": proxy.bytes, "requests": proxy.requests}
    return results


def row(label: str, method: str, result: dict) -> str:
    local, s3 = result["local"], result["s3"]
    if "error" in local or "error" in s3:
        return f"| {label} | {tb.METHOD_LABEL[method]} | {local.get('error', '')} {s3.get('error', '')} | | | |"
    return (f"| {label} | {tb.METHOD_LABEL[method]} | {tb.fmt_s(local['median_s'])} · {tb.fmt_mb(local['peak_mb'])} MB"
            f" | {tb.fmt_s(s3['median_s'])} | {s3['bytes'] / 1e6:.2f} MB in {s3['requests']} requests |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--cache-dir", type=Path, default=tb.CACHE_DIR / "jp2")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.budget, args.timeout = 20.0, 120.0
    env = tb.worker_env(tb.REPO)
    lines = [f"# JPEG 2000 thumbnails ({tb.code_version(tb.REPO)})", "",
             f"`python -m bench.jp2_bench`: {args.size} px, median of 3 warm runs on disk, one cold run through "
             "S3 (moto behind a counting proxy).", "",
             "| input | method | on disk | through S3 | fetched |", "|---|---|---|---|---|"]
    for path in build_inputs(args.cache_dir):
        inp = tb.describe_input(path.name, str(path), args.size)
        label = f"{path.name} ({inp.shape[1]}², {inp.size_mb:.1f} MB, levels {inp.overviews})"
        tb.log(label)
        for method, result in measure(inp, env, args).items():
            lines.append(row(label, method, result))
    report = "\n".join(lines) + "\n"
    print(report)
    args.output.write_text(report)


if __name__ == "__main__":
    main()
