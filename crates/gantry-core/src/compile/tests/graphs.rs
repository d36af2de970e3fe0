//! Specs that compile: the seed's dynamic task, parent inputs, embedded templates, explicit upstream ids and the
//! order they produce.

use std::sync::Arc;

use super::*;
use crate::model::{AttrStep, FailurePolicy, NodeOverrides, NodeTarget, StructType};

#[test]
fn the_seed_spec_compiles_to_independent_nodes() {
    let graph = expect_graph(compile_dynamic(&seed_spec(3), &seed_parent(), &registry()));
    assert_eq!(graph.nodes.len(), 3);
    assert_eq!(graph.order, vec![0, 1, 2]);
    assert_eq!(graph.roots().collect::<Vec<_>>(), vec![0, 1, 2]);
    assert_eq!(graph.source, GraphSource::Dynamic { min_successes: None });
    assert_eq!(graph.node_index("dn2"), Some(2));
    let node = graph.node("dn1").expect("dn1 exists");
    assert!(matches!(&node.target, CompiledTarget::Task(task) if task.id == id("other_task")));
    assert_eq!(
        node.interface.output("other_task_out").map(|v| &v.ty),
        Some(&LiteralType::Integer)
    );
    assert_eq!(graph.outputs.len(), 1);
}

#[test]
fn zero_nodes_with_plain_outputs_is_an_ordinary_dynamic_spec() {
    let literal_empty = DynamicJobSpec {
        outputs: vec![bind("out", BindingData::Literal(Literal::Collection(vec![])))],
        ..DynamicJobSpec::default()
    };
    let graph = expect_graph(compile_dynamic(&literal_empty, &seed_parent(), &registry()));
    assert!(graph.nodes.is_empty() && graph.order.is_empty());
    assert!(compile_dynamic(&seed_spec(0), &seed_parent(), &registry()).is_ok());
    let from_input = DynamicJobSpec {
        outputs: vec![bind("out", BindingData::Collection(vec![promise("", "tasks_count")]))],
        ..DynamicJobSpec::default()
    };
    assert!(compile_dynamic(&from_input, &seed_parent(), &registry()).is_ok());
}

#[test]
fn empty_node_ids_read_the_parent_inputs() {
    let spec = spec_of(vec![task_node(
        "dn0",
        "other_task",
        vec![bind("index", promise("", "tasks_count"))],
    )]);
    let graph = expect_graph(compile_dynamic(&spec, &seed_parent(), &registry()));
    assert!(graph.nodes[0].upstream.is_empty());
}

#[test]
fn embedded_tasks_shadow_registered_ones() {
    // The registered `double` takes an integer; the embedded one takes a string.
    let mut spec = spec_of(vec![task_node("n1", "double", vec![bind("x", string("s"))])]);
    spec.tasks = vec![task("double", &[("x", LiteralType::String)], &[])];
    assert!(compile_dynamic(&spec, &seed_parent(), &registry()).is_ok());
    spec.tasks.push(task("double", &[("x", LiteralType::String)], &[]));
    assert!(
        compile_dynamic(&spec, &seed_parent(), &registry()).is_ok(),
        "identical copies are fine"
    );
}

#[test]
fn upstream_comes_from_promises_and_explicit_ids_and_orders_the_graph() {
    let mut last = task_node(
        "c",
        "sum",
        vec![bind(
            "xs",
            BindingData::Collection(vec![promise("b", "y"), promise("b", "y")]),
        )],
    );
    last.upstream = vec!["a".into()];
    let nodes = vec![
        last,
        task_node("b", "double", vec![bind("x", promise("a", "y"))]),
        task_node("a", "double", vec![bind("x", int(1))]),
        task_node("free", "noop", vec![]),
    ];
    let graph = expect_graph(compile_nodes(nodes));
    assert_eq!(graph.nodes[0].upstream, vec![1, 2]);
    assert_eq!(graph.nodes[2].downstream, vec![0, 1]);
    assert_eq!(graph.order, vec![2, 1, 0, 3]);
}

#[test]
fn defaults_make_inputs_optional_and_promises_cast() {
    let nodes = vec![
        task_node("s", "to_str", vec![bind("x", int(1))]),
        task_node("c", "concat", vec![bind("a", promise("s", "y"))]),
    ];
    assert!(compile_nodes(nodes).is_ok());
}

#[test]
fn attribute_paths_type_promises() {
    let record = LiteralType::Struct(StructType {
        fields: [("count".to_owned(), LiteralType::Integer)].into(),
    });
    let mut spec = spec_of(vec![
        task_node("gen", "gen_list", vec![]),
        task_node(
            "first",
            "double",
            vec![bind(
                "x",
                BindingData::Promise(Promise {
                    attr_path: vec![AttrStep::Index(0)],
                    ..Promise::new("gen", "xs")
                }),
            )],
        ),
        task_node("rec", "make_record", vec![]),
        task_node(
            "count",
            "double",
            vec![bind(
                "x",
                BindingData::Promise(Promise {
                    attr_path: vec![AttrStep::Key("count".into())],
                    ..Promise::new("rec", "r")
                }),
            )],
        ),
        task_node(
            "loose",
            "double",
            vec![bind(
                "x",
                BindingData::Promise(Promise {
                    attr_path: vec![AttrStep::Key("anything".into()), AttrStep::Index(4)],
                    ..Promise::new("rec", "blob")
                }),
            )],
        ),
    ]);
    spec.tasks = vec![task(
        "make_record",
        &[],
        &[("r", record), ("blob", LiteralType::schemaless_struct())],
    )];
    let graph = expect_graph(compile_dynamic(&spec, &seed_parent(), &registry()));
    assert_eq!(graph.node("loose").map(|n| n.upstream.clone()), Some(vec![2]));
}

#[test]
fn collections_and_maps_of_bindings_are_checked_element_by_element() {
    let nodes = vec![
        task_node("a", "double", vec![bind("x", int(1))]),
        task_node("s", "to_str", vec![bind("x", int(1))]),
        task_node(
            "sum",
            "sum",
            vec![bind(
                "xs",
                BindingData::Collection(vec![promise("a", "y"), int(2), promise("s", "y")]),
            )],
        ),
    ];
    let errors = expect_errors(compile_nodes(nodes));
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        "node \"sum\" input \"xs\": expected integer, got string from s.y at [2]"
    );
    let map = BindingData::Map([("k".to_owned(), int(1))].into());
    let errors = expect_errors(compile_nodes(vec![task_node("sum", "sum", vec![bind("xs", map)])]));
    assert_eq!(errors[0].message, "expected list<integer>, got a map of bindings");
}

#[test]
fn unions_accept_collections_of_bindings_that_fit_a_variant() {
    let either = LiteralType::Union(vec![LiteralType::String, LiteralType::collection(LiteralType::Integer)]);
    let mut spec = spec_of(vec![
        task_node("a", "double", vec![bind("x", int(1))]),
        task_node(
            "u",
            "takes_union",
            vec![bind("v", BindingData::Collection(vec![promise("a", "y")]))],
        ),
    ]);
    spec.tasks = vec![task("takes_union", &[("v", either)], &[])];
    assert!(compile_dynamic(&spec, &seed_parent(), &registry()).is_ok());
    spec.nodes[1].inputs = vec![bind("v", BindingData::Collection(vec![string("x")]))];
    let errors = expect_errors(compile_dynamic(&spec, &seed_parent(), &registry()));
    assert_eq!(
        errors[0].message,
        "expected union<string | list<integer>>, got a collection of bindings"
    );
}

#[test]
fn workflows_keep_their_failure_policy_and_check_their_outputs() {
    let mut wf = workflow(
        "wf",
        interface(&[("n", LiteralType::Integer)], &[("doubled", LiteralType::Integer)]),
        vec![task_node("d", "double", vec![bind("x", promise("", "n"))])],
        vec![bind("doubled", promise("d", "y"))],
    );
    wf.failure_policy = FailurePolicy::FailAfterExecutableNodesComplete;
    let graph = expect_graph(compile_workflow(&wf, &registry()));
    assert_eq!(
        graph.source,
        GraphSource::Workflow {
            id: id("wf"),
            failure_policy: FailurePolicy::FailAfterExecutableNodesComplete
        }
    );
}

#[test]
fn sub_workflows_compile_once_and_expose_their_interface() {
    let inner = workflow(
        "inner",
        interface(&[("n", LiteralType::Integer)], &[("r", LiteralType::Integer)]),
        vec![task_node("d", "double", vec![bind("x", promise("", "n"))])],
        vec![bind("r", promise("d", "y"))],
    );
    let sub = |node_id: &str, input: BindingData| Node {
        id: node_id.to_owned(),
        inputs: vec![bind("n", input)],
        upstream: Vec::new(),
        target: NodeTarget::SubWorkflow(id("inner")),
        overrides: NodeOverrides::default(),
    };
    let mut spec = spec_of(vec![sub("sw1", int(1)), sub("sw2", promise("sw1", "r"))]);
    spec.subworkflows = vec![inner];
    let graph = expect_graph(compile_dynamic(&spec, &seed_parent(), &registry()));
    let (CompiledTarget::SubWorkflow { graph: first, .. }, CompiledTarget::SubWorkflow { graph: second, .. }) =
        (&graph.nodes[0].target, &graph.nodes[1].target)
    else {
        panic!("both nodes run the sub-workflow");
    };
    assert!(Arc::ptr_eq(first, second), "compiled once");
    assert_eq!(first.nodes.len(), 1);
    assert_eq!(graph.nodes[1].upstream, vec![0]);
}
