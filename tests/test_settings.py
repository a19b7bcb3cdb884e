"""Deployment settings and core limits: read from the variables template.yaml sets, validated at start-up."""

import os
import subprocess
import sys

import pytest

from handler.core.env_settings import load_settings
from handler.core.limits import LIMITS, Limits
from handler.settings import LAMBDA_UPLOAD_BYTES, InvalidSetting, Settings
from tests.template import load_template

TEMPLATE = load_template()
# Variables template.yaml sets that the runtime's libraries read, not our settings.
LIBRARY_PREFIXES = ("POWERTOOLS_", "AWS_")


@pytest.mark.parametrize(
    "module, variable, value",
    [
        ("handler.api", "MAX_UPLOAD_BYTES", "4MB"),
        ("handler.s3_trigger", "MAX_UPLOAD_BYTES", "4MB"),
        ("handler.api", "MAX_READ_BYTES", "abc"),
        ("handler.s3_trigger", "THUMBNAIL_SIZE", "-1"),
    ],
)
def test_a_bad_setting_fails_the_start_up_naming_the_variable(module, variable, value):
    # Planted bug: no Settings.from_env() at the trigger's import -> the import succeeds and every event fails.
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"], capture_output=True, text=True, env={**os.environ, variable: value}
    )
    assert result.returncode != 0 and f"InvalidSetting: {variable}={value!r} is not a valid int" in result.stderr


@pytest.mark.parametrize(
    "model, variable, value, message",
    [
        (
            Settings,
            "MAX_UPLOAD_BYTES",
            "4MB",
            "MAX_UPLOAD_BYTES='4MB' is not a valid int: Input should be a valid integer",
        ),
        (Settings, "MAX_UPLOAD_BYTES", "0", "MAX_UPLOAD_BYTES='0' is not a valid int: Input should be greater than 0"),
        (Settings, "THUMBNAIL_SIZE", "-1", "THUMBNAIL_SIZE='-1' is not a valid int: Input should be greater than 0"),
        (
            Settings,
            "THUMBNAIL_SIZE",
            str(LIMITS.max_thumbnail_size + 1),
            f"is not a valid int: Input should be at most MAX_THUMBNAIL_SIZE ({LIMITS.max_thumbnail_size})",
        ),
        (
            Settings,
            "COG_COPY_MAX_BYTES",
            "-1",
            "COG_COPY_MAX_BYTES='-1' is not a valid int: Input should be greater than or equal to 0",
        ),
        (Settings, "PRESIGN_EXPIRES", "604801", "PRESIGN_EXPIRES='604801' is not a valid int"),
        (Settings, "REQUEST_DEADLINE_SECONDS", "nan", "REQUEST_DEADLINE_SECONDS='nan' is not a valid float"),
        (Settings, "TRIGGER_WRITE_MARGIN_SECONDS", "-5", "TRIGGER_WRITE_MARGIN_SECONDS='-5' is not a valid float"),
        (Settings, "API_DOCS", "maybe", "API_DOCS='maybe' is not a valid bool"),
        (Limits, "MAX_READ_BYTES", "abc", "MAX_READ_BYTES='abc' is not a valid int: Input should be a valid integer"),
        (Limits, "MAX_BANDS", "0", "MAX_BANDS='0' is not a valid int: Input should be greater than 0"),
        (Limits, "MAX_THUMBNAIL_SIZE", "2k", "MAX_THUMBNAIL_SIZE='2k' is not a valid int"),
    ],
)
def test_bad_values_name_the_variable_and_the_type(monkeypatch, model, variable, value, message):
    # Planted bug: PositiveInt -> int for max_bands -> MAX_BANDS=0 loads, and every raster is refused.
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSetting) as raised:
        load_settings(model)
    assert message in str(raised.value)


def test_every_bad_variable_is_named_in_the_one_error(monkeypatch):
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "4MB")
    monkeypatch.setenv("MAX_RESPONSE_BYTES", "-3")
    with pytest.raises(InvalidSetting, match="MAX_UPLOAD_BYTES='4MB' .*; MAX_RESPONSE_BYTES='-3' "):
        Settings.from_env()


def test_values_are_read_from_the_variables_of_todays_names(monkeypatch):
    # Planted bug: env_prefix="S2_" in ENV_CONFIG -> the variables template.yaml sets are ignored.
    for name, value in {
        "MAX_READ_BYTES": "1000",
        "INPUT_PREFIX": "",
        "API_DOCS": "False",
        "REQUEST_DEADLINE_SECONDS": "0",
        "COG_COPY_MAX_BYTES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    limits, settings = load_settings(Limits), Settings.from_env()
    assert limits.max_read_bytes == 1000 and limits.max_bands == Limits.model_fields["max_bands"].default
    assert (settings.input_prefix, settings.api_docs, settings.request_deadline_seconds) == ("", False, 0.0)


def test_the_upload_cap_follows_the_runtime(on_lambda):
    assert Settings.from_env().max_upload_bytes == LAMBDA_UPLOAD_BYTES


def function_variables() -> dict[str, object]:
    """Every environment variable template.yaml gives a function (Globals and each function's own)."""
    variables = dict(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    for resource in TEMPLATE["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            variables.update(resource["Properties"].get("Environment", {}).get("Variables", {}))
    return variables


def test_every_variable_the_template_sets_is_a_setting():
    # Planted bug: Settings.max_object_bytes renamed max_input_bytes -> MAX_OBJECT_BYTES is silently ignored.
    known = {name.upper() for name in (*Settings.model_fields, *Limits.model_fields)}
    ours = {name for name in function_variables() if not name.startswith(LIBRARY_PREFIXES)}
    assert ours and ours <= known, ours - known


def test_the_template_parameters_default_to_the_code_defaults():
    """A deployment and a local run start from the same numbers (the API's upload cap is Lambda's)."""
    parameters = TEMPLATE["Parameters"]
    assert int(parameters["MaxUploadBytes"]["Default"]) == LAMBDA_UPLOAD_BYTES
    assert int(parameters["MaxObjectBytes"]["Default"]) == Settings.model_fields["max_object_bytes"].default
    assert parameters["ApiDocs"]["Default"] == str(Settings.model_fields["api_docs"].default).lower()


def test_a_default_is_validated_too(monkeypatch):
    """MAX_THUMBNAIL_SIZE=256 leaves the trigger's default THUMBNAIL_SIZE (512) out of the core's range: the
    start-up fails naming it, rather than every upload being refused."""
    import handler.settings

    monkeypatch.setattr(handler.settings, "LIMITS", load_settings(Limits, max_thumbnail_size=256))
    with pytest.raises(InvalidSetting) as raised:
        Settings.from_env()
    assert str(raised.value) == (
        "THUMBNAIL_SIZE=512 is not a valid int: Input should be at most MAX_THUMBNAIL_SIZE (256)"
    )


def test_settings_are_frozen():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="frozen"):
        LIMITS.max_bands = 1


def test_an_unknown_setting_and_a_model_error_are_named_too():
    from pydantic import model_validator
    from pydantic_settings import BaseSettings

    from handler.core.env_settings import ENV_CONFIG

    class Pair(BaseSettings):
        model_config = ENV_CONFIG

        low: int = 1
        high: int = 2

        @model_validator(mode="after")
        def _ordered(self) -> "Pair":
            if self.low > self.high:
                raise ValueError("LOW must not exceed HIGH")
            return self

    with pytest.raises(InvalidSetting) as raised:
        load_settings(Limits, max_bands=2, max_colours=3)
    assert str(raised.value) == "MAX_COLOURS=3 is not a valid value: Extra inputs are not permitted"
    with pytest.raises(InvalidSetting) as raised:
        load_settings(Pair, low=3)
    assert str(raised.value) == "={'low': 3} is not a valid value: LOW must not exceed HIGH"  # no one variable


def test_a_setting_of_a_union_type_names_the_union():
    """Types without a __name__ (int | None) are named as Python prints them."""
    from pydantic_settings import BaseSettings

    from handler.core.env_settings import ENV_CONFIG

    class Tiles(BaseSettings):
        model_config = ENV_CONFIG

        tile_size: int | None = None

    with pytest.raises(InvalidSetting) as raised:
        load_settings(Tiles, tile_size="big")
    assert str(raised.value).startswith("TILE_SIZE='big' is not a valid int | None: Input should be a valid integer")
