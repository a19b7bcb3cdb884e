"""Offline validation of STAC Items against the official schemas vendored in tests/fixtures/stac."""

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

SCHEMAS = Path(__file__).parent / "fixtures" / "stac"
ITEM_SCHEMA = "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"


def _network(uri: str) -> Resource:
    raise LookupError(f"{uri} is not vendored in {SCHEMAS}: validating would need the network")


@functools.cache
def schema_registry() -> Registry:
    """Every vendored file under the URL it is published at (the folder layout mirrors the URLs);
    any other URL fails instead of being fetched."""
    resources = [
        (
            f"https://{path.relative_to(SCHEMAS).as_posix()}",
            Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7),
        )
        for path in sorted(SCHEMAS.rglob("*.json"))
    ]
    return Registry(retrieve=_network).with_resources(resources)


def validate(item: dict[str, Any]) -> None:
    """The Item against the core Item schema and each schema it declares, date-time formats checked."""
    json.dumps(item, allow_nan=False)  # JSON-ready: no NaN, no tuples or datetimes left
    for url in (ITEM_SCHEMA, *item["stac_extensions"]):
        Draft7Validator(
            {"$ref": url}, registry=schema_registry(), format_checker=Draft7Validator.FORMAT_CHECKER
        ).validate(item)
