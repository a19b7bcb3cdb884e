"""One benchmark worker process (bench/runners.py), started by `run_worker` as a script so that `handler`
comes from PYTHONPATH (thumbnail_bench --core-repo), while `bench` is always this folder."""

import argparse
import importlib.util
import sys
from pathlib import Path


def _import_bench_package() -> None:
    """Register this folder as the `bench` package without putting the repository on sys.path (that would
    put its handler/ before PYTHONPATH's), and take the folder itself off sys.path (its modules are not
    top-level ones)."""
    here = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != here]
    spec = importlib.util.spec_from_file_location("bench", here / "__init__.py", submodule_search_locations=[str(here)])
    package = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = package
    spec.loader.exec_module(package)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--worker", nargs=2, metavar=("METHOD[,METHOD...]", "PATH"), required=True)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--indexes", required=True, help="1-based bands, comma-separated")
    parser.add_argument("--in-max", type=float, required=True, help="the DN peers map to white")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--budget", type=float, default=20.0)
    parser.add_argument("--no-warmup", dest="warmup", action="store_false")
    args = parser.parse_args(argv)
    from bench.runners import worker_main

    worker_main(args)


if __name__ == "__main__":
    _import_bench_package()
    main()
