"""The raster core stays pure: importing every module of handler/core loads no HTTP framework, AWS SDK or
Lambda tooling beyond what its own dependencies load (rasterio imports boto3 when it is installed, for
its AWS session), so the same functions serve an upload, an S3 event and a benchmark."""

import pkgutil
import subprocess
import sys

import handler.core

FORBIDDEN = ("fastapi", "starlette", "mangum", "boto3", "botocore", "aws_lambda_powertools", "httpx", "uvicorn")


def test_the_core_imports_no_http_or_aws_library():
    # Planted bug: `import fastapi` at the end of handler/core/cog.py -> fastapi (and starlette) appear.
    modules = [f"handler.core.{m.name}" for m in pkgutil.iter_modules(handler.core.__path__)]
    loaded = "{m.split('.')[0] for m in sys.modules} & set(%r)" % (FORBIDDEN,)
    script = (
        f"import sys; import rasterio, numpy, PIL.Image, defusedxml; before = {loaded}; "
        f"import {', '.join(modules)}; print(sorted({loaded} - before))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert len(modules) > 15 and loaded.strip() == "[]", loaded
