"""Import cost of handler.core and handler.api in fresh interpreters, with and without Lambda's variables."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO

TARGET_IMPORT_S = 0.6


def measure_import(repeat: int, repo: Path = REPO) -> dict:
    """Import cost of our modules in fresh interpreters (median of `repeat`): time spent in the
    `import` statement itself (what a Lambda cold start pays in its init phase), and the whole
    process wall time (start-up + import + teardown) minus that of an empty interpreter. Measured
    with the Lambda runtime's environment variables (the target) and without them (a laptop).

    The X-Ray SDK, which Powertools' Tracer imports, checks LAMBDA_TASK_ROOT: outside Lambda its
    recorder builds a botocore X-Ray client for centralised sampling (~90 ms); inside Lambda it
    samples locally and builds none."""
    lambda_env = {"LAMBDA_TASK_ROOT": str(repo), "AWS_LAMBDA_FUNCTION_NAME": "thumbnail-bench"}
    probe = (
        "import time, importlib; t = time.perf_counter(); importlib.import_module({!r}); print(time.perf_counter() - t)"
    )
    local_env = {k: v for k, v in os.environ.items() if k not in lambda_env}

    def run(code: str, env: dict) -> tuple[float, float]:
        walls, inner = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-c", code], cwd=repo, env=env, check=True, capture_output=True, text=True
            )
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
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import handler.api"],
        cwd=repo,
        env={**local_env, **lambda_env},
        capture_output=True,
        text=True,
        check=True,
    )
    top = {}
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s+(\S+)", line)
        if m and not m.group(3).startswith("handler"):
            name = m.group(3).split(".")[0]
            top[name] = max(top.get(name, 0), int(m.group(2)))
    out["top"] = sorted(top.items(), key=lambda kv: -kv[1])[:8]
    return out
