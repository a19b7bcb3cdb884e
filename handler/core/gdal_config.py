"""GDAL hardening and I/O settings, applied to the process environment before rasterio loads.

GDAL reads `GDAL_SKIP` once, when drivers are registered, so this module must run before the first
`import rasterio`; `handler.core` imports it first for that reason.
"""

import os

from handler.core.threads import block_cache_mb  # stdlib only: rasterio is still not loaded

# Drivers that can make a file read *other* files or URLs (VRT, WMS, MRF, ...) are never registered,
# on top of the per-open allow-list in `safe_open.py`.
SKIPPED_DRIVERS = (
    "VRT WMS WMTS MRF PLMosaic DAAS OGCAPI STACIT STACTA EEDAI NGW ESRIC HTTP TileDB "
    "Rasterlite MBTiles GPKG PostGISRaster WCS"
)

HARDENING = {
    "GDAL_SKIP": SKIPPED_DRIVERS,
    # Never list or probe sibling files (.ovr, .aux.xml, .msk) next to an upload.
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    # Never write .aux.xml side-car files.
    "GDAL_PAM_ENABLED": "NO",
    # No PROJ grid downloads.
    "PROJ_NETWORK": "OFF",
    # A VRT smuggled through any path still may not read raw files or nest other drivers.
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
    "GDAL_VRT_ENABLE_PYTHON": "NO",
    # Remote (/vsis3/) reads, tuned as titiler does: few, merged range requests, bounded caches.
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIPLEX": "YES",
    "GDAL_INGESTED_BYTES_AT_OPEN": "32768",
    # Network reads of the accepted kinds only; .zip for a SAFE product's image, range-read in place
    # through /vsizip/{/vsis3/...}/member (template.yaml sets the same value).
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF,.TIFF,.jp2,.JP2,.j2k,.J2K,.zip,.ZIP",
    # S3 objects can be replaced under the same key: never reuse cached bytes between opens.
    "CPL_VSIL_CURL_NON_CACHED": "/vsis3/",
    "VSI_CACHE": "TRUE",
    "VSI_CACHE_SIZE": "16777216",
    # 64 MB per core thread (threads.py), unless the deployment sets it.
    "GDAL_CACHEMAX": str(block_cache_mb()),
    # One thread, and not overridable: with GDAL's worker threads decoding blocks, a read error in a
    # worker never reaches rasterio, so a truncated TIFF rendered as a partial picture ("written")
    # instead of a 422 (tests/test_s3_trigger.py::test_output_bucket_and_truncated_objects). The core
    # uses the CPUs itself instead: chunked reads in threads of its own (read.py), where errors surface.
    "GDAL_NUM_THREADS": "1",
}

for _name, _value in HARDENING.items():
    os.environ.setdefault(_name, _value)
# Security-critical settings are not overridable by the deployment environment.
FORCED = (
    "GDAL_SKIP",
    "GDAL_DISABLE_READDIR_ON_OPEN",
    "GDAL_PAM_ENABLED",
    "PROJ_NETWORK",
    "GDAL_VRT_ENABLE_RAWRASTERBAND",
    "GDAL_VRT_ENABLE_PYTHON",
    "GDAL_NUM_THREADS",
)
for _name in FORCED:
    os.environ[_name] = HARDENING[_name]
# `sam local` sets template-declared variables to "" when unset; an empty AWS_S3_ENDPOINT would send
# GDAL's /vsis3/ requests nowhere, so empty S3 endpoint settings mean "not set".
for _name in ("AWS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_HTTPS", "AWS_VIRTUAL_HOSTING"):
    if os.environ.get(_name) == "":
        del os.environ[_name]
