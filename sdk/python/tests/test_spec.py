"""Spec building offline: what a generator's yields and return value become (dynamic.proto / workflow.proto),
including launch-plan, sub-workflow and branch nodes."""

from __future__ import annotations

import pytest

import seed
import tasks
from gantry import branch, reference_launch_plan, reference_workflow, var
from gantry.dynamic import DynamicSpecError, build_spec
from gantry.task import dynamic_task, task
from gantry.v1 import workflow_pb2

launch_plan = reference_launch_plan("demo/dev/nightly@3", inputs={"day": str}, outputs={"report": str})
sub_workflow = reference_workflow("demo/dev/cleanup@1", inputs={"path": str}, outputs=["freed"])


@task(project="spec", domain="dev")
def small(n: int) -> str:
    return "small"


@task(project="spec", domain="dev")
def big(n: int) -> str:
    return "big"


@dynamic_task(project="spec", domain="dev")
def everything_kind(n: int) -> list[str]:
    plan = yield launch_plan(day="monday")
    cleanup = yield sub_workflow(path=plan.outputs.report)
    choice = yield branch(x=n, freed=cleanup.outputs.freed).if_(var("x") > 10, big(n=n)).else_(small(n=n))
    return [plan.outputs.report, choice.outputs.out, "literal"]


def test_launch_plan_sub_workflow_and_branch_nodes():
    spec = build_spec(everything_kind, {"n": 3})
    plan, cleanup, choice = spec.nodes
    assert plan.WhichOneof("target") == "launch_plan" and plan.launch_plan.name == "nightly"
    assert plan.inputs[0].binding.literal.string_value == "monday"
    assert cleanup.WhichOneof("target") == "sub_workflow" and cleanup.sub_workflow.name == "cleanup"
    assert cleanup.inputs[0].binding.promise == workflow_pb2.Promise(node_id="dn0", output="report")
    assert choice.WhichOneof("target") == "branch"
    (case,) = choice.branch.cases
    comparison = case.condition.comparison
    assert comparison.op == workflow_pb2.COMPARISON_OPERATOR_GT
    assert comparison.left.var == "x" and comparison.right.literal.integer == 10
    assert case.then_node.task.name == "big" and case.then_node.id == "dn2-if0"
    assert choice.branch.else_node.task.name == "small"
    assert {b.var for b in choice.inputs} == {"x", "freed"}
    # The arms' task templates ship with the spec; references do not.
    assert sorted(t.id.name for t in spec.tasks) == ["big", "small"]
    (out,) = spec.outputs
    items = out.binding.collection.bindings
    assert items[0].promise.node_id == "dn0" and items[1].promise.node_id == "dn2"
    assert items[2].literal.string_value == "literal"


def test_conditions_join_with_and_or():
    condition = (var("a") == 1) & ((var("b") < 2.5) | (var("c") != "x"))
    conjunction = condition.proto.conjunction
    assert conjunction.op == workflow_pb2.CONJUNCTION_OPERATOR_AND
    assert conjunction.right.conjunction.op == workflow_pb2.CONJUNCTION_OPERATOR_OR


def test_the_seed_spec_for_zero_tasks_is_an_empty_literal_list():
    spec = build_spec(seed.generate_others, {"tasks_count": 0})
    assert list(spec.nodes) == []
    (out,) = spec.outputs
    assert out.binding.WhichOneof("value") == "literal"
    assert list(out.binding.literal.collection.literals) == []


def test_promise_paths_index_and_key():
    @dynamic_task(project="spec", domain="dev")
    def pick(n: int) -> int:
        node = yield tasks.split_outputs(n=n)
        return node.outputs.evens[2]

    (out,) = build_spec(pick, {"n": 1}).outputs
    assert [step.index for step in out.binding.promise.attr_path] == [2]


def test_a_promise_of_a_node_never_yielded_is_refused():
    @dynamic_task(project="spec", domain="dev")
    def forgot(n: int) -> int:
        node = tasks.add_one(x=n)
        return node.outputs.out

    with pytest.raises(DynamicSpecError, match="never yielded"):
        build_spec(forgot, {"n": 1})


def test_calls_check_their_inputs():
    @dynamic_task(project="spec", domain="dev")
    def wrong(n: int) -> int:
        yield tasks.add_one(y=n)
        return 0

    with pytest.raises(TypeError, match="no input 'y'"):
        build_spec(wrong, {"n": 1})


def test_a_promise_has_no_value_while_the_generator_runs():
    @dynamic_task(project="spec", domain="dev")
    def peeks(n: int) -> int:
        node = yield tasks.add_one(x=n)
        if node.outputs.out:
            return 1
        return 0

    with pytest.raises(TypeError, match="no value"):
        build_spec(peeks, {"n": 1})


def test_tasks_run_locally_outside_a_generator():
    assert seed.other_task(index=21) == 42
    with pytest.raises(RuntimeError, match="dynamic task"):
        seed.generate_others(tasks_count=1)


def test_interfaces_come_from_type_hints():
    interface = tasks.total.template.interface
    assert [v.name for v in interface.inputs] == ["values", "bonus"]
    assert interface.inputs[1].default.integer == 0
    assert [v.name for v in interface.outputs] == ["out"]
    assert [v.name for v in seed.other_task.template.interface.outputs] == ["other_task_out"]
    assert [v.name for v in tasks.split_outputs.template.interface.outputs] == ["evens", "label"]
    assert seed.other_task.template.metadata.queue == "python"


def test_one_default_project_and_domain_everywhere():
    """A task that names no project lands where the Rust SDK's and the CLI's defaults do, so `gantry list` shows
    the executions a Python client starts."""
    import re
    from pathlib import Path

    import gantry

    @task
    def anywhere(n: int) -> int:
        return n

    assert (anywhere.id.project, anywhere.id.domain) == (gantry.DEFAULT_PROJECT, gantry.DEFAULT_DOMAIN)
    rust = Path(__file__).resolve().parents[3] / "crates" / "gantry-worker" / "src" / "lib.rs"
    if not rust.exists():
        pytest.skip("not in the repository")
    text = rust.read_text()
    assert re.search(r'DEFAULT_PROJECT: &str = "([^"]+)"', text).group(1) == gantry.DEFAULT_PROJECT
    assert re.search(r'DEFAULT_DOMAIN: &str = "([^"]+)"', text).group(1) == gantry.DEFAULT_DOMAIN
