"""Write a copy of the built template that lets `sam local start-api` pass binary uploads to HttpApi routes.

Why: on AWS an HTTP API base64-encodes binary request bodies by itself, but `sam local start-api` only
does so for media types listed in a REST API's BinaryMediaTypes, and HttpApi has no such property; a
multipart upload of a GeoTIFF then fails locally with a UnicodeDecodeError and a 502 (aws/aws-sam-cli
issues #3110 and #7927). SAM CLI pools the binary media types of every API in the template, so one extra
REST API resource with no routes fixes the local run. It goes only into this local copy: never deployed.

    sam build
    python3 .ci/sam-local/start-api-template.py           # -> .aws-sam/build/template-start-api.yaml
    sam local start-api -t .aws-sam/build/template-start-api.yaml

With the Python that has SAM CLI installed it edits the template with SAM's own YAML parser; with any
other Python it inserts the resource as text right under `Resources:`.
"""

import re
import sys
from pathlib import Path

BINARY_MEDIA_TYPES = ["multipart~1form-data", "image~1tiff", "application~1octet-stream"]
RESOURCE = {
    "Type": "AWS::Serverless::Api",
    "Properties": {
        "StageName": "local",
        "BinaryMediaTypes": BINARY_MEDIA_TYPES,
        "DefinitionBody": {
            "swagger": "2.0",
            "info": {"title": "sam-local-binary-media-types", "version": "1"},
            "paths": {},
        },
    },
}
NAME = "SamLocalBinaryMediaTypes"


def with_resource(text: str) -> str:
    try:
        from samcli.yamlhelper import yaml_dump, yaml_parse
    except ImportError:
        indent = re.search(r"^Resources:[ \t]*\n([ \t]+)\S", text, re.MULTILINE)
        if indent is None:
            raise SystemExit("no top-level 'Resources:' mapping found")
        pad = indent.group(1)
        block = (
            f"{pad}{NAME}:\n{pad * 2}Type: {RESOURCE['Type']}\n{pad * 2}Properties:\n"
            f"{pad * 3}StageName: local\n{pad * 3}BinaryMediaTypes: {BINARY_MEDIA_TYPES}\n"
            f"{pad * 3}DefinitionBody: {{swagger: '2.0', info: {{title: sam-local-binary-media-types, "
            f"version: '1'}}, paths: {{}}}}\n"
        )
        return text[: indent.start(1)] + block + text[indent.start(1) :]
    template = yaml_parse(text)
    template["Resources"][NAME] = RESOURCE
    return yaml_dump(template)


def main() -> None:
    source = Path(sys.argv[1] if len(sys.argv) > 1 else ".aws-sam/build/template.yaml")
    target = Path(sys.argv[2] if len(sys.argv) > 2 else source.with_name("template-start-api.yaml"))
    target.write_text(with_resource(source.read_text()))
    print(f"wrote {target} (BinaryMediaTypes {', '.join(t.replace('~1', '/') for t in BINARY_MEDIA_TYPES)})")


if __name__ == "__main__":
    main()
