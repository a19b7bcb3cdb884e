"""Named spans around the core's open/read/encode steps, reported to whoever listens.

The core stays free of tracing SDKs: the Lambda adapters plug in X-Ray subsegments, a benchmark
plugs in nothing.
"""

from contextlib import AbstractContextManager, nullcontext
from typing import Callable

SpanFactory = Callable[[str], AbstractContextManager]

_factory: SpanFactory = lambda name: nullcontext()  # noqa: E731


def set_span_factory(factory: SpanFactory) -> None:
    """Route every core span to `factory(name)` (e.g. `tracer.provider.in_subsegment`)."""
    global _factory
    _factory = factory


def span(name: str) -> AbstractContextManager:
    """A context manager that times one step of the core."""
    return _factory(name)
