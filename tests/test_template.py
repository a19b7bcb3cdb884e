"""template.yaml against what a first real deployment needs: timeouts in the right order, every app route
reachable through the HTTP API, bucket names S3 accepts and that cannot collide, and buckets kept on delete.
(SAM's own translation, cfn-lint and checkov run in .ci/sam.sh and .ci/run.)"""

import re
from fnmatch import fnmatchcase

import pytest

from handler.api import ANSWER_MARGIN_SECONDS, app
from handler.settings import Settings
from tests.template import load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
# API Gateway's HTTP APIs end every integration after 30 s (a hard limit), answering 503 themselves.
HTTP_API_INTEGRATION_TIMEOUT = 30
# The longest region names (ap-southeast-2, ...) and account ids.
LONGEST_REGION, ACCOUNT_DIGITS, STACK_SUFFIX = 14, 12, 8


def api_timeout() -> int:
    function = RESOURCES["ApiFunction"]["Properties"]
    return function.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])


def test_the_app_deadline_ends_before_the_function_which_ends_before_the_gateway():
    # Planted bug: Timeout 30 on ApiFunction -> a slow render reaches the client as the gateway's 503.
    variables = RESOURCES["ApiFunction"]["Properties"]["Environment"]["Variables"]
    deadline = float(variables.get("REQUEST_DEADLINE_SECONDS", Settings().request_deadline_seconds))
    assert deadline + ANSWER_MARGIN_SECONDS < api_timeout() < HTTP_API_INTEGRATION_TIMEOUT
    assert deadline == Settings().request_deadline_seconds  # the code's default says the same


def template_routes() -> list[str]:
    """HTTP API route keys of the API: the OpenAPI body's paths and the function's HttpApi events
    (an event without Path is the $default route)."""
    routes = list(RESOURCES["HttpApi"]["Properties"].get("DefinitionBody", {}).get("paths", {}))
    for event in RESOURCES["ApiFunction"]["Properties"]["Events"].values():
        if event["Type"] == "HttpApi":
            routes.append(event["Properties"].get("Path", "$default"))
    return routes


def reaches(route: str, path: str) -> bool:
    """Whether an HTTP API route matches a request path: $default matches all, a greedy {proxy+} one or
    more segments (never "/"), {name} one segment, anything else itself."""
    if route == "$default":
        return True
    pattern = re.escape(route)
    pattern = re.sub(r"\\\{[^/]+\\\+\\\}", "[^/].*", pattern)
    pattern = re.sub(r"\\\{[^/+]+\\\}", "[^/]+", pattern)
    return re.fullmatch(pattern, path) is not None


def test_route_matching_knows_a_greedy_variable_does_not_match_the_root():
    assert not reaches("/{proxy+}", "/") and reaches("/{proxy+}", "/a/b") and reaches("$default", "/")
    assert reaches("/results/{id}", "/results/x") and not reaches("/results/{id}", "/results/x/y")


@pytest.mark.parametrize("path", ["/"] + sorted({getattr(route, "path") for route in app.routes}))
def test_every_path_the_app_serves_is_routed_to_it_when_deployed(path):
    # Planted bug: Path: /{proxy+} instead of the $default route -> "/" is the gateway's 404.
    example = re.sub(r"\{[^}]+\}", "x", path)
    assert any(reaches(route, example) for route in template_routes()), (path, template_routes())


def test_auth_is_the_templates_setting_so_guided_deploys_do_not_ask():
    """`sam deploy --guided` asks "ApiFunction has no authentication. Is this okay?" (Enter aborts) unless
    the function's HttpApi event or its API declares Auth: the API declares it, and AuthMode chooses."""
    api = RESOURCES["HttpApi"]["Properties"]
    assert api["Auth"] and RESOURCES["ApiFunction"]["Properties"]["Events"]["Api"]["Properties"]["ApiId"] == {
        "Ref": "HttpApi"
    }
    security = api["DefinitionBody"]["paths"]["$default"]["x-amazon-apigateway-any-method"]["security"]
    assert security == {
        "If": [
            "RequireIam",
            [{"AWS_IAM": []}],
            {"If": ["RequireJwt", [{"JwtAuthorizer": []}], {"Ref": "AWS::NoValue"}]},
        ]
    }
    assert TEMPLATE["Conditions"]["RequireIam"] == {"Equals": [{"Ref": "AuthMode"}, "IAM"]}
    assert TEMPLATE["Conditions"]["RequireJwt"] == {"Equals": [{"Ref": "AuthMode"}, "JWT"]}
    jwt = api["DefinitionBody"]["components"]["securitySchemes"]["JwtAuthorizer"]["If"]
    assert jwt[0] == "RequireJwt" and jwt[2] == {"Ref": "AWS::NoValue"}  # no authorizer with an empty issuer
    assert jwt[1]["x-amazon-apigateway-authorizer"]["jwtConfiguration"] == {
        "issuer": {"Ref": "JwtIssuer"},
        "audience": [{"Ref": "JwtAudience"}],
    }
    assert TEMPLATE["Rules"]["JwtNeedsAnIssuer"]["RuleCondition"] == {"Equals": [{"Ref": "AuthMode"}, "JWT"]}
    assert TEMPLATE["Parameters"]["AuthMode"]["Default"] == "NONE"  # the README's curl commands work


@pytest.mark.parametrize(
    "prefix, accepted",
    [
        ("s2-thumbnails", True),
        ("abc", True),
        ("a1-b2", True),
        ("xn--abc", False),
        ("sthree-abc", False),
        ("amzn-s3-demo-abc", False),
        ("-abc", False),
        ("abc-", False),
        ("Abc", False),
        ("a.b", False),
        ("a_b", False),
    ],
)
def test_the_bucket_prefix_pattern_follows_s3s_naming_rules(prefix, accepted):
    # Planted bug: the old pattern without the reserved-prefix look-ahead -> xn--abc is accepted.
    parameter = TEMPLATE["Parameters"]["BucketNamePrefix"]
    assert (re.fullmatch(parameter["AllowedPattern"], prefix) is not None) == accepted
    assert parameter["MinLength"] <= len(parameter["Default"]) <= parameter["MaxLength"]


def test_the_input_bucket_name_is_unique_per_stack_and_within_s3s_length():
    parameter = TEMPLATE["Parameters"]["BucketNamePrefix"]
    template, variables = RESOURCES["InputBucket"]["Properties"]["BucketName"]["Sub"]
    assert "${StackSuffix}" in template and "${AWS::AccountId}" in template and "${AWS::Region}" in template
    assert "AWS::StackId" in str(variables["StackSuffix"])
    longest = (
        template.replace("${BucketNamePrefix}", "x" * parameter["MaxLength"])
        .replace("${AWS::AccountId}", "1" * ACCOUNT_DIGITS)
        .replace("${AWS::Region}", "r" * LONGEST_REGION)
        .replace("${StackSuffix}", "s" * STACK_SUFFIX)
    )
    assert len(longest) <= 63


@pytest.mark.parametrize(
    "name", [name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::S3::Bucket"]
)
def test_buckets_are_kept_when_the_stack_is_deleted_or_replaced(name):
    assert RESOURCES[name]["DeletionPolicy"] == RESOURCES[name]["UpdateReplacePolicy"] == "Retain"


def test_checkov_skips_say_why():
    """Every IaC-scanner skip sits next to its resource with a reason (.ci/run runs checkov)."""
    skips = [
        (name, skip)
        for name, resource in RESOURCES.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips and all(fnmatchcase(skip["id"], "CKV_AWS_*") and len(skip["comment"]) > 30 for _, skip in skips)


@pytest.mark.parametrize("bucket, prefix", [("InputBucket", "uploads/"), ("OutputBucket", "cogs/")])
def test_uploads_and_their_cog_copies_expire_after_the_configured_days(bucket, prefix):
    # Planted bug: no ExpireUploads rule -> abandoned uploads accumulate forever.
    rules = RESOURCES[bucket]["Properties"]["LifecycleConfiguration"]["Rules"]
    (conditional,) = [rule["If"] for rule in rules if "If" in rule]
    condition, rule, otherwise = conditional
    assert condition == "ExpireUploads" and otherwise == {"Ref": "AWS::NoValue"}
    assert rule["Prefix"] == prefix and rule["ExpirationInDays"] == {"Ref": "UploadExpirationDays"}
    assert TEMPLATE["Conditions"]["ExpireUploads"] == {"Not": [{"Equals": [{"Ref": "UploadExpirationDays"}, 0]}]}
    assert not any(
        rule.get("Prefix", "").startswith(("thumbnails/", "items/", "attributes/", "status/"))
        for rule in rules
        if "Prefix" in rule
    )  # the catalogue stays


def test_account_protection_settings_reach_their_resources():
    # Planted bug: ReservedConcurrentExecutions: !Ref ApiReservedConcurrency (0 would throttle every call).
    api, trigger = (RESOURCES[name]["Properties"] for name in ("ApiFunction", "S3TriggerFunction"))
    assert api["ReservedConcurrentExecutions"] == {
        "If": ["ReserveApiConcurrency", {"Ref": "ApiReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert trigger["ReservedConcurrentExecutions"]["If"][0] == "ReserveTriggerConcurrency"
    assert TEMPLATE["Conditions"]["ReserveApiConcurrency"] == {
        "Not": [{"Equals": [{"Ref": "ApiReservedConcurrency"}, 0]}]
    }
    routes = RESOURCES["HttpApi"]["Properties"]["DefaultRouteSettings"]
    assert routes == {
        "ThrottlingRateLimit": {"Ref": "ApiThrottlingRateLimit"},
        "ThrottlingBurstLimit": {"Ref": "ApiThrottlingBurstLimit"},
    }
    assert api["Environment"]["Variables"]["API_DOCS"] == {"Ref": "ApiDocs"}


def test_cors_is_off_for_the_api_and_never_a_bare_wildcard_by_default():
    parameter = TEMPLATE["Parameters"]["CorsAllowedOrigins"]
    assert parameter["Default"] == ""
    api_cors = RESOURCES["HttpApi"]["Properties"]["CorsConfiguration"]["If"]
    assert api_cors[0] == "HasCorsOrigins" and api_cors[2] == {"Ref": "AWS::NoValue"}
    (rule,) = RESOURCES["InputBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    condition, configured, default = rule["AllowedOrigins"]["If"]
    assert rule["AllowedMethods"] == ["POST"] and configured == {"Split": [",", {"Ref": "CorsAllowedOrigins"}]}
    assert default == [{"Sub": "https://*.execute-api.${AWS::Region}.${AWS::URLSuffix}"}]


@pytest.mark.parametrize(
    "name", [name for name, resource in RESOURCES.items() if resource["Type"] == "AWS::Serverless::Function"]
)
def test_the_architecture_parameter_alone_sets_each_functions_instruction_set(name):
    # Planted bug: Architectures: [x86_64] on S3TriggerFunction -> arm64 deploys keep an x86_64 trigger
    # (a function's own list replaces the Globals' one: .ci/sam-local/translate-template.py checks SAM's output).
    parameter = TEMPLATE["Parameters"]["Architecture"]
    assert parameter["Default"] == "x86_64" and sorted(parameter["AllowedValues"]) == ["arm64", "x86_64"]
    effective = RESOURCES[name]["Properties"].get("Architectures", TEMPLATE["Globals"]["Function"].get("Architectures"))
    assert effective == [{"Ref": "Architecture"}]
