"""Small synthetic GeoTIFFs for tests that must always run (no shared data needed)."""

import os
from pathlib import Path

import numpy as np
import rasterio
import rasterio.enums
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

# The real Copernicus files live beside the repository (../shared/data/sentinel2), never inside it.
REAL_DATA = Path(
    os.environ.get("SENTINEL2_DATA", Path(__file__).resolve().parents[2] / "shared" / "data" / "sentinel2")
)


def profile(count: int, dtype: str, width: int, height: int, **extra) -> dict:
    return {
        "driver": "GTiff",
        "count": count,
        "dtype": dtype,
        "width": width,
        "height": height,
        "crs": "EPSG:32633",
        "transform": from_origin(404400, 5342400, 10, 10),
        **extra,
    }


def reflectance_stack(count: int, height: int = 60, width: int = 80, dtype: str = "uint16") -> np.ndarray:
    """A plausible scene: band b has a gradient around (500 * b) DN, green > blue for vegetation."""
    rows, cols = np.mgrid[0:height, 0:width]
    bands = [400 + 150 * b + 10 * cols + 5 * rows for b in range(count)]
    return np.stack(bands).astype(dtype)


def geotiff_bytes(data: np.ndarray, descriptions=None, tags=None, overviews=(), **extra) -> bytes:
    """Encode `data` (bands, rows, cols) as an in-memory GeoTIFF."""
    count, height, width = data.shape
    with MemoryFile() as memfile:
        with memfile.open(**profile(count, str(data.dtype), width, height, **extra)) as dst:
            dst.write(data)
            for i, text in enumerate(descriptions or (), start=1):
                dst.set_band_description(i, text)
            if tags:
                dst.update_tags(**tags)
            if overviews:
                dst.build_overviews(list(overviews))
        return memfile.read()


def write_geotiff(path: Path, data: np.ndarray, **kwargs) -> Path:
    path.write_bytes(geotiff_bytes(data, **kwargs))
    return path


# The seed's sample: an EO Browser export of a full 12-band L2A scene, uncompressed (~72 MB).
SEED_SHAPE = (12, 1384, 2186)
REAL_12_BAND = REAL_DATA / "bigearthnet_S2A_MSIL2A_20170613T101031_87_48_12band_10m.tif"


def seed_sized_export(path: Path) -> Path:
    """A file shaped like the seed's sample: the real 12-band file upsampled to 2186 x 1384 when the
    shared data is present (a synthetic stack otherwise), written uncompressed and striped."""
    count, height, width = SEED_SHAPE
    if REAL_12_BAND.is_file():
        with rasterio.open(REAL_12_BAND) as src:
            data = src.read(out_shape=SEED_SHAPE, resampling=rasterio.enums.Resampling.bilinear)
    else:  # the 60 x 80 gradient (400-3200 DN) stretched over the grid: drawn at full size it passes 29,000 DN
        small = reflectance_stack(count)
        rows = np.arange(height) * small.shape[1] // height
        cols = np.arange(width) * small.shape[2] // width
        data = small[:, rows[:, None], cols]
    with rasterio.open(path, "w", **profile(count, "uint16", width, height, compress="none")) as dst:
        dst.write(data)
    return path


def real_files() -> list[Path]:
    return sorted(REAL_DATA.glob("*.tif")) if REAL_DATA.is_dir() else []


def open_png(content: bytes):
    from PIL import Image
    import io

    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def as_array(content: bytes) -> np.ndarray:
    return np.asarray(open_png(content))


__all__ = [
    "REAL_DATA",
    "SEED_SHAPE",
    "seed_sized_export",
    "geotiff_bytes",
    "write_geotiff",
    "reflectance_stack",
    "real_files",
    "as_array",
    "open_png",
    "rasterio",
]
