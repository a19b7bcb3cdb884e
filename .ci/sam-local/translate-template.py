"""Translate template.yaml with SAM's own translator for each AuthMode, as `sam deploy` would, without AWS.

Why: `sam validate --lint` and cfn-lint accept properties SAM's translator later refuses (an intrinsic in
an HttpApi's DefaultAuthorizer passes both and fails only at deploy). Prints each mode's HTTP API routes
and their security; exits non-zero when a mode does not translate or the routes are not what the template
promises ($default only; AWS_IAM exactly under AuthMode IAM, the JWT authorizer exactly under AuthMode JWT,
once CloudFormation resolves the conditions), or a function's Architectures is not just the Architecture parameter.

    AWS_DEFAULT_REGION=us-east-1 <sam venv>/bin/python .ci/sam-local/translate-template.py template.yaml
"""

import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/sentinel2-thumbnails:local"  # what sam deploy fills in


class NoManagedPolicies:
    """The translator's managed-policy loader, offline: the template uses inline policies only."""

    def load(self) -> dict:
        return {}


def resolve_condition(value, conditions: dict):
    """CloudFormation's Fn::If over the conditions this template uses in the API body."""
    if isinstance(value, dict) and "Fn::If" in value:
        name, when_true, when_false = value["Fn::If"]
        return resolve_condition(when_true if conditions[name] else when_false, conditions)
    return value


def translate(path: str, auth_mode: str) -> dict:
    """The CloudFormation template `sam deploy` would submit under `auth_mode`."""
    template = yaml_parse(open(path).read())
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function" and resource["Properties"].get("PackageType") == "Image":
            resource["Properties"]["ImageUri"] = IMAGE_URI
    parameters = {"AuthMode": auth_mode, "JwtIssuer": "https://issuer.example", "JwtAudience": "client"}
    return transform(template, parameters, NoManagedPolicies())


def architectures(output: dict) -> dict[str, object]:
    """Each Lambda function's Architectures after SAM merged the Globals' list with the function's own."""
    return {
        name: resource["Properties"].get("Architectures")
        for name, resource in output["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }


def routes(path: str, auth_mode: str) -> dict[str, object]:
    """Each route's security, and the names of the security schemes that exist, under `auth_mode`."""
    output = translate(path, auth_mode)
    body = output["Resources"]["HttpApi"]["Properties"]["Body"]
    conditions = {"RequireIam": auth_mode == "IAM", "RequireJwt": auth_mode == "JWT"}
    found = {
        f"{method} {route}": resolve_condition(operation.get("security", {"Ref": "AWS::NoValue"}), conditions)
        for route, methods in body["paths"].items()
        for method, operation in methods.items()
    }
    schemes = body.get("components", {}).get("securitySchemes", {})
    found["schemes"] = sorted(
        name for name, scheme in schemes.items() if resolve_condition(scheme, conditions) != {"Ref": "AWS::NoValue"}
    )
    return found


def main() -> None:
    failures = []
    expected = {
        "NONE": ({"Ref": "AWS::NoValue"}, ["AWS_IAM"]),
        "IAM": ([{"AWS_IAM": []}], ["AWS_IAM"]),
        "JWT": ([{"JwtAuthorizer": []}], ["AWS_IAM", "JwtAuthorizer"]),
    }
    for auth_mode, (security, schemes) in expected.items():
        found = routes(sys.argv[1], auth_mode)
        print(f"AuthMode={auth_mode}: {found}")
        if found != {"x-amazon-apigateway-any-method $default": security, "schemes": schemes}:
            failures.append(auth_mode)
    # One entry, the Architecture parameter, for every function (a function's own list would replace it).
    found = architectures(translate(sys.argv[1], "NONE"))
    print(f"Architectures: {found}")
    if not found or any(value != [{"Ref": "Architecture"}] for value in found.values()):
        failures.append("Architectures")
    if failures:
        sys.exit(f"unexpected routes or architectures: {failures}")


if __name__ == "__main__":
    main()
