"""Sentinel-2 product metadata from a SAFE product's own XML (`MTD_MSIL2A.xml` / `MTD_MSIL1C.xml` and
`GRANULE/*/MTD_TL.xml`, ESA's PSD 14.x), parsed with defusedxml: no DTDs, entities or external
references, and the caller caps the bytes. Every value is checked before it reaches attributes, STAC
Items or rendering."""

import math
import re
from datetime import datetime, timezone
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from handler.core.errors import InvalidProduct
from handler.core.product import ProductMetadata
from handler.core.sentinel2 import L1C_BANDS

# The product's band_id attributes index ESA's band order (B01 .. B8A, B09, B10, B11, B12).
BAND_BY_ID = dict(enumerate(L1C_BANDS))
LEVELS = {
    "Level-2A_User_Product": ("L2A", "S2MSI2A", "BOA_QUANTIFICATION_VALUE", "BOA_ADD_OFFSET"),
    "Level-1C_User_Product": ("L1C", "S2MSI1C", "QUANTIFICATION_VALUE", "RADIO_ADD_OFFSET"),
}
PRODUCT_ID = re.compile(r"S2[A-D]_MSI(?:L2A|L1C)_\d{8}T\d{6}_N\d{4}_R(\d{3})_T(\d{2}[A-Z]{3})_\d{8}T\d{6}")
TILE_IN_ID = re.compile(r"_T(\d{2}[A-Z]{3})_")
SPACECRAFT = re.compile(r"Sentinel-2[A-D]")
BASELINE = re.compile(r"\d{2}\.\d{2}")


def parse_xml(data: bytes, what: str) -> Element:
    """Parse untrusted XML: DTDs, entity declarations and external references are refused."""
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InvalidProduct(
            f"The product's {what} declares a DTD, entities or external references; they are not accepted."
        ) from exc
    except (ParseError, ValueError) as exc:
        raise InvalidProduct(f"The product's {what} is not well-formed XML.") from exc


def _local(tag: str) -> str:
    """An element's tag without its namespace ("{ns}Name" -> "Name"); the parser drops comments and
    processing instructions, so every tag is a string."""
    return tag.rpartition("}")[2]


def _elements(root: Element, name: str) -> list[Element]:
    """Every element named `name` (namespace ignored: ESA qualifies only the top-level elements)."""
    return [element for element in root.iter() if _local(element.tag) == name]


def _optional_text(root: Element, name: str) -> str | None:
    """The stripped text of the first `name` element; None when it is missing or blank."""
    found = _elements(root, name)
    text = (found[0].text or "").strip() if found else ""
    return text or None


def _text(root: Element, name: str, what: str) -> str:
    """The stripped text of the first `name` element; InvalidProduct when it is missing or blank."""
    text = _optional_text(root, name)
    if text is None:
        raise InvalidProduct(f"The product's {what} has no {name}.")
    return text


def _number(text: str | None, name: str, low: float, high: float) -> float | None:
    """A finite number within [low, high], or InvalidProduct."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidProduct(f"The product's {name} is not a number.") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidProduct(f"The product's {name} is out of range.")
    return value


def _sensing_time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidProduct("The tile's SENSING_TIME is not an ISO 8601 time.") from None
    if value.tzinfo is None:
        raise InvalidProduct("The tile's SENSING_TIME has no time zone.")
    return value.astimezone(timezone.utc)


def _footprint(text: str | None) -> dict[str, Any] | None:
    """EXT_POS_LIST ("lat lon lat lon ...", a closed ring) as a GeoJSON Polygon in (lon, lat) order."""
    if text is None:
        return None
    values = [_number(value, "footprint", -180, 180) for value in text.split()]
    if len(values) % 2 or len(values) < 8:
        raise InvalidProduct("The product's footprint is not a list of latitude, longitude pairs.")
    ring = [[lon, lat] for lat, lon in zip(values[::2], values[1::2])]
    if any(abs(lat) > 90 for _, lat in ring):
        raise InvalidProduct("The product's footprint has a latitude out of range.")
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _offsets(root: Element, tag: str) -> dict[str, int]:
    """Per-band additive offsets (BOA_ADD_OFFSET / RADIO_ADD_OFFSET, baseline 04.00 on) by band name."""
    offsets = {}
    for element in _elements(root, tag):
        band_id = element.get("band_id", "")
        if not band_id.isdigit() or int(band_id) not in BAND_BY_ID:
            raise InvalidProduct(f"The product's {tag} list names an unknown band.")
        band = BAND_BY_ID[int(band_id)]
        value = _number((element.text or "").strip(), tag, -10000, 10000)
        if band in offsets or value != int(value):
            raise InvalidProduct(f"The product's {tag} list repeats a band or holds a fraction.")
        offsets[band] = int(value)
    return offsets


def parse_metadata(product_xml: bytes, tile_xml: bytes) -> ProductMetadata:
    """The product's identity and radiometry from its two XML documents, cross-checked: the product id,
    the level and the tile must agree between them."""
    product, tile = parse_xml(product_xml, "MTD_MSIL*.xml"), parse_xml(tile_xml, "MTD_TL.xml")
    if _local(product.tag) not in LEVELS:
        raise InvalidProduct("The product metadata is not a Sentinel-2 Level-1C or Level-2A user product.")
    level, product_type, quantification_tag, offset_tag = LEVELS[_local(product.tag)]
    product_id = _text(product, "PRODUCT_URI", "metadata").removesuffix(".SAFE")
    identity = PRODUCT_ID.fullmatch(product_id)
    tile_match = TILE_IN_ID.search(_text(tile, "TILE_ID", "tile metadata"))
    spacecraft = _text(product, "SPACECRAFT_NAME", "metadata")
    baseline = _text(product, "PROCESSING_BASELINE", "metadata")
    orbit = _number(_text(product, "SENSING_ORBIT_NUMBER", "metadata"), "relative orbit", 1, 143)
    declared_type = _text(product, "PRODUCT_TYPE", "metadata")
    if (
        identity is None
        or f"MSI{level}" not in product_id
        or declared_type != product_type
        or tile_match is None
        or tile_match.group(1) != identity.group(2)
        or orbit != int(identity.group(1))
    ):
        raise InvalidProduct("The product's id, type, level, orbit and tile do not agree.")
    if not SPACECRAFT.fullmatch(spacecraft) or not BASELINE.fullmatch(baseline):
        raise InvalidProduct("The product's spacecraft or processing baseline is not in ESA's format.")
    return ProductMetadata(
        product_id=product_id,
        product_type=product_type,
        level=level,
        spacecraft=spacecraft.lower(),
        sensing_time=_sensing_time(_text(tile, "SENSING_TIME", "tile metadata")),
        tile_id=identity.group(2),
        relative_orbit=int(orbit),
        processing_baseline=baseline,
        cloud_cover=_number(_optional_text(product, "Cloud_Coverage_Assessment"), "cloud cover", 0, 100),
        nodata_pixel_percentage=_number(_optional_text(tile, "NODATA_PIXEL_PERCENTAGE"), "nodata percentage", 0, 100),
        footprint=_footprint(_optional_text(product, "EXT_POS_LIST")),
        quantification=_number(_text(product, quantification_tag, "metadata"), "quantification value", 1, 1e6),
        boa_offsets=_offsets(product, offset_tag),
    )
