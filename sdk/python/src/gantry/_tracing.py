"""Traces, when `opentelemetry-api` is installed (the `otel` extra: `pip install gantry-sdk[otel]`): each attempt runs
in a span `attempt` whose parent is the W3C trace context its assignment carries (the span that submitted the
execution), with the attributes execution_id, node_id, attempt, task and outcome; and `Client.run` sends the current
span's context as `traceparent`/`tracestate` metadata, so that the execution joins the caller's trace. The spans go
wherever the application's tracer provider sends them. Without the package both do nothing.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

try:
    from opentelemetry import trace as _trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # the `otel` extra is not installed: no spans, no metadata
    _trace = None

_propagator = TraceContextTextMapPropagator() if _trace is not None else None
_HEADERS = ("traceparent", "tracestate")
_OUTCOMES = {"outputs": "succeeded", "dynamic_spec": "dynamic", "error": "failed"}


def outgoing_metadata() -> list[tuple[str, str]]:
    """The current span's context as gRPC metadata; empty without a current span or without OpenTelemetry."""
    if _propagator is None:
        return []
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return [(key, value) for key, value in carrier.items() if key in _HEADERS and value]


@contextlib.contextmanager
def attempt_span(assignment: Any, task_name: str) -> Iterator[Any]:
    """The attempt's span, current while the attempt runs (so that the task's own spans are its children); `None`
    without OpenTelemetry."""
    if _trace is None or _propagator is None:
        yield None
        return
    carrier = {key: getattr(assignment, key) for key in _HEADERS if getattr(assignment, key)}
    parent = _propagator.extract(carrier)
    ref = assignment.attempt
    attributes = {
        "execution_id": ref.execution_id,
        "node_id": ref.node_id,
        "attempt": ref.attempt,
        "task": task_name,
    }
    tracer = _trace.get_tracer("gantry")
    with tracer.start_as_current_span(
        "attempt", context=parent, kind=_trace.SpanKind.CONSUMER, attributes=attributes
    ) as span:
        yield span


def record_outcome(span: Any, completion: Any) -> None:
    """Puts the attempt's outcome (succeeded, dynamic, failed) on its span."""
    if span is None or _trace is None:
        return
    result = completion.WhichOneof("result")
    span.set_attribute("outcome", _OUTCOMES.get(result or "", "stopped"))
    if result == "error":
        span.set_status(_trace.Status(_trace.StatusCode.ERROR, completion.error.message))
