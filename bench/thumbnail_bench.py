"""Thumbnail benchmark: our core vs rio-tiler vs a naive full read vs gdal_translate, and vs the floor.

Run from the repository root:

    python -m bench.thumbnail_bench            # full run (~8 min on 2 cores; +1.5 min the first time: scenes)
    python -m bench.thumbnail_bench --quick    # fewer repeats, no 10980 scene without overviews

Every (input, method) pair runs in a fresh worker process (bench/runners.py), so its peak RSS belongs to
that method alone; then ours, the floor (the planned read alone) and rio-tiler take turns in one process
per (input, resampling), for ratios that hold on a loaded machine. All workers get the same GDAL
environment (handler/core/gdal_config.py), so differences come from the code. This is not a pytest test.
Inputs: bench/inputs.py; S3: bench/remote.py; report: bench/thumbnail_report.py.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import time
from pathlib import Path

from bench.common import CACHE_DIR, DATA_DIR, REPO, code_version, load_gdal_env, loadavg, log, machine, worker_env
from bench.imports import measure_import
from bench.inputs import Input, gather_inputs
from bench.remote import remote_s3
from bench.report import fmt_s, gdal_translate_note, write_report
from bench.runners import LOCAL_METHODS, REMOTE_METHODS, run_worker
from bench.thumbnail_report import (
    RESAMPLINGS,
    TARGET_RATIO,
    details_section,
    floor_section,
    import_section,
    local_section,
    remote_section,
    targets_section,
)

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
LARGE_SIDE = 2048  # without overviews and larger than this, rio-tiler's nearest preview takes minutes


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="repeat 2, skip the 10980 scene without overviews")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per method (default 5, quick 2)")
    parser.add_argument(
        "--floor-repeat",
        type=int,
        default=None,
        help="interleaved rounds of ours, the floor and rio-tiler (default 11, quick 7; 0: skip)",
    )
    parser.add_argument(
        "--budget", type=float, default=20.0, help="stop repeating a method after this many seconds (>= 1 timed run)"
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument(
        "--interleave",
        choices=("pixel", "band"),
        default="pixel",
        help="interleaving of the synthetic 12-band scenes (GDAL default: pixel)",
    )
    parser.add_argument("--methods", default=",".join(LOCAL_METHODS))
    parser.add_argument("--only", default="", help="regex: only inputs whose label matches")
    parser.add_argument("--no-remote", action="store_true")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--no-import-time", action="store_true")
    parser.add_argument("--remote-runs", type=int, default=None, help="cold processes per remote method")
    parser.add_argument(
        "--timeout",
        type=float,
        default=45.0,
        help="kill a worker (warm-up + repeats) after this many seconds; reported as timeout",
    )
    parser.add_argument(
        "--core-repo",
        type=Path,
        default=REPO,
        help="checkout whose handler/ the 'ours' workers import (e.g. a patched copy)",
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 5
    if args.floor_repeat is None:
        args.floor_repeat = 7 if args.quick else 11
    args.core_repo = args.core_repo.resolve()
    return args


def measure_local(inputs: list[Input], methods: list[str], args, env: dict[str, str]) -> None:
    """Each method on each input in its own worker process: median time and that method's peak RSS."""
    has_gdal_translate = shutil.which("gdal_translate") is not None
    for inp in inputs:
        for method in methods:
            if method == "gdal_translate" and not has_gdal_translate:
                inp.results[method] = {"error": "binary not available"}
                continue
            log(f"{inp.label}: {method}")
            inp.results[method] = r = run_worker(method, inp, args, env, args.repeat, warmup=True)
            if "median_s" in r:
                log(
                    f"    median {fmt_s(r['median_s'])} (first {fmt_s(r['first_s'])}, n={len(r['times_s'])}), "
                    f"peak {r['peak_mb']:.0f} MB (base {r['baseline_mb']:.0f})"
                )
            else:
                log(f"    error: {r['error']}")


def measure_floor(inputs: list[Input], args, env: dict[str, str]) -> None:
    """ours, the floor and rio-tiler interleaved in one worker per (input, resampling)."""
    pair_args = argparse.Namespace(size=args.size, budget=args.budget, timeout=max(args.timeout, 120.0))
    for inp in inputs:
        large_plain = not inp.overviews and max(inp.shape) > LARGE_SIDE
        for res in RESAMPLINGS:
            methods = [f"ours_{res}", f"floor_{res}"] + ([] if large_plain else [f"riotiler_{res}"])
            log(f"{inp.label}: {', '.join(methods)} interleaved")
            inp.pairs[res] = r = run_worker(",".join(methods), inp, pair_args, env, args.floor_repeat, warmup=True)
            if "ratio" in r:
                log("    " + ", ".join(f"ours / {m} {v:.3f}" for m, v in r["ratio"].items()) + f"; load {r['load']}")
            else:
                log(f"    error: {r['error']}")


def measure_remote(cog: Input, methods: list[str], args, env: dict[str, str], notes: list[str]) -> dict:
    """Each method on the COG through moto's S3 in cold processes: median time, bytes and requests."""
    runs = args.remote_runs or (1 if args.quick else 3)
    log(f"remote: {cog.label} through moto ({runs} cold run(s) per method)")
    results = {}
    with remote_s3(Path(cog.path)) as (extra_env, proxy, vsipath):
        remote = Input(cog.label, vsipath, cog.indexes, cog.in_max, cog.shape, cog.size_mb, cog.overviews)
        for method in [m for m in REMOTE_METHODS if m in methods]:
            samples = []
            for _ in range(runs):
                proxy.reset()
                r = run_worker(method, remote, args, {**env, **extra_env}, repeat=1, warmup=False)
                if "error" in r:
                    samples = [r]
                    break
                r.update(
                    bytes=proxy.bytes,
                    requests=proxy.requests,
                    multirange=proxy.multirange,
                    sizes=[size for _, _, _, size in proxy.log],
                )
                samples.append(r)
            if "error" in samples[0]:
                results[method] = samples[0]
                log(f"    {method}: error {samples[0]['error']}")
                continue
            results[method] = r = {
                "median_s": statistics.median(s["median_s"] for s in samples),
                "bytes": statistics.median(s["bytes"] for s in samples),
                "requests": statistics.median(s["requests"] for s in samples),
                "peak_mb": max(s["peak_mb"] for s in samples),
                "multirange": max(s["multirange"] for s in samples),
                "sizes": samples[0]["sizes"],
            }
            log(f"    {method}: {fmt_s(r['median_s'])}, {r['bytes']:,} bytes in {r['requests']} requests {r['sizes']}")
            if r["multirange"]:
                notes.append(
                    f"remote {method}: {r['multirange']} multi-range request(s) (moto answers "
                    "those with the whole object)."
                )
    return results


def header(args, version: str, load_start: str) -> list[str]:
    now = code_version(args.core_repo)
    if now != version:
        version = f"{version} -> {now} (the code changed during the run!)"
    return [
        "# Thumbnail benchmark results",
        "",
        f"`python -m bench.thumbnail_bench{' --quick' if args.quick else ''}` on {version}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}: size {args.size}, median of up to {args.repeat} runs after 1 "
        f"warm-up in a fresh worker process per (input, method). Machine: {machine()}. Load average "
        f"(1/5/15 min) {load_start} at the start, {loadavg()} at the end.",
        "",
        "Cells: median time · peak RSS (VmHWM of that worker alone, MB). Ratio = ours / rio-tiler "
        f"preview with the same resampling (target <= {TARGET_RATIO}). `timeout` = worker killed after "
        f"{args.timeout:.0f} s. Per-run details (first call, RSS after imports, PNG size) are further down.",
        "",
    ]


def main(argv=None) -> None:
    args = parse_args(argv)
    load_start, version = loadavg(), code_version(args.core_repo)
    notes: list[str] = []
    methods = [m for m in args.methods.split(",") if m]
    env = worker_env(args.core_repo)
    if args.core_repo != REPO:
        notes.append(f"'ours' = handler/ of {args.core_repo} (not this checkout).")
    os.environ.update(load_gdal_env())  # the orchestrator reads metadata with the same settings
    if "gdal_translate" in methods:
        notes.append(gdal_translate_note(shutil.which("gdal_translate") is not None))
    inputs, input_notes = gather_inputs(
        args.data_dir,
        args.cache_dir,
        args.size,
        args.interleave,
        synthetic=not args.no_synthetic,
        large_plain=not args.quick,
    )
    notes += input_notes
    cog_10980 = next((i for i in inputs if i.label == "synthetic 10980 COG"), None)
    if args.only:
        inputs = [i for i in inputs if re.search(args.only, i.label)]

    measure_local(inputs, methods, args, env)
    if args.floor_repeat > 0:
        measure_floor(inputs, args, env)
    remote = []
    if not args.no_remote and cog_10980 is not None and (not args.only or re.search(args.only, cog_10980.label)):
        remote.append((cog_10980, measure_remote(cog_10980, methods, args, env, notes)))
    imports = {}
    if not args.no_import_time:
        log("import time")
        imports = measure_import(3 if args.quick else 5, args.core_repo)

    lines = header(args, version, load_start) + local_section(inputs)
    if any(inp.pairs for inp in inputs):
        lines += [""] + floor_section(inputs, args.floor_repeat)
    if remote:
        lines += [""] + remote_section(remote)
    if imports:
        lines += [""] + import_section(imports)
    targets = targets_section(inputs)
    if targets:
        lines += [""] + targets
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines += [""] + details_section(inputs)
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
