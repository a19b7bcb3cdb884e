"""COG copy benchmark: what the S3 trigger's copy of a scene without overviews costs, and what it saves.

For each synthetic 12-band scene without overviews (built and cached by thumbnail_bench), each step in
a fresh process: `write_cog` into a temporary directory (time, peak RSS, bytes written), then our
default thumbnail of the original and of the copy, and rio-tiler's preview of the copy (the
thumbnail_bench workers, same GDAL settings).

    python -m bench.cog_copy_bench [--quick]     # --quick: the 5490 scene only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import CACHE_DIR, DATA_DIR, REPO, code_version, loadavg, log, machine, rss_mb, worker_env
from bench.inputs import SOURCE_GLOB, build_synthetic, describe_input, synthetic_source
from bench.report import fmt_s, write_report
from bench.runners import METHOD_LABEL, run_worker

RESULTS = Path(__file__).resolve().parent / "RESULTS-cog-copy.md"


def copy_worker(source: str, target: str) -> None:
    """One COG copy with the trigger's code; prints time, peak RSS and bytes as JSON."""
    from handler.core import open_path
    from handler.core.cog import needs_cog_copy, write_cog

    baseline = rss_mb()
    start = time.perf_counter()
    with open_path(source) as dataset:
        due = needs_cog_copy(dataset, 512)
        write_cog(dataset, target)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - start,
                "peak_mb": rss_mb(),
                "baseline_mb": baseline,
                "bytes": Path(target).stat().st_size,
                "due": due,
            }
        )
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--copy-worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.copy_worker:
        return copy_worker(*args.copy_worker)

    source = synthetic_source(args.data_dir)
    if source is None:
        raise SystemExit(f"no {SOURCE_GLOB} in {args.data_dir}: the synthetic scenes are tiled from it")
    env = worker_env(REPO)
    # thumbnail_bench's workers: 1 warm-up, up to 5 timed runs, 60 s budget and timeout.
    worker_args = argparse.Namespace(size=512, budget=60.0, timeout=120.0)
    lines = [
        "# COG copy results",
        "",
        f"`python -m bench.cog_copy_bench{' --quick' if args.quick else ''}` on {code_version(REPO)}, "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {machine()}, load average {loadavg()} at the start. "
        "Copy: one run in a fresh process (peak RSS = VmHWM of that process). Thumbnails: 512 px, "
        "median of up to 5 runs after a warm-up, fresh process each.",
        "",
        "| scene | copy time | copy peak RSS | bytes in -> out | ours on the original | ours on the copy "
        "| rio-tiler preview on the copy | speed-up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for side in (5490,) if args.quick else (5490, 10980):
        _, plain = build_synthetic(source, args.cache_dir, side, "pixel")
        with tempfile.TemporaryDirectory(dir=args.cache_dir) as workdir:
            target = str(Path(workdir) / "copy.tif")
            log(f"{side}: COG copy")
            proc = subprocess.run(
                [sys.executable, "-m", "bench.cog_copy_bench", "--copy-worker", str(plain), target],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            copied = json.loads(proc.stdout.strip().splitlines()[-1])
            assert copied["due"], "the trigger would not copy this scene"
            times = {}
            for name, path, method in (
                ("original", str(plain), "ours_average"),
                ("copy", target, "ours_average"),
                ("peer", target, "riotiler_average"),
            ):
                log(f"{side}: {METHOD_LABEL[method]} on {path}")
                inp = describe_input(name, path, 512)
                times[name] = run_worker(method, inp, worker_args, env, 5, warmup=True).get("median_s")
        lines.append(
            f"| {side}² 12-band, no overviews | {copied['seconds']:.1f} s | {copied['peak_mb']:.0f} MB "
            f"(after imports {copied['baseline_mb']:.0f}) | "
            f"{plain.stat().st_size / 1e6:.0f} -> {copied['bytes'] / 1e6:.0f} MB "
            f"| {fmt_s(times['original'])} | {fmt_s(times['copy'])} | {fmt_s(times['peer'])} "
            f"| {times['original'] / times['copy']:.0f}x |"
        )
    lines += ["", f"Load average at the end: {loadavg()}."]
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
