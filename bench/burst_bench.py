"""Burst benchmark: N scenes dropped into the input bucket at once, rendered by the S3 trigger under a
concurrency cap. What the deployment does when a team uploads a batch: throughput, per-scene time,
duplicate renders, dead-lettered events, peak memory per worker, and S3 requests per scene.

Everything runs on loopback: moto's server holds the buckets (input versioned, as template.yaml has it)
and the S3 -> SQS notification queue with its dead-letter queue after 3 receives (`make pipeline`'s
store). `--workers` processes stand in for concurrent Lambda instances: each takes messages from the
queue (`--batch-size` per invocation; 1 is the template's direct S3 route, one record per event), calls
`handler.s3_trigger.handler` with the SQS event and deletes what it did not report as failed, so S3
trouble is retried after the visibility timeout and dead-lettered after the third receive. Their S3
traffic (boto3 and GDAL) goes through a counting proxy. The burst holds:
- N real GeoTIFFs of a few 100 KB (12-band synthetic scenes, and the BigEarthNet file when the shared
  data folder is there), put from 8 threads;
- a few S3 replays (the same notification delivered twice, right after the first) and re-uploads
  (the same bytes put again: a new version);
- a few bad files (not rasters: rejected, never retried);
- one object whose every S3 read fails (SlowDown): retried twice, then dead-lettered;
- random S3 SlowDown on `--fault-rate` of the source HEADs: retried.
Then every scene is notified once more, as a backfill over rendered scenes would: quick successes.

    python -m bench.burst_bench [--scenes 200] [--workers 2] [--batch-size 1] [--output bench/RESULTS-burst.md]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import REPO, code_version, free_port, load_gdal_env, loadavg, log, machine, rss_mb
from bench.remote import CountingProxy
from bench.report import percentile, write_report
from events.make_events import s3_put_event, synthetic_geotiff
from handler.local_pipeline import (
    DEAD_LETTER_QUEUE,
    INPUT_BUCKET,
    MAX_RECEIVES,
    UPLOADS_QUEUE,
    create_store,
    local_environment,
    start_s3_store,
)
from tests.rasters import REAL_DATA

RESULTS = Path(__file__).resolve().parent / "RESULTS-burst.md"
POISON = "uploads/burst/always-throttled.tif"
BAD_BODY = b"%PDF-1.7 not a raster"
DRAIN_QUIET_SECONDS = 3  # the queues must be empty this long before the workers are stopped


# ---------------------------------------------------------------------------------------------- worker
def lambda_event(messages: list[dict]) -> dict:
    """The SQS event Lambda's event source mapping builds from received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{UPLOADS_QUEUE}",
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def worker_main(index: int, stop_file: Path, out: Path, batch_size: int, fault_rate: float) -> None:
    """One stand-in Lambda instance: invocations until `stop_file` appears, then every object's outcome
    (key, status, reason, seconds, finished at) and every invocation's time, as JSON in `out`."""
    import boto3
    from botocore.exceptions import ClientError

    from handler import s3_store, s3_trigger
    from handler.local_pipeline import LocalLambdaContext

    faults = random.Random(index)
    real_head, real_process = s3_store.head, s3_trigger.process_object
    outcomes, invocations = [], []

    def head(bucket: str, key: str):  # S3 throttling, on cue
        if key == POISON or (key.startswith("uploads/") and faults.random() < fault_rate):
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}}, "HeadObject")
        return real_head(bucket, key)

    def process_object(store, request, settings, time_left, **kwargs):
        start = time.perf_counter()
        try:
            outcome = real_process(store, request, settings, time_left, **kwargs)
        except Exception as error:  # S3 trouble: the trigger reports the message for redelivery
            outcomes.append(
                {
                    "key": request.key,
                    "status": "raised",
                    "reason": type(error).__name__,
                    "seconds": time.perf_counter() - start,
                    "at": time.time(),
                }
            )
            raise
        outcomes.append(
            {
                "key": outcome.key,
                "status": outcome.status,
                "reason": outcome.reason,
                "seconds": time.perf_counter() - start,
                "at": time.time(),
            }
        )
        return outcome

    s3_store.head, s3_trigger.process_object = head, process_object
    sqs = boto3.client("sqs")
    queue = sqs.get_queue_url(QueueName=UPLOADS_QUEUE)["QueueUrl"]
    while not stop_file.exists():
        messages = sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=batch_size,
            WaitTimeSeconds=1,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            continue
        start = time.perf_counter()
        response = s3_trigger.handler(lambda_event(messages), LocalLambdaContext())
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        invocations.append(
            {
                "seconds": time.perf_counter() - start,
                "messages": len(messages),
                "failed": len(failed),
                "at": time.time(),
            }
        )
    out.write_text(json.dumps({"outcomes": outcomes, "invocations": invocations}))


# ---------------------------------------------------------------------------------------------- burst
def scenes() -> list[tuple[str, bytes]]:
    """The GeoTIFFs of the burst, by kind: 12-band synthetic L2A-like scenes at two sizes, and the real
    BigEarthNet 12-band file when the shared data folder is there."""
    kinds = [("synthetic-600x400", synthetic_geotiff(600, 400)), ("synthetic-420x280", synthetic_geotiff(420, 280))]
    real = REAL_DATA / "bigearthnet_S2A_MSIL2A_20170613T101031_87_48_12band_10m.tif"
    if real.is_file():
        kinds.append(("bigearthnet-120x120", real.read_bytes()))
    return kinds


def queue_depth(sqs, queue: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def dead_letter_count(sqs, queue: str) -> int:
    return int(
        sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )


def wait_until_drained(sqs, queue: str, timeout: float) -> float:
    """Block until the notification queue has stayed empty for a while; when it last held a message."""
    deadline, last_busy = time.monotonic() + timeout, time.time()
    while time.monotonic() < deadline:
        if queue_depth(sqs, queue):
            last_busy = time.time()
        elif time.time() - last_busy > DRAIN_QUIET_SECONDS:
            return last_busy
        time.sleep(0.25)
    raise RuntimeError(f"the queue did not drain within {timeout:.0f} s")


def drop(s3, sqs, queue: str, args: argparse.Namespace) -> tuple[dict[str, float], dict[str, str], Counter]:
    """Put the burst at once; upload time and kind per key, and what was sent besides plain uploads."""
    kinds = scenes()
    plan = [
        (f"uploads/burst/{i:04d}-{kinds[i % len(kinds)][0]}.tif", kinds[i % len(kinds)]) for i in range(args.scenes)
    ]
    plan += [(f"uploads/burst/bad-{i}.tif", ("bad", BAD_BODY)) for i in range(args.bad)]
    plan.append((POISON, kinds[0]))
    replayed = {key for key, _ in plan[: args.scenes][:: max(1, args.scenes // args.replays)][: args.replays]}
    reuploaded = {key for key, _ in plan[1 : args.scenes][:: max(1, args.scenes // args.reuploads)][: args.reuploads]}
    uploaded, kind_of, extra = {}, {}, Counter()

    def put(item):
        key, (kind, body) = item
        response = s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
        uploaded[key], kind_of[key] = time.time(), kind
        if key in replayed:  # S3 delivers at least once: the same notification again, right behind
            sqs.send_message(
                QueueUrl=queue,
                MessageBody=json.dumps(
                    s3_put_event((INPUT_BUCKET, key, len(body), response["ETag"].strip('"'), response.get("VersionId")))
                ),
            )
            extra["replayed notifications"] += 1
        if key in reuploaded:  # the same bytes put again: a new version, a second notification
            s3.put_object(Bucket=INPUT_BUCKET, Key=key, Body=body)
            extra["re-uploads (same bytes, new version)"] += 1

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, plan))
    return uploaded, kind_of, extra


def start_workers(args: argparse.Namespace, env: dict[str, str], folder: Path) -> list[tuple[subprocess.Popen, Path]]:
    stop = folder / "stop"
    workers = []
    for index in range(args.workers):
        out = folder / f"worker-{index}.json"
        command = [
            sys.executable,
            "-m",
            "bench.burst_bench",
            "--worker",
            str(index),
            str(stop),
            str(out),
            str(args.batch_size),
            str(args.fault_rate),
        ]
        log_file = (folder / f"worker-{index}.log").open("w")  # the trigger's JSON logs and metrics
        workers.append((subprocess.Popen(command, cwd=REPO, env=env, stdout=log_file, stderr=subprocess.STDOUT), out))
    return workers


def stop_workers(workers: list[tuple[subprocess.Popen, Path]], folder: Path) -> tuple[list[dict], list[float]]:
    """Each worker's peak RSS (VmHWM, read from /proc while it is alive), then its records."""
    peaks = [rss_mb(process.pid) for process, _ in workers]
    (folder / "stop").touch()
    records = []
    for process, out in workers:
        process.wait(timeout=120)
        records.append(json.loads(out.read_text()))
    return records, peaks


def prefix_of(path: str) -> str:
    """'uploads/' of a path-style request '/bucket/uploads/burst/x.tif?...'."""
    key = path.split("?", 1)[0].split("/", 2)[-1]
    return key.split("/", 1)[0] + "/" if "/" in key else "(bucket)"


def summarise(records: list[dict], phase_start: float, phase_end: float, uploaded: dict[str, float]) -> dict:
    """The numbers of one phase, from the workers' records within it."""
    outcomes = [o for r in records for o in r["outcomes"] if phase_start <= o["at"] <= phase_end]
    invocations = [i for r in records for i in r["invocations"] if phase_start <= i["at"] <= phase_end]
    written = [o for o in outcomes if o["status"] == "written"]
    per_key = Counter(o["key"] for o in written)
    first = min((i["at"] - i["seconds"] for i in invocations), default=phase_start)
    last_render = max((o["at"] for o in written), default=first)
    last = max((i["at"] for i in invocations), default=phase_end)
    latencies = [o["at"] - uploaded[o["key"]] for o in written if o["key"] in uploaded]
    return {
        "outcomes": Counter(
            f"{o['status']}{':' + o['reason'] if o['reason'] else ''}"
            f"{' (the poisoned object)' if o['key'] == POISON else ''}"
            for o in outcomes
        ),
        "invocations": len(invocations),
        "failed invocations": sum(1 for i in invocations if i["failed"]),
        "written": len(written),
        "duplicate renders": sum(n - 1 for n in per_key.values()),
        "seconds": last_render - first,
        "drain seconds": last - first,
        "render seconds": [o["seconds"] for o in written],
        "skip seconds": [o["seconds"] for o in outcomes if o["reason"] == "already_processed"],
        "latency": latencies,
    }


def fmt(values: list[float]) -> str:
    if not values:
        return "-"
    return (
        f"median {statistics.median(values) * 1000:.0f} ms, p90 {percentile(values, 0.9) * 1000:.0f} ms, "
        f"max {max(values) * 1000:.0f} ms"
    )


def report(
    args,
    burst: dict,
    replay: dict,
    peaks: list[float],
    dead: tuple[int, int],
    extra: Counter,
    requests: Counter,
    kinds: Counter,
    sizes: dict[str, int],
) -> str:
    per_minute = burst["written"] / burst["seconds"] * 60 if burst["seconds"] else 0.0
    scene_seconds = statistics.median(burst["render seconds"]) if burst["render seconds"] else float("nan")
    lines = [
        "# Burst benchmark (S3 trigger under a concurrency cap)",
        "",
        f"Machine: {machine()}. Generated by `python -m bench.burst_bench --scenes {args.scenes} --workers "
        f"{args.workers} --batch-size {args.batch_size} --fault-rate {args.fault_rate}` ({time.strftime('%Y-%m-%d')}, "
        f"{code_version(REPO)}; load average {args.load_start} at the start, {loadavg()} at the end).",
        "",
        f"{args.workers} worker processes stand in for {args.workers} concurrent Lambda instances (a reserved "
        f"concurrency of {args.workers}); S3 and SQS are moto's server on 127.0.0.1, S3 traffic through a counting "
        "proxy (moto copies the whole object for every range read, so S3 times are pessimistic). moto's S3 "
        "notifications carry no versionId: a re-upload's first event renders the current version (on S3 it "
        "would be `superseded`) and the second finds it done. See the module docstring for what the burst holds.",
        "",
        "## The burst",
        "",
        f"- Objects: {args.scenes} scenes ("
        + ", ".join(f"{n} x {kind} ({sizes[kind] // 1000} KB)" for kind, n in sorted(kinds.items()) if kind != "bad")
        + f"), {args.bad} bad files, 1 object whose S3 reads always fail; "
        + ", ".join(f"{n} {what}" for what, n in sorted(extra.items()))
        + ".",
        f"- Wall time, first invocation to last render: **{burst['seconds']:.1f} s** for {burst['written']} "
        f"renders: **{per_minute:.0f} scenes/min** with {args.workers} workers ({per_minute / args.workers:.0f} "
        f"per worker); the queue was empty {burst['drain seconds']:.1f} s after the first invocation (the "
        "poisoned object's retries).",
        f"- Per-scene time (one object's `process_object`: HEADs, GDAL range reads, render, three conditional "
        f"puts): {fmt(burst['render seconds'])}.",
        f"- Upload to outputs written (queueing included): {fmt(burst['latency'])}.",
        f"- Invocations: {burst['invocations']}, of which {burst['failed invocations']} reported a failure "
        f"(S3 SlowDown, `raised` below: redelivered after the 5 s visibility timeout).",
        f"- Duplicate renders: **{burst['duplicate renders']}** (objects written more than once).",
        f"- Dead-letter queue: **{dead[0]}** message(s) (failed {MAX_RECEIVES} receives).",
        "- Peak RSS per worker (VmHWM from /proc/<pid>/status): " + ", ".join(f"{peak:.0f} MB" for peak in peaks) + ".",
        f"- S3 requests per rendered scene (boto3 and GDAL, through the proxy; replays and retries included): "
        f"{sum(requests.values()) / max(1, burst['written']):.1f}, "
        f"{sum(requests.values()) / burst['drain seconds']:.0f} requests/s on average:",
        "",
        "| method | prefix | per scene |",
        "|---|---|---|",
        *[
            f"| {method} | `{prefix}` | {n / max(1, burst['written']):.2f} |"
            for (method, prefix), n in sorted(requests.items())
        ],
        "",
        "Outcomes (every object attempt):",
        "",
        "| outcome | count |",
        "|---|---|",
        *[f"| {outcome} | {n} |" for outcome, n in sorted(burst["outcomes"].items(), key=lambda kv: -kv[1])],
        "",
        "## Notified again (a backfill over rendered scenes)",
        "",
        f"Every object but the poisoned one notified once more: {replay['invocations']} invocations (retries "
        f"included) in {replay['drain seconds']:.1f} s; "
        f"already processed: {fmt(replay['skip seconds'])} per object; renders: {replay['written']}; "
        f"dead-lettered: {dead[1]}.",
        "",
        "Outcomes:",
        "",
        "| outcome | count |",
        "|---|---|",
        *[f"| {outcome} | {n} |" for outcome, n in sorted(replay["outcomes"].items(), key=lambda kv: -kv[1])],
        "",
        "## Per 100 concurrent Lambdas",
        "",
        f"At the measured {per_minute / args.workers:.0f} scenes/min per worker "
        f"({60 * args.workers / per_minute:.2f} s "
        f"per scene, queue handling included; `process_object` alone {scene_seconds:.2f} s), 100 concurrent "
        f"instances as fast as one core of this machine would render about {100 * per_minute / args.workers:,.0f} "
        "scenes/min. The README's Capacity section puts this against Lambda's CPU share, reserved concurrency, "
        "S3 request rates and cost. Other sessions share this machine: runs vary by ~20%.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenes", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2, help="concurrent stand-in Lambdas (default 2: the cores)")
    parser.add_argument("--batch-size", type=int, default=1, help="messages per invocation (1..10; default 1)")
    parser.add_argument("--bad", type=int, default=4, help="non-raster files in the burst")
    parser.add_argument("--replays", type=int, default=5, help="notifications delivered twice")
    parser.add_argument("--reuploads", type=int, default=5, help="scenes put twice with the same bytes")
    parser.add_argument("--fault-rate", type=float, default=0.02, help="share of source HEADs that get SlowDown")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the queue to drain")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        index, stop, out, batch, rate = args.worker
        return worker_main(int(index), Path(stop), Path(out), int(batch), float(rate))

    args.load_start = loadavg()
    s3_port = free_port()
    env = {**os.environ, **local_environment(s3_port), **load_gdal_env()}
    os.environ.update(local_environment(s3_port))
    store = start_s3_store(s3_port)
    proxy = CountingProxy(("127.0.0.1", s3_port))
    env.update({"AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{proxy.port}", "AWS_S3_ENDPOINT": f"127.0.0.1:{proxy.port}"})
    try:
        import boto3

        s3, sqs = boto3.client("s3"), boto3.client("sqs")
        queue = create_store(sqs, s3)
        s3.put_bucket_versioning(Bucket=INPUT_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        dead_letters = sqs.get_queue_url(QueueName=DEAD_LETTER_QUEUE)["QueueUrl"]
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            workers = start_workers(args, env, folder)
            time.sleep(3)  # the workers' imports, as warm Lambda instances would have done them
            log(f"dropping {args.scenes} scenes (+ {args.bad} bad, 1 poisoned) with {args.workers} workers")
            proxy.reset()
            burst_start = time.time()
            uploaded, kind_of, extra = drop(s3, sqs, queue, args)
            burst_end = wait_until_drained(sqs, queue, args.timeout)
            requests = Counter((method, prefix_of(path)) for (method, *_), path in zip(proxy.log, proxy.paths))
            burst_dead = dead_letter_count(sqs, dead_letters)
            log("drained; notifying every object again")
            replay_start = time.time()
            for key in sorted(set(uploaded) - {POISON}):
                head = s3.head_object(Bucket=INPUT_BUCKET, Key=key)
                sqs.send_message(
                    QueueUrl=queue,
                    MessageBody=json.dumps(
                        s3_put_event(
                            (INPUT_BUCKET, key, head["ContentLength"], head["ETag"].strip('"'), head.get("VersionId"))
                        )
                    ),
                )
            replay_end = wait_until_drained(sqs, queue, args.timeout)
            records, peaks = stop_workers(workers, folder)
        dead = (burst_dead, dead_letter_count(sqs, dead_letters) - burst_dead)
        sizes = {kind: len(body) for kind, body in scenes()} | {"bad": len(BAD_BODY)}
        kinds = Counter(kind for key, kind in kind_of.items() if key != POISON and kind != "bad")
        text = report(
            args,
            summarise(records, burst_start, burst_end + 1, uploaded),
            summarise(records, replay_start, replay_end + 1, {}),
            peaks,
            dead,
            extra,
            requests,
            kinds,
            sizes,
        )
    finally:
        proxy.stop()
        store.terminate()
        store.wait(timeout=10)
    write_report(text, args.output)


if __name__ == "__main__":
    main()
