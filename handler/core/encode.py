"""Encode display bytes as PNG, JPEG or WebP; nodata becomes transparent where the format allows."""

import io

import numpy as np
from PIL import Image

from handler.core.options import ImageFormat
from handler.core.png import encode_png
from handler.core.spans import span

# PNG goes through png.py (numpy row filters, zlib Z_RLE: faster than Pillow, bench/RESULTS-png.md);
# JPEG and WebP through Pillow.
_PIL_FORMAT = {ImageFormat.jpeg: "JPEG", ImageFormat.webp: "WEBP"}
_SAVE_OPTIONS = {ImageFormat.jpeg: {"quality": 85}, ImageFormat.webp: {"quality": 85}}


def encode_image(display: np.ndarray, valid: np.ndarray, image_format: ImageFormat) -> bytes:
    """`display` is (1|3, rows, cols) uint8; invalid pixels get alpha 0 (PNG/WebP) or black (JPEG)."""
    channels = list(display)
    if image_format is ImageFormat.jpeg:
        channels = [np.where(valid, band, 0).astype(np.uint8) for band in channels]
    elif not valid.all():
        channels.append(np.where(valid, 255, 0).astype(np.uint8))
    if image_format is ImageFormat.webp and len(channels) <= 2:  # WebP has no grayscale modes
        channels = channels[:1] * 3 + channels[1:]
    pixels = channels[0] if len(channels) == 1 else np.dstack(channels)
    with span("encode"):
        if image_format is ImageFormat.png:
            return encode_png(pixels)
        image = Image.fromarray(np.ascontiguousarray(pixels))
        buffer = io.BytesIO()
        image.save(buffer, format=_PIL_FORMAT[image_format], **_SAVE_OPTIONS[image_format])
    return buffer.getvalue()
