"""flytekit features inside dynamics, run on Gantry with the outputs `pyflyte run` gives (expected.py): a nested
dynamic with overrides, a sub-workflow and a launch plan; a conditional on a promise (both arms); map_task, also of
a functools.partial with overrides; a dataclass read by attribute, an enum, Optional/Union, FlyteFile,
FlyteDirectory and a dict between children; a StructuredDataset between children; and all of them in one workflow."""

from __future__ import annotations

from gantry.v1 import execution_pb2

from expected import EXPECTED
from helpers import all_nodes, outputs, run


def values(result: dict) -> list:
    return [result[f"o{i}"] for i in range(len(result))]


def ran_tasks(client, execution) -> list[str]:
    """The tasks whose nodes ran (an arm not taken is listed too, as skipped)."""
    return [
        n.target.name
        for n in all_nodes(client, execution)
        if n.kind == execution_pb2.NODE_KIND_TASK and n.phase == execution_pb2.NODE_PHASE_SUCCEEDED
    ]


def test_nested_dynamic_with_a_sub_workflow_and_a_launch_plan(client):
    execution = run(client, "features_flyte.dyn_nested", n=3)
    assert values(outputs(execution)) == EXPECTED["nested_3"]
    kinds = {n.kind for n in all_nodes(client, execution)}
    assert {execution_pb2.NODE_KIND_SUB_WORKFLOW, execution_pb2.NODE_KIND_LAUNCH_PLAN} <= kinds


def test_conditional_then_arm(client):
    execution = run(client, "features_flyte.dyn_branch", n=3)
    assert outputs(execution) == {"o0": EXPECTED["branch_3"]}
    assert "features_flyte.double" not in ran_tasks(client, execution)


def test_conditional_else_arm(client):
    execution = run(client, "features_flyte.dyn_branch", n=4)
    assert outputs(execution) == {"o0": EXPECTED["branch_4"]}
    assert "features_flyte.double" in ran_tasks(client, execution)


def test_map_task(client):
    execution = run(client, "features_flyte.dyn_map", n=3)
    assert outputs(execution) == {"o0": EXPECTED["map_3"]}
    assert any(n.kind == execution_pb2.NODE_KIND_ARRAY for n in all_nodes(client, execution))


def test_map_task_of_a_partial_with_overrides(client):
    execution = run(client, "features_flyte.dyn_map_partial", n=3)
    assert outputs(execution) == {"o0": EXPECTED["map_partial_3"]}


def test_map_task_with_a_success_ratio_gives_none_for_failed_elements(client):
    execution = run(client, "features_flyte.dyn_map_ratio", n=4)
    assert outputs(execution) == {"o0": EXPECTED["map_ratio_4"]}
    failed = [n for n in all_nodes(client, execution) if n.phase == execution_pb2.NODE_PHASE_FAILED]
    assert len(failed) == 2 and all(n.attempts == 1 for n in failed)


def test_dataclass_enum_union_files_and_dict(client):
    execution = run(client, "features_flyte.dyn_types", n=3)
    assert values(outputs(execution)) == EXPECTED["types_3"]


def test_file_and_directory_inside_a_dataclass(client):
    execution = run(client, "features_flyte.dyn_file_in_dataclass", n=3)
    assert outputs(execution) == {"o0": EXPECTED["file_in_dataclass_3"]}


def test_structured_dataset_between_children(client):
    execution = run(client, "features_flyte.dyn_frames", n=3)
    assert outputs(execution) == {"o0": EXPECTED["frames_3"]}


def test_all_in_one_workflow(client):
    execution = run(client, "features_flyte.all_wf", kind="workflow", n=3)
    expected = [
        *EXPECTED["nested_3"],
        EXPECTED["branch_3"],
        EXPECTED["map_3"],
        EXPECTED["map_partial_3"],
        *EXPECTED["types_3"],
        EXPECTED["frames_3"],
    ]
    assert values(outputs(execution)) == expected
