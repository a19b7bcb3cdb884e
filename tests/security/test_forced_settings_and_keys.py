"""Issue 10, item 10: a key with a trailing newline is not a key; PROJ_NETWORK cannot be switched on."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from handler.scene.errors import InvalidKey
from handler.scene.keys import validate_key

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", ["uploads/a.tif\n", "uploads/a.TIFF\n", "uploads/a.tif\nx", "\nuploads/a.tif"])
def test_validate_key_refuses_newlines(key):
    """`re.match` with `$` accepts 'uploads/a.tif\\n': `$` also matches before a final newline."""
    with pytest.raises(InvalidKey):
        validate_key(key, "uploads/")
    assert validate_key("uploads/a.tif", "uploads/") == "uploads/a.tif"


def test_gdal_decodes_in_one_thread_whatever_the_environment_says():
    """GDAL_NUM_THREADS=2 loses read errors in worker threads (a truncated TIFF renders): it is forced to 1."""
    # Planted bug: GDAL_NUM_THREADS out of FORCED -> the child keeps the environment's 2.
    child = "import os, handler.core; print(os.environ['GDAL_NUM_THREADS'])"
    env = {"PATH": "/usr/bin:/bin", "GDAL_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def test_proj_network_is_forced_off_whatever_the_environment_says():
    """Checked in a child process started with PROJ_NETWORK=ON: what GDAL itself then reads is off."""
    child = (
        "import json, os, handler.core; from rasterio._env import get_gdal_config;"
        "print(json.dumps([os.environ['PROJ_NETWORK'], get_gdal_config('PROJ_NETWORK')]))"
    )
    env = {"PATH": "/usr/bin:/bin", "PROJ_NETWORK": "ON"}
    out = subprocess.run([sys.executable, "-c", child], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == ["OFF", False]
