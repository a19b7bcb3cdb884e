"""The core's threads against one thread on the same scene without overviews: a 512 px thumbnail
(chunked reads, handler/core/read.py) and the COG copy (handler/core/cog.py), each run in a fresh
process per CPU count, interleaved, with its peak RSS. Each process is pinned to that many CPUs before
handler.core loads, so it takes its thread count and GDAL block cache (handler/core/threads.py) exactly
as a Lambda function or container with those CPUs would.

    python -m bench.threads_bench [--scene PATH] [--repeat 3] [--copies 1] [--threads 1,2]

The scene defaults to the 10980² x 12-band file bench/thumbnail_bench.py caches; prints a markdown table.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench.core_alone import CORE_ALONE
from bench.common import DATA_DIR
from bench.inputs import build_synthetic, synthetic_paths, synthetic_source

SCENE = synthetic_paths()[1]  # the 10980² scene without overviews


def run(cpus: int, scene: Path, op: str) -> dict:
    """One render or copy in a fresh process (so each peak RSS is its own), pinned to `cpus` CPUs before
    handler.core loads, with the threads the core takes from them; its seconds in "seconds"."""
    renders, copies = (1, 0) if op == "render" else (0, 1)
    out = subprocess.run(
        [sys.executable, "-c", CORE_ALONE, str(scene), str(renders), str(copies), "auto", "0"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        preexec_fn=lambda: os.sched_setaffinity(0, range(cpus)),
    ).stdout
    result = json.loads(out.splitlines()[-1])
    return {**result, "seconds": (result["render"] + result["cog"])[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scene", type=Path, default=SCENE)
    parser.add_argument("--repeat", type=int, default=3, help="thumbnails per thread count")
    parser.add_argument("--copies", type=int, default=1, help="COG copies per thread count (0: none)")
    parser.add_argument("--threads", default="1,2", help="CPU counts to pin each process to")
    args = parser.parse_args()
    if not args.scene.is_file():
        if args.scene != SCENE:
            parser.error(f"{args.scene} is not a file")
        source = synthetic_source(DATA_DIR)  # a fresh clone: make the scene as thumbnail_bench does
        if source is None:
            parser.error(f"no {SCENE.name} cached and no 12-band source file in {DATA_DIR} to make it from")
        build_synthetic(source, SCENE.parent, 10980, "pixel")
    counts = [int(n) for n in args.threads.split(",")]
    results: dict[tuple[str, int], list[dict]] = {}
    load = os.getloadavg()
    for op, repeat in (("render", args.repeat), ("copy", args.copies)):
        for _ in range(repeat):
            for threads in counts:  # interleaved: load changes hit every thread count alike
                results.setdefault((op, threads), []).append(run(threads, args.scene, op))
    print(
        f"Scene: {args.scene.name} ({args.scene.stat().st_size / 1e6:.0f} MB); CPUs: {os.cpu_count()}; "
        f"load average before: {load[0]:.2f}, after: {os.getloadavg()[0]:.2f}\n"
    )
    print(
        "| operation | CPUs | core threads | GDAL_CACHEMAX MB | median s | runs s | vs 1st | peak RSS MB |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    for (op, threads), rows in results.items():
        median = statistics.median(r["seconds"] for r in rows)
        base = statistics.median(r["seconds"] for r in results[(op, counts[0])])
        runs = ", ".join(f"{r['seconds']:.2f}" for r in rows)
        peak = max(r["peak_mb"] for r in rows)
        print(
            f"| {op} | {threads} | {rows[0]['threads']} | {rows[0]['cache_mb']} | {median:.2f} | {runs} "
            f"| {median / base:.2f} x | {peak:.0f} |"
        )


if __name__ == "__main__":
    main()
