"""A stand-in for S3 Batch Operations running a LambdaInvoke job, for tests (moto has no s3control jobs):
what the service does with the CreateJob request `handler.backfill.job_request` builds, as far as this
project relies on it. It reads the CSV manifest (pinned to its ETag), invokes the function once per task
with a schema 2.0 event, invokes a TemporaryFailure again (up to `attempts` times) and writes the completion
report (Report_CSV_20180820: a manifest.json and one results CSV per task status) under the report prefix."""

import csv
import hashlib
import io
import json
from typing import Callable

from events.make_events import batch_job_event, batch_task

STATUS = {"Succeeded": "succeeded", "PermanentFailure": "failed", "TemporaryFailure": "failed"}


def arn_location(arn: str) -> tuple[str, str]:
    """The bucket and key of an arn:aws:s3:::bucket/key."""
    bucket, _, key = arn.split(":::", 1)[1].partition("/")
    return bucket, key


def manifest_rows(s3, request: dict) -> list[list[str]]:
    """The CSV manifest's rows (bucket, URL-encoded key[, version id]); the service refuses a manifest whose
    ETag is not the one the job was created with."""
    location = request["Manifest"]["Location"]
    assert request["Manifest"]["Spec"] == {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]}
    bucket, key = arn_location(location["ObjectArn"])
    body = s3.get_object(Bucket=bucket, Key=key, IfMatch=location["ETag"])["Body"].read().decode("utf-8")
    return [row for row in csv.reader(io.StringIO(body)) if row]


def run_job(s3, request: dict, job_id: str, invoke: Callable[[dict], dict], attempts: int = 3) -> dict[str, int]:
    """Run every task of the job through `invoke` (the function), then write its completion report;
    the number of invocations per result code."""
    operation = request["Operation"]["LambdaInvoke"]
    assert operation["InvocationSchemaVersion"] == "2.0"
    rows, calls = [], {}
    for index, (bucket, key, *version) in enumerate(manifest_rows(s3, request)):
        task = batch_task(bucket, key, version[0] if version else None, task_id=f"task-{index}")
        for _ in range(attempts):
            event = batch_job_event(
                task, user_arguments=operation.get("UserArguments"), job_id=job_id, invocation_id=f"invocation-{index}"
            )
            response = invoke(event)
            (result,) = response["results"]
            assert (response["invocationId"], result["taskId"]) == (event["invocationId"], task["taskId"])
            code = result["resultCode"]
            calls[code] = calls.get(code, 0) + 1
            if code != "TemporaryFailure":
                break
        failed = code != "Succeeded"
        rows.append([bucket, key, "", STATUS[code], "200", code if failed else "", result["resultString"]])
    write_report(s3, request["Report"], job_id, rows)
    return calls


def write_report(s3, report: dict, job_id: str, rows: list[list[str]]) -> None:
    """The completion report: results/<hash>.csv per task status and the manifest.json that lists them."""
    bucket = report["Bucket"].split(":::")[-1]
    folder = f"{report['Prefix']}/job-{job_id}"
    results = []
    for status in ("succeeded", "failed"):
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(row for row in rows if row[3] == status)
        if not text.getvalue():
            continue
        body = text.getvalue().encode()
        key = f"{folder}/results/{hashlib.sha1(body).hexdigest()}.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        results.append(
            {"TaskExecutionStatus": status, "Bucket": bucket, "MD5Checksum": hashlib.md5(body).hexdigest(), "Key": key}
        )
    index = {
        "Format": report["Format"],
        "ReportCreationDate": "2022-06-09T10:00:00.000Z",
        "Results": results,
        "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage",
    }
    s3.put_object(Bucket=bucket, Key=f"{folder}/manifest.json", Body=json.dumps(index).encode())
