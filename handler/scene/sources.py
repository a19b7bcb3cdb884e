"""Which bytes a scene is read from, opened through the core's checks: an upload spooled to disk, an object
in the input bucket, or the trigger's COG copy of it. SAFE product zips open their TCI member (the core
decides which), so every entry point reads every input kind the same way."""

import os
from contextlib import contextmanager
from functools import partial
from typing import Iterator, NamedTuple

from handler.core.errors import EmptyInput
from handler.core.source import ZIP_MAGIC, Source, open_file, open_source
from handler.core.stac import item_id, s3_href
from handler.core.tiff_scan import PagedReader
from handler.scene.errors import InputTooLarge, ObjectNotFound
from handler.scene.keys import validate_key
from handler.scene.layout import OutputKeys, output_keys, require_input_bucket
from handler.scene.store import ObjectInfo, Store
from handler.settings import Settings

# What a STAC Item calls an upload sent without a file name.
UNNAMED_UPLOAD = "upload.tif"


class Scene(NamedTuple):
    """An opened input (`source.dataset`, and `source.product` for a SAFE zip), the bytes it holds, and
    how a STAC Item names it."""

    source: Source
    size: int
    item_id: str
    href: str


@contextmanager
def open_object(store: Store, info: ObjectInfo, max_bytes: int) -> Iterator[Source]:
    """An object opened after size checks and the core's header checks, through ranged reads only."""
    if info.size == 0:
        raise EmptyInput("The object is empty.")
    if info.size > max_bytes:
        raise InputTooLarge(f"The object is {info.size:,} bytes; the limit is {max_bytes:,}.")
    fetch = partial(store.read_range, info.bucket, info.key)
    # A raster's header scan reads pages kept within a byte and request budget; a zip's reads are bounded
    # by the archive's own budget (and a deflated image by its size cap), so it gets plain ranged reads.
    paged = PagedReader(fetch, info.size)
    read = fetch if paged(0, len(ZIP_MAGIC)) == ZIP_MAGIC else paged
    with open_source(read, info.size, store.gdal_path(info.bucket, info.key)) as source:
        yield source


def input_object(store: Store, settings: Settings, key: str) -> ObjectInfo:
    """The object a `key=` names in the input bucket, its key checked before any store call."""
    bucket = require_input_bucket(settings, "key is")
    info = store.head(bucket, validate_key(key, settings.input_prefix))
    if info is None:
        raise ObjectNotFound(f"No object {key!r} in the input bucket.")
    return info


def pixel_source(store: Store, outputs: OutputKeys, info: ObjectInfo) -> ObjectInfo:
    """The trigger's COG copy of `info` (at `outputs.cog`) when it was made from this version of it, else
    `info`: the copy has overviews, so a thumbnail decodes one of them instead of the whole scene."""
    return store.current_output(outputs.bucket, outputs.cog, info) or info


@contextmanager
def open_key(store: Store, settings: Settings, key: str, for_pixels: bool = False) -> Iterator[Scene]:
    """A `key=` input opened: for pixels (`for_pixels`) its current COG copy when there is one, else the
    object itself (attributes always describe the object as uploaded). Named as the trigger names it."""
    info = input_object(store, settings, key)
    outputs = output_keys(settings, info.key, info.bucket)
    read_from = pixel_source(store, outputs, info) if for_pixels else info
    with open_object(store, read_from, settings.max_object_bytes) as source:
        yield Scene(source, read_from.size, outputs.item_id, s3_href(info.bucket, info.key))


@contextmanager
def open_upload(path: str, file_name: str | None) -> Iterator[Scene]:
    """An upload spooled to `path`, named after the client's file name (its Item href too: relative, so
    the Item may be saved next to the file)."""
    name = item_id(file_name or UNNAMED_UPLOAD)
    with open_file(path) as source:
        yield Scene(source, os.path.getsize(path), name, name)
