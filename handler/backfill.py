"""Backfill scenes already in the input bucket with S3 Batch Operations: `python -m handler.backfill`.

Writes a CSV manifest of a prefix of the input bucket (or takes an S3 Inventory's manifest.json), creates
a LambdaInvoke job (invocation schema 2.0) that runs the S3 trigger on every object listed, prints the
job id and, with --wait, polls the job and summarises its completion report. Tasks whose outputs are
current are quick successes; --force re-renders them (after a rendering change).

    python -m handler.backfill --bucket B --function-arn F --role-arn R [--prefix uploads/] [--force] [--wait]
    python -m handler.backfill --inventory s3://B/inventory/.../manifest.json --bucket B --function-arn F --role-arn R
    python -m handler.backfill --summarise JOB_ID --bucket B --role-arn R   # a finished job's report again

B, F and R are the stack's outputs InputBucketName, S3TriggerFunctionArn and BatchOperationsRoleArn.
boto3 and the standard library only; a development tool, not shipped in the Lambda image (.dockerignore).
"""

import argparse
import csv
import io
import json
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Callable, Iterable, Iterator
from urllib.parse import quote, urlparse

from botocore.exceptions import BotoCoreError, ClientError

# Manifests and completion reports live under this prefix of the input bucket (template.yaml's
# BatchReportPrefix): outside uploads/, so the trigger never renders them.
REPORT_PREFIX = "batch-reports"
CSV_MANIFEST = "S3BatchOperations_CSV_20180820"
INVENTORY_MANIFEST = "S3InventoryReport_CSV_20161130"
REPORT_FORMAT = "Report_CSV_20180820"
FINAL_STATES = ("Complete", "Failed", "Cancelled")
SHOWN_FAILURES = 10


def manifest_key(key: str) -> str:
    """An object key as a CSV manifest lists it: URL-encoded, as Batch Operations requires ('/' kept, a
    space %20, a '+' %2B), so the trigger's unquote_plus gives the key back exactly."""
    return quote(key, safe="/")


@dataclass(frozen=True)
class Account:
    """The account and partition a job runs in, read from the role it assumes (arn:aws:iam::123...:role/x)."""

    partition: str
    account_id: str

    @classmethod
    def of_role(cls, role_arn: str) -> "Account":
        parts = role_arn.split(":")
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam" or not parts[4].isdigit():
            raise ValueError(f"not an IAM role ARN: {role_arn!r}")
        return cls(parts[1], parts[4])

    def s3_arn(self, bucket: str, key: str = "") -> str:
        return f"arn:{self.partition}:s3:::{bucket}" + (f"/{key}" if key else "")


@dataclass(frozen=True)
class Manifest:
    """The object list a job reads: where it is, the ETag CreateJob pins it to, and its format."""

    arn: str
    etag: str
    format: str
    count: int | None = None  # objects listed, when this command wrote the manifest

    def spec(self) -> dict:
        fields = {"Fields": ["Bucket", "Key"]} if self.format == CSV_MANIFEST else {}
        return {"Spec": {"Format": self.format, **fields}, "Location": {"ObjectArn": self.arn, "ETag": self.etag}}


def listed_keys(s3, bucket: str, prefix: str) -> Iterator[str]:
    """Every key under `prefix`; which of them are scenes is the trigger's call (one key policy)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from (obj["Key"] for obj in page.get("Contents", []))


def write_manifest(s3, account: Account, bucket: str, keys: Iterable[str], report_prefix: str) -> Manifest:
    """`keys` of `bucket` as a CSV manifest (bucket,URL-encoded key) under `report_prefix`/manifests/,
    spooled to disk past 16 MB (a million keys is ~60 MB)."""
    name = f"{report_prefix}/manifests/{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}.csv"
    count = 0
    with tempfile.SpooledTemporaryFile(max_size=16 * 1024**2) as spool:
        for key in keys:
            spool.write(f"{bucket},{manifest_key(key)}\n".encode())
            count += 1
        spool.seek(0)
        etag = s3.put_object(Bucket=bucket, Key=name, Body=spool, ContentType="text/csv")["ETag"].strip('"')
    return Manifest(account.s3_arn(bucket, name), etag, CSV_MANIFEST, count)


def s3_url(url: str) -> tuple[str, str]:
    """The bucket and key of an s3://bucket/key URL."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise ValueError(f"not an s3://bucket/key URL: {url!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def inventory_manifest(s3, account: Account, url: str) -> Manifest:
    """An S3 Inventory report's manifest.json (s3://bucket/key), pinned to its current ETag."""
    bucket, key = s3_url(url)
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    return Manifest(account.s3_arn(bucket, key), etag, INVENTORY_MANIFEST)


def job_request(
    account: Account,
    manifest: Manifest,
    function_arn: str,
    role_arn: str,
    report_bucket: str,
    report_prefix: str,
    *,
    force: bool,
    priority: int,
    description: str,
) -> dict:
    """CreateJob's parameters: the trigger on every manifest object (schema 2.0, `force` as a user
    argument), a report of all tasks under `report_prefix`, no confirmation step."""
    return {
        "AccountId": account.account_id,
        "ConfirmationRequired": False,
        "Operation": {
            "LambdaInvoke": {
                "FunctionArn": function_arn,
                "InvocationSchemaVersion": "2.0",
                "UserArguments": {"force": "true" if force else "false"},
            }
        },
        "Report": {
            "Bucket": account.s3_arn(report_bucket),
            "Prefix": report_prefix,
            "Format": REPORT_FORMAT,
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
        "Manifest": manifest.spec(),
        "Priority": priority,
        "RoleArn": role_arn,
        "ClientRequestToken": str(uuid.uuid4()),  # one job per run of this command
        "Description": description[:256],
    }


def wait_for_job(
    s3control, account: Account, job_id: str, poll_seconds: float, sleep: Callable[[float], None] = time.sleep
) -> dict:
    """DescribeJob until the job is Complete, Failed or Cancelled, printing each change of progress."""
    last = None
    while True:
        job = s3control.describe_job(AccountId=account.account_id, JobId=job_id)["Job"]
        progress = job.get("ProgressSummary", {})
        line = (
            f"{job['Status']}: {progress.get('NumberOfTasksSucceeded', 0)} succeeded, "
            f"{progress.get('NumberOfTasksFailed', 0)} failed of {progress.get('TotalNumberOfTasks', '?')}"
        )
        if line != last:
            print(f"job {job_id} {line}", file=sys.stderr, flush=True)
            last = line
        if job["Status"] in FINAL_STATES:
            return job
        sleep(poll_seconds)


@dataclass(frozen=True)
class TaskReport:
    """One row of a completion report: the object, Batch Operations' result code and our result string."""

    bucket: str
    key: str  # as the manifest lists it (URL-encoded)
    result_code: str  # Succeeded, PermanentFailure, TemporaryFailure (retries used up) or the service's code
    result: str  # the trigger's result string ("written", "skipped:already_processed", "rejected:...")


def report_row(row: list[str]) -> TaskReport:
    """A Report_CSV_20180820 row: Bucket, Key, VersionId, TaskStatus, then ErrorCode and HTTPStatusCode
    (AWS's examples put the HTTP status first: both orders are read), ResultMessage."""
    bucket, key, _version, status, first, second, message = (row + [""] * 7)[:7]
    error_code = second if first.isdigit() else first
    return TaskReport(bucket, key, "Succeeded" if status == "succeeded" else error_code or status, message)


def read_report(s3, bucket: str, prefix: str, job_id: str) -> list[TaskReport]:
    """Every task row of a job's completion report (`prefix`/job-`id`/manifest.json and its result files)."""
    index = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/job-{job_id}/manifest.json")["Body"].read())
    rows = []
    for result in index.get("Results", []):
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode("utf-8")
        rows += [report_row(row) for row in csv.reader(io.StringIO(body)) if row]
    return rows


def counts(values: Iterable[str]) -> str:
    """'a 3, b 1, c 1': most frequent first, ties by name."""
    return ", ".join(f"{value} {n}" for value, n in sorted(Counter(values).items(), key=lambda vn: (-vn[1], vn[0])))


def summarise(job_id: str, rows: list[TaskReport]) -> str:
    """Counts by result code and by the trigger's result, and the first failures."""
    failures = [row for row in rows if row.result_code != "Succeeded"]
    lines = [
        f"job {job_id}: {len(rows)} tasks",
        "by result code: " + counts(row.result_code for row in rows),
        "by result: " + counts(row.result or "-" for row in rows),
    ]
    if failures:
        lines.append(f"first failures ({min(len(failures), SHOWN_FAILURES)} of {len(failures)}):")
        lines += [
            f"  s3://{row.bucket}/{row.key}  {row.result_code}  {row.result}" for row in failures[:SHOWN_FAILURES]
        ]
    return "\n".join(lines)


def report_location(job: dict) -> tuple[str, str]:
    """The bucket name and prefix of a described job's completion report."""
    report = job.get("Report", {})
    return report.get("Bucket", "").split(":::")[-1], report.get("Prefix", "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m handler.backfill", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bucket",
        required=True,
        help="the input bucket (InputBucketName): listed for the manifest; manifests and reports are written to it",
    )
    parser.add_argument("--prefix", default="uploads/", help="the objects to backfill (default: uploads/)")
    parser.add_argument("--inventory", help="s3://.../manifest.json of an S3 Inventory report, instead of listing")
    parser.add_argument("--function-arn", help="the S3 trigger function (stack output S3TriggerFunctionArn)")
    parser.add_argument("--role-arn", required=True, help="the role Batch Operations assumes (BatchOperationsRoleArn)")
    parser.add_argument("--report-prefix", default=REPORT_PREFIX, help=f"default: {REPORT_PREFIX}")
    parser.add_argument("--force", action="store_true", help="re-render objects whose outputs are current")
    parser.add_argument("--priority", type=int, default=10, help="job priority (higher runs first; default 10)")
    parser.add_argument("--wait", action="store_true", help="poll the job, then summarise its completion report")
    parser.add_argument("--poll-seconds", type=float, default=15.0, help="between DescribeJob calls (default 15)")
    parser.add_argument("--summarise", metavar="JOB_ID", help="only summarise this finished job's report")
    args = parser.parse_args(argv)
    if not args.summarise and not args.function_arn:
        parser.error("--function-arn is required to create a job")
    args.report_prefix = args.report_prefix.strip("/")
    try:
        args.account = Account.of_role(args.role_arn)
        if args.inventory:
            s3_url(args.inventory)
    except ValueError as error:
        parser.error(str(error))
    return args


def create(args: argparse.Namespace, s3, s3control) -> str:
    """Write or take the manifest, create the job; its id."""
    account: Account = args.account
    if args.inventory:
        manifest, source = inventory_manifest(s3, account, args.inventory), args.inventory
    else:
        manifest = write_manifest(
            s3, account, args.bucket, listed_keys(s3, args.bucket, args.prefix), args.report_prefix
        )
        source = f"s3://{args.bucket}/{args.prefix}"
        print(f"manifest {manifest.arn}: {manifest.count} objects", file=sys.stderr)
    description = f"thumbnails backfill of {source}" + (" (force)" if args.force else "")
    request = job_request(
        account,
        manifest,
        args.function_arn,
        args.role_arn,
        args.bucket,
        args.report_prefix,
        force=args.force,
        priority=args.priority,
        description=description,
    )
    return s3control.create_job(**request)["JobId"]


def report(args: argparse.Namespace, s3, job: dict) -> int:
    """Print a finished job's summary; 0 when it completed and every task succeeded."""
    job_id = job["JobId"]
    if job.get("FailureReasons"):
        print(
            "failure reasons: "
            + "; ".join(f"{r.get('FailureCode')}: {r.get('FailureReason')}" for r in job["FailureReasons"]),
            file=sys.stderr,
        )
    bucket, prefix = report_location(job)
    try:
        rows = read_report(s3, bucket or args.bucket, prefix or args.report_prefix, job_id)
    except s3.exceptions.NoSuchKey:
        print(f"job {job_id} {job['Status']}: no completion report (no task ran)", file=sys.stderr)
        return 1
    print(summarise(job_id, rows))
    return 0 if job["Status"] == "Complete" and all(row.result_code == "Succeeded" for row in rows) else 1


def main(argv: list[str] | None = None, clients: Callable[[str], object] | None = None) -> int:
    """Create the job (its id on stdout, progress on stderr) and with --wait summarise it, or only
    summarise one. Exit status 0 when all went well, 1 when a task or the job failed, 2 for AWS errors."""
    args = parse_args(argv)
    if clients is None:
        import boto3

        clients = boto3.client
    s3, s3control = clients("s3"), clients("s3control")
    try:
        if args.summarise:
            return report(
                args, s3, s3control.describe_job(AccountId=args.account.account_id, JobId=args.summarise)["Job"]
            )
        job_id = create(args, s3, s3control)
        print(job_id, flush=True)
        if not args.wait:
            return 0
        return report(args, s3, wait_for_job(s3control, args.account, job_id, args.poll_seconds))
    except (BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
