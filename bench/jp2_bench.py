"""JPEG 2000 benchmark: thumbnails of Sentinel-2's own JP2 files, on disk and read in place from S3.

Inputs, built once into the bench cache from the real pixels (tests/products.py encoders, ESA's layout:
1024² tiles, 5 decomposition levels):
- the L2A TCI at 1098² (uint8 RGB, lossy, as ESA ships TCI);
- a 10980² B04 band (uint16, lossless: the 100 m band upsampled to the 10 m grid), a full tile's size.
- SAFE product zips (tests/products.py `safe_zip`: L2A baseline 05.00, whose R60m TCI is read, and L1C,
  whose 10 m TCI is read through its resolution levels), images STORED and DEFLATED, each with ~100 MB of
  other members (incompressible, band-sized, named as the product's other bands, half in front of the
  product's members and half behind), so that bytes fetched against the zip's size means something.
  Ours: `open_source` (listing, metadata, the TCI's pre-scan, then the TCI in place or inflated) and
  `render_thumbnail`, reading the zip as the service does (a local file; boto3 ranged GETs for S3);
  rio-tiler: `Reader.preview` of the same member through `/vsizip/{zip}/member`, over the same
  `/vsis3/` object.
For each, every method in a fresh worker (thumbnail_bench's workers and GDAL settings): on disk, and
through /vsis3/ from moto on 127.0.0.1 behind a byte-counting proxy (one cold run per method).

    python -m bench.jp2_bench
"""

from __future__ import annotations

import argparse
import io
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import CACHE_DIR, REPO, code_version, loadavg, log, machine, worker_env
from bench.inputs import describe_input, Input
from bench.remote import remote_s3
from bench.report import cell, write_report
from bench.runners import METHOD_LABEL, run_worker

RESULTS = Path(__file__).resolve().parent / "RESULTS-jp2.md"
METHODS = ("ours_average", "ours_nearest", "riotiler_average", "riotiler_nearest")
FULL_TILE = 10980
SAFE_VERSION = 2  # bump when the product recipe changes (rebuilds the cached zips)
PADDING_MEMBERS, PADDING_BYTES = 4, 25 << 20  # ~100 MB of other members in every product zip
COMPRESSIONS = {"STORED": zipfile.ZIP_STORED, "DEFLATED": zipfile.ZIP_DEFLATED}


def build_inputs(cache: Path) -> list[Path]:
    """The TCI and the full-tile band JP2s, encoded once from the real pixels."""
    from tests.products import BAND_JP2_NAME, TCI_JP2_NAME, bands_scene, jp2_bytes, tci_jp2

    cache.mkdir(parents=True, exist_ok=True)
    tci, band = cache / TCI_JP2_NAME, cache / BAND_JP2_NAME
    if not tci.exists():
        tci.write_bytes(tci_jp2())
    if not band.exists():
        scene = bands_scene(FULL_TILE // 10)
        b04 = np.repeat(np.repeat(scene.data[2:3], 10, axis=1), 10, axis=2)
        log(f"  encoding {band.name} ({FULL_TILE}², lossless; about a minute)")
        band.write_bytes(jp2_bytes(b04, scene.transform * scene.transform.scale(0.1), scene.crs))
    return [tci, band]


def _padding_names(spec) -> list[str]:
    """Names of the product's other bands (not its TCI, not the fixture's B02-B04), band-sized padding."""
    folder = f"{spec.product_id}.SAFE/GRANULE/{spec.granule}/IMG_DATA"
    if spec.level == "1C":
        return [f"{folder}/{spec.file_prefix}_{band}.jp2" for band in ("B08", "B8A", "B11", "B12")]
    return [
        f"{folder}/R{resolution}m/{spec.file_prefix}_{band}_{resolution}m.jp2"
        for band, resolution in (("B08", 10), ("AOT", 10), ("WVP", 10), ("B11", 20))
    ]


def full_size_tci(cache: Path) -> bytes:
    """The L1C TCI at its real 10980²: the 1098² real pixels upsampled, with ±6 DN of noise for the detail
    upsampling lacks (a blocky 10980² TCI encodes to 9 MB), lossy as the fixtures' TCIs (QUALITY 25: at most
    a quarter of its 361 MB of pixels; a real L1C TCI is ~130 MB)."""
    from tests.products import L1C_TCI_SIZE, jp2_bytes, tci_scene

    path = cache / f"T34SGA_20200318T085701_TCI_{FULL_TILE}_v{SAFE_VERSION}.jp2"
    if not path.exists():
        scene = tci_scene(L1C_TCI_SIZE)
        tci = np.repeat(np.repeat(scene.data, 10, axis=1), 10, axis=2)
        rng = np.random.default_rng(0)
        for band in tci:  # band by band: bounded temporaries; nodata (0) stays 0
            noisy = band.astype(np.int16) + rng.integers(-6, 7, size=band.shape, dtype=np.int16)
            band[...] = np.where(band > 0, np.clip(noisy, 1, 255), 0)
        log(f"  encoding {path.name} ({FULL_TILE}², lossy; ~20 s)")
        path.write_bytes(jp2_bytes(tci, scene.transform * scene.transform.scale(0.1), scene.crs, lossless=False))
    return path.read_bytes()


def build_products(cache: Path) -> list[tuple[str, Path, str]]:
    """(label, zip, TCI member) for L2A 05.00 and L1C, STORED and DEFLATED: the test fixture's product
    (real pixels) with ~100 MB of incompressible band-sized members around it, compressed like its images;
    then the L1C product again with its TCI at full size."""
    from tests.products import L1C_N0500, L2A_N0500, member, safe_zip

    cache.mkdir(parents=True, exist_ok=True)
    products = []
    for spec, full in ((L2A_N0500, False), (L1C_N0500, False), (L1C_N0500, True)):
        for name, compression in COMPRESSIONS.items():
            fixture = safe_zip(spec, compression)
            variant = f"{name.lower()}_full_tci" if full else name.lower()
            path = cache / f"v{SAFE_VERSION}_{spec.product_id}_{variant}.zip"
            if not path.exists():
                log(f"  building {path.name}")
                padding = _padding_names(spec)
                source = zipfile.ZipFile(io.BytesIO(fixture.data))
                tmp = path.with_suffix(".tmp")
                with zipfile.ZipFile(tmp, "w") as archive:
                    rng = np.random.default_rng(len(padding))
                    for padding_name in padding[: PADDING_MEMBERS // 2]:
                        archive.writestr(member(padding_name, compression), rng.bytes(PADDING_BYTES))
                    for info in source.infolist():
                        content = full_size_tci(cache) if full and info.filename == fixture.image else source.read(info)
                        archive.writestr(member(info.filename, info.compress_type), content)
                    for padding_name in padding[PADDING_MEMBERS // 2 :]:
                        archive.writestr(member(padding_name, compression), rng.bytes(PADDING_BYTES))
                tmp.rename(path)
            label = f"L{spec.level} {spec.baseline} product{', full-size TCI' if full else ''}, images {name}"
            products.append((label, path, fixture.image))
    return products


def measure(inp: Input, env: dict, args: argparse.Namespace, member: str | None = None) -> dict[str, dict]:
    """Each method on disk, then one cold run through S3 with the bytes and requests it fetched. For a
    product zip (`member` given) ours opens the zip, rio-tiler the member through /vsizip/."""
    from handler.core.safe import vsizip_path

    def path_for(method: str, path: str) -> str:
        return path if member is None or method.startswith("ours_") else vsizip_path(path, member)

    results: dict[str, dict] = {}
    for method in METHODS:
        local = replace(inp, path=path_for(method, inp.path))
        results[method] = {"local": run_worker(method, local, args, env, repeat=3, warmup=True)}
    with remote_s3(Path(inp.path)) as (extra_env, proxy, vsipath):
        for method in METHODS:
            proxy.reset()
            remote = replace(inp, path=path_for(method, vsipath))
            result = run_worker(method, remote, args, {**env, **extra_env}, repeat=1, warmup=False)
            results[method]["s3"] = {**result, "bytes": proxy.bytes, "requests": proxy.requests}
    return results


def row(label: str, method: str, result: dict) -> str:
    local, s3 = result["local"], result["s3"]
    fetched = f"{s3['bytes'] / 1e6:.2f} MB in {s3['requests']} requests" + (" (when killed)" if "error" in s3 else "")
    times = " | ".join(cell(r, show_error=True) for r in (local, s3))
    return f"| {label} | {METHOD_LABEL[method]} | {times} | {fetched} |"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR / "jp2")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.budget, args.timeout = 20.0, 120.0
    env = worker_env(REPO)
    lines = [
        f"# JPEG 2000 thumbnails ({code_version(REPO)})",
        "",
        f"`python -m bench.jp2_bench` ({time.strftime('%Y-%m-%d %H:%M %Z')}, {machine()}, load average "
        f"{loadavg()} at the start): {args.size} px, median of 3 warm runs on disk, one cold run through "
        "S3 (moto behind a counting proxy). Cells: time · peak RSS of the worker (VmHWM).",
        "",
        "| input | method | on disk | through S3 | fetched |",
        "|---|---|---|---|---|",
    ]
    for path in build_inputs(args.cache_dir):
        inp = describe_input(path.name, str(path), args.size)
        label = f"{path.name} ({inp.shape[1]}², {inp.size_mb:.1f} MB, levels {inp.overviews})"
        log(label)
        for method, result in measure(inp, env, args).items():
            lines.append(row(label, method, result))
    from handler.core.safe import vsizip_path
    from tests.products import L1C_TCI_SIZE, TEN_METRE_SIZE

    lines += [
        "",
        "## Sentinel-2 SAFE product zips",
        "",
        f"The test fixtures' products (real pixels; the L2A R60m TCI is {TEN_METRE_SIZE // 6}², the L1C "
        f"10 m TCI {L1C_TCI_SIZE}²; then the L1C product with its TCI at the real {FULL_TILE}², lossy "
        f"QUALITY 25) with {PADDING_MEMBERS} x {PADDING_BYTES >> 20} MiB of incompressible members named as "
        "the product's other bands, half in front of the product's members and half behind, compressed like "
        "its images. Ours: `open_source` + `render_thumbnail` on the zip, read as the service reads it "
        "(a local file; boto3 ranged GETs for S3, HEAD included, through the same counting proxy); "
        "rio-tiler: `Reader.preview` of the TCI member through `/vsizip/{zip}/member` (over `/vsis3/` "
        f"for S3). `timeout` = worker killed after {args.timeout:.0f} s.",
        "",
        "| input | method | on disk | through S3 | fetched |",
        "|---|---|---|---|---|",
    ]
    for name, path, member in build_products(args.cache_dir):
        zip_mb = path.stat().st_size / 1e6
        inp = describe_input(name, vsizip_path(str(path), member), args.size, size_mb=zip_mb)
        inp = replace(inp, path=str(path))
        label = f"{name} ({zip_mb:.1f} MB zip; TCI {inp.shape[1]}², levels {inp.overviews})"
        log(label)
        for method, result in measure(inp, env, args, member).items():
            lines.append(row(label, method, result))
    lines += ["", f"Load average at the end: {loadavg()}."]
    write_report(lines, args.output)


if __name__ == "__main__":
    main()
