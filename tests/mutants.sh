#!/bin/bash
# `make mutants`: mutmut over setup.cfg's [mutmut] paths, each run logged to mutants/runs.txt, then the report.
#   tests/mutants.sh            all mutants, from a clean mutants/ folder
#   tests/mutants.sh GLOB...    only these mutant names (e.g. "handler.core.read.*"), keeping other results
# Each run starts pinned to one CPU (Linux taskset) and is widened to all CPUs once mutation testing starts:
# mutmut forks every mutant's test run from a parent that ran the tests once, and core_threads() is read
# once per process. Pinned, the parent caches 1 thread, so it never starts GDAL's global worker pool
# (the COG writer's NUM_THREADS); forked children would otherwise wait forever on the pool's missing
# threads, and those mutants would count as "timeout" (killed) without any test having failed. For the same
# reason no test may start GDAL's pool in the pytest process (tests/test_cog.py runs its 2-thread copy in a child).
# Forks run two at a time and must share nothing: a moto server shared with the parent let one fork's reset
# empty the other's buckets (their failures counted as kills), so tests/s3_helpers.py starts one per process.
# Results stay in mutants/ between runs: mutmut resets every result when setup.cfg's [mutmut] test selection
# changes, and a function's results when its code changes. Add tests to the selected files, not new files.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
export SENTINEL2_DATA=${SENTINEL2_DATA:-$PWD/../shared/data/sentinel2}
if [ $# -eq 0 ]; then rm -rf mutants; fi
mkdir -p mutants
log=$(mktemp)
echo "START $(date -u +%FT%TZ) mutmut run --max-children 2 $*" >> mutants/runs.txt
taskset -c 0 "$BIN/mutmut" run --max-children 2 "$@" > "$log" 2>&1 &
pid=$!
until grep -q "Running mutation testing" "$log" 2>/dev/null || ! kill -0 $pid 2>/dev/null; do sleep 2; done
taskset -a -p -c "0-$(($(nproc) - 1))" $pid > /dev/null || true
status=0
wait $pid || status=$?
echo "END   $(date -u +%FT%TZ) rc=$status: $(tr '\r' '\n' < "$log" | grep -a '/' | tail -1)" >> mutants/runs.txt
rm -f "$log"
"$BIN/python" -m tests.mutation_report > tests/mutation-report.md
exit $status
