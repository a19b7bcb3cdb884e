"""How many threads the core may use (parallel chunked reads, the COG copy's compression): the CPUs this
process can actually run on, never more, at least 1.

Lambda gives a function CPU time in proportion to its memory (one vCPU at 1769 MB, 1.7 at 3008 MB, six at
10240 MB), while its micro-VM may show more vCPUs than that share: the share from the memory size
(AWS_LAMBDA_FUNCTION_MEMORY_SIZE) caps the count. Containers (Docker, ECS, `sam local`) cap CPU time with a
CFS quota while showing every host core: a 1-CPU container on a 64-core host must not start 64 decoding
threads. So the count is the smallest of the affinity mask, the cgroup CPU quota (cgroup v2 `cpu.max`, v1
`cpu.cfs_quota_us` / `cpu.cfs_period_us`) and Lambda's share, rounded up: a quota of 1.7 CPUs lets two
threads run at once for most of each period, which one thread cannot use. Each thread costs a 64 MB block
cache, so threads the CPU share cannot run would only raise the peak memory.
"""

import functools
import math
import os
from collections.abc import Mapping
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CPU_MOUNTS = ("cpu", "cpu,cpuacct", "cpuacct,cpu")


def _own_paths(proc_cgroup: str) -> dict[str, str]:
    """/proc/self/cgroup as {controller: path}; the v2 (unified) hierarchy under the key ""."""
    paths = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) == 3:
            for controller in parts[1].split(","):
                paths[controller] = parts[2]
    return paths


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _candidates(base: Path, own: str | None) -> list[Path]:
    """The process's own cgroup directory under `base` (on a host) and `base` itself (in a container, where
    the cgroup namespace or the bind mount puts the process's cgroup at the mount point)."""
    dirs = [base / own.lstrip("/")] if own and own != "/" else []
    return dirs + [base]


def parse_cpu_max(text: str) -> float | None:
    """cgroup v2 `cpu.max` ("QUOTA PERIOD", QUOTA may be "max") as CPUs; None when unlimited or unreadable."""
    fields = text.split()
    if not fields:
        return None
    try:  # QUOTA "max" (no limit) fails int() as any other word does
        quota, period = int(fields[0]), int(fields[1]) if len(fields) > 1 else 100_000
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def parse_cfs(quota_text: str, period_text: str) -> float | None:
    """cgroup v1 `cpu.cfs_quota_us` (-1: unlimited) over `cpu.cfs_period_us`, as CPUs; None when unlimited."""
    try:
        quota, period = int(quota_text), int(period_text)
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def cgroup_cpu_quota(root: Path = CGROUP_ROOT, proc_cgroup: str | None = None) -> float | None:
    """The CPU quota of this process's cgroup in CPUs (v2 first, then v1); None when there is none."""
    if proc_cgroup is None:
        proc_cgroup = _read(Path("/proc/self/cgroup")) or ""
    own = _own_paths(proc_cgroup)
    for directory in _candidates(root, own.get("")):
        text = _read(directory / "cpu.max")
        if text is not None:
            return parse_cpu_max(text)
    for mount in V1_CPU_MOUNTS:
        for directory in _candidates(root / mount, own.get("cpu")):
            quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
            if quota is not None and period is not None:
                return parse_cfs(quota, period)
    return None


# Lambda's CPU share: one vCPU's worth of time per this many MB of the function's memory size.
MB_PER_VCPU = 1769


def lambda_cpu_share(environ: Mapping[str, str] = os.environ) -> float | None:
    """A Lambda function's CPU share from its memory size (AWS_LAMBDA_FUNCTION_MEMORY_SIZE / MB_PER_VCPU):
    its micro-VM may show more vCPUs than the time it gets (0.58 of one at 1024 MB); None outside Lambda."""
    try:
        return int(environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]) / MB_PER_VCPU
    except (KeyError, ValueError):
        return None


def available_cpus(
    root: Path = CGROUP_ROOT,
    proc_cgroup: str | None = None,
    affinity: int | None = None,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """min(CPUs in the affinity mask, the cgroup quota and Lambda's CPU share, each rounded up), at least 1.
    Threads beyond the share would only add memory (a block cache each), not speed."""
    if affinity is None:
        try:
            affinity = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            affinity = os.cpu_count() or 1
    count = max(1, affinity)
    for quota in (cgroup_cpu_quota(root, proc_cgroup), lambda_cpu_share(environ)):
        if quota is not None:
            count = min(count, math.ceil(round(quota, 3)))
    return max(1, count)


@functools.cache
def core_threads() -> int:
    """`available_cpus()` of this process, read once (the CPU share of a Lambda instance never changes)."""
    return available_cpus()


# GDAL's block cache for each reading thread: read.py sizes one thread's chunks to fit its share, so a thread
# reads with the cache one thread had before (smaller shares re-decode the blocks that chunk edges straddle).
BLOCK_CACHE_MB_PER_THREAD = 64


def block_cache_mb() -> int:
    """GDAL_CACHEMAX for this process: BLOCK_CACHE_MB_PER_THREAD for each core thread."""
    return BLOCK_CACHE_MB_PER_THREAD * core_threads()
