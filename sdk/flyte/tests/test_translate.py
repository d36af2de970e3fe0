"""The translator alone, without a server: literals survive Flyte -> Gantry -> Flyte with what flytekit needs back
(union tags, msgpack dataclasses with integers, StructuredDataset columns, blob types), and futures.pb shapes map
onto Gantry's (start-node, attribute paths, branch arms, map nodes, dropped min_successes, gate nodes). Unsupported
constructs raise with a message naming the construct and where it is."""

from __future__ import annotations

import datetime
import typing

import pytest
from flyteidl.core import condition_pb2 as fc
from flyteidl.core import dynamic_job_pb2 as fd
from flyteidl.core import errors_pb2 as fe
from flyteidl.core import execution_pb2 as fx
from flyteidl.core import identifier_pb2 as fi
from flyteidl.core import literals_pb2 as fl
from flyteidl.core import tasks_pb2 as ftk
from flyteidl.core import types_pb2 as ft
from flyteidl.core import workflow_pb2 as fw
from flytekit import FlyteContextManager
from flytekit.core.type_engine import TypeEngine

from gantry import TaskPlugin
from gantry.v1 import execution_pb2 as gx
from gantry.v1 import types_pb2 as gt

import features_flyte
from gantry_flyte import translate
from gantry_flyte.types import Unsupported, to_flyte_literal, to_gantry_literal, to_gantry_type


def flyte(value, python_type) -> tuple[fl.Literal, ft.LiteralType]:
    ctx = FlyteContextManager.current_context()
    literal_type = TypeEngine.to_literal_type(python_type)
    return TypeEngine.to_literal(ctx, value, python_type, literal_type).to_flyte_idl(), literal_type.to_flyte_idl()


def python(literal: fl.Literal, python_type):
    from flytekit.models.literals import Literal

    ctx = FlyteContextManager.current_context()
    return TypeEngine.to_python_value(ctx, Literal.from_flyte_idl(literal), python_type)


@pytest.mark.parametrize(
    "value, python_type",
    [
        (3, int),
        (2.5, float),
        ("text", str),
        (True, bool),
        (datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc), datetime.datetime),
        (datetime.timedelta(seconds=90), datetime.timedelta),
        ([1, 2, 3], list[int]),
        ({"a": 1, "b": 2}, dict[str, int]),
        (features_flyte.Color.GREEN, features_flyte.Color),
        (None, typing.Optional[int]),
        (4, typing.Optional[int]),
        ("u", typing.Union[int, str]),
        (7, typing.Union[int, str]),
        (features_flyte.Point(x=3, y=6), features_flyte.Point),
        ([features_flyte.Point(x=1, y=2)], list[features_flyte.Point]),
    ],
)
def test_literals_round_trip_to_what_flytekit_reads(value, python_type):
    literal, literal_type = flyte(value, python_type)
    gantry_literal = to_gantry_literal(literal, "test")
    back = to_flyte_literal(gantry_literal, literal_type, "test")
    restored = python(back, python_type)
    assert restored == value and type(restored) is type(value)


def test_union_tag_comes_from_the_consumer_type():
    literal, literal_type = flyte("u", typing.Union[int, str])
    back = to_flyte_literal(to_gantry_literal(literal, "test"), literal_type, "test")
    assert back.scalar.union.type.structure.tag == "str"


def test_dataclass_integers_come_back_as_integers():
    literal, literal_type = flyte(features_flyte.Point(x=3, y=6), features_flyte.Point)
    gantry_literal = to_gantry_literal(literal, "test")
    assert gantry_literal.struct_value["x"] == 3.0  # a Gantry struct holds doubles
    back = to_flyte_literal(gantry_literal, literal_type, "test")
    assert back.scalar.binary.tag == "msgpack"
    assert python(back, features_flyte.Point) == features_flyte.Point(x=3, y=6)


def test_structured_dataset_columns_come_from_the_consumer_type():
    sd_type = ft.LiteralType(
        structured_dataset_type=ft.StructuredDatasetType(
            columns=[ft.StructuredDatasetType.DatasetColumn(name="a", literal_type=ft.LiteralType(simple=ft.INTEGER))]
        )
    )
    literal = fl.Literal(
        scalar=fl.Scalar(
            structured_dataset=fl.StructuredDataset(
                uri="file:///raw/x",
                metadata=fl.StructuredDatasetMetadata(
                    structured_dataset_type=ft.StructuredDatasetType(format="parquet")
                ),
            )
        )
    )
    gantry_literal = to_gantry_literal(literal, "test")
    assert gantry_literal.blob.uri == "file:///raw/x" and gantry_literal.blob.format == "parquet"
    assert to_gantry_type(sd_type, "test").blob.dimensionality == gt.BLOB_DIMENSIONALITY_MULTIPART
    back = to_flyte_literal(gantry_literal, sd_type, "test")
    metadata = back.scalar.structured_dataset.metadata.structured_dataset_type
    assert [c.name for c in metadata.columns] == ["a"] and metadata.format == "parquet"


def test_blob_dimensionality_shifts():
    single = ft.LiteralType(blob=ft.BlobType(format="csv", dimensionality=ft.BlobType.SINGLE))
    assert to_gantry_type(single, "t").blob.dimensionality == gt.BLOB_DIMENSIONALITY_SINGLE
    multi = ft.LiteralType(blob=ft.BlobType(dimensionality=ft.BlobType.MULTIPART))
    assert to_gantry_type(multi, "t").blob.dimensionality == gt.BLOB_DIMENSIONALITY_MULTIPART


def test_a_type_gantry_lacks_is_named():
    with pytest.raises(Unsupported, match=r"task t input 'x'.*schema"):
        to_gantry_type(ft.LiteralType(schema=ft.SchemaType()), "task t input 'x'")


def test_union_variants_keep_their_tags():
    _, literal_type = flyte(7, typing.Union[int, str])
    assert [v.tag for v in to_gantry_type(literal_type, "t").union_type.variants] == ["int", "str"]


def test_error_values_travel_both_ways():
    literal = fl.Literal(scalar=fl.Scalar(error=ft.Error(failed_node_id="n1", message="boom")))
    gantry_literal = to_gantry_literal(literal, "test")
    assert (gantry_literal.error.failed_node_id, gantry_literal.error.message) == ("n1", "boom")
    assert to_gantry_type(ft.LiteralType(simple=ft.ERROR), "t").simple == gt.SIMPLE_TYPE_ERROR
    assert to_flyte_literal(gantry_literal, ft.LiteralType(simple=ft.ERROR), "test") == literal


def test_outputs_are_listed_in_numeric_order():
    variables = {f"o{i}": fx_variable() for i in (10, 2, 0, 1)}
    from flyteidl.core import interface_pb2 as ff

    listed = translate.variables(ff.VariableMap(variables=variables), "task t")
    assert [v.name for v in listed] == ["o0", "o1", "o2", "o10"]


def fx_variable():
    from flyteidl.core import interface_pb2 as ff

    return ff.Variable(type=ft.LiteralType(simple=ft.INTEGER))


def task_ref(name: str) -> fi.Identifier:
    return fi.Identifier(resource_type=fi.TASK, project="p", domain="d", name=name, version="v")


def promise(node_id: str, var: str, *path) -> fl.BindingData:
    steps = [
        ft.PromiseAttribute(string_value=p) if isinstance(p, str) else ft.PromiseAttribute(int_value=p) for p in path
    ]
    return fl.BindingData(promise=ft.OutputReference(node_id=node_id, var=var, attr_path=steps))


def test_promises_to_start_node_and_attribute_paths():
    node = fw.Node(
        id="dn0",
        inputs=[
            fl.Binding(var="a", binding=promise("start-node", "n")),
            fl.Binding(var="b", binding=promise("dn1", "o0", "x", 2)),
        ],
        upstream_node_ids=["start-node", "dn1"],
        task_node=fw.TaskNode(reference_id=task_ref("t")),
    )
    gantry = translate.node(node, "spec")
    a, b = gantry.inputs
    assert a.binding.promise.node_id == "" and a.binding.promise.output == "n"
    assert [s.WhichOneof("step") for s in b.binding.promise.attr_path] == ["key", "index"]
    assert list(gantry.upstream) == ["dn1"]


def test_branch_keeps_reused_arm_ids_and_dotted_inputs():
    then_node = fw.Node(
        id="dn0",
        inputs=[fl.Binding(var="x", binding=promise("dn0", "o0"))],
        upstream_node_ids=["dn0"],
        task_node=fw.TaskNode(reference_id=task_ref("square")),
    )
    else_node = fw.Node(
        id="dn1",
        inputs=[fl.Binding(var="x", binding=promise("dn0", "o0"))],
        upstream_node_ids=["dn0"],
        task_node=fw.TaskNode(reference_id=task_ref("double")),
    )
    condition = fc.BooleanExpression(
        comparison=fc.ComparisonExpression(
            operator=fc.ComparisonExpression.LT,
            left_value=fc.Operand(var="dn0.o0"),
            right_value=fc.Operand(primitive=fl.Primitive(integer=10)),
        )
    )
    node = fw.Node(
        id="dn1",
        inputs=[fl.Binding(var="dn0.o0", binding=promise("dn0", "o0"))],
        branch_node=fw.BranchNode(
            if_else=fw.IfElseBlock(case=fw.IfBlock(condition=condition, then_node=then_node), else_node=else_node)
        ),
    )
    gantry = translate.node(node, "spec")
    assert gantry.inputs[0].var == "dn0.o0"
    (case,) = gantry.branch.cases
    assert case.condition.comparison.left.var == "dn0.o0"
    assert case.condition.comparison.right.literal.integer == 10
    assert case.then_node.id == "dn0" and not case.then_node.upstream
    assert gantry.branch.else_node.id == "dn1"


def map_spec(ratio: float | None = 1.0, target: str = "task") -> fd.DynamicJobSpec:
    inner_id = "features_flyte.map_affine_23027eb447ba292f0c53951b63c9fb69-arraynode"
    bound = fl.Binding(var="a", binding=fl.BindingData(scalar=fl.Scalar(primitive=fl.Primitive(float_value=2.0))))
    items = fl.Binding(
        var="x",
        binding=fl.BindingData(
            collection=fl.BindingDataCollection(
                bindings=[fl.BindingData(scalar=fl.Scalar(primitive=fl.Primitive(integer=i))) for i in range(3)]
            )
        ),
    )
    inner = fw.Node(id=inner_id, inputs=[bound, items], metadata=fw.NodeMetadata(retries=fx_retries(1)))
    if target == "task":
        inner.task_node.reference_id.CopyFrom(task_ref(inner_id))
    else:
        inner.workflow_node.launchplan_ref.CopyFrom(task_ref("lp"))
    array = fw.ArrayNode(node=inner, bound_inputs=["a"])
    if ratio is not None:
        array.min_success_ratio = ratio
    outer = fw.Node(id="dn0", inputs=[bound, items], array_node=array)
    return fd.DynamicJobSpec(
        nodes=[outer], min_successes=1, outputs=[fl.Binding(var="o0", binding=promise("dn0", "o0"))]
    )


def fx_retries(n: int):
    from flyteidl.core import literals_pb2

    return literals_pb2.RetryStrategy(retries=n)


def test_map_node_moves_bound_inputs_inside_and_renames_the_element():
    spec = translate.dynamic_spec(map_spec(), "flyte", {}, "spec")
    assert not spec.HasField("min_successes")
    (outer,) = spec.nodes
    assert [b.var for b in outer.inputs] == ["x"]
    inner = outer.array.node
    assert translate.NODE_ID.match(inner.id)
    assert [b.var for b in inner.inputs] == ["a"]
    assert inner.overrides.retries.user_retries == 1 and inner.overrides.retries.system_retries == 3
    assert outer.array.WhichOneof("success") is None


def test_a_map_ratio_below_one_is_kept():
    (outer,) = translate.dynamic_spec(map_spec(0.5), "flyte", {}, "spec").nodes
    assert outer.array.min_success_ratio == 0.5


def test_map_over_a_launch_plan_is_refused_naming_the_node():
    with pytest.raises(Unsupported, match=r"node dn0: a map over a launch plan"):
        translate.dynamic_spec(map_spec(target="launch plan"), "flyte", {}, "spec")


def gate_node(node_id: str, gate: fw.GateNode, timeout_seconds: int = 3600, **fields) -> fw.Node:
    """A gate node as flytekit serializes one: a timeout (1 hour by default) and empty retries in its metadata."""
    metadata = fw.NodeMetadata(name=node_id, retries=fl.RetryStrategy())
    metadata.timeout.FromSeconds(timeout_seconds)
    return fw.Node(id=node_id, metadata=metadata, gate_node=gate, **fields)


def test_a_sleep_gate_keeps_its_duration_and_drops_the_node_timeout():
    duration = fw.SleepCondition()
    duration.duration.FromSeconds(5)
    translated = translate.node(gate_node("n0", fw.GateNode(sleep=duration)), "workflow wf")
    assert translated.WhichOneof("target") == "gate" and translated.gate.sleep.seconds == 5
    # flytekit gives every gate a timeout; Gantry refuses one on a sleep (its duration is its deadline).
    assert not translated.gate.HasField("timeout") and not translated.HasField("overrides")


def test_a_signal_gate_keeps_its_id_type_output_and_timeout():
    signal = fw.SignalCondition(signal_id="factor", type=ft.LiteralType(simple=ft.INTEGER), output_variable_name="o0")
    translated = translate.node(gate_node("n0", fw.GateNode(signal=signal), 600), "workflow wf")
    assert translated.gate.signal.signal_id == "factor" and translated.gate.signal.output_variable_name == "o0"
    assert translated.gate.signal.type == gt.LiteralType(simple=gt.SIMPLE_TYPE_INTEGER)
    assert translated.gate.timeout.seconds == 600 and not translated.HasField("overrides")


def test_an_approval_binds_its_input_and_waits_after_its_upstream():
    binding = fl.Binding(var="o0", binding=promise("n0", "o0"))
    approval = gate_node(
        "n1",
        fw.GateNode(approve=fw.ApproveCondition(signal_id="review")),
        inputs=[binding],
        upstream_node_ids=["n0"],
    )
    translated = translate.node(approval, "workflow wf")
    assert translated.gate.approve.signal_id == "review" and translated.gate.timeout.seconds == 3600
    assert [(b.var, b.binding.promise.node_id, b.binding.promise.output) for b in translated.inputs] == [
        ("o0", "n0", "o0")
    ]
    assert list(translated.upstream) == ["n0"]


def test_a_signal_id_gantry_cannot_hold_is_refused_naming_the_node():
    signal = fw.SignalCondition(
        signal_id="my signal", type=ft.LiteralType(simple=ft.INTEGER), output_variable_name="o0"
    )
    with pytest.raises(Unsupported, match=r"node n2: signal id 'my signal'"):
        translate.node(gate_node("n2", fw.GateNode(signal=signal)), "workflow wf")


def test_output_aliases_are_refused_naming_the_node():
    aliased = fw.Node(
        id="dn4", output_aliases=[fw.Alias(var="o0", alias="x")], task_node=fw.TaskNode(reference_id=task_ref("t"))
    )
    with pytest.raises(Unsupported, match=r"node dn4: output aliases"):
        translate.node(aliased, "spec")


def test_eager_tasks_are_refused_naming_the_task():
    template = ftk.TaskTemplate(
        id=task_ref("eager_one"),
        type="python-task",
        metadata=ftk.TaskMetadata(is_eager=True),
        container=ftk.Container(image="i"),
    )
    with pytest.raises(Unsupported, match=r"task eager_one: eager tasks"):
        translate.task_template(template, "flyte", {})


def test_task_template_keeps_the_flyte_template_and_maps_metadata():
    template = ftk.TaskTemplate(
        id=task_ref("t"),
        type="python-task",
        metadata=ftk.TaskMetadata(discoverable=True, discovery_version="2", retries=fx_retries(2)),
        container=ftk.Container(image="img", args=["pyflyte-execute", "--inputs", "{{.input}}"]),
    )
    gantry = translate.task_template(template, "flyte", {"k": "v"})
    assert gantry.plugin.type == "python-task"
    assert translate.flyte_template(TaskPlugin.of_template(gantry)) == template
    assert gantry.metadata.cache and gantry.metadata.cache_version == "2" and gantry.metadata.queue == "flyte"
    assert gantry.metadata.retries.user_retries == 2
    assert dict(gantry.plugin.config) == {"k": "v"}


def test_error_documents_map_origin_and_kind():
    user = fe.ErrorDocument(
        error=fe.ContainerError(
            code="USER:ValueError",
            message="boom",
            kind=fe.ContainerError.NON_RECOVERABLE,
            origin=fx.ExecutionError.USER,
        )
    )
    error = translate.execution_error(user)
    assert (error.kind, error.recoverable, error.code, error.message) == (
        gx.ERROR_KIND_USER,
        False,
        "USER:ValueError",
        "boom",
    )
    system = fe.ErrorDocument(
        error=fe.ContainerError(
            code="SYSTEM:Unknown", kind=fe.ContainerError.RECOVERABLE, origin=fx.ExecutionError.SYSTEM
        )
    )
    error = translate.execution_error(system)
    assert error.kind == gx.ERROR_KIND_SYSTEM and error.recoverable


def test_a_literal_hash_travels_both_ways():
    literal = fl.Literal(scalar=fl.Scalar(primitive=fl.Primitive(string_value="s3://x/file")), hash="abc123")
    gantry_literal = to_gantry_literal(literal, "test")
    assert gantry_literal.hash == "abc123"
    back = to_flyte_literal(gantry_literal, ft.LiteralType(simple=ft.STRING), "test")
    assert back.hash == "abc123"


def test_msgpack_bytes_are_refused_naming_the_value():
    import msgpack

    literal = fl.Literal(scalar=fl.Scalar(binary=fl.Binary(value=msgpack.packb({"raw": b"\x00"}), tag="msgpack")))
    with pytest.raises(Unsupported, match=r"task t output 'o0': a msgpack value"):
        to_gantry_literal(literal, "task t output 'o0'")


def test_node_overrides_of_caching_resources_and_image_are_carried():
    resources = ftk.Resources(
        requests=[ftk.Resources.ResourceEntry(name=ftk.Resources.CPU, value="2")],
        limits=[ftk.Resources.ResourceEntry(name=ftk.Resources.MEMORY, value="1Gi")],
    )
    flyte_node = fw.Node(
        id="dn0",
        metadata=fw.NodeMetadata(cacheable=True, cache_version="v2", cache_serializable=True),
        task_node=fw.TaskNode(
            reference_id=fi.Identifier(project="p", domain="d", name="t", version="v1"),
            overrides=fw.TaskNodeOverrides(resources=resources, container_image="registry/app:2"),
        ),
    )
    overrides = translate.node(flyte_node, "spec").overrides
    assert (overrides.cache.cache, overrides.cache.cache_version, overrides.cache.cache_serializable) == (
        True,
        "v2",
        True,
    )
    assert dict(overrides.resources.requests) == {"cpu": "2"}
    assert dict(overrides.resources.limits) == {"memory": "1Gi"}
    assert overrides.container_image == "registry/app:2"
    # A node that states none of them carries none.
    plain = fw.Node(id="dn1", task_node=fw.TaskNode(reference_id=flyte_node.task_node.reference_id))
    assert not translate.node(plain, "spec").HasField("overrides")
