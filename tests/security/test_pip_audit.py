"""Known vulnerabilities in the pinned runtime dependencies (requirements.txt, layers/geo/requirements.txt).

Needs PyPI's vulnerability data (https://pypi.org/pypi/<name>/<version>/json), so it is the one test here
that uses the network; it skips, saying why, when that data cannot be reached. By default it audits the
pins themselves (`--no-deps --disable-pip`: fast, no virtualenv); PIP_AUDIT_FULL=1 runs the full
`pip-audit -r requirements.txt -r layers/geo/requirements.txt`, which resolves and audits every
transitive dependency in a temporary virtualenv (minutes, needs the package index).

Marked `network`: the offline suite (`make test`, CI) deselects it, so its answer never depends on today's
newest release or on reaching PyPI. Run it with `python -m pytest -m network -s`.
"""

import importlib.util
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.network
ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ("requirements.txt", "layers/geo/requirements.txt")
PYPI = "https://pypi.org/pypi"


def pins() -> dict[str, str]:
    found = {}
    for name in REQUIREMENTS:
        for line in (ROOT / name).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;#]+)", line.strip())
            if match:
                found[match.group(1).lower()] = match.group(2)
    return found


def pypi_json(path: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{PYPI}/{path}/json", timeout=10) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        pytest.skip(f"PyPI answered {error.code} for {path}: vulnerability data unavailable")
    except (urllib.error.URLError, OSError) as error:
        pytest.skip(f"PyPI (pypi.org) is unreachable, so known vulnerabilities cannot be checked: {error}")


def test_requirements_are_exact_pins():
    for name in REQUIREMENTS:
        for line in (ROOT / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                pinned = re.match(r"^[A-Za-z0-9_.\-]+(\[[^\]]*\])?==[^\s=<>~!*]+$", line)
                assert pinned, f"{name}: {line!r} is not pinned"


@pytest.mark.skipif(
    importlib.util.find_spec("pip_audit") is None,
    reason="pip-audit is not installed (pip install -r requirements-dev.txt)",
)
def test_pip_audit_finds_no_known_vulnerabilities():
    pypi_json("pip")  # reachability probe: skips with the reason when pypi.org cannot be reached
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "-s",
        "pypi",
        "-f",
        "json",
        "--progress-spinner",
        "off",
        "--timeout",
        "15",
    ]
    for name in REQUIREMENTS:
        command += ["-r", name]
    full = os.environ.get("PIP_AUDIT_FULL") == "1"
    if not full:
        command += ["--no-deps", "--disable-pip"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900 if full else 180)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        if re.search(
            r"(ConnectionError|Max retries|Name or service not known|timed out|Temporary failure)", result.stderr
        ):
            pytest.skip(f"pip-audit could not reach its vulnerability service: {result.stderr.strip()[-300:]}")
        pytest.fail(f"pip-audit failed ({result.returncode}): {result.stderr[-2000:]}")
    audited = [d for d in report["dependencies"] if "skip_reason" not in d]
    skipped = {d["name"]: d["skip_reason"] for d in report["dependencies"] if "skip_reason" in d}
    vulnerable = {f"{d['name']}=={d['version']}": [v["id"] for v in d["vulns"]] for d in audited if d["vulns"]}
    print(
        f"\npip-audit ({'full' if full else 'pins only'}): {len(audited)} audited, {len(skipped)} not auditable, "
        f"vulnerable: {vulnerable or 'none'}"
    )
    assert not vulnerable, f"known vulnerabilities: {vulnerable}"
    if not audited:
        pytest.skip(
            "pip-audit reached PyPI but could audit no pin (PyPI's per-version JSON, its vulnerability "
            f"database, is not served here): {sorted(skipped)}"
        )


def test_pinned_versions_have_no_vulnerabilities_listed_on_pypi():
    """Fallback when per-version data is not served (e.g. a mirror): a project's JSON lists the
    vulnerabilities of its latest release, which is all we can check - and only for pins that are latest."""
    checked, not_latest, vulnerable = [], [], {}
    for name, version in sorted(pins().items()):
        project = pypi_json(name)
        if project is None or "vulnerabilities" not in project:
            continue
        if project["info"]["version"] != version:
            not_latest.append(f"{name}=={version} (latest {project['info']['version']})")
            continue
        checked.append(f"{name}=={version}")
        if project["vulnerabilities"]:
            vulnerable[name] = [v.get("id") for v in project["vulnerabilities"]]
    print(f"\nPyPI JSON: checked {checked}; not the latest release (not checked): {not_latest}")
    assert not vulnerable, f"known vulnerabilities: {vulnerable}"
    if not checked:
        pytest.skip("no pin is PyPI's latest release, so PyPI's project JSON says nothing about them")
