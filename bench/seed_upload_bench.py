"""Seed-sized upload benchmark: the README's curls on a full-size 12-band export, and the same render
against its peers.

The file is shaped like the seed's own sample (EO Browser export: 12 x 1384 x 2186 uint16,
uncompressed, ~72 MB; the real 12-band file upsampled). Two parts:
- HTTP: `make serve`'s uvicorn on a free port, the README's two curl commands verbatim, repeated;
  time per request and the server's peak RSS (VmHWM) after all of them;
- core: our render at 200 px against rio-tiler's preview and a naive full read, each in a fresh
  worker process (thumbnail_bench's workers, same GDAL settings).

    python -m bench.seed_upload_bench [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    REPO,
    code_version,
    free_port,
    load_gdal_env,
    loadavg,
    log,
    machine,
    rss_mb,
    worker_env,
)
from bench.inputs import describe_input
from bench.report import fmt_mb, fmt_s, write_report
from bench.runners import METHOD_LABEL, run_worker
from handler.local_pipeline import wait_for_port
from tests.rasters import seed_sized_export

RESULTS = Path(__file__).resolve().parent / "RESULTS-seed-upload.md"
SIZE = 200
SEED_NAME = "S2L2A_2022-06-09.tiff"
CURLS = {
    "/attributes": 'curl -sS -X POST -F "image_file=@S2L2A_2022-06-09.tiff" http://localhost:{port}/attributes',
    "/thumbnail 200": 'curl -sS -X POST -F "image_file=@S2L2A_2022-06-09.tiff" -F "target_resolution=200" '
    "http://localhost:{port}/thumbnail --output output.png",
}
METHODS = ("ours_average", "ours_nearest", "riotiler_average", "riotiler_nearest", "naive")


def http_part(folder: Path, repeat: int) -> tuple[dict[str, list[float]], float, float]:
    """Seconds per curl for each route, and the server's peak RSS (MB) before and after them."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "handler.api:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **load_gdal_env()},
    )
    try:
        wait_for_port(port, server, "uvicorn")
        idle = rss_mb(server.pid)
        times: dict[str, list[float]] = {route: [] for route in CURLS}
        for _ in range(repeat):
            for route, command in CURLS.items():
                start = time.perf_counter()
                subprocess.run(
                    shlex.split(command.format(port=port)), cwd=folder, check=True, stdout=subprocess.DEVNULL
                )
                times[route].append(time.perf_counter() - start)
        return times, idle, rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    folder = args.cache_dir / "seed"
    folder.mkdir(parents=True, exist_ok=True)
    seed = seed_sized_export(folder / SEED_NAME)
    log(f"seed-sized export {seed} ({seed.stat().st_size / 1e6:.1f} MB)")

    load_start = loadavg()
    times, idle_mb, server_peak_mb = http_part(folder, args.repeat)
    worker_args = argparse.Namespace(size=SIZE, budget=20.0, timeout=120.0)
    env = worker_env(REPO)
    inp = describe_input(seed.name, str(seed), SIZE)
    results = {}
    for method in METHODS:
        log(f"  {method}")
        results[method] = run_worker(method, inp, worker_args, env, args.repeat, warmup=True)

    lines = [
        f"# Seed-sized upload ({code_version(REPO)})",
        "",
        f"`python -m bench.seed_upload_bench --repeat {args.repeat}`: {seed.name}, "
        f"{inp.shape[1]} x {inp.shape[0]} x 12 uint16, uncompressed, {seed.stat().st_size / 1e6:.1f} MB; "
        f"{machine()}; {time.strftime('%Y-%m-%d %H:%M %Z')}; load average {load_start} at the start, "
        f"{loadavg()} at the end.",
        "",
        "## The README's curls against uvicorn (`make serve`), upload included",
        "",
        "| request | median | min | max |",
        "|---|---|---|---|",
    ]
    for route, values in times.items():
        lines.append(f"| {route} | {fmt_s(statistics.median(values))} | {fmt_s(min(values))} | {fmt_s(max(values))} |")
    lines += [
        "",
        f"Server peak RSS (VmHWM): {idle_mb:.0f} MB after start-up, {server_peak_mb:.0f} MB after "
        f"{args.repeat} x both requests (target <= 400 MB).",
        "",
        f"## Rendering at {SIZE} px, each method in a fresh process (file already on disk)",
        "",
        "| method | median | peak RSS | x ours (average) |",
        "|---|---|---|---|",
    ]
    ours = results["ours_average"].get("median_s")
    for method, result in results.items():
        median = result.get("median_s")
        ratio = f"{median / ours:.2f}" if median and ours else "-"
        lines.append(
            f"| {METHOD_LABEL[method]} | {fmt_s(median) if median else result.get('error')} | "
            f"{fmt_mb(result.get('peak_mb'))} MB | {ratio} |"
        )
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
