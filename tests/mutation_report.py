"""`make mutants`' report: mutmut's results per module and per area (the raster core; the scene lifecycle and
the entry points), the runs that produced them, and every mutant not killed with its diff and, when it is
known to be equivalent, why. Reads mutmut's mutants/ folder (and mutants/runs.txt, the runs' log).

    python -m tests.mutation_report > tests/mutation-report.md
"""

import collections
import json
import subprocess
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

MUTANTS = Path("mutants")
RUNS = MUTANTS / "runs.txt"  # "START <time> <command>" / "END <time> ..." lines, appended by each run
AREAS = {"handler.core": "raster core (handler/core)", "": "scene lifecycle and entry points"}
DETECTED = ("killed", "timeout", "segfault")  # the tests failed, hung or crashed: the mutant was noticed
NOT_RUN = ("not checked", "check was interrupted by user")
COLUMNS = ("killed", "timeout", "segfault", "survived", "no tests", "suspicious", "not checked")
# Mutants that are not killed because no test can tell them from the original, with the reason (by name).
EQUIVALENT = {
    "handler.core.attributes.x__bbox_wgs84__mutmut_11": 'PROJ reads authority codes case-insensitively: "epsg:4326" and "EPSG:4326" are the same CRS and give identical bounds',
    "handler.core.attributes.x__bbox_wgs84__mutmut_9": "rasterio's transform_bounds densifies with 21 points by default: the explicit densify_pts=21 gives the same bounds",
    "handler.core.cog.x_needs_cog_copy__mutmut_13": "resampling None takes average's 1.01 threshold; treated as a kernel it gets a 2x intermediate only when the first level is over 2x the thumbnail, and that level passes the 2x rule again, so plan_read's .level is the same",
    "handler.core.encode.x_encode_image__mutmut_26": "Pillow's WebP encoder stores a gray+alpha (LA) image as RGBA with the gray repeated: the file decodes to the same RGBA pixels",
    "handler.core.jp2_scan.x__boxes__mutmut_38": "an XLBox with its top bit set is refused with the same CORRUPT message whether read signed (negative, under the header size) or unsigned (past the file's end)",
    "handler.core.jp2_scan.x__ceil_div__mutmut_1": "_ceil_div is only used as the product _ceil_div(x)*_ceil_div(y) for the tile count; the mutant negates both factors, so the product (-p)*(-q) is unchanged",
    "handler.core.jp2_scan.x__jp2_boxes__mutmut_123": "ihdr sizes of 2^31 or more and over 32767 components read signed or unsigned never reach the SIZ comparison: the codestream's tile, pixel and component limits refuse such an image first",
    "handler.core.jp2_scan.x__jp2_boxes__mutmut_50": 'the extra starts len(ftyp)-3..len(ftyp)+2 only give slices shorter than 4 bytes, which can never equal b"jp2 " (the only brand tested for)',
    "handler.core.jp2_scan.x__jp2_boxes__mutmut_76": "jp2h and jp2c are different kinds, so their first indexes are never equal: > and >= agree",
    "handler.core.jp2_scan.x__read__mutmut_2": "offsets are box positions and header fields read unsigned, never negative: offset < 0 alone never holds",
    "handler.core.jp2_scan.x__read__mutmut_7": "a read past the file's end is refused either way: the production readers (bytes, PagedReader) clamp to the file and answer short, and the length check raises the same CORRUPT",
    "handler.core.jp2_scan.x__siz__mutmut_1": "only a 38-byte SIZ differs: it has no room for a component record, so components == 0 or len != 38 + 3*components refuses it on the next check with the same CORRUPT UnreadableRaster",
    "handler.core.jp2_scan.x__siz__mutmut_114": "_siz's only caller, scan_codestream, returns replace(info, levels=min(levels)) and refuses a header with no COD/COC, so the placeholder levels value is never seen",
    "handler.core.jp2_scan.x__siz__mutmut_124": "_siz's only caller, scan_codestream, returns replace(info, levels=min(levels)) and refuses a header with no COD/COC, so the placeholder levels value is never seen",
    "handler.core.jp2_scan.x__siz__mutmut_2": "only a 38-byte SIZ differs: it has no room for a component record, so components == 0 or len != 38 + 3*components refuses it on the next check with the same CORRUPT UnreadableRaster",
    "handler.core.jp2_scan.x__siz__mutmut_45": "a zero tile size never reaches 'not tile_w'/'not tile_h' alone: tile_w == 0 makes tile_x0 > x0 or tile_x0 + 0 <= x0 true (same for y), refused with the same CORRUPT in the same condition",
    "handler.core.levels.x_choose_level__mutmut_55": "every band of a GTiff/COG/JP2 level has the same block shape (TIFF tiles and strips are per image, not per sample), so band - 2 (the last band for band 1) reads the same shape",
    "handler.core.levels.x_desired_resolution__mutmut_8": "when both axes have the same factor (x == y) either branch returns it",
    "handler.core.levels.x_full_level__mutmut_9": "every band of a GTiff/COG/JP2 dataset has the same block shape (TIFF tiles and strips are per image, not per sample), so band - 2 (the last band for band 1) reads the same shape",
    "handler.core.plan.x__mask_read__mutmut_10": "the mask's LevelRead is only used for decoded_bytes (planes x blocks x block_bytes): its bands field is never read",
    "handler.core.plan.x__mask_read__mutmut_19": "the mask's LevelRead is only used for decoded_bytes (planes x blocks x block_bytes): its bands field is never read",
    "handler.core.plan.x__mask_read__mutmut_9": "the mask's LevelRead is only used for decoded_bytes (planes x blocks x block_bytes): its level field is never read",
    "handler.core.plan.x_check_plan__mutmut_33": 'without a mask the refusal prints 0 or 1 byte of mask as the same "0.00 GB"',
    "handler.core.plan.x_check_plan__mutmut_36": "the fixed 3 GiB budget prints as 3.22 GB divided by 1e9 or by 1,000,000,001",
    "handler.core.plan.x_codec_weight__mutmut_27": 'a missing PREDICTOR defaults to None instead of "1": neither is a PREDICTOR_WEIGHTS key, so the weight is 1 either way',
    "handler.core.plan.x_codec_weight__mutmut_29": 'PREDICTOR_WEIGHTS has no "1" key: a missing predictor weighs 1 whether looked up as "1" or None',
    "handler.core.plan.x_codec_weight__mutmut_32": 'a missing PREDICTOR defaults to "XX1XX" instead of "1": neither is a PREDICTOR_WEIGHTS key, so the weight is 1 either way',
    "handler.core.plan.x_codec_weight__mutmut_4": 'GDAL looks metadata domains up case-insensitively: tags(ns="image_structure") returns the IMAGE_STRUCTURE items (checked)',
    "handler.core.plan.x_plan_read__mutmut_37": "the second choose_level runs only when the first level is larger than the intermediate; an overview 1.01-1.2x coarser than the intermediate would have been the first choice, so nearest's threshold cannot matter there",
    "handler.core.plan.x_plan_read__mutmut_8": "itemsize from another band: the allowed drivers (GTiff/COG, JP2OpenJPEG) give every band of a file one dtype, so every band's itemsize is the same",
    "handler.core.plan.x_read_shape__mutmut_15": "when the bounded side equals the output's longest side, thumbnail_shape of the read level at that side is the output shape again (levels keep the image's aspect within a pixel, which consistent() enforces)",
    "handler.core.plan.x_thumbnail_shape__mutmut_1": "a square image takes either branch to the same (size, size)",
    "handler.core.png.x__chunk__mutmut_13": "chunk lengths are under 2^31 (PNG's own limit; a 2048 px thumbnail's IDAT is megabytes): signed and unsigned pack the same 4 bytes",
    "handler.core.png.x__row_costs__mutmut_13": "add.reduce of uint8 with dtype None accumulates in uint64: the same sums (a row's cost is at most 128 x 8192 bytes, far below 2**32), twice the memory",
    "handler.core.png.x__row_costs__mutmut_16": "memory only: numpy's add.reduce widens uint8 to the platform integer by default, so the row costs are the same numbers",
    "handler.core.png.x_encode_png__mutmut_23": "zlib levels 6 and 7 give identical output under Z_RLE and Huffman-only, the only two strategies deflate_strategy chooses",
    "handler.core.png.x_encode_png__mutmut_47": "'>iibbbbb' packs the same bytes as '>IIBBBBB' for every valid IHDR: PNG caps width and height at 2**31-1, and bit depth 8, colour type <= 6 and the zeros are below 128",
    "handler.core.png.x_filter_rows__mutmut_8": "numpy (2.5) takes any negative size in reshape as the one to infer: -2 gives the same (rows, row bytes) as -1",
    "handler.core.read.x__apply_kernel__mutmut_13": "ignores every warning instead of NotGeoreferencedWarning in a block that raises no other warning",
    "handler.core.read.x__apply_kernel__mutmut_32": "GDAL's MEM driver ignores the dataset name",
    "handler.core.read.x__apply_kernel__mutmut_36": "GDAL driver names are case-insensitive: 'mem' is MEM",
    "handler.core.read.x__block_cache_bytes__mutmut_8": 'the default "XX64XX" is not digits, so it takes the unparsable fallback, which is also 64 MB',
    "handler.core.read.x__holds__mutmut_13": "an integer intermediate (8/16-bit file) only meets the file's own nodata, and rasterio reports None for an integer nodata out of the dtype's range or NaN (GDAL_NODATA -1, 70000, 65535.5, nan on uint16 tried), so the range test is always true there",
    "handler.core.read.x__intermediate_dtype__mutmut_10": "<= 3 instead of <= 2 bytes: numpy has no 3-byte integer type",
    "handler.core.read.x__intermediate_dtype__mutmut_6": "'XXiuXX' contains 'i' and 'u' and no other dtype kind letter: the same test",
    "handler.core.read.x__read_chunked__mutmut_3": "astype copy=None copies only when the dtype changes, as copy=False does (numpy 2): the same array",
    "handler.core.read.x__read_chunked__mutmut_5": "memory only: astype copies the one call's array even when it already has the dtype; the same values",
    "handler.core.read.x__read_chunked__mutmut_8": "copy=True copies the array a single GDAL read just returned (already fresh, owned by nobody else) instead of converting it in place when the dtype already matches: same values and dtype, memory only",
    "handler.core.read.x__read_mask__mutmut_10": "rasterio's read_masks resamples with nearest by default: the explicit Resampling.nearest reads the same mask",
    "handler.core.read.x__read_mask__mutmut_14": "memory only: the mask (uint8, at the bounded read shape) read in one GDAL call instead of the bands' chunks is the same mask",
    "handler.core.read.x__validity__mutmut_15": "read values are float32: a NaN nodata or one float32 cannot hold never equals a pixel either way",
    "handler.core.read.x_read_chunks__mutmut_12": "cost only: changes how many chunks the read is cut into, not the pixels (chunked reads give the pixels of one call, tested); the block cache share still bounds each chunk to a few blocks",
    "handler.core.read.x_read_chunks__mutmut_29": "cost only: changes how many chunks the read is cut into, not the pixels (chunked reads give the pixels of one call, tested); the block cache share still bounds each chunk to a few blocks",
    "handler.core.read.x_read_chunks__mutmut_47": "cost only: changes how many chunks the read is cut into, not the pixels (chunked reads give the pixels of one call, tested); the block cache share still bounds each chunk to a few blocks",
    "handler.core.read.x_read_chunks__mutmut_56": "cost only: changes how many chunks the read is cut into, not the pixels (chunked reads give the pixels of one call, tested); the block cache share still bounds each chunk to a few blocks",
    "handler.core.read.x_read_plan__mutmut_26": "memory only: a float32 intermediate instead of the file's small integers holds the same values (nodata included) for the kernel",
    "handler.core.read.x_read_plan__mutmut_30": "memory only: _intermediate_dtype(None) is float32, which holds the same values as the small-integer intermediate",
    "handler.core.read.x_read_plan__mutmut_33": "every band of a GTiff/COG/JP2 dataset has the same data type, so band - 2 (the last band for band 1) gives the same intermediate",
    "handler.core.read.x_read_plan__mutmut_57": "memory only: the mask (uint8, at the bounded read shape) read in one GDAL call instead of the bands' chunks is the same mask",
    "handler.core.read.x_read_plan__mutmut_66": "astype copy=None copies only when the dtype changes, as copy=False does (numpy 2): same array",
    "handler.core.read.x_read_plan__mutmut_68": "memory only: astype copies the kernel's float32 output instead of returning it; the same values",
    "handler.core.read.x_read_plan__mutmut_79": "copy=True copies the kernel's fresh output (already owned by nobody else) when it is already float32: same values, memory only",
    "handler.core.read.x_read_plan__mutmut_9": "memory only: the worker count taken as the chunk weight changes how the read is chunked, and chunked reads give the pixels of one call (tested)",
    "handler.core.render.x_render_display__mutmut_62": "memory only: gain_stretch allocates instead of scaling this call's own reflectance array in place; the same values",
    "handler.core.render.x_render_display__mutmut_65": "memory only: gain_stretch allocates instead of scaling this call's own reflectance array in place; the same values",
    "handler.core.render.x_render_display__mutmut_66": "in_place=False makes gain_stretch multiply into a new array (float32 x a Python float stays float32) instead of overwriting reflectance, which render_display never uses again: same bytes, memory only",
    "handler.core.safe_metadata.x__offsets__mutmut_13": 'the default band_id "" and "XXXX" are both not digits: the same refusal',
    "handler.core.safe_metadata.x__offsets__mutmut_31": 'an empty offset element gives the same "is not a number" refusal whether its text is read as "" or as "XXXX"',
    "handler.core.safe_metadata.x_parse_xml__mutmut_10": "forbid_dtd=True refuses every DOCTYPE before it is read, and entities and external references can only be declared in one (the other two flags are defence in depth)",
    "handler.core.safe_metadata.x_parse_xml__mutmut_11": "forbid_dtd=True refuses every DOCTYPE before it is read, and entities and external references can only be declared in one (the other two flags are defence in depth)",
    "handler.core.safe_metadata.x_parse_xml__mutmut_3": "forbid_dtd=True refuses every DOCTYPE before it is read, and entities and external references can only be declared in one (the other two flags are defence in depth)",
    "handler.core.safe_metadata.x_parse_xml__mutmut_4": "forbid_dtd=True refuses every DOCTYPE before it is read, and entities and external references can only be declared in one (the other two flags are defence in depth)",
    "handler.core.safe_metadata.x_parse_xml__mutmut_7": "forbid_dtd=True refuses every DOCTYPE before it is read, and entities and external references can only be declared in one (the other two flags are defence in depth)",
    "handler.core.safe_metadata.x_parse_xml__mutmut_8": "forbid_dtd=True refuses every DOCTYPE before it is read, and entities and external references can only be declared in one (the other two flags are defence in depth)",
    "handler.core.sentinel2.x_boa_offset_from_tags__mutmut_28": 'an absent baseline tag gives _number("") and _number("XXXX"): float() rejects both, so both are None',
    "handler.core.sentinel2.x_boa_offset_from_tags__mutmut_8": 'a missing offset tag reads as "" or "XXXX": neither is a number, so both give no explicit offset',
    "handler.core.sentinel2.x_named_bands__mutmut_1": 'the default file name only reaches band_from_filename, and "XXXX" matches IMAGE_NAME no more than "" does: both give None',
    "handler.core.source.xǁ_SmallReadPagesǁ__call____mutmut_2": 'no reader asks for 0 bytes (ZipArchive never reads empty ranges, tested) and a 0-byte read answers b"" either way',
    "handler.core.stac.x__extensions__mutmut_15": 'split(":") and split(":", 1) have the same first part',
    "handler.core.stac.x__extensions__mutmut_16": "every field the Item builder writes has one prefix colon (proj:code, eo:cloud_cover, raster:scale ...): rsplit and split find the same prefix",
    "handler.core.stac.x__extensions__mutmut_18": 'split(":", 2)[0] and split(":", 1)[0] are the same first piece: the prefix before the first colon',
    "handler.core.stac.x__temporal__mutmut_25": "written == created makes end = written = created either way, so < and <= pick the same instant",
    "handler.core.stac.x_item_id__mutmut_5": 'X is an unreserved letter quote() never encodes, so safe="XXXX" encodes every character as safe="" does',
    "handler.core.threads.x__candidates__mutmut_10": "own '/' then gives [base / ''] == [base]: base is read twice, the same file, the same answer",
    "handler.core.threads.x_cgroup_cpu_quota__mutmut_8": "'XXXX' has no ':' so _own_paths skips it exactly as it gives {} for '': no own path either way",
    "handler.core.tiff_scan.x__entries__mutmut_63": "an inline entry's offset is never read: _metadata_items and _value use .inline when it is not None, and only the re-made out-of-line Entry's offset is bounds-checked or read",
    "handler.core.tiff_scan.x__entries__mutmut_70": "an inline entry's offset is only read for GDAL_METADATA's item count, and an inline payload (4 or 8 bytes) holds at most one item, far under the 4,096 limit: 0 or 1 as the placeholder changes nothing",
    "handler.core.tiff_scan.x__header__mutmut_39": "the version is compared with 42 and 43 only: read signed, values from 32768 on are negative and match neither, as unsigned they are large and match neither",
    "handler.core.tiff_scan.x__header__mutmut_74": "BigTIFF's two header fields are only compared with (8, 0): a 16-bit value with its top bit set equals neither whether read signed or unsigned",
    "handler.core.tiff_scan.x__value__mutmut_14": "an IFD pointer read signed differs only from 2^31 on, past the end of any accepted upload: negative or huge, it is refused as corrupt either way",
    "handler.core.tiff_scan.x_scan_tiff__mutmut_7": "the first IFD is popped while `seen` is still empty, so its in_chain flag (read only when the offset is already in `seen`) is never consulted",
    "handler.core.tiff_scan.xǁPagedReaderǁ__init____mutmut_1": "with the default 64 KiB pages the 8 MiB byte budget refuses the 129th request (only the file's last page is short), so the default 160-request cap is never reached",
    "handler.core.tiff_scan.xǁ_Formatǁ__init____mutmut_6": "a BigTIFF entry count of 2^63 or more is corrupt either way: unsigned its table runs past the end, signed it is negative and the table read comes back short (CORRUPT)",
    "handler.core.visualize.x_gain_stretch__mutmut_11": "memory only: to_uint8 without scratch=True allocates instead of reusing the temporary; the same values",
    "handler.core.visualize.x_gain_stretch__mutmut_13": "memory only: to_uint8 without scratch=True allocates instead of reusing the temporary; the same values",
    "handler.core.visualize.x_gain_stretch__mutmut_15": "memory only: to_uint8 without scratch=True allocates instead of reusing the temporary; the same values",
    "handler.core.visualize.x_gain_stretch__mutmut_6": "memory only: to_uint8 without scratch=True allocates instead of reusing the temporary; the same values",
    "handler.core.visualize.x_gain_stretch__mutmut_8": "memory only: to_uint8 without scratch=True allocates instead of reusing the temporary; the same values",
    "handler.core.visualize.x_gain_stretch__mutmut_9": "memory only: to_uint8 without scratch=True allocates instead of reusing the temporary; the same values",
    "handler.core.visualize.x_ndvi_colour__mutmut_19": "nan=0.0 is numpy's default for nan_to_num",
    "handler.core.visualize.x_ndvi_colour__mutmut_29": "the palette as int64 instead of float32: np.interp computes in float64 either way",
    "handler.core.visualize.x_ndvi_colour__mutmut_31": "the palette as int64 instead of float32: np.interp computes in float64 either way",
    "handler.core.visualize.x_percentile_stretch__mutmut_17": "scratch=None: to_uint8 copies instead of reusing a temporary; same bytes (memory only)",
    "handler.core.visualize.x_percentile_stretch__mutmut_19": "scratch omitted: to_uint8 copies instead of reusing a temporary; same bytes (memory only)",
    "handler.core.visualize.x_percentile_stretch__mutmut_26": "a flat band: zeros_like(None) is a 0-d zero, broadcast into the band's row: black either way",
    "handler.core.visualize.x_percentile_stretch__mutmut_27": "scratch=False: to_uint8 copies instead of reusing a temporary; same bytes (memory only)",
    "handler.core.visualize.x_to_uint8__mutmut_10": "fmax writes into a new array instead of the caller's scratch array; to_uint8 returns a fresh uint8 array either way and every scratch=True caller passes a temporary it never reads again: same bytes, memory only",
    "handler.core.visualize.x_to_uint8__mutmut_5": "memory only: fmax into a new array instead of into the caller's scratch array; the same values",
    "handler.core.visualize.x_to_uint8__mutmut_8": "memory only: fmax into a new array instead of into the caller's scratch array; the same values",
    "handler.core.zip_archive.xǁ_RangeFileǁseek__mutmut_6": "the OSError text is never seen: zipfile only seeks before byte 0 in _EndRecData/_EndRecData64 (file shorter than the EOCD or zip64 records), where it catches OSError and returns no record or raises BadZipFile -> the fixed CORRUPT message (checked: a 3-byte file and a zip64-locator+EOCD file both give CORRUPT, an empty zip opens); member offsets are >= 0 by _check_layout and ZipExtFile.seek clamps at 0",
    "handler.core.zip_archive.xǁ_RangeFileǁseek__mutmut_7": "same as _6: zipfile catches the negative-seek OSError in _EndRecData/_EndRecData64 (-> None/BadZipFile -> CORRUPT) and no other seek it makes can go below 0, so the message text is never shown",
    "handler.core.zip_archive.xǁ_RangeFileǁseek__mutmut_8": "a negative seek's OSError text is never shown: zipfile turns it into BadZipFile, which becomes the fixed CORRUPT message",
    "handler.s3_trigger.x_attempt__mutmut_20": "only an ObjectEvent reaches the store and can raise a transient failure, and it always has a bucket: getattr's default is never used",
    "handler.s3_trigger.x_attempt__mutmut_23": "only an ObjectEvent reaches the store and can raise a transient failure, and it always has a bucket: getattr's default is never used",
    "handler.s3_trigger.x_attempt__mutmut_26": "only an ObjectEvent reaches the store and can raise a transient failure, and it always has a bucket: getattr's default is never used",
    "handler.s3_trigger.x_process_sqs_batch__mutmut_11": "Powertools hands the context only to a record handler with a lambda_context parameter; ours has none",
    "handler.s3_trigger.x_process_sqs_batch__mutmut_15": "Powertools hands the context only to a record handler with a lambda_context parameter; ours has none",
    "handler.scene.processing.x_process_object__mutmut_154": "item_json only tests with_cog for truth (cog=... if with_cog else None): None and False give the same Item",
    "handler.scene.processing.x_write_cog_copy__mutmut_5": "the copy's file name inside its private temporary directory is never seen: write_cog names the COG driver and the upload reads the path",
    "handler.scene.processing.x_write_cog_copy__mutmut_6": "the copy's file name inside its private temporary directory is never seen: write_cog names the COG driver and the upload reads the path",
    "handler.scene.uploads.x_find_upload__mutmut_8": "lists 3 keys instead of 2: any limit of 2 or more tells one file from an ambiguous folder",
}

# Survivors of the last run that a test added afterwards kills, checked by planting the same change by hand
# in a scratch copy (not yet re-run by mutmut), with that test.
KILLED_SINCE = {}


def summarized(run_line: str) -> str:
    """A runs.txt line, its list of mutant names (a re-run of the mutants without a result) shortened to
    how many of each module's mutants it named."""
    words = run_line.split(" ")
    names = [word for word in words if "__mutmut_" in word]
    if len(names) <= 10:
        return run_line
    modules = collections.Counter(name.rpartition(".x")[0] for name in names)
    listed = ", ".join(f"{module} {count}" for module, count in modules.items())
    return " ".join(word for word in words if word not in names) + f" <{len(names)} mutants by name: {listed}>"


def area(module: str) -> str:
    return next(name for prefix, name in AREAS.items() if module.startswith(prefix))


def score(count: collections.Counter) -> str:
    run = sum(n for status, n in count.items() if status not in NOT_RUN)
    return f"{100 * sum(count[s] for s in DETECTED) / run:.1f} %" if run else "-"


def row(name: str, count: collections.Counter) -> str:
    return f"| {name} | {sum(count.values())} | " + " | ".join(str(count[c]) for c in COLUMNS) + f" | {score(count)} |"


def main() -> None:
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    undetected = []
    for meta in sorted(MUTANTS.rglob("*.py.meta")):
        module = ".".join(meta.relative_to(MUTANTS).with_suffix("").with_suffix("").parts)
        for name, code in sorted(json.loads(meta.read_text()).get("exit_code_by_key", {}).items()):
            status = status_by_exit_code[code]
            counts[module][status] += 1
            if status not in DETECTED and status not in NOT_RUN:
                undetected.append((name, status))
    by_area: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for module, count in counts.items():
        by_area[area(module)] += count
    print("# Mutation testing of handler/core, handler/scene and the entry points (mutmut)\n")
    print("Mutated: `handler/core/*`, `handler/scene/*`, `handler/api.py`, `handler/s3_trigger.py`,")
    print("`handler/s3_events.py`, each mutant against the tests of setup.cfg's `[mutmut]` selection that run its")
    print("function. `make mutants` (tests/mutants.sh) runs them all from a clean mutants/ folder and writes this")
    print("report; `tests/mutants.sh GLOB...` re-runs some mutants by name and keeps the other results. A run")
    print('cut short leaves its remaining mutants "not checked": each row counts only what the runs below did.')
    print('Score: killed, timed out or crashed, over the mutants run ("no tests" and survivors count against).\n')
    print("## Runs that produced these rows\n")
    runs = [summarized(line) for line in RUNS.read_text().splitlines()] if RUNS.exists() else []
    print("```\n" + ("\n".join(runs) if runs else "(no mutants/runs.txt: runs not recorded)") + "\n```\n")
    header = "| {} | mutants | " + " | ".join(COLUMNS) + " | score |\n|---|" + "---|" * (len(COLUMNS) + 2)
    print(header.format("area"))
    for name, count in sorted(by_area.items()):
        print(row(name, count))
    print(row("**all**", sum(by_area.values(), collections.Counter())) + "\n")
    for name, count in sorted(by_area.items()):
        run = sum(n for status, n in count.items() if status not in NOT_RUN)
        print(f"- {name}: {run} of {sum(count.values())} mutants run ({100 * run / sum(count.values()):.0f} %).")
    print("\nEarlier reports (other code, other runs) are in this file's git history.\n")
    print(header.format("module"))
    for module, count in sorted(counts.items()):
        print(row(module, count))
    equivalent = sum(name in EQUIVALENT for name, _ in undetected)
    since = sum(name in KILLED_SINCE for name, _ in undetected)
    print(
        f"\n## Mutants not killed: {len(undetected)} ({equivalent} equivalent, {since} killed since by a new "
        f"test, {len(undetected) - equivalent - since} not yet killed)\n"
    )
    for name, status in undetected:
        diff = subprocess.run([sys.executable, "-m", "mutmut", "show", name], capture_output=True, text=True).stdout
        changed = [line for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]
        why = EQUIVALENT.get(name) or (
            f"{status} in the run, killed since by {KILLED_SINCE[name]} (planted by hand; not re-run)"
            if name in KILLED_SINCE
            else f"NOT YET KILLED ({status})"
        )
        print(f"- `{name}`: {why}\n  ```diff\n  " + "\n  ".join(changed) + "\n  ```")
    if not undetected:
        print("None.")


if __name__ == "__main__":
    main()
