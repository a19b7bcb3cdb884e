#!/usr/bin/env bash
# The viewer page (GET /) in a real headless browser: Debian's chromium driven by Playwright for Python
# (tests/browser), against uvicorn and moto's S3 server with the S3 trigger, all on 127.0.0.1.
# Installs chromium from Debian when it is missing (never Playwright's own browser download), and fails
# rather than skips when chromium or playwright is unavailable (BROWSER_TESTS_REQUIRED=1).
# Screenshots: $BROWSER_SCREENSHOTS (default /tmp/s2-viewer-screens), never the repository.
#
#   bash .ci/browser.sh
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  echo "chromium installed in $(( $(date +%s) - T0 ))s"
fi
chromium --version 2>/dev/null
make -s .venv/.installed   # requirements-dev.txt pins playwright
BROWSER_TESTS_REQUIRED=1 timeout 300 .venv/bin/python -m pytest -p no:cacheprovider tests/browser
echo "browser tests: $(( $(date +%s) - T0 ))s in all"
