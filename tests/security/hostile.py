"""Hostile payloads and the assertions every security case shares (no leaks, JSON error shape).

Every payload here is built offline: synthetic GeoTIFFs from tests/rasters.py, hand-made TIFF
headers, VRT / WMS / MRF XML pointing at local files or at a counting HTTP server on 127.0.0.1.
"""

import contextlib
import functools
import io
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from rasterio.io import MemoryFile
from rasterio.windows import Window

from tests.rasters import geotiff_bytes, profile, reflectance_stack

# A secret only this process knows: anything that dumps the environment into a response leaks it.
CANARY = "canary-5e1f0c2a9d7b4e36"
os.environ.setdefault("SECURITY_CANARY_SECRET", CANARY)

PATH_MARKERS = (
    "/proc",
    "/etc",
    "/vsimem",
    "/vsis3",
    "/vsicurl",
    "/work",
    "/tmp",
    "/root",
    "/home",
    "/usr",
    "site-packages",
    "Traceback",
    'File "',
    "rasterio",
    "CPLE_",
)


def _file_text(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def secrets() -> list[str]:
    """Strings that must never appear in a response: environment values, file contents."""
    found = {CANARY}
    environ = _file_text("/proc/self/environ").split("\0") + [f"{k}={v}" for k, v in os.environ.items()]
    for entry in environ:
        value = entry.partition("=")[2]
        if len(value) >= 12:
            found.add(value)
    passwd = _file_text("/etc/passwd").splitlines()
    if passwd:
        found.add(passwd[0])
    return sorted(found)


def hostnames() -> set[str]:
    return {name for name in (socket.gethostname(), _file_text("/etc/hostname").strip()) if name}


def assert_no_leak(text: str, paths: bool = True) -> None:
    """No secrets, no hostname, and (unless the input itself held paths) no internal paths."""
    for secret in secrets():
        assert secret not in text, f"response leaks {secret[:40]!r}"
    for name in hostnames():
        assert not re.search(rf"(?<![A-Za-z0-9_.-]){re.escape(name)}(?![A-Za-z0-9_.-])", text), (
            f"response leaks the hostname {name!r}"
        )
    if paths:
        for marker in PATH_MARKERS:
            assert marker not in text, f"response leaks {marker!r}: {text[:300]}"


def reader_within(data: bytes):
    """A `Read` of `data` that fails the test when asked for a byte outside the file: to S3 that is an
    error (retried), where a scan must find a corrupt file without asking."""

    def read(offset: int, length: int) -> bytes:
        assert 0 <= offset and offset + length <= len(data), f"asked for {length} bytes at {offset}"
        return data[offset : offset + length]

    return read


@contextlib.contextmanager
def cpu_seconds_under(limit: float):
    """Fail if the block spends `limit` seconds or more of this process's CPU time (all its threads).
    CPU time measures the work itself: a wall clock also counts the time other processes hold the cores,
    which made these checks fail on a busy machine (and a mutation run count such failures as kills)."""
    start = time.process_time()
    yield
    spent = time.process_time() - start
    assert spent < limit, f"{spent:.2f} s of CPU time; the bound is {limit} s"


def assert_error(response, status: int, code: str | tuple[str, ...]) -> dict:
    """The one error shape, the expected status and code, and no leak in the body."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    codes = (code,) if isinstance(code, str) else code
    assert body["error"]["code"] in codes, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert_no_leak(response.text)
    return body["error"]


# --- TIFFs -------------------------------------------------------------------------------------

SCENE = geotiff_bytes(reflectance_stack(12, height=60, width=90))
SHORT, LONG = 3, 4


def tiff(entries: list[tuple[int, int, int, int]], payload: bytes = b"", next_ifd: int = 0) -> bytes:
    """A classic little-endian TIFF with one IFD at offset 8; entries are (tag, type, count, value)."""
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in sorted(entries):
        ifd += struct.pack("<HHII", tag, kind, count, value)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", next_ifd) + payload


def header_bomb(width: int = 1_000_000, height: int = 1_000_000) -> bytes:
    """~140 bytes claiming width x height uint8 pixels in one strip of 16 bytes."""
    data_offset = 8 + 2 + 12 * 9 + 4
    return tiff(
        [
            (256, LONG, 1, width),
            (257, LONG, 1, height),
            (258, SHORT, 1, 8),
            (259, SHORT, 1, 1),
            (262, SHORT, 1, 1),
            (273, LONG, 1, data_offset),
            (277, SHORT, 1, 1),
            (278, LONG, 1, height),
            (279, LONG, 1, 16),
        ],
        bytes(16),
    )


@functools.lru_cache(maxsize=8)
def empty_geotiff(width: int, height: int, dtype: str = "uint16", count: int = 1, **extra) -> bytes:
    """A GeoTIFF whose tiles were never written (SPARSE_OK): tiny file, huge raster."""
    with MemoryFile() as memfile:
        options = {"tiled": True, "blockxsize": 512, "blockysize": 512, "sparse_ok": True, **extra}
        with memfile.open(**profile(count, dtype, width, height, **options)):
            pass
        return memfile.read()


@functools.lru_cache(maxsize=2)
def deflate_bomb(size: int = 20_000) -> bytes:
    """size x size uint16 zeros, deflate tiles actually written: < 1 MB on disk, 800 MB decoded at 20000."""
    with MemoryFile() as memfile:
        with memfile.open(
            **profile(1, "uint16", size, size, tiled=True, blockxsize=512, blockysize=512, compress="deflate")
        ) as dst:
            zeros = np.zeros((1, 2048, size), "uint16")
            for row in range(0, size, 2048):
                rows = min(2048, size - row)
                dst.write(zeros[:, :rows], window=Window(0, row, size, rows))
        return memfile.read()


def ifd_offset(data: bytes) -> int:
    return struct.unpack("<I", data[4:8])[0]


def truncated_ifd(data: bytes = SCENE) -> bytes:
    """The file cut in the middle of its first IFD's entries."""
    offset = ifd_offset(data)
    return data[: offset + 2 + 12 * 3 + 5]


def ifd_loop() -> bytes:
    """An IFD whose next-IFD pointer points back at itself."""
    return header_bomb(16, 16)[:-20] + struct.pack("<I", 8) + bytes(16)


def ifd_huge_count() -> bytes:
    """An IFD claiming 65535 entries in a 64-byte file."""
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 65535) + bytes(54)


def with_gdal_metadata(xml: str) -> bytes:
    """A GeoTIFF whose GDAL_METADATA tag holds `xml` verbatim (padded to the tag's original length)."""
    placeholder = "P" * 4000
    data = geotiff_bytes(reflectance_stack(3, height=20, width=30), descriptions=[placeholder, "B03", "B02"])
    start = data.index(b"<GDALMetadata>")
    end = data.index(b"</GDALMetadata>", start) + len(b"</GDALMetadata>")
    encoded = xml.encode()
    assert len(encoded) <= end - start, "payload longer than the placeholder"
    return data[:start] + encoded.ljust(end - start, b" ") + data[end:]


def pil_bytes(fmt: str, **save) -> bytes:
    from PIL import Image

    image = Image.fromarray(np.arange(48 * 64 * 3, dtype=np.uint8).reshape(48, 64, 3))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **save)
    return buffer.getvalue()


def multipage_tiff() -> bytes:
    """Two pages (64 x 48, then 32 x 32), as a scanner or PIL would write them."""
    from PIL import Image

    first = Image.fromarray(np.full((48, 64, 3), 120, dtype=np.uint8))
    second = Image.fromarray(np.full((32, 32, 3), 250, dtype=np.uint8))
    buffer = io.BytesIO()
    first.save(buffer, format="TIFF", save_all=True, append_images=[second])
    return buffer.getvalue()


def jp2_bytes() -> bytes:
    """A real JPEG 2000 file (GDAL's JP2OpenJPEG driver), not on the allow-list."""
    with MemoryFile(ext=".jp2") as memfile:
        with memfile.open(driver="JP2OpenJPEG", count=1, dtype="uint16", width=32, height=32) as dst:
            dst.write(np.full((1, 32, 32), 1000, dtype="uint16"))
        return memfile.read()


# --- XML datasets that reach other files or URLs ---------------------------------------------------


def raw_vrt(path: str, width: int = 64) -> str:
    return f"""<VRTDataset rasterXSize="{width}" rasterYSize="1">
  <VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">
    <SourceFilename relativetoVRT="0">{path}</SourceFilename>
    <ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset><LineOffset>{width}</LineOffset>
  </VRTRasterBand>
</VRTDataset>"""


def simple_source_vrt(source: str, width: int = 90, height: int = 60) -> str:
    return f"""<VRTDataset rasterXSize="{width}" rasterYSize="{height}">
  <VRTRasterBand dataType="UInt16" band="1">
    <SimpleSource>
      <SourceFilename relativeToVRT="0">{source}</SourceFilename>
      <SourceBand>1</SourceBand>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>"""


def wms_xml(url: str) -> str:
    return f"""<GDAL_WMS>
  <Service name="TMS"><ServerUrl>{url}/${{z}}/${{x}}/${{y}}.png</ServerUrl></Service>
  <DataWindow><UpperLeftX>-20037508.34</UpperLeftX><UpperLeftY>20037508.34</UpperLeftY>
    <LowerRightX>20037508.34</LowerRightX><LowerRightY>-20037508.34</LowerRightY>
    <TileLevel>1</TileLevel><TileCountX>1</TileCountX><TileCountY>1</TileCountY></DataWindow>
  <Projection>EPSG:3857</Projection><BlockSizeX>256</BlockSizeX><BlockSizeY>256</BlockSizeY>
  <BandsCount>3</BandsCount>
</GDAL_WMS>"""


def mrf_xml(data_file: Path, index_file: Path) -> str:
    return f"""<MRF_META>
  <Raster>
    <Size x="256" y="256" c="1" />
    <PageSize x="256" y="256" c="1" />
    <DataType>Byte</DataType>
    <DataFile>{data_file}</DataFile>
    <IndexFile>{index_file}</IndexFile>
  </Raster>
</MRF_META>"""


_COUNTING_SERVER = r"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
body, log = open(sys.argv[1], "rb").read(), sys.argv[2]

class Handler(BaseHTTPRequestHandler):
    def _answer(self):
        with open(log, "a") as f:
            f.write(f"{self.command} {self.path}\n")
        self.send_response(200)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    do_GET = do_HEAD = do_POST = _answer
    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


class CountingServer:
    """An HTTP server on 127.0.0.1 that answers every request with a valid GeoTIFF and logs it.

    Hostile inputs point GDAL at it; the assertion is always `requests == []`. It runs in a child
    process: rasterio holds the GIL in some GDAL calls, so a server thread in this process could
    not answer and a regression would hang instead of failing."""

    def __init__(self, workdir: Path):
        self.body, self.log = workdir / "body.tif", workdir / "requests.log"
        self.body.write_bytes(SCENE)
        self.log.write_text("")

    @property
    def requests(self) -> list[str]:
        return self.log.read_text().splitlines()

    def __enter__(self) -> "CountingServer":
        self.process = subprocess.Popen(
            [sys.executable, "-c", _COUNTING_SERVER, str(self.body), str(self.log)], stdout=subprocess.PIPE, text=True
        )
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"
        return self

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stdout.close()
