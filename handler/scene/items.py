"""What describes a scene (attributes, file tags, product metadata) and its STAC Item, the same for an
upload's `/attributes?format=stac` and the trigger's `items/<name>.json`."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from handler.core import read_attributes
from handler.core.product import ProductMetadata
from handler.core.source import Source
from handler.core.stac import scene_assets, source_asset, stac_item


@dataclass(frozen=True)
class Description:
    """A scene's facts, kept once its dataset is closed: attributes (`read_attributes`, with `product` for
    a SAFE zip), the file's tags (acquisition time in exports) and the product metadata."""

    attributes: dict[str, Any]
    tags: Mapping[str, str]
    product: ProductMetadata | None


def describe(source: Source) -> Description:
    """The attributes, tags and product metadata of an opened input."""
    return Description(read_attributes(source.dataset, source.product), source.dataset.tags(), source.product)


def scene_item(
    item_id: str,
    href: str,
    description: Description,
    *,
    thumbnail: str | None = None,
    cog: str | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """The STAC Item of a scene at `href`, listing its thumbnail and COG copy when given."""
    source = source_asset(href, description.attributes["driver"], description.product is not None)
    return stac_item(
        item_id,
        description.attributes,
        scene_assets(source, thumbnail, cog),
        product=description.product,
        tags=description.tags,
        now=created,
    )
