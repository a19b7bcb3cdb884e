"""The GDAL settings themselves, and positive controls proving the hostile payloads are real.

The controls run an unhardened GDAL in a child process: there the same VRT / WMS payloads *do* read
/etc/hostname, a local GeoTIFF and the local HTTP server. So "refused" in the other tests means the
hardening worked, not that the payload was broken.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import rasterio

from handler.core import RasterError, open_path, read_attributes, render_thumbnail, RenderOptions
from handler.core.gdal_config import HARDENING
from tests.rasters import geotiff_bytes, reflectance_stack
from tests.security.hostile import CountingServer, raw_vrt, simple_source_vrt, wms_xml

ROOT = Path(__file__).resolve().parents[2]
DANGEROUS_DRIVERS = (
    "VRT",
    "WMS",
    "WMTS",
    "MRF",
    "HTTP",
    "WCS",
    "DAAS",
    "EEDAI",
    "PLMosaic",
    "STACIT",
    "STACTA",
    "OGCAPI",
    "NGW",
    "ESRIC",
    "GPKG",
    "MBTiles",
    "Rasterlite",
    "PostGISRaster",
    "TileDB",
)

UNHARDENED = """
import json, sys, rasterio
results = {}
for name, path in json.loads(sys.argv[1]).items():
    try:
        with rasterio.open(path) as dataset:
            data = dataset.read(1)
            results[name] = {"driver": dataset.driver, "bytes": bytes(data.ravel()[:64].astype("uint8")).hex()}
    except Exception as error:
        results[name] = {"error": type(error).__name__}
print(json.dumps(results))
"""

HARDENED = """
import json, sys
import handler.core
import rasterio
with rasterio.Env() as env:
    results = {"drivers": sorted(env.drivers())}
for name, path in json.loads(sys.argv[1]).items():
    try:
        with rasterio.open(path) as dataset:  # no driver restriction: only GDAL_SKIP stands in the way
            dataset.read(1)
            results[name] = dataset.driver
    except Exception as error:
        results[name] = type(error).__name__
print(json.dumps(results))
"""


def payloads(tmp_path: Path, url: str) -> dict[str, str]:
    local = tmp_path / "local.tif"
    local.write_bytes(geotiff_bytes(reflectance_stack(1, height=60, width=90)))
    files = {
        "raw_hostname.vrt": raw_vrt("/etc/hostname", width=2),
        "simple_local.vrt": simple_source_vrt(str(local)),
        "simple_http.vrt": simple_source_vrt(f"/vsicurl/{url}/x.tif"),
        "wms.xml": wms_xml(url),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return {name: str(tmp_path / name) for name in files}


def run(script: str, paths: dict[str, str], **env) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(paths)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "5", **env},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/etc/hostname").is_file(), reason="no /etc/hostname on this machine")
def test_positive_control_unhardened_gdal_follows_the_payloads(tmp_path):
    with CountingServer(tmp_path) as server:
        # GDAL 3.12 itself limits raw VRT bands to files next to the VRT; older GDALs (and this setting)
        # do not: the control shows what the payload does where nothing but GDAL's defaults stand guard.
        results = run(UNHARDENED, payloads(tmp_path, server.url), GDAL_VRT_RAWRASTERBAND_ALLOWED_SOURCE="ALL")
        requests = server.requests
    hostname = Path("/etc/hostname").read_bytes()[:2].hex()
    assert results["raw_hostname.vrt"] == {"driver": "VRT", "bytes": hostname}  # /etc/hostname's first bytes
    assert results["simple_local.vrt"]["driver"] == "VRT"
    assert results["simple_http.vrt"]["driver"] == "VRT"
    assert requests, "the unhardened VRT never reached the local HTTP server"


def test_hardened_process_has_no_dangerous_driver_and_opens_none_of_the_payloads(tmp_path):
    with CountingServer(tmp_path) as server:
        results = run(HARDENED, payloads(tmp_path, server.url))
        assert server.requests == []
    drivers = results.pop("drivers")
    assert "GTiff" in drivers and not set(DANGEROUS_DRIVERS) & set(drivers)
    assert all(outcome != "VRT" and outcome != "WMS" for outcome in results.values()), results


def test_gdal_skip_cannot_be_overridden_from_the_environment(tmp_path):
    with CountingServer(tmp_path) as server:
        results = run(
            HARDENED,
            payloads(tmp_path, server.url),
            GDAL_SKIP="",
            GDAL_VRT_ENABLE_RAWRASTERBAND="YES",
            GDAL_DISABLE_READDIR_ON_OPEN="FALSE",
            GDAL_PAM_ENABLED="YES",
        )
        assert server.requests == []
    assert "VRT" not in results["drivers"]


def test_this_process_is_hardened():
    import os

    for name in (
        "GDAL_SKIP",
        "GDAL_DISABLE_READDIR_ON_OPEN",
        "GDAL_PAM_ENABLED",
        "GDAL_VRT_ENABLE_RAWRASTERBAND",
        "GDAL_VRT_ENABLE_PYTHON",
    ):
        assert os.environ[name] == HARDENING[name]
    assert os.environ["PROJ_NETWORK"] == "OFF"
    with rasterio.Env() as env:
        assert not set(DANGEROUS_DRIVERS) & set(env.drivers())


def test_local_open_ignores_side_cars_and_writes_nothing(tmp_path):
    """open_path (the S3 trigger's opener) never reads x.tif.aux.xml / x.tif.ovr / x.tif.msk and never
    writes an .aux.xml, even after computing a thumbnail."""
    scene = tmp_path / "x.tif"
    scene.write_bytes(geotiff_bytes(reflectance_stack(12, height=60, width=90)))
    (tmp_path / "x.tif.aux.xml").write_text(
        '<PAMDataset><PAMRasterBand band="1"><Description>PWNED</Description>'
        "<NoDataValue>1234</NoDataValue></PAMRasterBand></PAMDataset>"
    )
    (tmp_path / "x.tif.ovr").write_bytes(geotiff_bytes(reflectance_stack(12, height=30, width=45)))
    (tmp_path / "x.tif.msk").write_bytes(geotiff_bytes(reflectance_stack(1, height=60, width=90, dtype="uint8")))
    before = sorted(p.name for p in tmp_path.iterdir())
    with open_path(str(scene)) as dataset:
        attributes = read_attributes(dataset)
        render_thumbnail(dataset, RenderOptions(thumbnail_size=64))
    assert attributes["band_names"][0] == "B01" and attributes["nodata"] is None and attributes["overviews"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("name", ["raw_hostname.vrt", "simple_local.vrt", "wms.xml"])
def test_open_path_refuses_xml_even_without_the_magic_check(tmp_path, name):
    """Defence in depth: open_path skips the magic-byte check (the caller did it); GTiff-only still holds."""
    with CountingServer(tmp_path) as server:
        path = payloads(tmp_path, server.url)[name]
        with pytest.raises(RasterError) as error:
            with open_path(path):
                pass
        assert server.requests == []
    assert error.value.code == "unreadable_raster"


def test_gdal_settings_are_defined_once_in_the_core_not_again_in_the_template():
    """A GDAL variable in template.yaml would override gdal_config's default in Lambda only (`setdefault`):
    a copy that drifted would change the deployed service alone (e.g. .zip missing from
    CPL_VSIL_CURL_ALLOWED_EXTENSIONS: every SAFE product on S3 unreadable), so the template sets none."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # CloudFormation tags: not needed here
    template = ROOT / "template.yaml"
    if not template.is_file():
        pytest.skip("no template.yaml")
    variables = yaml.load(template.read_text(), Loader=Loader)["Globals"]["Function"]["Environment"]["Variables"]
    assert not [name for name in variables if name in HARDENING or name.startswith(("GDAL_", "CPL_", "VSI_"))]
    assert {".zip", ".ZIP"} <= set(HARDENING["CPL_VSIL_CURL_ALLOWED_EXTENSIONS"].split(","))
