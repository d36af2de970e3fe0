//! Every pair of commands touching one attempt or node, applied in one batch in both orders, must leave the same
//! records and get the same answers as the two applied one after the other (each in a batch of its own, at the same
//! instant), the assembler's jobs running after the pair in both cases. A batch is an optimisation: it must never
//! change what happens.
//!
//! Scenarios: a running task attempt; a running generator attempt; two running children of a dynamic parent (whose
//! settlements reach the parent); a queued attempt with a queue timeout. Commands: claims, heartbeats (by the holder
//! and by another worker), completions (outputs, a dynamic spec, outputs that do not match the interface,
//! recoverable and non-recoverable errors; alone, or carried by a poll that then claims), termination and the sweep (lease expiry and deadlines), each at three
//! instants: nothing due, the attempt's deadline passed, its lease expired as well.

use std::collections::BTreeMap;

use gantry_core::model::{Duration, ExecutionError, Literal, LiteralMap};
use gantry_core::state::AttemptResult;
use uuid::Uuid;

use super::harness::{
    Answer, Backend, Harness, Records, claim, complete, fan_out, heartbeat, inputs, int_task, list_task, poll,
    relative_times,
};
use crate::worker::Assignment;
use crate::writer::Request;

/// A scenario's state before the pair: what was claimed, by name.
struct Fixture {
    execution_id: Uuid,
    queue: String,
    base: i64,
    leases: BTreeMap<&'static str, Assignment>,
    child_task: Option<gantry_core::model::TaskTemplate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// A task attempt running on `w1`, with a 10 s timeout, one user and one system retry, no backoff.
    RunningTask,
    /// A dynamic task's generator attempt running on `w1`.
    RunningGenerator,
    /// The generator returned two children, both running on `w1`.
    RunningChildren,
    /// A task attempt queued with a 5 s queue timeout.
    Queued,
}

impl Scenario {
    fn commands(self) -> &'static [&'static str] {
        match self {
            Scenario::RunningTask => &[
                "heartbeat",
                "heartbeat_other",
                "outputs",
                "poll_outputs",
                "bad_outputs",
                "recoverable",
                "fatal",
                "poll_recoverable",
                "terminate",
                "sweep",
                "claim_other",
            ],
            Scenario::RunningGenerator => &[
                "heartbeat",
                "spec",
                "recoverable",
                "fatal",
                "terminate",
                "sweep",
                "claim_other",
            ],
            Scenario::RunningChildren => &[
                "c0_outputs",
                "c1_outputs",
                "c1_poll_outputs",
                "c0_fatal",
                "c0_recoverable",
                "c0_heartbeat",
                "c1_heartbeat",
                "terminate",
                "sweep",
                "claim_other",
            ],
            Scenario::Queued => &["claim", "claim_other", "terminate", "sweep"],
        }
    }

    /// Instants after the setup at which pairs are tried.
    fn offsets(self) -> &'static [i64] {
        match self {
            Scenario::Queued => &[1_000, 10_000],
            _ => &[1_000, 15_000, 40_000],
        }
    }

    async fn setup(self, harness: &Harness, number: usize, base: i64) -> Fixture {
        harness.set_now(base);
        let queue = format!("q{number}");
        let retries = gantry_core::model::RetryPolicy {
            user_retries: 1,
            system_retries: 1,
            initial_backoff: Duration::from_millis(0),
            max_backoff: Duration::from_millis(0),
        };
        let mut task = int_task(&format!("task{number}"), &queue);
        task.metadata.retries = retries.clone();
        task.metadata.timeout = Some(Duration::from_secs(10));
        let mut generator = list_task(&format!("generator{number}"), &queue);
        generator.metadata.retries = retries;
        generator.metadata.timeout = Some(Duration::from_secs(10));
        let mut fixture = Fixture {
            execution_id: Uuid::nil(),
            queue: queue.clone(),
            base,
            leases: BTreeMap::new(),
            child_task: None,
        };
        match self {
            Scenario::RunningTask => {
                harness.register(vec![crate::Registration::Task(task.clone())]).await;
                fixture.execution_id = harness.run_task(&task, inputs(1)).await.id;
                let claimed = harness.claim("w1", &queue).await;
                fixture.leases.insert("a", one(claimed));
            }
            Scenario::Queued => {
                task.metadata.queue_timeout = Some(Duration::from_secs(5));
                harness.register(vec![crate::Registration::Task(task.clone())]).await;
                fixture.execution_id = harness.run_task(&task, inputs(1)).await.id;
            }
            Scenario::RunningGenerator | Scenario::RunningChildren => {
                harness
                    .register(vec![
                        crate::Registration::Task(task.clone()),
                        crate::Registration::Task(generator.clone()),
                    ])
                    .await;
                fixture.execution_id = harness.run_task(&generator, inputs(2)).await.id;
                let generator_lease = one(harness.claim("w1", &queue).await);
                fixture.child_task = Some(task.clone());
                if self == Scenario::RunningChildren {
                    let spec = AttemptResult::DynamicSpec(std::sync::Arc::new(fan_out(&task, 2)));
                    let answer = harness.apply_one(complete("w1", &generator_lease, spec)).await;
                    assert!(
                        matches!(&answer, Answer::Completed(Ok(o)) if o.iter().all(Result::is_ok)),
                        "{answer:?}"
                    );
                    let mut children = harness.claim("w1", &queue).await;
                    children.sort_by(|a, b| a.attempt.node_id.cmp(&b.attempt.node_id));
                    assert_eq!(children.len(), 2, "both children claimed");
                    fixture.leases.insert("c1", children.pop().expect("c1"));
                    fixture.leases.insert("c0", children.pop().expect("c0"));
                } else {
                    fixture.leases.insert("a", generator_lease);
                }
            }
        }
        fixture
    }
}

fn one(mut claimed: Vec<Assignment>) -> Assignment {
    assert_eq!(claimed.len(), 1, "one attempt claimed");
    claimed.pop().expect("one")
}

fn outputs(y: i64) -> AttemptResult {
    AttemptResult::Outputs(LiteralMap::from([("y".to_owned(), Literal::Integer(y))]))
}

fn error(recoverable: bool) -> AttemptResult {
    AttemptResult::Error(ExecutionError::user("boom", "the task failed").recoverable(recoverable))
}

fn command(fixture: &Fixture, name: &str) -> Request {
    let lease = |key: &str| fixture.leases.get(key).unwrap_or_else(|| panic!("no lease {key}"));
    match name {
        "heartbeat" => heartbeat("w1", lease("a")),
        "heartbeat_other" => heartbeat("w2", lease("a")),
        "outputs" => complete("w1", lease("a"), outputs(7)),
        "bad_outputs" => complete(
            "w1",
            lease("a"),
            AttemptResult::Outputs(LiteralMap::from([("y".to_owned(), Literal::String("seven".into()))])),
        ),
        "recoverable" => complete("w1", lease("a"), error(true)),
        "poll_outputs" => poll("w1", &fixture.queue, lease("a"), outputs(7)),
        "poll_recoverable" => poll("w1", &fixture.queue, lease("a"), error(true)),
        "c1_poll_outputs" => poll("w1", &fixture.queue, lease("c1"), outputs(11)),
        "fatal" => complete("w1", lease("a"), error(false)),
        "spec" => {
            let child = fixture.child_task.as_ref().expect("a child task");
            complete(
                "w1",
                lease("a"),
                AttemptResult::DynamicSpec(std::sync::Arc::new(fan_out(child, 2))),
            )
        }
        "c0_outputs" => complete("w1", lease("c0"), outputs(10)),
        "c1_outputs" => complete("w1", lease("c1"), outputs(11)),
        "c0_fatal" => complete("w1", lease("c0"), error(false)),
        "c0_recoverable" => complete("w1", lease("c0"), error(true)),
        "c0_heartbeat" => heartbeat("w1", lease("c0")),
        "c1_heartbeat" => heartbeat("w1", lease("c1")),
        "terminate" => Request::Terminate(fixture.execution_id, "stopped by the test".into()),
        "sweep" => Request::Sweep,
        "claim" => claim("w1", &fixture.queue),
        "claim_other" => claim("w2", &fixture.queue),
        other => panic!("unknown command {other}"),
    }
}

/// An answer with ids replaced and times made relative, comparable between runs.
fn describe(answer: &Answer, fixture: &Fixture) -> String {
    let at = |t: i64| t - fixture.base;
    let claimed = |claimed: &[Assignment]| {
        claimed
            .iter()
            .map(|a| {
                (
                    a.attempt.node_id.clone(),
                    a.attempt.attempt,
                    at(a.lease_expires_at_ms),
                    a.deadline_ms.map(at),
                )
            })
            .collect::<Vec<_>>()
    };
    let text = match answer {
        Answer::Execution(result) => format!("{:?}", result.as_ref().map(|row| row.phase)),
        Answer::Claimed(result) => format!("{:?}", result.as_ref().map(|c| claimed(c))),
        Answer::Polled(result) => format!("{:?}", result.as_ref().map(|(completed, c)| (completed, claimed(c)))),
        Answer::Leases(result) => format!(
            "{:?}",
            result.as_ref().map(|statuses| statuses
                .iter()
                .map(|s| match s {
                    crate::LeaseStatus::Extended { until_ms } => format!("extended {}", at(*until_ms)),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>())
        ),
        Answer::Completed(result) => format!("{result:?}"),
        Answer::SignalSet(result) => format!("{result:?}"),
        Answer::Schedule(result) => format!("{result:?}"),
        Answer::Other(result) => format!("{result:?}"),
    };
    let mut text = relative_times(
        &text.replace(&fixture.execution_id.to_string(), "<execution>"),
        fixture.base,
    );
    for (name, lease) in &fixture.leases {
        text = text.replace(&lease.lease_id.to_string(), &format!("<lease {name}>"));
    }
    text
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    answers: Vec<String>,
    records: Records,
}

async fn check_all(backend: Backend) {
    let harness = Harness::new(backend).await;
    let mut number = 0usize;
    let mut checked = 0usize;
    let mut failures = Vec::new();
    for scenario in [
        Scenario::RunningTask,
        Scenario::RunningGenerator,
        Scenario::RunningChildren,
        Scenario::Queued,
    ] {
        let commands = scenario.commands();
        for &offset in scenario.offsets() {
            for first in commands {
                for second in commands {
                    let mut outcomes = Vec::new();
                    for together in [true, false] {
                        number += 1;
                        // Each run gets its own hour, after every earlier run's.
                        let base = 1_000_000_000_000 + number as i64 * 3_600_000;
                        let fixture = scenario.setup(&harness, number, base).await;
                        harness.set_now(base + offset);
                        let requests = vec![command(&fixture, first), command(&fixture, second)];
                        let answers = if together {
                            harness.apply(requests).await
                        } else {
                            // The assembler's jobs run after the pair either way: between the two, an assembly would
                            // race the second command in the server too.
                            harness.hold_assemblies(true);
                            let mut answers = Vec::new();
                            for request in requests {
                                answers.push(harness.apply_one(request).await);
                            }
                            harness.hold_assemblies(false);
                            harness.run_assemblies().await;
                            answers
                        };
                        let answers = answers.iter().map(|a| describe(a, &fixture)).collect();
                        let records = harness.records(fixture.execution_id, base).await;
                        outcomes.push(Outcome { answers, records });
                    }
                    checked += 1;
                    let (together, apart) = (&outcomes[0], &outcomes[1]);
                    let label = format!("{scenario:?} at +{offset} ms: {first} then {second}");
                    if together != apart {
                        failures.push(format!(
                            "{label}: in one batch\n{:?}\n{}\none after the other\n{:?}\n{}",
                            together.answers, together.records.text, apart.answers, apart.records.text
                        ));
                    }
                    for outcome in &outcomes {
                        if !outcome.records.orphans.is_empty() || !outcome.records.succeeded_twice.is_empty() {
                            failures.push(format!(
                                "{label}: attempts left under finished nodes {:?}, nodes succeeded twice {:?}\n{}",
                                outcome.records.orphans, outcome.records.succeeded_twice, outcome.records.text
                            ));
                        }
                    }
                }
            }
        }
    }
    harness.finish().await;
    assert!(
        failures.is_empty(),
        "{} of {checked} pairs differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // Every scenario's every ordered pair at every instant was checked.
    assert_eq!(checked, 11 * 11 * 3 + 7 * 7 * 3 + 10 * 10 * 3 + 4 * 4 * 2);
}

#[tokio::test]
async fn pairs_in_one_batch_equal_pairs_apart_sqlite() {
    check_all(Backend::Sqlite).await;
}

#[tokio::test]
async fn pairs_in_one_batch_equal_pairs_apart_postgres() {
    check_all(Backend::Postgres).await;
}
