//! Spec-scoped templates: an embedded template that differs from the registered one runs under a scoped identifier,
//! and so does every sub-workflow that runs it; identical and unregistered templates keep theirs.

use super::*;
use crate::model::{ArrayNode, BranchNode, ElseArm, NodeTarget, ResourceKind, SuccessCriteria};

/// A digest that names a template by its identifier and interface, enough to tell the tests' templates apart.
fn digest(template: EmbeddedTemplate<'_>) -> String {
    let text = match template {
        EmbeddedTemplate::Task(task) => format!("{:?}", task),
        EmbeddedTemplate::Workflow(workflow) => format!("{:?}", workflow),
    };
    let sum = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    format!("{sum:016x}")
}

fn sub_node(node_id: &str, workflow: &str) -> Node {
    Node {
        target: NodeTarget::SubWorkflow(id(workflow)),
        ..Node::task(node_id, id("unused"), vec![])
    }
}

fn target(node: &Node) -> &Identifier {
    match &node.target {
        NodeTarget::Task(id) | NodeTarget::SubWorkflow(id) | NodeTarget::LaunchPlan(id) => id,
        other => panic!("node {} is a {}", node.id, other.kind_name()),
    }
}

#[test]
fn a_differing_embedded_task_runs_under_a_scoped_version_and_compiles() {
    // The registered `double` takes an integer; the embedded one a string. Each node kind that names a task is
    // renamed: a task node, a branch arm and an array's element.
    let mut branch = task_node("b", "noop", vec![]);
    branch.target = NodeTarget::Branch(BranchNode {
        cases: Vec::new(),
        otherwise: Some(ElseArm::Node(Box::new(task_node(
            "arm",
            "double",
            vec![bind("x", string("s"))],
        )))),
    });
    let mut array = task_node("a", "noop", vec![]);
    array.target = NodeTarget::Array(ArrayNode {
        node: Box::new(task_node("el", "double", vec![])),
        parallelism: None,
        success: SuccessCriteria::All,
    });
    array.inputs = vec![bind("x", BindingData::Collection(vec![string("s")]))];
    let mut spec = spec_of(vec![
        task_node("n1", "double", vec![bind("x", string("s"))]),
        branch,
        array,
    ]);
    spec.tasks = vec![task("double", &[("x", LiteralType::String)], &[])];
    let scoped = scope_embedded(&mut spec, &registry(), &digest);
    assert_eq!(scoped.len(), 1, "{scoped:?}");
    let new = &scoped[0].scoped;
    assert_eq!(scoped[0].registered, id("double"));
    assert!(
        new.version.starts_with("v1~spec-") && is_scoped_version(&new.version),
        "{new}"
    );
    assert_eq!(spec.tasks[0].id, *new);
    assert_eq!(target(&spec.nodes[0]), new);
    let NodeTarget::Branch(branch) = &spec.nodes[1].target else {
        unreachable!()
    };
    let Some(ElseArm::Node(arm)) = &branch.otherwise else {
        unreachable!()
    };
    assert_eq!(target(arm), new);
    let NodeTarget::Array(array) = &spec.nodes[2].target else {
        unreachable!()
    };
    assert_eq!(target(&array.node), new);
    // The branch has no condition to compile; the rest compiles against the scoped template.
    spec.nodes.remove(1);
    let compiled = compile_dynamic(&spec, &seed_parent(), &registry());
    assert!(compiled.is_ok(), "{:?}", compiled.err());
}

#[test]
fn identical_and_unregistered_templates_keep_their_identifiers() {
    let mut spec = spec_of(vec![
        task_node("n1", "double", vec![bind("x", int(1))]),
        task_node("n2", "fresh", vec![]),
    ]);
    spec.tasks = vec![
        task("double", &[("x", LiteralType::Integer)], &[("y", LiteralType::Integer)]),
        task("fresh", &[], &[]),
    ];
    let before = spec.clone();
    assert!(scope_embedded(&mut spec, &registry(), &digest).is_empty());
    assert_eq!(spec, before);
}

#[test]
fn the_same_contents_get_the_same_scoped_identifier_and_other_contents_another() {
    let scoped_with = |input: LiteralType| {
        let mut spec = spec_of(vec![task_node("n1", "double", vec![])]);
        spec.tasks = vec![task("double", &[("x", input)], &[])];
        scope_embedded(&mut spec, &registry(), &digest).remove(0).scoped
    };
    assert_eq!(scoped_with(LiteralType::String), scoped_with(LiteralType::String));
    assert_ne!(scoped_with(LiteralType::String), scoped_with(LiteralType::Boolean));
}

#[test]
fn sub_workflows_that_run_a_scoped_template_are_scoped_after_it() {
    // `outer` runs `inner`, which runs `double`. Both workflows are registered as they are embedded; only the
    // embedded `double` differs. So `inner` differs (it names the scoped task), and `outer` in turn.
    let inner = workflow(
        "inner",
        interface(&[], &[]),
        vec![task_node("t", "double", vec![])],
        vec![],
    );
    let outer = workflow("outer", interface(&[], &[]), vec![sub_node("s", "inner")], vec![]);
    let mut registered = registry();
    registered.add_workflow(inner.clone()).add_workflow(outer.clone());
    let mut spec = spec_of(vec![sub_node("top", "outer"), sub_node("direct", "inner")]);
    spec.tasks = vec![task("double", &[("x", LiteralType::String)], &[])];
    // Listed before what it runs, so naming in order of appearance would digest `outer` too early.
    spec.subworkflows = vec![outer, inner];
    let scoped = scope_embedded(&mut spec, &registered, &digest);
    let kinds: Vec<_> = scoped.iter().map(|s| (s.kind, s.registered.name.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (ResourceKind::Task, "double"),
            (ResourceKind::Workflow, "inner"),
            (ResourceKind::Workflow, "outer")
        ]
    );
    let [outer, inner] = &spec.subworkflows[..] else {
        unreachable!()
    };
    assert_eq!(target(&inner.nodes[0]), &scoped[0].scoped);
    assert_eq!(inner.id, scoped[1].scoped);
    assert_eq!(target(&outer.nodes[0]), &scoped[1].scoped);
    assert_eq!(outer.id, scoped[2].scoped);
    assert_eq!(target(&spec.nodes[0]), &scoped[2].scoped);
    assert_eq!(target(&spec.nodes[1]), &scoped[1].scoped);
    // `outer`'s digest covers the scoped name of `inner` it holds (and its own identifier as embedded).
    let as_embedded = WorkflowTemplate {
        id: id("outer"),
        ..outer.clone()
    };
    let expected = format!("v1{SCOPE_MARK}{}", digest(EmbeddedTemplate::Workflow(&as_embedded)));
    assert_eq!(scoped[2].scoped.version, expected);
}

#[test]
fn scoped_versions_are_recognised_exactly() {
    assert!(is_scoped_version("v1~spec-0123456789abcdef"));
    assert!(is_scoped_version("v1~spec-0123456789abcdef~spec-fedcba9876543210"));
    assert!(!is_scoped_version("v1"));
    assert!(!is_scoped_version("v1~spec-0123456789ABCDEF"));
    assert!(!is_scoped_version("v1~spec-0123"));
    assert!(!is_scoped_version("v1~spec-0123456789abcdef0"));
}
