"""The raw TIFF writer makes files GDAL reads as intended: sizes, dtypes, blocks, overviews, masks."""

import struct
import warnings
from contextlib import contextmanager
from typing import Iterator

import pytest
from rasterio.enums import MaskFlags
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import DatasetReader, MemoryFile

from tests.security.tiff_writer import (
    IMAGE_DESCRIPTION,
    LZMA,
    MASK,
    NEW_SUBFILE_TYPE,
    REDUCED,
    REDUCED_MASK,
    SEPARATE,
    TILE_BYTE_COUNTS,
    TILE_OFFSETS,
    Ifd,
    ascii_tag,
    geo_tags,
    write_tiff,
)


@contextmanager
def opened(data: bytes) -> Iterator[DatasetReader]:
    warnings.simplefilter("ignore", NotGeoreferencedWarning)
    with MemoryFile(data) as memfile, memfile.open() as dataset:
        yield dataset


@pytest.mark.parametrize("bigtiff", [False, True], ids=["classic", "bigtiff"])
@pytest.mark.parametrize("byteorder", ["<", ">"], ids=["little", "big"])
def test_a_16000_square_scene_with_overview_and_masks_is_a_few_kb(bigtiff, byteorder):
    ifds = [
        Ifd(16000, 16000, "uint8", samples=3, tags=geo_tags()),
        Ifd(16000, 16000, "bit", subfile_type=MASK),
        Ifd(4000, 4000, "uint8", samples=3, subfile_type=REDUCED),
        Ifd(4000, 4000, "bit", subfile_type=REDUCED_MASK),
    ]
    data = write_tiff(ifds, bigtiff=bigtiff, byteorder=byteorder)
    assert len(data) < 32_000
    assert (
        data[:4]
        == {(False, "<"): b"II*\0", (False, ">"): b"MM\0*", (True, "<"): b"II+\0", (True, ">"): b"MM\0+"}[
            bigtiff, byteorder
        ]
    )
    with opened(data) as dataset:
        assert (dataset.width, dataset.height, dataset.count) == (16000, 16000, 3)
        assert dataset.dtypes == ("uint8",) * 3 and dataset.block_shapes == [(512, 512)] * 3
        assert dataset.overviews(1) == [4] and dataset.crs == "EPSG:32633"
        assert dataset.mask_flag_enums[0] == [MaskFlags.per_dataset]
        assert dataset.read(1, out_shape=(8, 8)).max() == 0  # every tile decodes (the shared zero block)


@pytest.mark.parametrize("dtype", ["int16", "uint32", "float32", "float64", "complex64"])
def test_band_interleaved_strips_of_any_dtype(dtype):
    data = write_tiff([Ifd(16000, 9000, dtype, samples=12, planar=SEPARATE, tile=None, rows_per_strip=64)])
    with opened(data) as dataset:
        assert (dataset.width, dataset.height, dataset.count, dataset.dtypes[0]) == (16000, 9000, 12, dtype)
        assert dataset.block_shapes[0] == (64, 16000) and dataset.interleaving.name == "band"
        assert dataset.read(12, window=((8936, 9000), (0, 10))).shape == (64, 10)


def test_one_strip_lzma_and_tags():
    ifd = Ifd(3000, 2000, compression=LZMA, tile=None, tags={IMAGE_DESCRIPTION: ascii_tag("hello")})
    assert ifd.blocks_needed == 1 and ifd.block_bytes == 3000 * 2000 * 2
    with opened(write_tiff([ifd])) as dataset:
        assert dataset.block_shapes == [(2000, 3000)] and dataset.compression.name == "lzma"
        assert dataset.tags(ns="").get("TIFFTAG_IMAGEDESCRIPTION") == "hello"
        assert dataset.read(1).max() == 0


def _chain(data: bytes) -> list[tuple[int, dict[int, int]]]:
    """(offset, {tag: count}) of each IFD of a classic little-endian TIFF, ending at a repeat."""
    chain, offset = [], struct.unpack_from("<I", data, 4)[0]
    while offset and offset not in [at for at, _ in chain]:
        count = struct.unpack_from("<H", data, offset)[0]
        entries = [struct.unpack_from("<HHI", data, offset + 2 + 12 * i) for i in range(count)]
        tags = {tag: number for tag, _, number in entries}
        chain.append((offset, tags))
        offset = struct.unpack_from("<I", data, offset + 2 + 12 * count)[0]
    return chain + ([(offset, {})] if offset else [])


def test_dropped_tags_and_lying_offset_counts_are_written_as_asked():
    data = write_tiff([Ifd(1024, 1024, block_count=1, tags={NEW_SUBFILE_TYPE: None})])
    [(_, tags)] = _chain(data)
    assert NEW_SUBFILE_TYPE not in tags and list(tags) == sorted(tags)
    assert tags[TILE_OFFSETS] == tags[TILE_BYTE_COUNTS] == 1  # the raster needs 4


def test_loop_to_makes_the_last_ifd_point_back():
    chain = _chain(write_tiff([Ifd(64, 64), Ifd(32, 32, subfile_type=REDUCED)], loop_to=0))
    assert len(chain) == 3 and chain[2][0] == chain[0][0]
