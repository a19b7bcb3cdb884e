"""The Lambda entry point with real API Gateway events (HTTP API v2 and REST v1) and base64 bodies."""

import base64
import json

import pytest

from events import make_events

from handler.api import handler
from tests.rasters import geotiff_bytes, open_png, reflectance_stack

BOUNDARY = make_events.BOUNDARY


def multipart(fields: dict[str, str], file_bytes: bytes) -> bytes:
    return make_events.multipart(fields, "image_file", "S2L2A_2022-06-09.tiff", file_bytes)


def http_api_v2_event(path: str, body: bytes) -> dict:
    return make_events.http_api_event("POST", path, body, f"multipart/form-data; boundary={BOUNDARY}")


def rest_v1_event(path: str, body: bytes) -> dict:
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": "POST",
        "headers": {
            "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            "Host": "abc.execute-api.us-east-1.amazonaws.com",
        },
        "multiValueHeaders": {
            "Content-Type": [f"multipart/form-data; boundary={BOUNDARY}"],
            "Host": ["abc.execute-api.us-east-1.amazonaws.com"],
        },
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path[1:]},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": "POST",
            "path": f"/Prod{path}",
            "stage": "Prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


SCENE = geotiff_bytes(reflectance_stack(12, height=40, width=80))


@pytest.mark.parametrize("make_event", [http_api_v2_event, rest_v1_event])
def test_thumbnail_through_api_gateway(make_event, lambda_context):
    response = handler(make_event("/thumbnail", multipart({"target_resolution": "200"}, SCENE)), lambda_context)
    assert response["statusCode"] == 200 and response["isBase64Encoded"] is True
    image = open_png(base64.b64decode(response["body"]))
    assert image.format == "PNG" and image.size == (200, 100)


@pytest.mark.parametrize("make_event", [http_api_v2_event, rest_v1_event])
def test_attributes_through_api_gateway(make_event, lambda_context):
    response = handler(make_event("/attributes", multipart({}, SCENE)), lambda_context)
    assert response["statusCode"] == 200 and not response["isBase64Encoded"]
    assert json.loads(response["body"])["band_names"][3] == "B04"


def test_error_through_api_gateway(lambda_context):
    response = handler(http_api_v2_event("/attributes", multipart({}, b"%PDF-1.4")), lambda_context)
    assert response["statusCode"] == 415
    assert json.loads(response["body"])["error"]["code"] == "unsupported_format"


def test_thumbnail_that_would_outlast_the_invocation_is_413(lambda_context):
    """The deadline follows Lambda's remaining time when that is shorter than REQUEST_DEADLINE_SECONDS."""
    lambda_context.remaining_ms = 900  # under the margin kept to answer
    response = handler(http_api_v2_event("/thumbnail", multipart({"target_resolution": "200"}, SCENE)), lambda_context)
    assert response["statusCode"] == 413
    assert json.loads(response["body"])["error"]["code"] == "deadline_exceeded"
