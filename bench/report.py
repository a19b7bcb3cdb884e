"""Markdown for the benchmarks' results files: times, sizes, ratios, tables, percentiles, and writing."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Iterable

from bench.common import log


def fmt_s(value: float | None) -> str:
    """Milliseconds under 10 s, seconds above; n/a for None."""
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 10 else f"{value:.1f} s"


def fmt_mb(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f}"


def cell(result: dict | None, show_error: bool = False) -> str:
    """A worker's result as `median · peak MB`, `timeout`, or n/a (the error itself with `show_error`)."""
    if result is None:
        return ""
    if "error" in result:
        return "timeout" if result.get("timeout") else result["error"] if show_error else "n/a"
    return f"{fmt_s(result['median_s'])} · {fmt_mb(result['peak_mb'])} MB"


def verdict(value: float, target: float) -> str:
    """`value` to 3 decimals, ticked when it is at most `target`."""
    return f"{value:.3f}" + (" ✅" if value <= target else " ❌")


def table(header: Iterable[str], rows: Iterable[Iterable[object]] = ()) -> list[str]:
    """A markdown table's lines."""
    header = list(header)
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + [
        "| " + " | ".join(str(value) for value in row) + " |" for row in rows
    ]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile, nearest rank (p95 of 10 values is the largest); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def gdal_translate_note(available: bool) -> str:
    """Which GDAL the gdal_translate column ran: the binary on PATH is not the wheel's libgdal."""
    if not available:
        return (
            "gdal_translate: n/a (binary not on PATH; the rasterio wheel bundles libgdal only; "
            "`apt-get install gdal-bin` provides one)."
        )
    import rasterio

    version = subprocess.run(["gdal_translate", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"gdal_translate: {version} from PATH (e.g. Debian's gdal-bin), not the wheel's GDAL "
        f"{rasterio.__gdal_version__} that ours and rio-tiler use; same GDAL settings."
    )


def write_report(lines: list[str] | str, output: Path) -> str:
    """Print the report (lines, or its text), write it to `output`, and return its text."""
    text = (lines if isinstance(lines, str) else "\n".join(lines)).rstrip("\n") + "\n"
    print(text)
    output.write_text(text)
    log(f"wrote {output}")
    return text
