"""The core alone on a local scene: a script for `python -c`, run on the host (bench/threads_bench.py) or
inside the Lambda image, where only handler/ exists (bench/lambda_bench.py).

    python -c CORE_ALONE <scene> <renders> <copies> <threads: auto | N> <warm-up: 0 | 1>

Times `renders` 512 px thumbnails (after one untimed render with warm-up 1) and `copies` COG copies, with the
thread count the core takes from the CPUs it has (auto) or a fixed one (which keeps the auto count's GDAL
block cache), and prints one JSON line: threads, GDAL_CACHEMAX, the seconds of each, the peak RSS in MB.
"""

CORE_ALONE = """
import json, os, resource, sys, tempfile, time
from handler.core import RenderOptions, cog, open_path, read, render_thumbnail
from handler.core.threads import core_threads
path, renders, copies, threads, warm_up = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
count = core_threads() if threads == "auto" else int(threads)
read.core_threads = cog.core_threads = lambda: count
def render():
    with open_path(path) as dataset:
        render_thumbnail(dataset, RenderOptions(thumbnail_size=512))
def copy():
    with open_path(path) as dataset, tempfile.TemporaryDirectory() as tmp:
        cog.write_cog(dataset, os.path.join(tmp, "copy.tif"))
def timed(fn):
    start = time.perf_counter(); fn(); return time.perf_counter() - start
if warm_up == "1":
    render()
out = {"threads": count, "cache_mb": os.environ["GDAL_CACHEMAX"], "render": [timed(render) for _ in range(renders)],
       "cog": [timed(copy) for _ in range(copies)]}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""
