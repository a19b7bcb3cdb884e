"""Write the Lambda test events in this folder from a small synthetic Sentinel-2 L2A GeoTIFF.

    python events/make_events.py                       # rewrite events/http-api-*.json
    python events/make_events.py --tiff /tmp/S2L2A_2022-06-09.tiff   # also write the GeoTIFF itself
    python events/make_events.py --tiff /tmp/big.tiff --tiff-size 1200x800 --out /tmp/ev
    python events/make_events.py --out /tmp/ev --bucket my-input-bucket   # also an S3 put event

The GeoTIFF is 12 uint16 bands (B01..B12 as in an L2A export), 96 x 64 pixels in UTM 33N, deflate
compressed, with a nodata corner: small enough to ride in an HTTP API event as a base64 multipart body,
and deterministic, so re-running this script does not change the committed events.

Needs numpy and rasterio (requirements-dev.txt).
"""

import argparse
import base64
import json
from pathlib import Path
from urllib.parse import quote_plus

import numpy as np
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

HERE = Path(__file__).resolve().parent
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
BOUNDARY = "sentinel2-thumbnails-event-boundary"
TIFF_NAME = "S2L2A_2022-06-09.tiff"


def synthetic_geotiff(width: int = 96, height: int = 64) -> bytes:
    """A deterministic 12-band uint16 L2A-like scene: smooth gradients (~0.02-0.4 reflectance), nodata corner."""
    rows, cols = np.mgrid[0:height, 0:width].astype("float32")
    base = 200 + 3000 * (cols / width) * (0.5 + 0.5 * np.sin(rows / 9.0) ** 2)
    data = np.stack([base * (0.6 + 0.08 * i) + 40 * i for i in range(len(BANDS))]).astype("uint16")
    data[:, : height // 6, : width // 6] = 0  # nodata (Sentinel-2 uses 0)
    profile = {"driver": "GTiff", "width": width, "height": height, "count": len(BANDS), "dtype": "uint16",
               "crs": "EPSG:32633", "transform": from_origin(399960.0, 5000040.0, 10.0, 10.0), "nodata": 0,
               "compress": "deflate", "predictor": 2, "tiled": True, "blockxsize": 64, "blockysize": 64}
    with MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(data)
            dst.descriptions = BANDS
            dst.update_tags(PROCESSING_BASELINE="05.09")
        return memfile.read()


def multipart(fields: dict[str, str], file_field: str, filename: str, content: bytes) -> bytes:
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
                 f"Content-Type: image/tiff\r\n\r\n".encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def http_api_event(method: str, path: str, body: bytes | None = None, content_type: str | None = None) -> dict:
    """An API Gateway HTTP API (payload format 2.0) event, as `sam local generate-event` shapes it."""
    headers = {"host": "localhost", "user-agent": "make_events.py", "accept": "*/*"}
    if body is not None:
        headers["content-type"] = content_type or "application/octet-stream"
        headers["content-length"] = str(len(body))
    event = {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                     "userAgent": "make_events.py"},
            "requestId": f"make-events-{method.lower()}-{path.strip('/') or 'root'}",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "09/Jun/2022:10:00:00 +0000",
            "timeEpoch": 1654768800000,
        },
        "isBase64Encoded": body is not None,
    }
    if body is not None:
        event["body"] = base64.b64encode(body).decode()
    return event


def s3_put_event(*objects: tuple[str, str, int]) -> dict:
    """An S3 ObjectCreated:Put notification with one record per (bucket, key, size); keys are
    URL-encoded (quote_plus) the way S3 sends them."""
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2022-06-09T10:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/abcdefgh"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "UploadsRule",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": quote_plus(key, safe="/"), "size": size,
                          "eTag": "0123456789abcdef0123456789abcdef", "sequencer": "0A1B2C3D4E5F678901"}},
    } for bucket, key, size in objects]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the event files (default: events/)")
    parser.add_argument("--tiff", type=Path, help="also write the synthetic GeoTIFF to this path")
    parser.add_argument("--tiff-size", default="96x64", help="WIDTHxHEIGHT of the --tiff file (events: 96x64)")
    parser.add_argument("--bucket", help="also write s3-put.json naming this bucket (events/s3-put.json is "
                                         "kept by hand: use it with --out elsewhere)")
    parser.add_argument("--key", default=f"uploads/{TIFF_NAME}", help="object key named in s3-put.json")
    args = parser.parse_args()

    tiff = synthetic_geotiff()
    with MemoryFile(tiff) as check, check.open() as ds:  # sanity: rasterio reads back what it wrote
        assert (ds.count, ds.dtypes[0], ds.descriptions[3]) == (12, "uint16", "B04")
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    events = {
        "http-api-thumbnail.json": http_api_event(
            "POST", "/thumbnail", multipart({"target_resolution": "64"}, "image_file", TIFF_NAME, tiff), content_type),
        "http-api-attributes.json": http_api_event(
            "POST", "/attributes", multipart({}, "image_file", TIFF_NAME, tiff), content_type),
        "http-api-health.json": http_api_event("GET", "/health"),
    }
    if args.bucket:
        events["s3-put.json"] = s3_put_event((args.bucket, args.key, len(tiff)))
    args.out.mkdir(parents=True, exist_ok=True)
    for name, event in events.items():
        (args.out / name).write_text(json.dumps(event, indent=2) + "\n")
        print(f"wrote {args.out / name}")
    if args.tiff:
        width, height = (int(v) for v in args.tiff_size.lower().split("x"))
        data = tiff if (width, height) == (96, 64) else synthetic_geotiff(width, height)
        args.tiff.parent.mkdir(parents=True, exist_ok=True)
        args.tiff.write_bytes(data)
        print(f"wrote {args.tiff} ({width} x {height}, {len(data)} bytes)")


if __name__ == "__main__":
    main()
