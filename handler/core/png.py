"""A PNG writer for 8-bit gray, gray+alpha, RGB and RGBA thumbnails, faster than Pillow's.

Pillow tries all five PNG row filters on every row in C before compressing; that search cost as much as
the compression itself. Here numpy computes three filters for the whole image at once (Sub, Up,
Average), each row takes the one with the smallest sum of absolute values (libpng's heuristic), and zlib
compresses with Z_RLE where the filtered rows hold runs of zeros, Huffman codes alone elsewhere
(`deflate_strategy`). PNG is lossless, so the decoded pixels are the same; times and file sizes against
Pillow's, per input, are in bench/RESULTS-png.md (larger files on upscaled, flat inputs).
"""

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> gray, gray+alpha, RGB, RGBA
_SUB, _UP, _AVERAGE = 1, 2, 3
# The share of filtered bytes that are 0 from which run-length matching pays (nodata, flat areas, upscaled
# inputs); below it Huffman codes alone are as small and faster (bench/README.md, bench/RESULTS-png.md).
RLE_MIN_ZEROS = 0.25


def _chunk(tag: bytes, *body: bytes) -> list[bytes]:
    """A PNG chunk as parts for one final join: its body (several parts: one IDAT) is not copied here."""
    crc = zlib.crc32(tag)
    for part in body:
        crc = zlib.crc32(part, crc)
    return [struct.pack(">I", sum(len(part) for part in body)), tag, *body, struct.pack(">I", crc)]


def _row_costs(filtered: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """Per row, the sum of |byte as a signed value| = min(b, 256 - b) (uint8 negation wraps to 256 - b)."""
    np.negative(filtered, out=scratch)
    np.minimum(filtered, scratch, out=scratch)
    return np.add.reduce(scratch, axis=1, dtype=np.uint32)


def _keep_better(out: np.ndarray, best: np.ndarray, kind: int, filtered: np.ndarray, scratch: np.ndarray) -> None:
    """Rows whose cost under `filtered` is below `best` take it (ties keep the earlier filter)."""
    cost = _row_costs(filtered, scratch)
    better = cost < best
    np.copyto(out[:, 1:], filtered, where=better[:, None])
    out[better, 0] = kind
    np.minimum(best, cost, out=best)


def filter_rows(pixels: np.ndarray) -> np.ndarray:
    """(rows, 1 + row bytes) uint8: each row's filter type byte, then the row filtered by it.

    Three big arrays in all (the output and two scratch rows-sized buffers): a fresh large array costs a
    page fault per 4 KiB page when the allocator has handed the memory back, which was most of the
    encoding time on small inputs."""
    rows = pixels.reshape(pixels.shape[0], -1)
    bpp = 1 if pixels.ndim == 2 else pixels.shape[2]  # bytes per pixel: the Sub/Average left neighbour
    out = np.empty((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = _SUB  # Sub, straight into the output: every row's first choice
    out[:, 1 : 1 + bpp] = rows[:, :bpp]
    np.subtract(rows[:, bpp:], rows[:, :-bpp], out=out[:, 1 + bpp :])
    candidate, scratch = np.empty_like(rows), np.empty_like(rows)
    best = _row_costs(out[:, 1:], scratch)
    candidate[0] = rows[0]  # Up
    np.subtract(rows[1:], rows[:-1], out=candidate[1:])
    _keep_better(out, best, _UP, candidate, scratch)
    # Average: the mean of left and up rounded down, (a & b) + ((a ^ b) >> 1) in uint8 (no overflow);
    # a is 0 left of the first pixel, b above the first row
    left, up = rows[1:, :-bpp], rows[:-1, bpp:]
    predictor = candidate
    predictor[0, :bpp] = 0
    np.right_shift(rows[0, :-bpp], 1, out=predictor[0, bpp:])
    np.right_shift(rows[:-1, :bpp], 1, out=predictor[1:, :bpp])
    np.bitwise_xor(left, up, out=predictor[1:, bpp:])
    np.right_shift(predictor[1:, bpp:], 1, out=predictor[1:, bpp:])
    np.bitwise_and(left, up, out=scratch[1:, bpp:])
    np.add(predictor[1:, bpp:], scratch[1:, bpp:], out=predictor[1:, bpp:])
    np.subtract(rows, predictor, out=candidate)
    _keep_better(out, best, _AVERAGE, candidate, scratch)
    return out


def deflate_strategy(filtered: np.ndarray) -> int:
    """zlib's Z_RLE when the filtered rows hold enough zeros for runs to pay, else Z_HUFFMAN_ONLY."""
    body = filtered[:, 1:]
    zeros = body.size - np.count_nonzero(body)
    return zlib.Z_RLE if zeros >= RLE_MIN_ZEROS * body.size else zlib.Z_HUFFMAN_ONLY


def encode_png(pixels: np.ndarray) -> bytes:
    """PNG of uint8 `pixels`, (rows, cols) gray or (rows, cols, 2|3|4) gray+alpha, RGB, RGBA."""
    rows, cols = pixels.shape[:2]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2]
    filtered = filter_rows(pixels)
    compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, deflate_strategy(filtered))
    data = (compressor.compress(filtered), compressor.flush())
    header = struct.pack(">IIBBBBB", cols, rows, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    return b"".join([_SIGNATURE, *_chunk(b"IHDR", header), *_chunk(b"IDAT", *data), *_chunk(b"IEND")])
