"""template.yaml read as data: CloudFormation's short tags (!Ref, !Sub, !If ...) become one-key mappings
({"Ref": ...}, {"Sub": ...}), so tests can inspect resources without SAM installed."""

from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


class CloudFormationLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation tags as {"Tag": value}."""


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


CloudFormationLoader.add_multi_constructor("!", _tag)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as nested dicts and lists."""
    return yaml.load(path.read_text(), Loader=CloudFormationLoader)
