"""A PNG writer for 8-bit gray, gray+alpha, RGB and RGBA thumbnails: half Pillow's encoding time.

Pillow tries all five PNG row filters on every row in C before compressing; that search cost as much as
the compression itself (bench/RESULTS.md). Here numpy computes three filters for the whole image at
once (Sub, Up, Average), each row takes the one with the smallest sum of absolute values (libpng's
heuristic), and zlib compresses with Z_RLE. PNG is lossless, so the decoded pixels are the same; the files
are within a few per cent of Pillow's size (smaller on most Sentinel-2 inputs).
"""

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> gray, gray+alpha, RGB, RGBA
_SUB, _UP, _AVERAGE = 1, 2, 3


def _chunk(tag: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def filter_rows(pixels: np.ndarray) -> np.ndarray:
    """(rows, 1 + row bytes) uint8: each row's filter type byte, then the row filtered by it."""
    rows = pixels.reshape(pixels.shape[0], -1)
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]  # bytes per pixel: the Sub/Average left neighbour
    sub = rows.copy()
    np.subtract(rows[:, bpp:], rows[:, :-bpp], out=sub[:, bpp:])
    up = rows.copy()
    np.subtract(rows[1:], rows[:-1], out=up[1:])
    around = np.zeros(rows.shape, dtype=np.uint16)  # left + up, halved below: Average's predictor
    around[:, bpp:] = rows[:, :-bpp]
    around[1:] += rows[:-1]
    average = rows - (around >> 1).astype(np.uint8)
    candidates = ((_SUB, sub), (_UP, up), (_AVERAGE, average))
    # |byte as a signed value| is min(b, 256 - b): uint8 `0 - b` wraps to 256 - b
    costs = np.stack([np.add.reduce(np.minimum(c, 0 - c), axis=1, dtype=np.uint32) for _, c in candidates])
    choice = np.argmin(costs, axis=0)
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    for i, (kind, filtered) in enumerate(candidates):
        chosen = choice == i
        out[chosen, 0] = kind
        out[chosen, 1:] = filtered[chosen]
    return out


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG of uint8 `pixels`, (rows, cols) gray or (rows, cols, 2|3|4) gray+alpha, RGB, RGBA."""
    rows, cols = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_RLE)
    data = compressor.compress(filter_rows(pixels)) + compressor.flush()
    header = struct.pack(">IIBBBBB", cols, rows, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")
