"""S3 Batch Operations through the trigger's handler: result codes, idempotency, force, versions, encoded
keys and malformed tasks (in-process moto, rendering faked); then a backfill end to end over moto's server:
the manifest `handler.backfill` writes, run by a stand-in for the service (tests/batch_service.py), the
completion report summarised by the command; and the command's CreateJob/DescribeJob calls, stubbed."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber

from events.make_events import (
    S3_EVENT_SCENE,
    batch_job_event,
    batch_task,
    manifest_task,
    s3_put_event,
    synthetic_geotiff,
)
from handler import backfill
from handler.s3_events import ObjectEvent
from handler.s3_trigger import handler
from handler.scene import processing
from handler.scene.processing import skip_reason
from handler.settings import Settings
from tests.batch_service import run_job
from tests import s3_helpers
from tests.s3_helpers import BUCKET, moto_server
from tests.rasters import geotiff_bytes, reflectance_stack
from tests.template import load_template

s3, rendered = s3_helpers.s3, s3_helpers.rendered  # the shared fixtures
BODY = b"II*\x00 not rendered here"
ROLE = "arn:aws:iam::123456789012:role/batch-operations"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:S3TriggerFunction"
EVENTS = Path(__file__).resolve().parents[1] / "events"


def answers(response: dict) -> list[tuple[str, str, str]]:
    return [(r["taskId"], r["resultCode"], r["resultString"]) for r in response["results"]]


def run(lambda_context, *tasks: dict, force: str | None = None) -> list[tuple[str, str]]:
    """Invoke the handler with one job event; (resultCode, resultString) per task."""
    event = batch_job_event(*tasks, user_arguments=None if force is None else {"force": force})
    response = handler(event, lambda_context)
    assert (response["invocationSchemaVersion"], response["invocationId"]) == ("2.0", event["invocationId"])
    assert response["treatMissingKeysAs"] == "PermanentFailure"
    return [(code, text) for _, code, text in answers(response)]


def test_each_task_is_answered_by_its_outcome(s3, rendered, lambda_context):
    # Planted bug: a rejection answered Succeeded -> the bad file's PermanentFailure is missing.
    for key in ("uploads/a.tif", "uploads/bad.tif", "uploads/flaky.tif", "uploads/notes.txt"):
        s3.put_object(Bucket=BUCKET, Key=key, Body=BODY)
    response = handler(
        batch_job_event(
            *[
                manifest_task(BUCKET, key, task_id=f"t{i}")
                for i, key in enumerate(
                    ["uploads/a.tif", "uploads/bad.tif", "uploads/flaky.tif", "uploads/notes.txt", "uploads/gone.tif"]
                )
            ]
        ),
        lambda_context,
    )
    assert answers(response) == [
        ("t0", "Succeeded", "written"),
        ("t1", "PermanentFailure", "rejected:unsupported_format"),
        ("t2", "TemporaryFailure", "transient:EndpointConnectionError"),
        ("t3", "Succeeded", "skipped:unsupported_suffix"),
        ("t4", "Succeeded", "skipped:deleted"),
    ]
    assert rendered == ["uploads/a.tif"]


def test_a_task_whose_outputs_are_current_is_a_quick_success_unless_forced(s3, rendered, lambda_context):
    # Planted bug: process_object ignoring force -> the forced task is "skipped:already_processed".
    s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=BODY)
    task = manifest_task(BUCKET, "uploads/a.tif")
    assert run(lambda_context, task) == [("Succeeded", "written")]
    assert run(lambda_context, task) == [("Succeeded", "skipped:already_processed")]
    assert run(lambda_context, task, force="false") == [("Succeeded", "skipped:already_processed")]
    assert rendered == ["uploads/a.tif"]
    # Forced: rendered again, and the conditional puts replace the outputs they found (a put that could
    # not would lose three times and answer TemporaryFailure).
    assert run(lambda_context, task, force="true") == [("Succeeded", "written")]
    assert rendered == ["uploads/a.tif"] * 2


def test_force_still_renders_only_the_current_version(s3, rendered, lambda_context):
    """force skips only the already-processed check: a task naming an older version stays superseded."""
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=BODY)["VersionId"]
    new = s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=BODY)["VersionId"]
    assert run(lambda_context, manifest_task(BUCKET, "uploads/a.tif", old), force="true") == [
        ("Succeeded", "skipped:superseded")
    ]
    assert rendered == []
    assert run(lambda_context, manifest_task(BUCKET, "uploads/a.tif", new), force="true") == [("Succeeded", "written")]
    assert run(lambda_context, manifest_task(BUCKET, "uploads/a.tif")) == [("Succeeded", "skipped:already_processed")]


@pytest.mark.parametrize("key", ["uploads/my scene é+ü 2022.tiff", "uploads/a%41 b+c.tif", "uploads/日本/x.jp2"])
def test_manifest_keys_are_url_decoded(s3, rendered, lambda_context, key):
    # Planted bug: s3Key used as sent (not unquote_plus) -> 'my%20scene...' is "skipped:deleted".
    s3.put_object(Bucket=BUCKET, Key=key, Body=BODY)
    assert manifest_task(BUCKET, key)["s3Key"] == backfill.manifest_key(key)  # the manifest the command writes
    assert run(lambda_context, manifest_task(BUCKET, key)) == [("Succeeded", "written")]
    assert rendered == [key]


def test_inventory_style_plus_for_space_is_decoded(s3, rendered, lambda_context):
    s3.put_object(Bucket=BUCKET, Key="uploads/my scene.tif", Body=BODY)
    assert run(lambda_context, batch_task(BUCKET, "uploads/my+scene.tif")) == [("Succeeded", "written")]


def test_schema_1_0_names_the_bucket_by_arn(s3, rendered, lambda_context):
    s3.put_object(Bucket=BUCKET, Key="uploads/a b.tif", Body=BODY)
    event = {
        "invocationSchemaVersion": "1.0",
        "invocationId": "inv",
        "job": {"id": "job"},
        "tasks": [
            {"taskId": "t", "s3Key": "uploads/a%20b.tif", "s3VersionId": None, "s3BucketArn": f"arn:aws:s3:::{BUCKET}"}
        ],
    }
    assert answers(handler(event, lambda_context)) == [("t", "Succeeded", "written")]


def test_malformed_tasks_fail_alone_and_permanently(s3, rendered, lambda_context):
    # Planted bug: errors="replace" when decoding s3Key -> the %E9 task is "skipped:deleted", not rejected.
    s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=BODY)
    good = manifest_task(BUCKET, "uploads/a.tif", task_id="good")
    tasks = [
        {"taskId": "no-key", "s3Bucket": BUCKET},
        batch_task(BUCKET, "uploads/caf%E9.tif", task_id="latin-1"),
        {"taskId": "no-bucket", "s3Key": "uploads/a.tif"},
        batch_task(BUCKET, "", task_id="empty"),
        {"s3Bucket": BUCKET, "s3Key": "uploads/a.tif"},
        "not a task",
        good,
    ]
    response = handler(batch_job_event(*tasks), lambda_context)
    malformed = ("PermanentFailure", "rejected:malformed_record")
    assert answers(response) == [(task_id, *malformed) for task_id in ("no-key", "latin-1", "no-bucket", "empty")] + [
        ("good", "Succeeded", "written")
    ]  # tasks without an id cannot be answered: treatMissingKeysAs
    assert rendered == ["uploads/a.tif"]


@pytest.mark.parametrize(
    "event",
    [
        batch_job_event(batch_task(BUCKET, "uploads/a.tif"), user_arguments={"force": "yes"}),
        batch_job_event(batch_task(BUCKET, "uploads/a.tif"), user_arguments={"force": True}),
        {**batch_job_event(batch_task(BUCKET, "uploads/a.tif")), "invocationSchemaVersion": "3.0"},
        {**batch_job_event(batch_task(BUCKET, "uploads/a.tif")), "job": {"id": "j", "userArguments": ["force"]}},
    ],
)
def test_a_job_that_cannot_run_fails_every_task_without_rendering(s3, rendered, lambda_context, event):
    # Planted bug: an unknown force value read as false -> the task is rendered.
    s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=BODY)
    assert answers(handler(event, lambda_context)) == [("dGFzay0w", "PermanentFailure", "rejected:malformed_record")]
    assert rendered == []


def test_a_job_without_a_task_list_is_answered_empty(s3, rendered, lambda_context):
    event = {"invocationSchemaVersion": "2.0", "invocationId": "inv", "job": {"id": "j"}, "tasks": "x"}
    assert handler(event, lambda_context)["results"] == []


@pytest.mark.parametrize(
    "name, result",
    [("batch-operations-task.json", "skipped:already_processed"), ("batch-operations-force.json", "written")],
)
def test_committed_batch_events_after_the_s3_put(name, result, monkeypatch, lambda_context):
    """What .ci/sam.sh does under sam local: the scene rendered by its S3 event, then the Batch Operations
    task for it (a quick success) and the forced one (rendered again)."""
    put = json.loads((EVENTS / "s3-put.json").read_text())
    event = json.loads((EVENTS / name).read_text())
    (task,) = event["tasks"]
    monkeypatch.setenv("INPUT_BUCKET", task["s3Bucket"])
    with moto_server(monkeypatch) as client:
        client.create_bucket(Bucket=task["s3Bucket"])
        client.put_object(Bucket=task["s3Bucket"], Key=task["s3Key"], Body=synthetic_geotiff(*S3_EVENT_SCENE))
        assert handler(put, lambda_context)["results"][0]["status"] == "written"
        assert answers(handler(event, lambda_context)) == [(task["taskId"], "Succeeded", result)]


# ------------------------------------------------------------------ backfill, end to end over moto's server
SCENE = geotiff_bytes(reflectance_stack(4, height=40, width=60))
NAMES = [
    "uploads/a.tif",
    "uploads/my scene é+ü 2022.tiff",
    "uploads/sub/b+c.TIF",
    "uploads/bad.tif",
    "uploads/readme.txt",
]


@pytest.fixture
def served(monkeypatch):
    monkeypatch.setenv("INPUT_BUCKET", BUCKET)
    with moto_server(monkeypatch) as client:
        client.create_bucket(Bucket=BUCKET)
        for name in NAMES:
            client.put_object(Bucket=BUCKET, Key=name, Body=b"%PDF-1.7" if "bad" in name else SCENE)
        client.put_object(Bucket=BUCKET, Key="elsewhere/c.tif", Body=SCENE)
        yield client


def backfill_job(s3, lambda_context, job_id: str, *, force: bool = False) -> tuple[dict, str]:
    """The command's manifest and CreateJob request, run by the stand-in service; its invocation counts
    and the summary the command prints of the completion report."""
    account = backfill.Account.of_role(ROLE)
    manifest = backfill.write_manifest(
        s3, account, BUCKET, backfill.listed_keys(s3, BUCKET, "uploads/"), backfill.REPORT_PREFIX
    )
    request = backfill.job_request(
        account, manifest, FUNCTION, ROLE, BUCKET, backfill.REPORT_PREFIX, force=force, priority=10, description="test"
    )
    calls = run_job(s3, request, job_id, lambda event: handler(event, lambda_context))
    rows = backfill.read_report(s3, BUCKET, backfill.REPORT_PREFIX, job_id)
    return calls, backfill.summarise(job_id, rows)


def test_backfill_end_to_end_renders_skips_and_forces(served, lambda_context):
    # Planted bug: manifest keys written unencoded -> 'uploads/sub/b+c.TIF' is decoded as 'b c.TIF' and
    # "skipped:deleted", with no thumbnail.
    calls, summary = backfill_job(served, lambda_context, "job-1")
    assert calls == {"Succeeded": 4, "PermanentFailure": 1}
    assert summary.splitlines()[:3] == [
        "job job-1: 5 tasks",
        "by result code: Succeeded 4, PermanentFailure 1",
        "by result: written 3, rejected:unsupported_format 1, skipped:unsupported_suffix 1",
    ]
    assert "s3://input-bucket/uploads/bad.tif  PermanentFailure  rejected:unsupported_format" in summary
    outputs = {o["Key"] for o in served.list_objects_v2(Bucket=BUCKET, Prefix="thumbnails/")["Contents"]}
    assert outputs == {"thumbnails/a.tif.png", "thumbnails/my scene é+ü 2022.tiff.png", "thumbnails/sub/b+c.TIF.png"}
    # The manifest lists everything under the prefix, URL-encoded, and nothing else.
    (manifest,) = served.list_objects_v2(Bucket=BUCKET, Prefix="batch-reports/manifests/")["Contents"]
    lines = served.get_object(Bucket=BUCKET, Key=manifest["Key"])["Body"].read().decode().splitlines()
    assert lines == [
        f"{BUCKET},uploads/a.tif",
        f"{BUCKET},uploads/bad.tif",
        f"{BUCKET},uploads/my%20scene%20%C3%A9%2B%C3%BC%202022.tiff",
        f"{BUCKET},uploads/readme.txt",
        f"{BUCKET},uploads/sub/b%2Bc.TIF",
    ]
    # Run again: every scene is current, a quick success. Forced: rendered again.
    _, again = backfill_job(served, lambda_context, "job-2")
    assert (
        "by result: skipped:already_processed 3, rejected:unsupported_format 1, skipped:unsupported_suffix 1" in again
    )
    _, forced = backfill_job(served, lambda_context, "job-3", force=True)
    assert "by result: written 3, rejected:unsupported_format 1, skipped:unsupported_suffix 1" in forced


def test_transient_failures_are_retried_by_the_service_then_reported(served, lambda_context, monkeypatch):
    """a.tif fails twice, then renders; b+c.TIF fails every time: after the service's three invocations
    the report says TemporaryFailure with the trigger's result string."""
    real, failed = processing.render_object, []

    def flaky(store, source, settings, deadline):
        if source.key == "uploads/sub/b+c.TIF" or (source.key == "uploads/a.tif" and len(failed) < 2):
            failed.append(source.key)
            raise EndpointConnectionError(endpoint_url="http://127.0.0.1")
        return real(store, source, settings, deadline)

    monkeypatch.setattr(processing, "render_object", flaky)
    calls, summary = backfill_job(served, lambda_context, "job-1")
    assert calls == {"TemporaryFailure": 5, "Succeeded": 3, "PermanentFailure": 1}
    assert "by result code: Succeeded 3, PermanentFailure 1, TemporaryFailure 1" in summary
    assert "s3://input-bucket/uploads/sub/b%2Bc.TIF  TemporaryFailure  transient:EndpointConnectionError" in summary


# ------------------------------------------------------------------ the command's AWS calls, stubbed
def stubbed_s3control():
    import boto3

    client = boto3.client("s3control", region_name="us-east-1")
    return client, Stubber(client)


def job_description(job_id: str, status: str, done: int = 0) -> dict:
    return {
        "Job": {
            "JobId": job_id,
            "Status": status,
            "Priority": 10,
            "ProgressSummary": {
                "TotalNumberOfTasks": 5,
                "NumberOfTasksSucceeded": done,
                "NumberOfTasksFailed": 1 if done else 0,
            },
            "Report": {
                "Bucket": f"arn:aws:s3:::{BUCKET}",
                "Prefix": "batch-reports",
                "Format": "Report_CSV_20180820",
                "Enabled": True,
                "ReportScope": "AllTasks",
            },
        }
    }


def expected_job(force: str, report_prefix: str, manifest: dict, priority: int, description: str) -> dict:
    """The CreateJob parameters the command must send (its request token is a fresh UUID)."""
    return {
        "AccountId": "123456789012",
        "ConfirmationRequired": False,
        "Operation": {
            "LambdaInvoke": {
                "FunctionArn": FUNCTION,
                "InvocationSchemaVersion": "2.0",
                "UserArguments": {"force": force},
            }
        },
        "Report": {
            "Bucket": f"arn:aws:s3:::{BUCKET}",
            "Prefix": report_prefix,
            "Format": "Report_CSV_20180820",
            "Enabled": True,
            "ReportScope": "AllTasks",
        },
        "Manifest": manifest,
        "Priority": priority,
        "RoleArn": ROLE,
        "ClientRequestToken": ANY,
        "Description": description,
    }


def test_the_command_creates_the_job_and_summarises_its_report(served, lambda_context, capsys):
    # Planted bug: InvocationSchemaVersion "1.0" -> the stub refuses the CreateJob parameters.
    s3control, stub = stubbed_s3control()
    sent = []
    s3control.meta.events.register(
        "provide-client-params.s3-control.CreateJob", lambda params, **kwargs: sent.append(dict(params))
    )
    csv_manifest = {
        "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
        "Location": ANY,
    }  # its name is made up on the way: checked below
    stub.add_response(
        "create_job",
        {"JobId": "job-1"},
        expected_job(
            "true", "batch-reports", csv_manifest, 10, "thumbnails backfill of s3://input-bucket/uploads/ (force)"
        ),
    )
    clients = {"s3": served, "s3control": s3control}.get
    with stub:
        assert (
            backfill.main(["--bucket", BUCKET, "--function-arn", FUNCTION, "--role-arn", ROLE, "--force"], clients) == 0
        )
    assert capsys.readouterr().out == "job-1\n"
    (manifest,) = served.list_objects_v2(Bucket=BUCKET, Prefix="batch-reports/manifests/")["Contents"]
    assert sent[0]["Manifest"]["Location"] == {
        "ObjectArn": f"arn:aws:s3:::{BUCKET}/{manifest['Key']}",
        "ETag": manifest["ETag"].strip('"'),
    }
    run_job(served, sent[0], "job-1", lambda event: handler(event, lambda_context))
    capsys.readouterr()  # the trigger's logs
    # --summarise: DescribeJob says where the report is; the command reads and summarises it.
    stub.add_response(
        "describe_job", job_description("job-1", "Complete", 4), {"AccountId": "123456789012", "JobId": "job-1"}
    )
    with stub:
        assert backfill.main(["--bucket", BUCKET, "--role-arn", ROLE, "--summarise", "job-1"], clients) == 1
    out = capsys.readouterr().out
    assert out.startswith("job job-1: 5 tasks\nby result code: Succeeded 4, PermanentFailure 1\n")


def test_wait_polls_until_the_job_is_final(capsys):
    s3control, stub = stubbed_s3control()
    for status, done in (("Preparing", 0), ("Active", 2), ("Active", 2), ("Complete", 4)):
        stub.add_response(
            "describe_job", job_description("job-1", status, done), {"AccountId": "123456789012", "JobId": "job-1"}
        )
    sleeps = []
    with stub:
        job = backfill.wait_for_job(s3control, backfill.Account.of_role(ROLE), "job-1", 7, sleeps.append)
    assert job["Status"] == "Complete" and sleeps == [7, 7, 7]
    assert capsys.readouterr().err.splitlines() == [
        "job job-1 Preparing: 0 succeeded, 0 failed of 5",
        "job job-1 Active: 2 succeeded, 1 failed of 5",
        "job job-1 Complete: 4 succeeded, 1 failed of 5",
    ]


def test_an_inventory_manifest_is_pinned_to_its_etag(served, capsys):
    inventory = f"inventory/{BUCKET}/daily/2022-06-09T01-00Z/manifest.json"
    etag = served.put_object(Bucket=BUCKET, Key=inventory, Body=b"{}")["ETag"].strip('"')
    s3control, stub = stubbed_s3control()
    manifest = {
        "Spec": {"Format": "S3InventoryReport_CSV_20161130"},
        "Location": {"ObjectArn": f"arn:aws:s3:::{BUCKET}/{inventory}", "ETag": etag},
    }
    stub.add_response(
        "create_job",
        {"JobId": "job-2"},
        expected_job("false", "reports", manifest, 3, f"thumbnails backfill of s3://{BUCKET}/{inventory}"),
    )
    with stub:
        assert (
            backfill.main(
                [
                    "--bucket",
                    BUCKET,
                    "--inventory",
                    f"s3://{BUCKET}/{inventory}",
                    "--function-arn",
                    FUNCTION,
                    "--role-arn",
                    ROLE,
                    "--report-prefix",
                    "reports/",
                    "--priority",
                    "3",
                ],
                {"s3": served, "s3control": s3control}.get,
            )
            == 0
        )
    assert capsys.readouterr().out == "job-2\n"
    assert not served.list_objects_v2(Bucket=BUCKET, Prefix="reports/").get("KeyCount")  # no manifest written


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--bucket", BUCKET, "--function-arn", FUNCTION, "--role-arn", "batch-role"], "not an IAM role ARN"),
        (["--bucket", BUCKET, "--role-arn", ROLE], "--function-arn is required"),
        (
            [
                "--bucket",
                BUCKET,
                "--function-arn",
                FUNCTION,
                "--role-arn",
                ROLE,
                "--inventory",
                "https://x/manifest.json",
            ],
            "not an s3://bucket/key URL",
        ),
    ],
)
def test_bad_arguments_are_clear_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        backfill.main(argv, clients=lambda name: pytest.fail("no AWS call for bad arguments"))
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_aws_errors_are_reported_not_raised(served, capsys):
    s3control, stub = stubbed_s3control()
    stub.add_client_error("create_job", "AccessDenied", "not allowed to pass the role")
    with stub:
        assert (
            backfill.main(
                ["--bucket", BUCKET, "--function-arn", FUNCTION, "--role-arn", ROLE],
                {"s3": served, "s3control": s3control}.get,
            )
            == 2
        )
    assert "AccessDenied" in capsys.readouterr().err


def test_report_rows_read_either_column_order():
    """AWS documents ErrorCode before HTTPStatusCode; its example reports put the HTTP status first."""
    assert (
        backfill.report_row(["b", "k", "", "failed", "200", "PermanentFailure", "rejected:x"])
        == backfill.report_row(["b", "k", "", "failed", "PermanentFailure", "200", "rejected:x"])
        == backfill.TaskReport("b", "k", "PermanentFailure", "rejected:x")
    )
    assert backfill.report_row(["b", "k", "", "succeeded", "200", "", "written"]).result_code == "Succeeded"


def test_the_s3_notification_path_is_unchanged_by_batch_detection(s3, rendered, lambda_context):
    s3.put_object(Bucket=BUCKET, Key="uploads/a.tif", Body=BODY)
    response = handler(s3_put_event((BUCKET, "uploads/a.tif", len(BODY))), lambda_context)
    assert response == {"results": [{"key": "uploads/a.tif", "status": "written", "reason": ""}]}


def test_the_template_gives_batch_operations_only_what_a_backfill_needs():
    """The role Batch Operations assumes invokes only the trigger and touches only batch-reports/ of the
    input bucket, where the command writes manifests and reports, and which the trigger skips."""
    # Planted bug: ReadManifests on "${InputBucket.Arn}/*" -> the role could read every upload.
    resources = load_template()["Resources"]
    role = resources["BatchOperationsRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Principal"], trust["Action"]) == ({"Service": "batchoperations.s3.amazonaws.com"}, "sts:AssumeRole")
    (policy,) = role["Policies"]
    grants = {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}
    assert grants["InvokeTrigger"]["Action"] == "lambda:InvokeFunction"
    assert grants["InvokeTrigger"]["Resource"] == [
        {"GetAtt": "S3TriggerFunction.Arn"},
        {"Sub": "${S3TriggerFunction.Arn}:*"},
    ]
    reports = {"Sub": f"${{InputBucket.Arn}}/{backfill.REPORT_PREFIX}/*"}
    assert grants["ReadManifests"]["Resource"] == grants["WriteReports"]["Resource"] == reports
    assert (grants["ReadManifests"]["Action"], grants["WriteReports"]["Action"]) == (
        ["s3:GetObject", "s3:GetObjectVersion"],
        "s3:PutObject",
    )
    prefix = (
        resources["S3TriggerFunction"]["Properties"]
        .get("Environment", {})
        .get("Variables", {})
        .get("INPUT_PREFIX", Settings().input_prefix)
    )
    report = ObjectEvent(BUCKET, f"{backfill.REPORT_PREFIX}/job-1/results/x.tif", 10, "", None, True)
    assert skip_reason(report, Settings(input_prefix=prefix)) == "outside_input_prefix"


def test_the_lambda_image_leaves_out_the_development_modules():
    """handler/backfill.py (like the local pipeline) is not in the image: neither entry point may import it."""
    # Planted bug: s3_trigger importing handler.backfill (say, for REPORT_PREFIX) -> ImportError on Lambda.
    root = EVENTS.parent
    assert {"handler/backfill.py", "handler/local_pipeline.py"} <= set((root / ".dockerignore").read_text().split())
    code = (
        "import sys, handler.api, handler.s3_trigger; "
        "print([m for m in ('handler.backfill', 'handler.local_pipeline') if m in sys.modules])"
    )
    assert (
        subprocess.run(
            [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        == "[]"
    )
