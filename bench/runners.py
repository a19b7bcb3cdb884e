"""Timing peers in one worker process each: ours, rio-tiler's `Reader.preview`, a naive full read,
gdal_translate, and the floor (rasterio reading the planned blocks, no processing); peak RSS (VmHWM).

A worker runs one method (its peak RSS is that method's alone), or several interleaved round by round
(`ours_average,floor_average`): then the ratios of paired runs hold under a loaded machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BENCH, REPO, loadavg, rss_mb
from bench.inputs import Input, bench_driver, thumbnail_shape

LOCAL_METHODS = ("ours_average", "ours_nearest", "riotiler_nearest", "riotiler_average", "naive", "gdal_translate")
REMOTE_METHODS = ("ours_average", "ours_nearest", "riotiler_nearest", "riotiler_average")
METHOD_LABEL = {
    "ours_average": "ours (average)",
    "ours_nearest": "ours (nearest)",
    "riotiler_nearest": "rio-tiler preview (nearest)",
    "riotiler_average": "rio-tiler preview (average)",
    "naive": "naive full read + Pillow",
    "gdal_translate": "gdal_translate -outsize",
    "floor_average": "floor: the planned read alone (average)",
    "floor_nearest": "floor: the planned read alone (nearest)",
}


def _product_reader(path: str):
    """(read, size) over a product zip as the service reads one: a local file (an upload), or ranged GETs
    through boto3 for /vsis3/ (a key=; through the bench's counting proxy, like GDAL's own reads)."""
    if not path.startswith("/vsis3/"):
        from handler.core.tiff_scan import file_reader

        return file_reader(open(path, "rb")), lambda: os.path.getsize(path)
    import boto3

    bucket, key = path.removeprefix("/vsis3/").split("/", 1)
    s3 = boto3.client("s3", endpoint_url=f"http://{os.environ['AWS_S3_ENDPOINT']}")

    def read(offset: int, length: int) -> bytes:
        return s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}")["Body"].read()

    return read, lambda: s3.head_object(Bucket=bucket, Key=key)["ContentLength"]


def floor_runner(path: str, size: int, indexes: tuple[int, ...], resampling: str):
    """The floor of a thumbnail: rasterio opening the level our plan reads and reading the same bands into
    the same out_shape with the same resampling, in the same windows (chunks), and nothing else (no mask,
    no stretch, no encoding). The plan is made once, outside the timed call. Chunks (files without
    overviews) are read in one thread, where ours may use several: the floor is for COGs."""
    import numpy as np
    import rasterio

    from handler.core import RenderOptions, open_path
    from handler.core.levels import opened_levels
    from handler.core.options import ResamplingName
    from handler.core.plan import plan_read
    from handler.core.read import read_chunks

    options = RenderOptions(thumbnail_size=size, resampling=ResamplingName(resampling))
    with open_path(path, bench_driver(path)) as dataset, opened_levels(dataset) as levels:
        plan = plan_read(levels, indexes, thumbnail_shape(dataset.width, dataset.height, size), options.gdal_resampling)
    level = "NONE" if plan.level.index is None else f"{plan.level.index}only"
    try:  # the windows ours reads with its threads (handler/core/threads.py), read here one after another
        from handler.core.threads import core_threads

        chunks = read_chunks(plan.values, plan.read_shape, plan.weight, core_threads())
    except ImportError:  # a --core-repo checkout from before the threads
        chunks = read_chunks(plan.values, plan.read_shape, plan.weight)
    lead = len(plan.indexes)

    def run():
        with rasterio.open(path, overview_level=level) as source:
            if chunks is None:
                source.read(plan.indexes, out_shape=(lead, *plan.read_shape), resampling=plan.method)
            else:
                out = np.empty((lead, *plan.read_shape), dtype=source.dtypes[0])
                for window, rows, cols in chunks:
                    out[:, rows, cols] = source.read(
                        plan.indexes,
                        window=window,
                        resampling=plan.method,
                        out_shape=(lead, rows.stop - rows.start, cols.stop - cols.start),
                    )
        return b"", plan.read_shape

    return run


def make_runner(method: str, path: str, size: int, indexes: tuple[int, ...], in_max: float):
    """Import what `method` needs and return a zero-argument callable doing one full thumbnail."""
    if method.startswith("ours_"):
        from handler.core import RenderOptions, open_path, open_source, render_thumbnail
        from handler.core.options import ResamplingName

        options = RenderOptions(thumbnail_size=size, resampling=ResamplingName(method.split("_", 1)[1]))
        if path.lower().endswith(".zip"):  # a SAFE product: through open_source's checks, as the service
            read, object_size = _product_reader(path)

            def run():
                with open_source(read, object_size(), path) as source:
                    thumb = render_thumbnail(source.dataset, options)
                return thumb.content, (thumb.height, thumb.width)

            return run

        def run():
            with open_path(path, bench_driver(path)) as dataset:
                thumb = render_thumbnail(dataset, options)
            return thumb.content, (thumb.height, thumb.width)

        return run

    if method.startswith("floor_"):
        return floor_runner(path, size, indexes, method.split("_", 1)[1])

    if method.startswith("riotiler_"):
        from rio_tiler.io import Reader

        resampling = method.split("_", 1)[1]

        def run():
            with Reader(path) as src:
                if max(src.width, src.height) >= size:
                    img = src.preview(indexes=indexes, max_size=size, resampling_method=resampling)
                else:  # max_size never upsamples; ask for our output size so both do the same work
                    rows, cols = thumbnail_shape(src.width, src.height, size)
                    img = src.preview(
                        indexes=indexes, max_size=None, height=rows, width=cols, resampling_method=resampling
                    )
            img.rescale(in_range=((0, in_max),))
            return img.render(img_format="PNG"), (img.height, img.width)

        return run

    if method == "naive":
        import io

        import numpy as np
        import rasterio
        from PIL import Image

        def run():
            with rasterio.open(path) as dataset:
                data = dataset.read(indexes)  # full resolution, native dtype
                shape = thumbnail_shape(dataset.width, dataset.height, size)
            pixels = np.empty((data.shape[1], data.shape[2], len(indexes)), dtype=np.uint8)
            for i, band in enumerate(data):  # band by band, to keep the float temporaries small
                if band.dtype.kind == "f":
                    np.clip(band, 0, in_max, out=band)
                else:
                    np.minimum(band, band.dtype.type(in_max), out=band)  # unsigned DNs are >= 0
                pixels[..., i] = band.astype(np.float32) * np.float32(255.0 / in_max) + np.float32(0.5)
            del data
            image = Image.fromarray(pixels[..., 0] if len(indexes) == 1 else pixels)
            del pixels
            image = image.resize((shape[1], shape[0]), Image.Resampling.BOX)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG", compress_level=6)
            return buffer.getvalue(), shape

        return run

    if method == "gdal_translate":
        import tempfile

        from rasterio import open as rio_open

        binary = shutil.which("gdal_translate")
        if binary is None:
            raise SystemExit("gdal_translate not found")
        with rio_open(path) as dataset:
            shape = thumbnail_shape(dataset.width, dataset.height, size)
        out = Path(tempfile.mkdtemp(prefix="bench_gt_")) / "out.png"
        command = [
            binary,
            "-q",
            "-of",
            "PNG",
            "-ot",
            "Byte",
            "-r",
            "average",
            "-outsize",
            str(shape[1]),
            str(shape[0]),
            "-scale",
            "0",
            str(in_max),
            "0",
            "255",
        ]
        for index in indexes:
            command += ["-b", str(index)]
        command += [path, str(out)]

        def run():
            subprocess.run(command, check=True)
            return out.read_bytes(), shape

        return run

    raise SystemExit(f"unknown method {method}")


def _time_runs(runners: dict, repeat: int, warmup: bool, budget: float) -> tuple[dict, dict, dict]:
    """Run every runner `repeat` times (after one warm-up each), interleaved: round i starts with runner
    i mod n. Stops after `budget` seconds once one timed round is done. (wall seconds per method, CPU
    seconds of this process per method, last output)."""
    names = list(runners)
    times = {name: [] for name in names}
    cpu = {name: [] for name in names}
    outputs = {name: (b"", (0, 0)) for name in names}
    if warmup:
        for name in names:
            outputs[name] = runners[name]()
    deadline = time.perf_counter() + budget
    for i in range(repeat):
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t0, c0 = time.perf_counter(), time.process_time()
            outputs[name] = runners[name]()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
        if time.perf_counter() > deadline:
            break
    return times, cpu, outputs


class SpanTimer:
    """Seconds per core span (handler/core/spans.py: open, read, encode) of each call of a runner."""

    def __init__(self):
        self.current: dict[str, float] = {}
        self.calls: list[dict[str, float]] = []

    @contextlib.contextmanager
    def span(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.current[name] = self.current.get(name, 0.0) + time.perf_counter() - start

    def wrap(self, run):
        """`run`, recording its spans and its whole time (`total`) per call."""

        def timed():
            self.current = {}
            start = time.perf_counter()
            out = run()
            self.calls.append({**self.current, "total": time.perf_counter() - start})
            return out

        return timed

    def medians(self, skip: int) -> dict[str, float]:
        """Median seconds per span over the calls after the first `skip` (the warm-up), and of `rest`: each
        call's time outside its spans."""
        calls = [{**call, "rest": 2 * call["total"] - sum(call.values())} for call in self.calls[skip:]]
        names = sorted({name for call in calls for name in call})
        return {name: statistics.median(call.get(name, 0.0) for call in calls) for name in names}


def worker_main(args: argparse.Namespace) -> None:
    """Time `args.worker` = (METHOD[,METHOD...], PATH) and print one JSON line."""
    methods, path = args.worker[0].split(","), args.worker[1]
    indexes = tuple(int(i) for i in args.indexes.split(","))
    load = loadavg()
    start = time.perf_counter()
    runners = {method: make_runner(method, path, args.size, indexes, args.in_max) for method in methods}
    import_s = time.perf_counter() - start
    spans = None
    if len(methods) > 1 and methods[0].startswith("ours_"):  # where ours spends its time, beside the floor
        from handler.core.spans import set_span_factory

        spans = SpanTimer()
        set_span_factory(spans.span)
        runners[methods[0]] = spans.wrap(runners[methods[0]])
    baseline = rss_mb()
    first_start = time.perf_counter()
    first = None
    if args.warmup and len(methods) == 1:  # the first call's time, reported beside the median
        runners[methods[0]]()
        first = time.perf_counter() - first_start
    times, cpu, outputs = _time_runs(runners, max(1, args.repeat), args.warmup and len(methods) > 1, args.budget)
    # gdal_translate runs as a child: its ru_maxrss (inflated by this worker's RSS at spawn, see rss_mb)
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    common = {
        "baseline_mb": baseline,
        "peak_mb": max(rss_mb(), peak_children),
        "import_s": import_s,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "load": f"{load} -> {loadavg()}",
    }
    if len(methods) == 1:
        timed = times[methods[0]]
        content, shape = outputs[methods[0]]
        print(
            json.dumps(
                {
                    "method": methods[0],
                    "first_s": first if first is not None else timed[0],
                    "times_s": timed,
                    "median_s": statistics.median(timed),
                    **common,
                    "png_bytes": len(content),
                    "shape": list(shape),
                }
            )
        )
        return
    # each round's first method / peer, then the median: robust to load that changes between rounds; and
    # the same with CPU time, which waiting for a core under load does not inflate
    ratio, cpu_ratio = (
        {m: statistics.median(a / b for a, b in zip(t[methods[0]], t[m])) for m in methods[1:]} for t in (times, cpu)
    )
    print(
        json.dumps(
            {
                "methods": methods,
                "times_s": times,
                "ratio": ratio,
                "cpu_ratio": cpu_ratio,
                "median_s": {m: statistics.median(t) for m, t in times.items()},
                "spans_s": spans.medians(skip=1 if args.warmup else 0) if spans else {},
                **common,
            }
        )
    )


def run_worker(method: str, inp: Input, args, env: dict[str, str], repeat: int, warmup: bool) -> dict:
    """`method` (or several, comma-separated: interleaved in one process) on `inp` in a fresh worker;
    `args` holds size, budget and timeout. The worker's JSON, or {"error": ...} ({"timeout": True} too)."""
    # bench/worker.py as a script, so that `handler` comes from PYTHONPATH (--core-repo), not the cwd.
    command = [
        sys.executable,
        str(BENCH / "worker.py"),
        "--worker",
        method,
        inp.path,
        "--size",
        str(args.size),
        "--indexes",
        ",".join(map(str, inp.indexes)),
        "--in-max",
        str(inp.in_max),
        "--repeat",
        str(repeat),
        "--budget",
        str(args.budget),
    ]
    if not warmup:
        command.append("--no-warmup")
    # Its own process group: a timeout kills the worker's children too (a gdal_translate left running
    # would load the CPU for every later measurement).
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"error": f"timeout: > {args.timeout:.0f} s", "timeout": True}
    if proc.returncode != 0:
        tail = (stderr.strip().splitlines() or ["?"])[-1]
        return {"error": tail[:200]}
    return json.loads(stdout.strip().splitlines()[-1])
