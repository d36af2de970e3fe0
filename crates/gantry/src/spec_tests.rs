use gantry_core::model::{Literal, Promise, TaskTemplate};

use super::*;
use crate::spec_file::parse_spec;

const SEED: &str = include_str!("../../gantry-examples/seed.yaml");

#[test]
fn the_seed_file_holds_exactly_the_example_templates() {
    let file = parse_spec(SEED, false).unwrap();
    let registrations = convert(&file, &mut Interfaces::default()).unwrap();
    let expected: Vec<TaskTemplate> = gantry_examples::seed_tasks().into_iter().map(Into::into).collect();
    assert_eq!(registrations.tasks, expected);
}

const FULL: &str = r#"
project: demo
domain: dev
version: 2
tasks:
  - name: scale
    inputs:
      x: float
      factor: {type: float, default: 2, description: multiplier}
    outputs: {y: float}
    retries: {user: 2, initial_backoff: 50ms}
    timeout: 1m
    queue_timeout: 90s
    queue: gpu
    container: {image: "ghcr.io/x:1", args: ["--fast"]}
workflows:
  - name: chain
    inputs: {x: float}
    nodes:
      - id: a
        task: scale
        inputs: {x: {from: inputs.x}}
      - id: b
        task: demo/dev/scale@2
        inputs: {x: {from: a.y}, factor: 0.5}
        upstream: [a]
    outputs:
      ys: {type: "list<float>", list: [{from: a.y}, {from: b.y}, 1]}
launch_plans:
  - name: chain_of_three
    workflow: chain
    default_inputs: {x: 3}
    max_parallelism: 4
    timeout: 2h
"#;

#[test]
fn tasks_workflows_and_launch_plans_convert_with_typed_literals() {
    let file = parse_spec(FULL, false).unwrap();
    assert!(external_references(&file).unwrap().is_empty());
    let mut interfaces = Interfaces::default();
    let r = convert(&file, &mut interfaces).unwrap();

    let scale = &r.tasks[0];
    assert_eq!(scale.id, Identifier::new("demo", "dev", "scale", "2"));
    assert_eq!(
        scale.interface.inputs[1].default,
        Some(Literal::Float(2.0)),
        "typed by the declared float"
    );
    assert_eq!(scale.metadata.retries.user_retries, 2);
    assert_eq!(scale.metadata.retries.system_retries, 3);
    assert_eq!(scale.metadata.retries.initial_backoff.as_millis(), 50);
    assert_eq!(
        scale.metadata.queue_timeout,
        Some(gantry_core::model::Duration::from_secs(90))
    );
    assert_eq!(scale.metadata.queue, "gpu");
    assert!(!scale.metadata.cache);
    assert_eq!(scale.container.as_ref().unwrap().args, ["--fast"]);

    let chain = &r.workflows[0];
    assert_eq!(
        chain.nodes[0].inputs[0].data,
        BindingData::Promise(Promise::new("", "x"))
    );
    assert_eq!(chain.nodes[1].inputs[1].data, BindingData::Literal(Literal::Float(0.5)));
    assert_eq!(chain.nodes[1].upstream, ["a"]);
    let BindingData::Collection(items) = &chain.outputs[0].data else {
        panic!("a list binding")
    };
    assert_eq!(
        items[2],
        BindingData::Literal(Literal::Float(1.0)),
        "typed by the element type"
    );
    assert_eq!(
        chain.interface.outputs[0].ty,
        LiteralType::collection(LiteralType::Float)
    );

    let plan = &r.launch_plans[0];
    assert_eq!(plan.target, Identifier::new("demo", "dev", "chain", "2"));
    assert_eq!(plan.target_kind, ResourceKind::Workflow);
    assert_eq!(plan.default_inputs["x"], Literal::Float(3.0));
    assert_eq!(plan.max_parallelism, Some(4));
    assert_eq!(plan.timeout, Some(gantry_core::model::Duration::from_secs(7_200)));
    assert!(interfaces.contains(ResourceKind::LaunchPlan, &plan.id));
}

#[test]
fn references_outside_the_file_are_listed_for_fetching() {
    let text = "project: p\ndomain: d\nversion: v\nworkflows:\n  - name: w\n    nodes:\n      - {id: a, task: t}\n      - {id: b, launch_plan: q/r/lp@1}\n";
    let file = parse_spec(text, false).unwrap();
    let references = external_references(&file).unwrap();
    assert_eq!(
        references,
        [
            (ResourceKind::Task, Identifier::new("p", "d", "t", "v")),
            (ResourceKind::LaunchPlan, Identifier::new("q", "r", "lp", "1")),
        ]
    );
    let error = convert(&file, &mut Interfaces::default()).unwrap_err();
    assert!(
        format!("{error:#}").contains("task p/d/t@v is not defined here nor registered"),
        "{error:#}"
    );
}

#[test]
fn mistakes_are_reported_with_where_they_are() {
    let unknown_key = "project: p\ndomain: d\nversion: v\ntasks:\n  - name: t\n    retry: {user: 1}\n";
    assert!(format!("{:#}", parse_spec(unknown_key, false).unwrap_err()).contains("unknown field `retry`"));
    let no_project = "tasks:\n  - {name: t, domain: d, version: v}\n";
    let error = convert(&parse_spec(no_project, false).unwrap(), &mut Interfaces::default()).unwrap_err();
    assert!(format!("{error:#}").contains("project is required"), "{error:#}");
    let bad_type = "project: p\ndomain: d\nversion: v\ntasks:\n  - {name: t, inputs: {x: lst<int>}}\n";
    let error = convert(&parse_spec(bad_type, false).unwrap(), &mut Interfaces::default()).unwrap_err();
    assert!(format!("{error:#}").contains("task \"t\""), "{error:#}");
    let wrong_input = FULL.replace("factor: 0.5", "factr: 0.5");
    let error = convert(&parse_spec(&wrong_input, false).unwrap(), &mut Interfaces::default()).unwrap_err();
    assert!(
        format!("{error:#}").contains("has no input \"factr\" (its inputs: x: float, factor: float)"),
        "{error:#}"
    );
    assert!(parse_spec("{}", false).is_err(), "an empty file is a mistake");
}

#[test]
fn json_files_read_the_same_schema() {
    let json = r#"{"project": "p", "domain": "d", "version": 1, "tasks": [{"name": "t", "inputs": {"b": "integer", "a": "string"}}]}"#;
    let r = convert(&parse_spec(json, true).unwrap(), &mut Interfaces::default()).unwrap();
    let names: Vec<&str> = r.tasks[0].interface.inputs.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["b", "a"], "declaration order is kept");
}

const SCHEDULED: &str = r#"
project: demo
domain: dev
version: "1"
tasks:
  - name: report
    inputs: {at: datetime}
launch_plans:
  - name: nightly
    task: report
    schedule:
      cron: "0 2 * * *"
      time_zone: Europe/Paris
      kickoff_input: at
      catch_up: run_missed
      catch_up_limit: 3
  - name: often
    task: report
    schedule: {fixed_rate: 10m}
"#;

#[test]
fn launch_plans_carry_their_schedules() {
    use gantry_core::model::{CatchUp, Schedule, ScheduleKind};
    let r = convert(&parse_spec(SCHEDULED, false).unwrap(), &mut Interfaces::default()).unwrap();
    assert_eq!(
        r.launch_plans[0].schedule,
        Some(Schedule {
            kind: ScheduleKind::Cron {
                expression: "0 2 * * *".to_owned(),
                time_zone: "Europe/Paris".to_owned()
            },
            kickoff_input: Some("at".to_owned()),
            catch_up: CatchUp::RunMissed { limit: 3 },
        })
    );
    assert_eq!(
        r.launch_plans[1].schedule,
        Some(Schedule {
            kind: ScheduleKind::FixedRate(gantry_core::model::Duration::from_secs(600)),
            kickoff_input: None,
            catch_up: CatchUp::Skip,
        })
    );
    for (wrong, said) in [
        (
            SCHEDULED.replace("{fixed_rate: 10m}", "{}"),
            "give exactly one of cron and fixed_rate",
        ),
        (
            SCHEDULED.replace("Europe/Paris", "Europe/Atlantis"),
            "time zone \"Europe/Atlantis\"",
        ),
        (
            SCHEDULED.replace("0 2 * * *", "0 25 * * *"),
            "cron expression \"0 25 * * *\"",
        ),
        (
            SCHEDULED.replace("catch_up_limit: 3", "catch_up_limit: 0"),
            "catch-up limit 0",
        ),
        (
            SCHEDULED.replace("catch_up: run_missed", "catch_up: skip"),
            "catch_up_limit goes with catch_up: run_missed",
        ),
    ] {
        let error = convert(&parse_spec(&wrong, false).unwrap(), &mut Interfaces::default()).unwrap_err();
        assert!(format!("{error:#}").contains(said), "{error:#}");
    }
}
