"""Shared fixtures: fake Lambda context, real-data skip, safe AWS environment."""

from dataclasses import dataclass

import pytest

from tests.rasters import REAL_DATA

# Never reach real AWS from tests, whatever the developer's shell has. Set in pytest_configure, before
# the test modules are collected (Powertools reads POWERTOOLS_* when handler modules are imported), and
# undone in pytest_unconfigure.
SAFE_AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
}
_session_environment = pytest.MonkeyPatch()


def pytest_configure(config):
    for name, value in SAFE_AWS_ENVIRONMENT.items():
        _session_environment.setenv(name, value)


def pytest_unconfigure(config):
    _session_environment.undo()


@dataclass
class FakeLambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"
    remaining_ms: int = 30_000  # the API function's Timeout

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def on_lambda(monkeypatch):
    """The variables the Lambda runtime sets: uploads are then capped by Lambda's payload limit."""
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "test-function")


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


requires_real_data = pytest.mark.skipif(
    not REAL_DATA.is_dir(), reason=f"real Sentinel-2 files not present at {REAL_DATA} (shared data folder)"
)
