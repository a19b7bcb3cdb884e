"""Settings read from environment variables (pydantic-settings), and the one error a bad value raises."""

from typing import TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Every field is read from the variable of its upper-cased name (MAX_READ_BYTES -> max_read_bytes); no
# .env file, no prefix: the names template.yaml sets. The models are frozen, like the values they hold.
ENV_CONFIG = SettingsConfigDict(frozen=True, validate_default=True)

Model = TypeVar("Model", bound=BaseSettings)


class InvalidSetting(ValueError):
    """An environment variable holds a value its setting cannot take (MAX_UPLOAD_BYTES=4MB)."""


def _problem(model: type[BaseSettings], error: dict) -> str:
    """ "MAX_READ_BYTES='abc' is not a valid int: Input should be a valid integer, ..." for one error."""
    field = str(error["loc"][0]) if error["loc"] else ""
    info = model.model_fields.get(field)
    kind = getattr(info.annotation, "__name__", str(info.annotation)) if info else "value"
    return f"{field.upper()}={error['input']!r} is not a valid {kind}: {error['msg'].removeprefix('Value error, ')}"


def load_settings(model: type[Model], **values: object) -> Model:
    """`model` from the environment (`values` override it), or one InvalidSetting naming every bad variable,
    its value and the type it should have: the entry points load their settings at import, so a bad
    deployment fails at start-up rather than as a 500 on its first request."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidSetting("; ".join(_problem(model, error) for error in exc.errors())) from None
