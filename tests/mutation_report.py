"""`make mutants`' report: mutmut's results per module and per area (the raster core; the scene lifecycle and
the entry points), the runs that produced them, and every mutant not killed with its diff and, when it is
known to be equivalent, why. Reads mutmut's mutants/ folder (and mutants/runs.txt, the runs' log).

    python -m tests.mutation_report > tests/mutation-report.md
"""

import collections
import json
import subprocess
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

MUTANTS = Path("mutants")
RUNS = MUTANTS / "runs.txt"  # "START <time> <command>" / "END <time> ..." lines, appended by each run
AREAS = {"handler.core": "raster core (handler/core)", "": "scene lifecycle and entry points"}
DETECTED = ("killed", "timeout", "segfault")  # the tests failed, hung or crashed: the mutant was noticed
NOT_RUN = ("not checked", "check was interrupted by user")
COLUMNS = ("killed", "timeout", "segfault", "survived", "no tests", "suspicious", "not checked")
# Mutants that are not killed because no test can tell them from the original, with the reason (by name).
EQUIVALENT = {
    "handler.scene.uploads.x_find_upload__mutmut_8": "lists 3 keys instead of 2: any limit of 2 or more tells one file from an ambiguous folder",
    "handler.s3_trigger.x_process_sqs_batch__mutmut_11": "Powertools hands the context only to a record handler with a lambda_context parameter; ours has none",
    "handler.s3_trigger.x_process_sqs_batch__mutmut_15": "Powertools hands the context only to a record handler with a lambda_context parameter; ours has none",
    "handler.core.read.x__intermediate_dtype__mutmut_6": "'XXiuXX' contains 'i' and 'u' and no other dtype kind letter: the same test",
    "handler.core.read.x__intermediate_dtype__mutmut_10": "<= 3 instead of <= 2 bytes: numpy has no 3-byte integer type",
    "handler.core.read.x__apply_kernel__mutmut_13": "ignores every warning instead of NotGeoreferencedWarning in a block that raises no other warning",
    "handler.core.read.x__apply_kernel__mutmut_32": "GDAL's MEM driver ignores the dataset name",
    "handler.core.read.x__apply_kernel__mutmut_36": "GDAL driver names are case-insensitive: 'mem' is MEM",
    "handler.core.read.x__validity__mutmut_15": "read values are float32: a NaN nodata or one float32 cannot hold never equals a pixel either way",
    "handler.core.visualize.x_ndvi_colour__mutmut_19": "nan=0.0 is numpy's default for nan_to_num",
    "handler.core.visualize.x_ndvi_colour__mutmut_29": "the palette as int64 instead of float32: np.interp computes in float64 either way",
    "handler.core.visualize.x_ndvi_colour__mutmut_31": "the palette as int64 instead of float32: np.interp computes in float64 either way",
    "handler.core.visualize.x_percentile_stretch__mutmut_17": "scratch=None: to_uint8 copies instead of reusing a temporary; same bytes (memory only)",
    "handler.core.visualize.x_percentile_stretch__mutmut_19": "scratch omitted: to_uint8 copies instead of reusing a temporary; same bytes (memory only)",
    "handler.core.visualize.x_percentile_stretch__mutmut_27": "scratch=False: to_uint8 copies instead of reusing a temporary; same bytes (memory only)",
    "handler.core.visualize.x_percentile_stretch__mutmut_26": "a flat band: zeros_like(None) is a 0-d zero, broadcast into the band's row: black either way",
    "handler.core.read.x__read_chunked__mutmut_3": "astype(copy=None): None is falsy, so no copy when the dtype already matches, as with copy=False",
    "handler.core.read.x_read_chunks__mutmut_12": "fit 2 instead of 1 gives the same 1 x 1-block windows: isqrt(2) - 1 = 0 and 2 // 2 - 1 = 0, floored at 1",
    "handler.core.plan.x_plan_read__mutmut_37": "the second choose_level runs only when the first level is larger than the intermediate; an overview 1.01-1.2x coarser than the intermediate would have been the first choice, so nearest's threshold cannot matter there",
    "handler.core.read.x_read_chunks__mutmut_29": "a tuning constant, not strictly equivalent: isqrt(fit) - 2 reshapes the windows (1 x 4 instead of 2 x 2 blocks at fit 10) within the same cache share, so the bound holds and pixels move only by the window-edge rounding (<= 1 with average) the chunk tests allow",
    "handler.core.plan.x_copy_cost__mutmut_14": "the alpha branch of _mask_read never runs: GDAL flags an alpha mask per_dataset too, checked first",
}

# Survivors of the last run that a test added afterwards kills, checked by planting the same change by hand
# in a scratch copy (not yet re-run by mutmut), with that test.
KILLED_SINCE = {
    "handler.core.plan.x_codec_weight__mutmut_31": "tests/test_read_plan.py::test_the_floating_point_predictor_weighs_four_times",
    "handler.core.bands.x_select_bands__mutmut_13": "tests/test_core.py::test_a_single_band_named_by_its_file_is_named_in_errors",
    "handler.core.render.x_render_display__mutmut_32": "tests/test_core.py::test_float_reflectance_is_told_from_dn_by_its_valid_pixels_only",
    "handler.core.plan.x_check_plan__mutmut_34": "tests/test_read_plan.py::test_the_refusal_gives_the_mask_in_gigabytes",
}


def summarized(run_line: str) -> str:
    """A runs.txt line, its list of mutant names (a re-run of the mutants without a result) shortened to
    how many of each module's mutants it named."""
    words = run_line.split(" ")
    names = [word for word in words if "__mutmut_" in word]
    if len(names) <= 10:
        return run_line
    modules = collections.Counter(name.rpartition(".x")[0] for name in names)
    listed = ", ".join(f"{module} {count}" for module, count in modules.items())
    return " ".join(word for word in words if word not in names) + f" <{len(names)} mutants by name: {listed}>"


def area(module: str) -> str:
    return next(name for prefix, name in AREAS.items() if module.startswith(prefix))


def score(count: collections.Counter) -> str:
    run = sum(n for status, n in count.items() if status not in NOT_RUN)
    return f"{100 * sum(count[s] for s in DETECTED) / run:.1f} %" if run else "-"


def row(name: str, count: collections.Counter) -> str:
    return f"| {name} | {sum(count.values())} | " + " | ".join(str(count[c]) for c in COLUMNS) + f" | {score(count)} |"


def main() -> None:
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    undetected = []
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(MUTANTS).with_suffix("").with_suffix("").parts)
        for name, code in sorted(json.loads(meta.read_text()).get("exit_code_by_key", {}).items()):
            status = status_by_exit_code[code]
            counts[module][status] += 1
            if status not in DETECTED and status not in NOT_RUN:
                undetected.append((name, status))
    by_area: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for module, count in counts.items():
        by_area[area(module)] += count
    print("# Mutation testing of handler/core, handler/scene and the entry points (mutmut)\n")
    print("Mutated: `handler/core/*`, `handler/scene/*`, `handler/api.py`, `handler/s3_trigger.py`,")
    print("`handler/s3_events.py`, each mutant against the tests of setup.cfg's `[mutmut]` selection that run its")
    print("function. `make mutants` (tests/mutants.sh) runs them all from a clean mutants/ folder and writes this")
    print("report; `tests/mutants.sh GLOB...` re-runs some mutants by name and keeps the other results. A run")
    print('cut short leaves its remaining mutants "not checked": each row counts only what the runs below did.')
    print('Score: killed, timed out or crashed, over the mutants run ("no tests" and survivors count against).\n')
    print("## Runs that produced these rows\n")
    runs = [summarized(line) for line in RUNS.read_text().splitlines()] if RUNS.exists() else []
    print("```\n" + ("\n".join(runs) if runs else "(no mutants/runs.txt: runs not recorded)") + "\n```\n")
    header = "| {} | mutants | " + " | ".join(COLUMNS) + " | score |\n|---|" + "---|" * (len(COLUMNS) + 2)
    print(header.format("area"))
    for name, count in sorted(by_area.items()):
        print(row(name, count))
    print(row("**all**", sum(by_area.values(), collections.Counter())) + "\n")
    for name, count in sorted(by_area.items()):
        run = sum(n for status, n in count.items() if status not in NOT_RUN)
        print(f"- {name}: {run} of {sum(count.values())} mutants run ({100 * run / sum(count.values()):.0f} %).")
    print("\nEarlier reports (other code, other runs) are in this file's git history.\n")
    print(header.format("module"))
    for module, count in sorted(counts.items()):
        print(row(module, count))
    equivalent = sum(name in EQUIVALENT for name, _ in undetected)
    since = sum(name in KILLED_SINCE for name, _ in undetected)
    print(
        f"\n## Mutants not killed: {len(undetected)} ({equivalent} equivalent, {since} killed since by a new "
        f"test, {len(undetected) - equivalent - since} not yet killed)\n"
    )
    for name, status in undetected:
        diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True).stdout
        changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        why = EQUIVALENT.get(name) or (
            f"{status} in the run, killed since by {KILLED_SINCE[name]} (planted by hand; not re-run)"
            if name in KILLED_SINCE
            else f"NOT YET KILLED ({status})"
        )
        print(f"- `{name}`: {why}\n  ```diff\n  " + "\n  ".join(changed) + "\n  ```")
    if not undetected:
        print("None.")


if __name__ == "__main__":
    main()
