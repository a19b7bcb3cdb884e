"""Powertools Logger, Tracer and Metrics shared by both Lambda entry points.

Importing this module routes the raster core's open/read/encode spans to X-Ray subsegments.
"""

import os
import time
from contextlib import contextmanager
from typing import Iterator

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

from handler.core.spans import set_span_factory

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "sentinel2-thumbnails")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Sentinel2Thumbnails")

logger = Logger(service=SERVICE)
# Nothing is patched at import (cold start): the S3 adapter patches botocore when it creates its client.
tracer = Tracer(service=SERVICE, auto_patch=False)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

set_span_factory(tracer.provider.in_subsegment)


@contextmanager
def rendering_metrics(input_bytes: int) -> Iterator[None]:
    """Record one rendered thumbnail: count, render time and input size (EMF)."""
    start = time.perf_counter()
    yield
    metrics.add_metric(name="ThumbnailsRendered", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RenderMs", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - start) * 1000)
    metrics.add_metric(name="InputBytes", unit=MetricUnit.Bytes, value=input_bytes)


def record_rejected(code: str, message: str, **context: object) -> None:
    """Log and count an input that was refused (a permanent, user-caused failure)."""
    metrics.add_metric(name="InputsRejected", unit=MetricUnit.Count, value=1)
    logger.warning("input rejected", extra={"error_code": code, "error_message": message, **context})
