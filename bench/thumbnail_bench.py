"""Thumbnail benchmark: our core vs rio-tiler vs a naive full read vs gdal_translate.

Run from the repository root:

    python -m bench.thumbnail_bench            # full run (~7 min on 2 cores; +1.5 min the first time: scenes)
    python -m bench.thumbnail_bench --quick    # fewer repeats, no 10980 scene without overviews

Every (input, method) pair runs in a fresh worker process (`--worker METHOD PATH`), so its peak RSS
belongs to that method alone (VmHWM: `ru_maxrss` of a child inherits the parent's peak on Linux, see
`_rss_mb`); the worker reports its peak RSS after imports as a baseline.
All workers get the same GDAL environment (the hardening/I-O settings of handler/core/gdal_config.py),
so differences come from the code, not from the cache size. This is not a pytest test.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import importlib.util
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The real files live beside the repository (../shared/data/sentinel2), as for the tests.
DATA_DIR = Path(os.environ.get("SENTINEL2_DATA", REPO.parent / "shared" / "data" / "sentinel2"))
CACHE_DIR = Path("/tmp/thumbnail_bench_cache")
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SOURCE_GLOB = "bigearthnet_*_12band_10m.tif"
SCENE_VERSION = 1  # bump when the synthetic scene recipe changes (invalidates the cache)

LOCAL_METHODS = ("ours_average", "ours_nearest", "riotiler_nearest", "riotiler_average", "naive", "gdal_translate")
REMOTE_METHODS = ("ours_average", "ours_nearest", "riotiler_nearest", "riotiler_average")
METHOD_LABEL = {
    "ours_average": "ours (average)",
    "ours_nearest": "ours (nearest)",
    "riotiler_nearest": "rio-tiler preview (nearest)",
    "riotiler_average": "rio-tiler preview (average)",
    "naive": "naive full read + Pillow",
    "gdal_translate": "gdal_translate -outsize",
}
TARGET_RATIO = 0.7
TARGET_PEAK_MB = 350
TARGET_IMPORT_S = 0.6


_STARTED = time.perf_counter()


def log(message: str) -> None:
    """Progress on stderr, with seconds since start."""
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def _load_gdal_env() -> dict[str, str]:
    """The GDAL settings our handler applies, read from gdal_config.py without importing handler.core
    (whose __init__ would pull rasterio into the orchestrator's environment decisions)."""
    spec = importlib.util.spec_from_file_location("_bench_gdal_config", REPO / "handler/core/gdal_config.py")
    module = importlib.util.module_from_spec(spec)
    saved = dict(os.environ)
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return dict(module.HARDENING)


# --------------------------------------------------------------------------------------------------
# Worker: one method, one input, fresh process.
# --------------------------------------------------------------------------------------------------

def _rss_mb(pid: int | str = "self") -> float:
    """Peak RSS of a process (this one by default) in MB. `ru_maxrss` is not usable in a subprocess on
    Linux: it keeps the high-water mark across fork/exec, i.e. starts at the *parent's* RSS (the
    orchestrator, or moto holding a 500 MB object). VmHWM belongs to the process's own address space."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _thumbnail_shape(width: int, height: int, size: int) -> tuple[int, int]:
    # Same rule as handler.core.read.thumbnail_shape, duplicated so peers do not import our core.
    if width >= height:
        return max(1, round(size * height / width)), size
    return size, max(1, round(size * width / height))


def bench_driver(path: str) -> str:
    """The GDAL driver our service would choose from the magic bytes; the bench's inputs are named for
    their format, and a /vsis3/ path cannot be read before GDAL opens it."""
    from handler.core.safe_open import GTIFF_DRIVER, JP2_DRIVER

    return JP2_DRIVER if path.lower().endswith((".jp2", ".j2k")) else GTIFF_DRIVER


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


def _make_runner(method: str, path: str, size: int, indexes: tuple[int, ...], in_max: float):
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

    if method.startswith("riotiler_"):
        from rio_tiler.io import Reader

        resampling = method.split("_", 1)[1]

        def run():
            with Reader(path) as src:
                if max(src.width, src.height) >= size:
                    img = src.preview(indexes=indexes, max_size=size, resampling_method=resampling)
                else:  # max_size never upsamples; ask for our output size so both do the same work
                    rows, cols = _thumbnail_shape(src.width, src.height, size)
                    img = src.preview(indexes=indexes, max_size=None, height=rows, width=cols,
                                      resampling_method=resampling)
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
                shape = _thumbnail_shape(dataset.width, dataset.height, size)
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
            shape = _thumbnail_shape(dataset.width, dataset.height, size)
        out = Path(tempfile.mkdtemp(prefix="bench_gt_")) / "out.png"
        command = [binary, "-q", "-of", "PNG", "-ot", "Byte", "-r", "average",
                   "-outsize", str(shape[1]), str(shape[0]), "-scale", "0", str(in_max), "0", "255"]
        for index in indexes:
            command += ["-b", str(index)]
        command += [path, str(out)]

        def run():
            subprocess.run(command, check=True)
            return out.read_bytes(), shape
        return run

    raise SystemExit(f"unknown method {method}")


def worker_main(args: argparse.Namespace) -> None:
    method, path = args.worker
    indexes = tuple(int(i) for i in args.indexes.split(","))
    start = time.perf_counter()
    run = _make_runner(method, path, args.size, indexes, args.in_max)
    import_s = time.perf_counter() - start
    baseline = _rss_mb()
    times = []
    content, shape = b"", (0, 0)
    deadline = time.perf_counter() + args.budget
    runs = 1 + args.repeat if args.warmup else args.repeat
    for i in range(runs):
        t0 = time.perf_counter()
        content, shape = run()
        times.append(time.perf_counter() - t0)
        if i >= 1 and time.perf_counter() > deadline:
            break
    timed = times[1:] if args.warmup and len(times) > 1 else times
    # gdal_translate runs as a child: its ru_maxrss (inflated by this worker's RSS at spawn, see _rss_mb)
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    print(json.dumps({
        "method": method, "first_s": times[0], "times_s": timed, "median_s": statistics.median(timed),
        "baseline_mb": baseline, "peak_mb": max(_rss_mb(), peak_children), "import_s": import_s,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "png_bytes": len(content), "shape": list(shape),
    }))


# --------------------------------------------------------------------------------------------------
# Inputs: real files and cached synthetic 12-band scenes.
# --------------------------------------------------------------------------------------------------

def _synthetic_names(side: int, interleave: str) -> tuple[str, str]:
    stem = f"synthetic_v{SCENE_VERSION}_{side}_{interleave}"
    return f"{stem}_cog.tif", f"{stem}_no_overviews.tif"


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
    cog_name, plain_name = _synthetic_names(side, interleave)
    cog, plain = cache / cog_name, cache / plain_name
    with rasterio.Env(GDAL_CACHEMAX=256, GDAL_NUM_THREADS=2):
        if not plain.exists():
            t0 = time.perf_counter()
            with rasterio.open(source) as src:
                tile = src.read()
                profile = {"crs": src.crs, "transform": src.transform}
            count, th, tw = tile.shape
            origin = profile["transform"]
            tmp = plain.with_suffix(".tmp.tif")
            with rasterio.open(tmp, "w", driver="GTiff", width=side, height=side, count=count,
                               dtype=tile.dtype, crs=profile["crs"],
                               transform=Affine(origin.a, 0, origin.c, 0, origin.e, origin.f),
                               tiled=True, blockxsize=512, blockysize=512, compress="deflate",
                               predictor=2, interleave=interleave, BIGTIFF="IF_SAFER",
                               NUM_THREADS=2) as dst:
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
            rio_copy(str(plain), str(tmp), driver="COG", BLOCKSIZE=512, COMPRESS="DEFLATE",
                     PREDICTOR="YES", OVERVIEW_RESAMPLING="AVERAGE", INTERLEAVE=interleave.upper(),
                     NUM_THREADS=2, BIGTIFF="IF_SAFER")
            tmp.rename(cog)
            with rasterio.open(cog) as ds:
                log(f"  built {cog} ({cog.stat().st_size / 1e6:.0f} MB, overviews {ds.overviews(1)}) "
                    f"in {time.perf_counter() - t0:.0f} s")
    return cog, plain


@dataclass
class Input:
    label: str
    path: str
    indexes: tuple[int, ...]
    in_max: float
    shape: tuple[int, int]
    size_mb: float
    overviews: list[int]
    results: dict = field(default_factory=dict)


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


# --------------------------------------------------------------------------------------------------
# Remote: moto S3 on loopback behind a byte-counting reverse proxy.
# --------------------------------------------------------------------------------------------------

class CountingProxy:
    """A loopback HTTP/1.1 reverse proxy in front of moto that counts the response bytes GDAL gets."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.lock = threading.Lock()
        self.reset()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = getattr(self, "_upstream", None)
                if conn is None:
                    conn = self._upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                self.send_response(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length", "date", "server"):
                        self.send_header(key, value)
                # a HEAD's Content-Length is the object's size (boto3's head_object), not its empty body's
                head_length = response.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", head_length or str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                with proxy.lock:
                    proxy.requests += 1
                    proxy.bytes += len(payload) if self.command != "HEAD" else 0
                    rng = self.headers.get("Range", "")
                    if "," in rng:
                        proxy.multirange += 1
                    proxy.log.append((self.command, rng, response.status, len(payload)))
                    proxy.paths.append(self.path)

            do_GET = do_HEAD = do_PUT = do_POST = _forward

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reset(self):
        with self.lock:
            self.requests = 0
            self.bytes = 0
            self.multirange = 0
            self.log = []
            self.paths = []  # each request's path, in the order of `log`

    def stop(self):
        self.server.shutdown()


@contextlib.contextmanager
def remote_s3(cog: Path):
    """Start moto on 127.0.0.1, upload `cog`, yield (worker env additions, proxy, /vsis3/ path)."""
    import boto3
    from moto.server import ThreadedMotoServer

    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log lines on stderr
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    creds = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket, key = "bench", f"scenes/{cog.name}"
    s3.create_bucket(Bucket=bucket)
    t0 = time.perf_counter()
    s3.upload_file(str(cog), bucket, key)
    log(f"  uploaded {cog.name} to moto in {time.perf_counter() - t0:.0f} s")
    proxy = CountingProxy((host, port))
    env = {**creds, "AWS_S3_ENDPOINT": f"127.0.0.1:{proxy.port}", "AWS_HTTPS": "NO",
           "AWS_VIRTUAL_HOSTING": "FALSE", "AWS_DEFAULT_REGION": "us-east-1",
           # never read real credential/config files, never go through a proxy
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
           "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    try:
        yield env, proxy, f"/vsis3/{bucket}/{key}"
    finally:
        proxy.stop()
        server.stop()


# --------------------------------------------------------------------------------------------------
# Orchestrator.
# --------------------------------------------------------------------------------------------------

def worker_env(core_repo: Path) -> dict[str, str]:
    """Environment of every worker: our GDAL settings (the security ones forced) and `handler` from
    `core_repo` on PYTHONPATH."""
    gdal_env = _load_gdal_env()
    env = {**os.environ, **gdal_env}
    for name in ("GDAL_SKIP", "GDAL_DISABLE_READDIR_ON_OPEN", "GDAL_PAM_ENABLED"):
        env[name] = gdal_env[name]
    env["PYTHONPATH"] = str(core_repo) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def run_worker(method: str, inp: Input, args, env: dict[str, str], repeat: int, warmup: bool) -> dict:
    # Run this file as a script so that `handler` comes from PYTHONPATH (--core-repo), not the cwd.
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", method, inp.path,
               "--size", str(args.size), "--indexes", ",".join(map(str, inp.indexes)),
               "--in-max", str(inp.in_max), "--repeat", str(repeat), "--budget", str(args.budget)]
    if not warmup:
        command.append("--no-warmup")
    # Its own process group: a timeout kills the worker's children too (a gdal_translate left running
    # would load the CPU for every later measurement).
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
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


def measure_import(repeat: int, repo: Path = REPO) -> dict:
    """Import cost of our modules in fresh interpreters (median of `repeat`): time spent in the
    `import` statement itself (what a Lambda cold start pays in its init phase), and the whole
    process wall time (start-up + import + teardown) minus that of an empty interpreter. Measured
    with the Lambda runtime's environment variables (the target) and without them (a laptop).

    The X-Ray SDK, which Powertools' Tracer imports, checks LAMBDA_TASK_ROOT: outside Lambda its
    recorder builds a botocore X-Ray client for centralised sampling (~90 ms); inside Lambda it
    samples locally and builds none."""
    lambda_env = {"LAMBDA_TASK_ROOT": str(repo), "AWS_LAMBDA_FUNCTION_NAME": "thumbnail-bench"}
    probe = "import time, importlib; t = time.perf_counter(); importlib.import_module({!r}); " \
            "print(time.perf_counter() - t)"
    local_env = {k: v for k, v in os.environ.items() if k not in lambda_env}

    def run(code: str, env: dict) -> tuple[float, float]:
        walls, inner = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, check=True,
                                  capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            inner.append(float(proc.stdout.strip() or 0))
        return statistics.median(walls), statistics.median(inner)

    out = {}
    for label, env in (("lambda", {**local_env, **lambda_env}), ("local", local_env)):
        empty = run("print(0)", env)[0]
        for module in ("handler.core", "handler.api"):
            wall, inner = run(probe.format(module), env)
            out[label, module] = (inner, wall - empty)
    # -X importtime: the heaviest third-party packages under handler.api (max cumulative, any depth)
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import handler.api"], cwd=repo,
                          env={**local_env, **lambda_env}, capture_output=True, text=True, check=True)
    top = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s+(\S+)", line)
        if m and not m.group(3).startswith("handler"):
            name = m.group(3).split(".")[0]
            top[name] = max(top.get(name, 0), int(m.group(2)))
    out["top"] = sorted(top.items(), key=lambda kv: -kv[1])[:8]
    return out


def fmt_s(value) -> str:
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def fmt_mb(value) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def _ratio(inp_results: dict, resampling: str) -> tuple[float | None, str]:
    ours, peer = inp_results.get(f"ours_{resampling}", {}), inp_results.get(f"riotiler_{resampling}", {})
    if "median_s" not in ours or "median_s" not in peer:
        both_timeout = ours.get("timeout") and peer.get("timeout")
        return None, "both timeout" if both_timeout else "n/a"
    value = ours["median_s"] / peer["median_s"]
    if any(abs(a - b) > 1 for a, b in zip(ours.get("shape", ()), peer.get("shape", ()))):
        return None, f"{value:.2f} (different output size)"
    return value, f"{value:.3f}" + (" ✅" if value <= TARGET_RATIO else " ❌")


def _cell(r: dict | None) -> str:
    if r is None:
        return ""
    if "error" in r:
        return "timeout" if r.get("timeout") else "n/a"
    return f"{fmt_s(r['median_s'])} · {fmt_mb(r['peak_mb'])} MB"


def gdal_translate_note(available: bool) -> str:
    """Which GDAL the gdal_translate column ran: the binary on PATH is not the wheel's libgdal."""
    if not available:
        return ("gdal_translate: n/a (binary not on PATH; the rasterio wheel bundles libgdal only; "
                "`apt-get install gdal-bin` provides one).")
    import rasterio

    version = subprocess.run(["gdal_translate", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"gdal_translate: {version} from PATH (e.g. Debian's gdal-bin), not the wheel's GDAL "
            f"{rasterio.__gdal_version__} that ours and rio-tiler use; same GDAL settings.")


def code_version(repo: Path) -> str:
    """Commit of the code under test, '+dirty' when handler/ has uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "handler"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{repo} (not a git checkout)"
    return f"commit {head}{'+dirty' if dirty else ''}"


def build_report(inputs: list[Input], remote: list[tuple[Input, dict]], imports: dict, args,
                 notes: list[str]) -> str:
    version = code_version(args.core_repo.resolve())
    if version != args.version_at_start:
        version = f"{args.version_at_start} -> {version} (the code changed during the run!)"
    lines = ["# Thumbnail benchmark results", "",
             f"`python -m bench.thumbnail_bench{' --quick' if args.quick else ''}` on {version}: size {args.size}, "
             f"median of up to {args.repeat} runs after 1 warm-up in a fresh worker process per (input, method), "
             f"Python {sys.version.split()[0]}, {os.cpu_count()} CPU(s), {time.strftime('%Y-%m-%d %H:%M')}.", "",
             "Cells: median time · peak RSS (VmHWM of that worker alone, MB). Ratio = ours / rio-tiler "
             f"preview with the same resampling (target <= {TARGET_RATIO}). `timeout` = worker killed after "
             f"{args.timeout:.0f} s. Per-run details (first call, RSS after imports, PNG size) are further down.", "",
             "## Local files", "",
             "| input | ours average | ours nearest | rio-tiler nearest | rio-tiler average | naive | gdal_translate "
             "| ratio average | ratio nearest |",
             "|---|---|---|---|---|---|---|---|---|"]
    for inp in inputs:
        label = (f"{inp.label} ({inp.shape[1]}x{inp.shape[0]}, {inp.size_mb:.0f} MB, "
                 f"ovr {','.join(map(str, inp.overviews)) or 'none'})")
        cells = [_cell(inp.results.get(m)) for m in ("ours_average", "ours_nearest", "riotiler_nearest",
                                                     "riotiler_average", "naive", "gdal_translate")]
        ratios = [_ratio(inp.results, "average")[1], _ratio(inp.results, "nearest")[1]]
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    if remote:
        lines += ["", "## Remote: /vsis3/ through moto on 127.0.0.1, bytes counted by a loopback proxy", "",
                  "One cold process per run (nothing cached between runs); median of the runs. moto copies the "
                  "whole object in Python for every range request, so remote times exaggerate the per-request "
                  "cost; byte and request counts are exact.", "",
                  "| input | method | median time | bytes fetched | requests (response sizes) | peak MB "
                  "| ours / rio-tiler (time; bytes) |",
                  "|---|---|---|---|---|---|---|"]
        for inp, results in remote:
            for i, method in enumerate(m for m in REMOTE_METHODS if m in results):
                r = results[method]
                label = f"{inp.label} ({inp.size_mb:.0f} MB object)" if i == 0 else ""
                if "error" in r:
                    lines.append(f"| {label} | {METHOD_LABEL[method]} | {_cell(r)} | | | | |")
                    continue
                ratio = ""
                peer = results.get("riotiler_" + method.split("_", 1)[1], {})
                if method.startswith("ours_") and "median_s" in peer:
                    ratio = f"{r['median_s'] / peer['median_s']:.2f}; {r['bytes'] / max(peer['bytes'], 1):.2f}"
                sizes = ", ".join(f"{size:,}" for size in r["sizes"])
                lines.append(f"| {label} | {METHOD_LABEL[method]} | {fmt_s(r['median_s'])} | {int(r['bytes']):,} | "
                             f"{int(r['requests'])} ({sizes}) | {fmt_mb(r['peak_mb'])} | {ratio} |")
    if imports:
        lines += ["", "## Import time (fresh interpreters, median)", "",
                  "| environment | module | `import` statement | whole process minus an empty interpreter | target |",
                  "|---|---|---|---|---|"]
        for label, env_name in (("lambda", "Lambda runtime variables (`LAMBDA_TASK_ROOT`)"), ("local", "local")):
            for module in ("handler.core", "handler.api"):
                inner, process = imports[label, module]
                target = ""
                if label == "lambda" and module == "handler.api":
                    target = f"<= {TARGET_IMPORT_S} s {'✅' if inner <= TARGET_IMPORT_S else '❌'}"
                lines.append(f"| {env_name} | {module} | {fmt_s(inner)} | {fmt_s(process)} | {target} |")
        lines += ["", "Locally the X-Ray SDK (imported by Powertools' Tracer) also builds a botocore client for "
                  "centralised sampling; in Lambda it samples locally and builds none, hence the two rows.",
                  "", "Heaviest packages under `handler.api` with the Lambda variables (`python -X importtime`, "
                  "cumulative, nested ones counted in their parents too, inflated by the tracing): "
                  + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in imports["top"])]
    targets = summarise_targets(inputs)
    if targets:
        lines += ["", "## Targets", ""] + targets
    if notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in notes]
    lines += ["", "## Details", "",
              "| input | method | median | runs | first call | peak MB | RSS after imports MB "
              "| ru_maxrss MB (inherited) "
              "| output | PNG bytes |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for inp in inputs:
        for method in LOCAL_METHODS:
            r = inp.results.get(method)
            if r is None or "error" in r:
                if r is not None:
                    lines.append(f"| {inp.label} | {METHOD_LABEL[method]} | {r['error']} | | | | | | | |")
                continue
            lines.append(f"| {inp.label} | {METHOD_LABEL[method]} | {fmt_s(r['median_s'])} | {len(r['times_s'])} | "
                         f"{fmt_s(r['first_s'])} | {fmt_mb(r['peak_mb'])} | {fmt_mb(r['baseline_mb'])} | "
                         f"{fmt_mb(r.get('ru_maxrss_mb'))} | "
                         f"{r['shape'][1]}x{r['shape'][0]} | {r['png_bytes']:,} |")
    return "\n".join(lines) + "\n"


def summarise_targets(inputs: list[Input]) -> list[str]:
    out = []
    ratios = []
    for inp in inputs:
        for res in ("nearest", "average"):
            value = _ratio(inp.results, res)[0]
            if value is not None:
                ratios.append((inp.label, res, value))
    if ratios:
        worst = max(ratios, key=lambda r: r[2])
        met = sum(r[2] <= TARGET_RATIO for r in ratios)
        missed = "; ".join(f"{label} {res} {value:.2f}" for label, res, value in ratios if value > TARGET_RATIO)
        out.append(f"- time <= {TARGET_RATIO}x rio-tiler: met on {met}/{len(ratios)} (input, resampling) pairs "
                   f"with the same output size; worst {worst[2]:.2f} ({worst[0]}, {worst[1]})."
                   + (f" Missed: {missed}." if missed else ""))
        timeouts = [f"{i.label} {m.split('_')[1]}" for i in inputs for m in ("ours_average", "ours_nearest")
                    if i.results.get(m, {}).get("timeout")]
        if timeouts:
            out.append(f"- ours timed out on: {'; '.join(timeouts)}.")
    by_label = {i.label: i.results for i in inputs}
    for method in ("ours_average", "ours_nearest"):
        peak = {label: r[method]["peak_mb"] for label, r in by_label.items()
                if label.startswith("synthetic") and "peak_mb" in r.get(method, {})}
        if not peak:
            continue
        big = [p for label, p in peak.items() if "10980" in label]
        verdict = "" if not big else (" ✅" if max(big) <= TARGET_PEAK_MB else " ❌")
        pairs = []
        for kind in ("COG", "no overviews"):
            small, large = peak.get(f"synthetic 5490 {kind}"), peak.get(f"synthetic 10980 {kind}")
            if small is not None and large is not None:
                pairs.append(f"{kind} {small:.0f} -> {large:.0f} MB ({large - small:+.0f})")
        out.append(f"- {METHOD_LABEL[method]} peak RSS on the 10980 scenes: max {fmt_mb(max(big) if big else None)} MB "
                   f"(target <= {TARGET_PEAK_MB}){verdict}. 5490 -> 10980 (4x the pixels): "
                   f"{'; '.join(pairs) or 'n/a'}.")
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="repeat 2, skip the 10980 scene without overviews")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=None, help="timed runs per method (default 5, quick 2)")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="stop repeating a method after this many seconds (>= 1 timed run)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    parser.add_argument("--interleave", choices=("pixel", "band"), default="pixel",
                        help="interleaving of the synthetic 12-band scenes (GDAL default: pixel)")
    parser.add_argument("--methods", default=",".join(LOCAL_METHODS))
    parser.add_argument("--only", default="", help="regex: only inputs whose label matches")
    parser.add_argument("--no-remote", action="store_true")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--no-import-time", action="store_true")
    parser.add_argument("--remote-runs", type=int, default=None, help="cold processes per remote method")
    parser.add_argument("--timeout", type=float, default=45.0,
                        help="kill a worker (warm-up + repeats) after this many seconds; reported as timeout")
    parser.add_argument("--core-repo", type=Path, default=REPO,
                        help="checkout whose handler/ the 'ours' workers import (e.g. a patched copy)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    # worker mode (internal)
    parser.add_argument("--worker", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--indexes", help=argparse.SUPPRESS)
    parser.add_argument("--in-max", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeat is None:
        args.repeat = 2 if args.quick else 5
    if args.worker:
        worker_main(args)
        return

    notes: list[str] = []
    args.version_at_start = code_version(args.core_repo.resolve())
    methods = [m for m in args.methods.split(",") if m]
    gdal_env = _load_gdal_env()
    env = worker_env(args.core_repo.resolve())
    if args.core_repo.resolve() != REPO:
        notes.append(f"'ours' = handler/ of {args.core_repo.resolve()} (not this checkout).")
    os.environ.update(gdal_env)  # the orchestrator reads metadata with the same settings
    has_gdal_translate = shutil.which("gdal_translate") is not None
    if "gdal_translate" in methods:
        notes.append(gdal_translate_note(has_gdal_translate))

    inputs: list[Input] = []
    if args.data_dir.is_dir():
        for path in sorted(args.data_dir.glob("*.tif")):
            inputs.append(describe_input(path.name, str(path), args.size))
    else:
        log(f"SKIP real files: {args.data_dir} does not exist.")
        notes.append(f"Real Sentinel-2 files skipped: {args.data_dir} is absent.")

    cog_10980 = None
    if not args.no_synthetic:
        sources = sorted(args.data_dir.glob(SOURCE_GLOB)) if args.data_dir.is_dir() else []
        if not sources:
            log(f"SKIP synthetic scenes: no {SOURCE_GLOB} in {args.data_dir}.")
            notes.append("Synthetic scenes skipped: the 12-band source file is absent.")
        else:
            for side in (5490, 10980):
                log(f"synthetic {side}x{side} ({args.interleave}-interleaved) in {args.cache_dir}")
                cog, plain = build_synthetic(sources[0], args.cache_dir, side, args.interleave)
                inputs.append(describe_input(f"synthetic {side} COG", str(cog), args.size))
                if side == 10980:
                    cog_10980 = inputs[-1]
                if not (args.quick and side == 10980):
                    inputs.append(describe_input(f"synthetic {side} no overviews", str(plain), args.size))
            notes.append(f"Synthetic scenes: the 120x120 12-band BigEarthNet tile repeated to NxN, uint16, "
                         f"{args.interleave}-interleaved, 512x512 deflate+predictor 2; cached in {args.cache_dir}.")

    if args.only:
        inputs = [i for i in inputs if re.search(args.only, i.label)]

    for inp in inputs:
        for method in methods:
            if method == "gdal_translate" and not has_gdal_translate:
                inp.results[method] = {"error": "binary not available"}
                continue
            log(f"{inp.label}: {method}")
            inp.results[method] = run_worker(method, inp, args, env, args.repeat, warmup=True)
            r = inp.results[method]
            if "median_s" in r:
                log(f"    median {fmt_s(r['median_s'])} (first {fmt_s(r['first_s'])}, n={len(r['times_s'])}), "
                    f"peak {r['peak_mb']:.0f} MB (base {r['baseline_mb']:.0f})")
            else:
                log(f"    error: {r['error']}")

    remote = []
    if not args.no_remote and cog_10980 is not None and (not args.only or re.search(args.only, cog_10980.label)):
        runs = args.remote_runs or (1 if args.quick else 3)
        log(f"remote: {cog_10980.label} through moto ({runs} cold run(s) per method)")
        with remote_s3(Path(cog_10980.path)) as (extra_env, proxy, vsipath):
            rinp = Input(cog_10980.label, vsipath, cog_10980.indexes, cog_10980.in_max, cog_10980.shape,
                         cog_10980.size_mb, cog_10980.overviews)
            results = {}
            for method in [m for m in REMOTE_METHODS if m in methods]:
                samples = []
                for _ in range(runs):
                    proxy.reset()
                    r = run_worker(method, rinp, args, {**env, **extra_env}, repeat=1, warmup=False)
                    if "error" in r:
                        samples = [r]
                        break
                    r.update(bytes=proxy.bytes, requests=proxy.requests, multirange=proxy.multirange,
                             sizes=[size for _, _, _, size in proxy.log])
                    samples.append(r)
                if "error" in samples[0]:
                    results[method] = samples[0]
                    log(f"    {method}: error {samples[0]['error']}")
                    continue
                results[method] = {
                    "median_s": statistics.median(s["median_s"] for s in samples),
                    "bytes": statistics.median(s["bytes"] for s in samples),
                    "requests": statistics.median(s["requests"] for s in samples),
                    "peak_mb": max(s["peak_mb"] for s in samples),
                    "multirange": max(s["multirange"] for s in samples),
                    "sizes": samples[0]["sizes"],
                }
                r = results[method]
                log(f"    {method}: {fmt_s(r['median_s'])}, {r['bytes']:,} bytes in {r['requests']} requests "
                    f"{r['sizes']}")
                if r["multirange"]:
                    notes.append(f"remote {method}: {r['multirange']} multi-range request(s) (moto answers "
                                 "those with the whole object).")
            remote.append((rinp, results))

    imports = {}
    if not args.no_import_time:
        log("import time")
        imports = measure_import(3 if args.quick else 5, args.core_repo.resolve())

    report = build_report(inputs, remote, imports, args, notes)
    print(report)
    args.output.write_text(report)
    log(f"wrote {args.output}")


if __name__ == "__main__":
    main()
