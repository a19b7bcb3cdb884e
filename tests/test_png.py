"""The PNG writer (handler/core/png.py): lossless for every mode a thumbnail uses, every row filter exercised."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from handler.core import RenderOptions, open_path, render_thumbnail
from handler.core.png import deflate_strategy, encode_png, filter_rows
from handler.core.render import render_display
from handler.core.safe_open import GTIFF_DRIVER
from tests.rasters import real_files


def structured(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Noise, flat rows, repeated rows and ramps, so that each of Sub, Up and Average wins some rows."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    rows = shape[0]
    pixels[rows // 4 : rows // 2] = pixels[rows // 4]  # repeated rows: Up
    pixels[rows // 2 : 3 * rows // 4] = (
        rng.integers(0, 256, shape[2:] or (1,), dtype=np.uint8)[..., None, :]
        if len(shape) == 3
        else rng.integers(0, 256)
    )  # constant along the row: Sub
    ramp = (np.add.outer(np.arange(rows), np.arange(shape[1])) * 3 % 256).astype(np.uint8)
    pixels[3 * rows // 4 :] = (ramp[..., None] if len(shape) == 3 else ramp)[3 * rows // 4 :]  # a ramp: Average
    return pixels


@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (9, 1), (40, 33), (40, 33, 2), (64, 31, 3), (37, 64, 4), (40, 1, 3)])
def test_pixels_survive_encoding(shape):
    pixels = structured(shape, seed=sum(shape))
    decoded = Image.open(io.BytesIO(encode_png(pixels)))
    assert decoded.mode == {2: "L", 3: {2: "LA", 3: "RGB", 4: "RGBA"}.get(shape[-1])}[len(shape)]
    assert np.array_equal(np.asarray(decoded), pixels)


def reference_filter(rows: np.ndarray, bpp: int, kind: int) -> np.ndarray:
    """One filter of the PNG specification, byte by byte, on int rows (rows, row bytes)."""
    out = np.zeros_like(rows)
    for r in range(rows.shape[0]):
        for i in range(rows.shape[1]):
            left = rows[r, i - bpp] if i >= bpp else 0
            up = rows[r - 1, i] if r else 0
            out[r, i] = rows[r, i] - {1: left, 2: up, 3: (left + up) // 2}[kind]
    return out % 256


@pytest.mark.parametrize("shape", [(1, 9), (12, 10), (9, 7, 2), (11, 6, 3), (8, 5, 4)])
def test_each_row_is_filtered_as_the_png_specification_says(shape):
    pixels = structured(shape, seed=len(shape))
    if len(shape) == 2:
        pixels[0] = [200, 100, 50, 25, 12, 6, 3, 1, 0, 0][: shape[1]]  # halving: Average wins the first row
    rows = pixels.reshape(shape[0], -1).astype(int)
    bpp = 1 if len(shape) == 2 else shape[2]
    filtered = filter_rows(pixels)
    for r, kind in enumerate(filtered[:, 0]):
        assert np.array_equal(filtered[r, 1:], reference_filter(rows, bpp, kind)[r]), (r, kind)
    if len(shape) == 2:
        assert filtered[0, 0] == 3


def test_runs_of_zeros_choose_run_length_matching_and_noise_huffman_codes_alone():
    """Both strategies decode to the same pixels; a flat picture takes Z_RLE, noise Z_HUFFMAN_ONLY."""
    rng = np.random.default_rng(3)
    flat, noise = np.full((64, 64, 3), 90, np.uint8), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    flat[::8] = noise[::8]  # some rows that do not filter to zeros
    assert deflate_strategy(filter_rows(flat)) == zlib.Z_RLE
    assert deflate_strategy(filter_rows(noise)) == zlib.Z_HUFFMAN_ONLY
    for pixels in (flat, noise):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode_png(pixels)))), pixels)


def test_every_filter_is_chosen_somewhere():
    """So that the round trips above check Sub, Up and Average alike."""
    kinds = set()
    for shape in ((40, 33), (64, 31, 3), (37, 64, 4)):
        kinds |= set(filter_rows(structured(shape, seed=1))[:, 0].tolist())
    assert kinds == {1, 2, 3}


DOWNSAMPLED = [path for path in real_files() if path.stat().st_size > 1_000_000]  # the 1098² files


@pytest.mark.parametrize("path", DOWNSAMPLED, ids=lambda path: path.name[:40])
def test_real_thumbnails_hold_the_display_pixels_at_about_pillows_size(path):
    """A real scene's PNG decodes to the rendered display bytes (alpha from the valid mask), no more than
    10 % larger than Pillow's Z_RLE encoding (what encode.py wrote before)."""
    options = RenderOptions(thumbnail_size=512)
    with open_path(str(path), GTIFF_DRIVER) as dataset:
        display, valid = render_display(dataset, options)[:2]
        content = render_thumbnail(dataset, options).content
    layers = list(display) + ([] if valid.all() else [np.where(valid, 255, 0).astype(np.uint8)])
    pixels = np.ascontiguousarray(layers[0] if len(layers) == 1 else np.dstack(layers))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(content))), pixels)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_type=zlib.Z_RLE)
    assert len(content) <= 1.1 * len(buffer.getvalue())


def chunks(content: bytes) -> list[tuple[bytes, bytes]]:
    """(tag, body) of each chunk after the signature, each length and CRC checked as the PNG spec defines."""
    assert content[:8] == b"\x89PNG\r\n\x1a\n"
    parts, at = [], 8
    while at < len(content):
        length, tag = struct.unpack(">I", content[at : at + 4])[0], content[at + 4 : at + 8]
        body, crc = content[at + 8 : at + 8 + length], content[at + 8 + length : at + 12 + length]
        assert len(crc) == 4 and struct.unpack(">I", crc)[0] == zlib.crc32(tag + body), tag
        parts.append((tag, body))
        at += 12 + length
    return parts


@pytest.mark.parametrize(("shape", "colour_type"), [((5, 7), 0), ((5, 7, 2), 4), ((6, 3, 3), 2), ((4, 9, 4), 6)])
def test_the_file_is_ihdr_idat_iend_as_the_specification_lays_them_out(shape, colour_type):
    """Every length and CRC right (decoders skip some CRCs); IHDR: width, height, 8 bits, the colour type,
    compression 0, filter method 0, no interlacing; IDAT: the zlib stream of the filtered rows."""
    pixels = structured(shape, seed=7)
    parts = chunks(encode_png(pixels))
    assert [tag for tag, _ in parts] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", parts[0][1]) == (shape[1], shape[0], 8, colour_type, 0, 0, 0)
    assert zlib.decompress(parts[1][1]) == filter_rows(pixels).tobytes()
    assert parts[2][1] == b""


def spec_cost(filtered: np.ndarray) -> int:
    """libpng's heuristic: the sum of the bytes read as signed values, in absolute value."""
    return int(np.minimum(filtered, 256 - filtered).sum())


@pytest.mark.parametrize("shape", [(12, 10), (9, 7, 2), (11, 6, 3), (8, 5, 4), (40, 33), (64, 31, 3)])
def test_each_row_takes_the_cheapest_filter_and_the_earlier_one_on_a_tie(shape):
    pixels = structured(shape, seed=5)
    rows = pixels.reshape(shape[0], -1).astype(int)
    bpp = 1 if len(shape) == 2 else shape[2]
    costs = np.array([[spec_cost(row) for row in reference_filter(rows, bpp, kind)] for kind in (1, 2, 3)])
    assert filter_rows(pixels)[:, 0].tolist() == (1 + costs.argmin(axis=0)).tolist()  # argmin: the first minimum


def test_ties_keep_sub_then_up():
    """A flat picture costs 0 under every filter: Sub. Under a zero row, [0, 1, 0, 1] costs 3 under Sub and
    2 under Up and Average alike (1 - 0 // 2 = 1, 0 - 1 // 2 = 0): Up, the earlier."""
    assert filter_rows(np.zeros((3, 4), np.uint8))[:, 0].tolist() == [1, 1, 1]
    assert filter_rows(np.array([[0, 0, 0, 0], [0, 1, 0, 1]], np.uint8))[:, 0].tolist() == [1, 2]


@pytest.mark.parametrize(("zeros", "strategy"), [(8, zlib.Z_RLE), (7, zlib.Z_HUFFMAN_ONLY), (32, zlib.Z_RLE)])
def test_run_length_matching_from_a_quarter_of_zero_bytes(zeros, strategy):
    """RLE_MIN_ZEROS: 8 of 32 filtered bytes at 0 take Z_RLE, 7 Huffman codes alone; the filter type
    bytes do not count (here all 0, None)."""
    filtered = np.zeros((4, 9), np.uint8)
    body = np.full(32, 7, np.uint8)
    body[:zeros] = 0
    filtered[:, 1:] = body.reshape(8, 4).T  # the zeros first in each row
    assert deflate_strategy(filtered) == strategy


@pytest.mark.parametrize("bpp", [1, 2, 3, 4])
def test_average_rows_are_filtered_as_the_specification_says_for_every_pixel_size(bpp):
    """Average takes the first row when it halves along (the left neighbour alone), and every later row of a
    diagonal ramp (left and up average to the pixel; 30 wide, so that Up, 3 a byte, costs more than the
    first pixel under Average): its predictor is checked byte by byte in both."""
    channel = np.arange(bpp) * 5
    halving = (np.array([200, 100, 50, 25, 12, 6, 3, 1])[:, None] + channel).astype(np.uint8)[None]
    ramp = (128 + 3 * np.subtract.outer(np.arange(10), np.arange(30))[..., None] + channel).astype(np.uint8)
    for pixels, rows_taken in ((halving, slice(None)), (ramp, slice(1, None))):
        pixels = pixels[..., 0] if bpp == 1 else pixels
        filtered = filter_rows(pixels)
        rows = pixels.reshape(pixels.shape[0], -1).astype(int)
        assert set(filtered[rows_taken, 0].tolist()) == {3}
        assert np.array_equal(filtered[rows_taken, 1:], reference_filter(rows, bpp, 3)[rows_taken])


def test_idat_is_the_filtered_rows_deflated_with_the_chosen_strategy():
    """Z_RLE or Huffman codes alone, as deflate_strategy chose (zlib's default strategy, with its longer-distance
    matches, gives other bytes: it was the slower choice, bench/RESULTS-png.md)."""
    rng = np.random.default_rng(3)
    flat, noise = np.full((64, 64, 3), 90, np.uint8), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    flat[::8] = noise[::8]
    for pixels in (flat, noise):
        filtered = filter_rows(pixels)
        compressor = zlib.compressobj(6, zlib.DEFLATED, 15, 9, deflate_strategy(filtered))
        idat = chunks(encode_png(pixels))[1][1]
        assert idat == compressor.compress(filtered) + compressor.flush()
        assert idat != zlib.compress(filtered.tobytes(), 6)
