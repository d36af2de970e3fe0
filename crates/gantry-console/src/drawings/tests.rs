use super::*;

fn id(name: &str) -> pb::Identifier {
    pb::Identifier {
        project: "demo".to_owned(),
        domain: "dev".to_owned(),
        name: name.to_owned(),
        version: "1".to_owned(),
    }
}

fn promise(node: &str) -> pb::BindingData {
    pb::BindingData {
        value: Some(pb::binding_data::Value::Promise(pb::Promise {
            node_id: node.to_owned(),
            output: "o0".to_owned(),
            attr_path: Vec::new(),
        })),
    }
}

fn binding(var: &str, data: pb::BindingData) -> pb::Binding {
    pb::Binding {
        var: var.to_owned(),
        binding: Some(data),
    }
}

fn task_node(node_id: &str, task: &str, inputs: Vec<pb::Binding>) -> pb::Node {
    pb::Node {
        id: node_id.to_owned(),
        inputs,
        target: Some(pb::node::Target::Task(id(task))),
        ..Default::default()
    }
}

fn child(node_id: &str, phase: pb::NodePhase, started: Option<i64>, finished: Option<i64>) -> pb::NodeExecution {
    let at = |seconds| Timestamp {
        seconds,
        nanos: 500_000_000,
    };
    pb::NodeExecution {
        node_id: node_id.to_owned(),
        phase: phase as i32,
        started_at: started.map(at),
        finished_at: finished.map(at),
        ..Default::default()
    }
}

fn edge_pairs(graph: &Graph) -> Vec<(String, String)> {
    let mut pairs: Vec<_> = graph.edges.iter().map(|e| (e.from.clone(), e.to.clone())).collect();
    pairs.sort();
    pairs
}

#[test]
fn a_spec_draws_its_nodes_linked_phased_and_grouped_by_target() {
    let spec = pb::DynamicJobSpec {
        nodes: vec![
            task_node("dn0", "square", vec![binding("x", promise(""))]),
            task_node("dn1", "square", Vec::new()),
        ],
        ..Default::default()
    };
    let phases = HashMap::from([("dn0".to_owned(), "succeeded".to_owned())]);
    let graph = spec_graph(&spec, &phases, |local| format!("/n/{local}"));
    assert_eq!(graph.nodes.len(), 2);
    assert_eq!(graph.nodes[0].href.as_deref(), Some("/n/dn0"));
    assert_eq!(graph.nodes[0].phase, "succeeded");
    assert_eq!(graph.nodes[1].phase, UNKNOWN_PHASE);
    assert_eq!(graph.nodes[1].group.as_deref(), Some("task square@1"));
    assert_eq!(graph.nodes[1].detail.as_deref(), Some("square@1"));
    // A promise of the parent's inputs (empty node id) is no edge.
    assert!(graph.edges.is_empty());
}

#[test]
fn edges_come_from_promises_at_any_depth_and_from_upstream() {
    let nested = pb::BindingData {
        value: Some(pb::binding_data::Value::Collection(pb::BindingCollection {
            bindings: vec![
                promise("a"),
                pb::BindingData {
                    value: Some(pb::binding_data::Value::Map(pb::BindingMap {
                        bindings: [("k".to_owned(), promise("b"))].into(),
                    })),
                },
            ],
        })),
    };
    let mut c = task_node("c", "sum", vec![binding("xs", nested)]);
    c.upstream = vec!["d".to_owned(), "elsewhere".to_owned(), "c".to_owned()];
    let template = pb::WorkflowTemplate {
        nodes: vec![
            task_node("a", "square", Vec::new()),
            task_node("b", "square", Vec::new()),
            c,
            task_node("d", "square", Vec::new()),
        ],
        ..Default::default()
    };
    let graph = workflow_graph(&template, target_page);
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(edge_pairs(&graph), vec![pair("a", "c"), pair("b", "c"), pair("d", "c")]);
    assert_eq!(graph.nodes[0].phase, "task");
    assert_eq!(graph.nodes[0].href.as_deref(), Some("/tasks/demo/dev/square/1"));
}

#[test]
fn workflow_nodes_link_to_their_targets_registry_pages() {
    let node = |target| pb::Node {
        id: "n".to_owned(),
        target: Some(target),
        ..Default::default()
    };
    use pb::node::Target;
    assert_eq!(
        target_page(&node(Target::SubWorkflow(id("inner")))).as_deref(),
        Some("/workflows/demo/dev/inner/1")
    );
    assert_eq!(
        target_page(&node(Target::LaunchPlan(id("nightly")))).as_deref(),
        Some("/launch-plans/demo/dev/nightly/1")
    );
    let array = pb::ArrayNode {
        node: Some(Box::new(task_node("e", "square", Vec::new()))),
        ..Default::default()
    };
    let array_node = node(Target::Array(Box::new(array)));
    assert_eq!(target_page(&array_node).as_deref(), Some("/tasks/demo/dev/square/1"));
    let drawn = workflow_graph(
        &pb::WorkflowTemplate {
            nodes: vec![array_node, node(Target::Branch(Box::default()))],
            ..Default::default()
        },
        target_page,
    );
    assert_eq!(drawn.nodes[0].phase, "array");
    assert_eq!(drawn.nodes[0].detail.as_deref(), Some("square@1"));
    assert_eq!(drawn.nodes[1].phase, "branch");
    assert_eq!(drawn.nodes[1].href, None);
    assert_eq!(drawn.nodes[1].group, None);
}

#[test]
fn phases_are_taken_from_the_accepted_attempts_children_only() {
    let children = [
        child("gen/1/dn0", pb::NodePhase::Succeeded, None, None),
        child("gen/0/dn1", pb::NodePhase::Failed, None, None),
        child("gen/1/dn2/0/x", pb::NodePhase::Running, None, None),
    ];
    let phases = child_phases("gen", 1, &children);
    assert_eq!(phases.len(), 1);
    assert_eq!(phases.get("dn0").map(String::as_str), Some("succeeded"));
}

#[test]
fn started_children_become_runs_and_running_ones_stay_open() {
    let children = [
        child("gen/0/dn0", pb::NodePhase::Succeeded, Some(100), Some(102)),
        child("gen/0/dn1", pb::NodePhase::Running, Some(101), None),
        child("gen/0/dn2", pb::NodePhase::Queued, None, None),
    ];
    let runs = runs(&children, |scoped| format!("/n?id={scoped}"));
    assert_eq!(runs.len(), 2, "a child not started has no bar");
    assert_eq!(runs[0].label, "dn0");
    assert_eq!(runs[0].start_ms, 100_500);
    assert_eq!(runs[0].end_ms, Some(102_500));
    assert_eq!(runs[0].phase, "succeeded");
    assert_eq!(runs[0].href.as_deref(), Some("/n?id=gen/0/dn0"));
    assert_eq!(runs[1].end_ms, None);
    assert_eq!(runs[1].phase, "running");
}

#[test]
fn a_large_spec_is_drawn_as_one_box_per_target_linking_to_its_first_child() {
    let spec = pb::DynamicJobSpec {
        nodes: (0..1_000)
            .map(|i| task_node(&format!("dn{i}"), "other_task", Vec::new()))
            .collect(),
        ..Default::default()
    };
    let phases = HashMap::from([("dn0".to_owned(), "succeeded".to_owned())]);
    let graph = spec_graph(&spec, &phases, |local| format!("/n/{local}"));
    let options = gantry_diagram::DagOptions {
        embed_style: false,
        ..Default::default()
    };
    let svg = gantry_diagram::render_dag(&graph, &options).expect("a spec's graph draws");
    assert_eq!(svg.matches("<a ").count(), 1, "{svg}");
    assert!(svg.contains(r#"href="/n/dn0""#), "{svg}");
    assert!(svg.contains("1,000 × task other_task@1"), "{svg}");
    assert!(svg.contains("999 unknown, 1 succeeded"), "{svg}");
    assert!(svg.contains("drawn as 1 group)"), "{svg}");
}
