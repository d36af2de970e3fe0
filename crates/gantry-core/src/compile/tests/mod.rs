//! Tests of the compiler: one per error code (`errors`), compiled shapes (`graphs`, `targets`), properties of random
//! graphs (`proptests`) and a spec of 100,000 nodes (`scale`).

mod errors;
mod gates;
mod graphs;
mod proptests;
mod scale;
mod scope;
mod targets;

use super::*;
use crate::model::{
    Binding, BindingData, Identifier, Literal, LiteralType, Node, Promise, TaskMetadata, TaskTemplate, TypedInterface,
    Variable, WorkflowTemplate,
};

pub(super) fn id(name: &str) -> Identifier {
    Identifier::new("proj", "dev", name, "v1")
}

pub(super) fn vars(pairs: &[(&str, LiteralType)]) -> Vec<Variable> {
    pairs
        .iter()
        .map(|(name, ty)| Variable::new(*name, ty.clone()))
        .collect()
}

pub(super) fn interface(inputs: &[(&str, LiteralType)], outputs: &[(&str, LiteralType)]) -> TypedInterface {
    TypedInterface {
        inputs: vars(inputs),
        outputs: vars(outputs),
    }
}

pub(super) fn task(name: &str, inputs: &[(&str, LiteralType)], outputs: &[(&str, LiteralType)]) -> TaskTemplate {
    TaskTemplate {
        id: id(name),
        interface: interface(inputs, outputs),
        metadata: TaskMetadata::default(),
        container: None,
        plugin: None,
    }
}

pub(super) fn workflow(
    name: &str,
    interface: TypedInterface,
    nodes: Vec<Node>,
    outputs: Vec<Binding>,
) -> WorkflowTemplate {
    WorkflowTemplate {
        id: id(name),
        interface,
        nodes,
        outputs,
        failure_policy: Default::default(),
    }
}

/// Registered tasks the tests share.
pub(super) fn registry() -> Registry {
    use LiteralType::{Integer, String};
    let mut registry = Registry::new();
    let mut concat = task("concat", &[("a", String), ("b", String)], &[("s", String)]);
    concat.interface.inputs[1].default = Some(Literal::String(std::string::String::new()));
    registry
        .add_task(task("double", &[("x", Integer)], &[("y", Integer)]))
        .add_task(task(
            "other_task",
            &[("index", Integer)],
            &[("other_task_out", Integer)],
        ))
        .add_task(concat)
        .add_task(task("gen_list", &[], &[("xs", LiteralType::collection(Integer))]))
        .add_task(task(
            "sum",
            &[("xs", LiteralType::collection(Integer))],
            &[("total", Integer)],
        ))
        .add_task(task("to_str", &[("x", Integer)], &[("y", String)]))
        .add_task(task("noop", &[], &[]));
    registry
}

pub(super) fn int(value: i64) -> BindingData {
    BindingData::Literal(Literal::Integer(value))
}

pub(super) fn string(value: &str) -> BindingData {
    BindingData::Literal(Literal::String(value.to_owned()))
}

pub(super) fn promise(node: &str, output: &str) -> BindingData {
    BindingData::Promise(Promise::new(node, output))
}

pub(super) fn bind(var: &str, data: BindingData) -> Binding {
    Binding::new(var, data)
}

pub(super) fn task_node(node_id: &str, task_name: &str, inputs: Vec<Binding>) -> Node {
    Node::task(node_id, id(task_name), inputs)
}

/// The seed's `generate_others` parent: `tasks_count: integer -> out: list<integer>`.
pub(super) fn seed_parent() -> TypedInterface {
    interface(
        &[("tasks_count", LiteralType::Integer)],
        &[("out", LiteralType::collection(LiteralType::Integer))],
    )
}

/// The spec the seed's generator yields for `tasks_count`: `dn{i} = other_task(index=i)`, `out = [dn{i}.out...]`.
pub(super) fn seed_spec(tasks_count: usize) -> DynamicJobSpec {
    let nodes = (0..tasks_count)
        .map(|i| task_node(&format!("dn{i}"), "other_task", vec![bind("index", int(i as i64))]))
        .collect();
    let outputs = vec![bind(
        "out",
        BindingData::Collection(
            (0..tasks_count)
                .map(|i| promise(&format!("dn{i}"), "other_task_out"))
                .collect(),
        ),
    )];
    DynamicJobSpec {
        nodes,
        outputs,
        ..DynamicJobSpec::default()
    }
}

/// The errors of a compilation that must fail.
pub(super) fn expect_errors(result: Result<CompiledGraph, CompileErrors>) -> Vec<CompileError> {
    match result {
        Ok(graph) => panic!("expected compile errors, got a graph of {} nodes", graph.nodes.len()),
        Err(errors) => {
            assert!(!errors.0.is_empty());
            errors.0
        }
    }
}

/// The graph of a compilation that must succeed.
pub(super) fn expect_graph(result: Result<CompiledGraph, CompileErrors>) -> CompiledGraph {
    match result {
        Ok(graph) => graph,
        Err(errors) => panic!("expected a graph, got: {errors}"),
    }
}

/// Asserts that an error with `code` was reported for `node_id` and `input`, and returns it.
pub(super) fn find<'e>(
    errors: &'e [CompileError],
    code: CompileErrorCode,
    node_id: &str,
    input: &str,
) -> &'e CompileError {
    errors
        .iter()
        .find(|e| e.code == code && e.node_id == node_id && e.input == input)
        .unwrap_or_else(|| panic!("no {code} error at node {node_id:?} input {input:?} in {errors:#?}"))
}

/// A dynamic spec of the given nodes for the seed's parent, whose `out` binds to the empty list.
pub(super) fn spec_of(nodes: Vec<Node>) -> DynamicJobSpec {
    DynamicJobSpec {
        nodes,
        outputs: vec![bind("out", BindingData::Collection(Vec::new()))],
        ..DynamicJobSpec::default()
    }
}

pub(super) fn compile_nodes(nodes: Vec<Node>) -> Result<CompiledGraph, CompileErrors> {
    compile_dynamic(&spec_of(nodes), &seed_parent(), &registry())
}
