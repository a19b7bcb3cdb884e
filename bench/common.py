"""What every benchmark shares: where things are, progress lines, the machine and its load, peak RSS,
the GDAL settings and environment of a worker process, and which code was measured."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
# The real files live beside the repository (../shared/data/sentinel2), as for the tests.
DATA_DIR = Path(os.environ.get("SENTINEL2_DATA", REPO.parent / "shared" / "data" / "sentinel2"))
CACHE_DIR = Path("/tmp/thumbnail_bench_cache")

_STARTED = time.perf_counter()


def log(message: str) -> None:
    """Progress on stderr, with seconds since start."""
    print(f"[{time.perf_counter() - _STARTED:6.1f}s] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` prints them: every timing is reported with it."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> str:
    """CPU model, cores, RAM, kernel and Python of this machine, for the results files."""
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) // 1024
    return (
        f"{model}, {os.cpu_count()} cores, {memory} MB RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def rss_mb(pid: int | str = "self") -> float:
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


def load_gdal_env() -> dict[str, str]:
    """The GDAL settings our handler applies, read in a child interpreter (importing handler.core here would
    pull rasterio into the orchestrator's environment decisions)."""
    code = "import json; from handler.core.gdal_config import HARDENING; print(json.dumps(HARDENING))"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])


def worker_env(core_repo: Path) -> dict[str, str]:
    """Environment of every worker: our GDAL settings (the security ones forced) and `handler` from
    `core_repo` on PYTHONPATH."""
    gdal_env = load_gdal_env()
    env = {**os.environ, **gdal_env}
    for name in ("GDAL_SKIP", "GDAL_DISABLE_READDIR_ON_OPEN", "GDAL_PAM_ENABLED"):
        env[name] = gdal_env[name]
    env["PYTHONPATH"] = str(core_repo) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def code_version(repo: Path = REPO) -> str:
    """Commit of the code under test, '+dirty' when handler/ has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--", "handler"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{repo} (not a git checkout)"
    return f"commit {head}{'+dirty' if dirty else ''}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
