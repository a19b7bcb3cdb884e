"""The sections of bench/RESULTS.md (bench/thumbnail_bench.py): peers per input, the floor, S3, imports,
targets, per-run details."""

from __future__ import annotations

from bench.imports import TARGET_IMPORT_S
from bench.inputs import Input
from bench.report import cell, fmt_mb, fmt_s, table, verdict
from bench.runners import LOCAL_METHODS, METHOD_LABEL, REMOTE_METHODS

TARGET_RATIO = 0.7  # ours / rio-tiler's preview, same resampling
TARGET_FLOOR = 1.25  # ours / the floor (the planned read alone), on FLOOR_INPUT
FLOOR_INPUT = "synthetic 10980 COG"  # the 12-band 10980² COG: what the floor target is about
TARGET_PEAK_MB = 350
RESAMPLINGS = ("average", "nearest")


def input_label(inp: Input) -> str:
    return (
        f"{inp.label} ({inp.shape[1]}x{inp.shape[0]}, {inp.size_mb:.0f} MB, "
        f"ovr {','.join(map(str, inp.overviews)) or 'none'})"
    )


def peer_ratio(results: dict, resampling: str) -> tuple[float | None, str]:
    """ours / rio-tiler from separate worker processes: (value or None, cell text)."""
    ours, peer = results.get(f"ours_{resampling}", {}), results.get(f"riotiler_{resampling}", {})
    if "median_s" not in ours or "median_s" not in peer:
        both_timeout = ours.get("timeout") and peer.get("timeout")
        return None, "both timeout" if both_timeout else "n/a"
    value = ours["median_s"] / peer["median_s"]
    if any(abs(a - b) > 1 for a, b in zip(ours.get("shape", ()), peer.get("shape", ()))):
        return None, f"{value:.2f} (different output size)"
    return value, verdict(value, TARGET_RATIO)


def local_section(inputs: list[Input]) -> list[str]:
    methods = ("ours_average", "ours_nearest", "riotiler_nearest", "riotiler_average", "naive", "gdal_translate")
    rows = [
        [input_label(inp)]
        + [cell(inp.results.get(m)) for m in methods]
        + [peer_ratio(inp.results, res)[1] for res in RESAMPLINGS]
        for inp in inputs
    ]
    return ["## Local files", ""] + table(
        [
            "input",
            "ours average",
            "ours nearest",
            "rio-tiler nearest",
            "rio-tiler average",
            "naive",
            "gdal_translate",
            "ratio average",
            "ratio nearest",
        ],
        rows,
    )


def floor_section(inputs: list[Input], repeat: int) -> list[str]:
    """ours, the floor and rio-tiler interleaved in one process per (input, resampling)."""
    rows = []
    for inp in inputs:
        for res in RESAMPLINGS:
            r = inp.pairs.get(res)
            if r is None:
                continue
            if "error" in r:
                rows.append([inp.label, res, r["error"], "", "", "", "", "", "", ""])
                continue
            median, ratio = r["median_s"], r["ratio"]
            peer = f"riotiler_{res}"
            floor = ratio[f"floor_{res}"]
            spans = r.get("spans_s", {})
            split = " / ".join(f"{spans.get(name, 0) * 1000:.1f}" for name in ("open", "read", "encode", "rest"))
            rows.append(
                [
                    inp.label,
                    res,
                    fmt_s(median[f"ours_{res}"]),
                    split,
                    fmt_s(median[f"floor_{res}"]),
                    fmt_s(median.get(peer)) if peer in median else "not run",
                    verdict(floor, TARGET_FLOOR) if inp.label == FLOOR_INPUT else f"{floor:.3f}",
                    f"{r['cpu_ratio'][f'floor_{res}']:.3f}" if "cpu_ratio" in r else "",
                    verdict(ratio[peer], TARGET_RATIO) if peer in ratio else "",
                    r["load"],
                ]
            )
    return [
        "## Against the floor, in one process",
        "",
        "The floor: rasterio opening the level our read plan picks and reading the same bands into the same "
        "out_shape, same resampling, same windows, and nothing else (no mask, no stretch, no encoding). "
        f"Ours, the floor and rio-tiler's preview take turns in one worker process ({repeat} rounds after a "
        "warm-up each; round i starts with method i mod 3), so load from other processes hits them alike. "
        "Ratio = median over rounds of ours / peer in that round (targets: floor <= "
        f"{TARGET_FLOOR} on the {FLOOR_INPUT}, rio-tiler <= {TARGET_RATIO} everywhere; small inputs pay a "
        "fixed cost to open, stretch and encode a 512² PNG that their short reads cannot hide). rio-tiler "
        "is left out on large inputs without overviews (its nearest preview takes minutes there); the "
        "separate-process table above has it. Without overviews ours reads chunks in threads "
        "(handler/core/threads.py), the floor in one, so the floor ratio can fall below 1 there.",
        "",
        "Ours split: median ms of the core's spans (handler/core/spans.py) over the same rounds: `open` "
        "(the dataset), `read` (planning, opening the level and reading it: what the floor does), `encode` "
        "(PNG), and the rest (band choice, radiometry, validity mask, stretch, interleaving). CPU: the same "
        "ratio of the worker's CPU time (`time.process_time`), which time spent waiting for a core on a "
        "loaded machine does not inflate.",
        "",
    ] + table(
        [
            "input",
            "resampling",
            "ours",
            "ours split: open / read / encode / rest (ms)",
            "floor",
            "rio-tiler",
            "ours / floor",
            "ours / floor (CPU)",
            "ours / rio-tiler",
            "load average before -> after",
        ],
        rows,
    )


def remote_section(remote: list[tuple[Input, dict]]) -> list[str]:
    rows = []
    for inp, results in remote:
        for i, method in enumerate(m for m in REMOTE_METHODS if m in results):
            r = results[method]
            label = f"{inp.label} ({inp.size_mb:.0f} MB object)" if i == 0 else ""
            if "error" in r:
                rows.append([label, METHOD_LABEL[method], cell(r), "", "", "", ""])
                continue
            ratio = ""
            peer = results.get("riotiler_" + method.split("_", 1)[1], {})
            if method.startswith("ours_") and "median_s" in peer:
                ratio = f"{r['median_s'] / peer['median_s']:.2f}; {r['bytes'] / max(peer['bytes'], 1):.2f}"
            sizes = ", ".join(f"{size:,}" for size in r["sizes"])
            rows.append(
                [
                    label,
                    METHOD_LABEL[method],
                    fmt_s(r["median_s"]),
                    f"{int(r['bytes']):,}",
                    f"{int(r['requests'])} ({sizes})",
                    fmt_mb(r["peak_mb"]),
                    ratio,
                ]
            )
    return [
        "## Remote: /vsis3/ through moto on 127.0.0.1, bytes counted by a loopback proxy",
        "",
        "One cold process per run (nothing cached between runs); median of the runs. moto copies the "
        "whole object in Python for every range request, so remote times exaggerate the per-request "
        "cost; byte and request counts are exact.",
        "",
    ] + table(
        [
            "input",
            "method",
            "median time",
            "bytes fetched",
            "requests (response sizes)",
            "peak MB",
            "ours / rio-tiler (time; bytes)",
        ],
        rows,
    )


def import_section(imports: dict) -> list[str]:
    rows = []
    for label, env_name in (("lambda", "Lambda runtime variables (`LAMBDA_TASK_ROOT`)"), ("local", "local")):
        for module in ("handler.core", "handler.api"):
            inner, process = imports[label, module]
            target = ""
            if label == "lambda" and module == "handler.api":
                target = f"<= {TARGET_IMPORT_S} s {'✅' if inner <= TARGET_IMPORT_S else '❌'}"
            rows.append([env_name, module, fmt_s(inner), fmt_s(process), target])
    return (
        ["## Import time (fresh interpreters, median)", ""]
        + table(
            ["environment", "module", "`import` statement", "whole process minus an empty interpreter", "target"], rows
        )
        + [
            "",
            "Locally the X-Ray SDK (imported by Powertools' Tracer) also builds a botocore client for "
            "centralised sampling; in Lambda it samples locally and builds none, hence the two rows.",
            "",
            "Heaviest packages under `handler.api` with the Lambda variables (`python -X importtime`, "
            "cumulative, nested ones counted in their parents too, inflated by the tracing): "
            + ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in imports["top"]),
        ]
    )


def targets_section(inputs: list[Input]) -> list[str]:
    out = []
    ratios = [
        (inp.label, res, value)
        for inp in inputs
        for res in RESAMPLINGS
        if (value := peer_ratio(inp.results, res)[0]) is not None
    ]
    if ratios:
        worst = max(ratios, key=lambda r: r[2])
        met = sum(r[2] <= TARGET_RATIO for r in ratios)
        missed = "; ".join(f"{label} {res} {value:.2f}" for label, res, value in ratios if value > TARGET_RATIO)
        out.append(
            f"- time <= {TARGET_RATIO}x rio-tiler (separate processes): met on {met}/{len(ratios)} "
            f"(input, resampling) pairs with the same output size; worst {worst[2]:.2f} ({worst[0]}, "
            f"{worst[1]})." + (f" Missed: {missed}." if missed else "")
        )
        timeouts = [
            f"{i.label} {m.split('_')[1]}"
            for i in inputs
            for m in ("ours_average", "ours_nearest")
            if i.results.get(m, {}).get("timeout")
        ]
        if timeouts:
            out.append(f"- ours timed out on: {'; '.join(timeouts)}.")
    for kind, target in (("floor", TARGET_FLOOR), ("riotiler", TARGET_RATIO)):
        paired = [
            (inp.label, res, r["ratio"][f"{kind}_{res}"])
            for inp in inputs
            for res in RESAMPLINGS
            if "ratio" in (r := inp.pairs.get(res, {}))
            and f"{kind}_{res}" in r["ratio"]
            and (kind != "floor" or inp.label == FLOOR_INPUT)
        ]
        if paired:
            worst = max(paired, key=lambda p: p[2])
            met = sum(p[2] <= target for p in paired)
            name = f"the floor on the {FLOOR_INPUT}" if kind == "floor" else "rio-tiler"
            out.append(
                f"- time <= {target}x {name} (interleaved in one process): met on {met}/{len(paired)}; "
                f"worst {worst[2]:.2f} ({worst[0]}, {worst[1]})."
            )
    by_label = {i.label: i.results for i in inputs}
    for method in ("ours_average", "ours_nearest"):
        peak = {
            label: r[method]["peak_mb"]
            for label, r in by_label.items()
            if label.startswith("synthetic") and "peak_mb" in r.get(method, {})
        }
        if not peak:
            continue
        big = [p for label, p in peak.items() if "10980" in label]
        tick = "" if not big else (" ✅" if max(big) <= TARGET_PEAK_MB else " ❌")
        pairs = []
        for kind in ("COG", "no overviews"):
            small, large = peak.get(f"synthetic 5490 {kind}"), peak.get(f"synthetic 10980 {kind}")
            if small is not None and large is not None:
                pairs.append(f"{kind} {small:.0f} -> {large:.0f} MB ({large - small:+.0f})")
        out.append(
            f"- {METHOD_LABEL[method]} peak RSS on the 10980 scenes: max {fmt_mb(max(big) if big else None)} MB "
            f"(target <= {TARGET_PEAK_MB}){tick}. 5490 -> 10980 (4x the pixels): "
            f"{'; '.join(pairs) or 'n/a'}."
        )
    return ["## Targets", ""] + out if out else []


def details_section(inputs: list[Input]) -> list[str]:
    rows = []
    for inp in inputs:
        for method in LOCAL_METHODS:
            r = inp.results.get(method)
            if r is None:
                continue
            if "error" in r:
                rows.append([inp.label, METHOD_LABEL[method], r["error"]] + [""] * 7)
                continue
            rows.append(
                [
                    inp.label,
                    METHOD_LABEL[method],
                    fmt_s(r["median_s"]),
                    len(r["times_s"]),
                    fmt_s(r["first_s"]),
                    fmt_mb(r["peak_mb"]),
                    fmt_mb(r["baseline_mb"]),
                    fmt_mb(r.get("ru_maxrss_mb")),
                    f"{r['shape'][1]}x{r['shape'][0]}",
                    f"{r['png_bytes']:,}",
                ]
            )
    return ["## Details", ""] + table(
        [
            "input",
            "method",
            "median",
            "runs",
            "first call",
            "peak MB",
            "RSS after imports MB",
            "ru_maxrss MB (inherited)",
            "output",
            "PNG bytes",
        ],
        rows,
    )
