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

fn overrides_image(image: &str) -> crate::model::NodeOverrides {
    crate::model::OverrideSet {
        container_image: Some(image.to_owned()),
        retries: Some(Default::default()),
        ..Default::default()
    }
    .into()
}

#[test]
fn nodes_that_override_their_template_run_a_derived_one() {
    let registered = registry();
    let resolve = |id: &Identifier| registered.task(id);
    let mut plain = task_node("plain", "double", vec![bind("x", int(1))]);
    plain.overrides.timeout = Some(crate::model::Duration::from_secs(5));
    let mut imaged = task_node("imaged", "double", vec![bind("x", int(1))]);
    imaged.overrides = overrides_image("registry/app:2");
    let mut again = imaged.clone();
    again.id = "again".to_owned();
    let mut cached = task_node("cached", "double", vec![bind("x", int(1))]);
    cached.overrides.cache = Some(crate::model::CacheOverride {
        cache: true,
        cache_version: "7".to_owned(),
        cache_serializable: false,
    });
    let mut array = task_node("a", "noop", vec![]);
    array.target = NodeTarget::Array(ArrayNode {
        node: Box::new(imaged.clone()),
        parallelism: None,
        success: SuccessCriteria::All,
    });
    let mut nodes = vec![plain.clone(), imaged, again, cached, array];
    let derived = derive_overridden(&mut nodes, &resolve, &digest);

    assert_eq!(nodes[0], plain, "retries and timeout need no template of their own");
    let image_id = target(&nodes[1]).clone();
    assert!(is_scoped_version(&image_id.version), "{image_id}");
    assert_eq!(
        target(&nodes[2]),
        &image_id,
        "the same overrides of the same task derive the same template"
    );
    let NodeTarget::Array(array) = &nodes[4].target else {
        unreachable!()
    };
    assert_eq!(target(&array.node), &image_id, "an array's element too");
    assert_eq!(
        nodes[1].overrides,
        crate::model::OverrideSet {
            retries: Some(Default::default()),
            ..Default::default()
        }
        .into()
    );
    let by_id = |id: &Identifier| derived.iter().find(|(_, t)| t.id == *id).map(|(from, t)| (from, t));
    let (from, image_task) = by_id(&image_id).expect("derived");
    assert_eq!(*from, id("double"));
    assert_eq!(
        image_task.container.as_ref().map(|c| c.image.as_str()),
        Some("registry/app:2")
    );
    assert_eq!(
        image_task.interface,
        registered.task(&id("double")).expect("registered").interface
    );
    let cache_task = by_id(target(&nodes[3])).expect("derived").1;
    assert!(cache_task.metadata.cache && cache_task.metadata.cache_version == "7");
    assert_ne!(target(&nodes[3]), &image_id);

    // Overrides that restate the task's own settings change nothing but the node, which no longer holds them.
    let mut restated = vec![task_node("r", "double", vec![])];
    restated[0].overrides.cache = Some(crate::model::CacheOverride::default());
    assert!(derive_overridden(&mut restated, &resolve, &digest).is_empty());
    assert_eq!(target(&restated[0]), &id("double"));
    assert!(!restated[0].overrides.changes_template());

    // A task nobody knows is left for the compiler.
    let mut unknown = vec![task_node("u", "missing", vec![])];
    unknown[0].overrides = overrides_image("x");
    assert!(derive_overridden(&mut unknown, &resolve, &digest).is_empty());
    assert_eq!(target(&unknown[0]), &id("missing"));
}

#[test]
fn a_spec_embeds_its_derived_templates_and_compiles() {
    let mut node = task_node("n1", "double", vec![bind("x", int(1))]);
    node.overrides = overrides_image("registry/app:2");
    let mut spec = spec_of(vec![node]);
    let scoped = scope_spec(&mut spec, &registry(), &digest);
    assert_eq!(scoped.len(), 1);
    assert_eq!(spec.tasks.len(), 1);
    assert_eq!(spec.tasks[0].id, scoped[0].scoped);
    assert_eq!(target(&spec.nodes[0]), &scoped[0].scoped);
    let compiled = compile_dynamic(&spec, &seed_parent(), &registry());
    assert!(compiled.is_ok(), "{:?}", compiled.err());
}
