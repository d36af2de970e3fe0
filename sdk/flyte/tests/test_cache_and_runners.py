"""A cached dynamic parent is served from the cache the second time (neither the generator nor any child runs); a
HashMethod's hash keeps a cached consumer hitting on a frame written again; a node's cache override caches a task;
registration is idempotent; the subprocess runner gives the same outputs as the fork runner (a map included) and its
attempts are killed as theirs are."""

from __future__ import annotations

import pytest

from gantry.v1 import execution_pb2

from conftest import SUBPROCESS_QUEUE, SUBPROCESS_VERSION, register, start_worker, stop
from expected import EXPECTED
from helpers import alive, all_nodes, ends_within, outputs, read_pids, run


def test_cache_hit_on_a_dynamic_parent(client):
    first = run(client, "features_flyte.cached_dyn", n=4)
    assert outputs(first) == {"o0": [0, 2, 4, 6]}
    (parent,) = [n for n in all_nodes(client, first) if not n.parent_node_id]
    assert parent.cache_status == execution_pb2.CACHE_STATUS_POPULATED and parent.attempts == 1
    assert len([n for n in all_nodes(client, first) if n.parent_node_id]) == 4

    second = run(client, "features_flyte.cached_dyn", n=4)
    assert outputs(second) == {"o0": [0, 2, 4, 6]}
    nodes = all_nodes(client, second)
    (parent,) = nodes
    assert parent.cache_status == execution_pb2.CACHE_STATUS_HIT
    assert parent.attempts == 0 and not parent.is_dynamic_parent


def test_a_hash_method_keeps_a_cached_consumer_hitting_on_a_new_frame(client):
    # `make_frame` writes its frame under a new URI each run; the consumer's cache key counts the frame's hash.
    first = run(client, "features_flyte.dyn_hashed", n=4)
    assert outputs(first) == {"o0": 6}
    second = run(client, "features_flyte.dyn_hashed", n=4)
    assert outputs(second) == {"o0": 6}
    by_task = {n.target.name: n for n in all_nodes(client, second) if n.parent_node_id}
    assert by_task["features_flyte.make_frame"].attempts == 1, "the producer runs again"
    consumer = by_task["features_flyte.frame_total"]
    assert consumer.cache_status == execution_pb2.CACHE_STATUS_HIT and consumer.attempts == 0


def test_a_node_cache_override_caches_an_uncached_task(client):
    first = run(client, "features_flyte.dyn_cache_override", n=5)
    assert outputs(first) == {"o0": 10}
    (child,) = [n for n in all_nodes(client, first) if n.parent_node_id]
    assert child.cache_status == execution_pb2.CACHE_STATUS_POPULATED
    assert "~spec-" in child.target.version, "the node runs its task's template with the override"
    second = run(client, "features_flyte.dyn_cache_override", n=5)
    assert outputs(second) == {"o0": 10}
    (child,) = [n for n in all_nodes(client, second) if n.parent_node_id]
    assert child.cache_status == execution_pb2.CACHE_STATUS_HIT and child.attempts == 0


def test_registering_again_changes_nothing(server, registered):
    assert "registered task seed_flyte.other_task" in registered.stdout
    again = register(server, "v1", "flyte")
    assert "registered" not in again.stdout.replace("already registered", "")
    assert "already registered task seed_flyte.other_task" in again.stdout
    assert "already registered launch plan seed_lp" in again.stdout


@pytest.fixture(scope="module")
def subprocess_worker(server, registered, logs_dir):
    register(server, SUBPROCESS_VERSION, SUBPROCESS_QUEUE)
    process = start_worker(
        server, logs_dir, "bridge-subprocess", "--queue", SUBPROCESS_QUEUE, "--slots", "2", "--runner", "subprocess"
    )
    yield process
    stop(process)


def test_the_subprocess_runner(client, subprocess_worker):
    execution = run(client, "seed_flyte.generate_others", version=SUBPROCESS_VERSION, tasks_count=2)
    assert outputs(execution) == {"o0": EXPECTED["seed_5"][:2]}
    assert len(all_nodes(client, execution)) == 3


def test_terminate_kills_a_subprocess_attempt(client, subprocess_worker, tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    execution = run(client, "features_flyte.sleeper", version=SUBPROCESS_VERSION, pid_file=str(pid_file))
    pids = read_pids(pid_file)
    assert all(alive(pid) for pid in pids)
    execution.terminate("the test is done with it")
    assert execution.wait(timeout=60).phase == execution_pb2.EXECUTION_PHASE_ABORTED
    for pid in pids:
        assert ends_within(pid, 15), f"process {pid} outlived the terminated execution"


def test_the_subprocess_runner_maps(client, subprocess_worker):
    execution = run(client, "features_flyte.dyn_map", version=SUBPROCESS_VERSION, n=2)
    assert outputs(execution) == {"o0": EXPECTED["map_3"][:2]}
