"""The core's thread count follows the CPUs the process may use (handler/core/threads.py): the affinity
mask and the cgroup CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), never more, at
least 1. Fake cgroup trees in tmp_path stand in for /sys/fs/cgroup."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handler.core.threads import available_cpus, cgroup_cpu_quota, parse_cfs, parse_cpu_max

V2_ROOT_ONLY = "0::/\n"
V1_DOCKER = "3:cpuset:/docker/abc\n2:cpuacct:/docker/abc\n1:cpu:/docker/abc\n0::/\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("text", "cpus"),
    [
        ("max 100000", None),
        ("170000 100000", 1.7),
        ("50000 100000\n", 0.5),
        ("600000 100000", 6.0),
        ("200000", 2.0),
        ("", None),
        ("garbage 100000", None),
        ("-1 100000", None),
        ("100000 0", None),
        ("0 100000", None),
        ("200000 50000", 4.0),
        ("1 100000", 0.00001),  # the smallest quota (one thread, see test_at_least_one)
        ("100000 1", 100000.0),
    ],
)
def test_cpu_max(text, cpus):
    assert parse_cpu_max(text) == cpus


@pytest.mark.parametrize(
    ("quota", "period", "cpus"),
    [
        ("-1", "100000", None),
        ("28900", "100000", 0.289),
        ("170000", "100000", 1.7),
        ("x", "100000", None),
        ("100000", "0", None),
        ("0", "100000", None),
        ("100000", "-100000", None),
        ("1", "100000", 0.00001),
        ("3", "1", 3.0),
    ],
)
def test_cfs_quota(quota, period, cpus):
    assert parse_cfs(quota, period) == cpus


def test_v2_container(tmp_path):
    # In a container with a cgroup namespace, the process's cgroup is the mount point itself.
    write(tmp_path / "cpu.max", "170000 100000\n")
    assert cgroup_cpu_quota(tmp_path, V2_ROOT_ONLY) == 1.7
    assert available_cpus(tmp_path, V2_ROOT_ONLY, affinity=64) == 2  # 1.7 CPUs: two threads can run at once
    assert available_cpus(tmp_path, V2_ROOT_ONLY, affinity=1) == 1  # never more than the affinity mask


def test_v2_host_process_reads_its_own_cgroup(tmp_path):
    write(tmp_path / "system.slice" / "app.service" / "cpu.max", "100000 100000\n")
    write(tmp_path / "cpu.max", "max 100000\n")  # a parent without a limit is not what applies
    proc = "0::/system.slice/app.service\n"
    assert cgroup_cpu_quota(tmp_path, proc) == 1.0
    assert available_cpus(tmp_path, proc, affinity=8) == 1


def test_v2_unlimited_uses_the_affinity_mask(tmp_path):
    write(tmp_path / "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(tmp_path, V2_ROOT_ONLY) is None
    assert available_cpus(tmp_path, V2_ROOT_ONLY, affinity=6) == 6


@pytest.mark.parametrize("mount", ["cpu", "cpu,cpuacct", "cpuacct,cpu"])
def test_v1_container(tmp_path, mount):
    # Docker on cgroup v1 bind-mounts the container's cgroup at /sys/fs/cgroup/cpu; /proc/self/cgroup still
    # names the host path (/docker/<id>), which does not exist inside.
    write(tmp_path / mount / "cpu.cfs_quota_us", "28900\n")
    write(tmp_path / mount / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, V1_DOCKER) == 0.289
    assert available_cpus(tmp_path, V1_DOCKER, affinity=2) == 1  # 512 MB on Lambda's scale: at least 1


def test_v1_host_process_reads_its_own_cgroup(tmp_path):
    write(tmp_path / "cpu" / "docker" / "abc" / "cpu.cfs_quota_us", "300000\n")
    write(tmp_path / "cpu" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert available_cpus(tmp_path, V1_DOCKER, affinity=16) == 3


def test_v1_unlimited_and_no_cgroup_at_all(tmp_path):
    assert cgroup_cpu_quota(tmp_path, "") is None  # nothing mounted (macOS, a bare chroot)
    assert available_cpus(tmp_path, "", affinity=4) == 4
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert available_cpus(tmp_path, V1_DOCKER, affinity=4) == 4


def test_at_least_one(tmp_path):
    write(tmp_path / "cpu.max", "1000 100000\n")  # 0.01 CPU
    assert available_cpus(tmp_path, V2_ROOT_ONLY, affinity=0) == 1
    assert available_cpus(tmp_path, V2_ROOT_ONLY, affinity=8) == 1


def test_the_block_cache_is_64_mb_per_core_thread(monkeypatch):
    from handler.core import threads

    monkeypatch.setattr(threads, "core_threads", lambda: 3)
    assert threads.block_cache_mb() == 3 * threads.BLOCK_CACHE_MB_PER_THREAD == 192


def gdal_cachemax_in_a_child(cpus: int | None, env: dict[str, str]) -> str:
    pin = f"os.sched_setaffinity(0, range({cpus})); " if cpus else ""
    code = f"import os; {pin}import handler.core; print(os.environ['GDAL_CACHEMAX'])"
    repo = Path(__file__).resolve().parent.parent
    return subprocess.run(
        [sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_gdal_cachemax_follows_the_cpus_unless_the_deployment_sets_it():
    """Planted: GDAL_CACHEMAX fixed at "64" in gdal_config -> the all-CPUs case fails on a multi-core machine;
    fixed at "128" -> the one-CPU case fails anywhere."""
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    assert gdal_cachemax_in_a_child(1, env) == "64"
    assert gdal_cachemax_in_a_child(None, env) == str(64 * available_cpus())
    assert gdal_cachemax_in_a_child(1, {**env, "GDAL_CACHEMAX": "32"}) == "32"


@pytest.mark.parametrize(
    ("memory_mb", "threads"),
    [("512", 1), ("1024", 1), ("1769", 1), ("1770", 2), ("3008", 2), ("10240", 6), ("junk", 8)],
)
def test_lambda_memory_size_caps_the_threads(tmp_path, memory_mb, threads):
    """A 1024 MB function's micro-VM may show 2 vCPUs but gets 0.58 of one: one thread and one 64 MB cache,
    not two (planted: the Lambda share ignored -> 2 threads at 1024 MB)."""
    environ = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory_mb}
    assert available_cpus(tmp_path, "", affinity=8, environ=environ) == threads
    assert available_cpus(tmp_path, "", affinity=8, environ={}) == 8


def test_a_v1_hierarchy_mounted_with_its_controllers_joined(tmp_path):
    """/proc/self/cgroup lists controllers mounted together on one line ("4:cpu,cpuacct:/docker/abc"); the
    cpu controller's path is that line's, and a path may hold colons."""
    proc = "4:cpu,cpuacct:/docker/a:b\n0::/\n"
    write(tmp_path / "cpu" / "docker" / "a:b" / "cpu.cfs_quota_us", "200000\n")
    write(tmp_path / "cpu" / "docker" / "a:b" / "cpu.cfs_period_us", "100000\n")
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "-1\n")
    write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, proc) == 2.0


def test_a_v1_directory_without_its_period_is_passed_over(tmp_path):
    write(tmp_path / "cpu" / "docker" / "abc" / "cpu.cfs_quota_us", "100000\n")  # no cpu.cfs_period_us beside it
    write(tmp_path / "cpu" / "cpu.cfs_quota_us", "300000\n")
    write(tmp_path / "cpu" / "cpu.cfs_period_us", "100000\n")
    assert cgroup_cpu_quota(tmp_path, V1_DOCKER) == 3.0


def test_only_the_leading_slash_of_the_own_cgroup_is_dropped(tmp_path):
    write(tmp_path / "X.slice" / "cpu.max", "200000 100000\n")  # X: a character the path must keep
    write(tmp_path / "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(tmp_path, "0::/X.slice\n") == 2.0


def test_the_own_cgroup_is_read_from_proc_self_cgroup(tmp_path, monkeypatch):
    from handler.core import threads

    read = threads._read
    monkeypatch.setattr(
        threads, "_read", lambda path: "0::/app.slice\n" if path == Path("/proc/self/cgroup") else read(path)
    )
    write(tmp_path / "app.slice" / "cpu.max", "300000 100000\n")
    write(tmp_path / "cpu.max", "max 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 3.0


@pytest.mark.parametrize(("quota", "threads"), [("100040 100000", 1), ("100060 100000", 2), ("29900 10000", 3)])
def test_a_quota_is_rounded_to_thousandths_then_up(tmp_path, quota, threads):
    """1.0004 CPUs is one (the rounding noise of a period that does not divide), 1.0006 two (1.001 rounded)."""
    write(tmp_path / "cpu.max", quota)
    assert available_cpus(tmp_path, V2_ROOT_ONLY, affinity=8, environ={}) == threads


def test_the_affinity_mask_is_this_process_s_or_else_the_cpu_count(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2} if pid == 0 else set(range(9)))
    assert available_cpus(tmp_path, "", environ={}) == 3

    def unsupported(pid):
        raise OSError("no affinity here")

    monkeypatch.setattr(os, "sched_getaffinity", unsupported)
    monkeypatch.setattr(os, "cpu_count", lambda: 5)
    assert available_cpus(tmp_path, "", environ={}) == 5
    monkeypatch.delattr(os, "sched_getaffinity")  # not on macOS
    assert available_cpus(tmp_path, "", environ={}) == 5
    monkeypatch.setattr(os, "cpu_count", lambda: None)  # undeterminable
    assert available_cpus(tmp_path, "", environ={}) == 1
