"""Static checks of template.yaml's IAM policies: least privilege, and no S3 loop at the IAM level
(the S3 trigger can never write into the bucket that triggers it)."""

import pytest

from handler.scene.layout import OUTPUT_FOLDERS
from tests.template import TEMPLATE, load_template


def text(resource) -> str:
    """A resource ARN as text: {'Sub': '${InputBucket.Arn}/uploads/*'} -> '${InputBucket.Arn}/uploads/*'."""
    if isinstance(resource, dict):
        ((kind, value),) = resource.items()
        if kind == "GetAtt":
            return "${" + (value if isinstance(value, str) else ".".join(value)) + "}"
        if kind == "Ref":
            return "${" + value + "}"
        return value if isinstance(value, str) else value[0]
    return resource


def statements(function: str) -> list[dict]:
    template = load_template()
    policies = template["Resources"][function]["Properties"].get("Policies", [])
    found = []
    for policy in policies:
        if isinstance(policy, dict) and "Statement" in policy:
            for statement in policy["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                resources = statement["Resource"]
                resources = resources if isinstance(resources, list) else [resources]
                found.append(
                    {
                        "effect": statement.get("Effect", "Allow"),
                        "actions": actions,
                        "resources": [text(r) for r in resources],
                    }
                )
        else:
            found.append({"effect": "Allow", "actions": ["<managed policy>"], "resources": [str(policy)]})
    return found


def is_input_bucket(resource: str) -> bool:
    return "InputBucket" in resource or "${BucketNamePrefix}" in resource


@pytest.fixture(scope="module", params=["ApiFunction", "S3TriggerFunction"])
def function(request) -> str:
    if not TEMPLATE.is_file():
        pytest.skip("no template.yaml")
    return request.param


def test_no_wildcard_actions_resources_or_managed_policies(function):
    for statement in statements(function):
        assert "<managed policy>" not in statement["actions"], f"{function}: use inline, scoped statements"
        assert not {"*", "s3:*"} & set(statement["actions"]), statement
        assert "*" not in statement["resources"], statement
        assert not any(a in ("s3:DeleteObject", "s3:PutBucketPolicy", "s3:PutObjectAcl") for a in statement["actions"])


def object_part(resource: str) -> str:
    """'/uploads/*' of '${InputBucket.Arn}/uploads/*' or of
    'arn:...:s3:::x-input-${AWS::AccountId}-${AWS::Region}/uploads/*'; '' for the bucket itself."""
    marker = "InputBucket.Arn}" if "InputBucket.Arn}" in resource else "-input-"
    tail = resource.split(marker, 1)[-1]
    return tail[tail.index("/") :] if "/" in tail else ""


def test_input_bucket_objects_only_under_uploads(function):
    assert object_part("${InputBucket.Arn}/*") == "/*"  # what the check catches
    assert object_part("arn:${AWS::Partition}:s3:::p-input-${AWS::AccountId}-${AWS::Region}") == ""
    for statement in statements(function):
        for resource in statement["resources"]:
            if is_input_bucket(resource):
                assert object_part(resource) in ("", "/uploads/*"), f"{function}: {resource}"


def test_trigger_cannot_write_to_the_bucket_that_triggers_it():
    """The IAM half of the loop guard: whatever a bug in the code does, no write can land in the input
    bucket and fire the trigger again."""
    for statement in statements("S3TriggerFunction"):
        if "s3:PutObject" in statement["actions"]:
            assert not any(is_input_bucket(r) for r in statement["resources"]), statement


def test_api_writes_only_new_uploads():
    for statement in statements("ApiFunction"):
        if "s3:PutObject" in statement["actions"]:
            assert all(is_input_bucket(r) and r.endswith("/uploads/*") for r in statement["resources"]), statement


OUTPUT_PREFIXES = ("/thumbnails/*", "/attributes/*", "/cogs/*", "/items/*", "/status/*")


def output_objects(resources: list[str]) -> set[str]:
    """'/items/*' of each '${OutputBucket.Arn}/items/*' in `resources`."""
    return {r.split("OutputBucket.Arn}", 1)[1] for r in resources if "OutputBucket.Arn}/" in r}


def test_output_bucket_objects_only_under_the_output_prefixes(function):
    for statement in statements(function):
        assert output_objects(statement["resources"]) <= set(OUTPUT_PREFIXES), statement


@pytest.mark.parametrize("function, sid", [("S3TriggerFunction", "WriteOutputs"), ("ApiFunction", "ReadOutputs")])
def test_every_output_the_code_writes_is_in_the_policy(function, sid):
    """The trigger may write, and the API read, each folder of layout.OUTPUT_FOLDERS (a prefix the
    code writes but the policy omits is an AccessDenied, retried until the event is dead-lettered)."""
    # Planted bug: items/* dropped from WriteOutputs in template.yaml -> the trigger's set lacks it.
    template = load_template()
    (policy,) = [
        s
        for p in template["Resources"][function]["Properties"]["Policies"]
        for s in p["Statement"]
        if s.get("Sid") == sid
    ]
    written = {f"/{prefix}*" for prefix in OUTPUT_FOLDERS}
    assert output_objects([text(r) for r in policy["Resource"]]) == written == set(OUTPUT_PREFIXES)


def test_trigger_renders_only_the_bucket_its_notification_and_policy_name():
    """The code-level bucket check (INPUT_BUCKET) names the same bucket as the S3 notification and the
    read policy: a record naming any other bucket is skipped before S3 or GDAL is called."""
    # Planted bug: INPUT_BUCKET: !Sub "${BucketNamePrefix}-other-..." in template.yaml -> the names differ.
    template = load_template()
    input_bucket = text(template["Resources"]["InputBucket"]["Properties"]["BucketName"])
    trigger = template["Resources"]["S3TriggerFunction"]["Properties"]
    assert text(trigger["Environment"]["Variables"]["INPUT_BUCKET"]) == input_bucket
    # the same !Sub, variables included (the stack-id suffix)
    assert (
        trigger["Environment"]["Variables"]["INPUT_BUCKET"]
        == template["Resources"]["InputBucket"]["Properties"]["BucketName"]
    )
    assert trigger["Events"]["Upload"]["Properties"]["Bucket"] == {"Ref": "InputBucket"}
    (reads,) = [s for s in statements("S3TriggerFunction") if s["actions"] == ["s3:GetObject"]]
    assert reads["resources"] == [f"arn:${{AWS::Partition}}:s3:::{input_bucket}/uploads/*"]
