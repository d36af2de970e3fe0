"""cache_version: a second run with the same inputs is served from the cache; the generator does not run again."""

from __future__ import annotations

import uuid

import tasks
from gantry.v1 import execution_pb2


def test_the_template_asks_for_caching():
    metadata = tasks.cached_fan_out.template.metadata
    assert metadata.cache and metadata.cache_version == "1"


def test_a_second_run_hits_the_cache(client):
    salt = uuid.uuid4().hex
    first = client.run(tasks.cached_fan_out, count=3, salt=salt)
    assert first.result(timeout=60) == [1, 2, 3]
    (first_node,) = first.nodes()
    assert first_node.cache_status == execution_pb2.CACHE_STATUS_POPULATED

    second = client.run(tasks.cached_fan_out, count=3, salt=salt)
    assert second.result(timeout=60) == [1, 2, 3]
    (second_node,) = second.nodes()
    assert second_node.cache_status == execution_pb2.CACHE_STATUS_HIT
    # Neither the generator nor any child ran again.
    assert tasks.GENERATOR_RUNS[salt] == 1
    assert second.nodes(parent=second_node.node_id) == []

    # Other inputs are another key.
    third = client.run(tasks.cached_fan_out, count=2, salt=salt)
    assert third.result(timeout=60) == [1, 2]
    assert tasks.GENERATOR_RUNS[salt] == 2
