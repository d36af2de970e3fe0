use std::collections::BTreeMap;

use gantry_core::model::{BindingData, Identifier, Literal, LiteralType, NodeTarget, Promise as CorePromise};

use super::*;

fn other_task() -> TaskDef {
    TaskDef::new("demo", "dev", "other_task", "1")
        .input("index", LiteralType::Integer)
        .output("other_task_out", LiteralType::Integer)
}

/// The seed's generator, written with the builder.
fn seed_spec(tasks_count: i64) -> DynamicSpec {
    let other_task = other_task();
    let mut spec = DynamicSpec::new();
    let mut res = Vec::new();
    for i in 0..tasks_count {
        let task = spec
            .task(&other_task, [("index", i.into_binding())])
            .expect("within the limits");
        res.push(task.output("other_task_out"));
    }
    spec.set_output("out", res);
    spec
}

#[test]
fn the_seed_spec_has_one_node_per_task_and_a_collection_of_promises() {
    let job = seed_spec(3).into_job_spec();
    let ids: Vec<&str> = job.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["dn0", "dn1", "dn2"]);
    for (i, node) in job.nodes.iter().enumerate() {
        assert_eq!(
            node.target,
            NodeTarget::Task(Identifier::new("demo", "dev", "other_task", "1"))
        );
        assert_eq!(node.inputs.len(), 1);
        assert_eq!(node.inputs[0].var, "index");
        assert_eq!(node.inputs[0].data, BindingData::Literal(Literal::Integer(i as i64)));
    }
    assert_eq!(job.outputs.len(), 1);
    assert_eq!(job.outputs[0].var, "out");
    let expected: Vec<BindingData> = (0..3)
        .map(|i| BindingData::Promise(CorePromise::new(format!("dn{i}"), "other_task_out")))
        .collect();
    assert_eq!(job.outputs[0].data, BindingData::Collection(expected));
    assert_eq!(job.min_successes, None);
    assert!(job.tasks.is_empty());
}

#[test]
fn the_spec_converts_to_the_wire_and_back() {
    let job = seed_spec(3).into_job_spec();
    let wire = gantry_proto::v1::DynamicJobSpec::from(job.clone());
    assert_eq!(wire.nodes.len(), 3);
    let back = DynamicJobSpec::try_from(wire).expect("a built spec is well-formed");
    assert_eq!(back, job);
}

#[test]
fn a_spec_with_no_nodes_binds_literal_outputs() {
    let mut spec = DynamicSpec::new();
    spec.set_output("out", Vec::<i64>::new());
    let job = spec.into_job_spec();
    assert!(job.nodes.is_empty());
    assert_eq!(job.outputs[0].data, BindingData::Literal(Literal::Collection(vec![])));
}

#[test]
fn promises_create_dependencies_and_parent_inputs_have_no_node() {
    let mut spec = DynamicSpec::new();
    let sum = TaskDef::new("demo", "dev", "sum", "1").input("values", LiteralType::collection(LiteralType::Integer));
    let start = spec.parent_input("start");
    let first = spec
        .task(&other_task(), [("index", start.into_binding())])
        .expect("room");
    let second = spec
        .task(
            &other_task(),
            [("index", first.output("other_task_out").into_binding())],
        )
        .expect("room");
    let total = spec
        .task(
            &sum,
            [(
                "values",
                vec![first.output("other_task_out"), second.output("other_task_out")].into_binding(),
            )],
        )
        .expect("room");
    spec.depends_on(&total, &first);
    spec.set_output("total", total.output("total"));
    spec.set_output("total", total.output("total"));
    let job = spec.into_job_spec();
    assert_eq!(
        job.nodes[0].inputs[0].data,
        BindingData::Promise(CorePromise::new("", "start"))
    );
    assert_eq!(job.nodes[1].inputs[0].data.promises()[0].node_id, "dn0");
    assert_eq!(job.nodes[2].upstream, ["dn0"]);
    assert_eq!(job.outputs.len(), 1, "binding an output twice replaces it");
}

#[test]
fn lists_and_maps_of_literals_bind_as_one_literal() {
    let map = BTreeMap::from([("a".to_owned(), 1i64), ("b".to_owned(), 2)]);
    assert_eq!(
        map.into_binding(),
        BindingData::Literal(Literal::Map(BTreeMap::from([
            ("a".to_owned(), Literal::Integer(1)),
            ("b".to_owned(), Literal::Integer(2)),
        ])))
    );
    let mixed = BTreeMap::from([("a".to_owned(), Promise::new("dn0", "x"))]);
    assert!(matches!(mixed.into_binding(), BindingData::Map(_)));
    assert_eq!(None::<i64>.into_binding(), BindingData::Literal(Literal::None));
}

#[test]
fn attribute_paths_index_into_outputs() {
    let promise = Promise::new("dn0", "out").index(2).key("name").into_core();
    assert_eq!(promise.to_string(), "dn0.out[2][\"name\"]");
}

#[test]
fn embedded_templates_launch_plans_and_sub_workflows() {
    let mut spec = DynamicSpec::new();
    let def = other_task();
    spec.embed(&def);
    spec.embed(def);
    let lp = Identifier::new("demo", "dev", "lp", "1");
    let wf = Identifier::new("demo", "dev", "wf", "1");
    let a = spec.launch_plan(&lp, [("x", 1i64.into_binding())]).expect("room");
    let b = spec
        .sub_workflow(&wf, Vec::<(String, BindingData)>::new())
        .expect("room");
    spec.min_successes(1);
    assert_eq!((a.id(), b.id()), ("dn0", "dn1"));
    let job = spec.into_job_spec();
    assert_eq!(job.tasks.len(), 1, "the same template is embedded once");
    assert_eq!(job.nodes[0].target, NodeTarget::LaunchPlan(lp));
    assert_eq!(job.nodes[1].target, NodeTarget::SubWorkflow(wf));
    assert_eq!(job.min_successes, Some(1));
}

/// What the server counts for a spec: the encoded `Completion.dynamic_spec` field.
fn server_count(spec: &DynamicSpec) -> u64 {
    let wire = gantry_proto::v1::completion::Result::DynamicSpec(spec.clone().into());
    wire.encoded_len() as u64
}

#[test]
fn the_spec_counts_its_bytes_as_the_server_does() {
    let mut spec = seed_spec(50);
    assert_eq!(spec.encoded_len(), server_count(&spec));
    let node = NodeHandle { id: "dn3".into() };
    spec.depends_on(&node, &NodeHandle { id: "dn1".into() });
    spec.override_retries(&node, RetryPolicy::default());
    spec.embed(other_task());
    spec.min_successes(40);
    spec.set_output("out", vec![node.output("other_task_out")]);
    assert_eq!(spec.encoded_len(), server_count(&spec), "every change is counted");
}

#[test]
fn a_runaway_generator_stops_at_the_node_limit_with_a_non_recoverable_error() {
    let limits = SpecLimits {
        max_nodes: 1_000,
        ..SpecLimits::default()
    };
    let mut spec = DynamicSpec::with_limits(limits);
    let mut added = 0u64;
    let error = loop {
        match spec.task(&other_task(), [("index", 1i64.into_binding())]) {
            Ok(_) => added += 1,
            Err(error) => break error,
        }
        assert!(added <= 1_000, "the limit holds");
    };
    assert_eq!(added, 1_000);
    assert_eq!(spec.nodes().len(), 1_000, "the node over the limit is not added");
    assert_eq!(error.code(), crate::SPEC_TOO_LARGE);
    assert!(!error.is_recoverable());
    assert_eq!(
        error.message(),
        "the dynamic spec would have 1001 nodes, above the server's limit of 1000 nodes"
    );
    assert!(spec.check().is_ok(), "what was built keeps to the limits");
}

#[test]
fn a_spec_stops_at_the_byte_limit_as_it_grows_and_is_checked_whole() {
    let limits = SpecLimits {
        max_nodes: u64::MAX,
        max_bytes: 2_000,
    };
    let mut spec = DynamicSpec::with_limits(limits);
    let error = loop {
        if let Err(error) = spec.task(&other_task(), [("index", 1i64.into_binding())]) {
            break error;
        }
    };
    assert_eq!(error.code(), crate::SPEC_TOO_LARGE);
    assert!(error.message().contains("limit of 2000 bytes"), "{}", error.message());
    assert!(spec.encoded_len() <= 2_000 && server_count(&spec) == spec.encoded_len());
    // Outputs never fail on the spot; the whole spec is checked when the handler returns it.
    spec.set_output("out", "x".repeat(3_000));
    let error = spec.check().expect_err("the output took it over");
    assert_eq!(error.code(), crate::SPEC_TOO_LARGE);
}
