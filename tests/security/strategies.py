"""Hypothesis strategies for hostile-but-plausible GeoTIFFs: what GDAL can write, then what it cannot.

`raster_specs()` draws a `RasterSpec` over dtypes, compressions (those this GDAL build can write),
layouts (tiled/striped, block sizes, pixel/band interleave, overviews, internal masks), nodata,
scales/offsets, band descriptions, colour interpretations, CRSs and dataset/band tags (Sentinel-2 keys
with odd values); `build_geotiff()` writes it with rasterio's MemoryFile. `retagged()` then rewrites
TIFF tags GDAL would never write (compressions it names but cannot decode, complex integer sample
formats, reserved photometric values), and `mutated()` makes byte-level mutations of any file.
Rasters are at most 64 x 64 so that thousands of examples run in a couple of minutes.
"""

import re
import struct
from dataclasses import dataclass, field

import numpy as np
import rasterio
from hypothesis import reject
from hypothesis import strategies as st
from rasterio.enums import ColorInterp
from rasterio.io import MemoryFile
from rasterio.transform import Affine

MAX_SIDE = 64
UTM_TRANSFORM = Affine(10, 0, 404400, 0, -10, 5342400)  # 10 m pixels in UTM zone 33N, as tests/rasters.py
# Listed here rather than imported from handler.core.safe_open.DRAWABLE_DTYPES: the generator stays an
# independent oracle, so a dtype the core stopped accepting is still generated (and noticed).
REAL_DTYPES = (
    "uint8",
    "int8",
    "uint16",
    "int16",
    "uint32",
    "int32",
    "uint64",
    "int64",
    "float16",
    "float32",
    "float64",
)
COMPLEX_DTYPES = ("complex_int16", "complex64", "complex128")
BAND_COUNTS = (1, 2, 3, 4, 12, 13)
CRSS = (
    None,
    "EPSG:32633",
    "EPSG:4326",
    "EPSG:3857",
    "EPSG:3031",
    "ESRI:102100",
    "+proj=ortho +lat_0=90",
    "+proj=geos +h=35785831 +lon_0=0",
    "+proj=tpers +h=1000",
    "+proj=longlat +a=1 +b=1",
)
# Band descriptions seen in exports, plus near misses (B1A, B8B, B013), non-ASCII digits (Arabic-Indic,
# fullwidth, Devanagari), control characters and whitespace.
DESCRIPTIONS = (
    "B04",
    "B4",
    "b8a",
    "B8A",
    "B04 (red)",
    "red",
    "nir08",
    "B1A",
    "B8B",
    "B013",
    "B00",
    "B99",
    "B",
    "B\u0664",
    "B\uff10\uff14",
    "B\u096a",
    "B\u0660\u0664",
    "B04\x01",
    "\t",
    " ",
    "B12\x7f",
    "\u00df",
    "b" * 300,
    "B04" * 1000,
)
S2_KEYS = (
    "PROCESSING_BASELINE",
    "PROCESSINGBASELINE",
    "S2_PROCESSING_BASELINE",
    "BOA_ADD_OFFSET",
    "BOA_ADD_OFFSET_B04",
    "RADIO_ADD_OFFSET_B02",
    "BOA_OFFSET_APPLIED",
    "HARMONIZED",
    "HARMONISED",
    "BOA_QUANTIFICATION_VALUE",
    "SCALE",
    "OFFSET",
)
ODD_NUMBERS = (
    "04.00",
    "4",
    "02.14",
    "-1000",
    "1000",
    "0",
    "-0",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "1e400",
    "-1e400",
    "1e308",
    "\u0663",
    "\uff14",
    "0x10",
    "1_000",
    "",
    " ",
    "true",
    "yes",
    "1",
    "maybe",
    "-1000.5",
    "9" * 20,
)
# TIFF Compression (259) codes libtiff names but this GDAL build cannot decode, or does not know at all.
EXOTIC_COMPRESSIONS = (
    2,
    3,
    4,
    6,
    9,
    10,
    32766,
    32771,
    32809,
    32895,
    32896,
    32897,
    32898,
    32908,
    32909,
    32946,
    32947,
    34661,
    34676,
    34677,
    34692,
    34712,
    34713,
    34715,
    34718,
    34892,
    34933,
    34934,
    50002,
    52546,
    0,
    65535,
)
TAG_COMPRESSION, TAG_PHOTOMETRIC, TAG_SAMPLE_FORMAT, TAG_EXTRA_SAMPLES = 259, 262, 339, 338
SAMPLE_FORMAT_COMPLEX_INT = 5
# The text of one <Item> in GDAL_METADATA (tags, band descriptions, scales, offsets).
_METADATA_ITEM = re.compile(rb'<Item name="[^"]*"[^>]*>([^<]+)</Item>')


def _writable_compressions() -> tuple[str, ...]:
    """The GTiff compressions this GDAL build can write (WEBP, JXL, LERC are optional)."""
    found = []
    for name in (
        "NONE",
        "DEFLATE",
        "LZW",
        "ZSTD",
        "LZMA",
        "PACKBITS",
        "JPEG",
        "LERC",
        "LERC_DEFLATE",
        "LERC_ZSTD",
        "WEBP",
        "JXL",
    ):
        try:
            with (
                MemoryFile() as memfile,
                memfile.open(
                    driver="GTiff", count=3, dtype="uint8", width=16, height=16, transform=UTM_TRANSFORM, compress=name
                ) as dst,
            ):
                dst.write(np.ones((3, 16, 16), "uint8"))
            found.append(name)
        except rasterio.errors.RasterioError:
            pass
    return tuple(found)


WRITABLE_COMPRESSIONS = _writable_compressions()


def compressions_for(dtype: str, count: int, interleave: str) -> list[str]:
    """Codecs GDAL's GTiff driver accepts for this sample type and band layout."""
    names = [c for c in WRITABLE_COMPRESSIONS if c not in ("JPEG", "WEBP", "JXL") and not c.startswith("LERC")]
    if dtype not in ("complex_int16", "complex64", "complex128", "float16"):
        names += [c for c in WRITABLE_COMPRESSIONS if c.startswith("LERC")]
    if dtype in ("uint8", "int8") and "JPEG" in WRITABLE_COMPRESSIONS:
        names.append("JPEG")
    if dtype == "uint8" and count in (3, 4) and interleave == "pixel" and "WEBP" in WRITABLE_COMPRESSIONS:
        names.append("WEBP")
    return names


@dataclass(frozen=True)
class RasterSpec:
    """Everything `build_geotiff` needs; `creation` holds GTiff creation options."""

    dtype: str
    count: int
    width: int
    height: int
    creation: dict = field(default_factory=dict)
    overviews: tuple[int, ...] = ()
    internal_mask: bool = False
    nodata: float | None = None
    scales: tuple[float, ...] | None = None
    offsets: tuple[float, ...] | None = None
    descriptions: tuple[str, ...] | None = None
    colorinterp: tuple[ColorInterp, ...] | None = None
    tags: dict = field(default_factory=dict)
    band_tags: dict = field(default_factory=dict)
    crs: str | None = "EPSG:32633"
    transform: Affine = UTM_TRANSFORM
    pixels: str = "gradient"
    seed: int = 0

    @property
    def drawable(self) -> bool:
        """What the service draws: real-valued samples, with colour tables on 8-bit bands only."""
        paletted = ColorInterp.palette in (self.colorinterp or ())
        return self.dtype in REAL_DTYPES and not (paletted and np.dtype(self.dtype).itemsize > 1)


def _pixel_values(spec: RasterSpec) -> np.ndarray:
    """(count, height, width) values: a reflectance-like gradient, random over the dtype's range, a
    constant, the dtype's extremes, or (floats) NaN and infinities sprinkled in."""
    rng = np.random.default_rng(spec.seed)
    shape = (spec.count, spec.height, spec.width)
    dtype = "complex64" if spec.dtype == "complex_int16" else spec.dtype
    kind = np.dtype(dtype).kind
    if spec.pixels == "gradient":
        rows, cols = np.mgrid[0 : spec.height, 0 : spec.width]
        values = np.stack([(400 + 150 * b + 10 * cols + 5 * rows) % 250 for b in range(spec.count)])
        return values.astype(dtype)
    if spec.pixels == "constant":
        return np.full(shape, rng.integers(0, 100), dtype=dtype)
    if kind in "iu":
        info = np.iinfo(dtype)
        if spec.pixels == "extremes":
            return rng.choice(np.array([info.min, info.max, 0], dtype=dtype), size=shape)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    values = (rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 6)).astype(dtype)
    if spec.pixels == "extremes" and kind == "f":
        specials = np.array([np.nan, np.inf, -np.inf, np.finfo(dtype).max, np.finfo(dtype).min], dtype=dtype)
        spots = rng.random(shape) < 0.3
        values[spots] = rng.choice(specials, size=int(spots.sum()))
    return values


def build_geotiff(spec: RasterSpec) -> bytes:
    """Write `spec` as an in-memory GeoTIFF (internal overviews and mask included)."""
    profile = {
        "driver": "GTiff",
        "count": spec.count,
        "dtype": spec.dtype,
        "width": spec.width,
        "height": spec.height,
        "crs": spec.crs,
        "transform": spec.transform,
        "nodata": spec.nodata,
        **spec.creation,
    }
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(_pixel_values(spec))
            if spec.internal_mask:
                rows, cols = np.mgrid[0 : spec.height, 0 : spec.width]
                dst.write_mask(((rows + cols) % 7 != 0).astype("uint8") * 255)
            for i, text in enumerate(spec.descriptions or (), start=1):
                dst.set_band_description(i, text)
            if spec.scales is not None:
                dst.scales = spec.scales
            if spec.offsets is not None:
                dst.offsets = spec.offsets
            if spec.colorinterp is not None:
                dst.colorinterp = spec.colorinterp
            if spec.tags:
                dst.update_tags(**spec.tags)
            if spec.band_tags:
                dst.update_tags(1, **spec.band_tags)
            if spec.overviews:
                dst.build_overviews(list(spec.overviews))
        return memfile.read()


def _nodata(dtype: str) -> st.SearchStrategy:
    if dtype in COMPLEX_DTYPES:
        return st.none()
    if np.dtype(dtype).kind == "f":
        return st.one_of(
            st.none(),
            st.sampled_from([0.0, float("nan"), float("inf"), -float("inf"), -9999.0]),
            st.floats(-1e4, 1e4, width=16),
        )
    info = np.iinfo(dtype)
    # rasterio checks nodata against the dtype range as a float64: keep 64-bit extremes representable.
    low, high = max(int(info.min), -(2**53)), min(int(info.max), 2**53)
    return st.one_of(st.none(), st.sampled_from([0, low, high]), st.integers(low, high))


def _layout(dtype: str, count: int, width: int, height: int) -> st.SearchStrategy:
    """GTiff creation options: tiling and block sizes, interleave, codec (+ predictor, level), BigTIFF."""

    @st.composite
    def layout(draw) -> dict:
        options: dict = {"interleave": draw(st.sampled_from(["pixel", "band"]))}
        if draw(st.booleans()):
            options.update(
                tiled=True,
                blockxsize=draw(st.sampled_from([16, 32, 64])),
                blockysize=draw(st.sampled_from([16, 32, 64])),
            )
        else:
            options["blockysize"] = draw(st.integers(1, height))
        compress = draw(st.sampled_from(compressions_for(dtype, count, options["interleave"])))
        if compress != "NONE":
            options["compress"] = compress
        if compress in ("DEFLATE", "LZW", "ZSTD") and dtype not in COMPLEX_DTYPES and draw(st.booleans()):
            options["predictor"] = 3 if np.dtype(dtype).kind == "f" else 2
        if compress in ("DEFLATE", "ZSTD") and draw(st.booleans()):
            options["zlevel" if compress == "DEFLATE" else "zstd_level"] = draw(st.integers(1, 9))
        if compress == "JPEG" and count == 3 and options["interleave"] == "pixel" and draw(st.booleans()):
            options["photometric"] = "YCBCR"
        elif dtype == "uint8" and count in (3, 4) and draw(st.booleans()):
            options["photometric"] = "RGB"
        if draw(st.integers(0, 7)) == 0:
            options["bigtiff"] = "YES"
        return options

    return layout()


TEXT = st.text(max_size=40)
TAG_VALUES = st.one_of(st.sampled_from(ODD_NUMBERS), st.floats().map(repr), TEXT.filter(lambda s: "\0" not in s))
TAG_KEYS = st.one_of(st.sampled_from(S2_KEYS), st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True))
SCALES = st.one_of(
    st.sampled_from([0.0, 1.0, 1e-4, -1e-4, float("nan"), float("inf"), -float("inf"), 5e-324, 1e308]), st.floats()
)
OFFSETS = st.one_of(st.sampled_from([0.0, -1000.0, -0.1, float("nan"), float("inf"), 1e308]), st.floats())


@st.composite
def raster_specs(draw, dtypes: tuple[str, ...] = REAL_DTYPES + COMPLEX_DTYPES) -> RasterSpec:
    """A GeoTIFF GDAL can write, with odd but legal metadata."""
    dtype = draw(st.sampled_from(dtypes))
    count = draw(st.one_of(st.sampled_from(BAND_COUNTS), st.integers(1, 16)))
    width, height = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
    per_band = lambda values: st.none() | st.lists(values, min_size=count, max_size=count).map(tuple)  # noqa: E731
    overviews = [f for f in (2, 4, 8) if width >= f and height >= f]
    return RasterSpec(
        dtype=dtype,
        count=count,
        width=width,
        height=height,
        creation=draw(_layout(dtype, count, width, height)),
        overviews=tuple(draw(st.lists(st.sampled_from(overviews), unique=True, max_size=3))) if overviews else (),
        internal_mask=draw(st.integers(0, 5)) == 0,
        nodata=draw(_nodata(dtype)),
        scales=draw(per_band(SCALES)),
        offsets=draw(per_band(OFFSETS)),
        descriptions=draw(per_band(st.one_of(st.sampled_from(DESCRIPTIONS), TEXT.filter(lambda s: "\0" not in s)))),
        colorinterp=draw(per_band(st.sampled_from(list(ColorInterp)))),
        tags=draw(st.dictionaries(TAG_KEYS, TAG_VALUES, max_size=4)),
        band_tags=draw(st.dictionaries(TAG_KEYS, TAG_VALUES, max_size=3)),
        crs=draw(st.sampled_from(CRSS)),
        transform=draw(
            st.one_of(
                st.just(UTM_TRANSFORM),
                st.builds(
                    Affine,
                    st.floats(-1e6, 1e6).filter(bool),
                    st.just(0.0),
                    st.floats(-1e7, 1e7),
                    st.just(0.0),
                    st.floats(-1e6, 1e6).filter(bool),
                    st.floats(-1e7, 1e7),
                ),
            )
        ),
        pixels=draw(st.sampled_from(["gradient", "random", "constant", "extremes"])),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


@st.composite
def geotiffs(draw, dtypes: tuple[str, ...] = REAL_DTYPES + COMPLEX_DTYPES) -> tuple[RasterSpec, bytes]:
    """(spec, bytes) of a written GeoTIFF; specs GDAL refuses to write are rejected (they are rare)."""
    spec = draw(raster_specs(dtypes))
    try:
        return spec, _built(spec)
    except (rasterio.errors.RasterioError, ValueError):
        reject()


_BUILT: dict[str, bytes] = {}


def _built(spec: RasterSpec, keep: int = 1024) -> bytes:
    """`build_geotiff`, memoized by the spec's repr: LERC output is not byte-for-byte reproducible, and
    Hypothesis must see the same bytes when it replays or shrinks an example."""
    key = repr(spec)
    if key not in _BUILT:
        if len(_BUILT) >= keep:
            del _BUILT[next(iter(_BUILT))]
        _BUILT[key] = build_geotiff(spec)
    return _BUILT[key]


# --- byte-level rewrites of files GDAL wrote -----------------------------------------------------


def _ifds(data: bytes) -> list[int]:
    """Offsets of every IFD of a classic little-endian TIFF (GDAL's default), stopping at loops."""
    if data[:4] != b"II*\x00":
        return []
    offsets, offset = [], struct.unpack("<I", data[4:8])[0]
    while 8 <= offset and offset + 2 <= len(data) and offset not in offsets:
        offsets.append(offset)
        end = offset + 2 + 12 * struct.unpack("<H", data[offset : offset + 2])[0]
        if end + 4 > len(data):
            break
        offset = struct.unpack("<I", data[end : end + 4])[0]
    return offsets


def rewrite_tag(data: bytes, tag: int, value: int, first_only: bool = False) -> bytes:
    """Set every value of a SHORT/LONG `tag` (inline or out of line) to `value` in each IFD."""
    out = bytearray(data)
    for ifd in _ifds(data)[:1] if first_only else _ifds(data):
        for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
            entry = ifd + 2 + 12 * i
            entry_tag, kind, count = struct.unpack("<HHI", data[entry : entry + 8])
            if entry_tag != tag or kind not in (3, 4):
                continue
            size = 2 if kind == 3 else 4
            start = entry + 8 if count * size <= 4 else struct.unpack("<I", data[entry + 8 : entry + 12])[0]
            for k in range(min(count, (len(out) - start) // size)):
                out[start + k * size : start + (k + 1) * size] = struct.pack(
                    "<H" if kind == 3 else "<I", value & (0xFFFF if kind == 3 else 0xFFFFFFFF)
                )
    return bytes(out)


@st.composite
def retagged(draw, data: bytes) -> bytes:
    """A GDAL-written file with one tag GDAL would never write: an exotic compression, a complex
    integer sample format (CInt16/CInt32 from complex or 16/32-bit integer files), a reserved or
    mismatched photometric interpretation, or invalid UTF-8 in a GDAL_METADATA item (band
    descriptions, scales, tags)."""
    items = [match.span(1) for match in _METADATA_ITEM.finditer(data)]
    kind = draw(st.sampled_from(["compression", "sample_format", "photometric"] + (["utf8"] if items else [])))
    if kind == "utf8":
        start, end = draw(st.sampled_from(items))
        high_bytes = st.binary(min_size=end - start, max_size=end - start).map(lambda b: bytes(x | 0x80 for x in b))
        return data[:start] + draw(high_bytes) + data[end:]
    first_only = draw(st.booleans())
    if kind == "compression":
        value = draw(st.one_of(st.sampled_from(EXOTIC_COMPRESSIONS), st.integers(0, 65535)))
        return rewrite_tag(data, TAG_COMPRESSION, value, first_only)
    if kind == "sample_format":
        value = draw(st.one_of(st.just(SAMPLE_FORMAT_COMPLEX_INT), st.integers(0, 8)))
        return rewrite_tag(data, TAG_SAMPLE_FORMAT, value, first_only)
    value = draw(
        st.one_of(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 32844, 32845, 34892]), st.integers(0, 65535))
    )
    return rewrite_tag(data, TAG_PHOTOMETRIC, value, first_only)


INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 60_000, 1_000_000)


def ifd_entries(data: bytes) -> list[int]:
    """Byte offsets of the first IFD's 12-byte entries (classic little-endian TIFF), or []."""
    ifds = _ifds(data)
    if not ifds:
        return []
    count = struct.unpack("<H", data[ifds[0] : ifds[0] + 2])[0]
    return [ifds[0] + 2 + 12 * i for i in range(count) if ifds[0] + 14 + 12 * i <= len(data)]


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    """1-6 mutations: byte flips, interesting values, truncations, insertions, deletions, and IFD
    entries with a new type / count / value. Mostly past the magic bytes, mostly in the first 512 bytes
    (header, IFD, tag arrays), where the parsers live."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if len(data) < 16:
            break
        low = 0 if draw(st.integers(0, 19)) == 0 else 4  # 1 in 20 may touch the magic bytes
        high = len(data) - 1 if draw(st.booleans()) else min(len(data) - 1, 511)
        position = draw(st.integers(low, high))
        kind = draw(st.sampled_from(["flip", "byte", "u32", "truncate", "insert", "delete", "ifd", "ifd"]))
        entries = ifd_entries(bytes(data))
        if kind == "ifd" and entries:
            entry = draw(st.sampled_from(entries))
            part = draw(st.sampled_from(["type", "count", "value"]))
            if part == "type":
                data[entry + 2 : entry + 4] = struct.pack("<H", draw(st.integers(0, 18)))
            else:
                start = entry + (4 if part == "count" else 8)
                data[start : start + 4] = struct.pack("<I", draw(st.sampled_from(INTERESTING_32 + (len(data),))))
        elif kind == "flip":
            data[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte":
            data[position] = draw(st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01]))
        elif kind == "u32" and position + 4 <= len(data):
            data[position : position + 4] = struct.pack("<I", draw(st.sampled_from(INTERESTING_32)))
        elif kind == "truncate":
            del data[max(position, 8) :]
        elif kind == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[position : position + draw(st.integers(1, 16))]
    return bytes(data)
