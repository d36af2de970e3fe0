"""Traces with OpenTelemetry installed (the SDK's `otel` extra): `Client.run` inside a span sends its context, the
server stores it with the execution and hands it to the workers, and the Python worker runs each attempt in a span
parented by it, so that every attempt joins the trace the submission started."""

from __future__ import annotations

import pytest

import seed

trace = pytest.importorskip("opentelemetry.trace", reason="opentelemetry-api is in the SDK's test extra")
sdk_trace = pytest.importorskip("opentelemetry.sdk.trace")
in_memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")
export = pytest.importorskip("opentelemetry.sdk.trace.export")


@pytest.fixture(scope="module")
def spans():
    """The spans this process ends, kept in memory (the global tracer provider can be set once per process)."""
    exporter = in_memory.InMemorySpanExporter()
    provider = sdk_trace.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    yield exporter
    provider.shutdown()


def test_attempts_join_the_trace_the_submission_started(client, spans):
    tracer = trace.get_tracer("gantry-tests")
    with tracer.start_as_current_span("submit") as submit:
        execution = client.run(seed.generate_others, tasks_count=3, overwrite_cache=True)
    assert execution.result(timeout=60) == [0, 2, 4]
    submitted = submit.get_span_context()

    attempts = [
        span
        for span in spans.get_finished_spans()
        if span.name == "attempt" and span.attributes.get("execution_id") == execution.id
    ]
    by_task = sorted((span.attributes["task"], span.attributes["node_id"]) for span in attempts)
    assert [task for task, _ in by_task] == ["py_generate_others"] + ["py_other_task"] * 3, by_task
    (top,) = [node for task, node in by_task if task == "py_generate_others"]
    assert sorted(node for task, node in by_task if task == "py_other_task") == [f"{top}/0/dn{i}" for i in range(3)]
    for span in attempts:
        assert span.context.trace_id == submitted.trace_id, span
        # The server exports no spans here: the stored context is the client's own span.
        assert span.parent is not None and span.parent.span_id == submitted.span_id, span
        assert span.kind == trace.SpanKind.CONSUMER
        assert span.attributes["attempt"] == 0
    outcomes = sorted(span.attributes["outcome"] for span in attempts)
    assert outcomes == ["dynamic", "succeeded", "succeeded", "succeeded"]


def test_without_a_current_span_attempts_start_their_own_traces(client, spans):
    execution = client.run(seed.generate_others, tasks_count=1, overwrite_cache=True)
    assert execution.result(timeout=60) == [0]
    attempts = [
        span
        for span in spans.get_finished_spans()
        if span.name == "attempt" and span.attributes.get("execution_id") == execution.id
    ]
    assert len(attempts) == 2
    assert all(span.parent is None for span in attempts)
