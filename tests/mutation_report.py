"""`make mutants`' report: mutmut's results per module (killed, survived, timeout, not checked), each
survivor with its diff and, when it is known to be equivalent, why. Reads mutmut's mutants/ folder.

    python -m tests.mutation_report > tests/mutation-report.md
"""

import collections
import json
import subprocess
import sys
from pathlib import Path

MUTANTS = Path("mutants")
# mutmut's exit codes of a mutant's test run: 1 (tests failed) and 3 (pytest interrupted) kill it.
STATUS = {0: "survived", 1: "killed", 3: "killed", 5: "no tests", 33: "no tests", 24: "timeout", 36: "timeout",
          152: "timeout", -24: "timeout", None: "not checked"}
# Survivors whose change cannot be observed, with the reason (by mutant name).
EQUIVALENT = {
    "handler.scene.uploads.x_find_upload__mutmut_8":
        "lists 3 keys instead of 2: any limit of 2 or more tells one file from an ambiguous folder",
}


def main() -> None:
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    survivors = []
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(MUTANTS).with_suffix("").with_suffix("").parts)
        for name, code in json.loads(meta.read_text()).get("exit_code_by_key", {}).items():
            status = STATUS.get(code, f"exit {code}")
            counts[module][status] += 1
            if status == "survived":
                survivors.append(name)
    total = sum(counts.values(), collections.Counter())
    checked = total["killed"] + total["survived"] + total["timeout"]
    print("# Mutation testing of handler/scene and the entry points (mutmut)\n")
    print("`make mutants` (setup.cfg [mutmut]: the mutated paths and the tests run against them), then")
    print("`python -m tests.mutation_report > tests/mutation-report.md`.\n")
    print("| module | mutants | killed | survived | timeout | not checked |\n|---|---|---|---|---|---|")
    for module, count in sorted(counts.items()):
        print(f"| {module} | {sum(count.values())} | {count['killed']} | {count['survived']} | {count['timeout']} "
              f"| {count['not checked']} |")
    score = 100 * (total["killed"] + total["timeout"]) / checked if checked else 0.0
    print(f"| **all** | {sum(total.values())} | {total['killed']} | {total['survived']} | {total['timeout']} "
          f"| {total['not checked']} |\n")
    print(f"Killed (timeouts included): {score:.1f} % of the {checked} mutants run.\n")
    print("## Survivors\n")
    for name in survivors:
        diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True).stdout
        changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        why = EQUIVALENT.get(name, "NOT YET KILLED: needs a test")
        print(f"- `{name}`: {why}\n  ```diff\n  " + "\n  ".join(changed) + "\n  ```")
    if not survivors:
        print("None.")


if __name__ == "__main__":
    main()
