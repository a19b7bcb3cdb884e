"""PNG encoding of real thumbnails: ours (handler/core/png.py) against Pillow, default and with Z_RLE.

python -m bench.png_bench [--repeat 7] [--output bench/RESULTS-png.md]

Each real Sentinel-2 file in ../shared/data/sentinel2 is drawn as the service draws it (render_display,
default options) at 512 and 1024 px; the same display bytes are then encoded by each variant,
timed (median of --repeat saves after one warm-up) and sized. Not a test: numbers depend on the machine.
"""

import argparse
import io
import os
import statistics
import time
import zlib
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image

from bench.common import DATA_DIR
from handler.core.options import RenderOptions
from handler.core.png import encode_png
from handler.core.render import render_display

DATA = DATA_DIR  # the real files, as for the tests (SENTINEL2_DATA or ../shared/data/sentinel2)
# Pillow's save options; None: ours (encode_png, what encode_image uses for PNG).
VARIANTS = {
    "ours (core/png.py)": None,
    "Pillow default (level 6, default strategy)": {},
    "Pillow Z_RLE, level 6": {"compress_type": zlib.Z_RLE},
    "Pillow Z_RLE, level 1": {"compress_type": zlib.Z_RLE, "compress_level": 1},
}


def pixels(path: Path, size: int) -> np.ndarray:
    """The RGBA (or RGB) array encode_image would save for this file at `size`."""
    with rasterio.open(path) as dataset:
        display, valid, *_ = render_display(dataset, RenderOptions(thumbnail_size=size))
    channels = list(display) + ([] if valid.all() else [np.where(valid, 255, 0).astype(np.uint8)])
    return np.ascontiguousarray(channels[0] if len(channels) == 1 else np.dstack(channels))


def encode(array: np.ndarray, options: dict | None) -> bytes:
    if options is None:
        return encode_png(array)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **options)
    return buffer.getvalue()


def time_save(array: np.ndarray, options: dict | None, repeat: int) -> tuple[float, int]:
    """Median milliseconds and bytes of one PNG encoding (after a warm-up one)."""
    times, size = [], 0
    for attempt in range(repeat + 1):
        start = time.perf_counter()
        size = len(encode(array, options))
        if attempt:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--output", type=Path, default=Path(__file__).with_name("RESULTS-png.md"))
    args = parser.parse_args()
    files = sorted(DATA.glob("*.tif"))
    if not files:
        raise SystemExit(f"no real files in {DATA}")
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# PNG encoding: ours against Pillow's (bench/png_bench.py)",
        "",
        f"`python -m bench.png_bench --repeat {args.repeat}`, {when}, load {os.getloadavg()[0]:.1f}, "
        f"Pillow {Image.__version__}, zlib {zlib.ZLIB_RUNTIME_VERSION}. Median ms of {args.repeat} encodings "
        "of the same display pixels (default render options); bytes of the PNG.",
        "",
        "| file | size px | " + " | ".join(VARIANTS) + " |",
        "|---|---|" + "---|" * len(VARIANTS),
    ]
    for path in files:
        for size in (512, 1024):
            array = pixels(path, size)
            cells = [time_save(array, options, args.repeat) for options in VARIANTS.values()]
            lines.append(
                f"| {path.name} | {array.shape[1]}x{array.shape[0]} | "
                + " | ".join(f"{ms:.1f} ms · {nbytes / 1024:,.0f} KiB" for ms, nbytes in cells)
                + " |"
            )
            print(lines[-1], flush=True)
    args.output.write_text("\n".join(lines) + "\n")
    print(f"written to {args.output}")


if __name__ == "__main__":
    main()
