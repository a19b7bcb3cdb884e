"""Write the Lambda test events in this folder from a small synthetic Sentinel-2 L2A GeoTIFF.

    python events/make_events.py                       # rewrite events/*.json
    python events/make_events.py --tiff /tmp/S2L2A_2022-06-09.tiff   # also write the GeoTIFF itself
    python events/make_events.py --tiff /tmp/big.tiff --tiff-size 1200x800 --out /tmp/ev
    python events/make_events.py --out /tmp/ev --bucket my-input-bucket --key uploads/x.tif --etag ""

The GeoTIFF is 12 uint16 bands (B01..B12 as in an L2A export), 96 x 64 pixels in UTM 33N, deflate
compressed, with a nodata corner: small enough to ride in an HTTP API event as a base64 multipart body,
and deterministic, so re-running this script does not change the committed events.

The S3 trigger's events (direct S3 put, the same put in an SQS message, an S3 EventBridge "Object
Created" event; and a put of a key S3 sends URL-encoded) name `--key` in `--bucket` with the size and ETag
(MD5: a single-part upload) of the 600 x 400 version of that scene, the one .ci/sam.sh uploads;
`--etag ""` leaves the ETag out (the trigger then renders whatever version is current). Two S3 Batch
Operations invocations (schema 2.0) name the same object, one with the user argument force=true.
Tests build their events with the same functions.

Needs numpy and rasterio (requirements-dev.txt).
"""

import argparse
import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import quote, quote_plus

import numpy as np
from rasterio.io import MemoryFile
from rasterio.transform import from_origin

HERE = Path(__file__).resolve().parent
BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B11", "B12")
BOUNDARY = "sentinel2-thumbnails-event-boundary"
TIFF_NAME = "S2L2A_2022-06-09.tiff"
S3_EVENT_SCENE = (600, 400)  # width, height of the scene the S3 events describe
ENCODED_KEY = "uploads/my scene é+ü 2022-06-09.tiff"  # s3-put-encoded-key.json: "my+scene+%C3%A9%2B%C3%BC+..."
EVENT_TIME = "2022-06-09T10:00:00Z"
BATCH_JOB_ID = "f3cc4f60-61f6-4a2b-8a21-d07600c373ce"


def synthetic_geotiff(width: int = 96, height: int = 64) -> bytes:
    """A deterministic 12-band uint16 L2A-like scene: smooth gradients (~0.02-0.4 reflectance), nodata corner."""
    rows, cols = np.mgrid[0:height, 0:width].astype("float32")
    base = 200 + 3000 * (cols / width) * (0.5 + 0.5 * np.sin(rows / 9.0) ** 2)
    data = np.stack([base * (0.6 + 0.08 * i) + 40 * i for i in range(len(BANDS))]).astype("uint16")
    data[:, : height // 6, : width // 6] = 0  # nodata (Sentinel-2 uses 0)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": len(BANDS),
        "dtype": "uint16",
        "crs": "EPSG:32633",
        "transform": from_origin(399960.0, 5000040.0, 10.0, 10.0),
        "nodata": 0,
        "compress": "deflate",
        "predictor": 2,
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
    }
    with MemoryFile() as memfile:
        with memfile.open(**profile) as dst:
            dst.write(data)
            dst.descriptions = BANDS
            dst.update_tags(PROCESSING_BASELINE="05.09")
        return memfile.read()


def multipart(fields: dict[str, str], file_field: str, filename: str, content: bytes) -> bytes:
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
        f"Content-Type: image/tiff\r\n\r\n".encode()
        + content
        + b"\r\n"
    )
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
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "make_events.py",
            },
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


def s3_put_event(*objects: tuple) -> dict:
    """An S3 ObjectCreated:Put notification with one record per (bucket, key, size[, etag[, version_id]]);
    keys are URL-encoded (quote_plus) the way S3 sends them. Without an ETag the record has no eTag
    (S3 always sends one; the trigger then renders the current version); version ids only in versioned buckets."""
    return {"Records": [_s3_record(*obj) for obj in objects]}


def _s3_record(bucket: str, key: str, size: int, etag: str | None = None, version_id: str | None = None) -> dict:
    created = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
        "versionId": version_id,
        "sequencer": "0A1B2C3D4E5F678901",
    }
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2022-06-09T10:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "EXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE123456789", "x-amz-id-2": "EXAMPLE123/abcdefgh"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "UploadsRule",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "EXAMPLE"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {name: value for name, value in created.items() if value is not None},
        },
    }


def sqs_event(*bodies: dict | str) -> dict:
    """An SQS event source mapping batch, one message per body (a notification, or raw text), the way
    S3 -> SQS -> Lambda delivers S3 notifications (message ids msg-0, msg-1, ...)."""
    return {
        "Records": [
            _sqs_message(index, body if isinstance(body, str) else json.dumps(body))
            for index, body in enumerate(bodies)
        ]
    }


def _sqs_message(index: int, body: str) -> dict:
    return {
        "messageId": f"msg-{index}",
        "receiptHandle": f"receipt-{index}",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1654768800000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1654768800001",
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:uploads-queue",
        "awsRegion": "us-east-1",
    }


def eventbridge_event(
    bucket: str,
    key: str,
    size: int,
    etag: str | None = None,
    version_id: str | None = None,
    detail_type: str = "Object Created",
) -> dict:
    """An S3 EventBridge notification (the bucket's EventBridge setting on); its key is not URL-encoded."""
    created = {"key": key, "size": size, "etag": etag, "version-id": version_id, "sequencer": "0A1B2C3D4E5F678901"}
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": "123456789012",
        "time": EVENT_TIME,
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {name: value for name, value in created.items() if value is not None},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }


def batch_task(bucket: str, s3_key: str, version_id: str | None = None, task_id: str = "dGFzay0w") -> dict:
    """One task of an S3 Batch Operations invocation (schema 2.0); `s3_key` as the job's manifest lists it."""
    return {"taskId": task_id, "s3Bucket": bucket, "s3Key": s3_key, "s3VersionId": version_id}


def manifest_task(bucket: str, key: str, version_id: str | None = None, task_id: str = "dGFzay0w") -> dict:
    """The task for an object as `python -m handler.backfill` lists it in a manifest: key URL-encoded, '/' kept
    (handler.backfill.manifest_key, which tests hold this to)."""
    return batch_task(bucket, quote(key, safe="/"), version_id, task_id)


def batch_job_event(
    *tasks: dict,
    user_arguments: dict[str, str] | None = None,
    job_id: str = BATCH_JOB_ID,
    invocation_id: str = "YXNkbGZqYWRmaiBhc2RmdW9hZHNmZGpmaGFzbGtkaGZza2RmaAo",
) -> dict:
    """An S3 Batch Operations LambdaInvoke invocation, schema 2.0 (the service sends one task at a time)."""
    return {
        "invocationSchemaVersion": "2.0",
        "invocationId": invocation_id,
        "job": {"id": job_id, "userArguments": user_arguments or {}},
        "tasks": list(tasks),
    }


def s3_test_event(bucket: str) -> dict:
    """What S3 sends once when a notification is configured (no object)."""
    return {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": EVENT_TIME,
        "Bucket": bucket,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "EXAMPLE123/abcdefgh",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for the event files (default: events/)")
    parser.add_argument("--tiff", type=Path, help="also write the synthetic GeoTIFF to this path")
    parser.add_argument("--tiff-size", default="96x64", help="WIDTHxHEIGHT of the --tiff file (events: 96x64)")
    parser.add_argument("--bucket", default="input-bucket", help="input bucket named in the S3 trigger's events")
    parser.add_argument("--key", default=f"uploads/{TIFF_NAME}", help="object key named in the S3 trigger's events")
    parser.add_argument(
        "--etag", help='ETag in the S3 trigger\'s events (default: MD5 of the 600 x 400 scene; "": none)'
    )
    args = parser.parse_args()

    tiff = synthetic_geotiff()
    with MemoryFile(tiff) as check, check.open() as ds:  # sanity: rasterio reads back what it wrote
        assert (ds.count, ds.dtypes[0], ds.descriptions[3]) == (12, "uint16", "B04")
    content_type = f"multipart/form-data; boundary={BOUNDARY}"
    events = {
        "http-api-thumbnail.json": http_api_event(
            "POST", "/thumbnail", multipart({"target_resolution": "64"}, "image_file", TIFF_NAME, tiff), content_type
        ),
        "http-api-attributes.json": http_api_event(
            "POST", "/attributes", multipart({}, "image_file", TIFF_NAME, tiff), content_type
        ),
        "http-api-health.json": http_api_event("GET", "/health"),
    }
    scene = synthetic_geotiff(*S3_EVENT_SCENE)
    etag = hashlib.md5(scene).hexdigest() if args.etag is None else args.etag or None
    put = s3_put_event((args.bucket, args.key, len(scene), etag))
    events.update(
        {
            "s3-put.json": put,
            "sqs-s3-put.json": sqs_event(put),
            "s3-put-encoded-key.json": s3_put_event((args.bucket, ENCODED_KEY, len(scene), etag)),
            "eventbridge-object-created.json": eventbridge_event(args.bucket, args.key, len(scene), etag),
            "batch-operations-task.json": batch_job_event(
                manifest_task(args.bucket, args.key), user_arguments={"force": "false"}
            ),
            "batch-operations-force.json": batch_job_event(
                manifest_task(args.bucket, args.key), user_arguments={"force": "true"}
            ),
        }
    )
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
