"""What the bridge cannot carry fails clearly: at registration (a map over a launch plan in a workflow: the command
exits 1 naming the construct and the workflow), or at run time (the same yielded by a dynamic: the attempt fails as a
non-recoverable user error naming the construct and the node, not retried)."""

from __future__ import annotations

import pytest

import gantry
from gantry.v1 import execution_pb2

from conftest import DOMAIN, PROJECT, gantry_flyte
from helpers import TIMEOUT, all_nodes, run


def test_registration_refuses_a_map_over_a_launch_plan(server):
    result = gantry_flyte(
        "register",
        "unsupported_flyte",
        "--server",
        server,
        "--project",
        PROJECT,
        "--domain",
        DOMAIN,
        "--version",
        "v1-unsupported",
    )
    assert result.returncode == 1
    assert "workflow unsupported_flyte.mapped_wf" in result.stderr
    assert "a map over a launch plan" in result.stderr


def test_a_dynamic_yielding_a_map_over_a_launch_plan_fails_without_retries(client):
    execution = run(client, "features_flyte.dyn_map_lp", n=2)
    with pytest.raises(gantry.ExecutionFailed) as raised:
        execution.result(timeout=TIMEOUT)
    error = raised.value.error
    assert error.kind == execution_pb2.ERROR_KIND_USER and not error.recoverable
    assert error.code == "FlyteBridgeConversion"
    assert "a map over a launch plan" in error.message and "node dn" in error.message
    (node,) = all_nodes(client, execution)
    assert node.attempts == 1 and node.phase == execution_pb2.NODE_PHASE_FAILED
