"""Where a scene's outputs live: thumbnails/, attributes/, items/ (STAC) and cogs/ under the output prefix,
each keyed by the input's name after the input prefix."""

from dataclasses import dataclass

from handler.core.stac import item_id
from handler.scene.errors import InvalidKey
from handler.settings import Settings

# The folders outputs are written to, in the output bucket (the trigger never renders what it wrote there).
OUTPUT_FOLDERS = ("thumbnails/", "attributes/", "cogs/", "items/", "status/")
TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class OutputKeys:
    """The output bucket, the keys derived from one input key, and its STAC Item's id."""

    bucket: str
    thumbnail: str
    attributes: str
    cog: str
    item: str
    item_id: str
    status: str  # why the trigger rejected the input, when it did


def output_keys(settings: Settings, key: str, bucket: str) -> OutputKeys:
    """Where the outputs of an input key go: uploads/a/b.tif -> thumbnails/a/b.tif.png,
    attributes/a/b.tif.json, cogs/a/b.tif and items/a/b.tif.json (the STAC Item "a%2Fb.tif") under the
    output prefix, and status/a/b.tif.json if it is rejected. The input's file name is kept whole, so
    b.tif, b.TIF and b.tiff never share outputs or an Item id; a COG copy of a JPEG 2000 file or a product
    zip is named `<name>.tif`."""
    name = key[len(settings.input_prefix) :]
    thumbnails, attributes, cogs, items, status = OUTPUT_FOLDERS
    cog = name if name.lower().endswith(TIFF_SUFFIXES) else f"{name}.tif"
    return OutputKeys(
        settings.output_bucket or bucket,
        f"{thumbnails}{name}.png",
        f"{attributes}{name}.json",
        f"{cogs}{cog}",
        f"{items}{name}.json",
        item_id(name),
        f"{status}{name}.json",
    )


def require_input_bucket(settings: Settings, feature: str) -> str:
    """The input bucket, or a 400 naming the feature this deployment cannot offer without one."""
    if not settings.input_bucket:
        raise InvalidKey(f"{feature} not available: this deployment has no INPUT_BUCKET.")
    return settings.input_bucket
