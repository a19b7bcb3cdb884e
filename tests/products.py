"""Sentinel-2 products for tests, built from the real pixels in the shared data folder (synthetic stand-ins
when it is absent): JPEG 2000 files encoded with the rasterio wheel's JP2OpenJPEG driver, SAFE-layout
zips whose XML follows ESA's format (PSD 14.x, structure taken from GDAL's autotest SAFE trees), and
hand-made JP2 headers for structures no encoder writes.

Real sources (tests/rasters.py REAL_DATA): the 29RKH L2A B02/B03/B04 100 m COGs (the L2A products; their
TCI is computed from them with ESA's TCI formula) and the 34SGA L2A TCI (the L1C product's TCI). Pixels
are downsampled so every zip is well under 2 MB; the 10/20/60 m ratios are kept.
"""

import functools
import io
import struct
import zipfile
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.transform import Affine, from_origin
from rasterio.warp import transform as warp_transform

from tests.rasters import REAL_DATA, reflectance_stack

REAL_BANDS = [REAL_DATA / f"S2A_29RKH_20200219_L2A_{band}_100m.tif" for band in ("B02", "B03", "B04")]
REAL_TCI = REAL_DATA / "S2A_34SGA_20200318_L2A_TCI_100m.tif"
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")
RESOLUTION = {
    band: 10 if band in ("B02", "B03", "B04", "B08") else 60 if band in ("B01", "B09", "B10") else 20 for band in BANDS
}


@dataclass(frozen=True)
class Scene:
    """Pixels on a grid: (bands, rows, cols), where they are, and whether they are the real files'."""

    data: np.ndarray
    transform: Affine
    crs: str
    real: bool


def _read_real(paths, size: int) -> Scene:
    arrays = []
    for path in paths:
        with rasterio.open(path) as src:
            arrays.append(src.read(out_shape=(src.count, size, size), resampling=Resampling.average))
            bounds, crs = src.bounds, src.crs.to_string()
    step = (bounds.right - bounds.left) / size
    return Scene(np.concatenate(arrays), from_origin(bounds.left, bounds.top, step, step), crs, True)


@functools.lru_cache(maxsize=None)
def bands_scene(size: int) -> Scene:
    """B02, B03, B04 (uint16 DN, baseline 02.14: no offset) of tile 29RKH at `size` x `size`."""
    if all(path.is_file() for path in REAL_BANDS):
        return _read_real(REAL_BANDS, size)
    step = 109800 / size
    return Scene(reflectance_stack(3, size, size) + 500, from_origin(199980, 2800020, step, step), "EPSG:32629", False)


@functools.lru_cache(maxsize=None)
def tci_scene(size: int) -> Scene:
    """The real 34SGA TCI (uint8 R, G, B; 0 is nodata) at `size` x `size`."""
    if REAL_TCI.is_file():
        return _read_real([REAL_TCI], size)
    data = (reflectance_stack(3, size, size) // 16).astype("uint8")
    data[:, :, : size // 4] = 0  # a nodata wedge, as outside the real swath
    step = 109800 / size
    return Scene(data, from_origin(699960, 3600000, step, step), "EPSG:32634", False)


def tci_from_bands(bands: np.ndarray) -> np.ndarray:
    """ESA's TCI from B04, B03, B02 DN (baseline 02.14): reflectance x 2.5 x 255, 1..255, 0 where nodata."""
    rgb = bands[::-1].astype("float32") / 10000 * 2.5 * 255
    tci = np.clip(np.rint(rgb), 1, 255).astype("uint8")
    tci[:, (bands == 0).all(axis=0)] = 0
    return tci


def jp2_bytes(
    data: np.ndarray,
    transform: Affine,
    crs: str,
    *,
    resolutions: int = 6,
    block: int = 1024,
    lossless: bool = True,
    codec: str = "JP2",
) -> bytes:
    """Encode (bands, rows, cols) with the rasterio wheel's JP2OpenJPEG driver, as ESA does: 1024² tiles,
    5 decomposition levels (6 resolutions; fewer for images under 64 px); `codec="J2K"` writes a raw
    codestream."""
    count, height, width = data.shape
    options = {"REVERSIBLE": "YES", "QUALITY": 100} if lossless else {"QUALITY": 25}
    resolutions = min(resolutions, min(width, height, block).bit_length() - 1)  # GDAL's cap for small images
    with MemoryFile(ext=".jp2" if codec == "JP2" else ".j2k") as memfile:
        with memfile.open(
            driver="JP2OpenJPEG",
            count=count,
            dtype=str(data.dtype),
            width=width,
            height=height,
            crs=crs,
            transform=transform,
            nodata=0,
            RESOLUTIONS=resolutions,
            BLOCKXSIZE=block,
            BLOCKYSIZE=block,
            CODEC=codec,
            **options,
        ) as dst:
            dst.write(data)
        return memfile.read()


BAND_JP2_NAME = "T29RKH_20200219T112111_B04_10m.jp2"  # what the band is called in its product
TCI_JP2_NAME = "T34SGA_20200318T085701_TCI_10m.jp2"


def band_jp2(**options) -> bytes:
    """B04 of 29RKH as ESA ships a band: single-band uint16, lossless, at the L2A fixtures' 10 m size."""
    scene = bands_scene(TEN_METRE_SIZE)
    return jp2_bytes(scene.data[2:3], scene.transform, scene.crs, **options)


def tci_jp2(**options) -> bytes:
    """The real 34SGA TCI as ESA ships a TCI: 3-band uint8, lossy, 1098² (4 tiles, 5 levels)."""
    scene = tci_scene(L1C_TCI_SIZE)
    return jp2_bytes(scene.data, scene.transform, scene.crs, lossless=False, **options)


# --- Hand-made JPEG 2000 headers --------------------------------------------------------------------


def box(kind: bytes, payload: bytes, length: int | None = None) -> bytes:
    """A JP2 box; `length` overrides LBox (to build malformed boxes)."""
    return struct.pack(">I4s", len(payload) + 8 if length is None else length, kind) + payload


def codestream(
    width: int,
    height: int,
    tile: tuple[int, int] | None = None,
    components: int = 1,
    levels: int = 5,
    bits: int = 8,
    extra_markers: bytes = b"",
) -> bytes:
    """A J2K main header (SOC, SIZ, COD, QCD, extra markers) and one empty tile-part (SOT, SOD), EOC."""
    tile_width, tile_height = tile or (width, height)
    siz = (
        struct.pack(
            ">HHIIIIIIIIH", 38 + 3 * components, 0, width, height, 0, 0, tile_width, tile_height, 0, 0, components
        )
        + bytes([bits - 1, 1, 1]) * components
    )
    cod = struct.pack(">HBBHBBBBBB", 12, 0, 0, 1, 0, levels, 4, 4, 0, 1)
    qcd = struct.pack(">HB", 3 + levels * 3 + 1, 0) + bytes(3 * levels + 1)
    sot = struct.pack(">HHHIBB", 0xFF90, 10, 0, 14, 0, 1)
    return (
        b"\xff\x4f\xff\x51"
        + siz
        + b"\xff\x52"
        + cod
        + b"\xff\x5c"
        + qcd
        + extra_markers
        + sot
        + b"\xff\x93"
        + b"\xff\xd9"
    )


def jp2_file(
    stream: bytes,
    *,
    ihdr: tuple[int, int, int] | None = None,
    brand: bytes = b"jp2 ",
    extra_boxes: bytes = b"",
    trailing_boxes: bytes = b"",
) -> bytes:
    """Signature, ftyp, jp2h (ihdr from SIZ unless given, colr), extra boxes, jp2c, trailing boxes."""
    height, width, components = ihdr or _siz_size(stream)
    header = box(b"ihdr", struct.pack(">IIHBBBB", height, width, components, 7, 7, 0, 0))
    colour = box(b"colr", struct.pack(">BBBI", 1, 0, 0, 17 if components == 1 else 16))
    return (
        box(b"jP  ", b"\r\n\x87\n")
        + box(b"ftyp", brand + b"\0\0\0\0" + brand)
        + box(b"jp2h", header + colour)
        + extra_boxes
        + box(b"jp2c", stream)
        + trailing_boxes
    )


def _siz_size(stream: bytes) -> tuple[int, int, int]:
    width, height, x0, y0 = struct.unpack_from(">IIII", stream, 8)
    return height - y0, width - x0, struct.unpack_from(">H", stream, 40)[0]


# --- SAFE products ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductSpec:
    """What a fixture product says about itself (identity from the source files' products, SOURCES.md)."""

    level: str  # "2A" | "1C"
    baseline: str  # "05.00"
    datatake: str  # 20200219T112111
    generation: str  # 20230521T090354
    orbit: int
    tile: str  # 29RKH
    sensing_time: str  # the tile's SENSING_TIME
    cloud_cover: float
    offset: bool  # BOA_ADD_OFFSET / RADIO_ADD_OFFSET of -1000 (baseline 04.00 on)
    spacecraft: str = "Sentinel-2A"

    @property
    def product_id(self) -> str:
        return (
            f"S2A_MSIL{self.level}_{self.datatake}_N{self.baseline.replace('.', '')}_R{self.orbit:03d}_"
            f"T{self.tile}_{self.generation}"
        )

    @property
    def granule(self) -> str:
        return f"L{self.level}_T{self.tile}_A024271_{self.datatake}"

    @property
    def file_prefix(self) -> str:
        return f"T{self.tile}_{self.datatake}"


# 29RKH: the real product is baseline 02.14 (no offset); 05.00 is ESA's Collection-1 reprocessing of it.
L2A_N0500 = ProductSpec(
    "2A", "05.00", "20200219T112111", "20230521T090354", 37, "29RKH", "2020-02-19T11:24:36.467Z", 4.05, True
)
L2A_N0214 = ProductSpec(
    "2A", "02.14", "20200219T112111", "20200219T123947", 37, "29RKH", "2020-02-19T11:24:36.467Z", 4.05, False
)
L1C_N0500 = ProductSpec(
    "1C", "05.00", "20200318T085701", "20230614T101201", 7, "34SGA", "2020-03-18T08:59:52.103Z", 89.84, True
)
TEN_METRE_SIZE = 330  # pixels of the L2A fixtures' "10 m" grid (the real 1098² at 100 m, downsampled)
L1C_TCI_SIZE = 1098  # the L1C TCI keeps the real file's pixels: 4 tiles, 4 overview levels


def footprint(scene: Scene) -> list[tuple[float, float]]:
    """The grid's corners in WGS84 as (lat, lon), clockwise from the upper left, closed: EXT_POS_LIST order."""
    _, height, width = scene.data.shape
    corners = [scene.transform @ xy for xy in ((0, 0), (width, 0), (width, height), (0, height), (0, 0))]
    lons, lats = warp_transform(scene.crs, "EPSG:4326", [x for x, _ in corners], [y for _, y in corners])
    return list(zip(lats, lons))


def _offsets(spec: ProductSpec) -> str:
    tag = "BOA_ADD_OFFSET" if spec.level == "2A" else "RADIO_ADD_OFFSET"
    wrapper = "BOA_ADD_OFFSET_VALUES_LIST" if spec.level == "2A" else "Radiometric_Offset_List"
    rows = "".join(f'\n        <{tag} band_id="{i}">-1000</{tag}>' for i in range(len(BANDS)))
    return f"\n            <{wrapper}>{rows}\n            </{wrapper}>" if spec.offset else ""


def product_xml(
    spec: ProductSpec, images: list[str], corners: list[tuple[float, float]], nodata_percentage: float
) -> bytes:
    """MTD_MSIL2A.xml / MTD_MSIL1C.xml in ESA's structure (the elements readers use, in their real places)."""
    l2a = spec.level == "2A"
    start = datetime.strptime(spec.datatake, "%Y%m%dT%H%M%S").strftime("%Y-%m-%dT%H:%M:%S.024Z")
    quantification = (
        '<BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>\n'
        '                <AOT_QUANTIFICATION_VALUE unit="none">1000.0</AOT_QUANTIFICATION_VALUE>\n'
        '                <WVP_QUANTIFICATION_VALUE unit="cm">1000.0</WVP_QUANTIFICATION_VALUE>'
        if l2a
        else '<QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>'
    )
    quantification = (
        f"<QUANTIFICATION_VALUES_LIST>\n                {quantification}\n            </QUANTIFICATION_VALUES_LIST>"
        if l2a
        else quantification
    )
    spectral = "".join(
        f'\n        <Spectral_Information bandId="{i}" physicalBand="{band.replace("B0", "B")}">'
        f"<RESOLUTION>{RESOLUTION[band]}</RESOLUTION></Spectral_Information>"
        for i, band in enumerate(BANDS)
    )
    files = "".join(f"\n                        <IMAGE_FILE>{name}</IMAGE_FILE>" for name in images)
    ring = " ".join(f"{lat!r} {lon!r}" for lat, lon in corners)
    content_qi = (
        "\n        <Image_Content_QI>\n"
        f"            <NODATA_PIXEL_PERCENTAGE>{nodata_percentage:.6f}</NODATA_PIXEL_PERCENTAGE>\n"
        "        </Image_Content_QI>"
        if l2a
        else ""
    )
    level = f"Level-{spec.level[0]}{spec.level[1]}"
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:{level}_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_{level}.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_{level}.xsd">
    <n1:General_Info>
        <Product_Info>
            <PRODUCT_START_TIME>{start}</PRODUCT_START_TIME>
            <PRODUCT_STOP_TIME>{start}</PRODUCT_STOP_TIME>
            <PRODUCT_URI>{spec.product_id}.SAFE</PRODUCT_URI>
            <PROCESSING_LEVEL>{level}</PROCESSING_LEVEL>
            <PRODUCT_TYPE>S2MSI{spec.level}</PRODUCT_TYPE>
            <PROCESSING_BASELINE>{spec.baseline}</PROCESSING_BASELINE>
            <PRODUCT_DOI>https://doi.org/10.5270/S2_-znk9xsj</PRODUCT_DOI>
            <GENERATION_TIME>{spec.generation[:4]}-{spec.generation[4:6]}-{spec.generation[6:8]}T{spec.generation[9:11]}:{spec.generation[11:13]}:{spec.generation[13:15]}.000000Z</GENERATION_TIME>
            <PREVIEW_IMAGE_URL>Not applicable</PREVIEW_IMAGE_URL>
            <PREVIEW_GEO_INFO>Not applicable</PREVIEW_GEO_INFO>
            <Datatake datatakeIdentifier="GS2A_{spec.datatake}_024271_N{spec.baseline}">
                <SPACECRAFT_NAME>{spec.spacecraft}</SPACECRAFT_NAME>
                <DATATAKE_TYPE>INS-NOBS</DATATAKE_TYPE>
                <DATATAKE_SENSING_START>{start}</DATATAKE_SENSING_START>
                <SENSING_ORBIT_NUMBER>{spec.orbit}</SENSING_ORBIT_NUMBER>
                <SENSING_ORBIT_DIRECTION>DESCENDING</SENSING_ORBIT_DIRECTION>
            </Datatake>
            <Query_Options completeSingleTile="true">
                <PRODUCT_FORMAT>SAFE_COMPACT</PRODUCT_FORMAT>
            </Query_Options>
            <Product_Organisation>
                <Granule_List>
                    <Granule datastripIdentifier="S2A_OPER_MSI_L{spec.level}_DS_2APS_{spec.generation}_S{spec.datatake}_N{spec.baseline}" granuleIdentifier="S2A_OPER_MSI_L{spec.level}_TL_2APS_{spec.generation}_A024271_T{spec.tile}_N{spec.baseline}" imageFormat="JPEG2000">{files}
                    </Granule>
                </Granule_List>
            </Product_Organisation>
        </Product_Info>
        <Product_Image_Characteristics>
            <Special_Values>
                <SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT>
                <SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX>
            </Special_Values>
            <Special_Values>
                <SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT>
                <SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX>
            </Special_Values>
            <Image_Display_Order>
                <RED_CHANNEL>3</RED_CHANNEL>
                <GREEN_CHANNEL>2</GREEN_CHANNEL>
                <BLUE_CHANNEL>1</BLUE_CHANNEL>
            </Image_Display_Order>
            {quantification}{_offsets(spec)}
            <Spectral_Information_List>{spectral}
            </Spectral_Information_List>
        </Product_Image_Characteristics>
    </n1:General_Info>
    <n1:Geometric_Info>
        <Product_Footprint>
            <Product_Footprint>
                <Global_Footprint>
                    <EXT_POS_LIST>{ring} </EXT_POS_LIST>
                </Global_Footprint>
            </Product_Footprint>
            <RASTER_CS_TYPE>POINT</RASTER_CS_TYPE>
            <PIXEL_ORIGIN>1</PIXEL_ORIGIN>
        </Product_Footprint>
        <Coordinate_Reference_System>
            <GEO_TABLES version="1">EPSG</GEO_TABLES>
            <HORIZONTAL_CS_TYPE>GEOGRAPHIC</HORIZONTAL_CS_TYPE>
        </Coordinate_Reference_System>
    </n1:Geometric_Info>
    <n1:Auxiliary_Data_Info>
        <PRODUCTION_DEM_TYPE>CopernicusDEM90</PRODUCTION_DEM_TYPE>
    </n1:Auxiliary_Data_Info>
    <n1:Quality_Indicators_Info>
        <Cloud_Coverage_Assessment>{spec.cloud_cover}</Cloud_Coverage_Assessment>
        <Technical_Quality_Assessment>
            <DEGRADED_ANC_DATA_PERCENTAGE>0.0</DEGRADED_ANC_DATA_PERCENTAGE>
            <DEGRADED_MSI_DATA_PERCENTAGE>0</DEGRADED_MSI_DATA_PERCENTAGE>
        </Technical_Quality_Assessment>{content_qi}
    </n1:Quality_Indicators_Info>
</n1:{level}_User_Product>
""".encode()


def tile_xml(spec: ProductSpec, scene: Scene, nodata_percentage: float) -> bytes:
    """GRANULE/<granule>/MTD_TL.xml in ESA's structure."""
    level = f"Level-{spec.level}"
    epsg = scene.crs.split(":")[1]
    x, y = scene.transform.c, scene.transform.f
    sizes = "".join(
        f'\n      <Size resolution="{r}">\n        <NROWS>{10980 * 10 // r}</NROWS>\n'
        f"        <NCOLS>{10980 * 10 // r}</NCOLS>\n      </Size>"
        for r in (10, 20, 60)
    )
    positions = "".join(
        f'\n      <Geoposition resolution="{r}">\n        <ULX>{x:.0f}</ULX>\n'
        f"        <ULY>{y:.0f}</ULY>\n        <XDIM>{r}</XDIM>\n        <YDIM>-{r}</YDIM>\n"
        "      </Geoposition>"
        for r in (10, 20, 60)
    )
    tile_id = f"S2A_OPER_MSI_L{spec.level}_TL_2APS_{spec.generation}_A024271_T{spec.tile}_N{spec.baseline}"
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:{level}_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_{level}_Tile_Metadata.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_{level}_Tile_Metadata.xsd">
  <n1:General_Info>
    <TILE_ID metadataLevel="Brief">{tile_id}</TILE_ID>
    <DATASTRIP_ID metadataLevel="Standard">S2A_OPER_MSI_L{spec.level}_DS_2APS_{spec.generation}_S{spec.datatake}_N{spec.baseline}</DATASTRIP_ID>
    <DOWNLINK_PRIORITY metadataLevel="Standard">NOMINAL</DOWNLINK_PRIORITY>
    <SENSING_TIME metadataLevel="Standard">{spec.sensing_time}</SENSING_TIME>
    <Archiving_Info metadataLevel="Expertise">
      <ARCHIVING_CENTRE>2APS</ARCHIVING_CENTRE>
      <ARCHIVING_TIME>{spec.generation[:4]}-{spec.generation[4:6]}-{spec.generation[6:8]}T{spec.generation[9:11]}:59:01.000000Z</ARCHIVING_TIME>
    </Archiving_Info>
  </n1:General_Info>
  <n1:Geometric_Info>
    <Tile_Geocoding metadataLevel="Brief">
      <HORIZONTAL_CS_NAME>WGS84 / UTM zone {epsg[-2:]}N</HORIZONTAL_CS_NAME>
      <HORIZONTAL_CS_CODE>EPSG:{epsg}</HORIZONTAL_CS_CODE>{sizes}{positions}
    </Tile_Geocoding>
    <Tile_Angles metadataLevel="Standard">
      <Mean_Sun_Angle>
        <ZENITH_ANGLE unit="deg">43.8765807295268</ZENITH_ANGLE>
        <AZIMUTH_ANGLE unit="deg">165.030490026582</AZIMUTH_ANGLE>
      </Mean_Sun_Angle>
    </Tile_Angles>
  </n1:Geometric_Info>
  <n1:Quality_Indicators_Info metadataLevel="Standard">
    <Image_Content_QI>
      <CLOUDY_PIXEL_PERCENTAGE>{spec.cloud_cover:.6f}</CLOUDY_PIXEL_PERCENTAGE>
      <DEGRADED_MSI_DATA_PERCENTAGE>0.000000</DEGRADED_MSI_DATA_PERCENTAGE>
      <NODATA_PIXEL_PERCENTAGE>{nodata_percentage:.6f}</NODATA_PIXEL_PERCENTAGE>
    </Image_Content_QI>
  </n1:Quality_Indicators_Info>
</n1:{level}_Tile_ID>
""".encode()


def _manifest(spec: ProductSpec, members: list[str]) -> bytes:
    """A short XFDU manifest.safe listing the data objects (nothing reads it; real products have one)."""
    objects = "".join(
        f'\n    <dataObject ID="IMG_DATA_{i}"><byteStream mimeType="application/octet-stream">'
        f'<fileLocation locatorType="URL" href="./{name}"/></byteStream></dataObject>'
        for i, name in enumerate(members)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" '
        f'version="esa/safe/sentinel/1.1/sentinel-2/msi/archive_l{spec.level.lower()}_user_product">\n'
        f"  <dataObjectSection>{objects}\n  </dataObjectSection>\n</xfdu:XFDU>\n"
    ).encode()


def member(name: str, compression: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipInfo:
    """A zip entry with a fixed time, so fixtures are the same bytes on every run (fuzzing replays)."""
    info = zipfile.ZipInfo(name, date_time=(2023, 5, 21, 9, 3, 54))
    info.compress_type = compression
    return info


@dataclass(frozen=True)
class SafeZip:
    """A built product zip and what a reader should find in it."""

    data: bytes
    spec: ProductSpec
    image: str  # the member a thumbnail reads
    resolution: int
    corners: list[tuple[float, float]]  # (lat, lon), as in EXT_POS_LIST
    nodata_percentage: float


def _images(spec: ProductSpec) -> dict[str, Scene]:
    """The product's image members (path inside the .SAFE -> scene), real pixels at 10/20/60 m ratios."""
    granule = f"GRANULE/{spec.granule}/IMG_DATA"
    if spec.level == "1C":
        return {f"{granule}/{spec.file_prefix}_TCI.jp2": tci_scene(L1C_TCI_SIZE)}
    images = {}
    for resolution in (10, 20, 60):
        scene = bands_scene(TEN_METRE_SIZE * 10 // resolution)
        data = scene.data + np.where(scene.data > 0, 1000, 0).astype("uint16") if spec.offset else scene.data
        for index, band in enumerate(("B02", "B03", "B04")):
            images[f"{granule}/R{resolution}m/{spec.file_prefix}_{band}_{resolution}m.jp2"] = Scene(
                data[index : index + 1], scene.transform, scene.crs, scene.real
            )
        images[f"{granule}/R{resolution}m/{spec.file_prefix}_TCI_{resolution}m.jp2"] = Scene(
            tci_from_bands(scene.data), scene.transform, scene.crs, scene.real
        )
    return images


@functools.lru_cache(maxsize=None)
def safe_zip(spec: ProductSpec, image_compression: int = zipfile.ZIP_STORED) -> SafeZip:
    """A SAFE product zip: `<id>.SAFE/` with manifest.safe, MTD_MSIL*.xml, GRANULE/<granule>/MTD_TL.xml, the
    IMG_DATA JPEG 2000 files (B02, B03, B04 and TCI; L1C: the TCI) and the usual empty folders."""
    safe = f"{spec.product_id}.SAFE"
    images = _images(spec)
    tci = next(scene for name, scene in images.items() if "_TCI" in name)
    nodata = float((tci.data == 0).all(axis=0).mean() * 100)
    corners = footprint(tci)
    image_names = [name.removesuffix(".jp2") for name in images]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in (
            "",
            "AUX_DATA/",
            "DATASTRIP/",
            "GRANULE/",
            f"GRANULE/{spec.granule}/",
            f"GRANULE/{spec.granule}/IMG_DATA/",
            f"GRANULE/{spec.granule}/QI_DATA/",
            "HTML/",
            "rep_info/",
        ):
            archive.writestr(member(f"{safe}/{folder}"), b"")
        archive.writestr(member(f"{safe}/manifest.safe"), _manifest(spec, list(images)))
        archive.writestr(member(f"{safe}/MTD_MSIL{spec.level}.xml"), product_xml(spec, image_names, corners, nodata))
        archive.writestr(member(f"{safe}/GRANULE/{spec.granule}/MTD_TL.xml"), tile_xml(spec, tci, nodata))
        for name, scene in images.items():
            lossless = scene.data.dtype != np.uint8
            archive.writestr(
                member(f"{safe}/{name}", image_compression),
                jp2_bytes(scene.data, scene.transform, scene.crs, lossless=lossless),
            )
    folder = f"{safe}/GRANULE/{spec.granule}/IMG_DATA"
    chosen, resolution = (
        (f"{folder}/R60m/{spec.file_prefix}_TCI_60m.jp2", 60)
        if spec.level == "2A"
        else (f"{folder}/{spec.file_prefix}_TCI.jp2", 10)
    )
    return SafeZip(buffer.getvalue(), spec, chosen, resolution, corners, nodata)


def rebuilt_zip(data: bytes, replace: dict[str, bytes | None]) -> bytes:
    """The zip's members in order, each replaced by `replace[name]` (None drops it); names only in `replace`
    are appended. Compression is kept per member."""
    source, buffer = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for info in source.infolist():
            content = replace.get(info.filename, source.read(info))
            if content is not None:
                archive.writestr(member(info.filename, info.compress_type), content)
        for name, content in replace.items():
            if name not in source.NameToInfo and content is not None:
                archive.writestr(member(name), content)
    return buffer.getvalue()


def metadata_documents(spec: ProductSpec = L2A_N0500) -> tuple[bytes, bytes]:
    """A fixture product's two XML documents: MTD_MSIL*.xml and the granule's MTD_TL.xml."""
    fixture = safe_zip(spec)
    listing = zipfile.ZipFile(io.BytesIO(fixture.data))
    safe = f"{spec.product_id}.SAFE"
    return (listing.read(f"{safe}/MTD_MSIL{spec.level}.xml"), listing.read(f"{safe}/GRANULE/{spec.granule}/MTD_TL.xml"))
