"""The API function on Lambda's terms: cold start, warm latency, peak memory and cost per memory size.

    python -m bench.lambda_bench                              # 512, 1024, 1769, 3008 MB -> bench/RESULTS-lambda.md
    python -m bench.lambda_bench --memory 1769,3008 --warm 20 --cold 5
    python -m bench.lambda_bench --image apifunction:python3.12-v1 --output /tmp/r.md --chart /tmp/r.png

Runs the image `sam build` produces (`apifunction:python3.12-v1`, built by `sam build` or `.ci/sam.sh`)
under the Lambda Runtime Interface Emulator that is its entrypoint, in Docker with the CPU and memory
Lambda gives a function of that size: `--memory=<MB>m` and `--cpus=<MB>/1769` (Lambda's one vCPU per
1769 MB), capped at this machine's core count (on a 2-core machine 3008 MB gets 1.70 CPUs, as on Lambda,
but 5307 MB and more would get 2, not 3-6: not comparable, and not run by default). Every container uses
`--network host` and the RIE listens on 127.0.0.1 only.

For each memory size:
* cold start: `--cold` fresh containers; the wall time from `docker run` to the first response of the
  small committed event (events/http-api-thumbnail.json: a 96 x 64 upload, 64 px thumbnail), and the RIE's
  Duration of that first invoke (the RIE starts the runtime on the first invoke, so that Duration holds
  the interpreter start, `import handler.api` and the first render: its "Init Duration" is always ~0 and
  is not used);
* warm: in the first container, `--warm` invokes each of the small event and of a ~3.5 MB upload
  (a 1160 x 1160 12-band synthetic scene from events/make_events.py, 512 px thumbnail, the API's default),
  p50/p95 of the RIE's handler Duration (what Lambda bills) and of the client's wall time;
* key: `--warm-key` invokes of a `key=` thumbnail (512 px) of the 10980 x 10980 12-band COG that
  bench/thumbnail_bench.py caches (`--key-scene`), in the input bucket of a moto S3 server on 127.0.0.1
  (GDAL range reads over loopback HTTP: no network latency, unlike S3); skipped when that file is missing;
* trigger (`--trigger`): the S3 trigger (handler.s3_trigger.handler) on an S3 put of the 10980 x 10980
  12-band scene without overviews that bench/thumbnail_bench.py caches (`--trigger-scene`), at
  `--trigger-memory` sizes, with the COG copy (the template's COG_COPY_MAX_BYTES) and without (0): one
  fresh container each, warmed by a put of a 600 x 400 scene first; one timed invoke (a scene takes
  seconds to minutes);
* the core alone (`--local-memory`, default 1769 and 3008 MB): `--local-repeat` 512 px thumbnails (and with
  `--local-cog` one COG copy) of the local `--trigger-scene` in the image's python, no RIE or moto, once with
  the thread count the core takes from the container's CPU quota (`auto`) and once with 1 (`--local-threads`);
* peak memory: VmHWM of the container's python process (the RIE's "Max Memory Used" is just the memory
  size), and the container cgroup's peak usage (includes the page cache of the image's files);
* billed GB-s and dollars per 1,000 warm requests of the 3.5 MB upload: ceil(p50 Duration in ms) x memory,
  at the us-east-1 prices assumed below, plus $0.20 per million requests. The arm64 column applies the arm64
  price to the x86_64 durations measured here: a price comparison, not a measurement of arm64.

Needs Docker (a dockerd this user can reach) and the image; the venv's numpy/rasterio for the events,
and matplotlib (or else Pillow) for the chart. Progress goes to stderr.
"""

import argparse
import base64
import contextlib
import datetime
import hashlib
import json
import math
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bench.common import free_port, loadavg, log, machine
from bench.core_alone import CORE_ALONE
from bench.inputs import synthetic_paths
from bench.report import percentile as pct
from bench.report import table
from events import make_events
from handler.core.threads import MB_PER_VCPU

ROOT = Path(__file__).resolve().parent.parent

IMAGE = "apifunction:python3.12-v1"
# us-east-1 list prices assumed (Lambda pricing page): per GB-second of duration, and per request.
PRICE_GBS = {"x86_64": 0.0000166667, "arm64": 0.0000133334}
PRICE_REQUEST = 0.20 / 1_000_000
UPLOAD_SIDE = 1160  # a 1160 x 1160 x 12 synthetic scene: ~3.5 MB deflated
ENV = {  # what the template and Lambda set, plus dummy credentials (nothing here talks to AWS)
    "POWERTOOLS_SERVICE_NAME": "sentinel2-thumbnails",
    "POWERTOOLS_METRICS_NAMESPACE": "Sentinel2Thumbnails",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "INPUT_PREFIX": "uploads/",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_TIMEOUT": "30",
    "_HANDLER": "handler.api.handler",
}


def docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True).stdout.strip()


def make_upload_event(side: int = UPLOAD_SIDE, size: int = 512) -> tuple[bytes, int]:
    """An HTTP API event uploading a side x side 12-band scene; and the scene's size in bytes."""
    tiff = make_events.synthetic_geotiff(side, side)
    body = make_events.multipart({"target_resolution": str(size)}, "image_file", make_events.TIFF_NAME, tiff)
    event = make_events.http_api_event(
        "POST", "/thumbnail", body, f"multipart/form-data; boundary={make_events.BOUNDARY}"
    )
    return json.dumps(event).encode(), len(tiff)


class MotoS3:
    """A moto S3 server on 127.0.0.1 with the input and output buckets, `scene` uploaded under KEY."""

    INPUT, OUTPUT, KEY = "bench-input", "bench-output", "uploads/synthetic-10980-cog.tif"

    def __init__(self, scene: Path | None, trigger_scene: Path | None = None):
        self.scene, self.trigger_scene, self.port = scene, trigger_scene, free_port()

    def __enter__(self) -> "MotoS3":
        import boto3

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint, timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for bucket in (self.INPUT, self.OUTPUT):
            s3.create_bucket(Bucket=bucket)
        if self.scene:
            s3.upload_file(str(self.scene), self.INPUT, self.KEY)
        if self.trigger_scene:
            s3.upload_file(str(self.trigger_scene), self.INPUT, "uploads/no-overviews.tif")
            s3.put_object(Bucket=self.INPUT, Key="uploads/warmup.tif", Body=make_events.synthetic_geotiff(600, 400))
        self.s3 = s3
        self.env = {
            "INPUT_BUCKET": self.INPUT,
            "OUTPUT_BUCKET": self.OUTPUT,
            "AWS_ENDPOINT_URL_S3": endpoint,
            "AWS_S3_ENDPOINT": f"127.0.0.1:{self.port}",
            "AWS_HTTPS": "NO",
            "AWS_VIRTUAL_HOSTING": "FALSE",
        }
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def make_key_event(key: str, size: int = 512) -> bytes:
    """An HTTP API event asking for a thumbnail of `key` in the input bucket (a form without a file)."""
    body = b"".join(
        f'--{make_events.BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"key": key, "target_resolution": size}.items()
    )
    body += f"--{make_events.BOUNDARY}--\r\n".encode()
    event = make_events.http_api_event(
        "POST", "/thumbnail", body, f"multipart/form-data; boundary={make_events.BOUNDARY}"
    )
    return json.dumps(event).encode()


class Container:
    """The image under its RIE entrypoint with Lambda's limits for `memory` MB; stopped on exit."""

    def __init__(self, image: str, memory: int, cpus: float, env: dict[str, str] | None = None):
        self.image, self.memory, self.cpus, self.env = image, memory, cpus, env or {}
        self.port, self.api_port = free_port(), free_port()
        self.name = f"lambda-bench-{os.getpid()}-{memory}-{self.port}"
        self.url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"

    def __enter__(self) -> "Container":
        env = [
            arg
            for name, value in {**ENV, **self.env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory)}.items()
            for arg in ("-e", f"{name}={value}")
        ]
        self.t_start = time.perf_counter()
        docker(
            "run",
            "-d",
            "--name",
            self.name,
            "--network",
            "host",
            *limits(self.memory, self.cpus),
            f"--memory-swap={self.memory}m",
            *env,
            "--entrypoint",
            "/usr/local/bin/aws-lambda-rie",
            self.image,
            "--runtime-interface-emulator-address",
            f"127.0.0.1:{self.port}",
            "--runtime-api-address",
            f"127.0.0.1:{self.api_port}",
            "/var/runtime/bootstrap",
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.01)
        else:
            raise RuntimeError(f"the RIE of {self.name} did not listen: {docker('logs', self.name, check=False)}")
        self.t_listen = time.perf_counter() - self.t_start
        return self

    def __exit__(self, *exc) -> None:
        docker("rm", "-f", self.name, check=False)

    def invoke_raw(self, event: bytes) -> tuple[float, str]:
        t = time.perf_counter()
        raw = urllib.request.urlopen(urllib.request.Request(self.url, data=event), timeout=1200).read()
        return time.perf_counter() - t, raw.decode()

    def invoke(self, event: bytes) -> float:
        """Wall seconds of one invoke; the result must be a 200 PNG response."""
        t = time.perf_counter()
        raw = urllib.request.urlopen(urllib.request.Request(self.url, data=event), timeout=120).read()
        wall = time.perf_counter() - t
        out = json.loads(raw)
        if out.get("statusCode") != 200 or base64.b64decode(out.get("body", ""))[:4] != b"\x89PNG":
            raise RuntimeError(f"not a PNG response: {raw[:300]!r}")
        return wall

    def durations(self) -> list[float]:
        """The RIE's REPORT Duration (ms) of every invoke so far, in order."""
        logs = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        return [
            float(m) for m in re.findall(r"REPORT RequestId: \S+.*?\tDuration: ([0-9.]+) ms", logs.stdout + logs.stderr)
        ]

    def peak_memory(self) -> tuple[float | None, float | None]:
        """(VmHWM of the container's python process, the cgroup's peak usage), in MB; None if unreadable."""
        hwm = None
        for line in docker("top", self.name, "-o", "pid,comm", check=False).splitlines()[1:]:
            pid, comm = line.split(None, 1)
            if comm.startswith("python"):
                status = Path(f"/proc/{pid}/status").read_text()
                hwm = int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
        cid = docker("inspect", self.name, "--format", "{{.Id}}")
        for path in (
            f"/sys/fs/cgroup/memory/docker/{cid}/memory.max_usage_in_bytes",  # v1, cgroupfs
            f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.peak",  # v2, systemd
            f"/sys/fs/cgroup/docker/{cid}/memory.peak",
        ):  # v2, cgroupfs
            try:
                return hwm, int(Path(path).read_text()) / 1024**2
            except (OSError, ValueError):
                continue
        return hwm, None


def measure_trigger(image: str, memory: int, cpus: float, moto: "MotoS3", cog_copy: bool, run: int) -> dict:
    """The trigger on the no-overview scene in a fresh container (copied to a new key: never "already processed")."""
    keys = {}
    for name, source in (("warmup", "uploads/warmup.tif"), ("scene", "uploads/no-overviews.tif")):
        keys[name] = f"uploads/run{run}-{name}.tif"
        moto.s3.copy_object(Bucket=MotoS3.INPUT, Key=keys[name], CopySource={"Bucket": MotoS3.INPUT, "Key": source})
    size = {name: moto.s3.head_object(Bucket=MotoS3.INPUT, Key=key)["ContentLength"] for name, key in keys.items()}
    env = {
        **moto.env,
        "_HANDLER": "handler.s3_trigger.handler",
        "AWS_LAMBDA_FUNCTION_TIMEOUT": "600",  # template
        "COG_COPY_MAX_BYTES": "1073741824" if cog_copy else "0",
    }
    row = {"memory": memory, "cpus": cpus, "cog_copy": cog_copy, "load_before": loadavg()}
    with Container(image, memory, cpus, env) as box:
        box.invoke_raw(json.dumps(make_events.s3_put_event((MotoS3.INPUT, keys["warmup"], size["warmup"]))).encode())
        row["wall_s"], result = box.invoke_raw(
            json.dumps(make_events.s3_put_event((MotoS3.INPUT, keys["scene"], size["scene"]))).encode()
        )
        row["duration_s"] = box.durations()[-1] / 1000
        row["rss_mb"], row["cgroup_mb"] = box.peak_memory()
    try:
        row["status"] = "; ".join(
            " ".join(str(v) for k, v in item.items() if k in ("status", "reason", "cog"))
            for item in json.loads(result)["results"]
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        row["status"] = result[:160]
    row["gbs"], row["usd"] = cost_per_1000(row["duration_s"] * 1000, memory, "x86_64")
    row["load_after"] = loadavg()
    log(
        f"  trigger {memory} MB, COG copy {cog_copy}: {row['duration_s']:.1f} s, {row['status']}, "
        f"peak RSS {row['rss_mb']} MB, load {row['load_after']}"
    )
    return row


def trigger_section(rows: list[dict], args) -> list[str]:
    lines = [
        "",
        f"## The S3 trigger on a 10980 x 10980 x 12 scene without overviews ({Path(args.trigger_scene).name})",
        "",
        "One fresh container per row, warmed by a 600 x 400 put; the Duration of the one timed invoke (RIE). "
        "With the COG copy the trigger also writes a COG of the scene to cogs/ in the output bucket. The scene "
        "is read from and written to the moto server (one Python process outside the container, sharing this "
        "machine's cores): when the durations do not fall with more CPU, moto is the bottleneck and these "
        "numbers say nothing about the function's speed on S3. The cgroup peak includes the page cache of the "
        "COG written to the container's /tmp (on Lambda, /tmp is ephemeral storage).",
        "",
        *table(
            [
                "memory MB",
                "CPUs",
                "COG copy",
                "duration s",
                "status",
                "python peak RSS MB",
                "cgroup peak MB",
                "$ / 1k scenes x86_64",
                "load before → after",
            ]
        ),
    ]
    for r in rows:
        rss = f"{r['rss_mb']:.0f}" if r["rss_mb"] else "n/a"
        cg = f"{r['cgroup_mb']:.0f}" if r["cgroup_mb"] else "n/a"
        lines.append(
            f"| {r['memory']} | {r['cpus']:.2f} | {'yes' if r['cog_copy'] else 'no'} | {r['duration_s']:.1f} "
            f"| {r['status']} | {rss} | {cg} | {r['usd']:.4f} | {r['load_before']} → {r['load_after']} |"
        )
    return lines


def cost_per_1000(duration_ms: float, memory: int, arch: str) -> tuple[float, float]:
    """(billed GB-s, dollars) for 1,000 requests of `duration_ms` each at `memory` MB."""
    gbs = 1000 * math.ceil(duration_ms) / 1000 * memory / 1024
    return gbs, gbs * PRICE_GBS[arch] + 1000 * PRICE_REQUEST


def measure(
    image: str,
    memory: int,
    cpus: float,
    small: bytes,
    upload: bytes,
    cold: int,
    warm: int,
    key: bytes | None = None,
    warm_key: int = 0,
    env: dict[str, str] | None = None,
) -> dict:
    row = {"memory": memory, "cpus": cpus, "load_before": loadavg(), "key_p50": None, "key_p95": None}
    starts, first_durations, listens = [], [], []
    for index in range(cold):
        with Container(image, memory, cpus, env) as box:
            first_wall = box.invoke(small)
            starts.append(time.perf_counter() - box.t_start)
            listens.append(box.t_listen)
            first_durations.append(box.durations()[0])
            if index == 0:  # the warm runs, in the first container
                small_wall = [box.invoke(small) for _ in range(warm)]
                upload_first = box.invoke(upload)
                upload_wall = [box.invoke(upload) for _ in range(warm)]
                if key is not None:
                    box.invoke(key)
                    key_wall = [box.invoke(key) for _ in range(warm_key)]
                durations = box.durations()
                small_ms, upload_ms = durations[1 : 1 + warm], durations[2 + warm : 2 + 2 * warm]
                if key is not None:
                    key_ms = durations[3 + 2 * warm :]
                    row.update(
                        key_p50=pct(key_ms, 0.5), key_p95=pct(key_ms, 0.95), key_wall_p50=pct(key_wall, 0.5) * 1000
                    )
                row["rss_mb"], row["cgroup_mb"] = box.peak_memory()
        log(
            f"  {memory} MB cold #{index + 1}: docker run -> first response {starts[-1]:.2f} s "
            f"(RIE listening {listens[-1]:.2f} s, first invoke {first_wall:.2f} s)"
        )
    row.update(
        cold_s=statistics.median(starts),
        cold_all=starts,
        listen_s=statistics.median(listens),
        first_ms=statistics.median(first_durations),
        small_p50=pct(small_ms, 0.5),
        small_p95=pct(small_ms, 0.95),
        small_wall_p50=pct(small_wall, 0.5) * 1000,
        upload_first_s=upload_first,
        upload_p50=pct(upload_ms, 0.5),
        upload_p95=pct(upload_ms, 0.95),
        upload_wall_p50=pct(upload_wall, 0.5) * 1000,
        load_after=loadavg(),
    )
    for arch in PRICE_GBS:
        row[f"gbs_{arch}"], row[f"usd_{arch}"] = cost_per_1000(row["upload_p50"], memory, arch)
    if key is not None:
        for arch in PRICE_GBS:
            row[f"key_usd_{arch}"] = cost_per_1000(row["key_p50"], memory, arch)[1]
    log(
        f"  {memory} MB: key p50 {row['key_p50']} ms; warm upload p50 {row['upload_p50']:.0f} ms, "
        f"p95 {row['upload_p95']:.0f} ms; "
        f"small p50 {row['small_p50']:.0f} ms; python peak RSS {row['rss_mb']} MB; load {row['load_after']}"
    )
    return row


def docker_machine() -> str:
    """This machine, its Docker and its cgroup version."""
    cgroup = "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"
    return f"{machine()}, Docker {docker('version', '--format', '{{.Server.Version}}', check=False)}, cgroup {cgroup}"


def limits(memory: int, cpus: float) -> tuple[str, ...]:
    """docker run options giving a container Lambda's memory and CPU share."""
    return (f"--cpus={cpus:.3f}", f"--memory={memory}m")


def python_in_image(image: str, script: str, *args: str, options: tuple[str, ...] = ()) -> str:
    """stdout of `python3 -c script args` in a throwaway container of `image` (host network, /var/task)."""
    run = ("run", "--rm", "--network", "host", *options, "-w", "/var/task", "--entrypoint", "/var/lang/bin/python3")
    return docker(*run, image, "-c", script, *args, check=False)


def image_matches_head(image: str) -> str:
    """Whether handler/ in the image is the checkout's HEAD (the image may have been built from a work tree)."""
    script = (
        "import hashlib, pathlib; [print(hashlib.sha1(p.read_bytes()).hexdigest(), p) "
        "for p in sorted(pathlib.Path('handler').rglob('*')) if p.is_file() and '__pycache__' not in p.parts]"
    )
    inside = python_in_image(image, script)
    image_files = dict(line.split(" ", 1)[::-1] for line in inside.splitlines())
    head = subprocess.run(
        ["git", "ls-tree", "-r", "HEAD", "--name-only", "handler"], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    differ = [
        path
        for path in head
        if path in image_files  # the image leaves out the development modules (.dockerignore)
        and image_files[path]
        != hashlib.sha1(
            subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True).stdout
        ).hexdigest()
    ]
    extra = sorted(set(image_files) - set(head))
    if not differ and not extra:
        return "yes (every handler/ file in the image is HEAD's)"
    return f"no: {len(differ)} handler/ files differ from HEAD ({', '.join(differ[:5])}), {len(extra)} not in HEAD"


def core_threads(image: str, memory: int, cpus: float) -> str:
    """The thread count the image's handler.core takes from the CPUs it has under these limits."""
    script = "from handler.core.threads import core_threads; print(core_threads())"
    return python_in_image(image, script, options=limits(memory, cpus)) or "?"


def local_run(image: str, memory: int, cpus: float, scene: Path, repeat: int, cog: bool, threads: str) -> dict:
    """The thumbnail (and the COG copy) of a local scene without overviews in the image, under these limits,
    with the core's own thread count ("auto") or a fixed one: the core's CPU work without the RIE or moto
    (the scene is bind-mounted read-only)."""
    load = loadavg()
    out = python_in_image(
        image,
        CORE_ALONE,
        f"/data/{scene.name}",
        str(repeat),
        "1" if cog else "0",
        threads,
        "1",
        options=(*limits(memory, cpus), "-v", f"{scene.parent}:/data:ro"),
    )
    try:
        result = json.loads(out.splitlines()[-1])
    except (ValueError, IndexError):
        result = {"threads": "?", "render": [], "cog": [], "error": out[-200:]}
    result.update(
        image=image, memory=memory, cpus=cpus, load=f"{load} → {loadavg()}", threads=f"{result['threads']} ({threads})"
    )
    log(f"  local {image} {memory} MB: threads {result['threads']}, render {result['render']}, cog {result['cog']}")
    return result


def local_section(rows: list[dict], args) -> list[str]:
    lines = [
        "",
        f"### The core alone: a 512 px thumbnail of the local {Path(args.trigger_scene).name} "
        "(10980 x 10980 x 12, no overviews) and its COG copy",
        "",
        f"`docker run --cpus --memory` of each image's python on the bind-mounted file (no RIE, no moto): "
        f"median of {args.local_repeat} renders after one warm-up; one COG copy (`handler.core.cog.write_cog`) "
        "into the container's /tmp. Core threads: the count `handler.core.threads.core_threads()` takes from the "
        "container's CPU quota (auto), or fixed (a fixed count keeps the GDAL block cache of the auto count: "
        "64 MB per auto thread).",
        "",
        *table(
            [
                "image",
                "memory MB",
                "CPUs",
                "core threads",
                "thumbnail s (median)",
                "thumbnail runs s",
                "COG copy s",
                "load before → after",
            ]
        ),
    ]
    for r in rows:
        render = f"{statistics.median(r['render']):.2f}" if r["render"] else "n/a"
        runs = ", ".join(f"{x:.2f}" for x in r["render"])
        cog = ", ".join(f"{x:.1f}" for x in r["cog"]) or "n/a"
        lines.append(
            f"| `{r['image']}` | {r['memory']} | {r['cpus']:.2f} | {r['threads']} | {render} | {runs} "
            f"| {cog} | {r['load']} |"
        )
    return lines


def compare_section(rows: list[dict], args) -> list[str]:
    lines = [
        "",
        f"## `{args.image}` against `{args.compare_image}`",
        "",
        "The same runs at each memory size, one image after the other; core threads is what each image's "
        "`handler.core` sets under those limits. " + (args.compare_note or ""),
        "",
        *table(
            [
                "image",
                "memory MB",
                "CPUs",
                "core threads",
                "cold start s",
                "1st invoke ms",
                "warm upload p50 / p95 ms",
                "key= p50 / p95 ms",
                "python peak RSS MB",
                "$ / 1k uploads x86_64",
                "load before → after",
            ]
        ),
    ]
    for r in rows:
        key = f"{r['key_p50']:.0f} / {r['key_p95']:.0f}" if r["key_p50"] is not None else "n/a"
        rss = f"{r['rss_mb']:.0f}" if r["rss_mb"] else "n/a"
        lines.append(
            f"| `{r['image']}` | {r['memory']} | {r['cpus']:.2f} | {r['threads']} | {r['cold_s']:.2f} "
            f"| {r['first_ms']:.0f} | {r['upload_p50']:.0f} / {r['upload_p95']:.0f} | {key} | {rss} "
            f"| {r['usd_x86_64']:.5f} | {r['load_before']} → {r['load_after']} |"
        )
    return lines


def report(rows: list[dict], args, meta: dict) -> str:
    lines = [
        "# The API function on Lambda's terms (`python -m bench.lambda_bench`)",
        "",
        "Command: `python -m bench.lambda_bench " + " ".join(f"'{a}'" if " " in a else a for a in sys.argv[1:]) + "`",
        "",
        f"Run {meta['when']} on {meta['machine']}. Commit `{meta['commit']}`; image `{args.image}` "
        f"(`{meta['image_id'][:19]}`, built {meta['image_created']}); image code = HEAD: {meta['matches']}.",
        f"Load average (1/5/15 min) at the start {meta['load_start']}, at the end {meta['load_end']}; "
        "each row gives it before and after its runs.",
        "",
        f"Docker `--memory=<MB>m --cpus=<MB>/{MB_PER_VCPU}` (capped at {os.cpu_count()} cores), the image's RIE "
        f"entrypoint, `handler.api.handler`, API Gateway HTTP API (2.0) events. Cold: median of {args.cold} fresh "
        f"containers. Warm: {args.warm} invokes each after the cold one, RIE handler Duration (what Lambda "
        f"bills). Upload: a {meta['upload_bytes'] / 1e6:.2f} MB 12-band GeoTIFF ({UPLOAD_SIDE} x {UPLOAD_SIDE}) "
        "to a 512 px PNG; small: the committed 96 x 64 event to 64 px. key=: "
        + (
            f"{args.warm_key} warm invokes, a 512 px thumbnail of the {meta['key_mb']:.0f} MB 10980 x 10980 "
            "12-band COG in a moto S3 server on 127.0.0.1 (loopback: no S3 latency)."
            if "key_mb" in meta
            else "not run (no COG: run bench/thumbnail_bench.py once to cache it)."
        ),
        "",
        "| memory MB | CPUs | cold start s (docker run → 1st response) | 1st invoke ms (init + import + render) "
        "| warm small p50 / p95 ms | warm upload p50 / p95 ms | upload wall p50 ms | key= 10980² COG p50 / p95 ms "
        "| python peak RSS MB "
        "| cgroup peak MB | GB-s / 1k uploads | $ / 1k uploads x86_64 | $ / 1k uploads arm64 | $ / 1k key= x86_64 "
        "| load before → after |",
        "|" + "---|" * 15,
    ]
    for r in rows:
        rss = f"{r['rss_mb']:.0f}" if r["rss_mb"] else "n/a"
        cg = f"{r['cgroup_mb']:.0f}" if r["cgroup_mb"] else "n/a"
        key = f"{r['key_p50']:.0f} / {r['key_p95']:.0f}" if r["key_p50"] is not None else "n/a"
        key_usd = f"{r['key_usd_x86_64']:.5f}" if r["key_p50"] is not None else "n/a"
        capped = " (capped)" if r["cpus"] < r["memory"] / MB_PER_VCPU else ""
        lines.append(
            f"| {r['memory']} | {r['cpus']:.2f}{capped} | {r['cold_s']:.2f} | {r['first_ms']:.0f} "
            f"| {r['small_p50']:.0f} / {r['small_p95']:.0f} | {r['upload_p50']:.0f} / {r['upload_p95']:.0f} "
            f"| {r['upload_wall_p50']:.0f} | {key} | {rss} | {cg} | {r['gbs_x86_64']:.1f} | {r['usd_x86_64']:.5f} "
            f"| {r['usd_arm64']:.5f} | {key_usd} | {r['load_before']} → {r['load_after']} |"
        )
    lines += [
        "",
        "Cold starts, every container (s): "
        + "; ".join(f"{r['memory']} MB: " + ", ".join(f"{s:.2f}" for s in r["cold_all"]) for r in rows)
        + ".",
        "",
        "Prices assumed (us-east-1 list prices): x86_64 $0.0000166667 per GB-s, arm64 $0.0000133334 per GB-s, "
        "$0.20 per million requests; GB-s = ceil(warm upload p50 ms) x MB / 1024 per request. The arm64 column "
        "prices the x86_64 durations measured here; it is not an arm64 measurement. Cold starts are not in the "
        "cost columns.",
        "",
        "Caveats: this is Docker's CFS quota on a shared machine, not Firecracker; Lambda's own cold start adds "
        "the image pull/cache and sandbox creation, which the RIE does not have. The RIE reports "
        '"Init Duration: 0.x ms" and "Max Memory Used" = memory size, so neither is used: the first '
        "invoke's Duration carries the init, and the peak is the python process's VmHWM. "
        f"Sizes above {MB_PER_VCPU * (os.cpu_count() or 1)} MB would get no more CPU here than that "
        "(Lambda gives up to 6 vCPUs at 10240 MB).",
        "",
        f"![time and cost against memory]({Path(args.chart).name})",
        "",
    ]
    if meta.get("trigger"):
        lines += trigger_section(meta["trigger"], args) + [""]
    if meta.get("compare"):
        lines += compare_section(meta["compare"], args) + [""]
    if meta.get("local"):
        lines += local_section(meta["local"], args) + [""]
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> str:
    mem = [r["memory"] for r in rows]
    series = {
        "cold start (s)": [r["cold_s"] for r in rows],
        **(
            {"warm key= COG p50 (s)": [r["key_p50"] / 1000 for r in rows]}
            if all(r["key_p50"] is not None for r in rows)
            else {}
        ),
        "warm upload p50 (s)": [r["upload_p50"] / 1000 for r in rows],
        "warm small p50 (s)": [r["small_p50"] / 1000 for r in rows],
    }
    costs = {
        "x86_64 $/1k uploads": [r["usd_x86_64"] for r in rows],
        "arm64 $/1k uploads": [r["usd_arm64"] for r in rows],
    }
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return chart_pillow(mem, series, costs, path)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, values in series.items():
        ax1.plot(mem, values, marker="o", label=label)
    ax1.set(xlabel="memory (MB)", ylabel="seconds", title="time against memory", xticks=mem)
    ax1.grid(alpha=0.3)
    ax1.legend()
    for label, values in costs.items():
        ax2.plot(mem, values, marker="o", label=label)
    ax2.set(xlabel="memory (MB)", ylabel="dollars per 1,000 requests", title="cost against memory", xticks=mem)
    ax2.grid(alpha=0.3)
    ax2.legend()
    fig.suptitle("API function under the Lambda RIE, Docker --cpus = MB/1769 (2-core machine)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return "matplotlib"


def chart_pillow(mem: list[int], series: dict, costs: dict, path: Path) -> str:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (1100, 420), "white")
    draw = ImageDraw.Draw(img)
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]
    for panel, (title, data) in enumerate((("seconds", series), ("$ per 1,000 requests", costs))):
        x0, y0, w, h = 70 + panel * 550, 40, 440, 320
        top = max(max(v) for v in data.values()) * 1.1 or 1
        draw.rectangle([x0, y0, x0 + w, y0 + h], outline="black")
        draw.text((x0, 15), title, fill="black")
        xs = {m: x0 + 20 + (w - 40) * (m - mem[0]) / ((mem[-1] - mem[0]) or 1) for m in mem}
        for m in mem:
            draw.text((xs[m] - 12, y0 + h + 5), str(m), fill="black")
        draw.text((x0 - 60, y0), f"{top:.3g}", fill="black")
        for index, (label, values) in enumerate(data.items()):
            points = [(xs[m], y0 + h - h * v / top) for m, v in zip(mem, values)]
            draw.line(points, fill=colors[index], width=2)
            draw.text((x0 + 10, y0 + 10 + 14 * index), label, fill=colors[index])
    img.save(path)
    return "Pillow"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", default=IMAGE)
    parser.add_argument("--memory", default="512,1024,1769,3008", help="comma-separated MB")
    parser.add_argument("--cold", type=int, default=3, help="fresh containers per memory size")
    parser.add_argument("--warm", type=int, default=10, help="warm invokes per event")
    parser.add_argument(
        "--key-scene",
        default=str(synthetic_paths()[0]),
        help="the COG for the key= runs (bench/thumbnail_bench.py caches it); '' to skip them",
    )
    parser.add_argument("--warm-key", type=int, default=5, help="warm key= invokes per memory size")
    parser.add_argument(
        "--compare-image",
        help="also run --compare-memory sizes with --image and this image, "
        "one after the other (e.g. a change under test)",
    )
    parser.add_argument("--compare-memory", default="1769,3008")
    parser.add_argument(
        "--local-memory",
        default="1769,3008",
        help="sizes at which to time the core alone on the local --trigger-scene ('' to skip)",
    )
    parser.add_argument(
        "--local-threads",
        default="auto,1",
        help="core thread counts for those runs: auto (from the CPU quota) and/or numbers",
    )
    parser.add_argument("--local-repeat", type=int, default=3, help="renders per image, size and thread count")
    parser.add_argument("--local-cog", action="store_true", help="also time one COG copy per local run")
    parser.add_argument("--compare-note", help="how --compare-image was made (goes into the report)")
    parser.add_argument("--trigger", action="store_true", help="also time the S3 trigger on --trigger-scene")
    parser.add_argument("--trigger-scene", default=str(synthetic_paths()[1]))
    parser.add_argument("--trigger-memory", default="1024,1769,3008")
    parser.add_argument("--output", default=str(ROOT / "bench" / "RESULTS-lambda.md"))
    parser.add_argument("--chart", default=str(ROOT / "bench" / "RESULTS-lambda.png"))
    args = parser.parse_args()

    image_id = docker("image", "inspect", args.image, "--format", "{{.Id}}")  # fails if there is no image
    meta = {
        "when": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": docker_machine(),
        "commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip(),
        "image_id": image_id.removeprefix("sha256:"),
        "image_created": docker("image", "inspect", args.image, "--format", "{{.Created}}")[:19],
        "matches": image_matches_head(image_id),
        "load_start": loadavg(),
    }
    log(f"image {args.image} ({meta['image_id'][:12]}); image code = HEAD: {meta['matches']}")
    small = (ROOT / "events" / "http-api-thumbnail.json").read_bytes()
    upload, meta["upload_bytes"] = make_upload_event()
    with contextlib.ExitStack() as stack:
        key, env = None, {}
        key_scene = Path(args.key_scene) if args.key_scene and Path(args.key_scene).is_file() else None
        trigger_scene = Path(args.trigger_scene) if args.trigger and Path(args.trigger_scene).is_file() else None
        if args.trigger and not trigger_scene:
            log(f"no trigger runs: {args.trigger_scene!r} is not a file")
        if key_scene or trigger_scene:
            log(f"moto S3 on 127.0.0.1 with {key_scene} and {trigger_scene}")
            moto = stack.enter_context(MotoS3(key_scene, trigger_scene))
            env = moto.env
        if key_scene:
            key = make_key_event(MotoS3.KEY)
            meta["key_mb"] = key_scene.stat().st_size / 1e6
        else:
            log(f"no key= runs: {args.key_scene!r} is not a file")
        rows = []
        for memory in (int(m) for m in args.memory.split(",")):
            cpus = min(memory / MB_PER_VCPU, os.cpu_count() or 1)
            log(f"{memory} MB, --cpus={cpus:.3f}, load {loadavg()}")
            rows.append(measure(image_id, memory, cpus, small, upload, args.cold, args.warm, key, args.warm_key, env))
        if trigger_scene:
            meta["trigger"] = []
            for memory in (int(m) for m in args.trigger_memory.split(",")):
                cpus = min(memory / MB_PER_VCPU, os.cpu_count() or 1)
                for cog_copy in (False, True):
                    meta["trigger"].append(
                        measure_trigger(image_id, memory, cpus, moto, cog_copy, len(meta["trigger"]))
                    )
        if args.compare_image:
            meta["compare"] = []
            for memory in (int(m) for m in args.compare_memory.split(",")):
                cpus = min(memory / MB_PER_VCPU, os.cpu_count() or 1)
                for image in (args.image, args.compare_image):
                    log(f"compare: {image} at {memory} MB, --cpus={cpus:.3f}, load {loadavg()}")
                    row = measure(image, memory, cpus, small, upload, args.cold, args.warm, key, args.warm_key, env)
                    row.update(image=image, threads=core_threads(image, memory, cpus))
                    meta["compare"].append(row)
        if args.local_memory and Path(args.trigger_scene).is_file() and args.local_repeat > 0:
            meta["local"] = []
            for memory in (int(m) for m in args.local_memory.split(",")):
                cpus = min(memory / MB_PER_VCPU, os.cpu_count() or 1)
                for image in (args.image, *([args.compare_image] if args.compare_image else [])):
                    for threads in args.local_threads.split(","):
                        meta["local"].append(
                            local_run(
                                image,
                                memory,
                                cpus,
                                Path(args.trigger_scene),
                                args.local_repeat,
                                args.local_cog,
                                threads,
                            )
                        )
    meta["load_end"] = loadavg()
    text = report(rows, args, meta)
    Path(args.output).write_text(text)
    engine = chart(rows, Path(args.chart))
    print(text)
    log(f"wrote {args.output} and {args.chart} ({engine})")


if __name__ == "__main__":
    main()
