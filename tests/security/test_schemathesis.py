"""Schema-driven fuzzing of every operation in the app's own OpenAPI schema (in-process ASGI).

Bounded and reproducible: a fixed number of examples per operation, derandomized, no example database.
"""

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from handler.api import app
from tests.security.hostile import assert_no_leak

schema = schemathesis.openapi.from_asgi("/openapi.json", app)
STATUSES: Counter = Counter()


@pytest.fixture(autouse=True)
def no_input_bucket(monkeypatch):
    """Key mode and /uploads then answer without reaching S3 (there is none in this test)."""
    monkeypatch.delenv("INPUT_BUCKET", raising=False)


@schema.parametrize()
@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_json_errors(case):
    response = case.call()
    STATUSES[(case.method, case.path, response.status_code)] += 1
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
        assert_no_leak(response.text)


def test_report_schemathesis_counts():
    """Runs after the parametrized cases (file order): prints what they exercised."""
    if not STATUSES:
        pytest.skip("run together with test_no_server_errors_and_json_errors")
    total = sum(STATUSES.values())
    print(
        f"\nschemathesis: {total} calls; "
        + ", ".join(f"{method} {path} {status}: {count}" for (method, path, status), count in sorted(STATUSES.items()))
    )
    assert total >= 50
