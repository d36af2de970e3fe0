//! Recording the run the replay rebuilds: three executions driven through the harness, one batch a request, with
//! the clock advanced before each.

use std::sync::Arc;

use gantry_core::model::{
    Binding, BindingData, DynamicJobSpec, ExecutionError, Literal, LiteralMap, Node, Promise, TaskTemplate,
};
use gantry_core::state::{AttemptResult, ExecutionPhase};
use uuid::Uuid;

use super::rows::Snapshot;
use crate::Registration;
use crate::tests::harness::{Answer, Backend, Harness, complete, fan_out, heartbeat, inputs, int_task, list_task};
use crate::worker::{Assignment, LeaseStatus};
use crate::writer::Request;

/// The harness, with a clock that moves a second before every batch: each batch settles what it settles at an
/// instant of its own, as the replay assumes when it groups children's progress by instant.
#[derive(Debug)]
pub struct Recorder {
    pub harness: Harness,
    now: i64,
}

impl Recorder {
    fn tick(&mut self) {
        self.now += 1_000;
        self.harness.set_now(self.now);
    }

    async fn apply(&mut self, request: Request) -> Answer {
        self.tick();
        self.harness.apply_one(request).await
    }

    async fn claim(&mut self) -> Vec<Assignment> {
        self.tick();
        self.harness.claim("w", "q").await
    }

    async fn complete(&mut self, assignment: &Assignment, result: AttemptResult) {
        self.tick();
        let request = match &result {
            AttemptResult::DynamicSpec(_) => self.harness.complete_at_the_edge("w", assignment, result).await,
            _ => complete("w", assignment, result),
        };
        let answer = self.harness.apply_one(request).await;
        assert!(
            matches!(&answer, Answer::Completed(Ok(o)) if o.iter().all(Result::is_ok)),
            "{answer:?}"
        );
    }

    async fn phase(&self, execution_id: Uuid) -> ExecutionPhase {
        let store = &self.harness.shared.store;
        store
            .get_execution(execution_id)
            .await
            .expect("read")
            .expect("exists")
            .phase
    }

    async fn snapshot(&self, execution_id: Uuid) -> Snapshot {
        let lease_ms = self.harness.shared.config.lease.as_millis() as i64;
        Snapshot::read(&*self.harness.shared.store, execution_id, lease_ms).await
    }
}

#[derive(Debug)]
struct Tasks {
    /// One user retry.
    leaf: TaskTemplate,
    /// Cached under version 1.
    cached: TaskTemplate,
    /// The nested dynamic task.
    inner: TaskTemplate,
    /// The execution's dynamic task.
    outer: TaskTemplate,
}

fn tasks() -> Tasks {
    let mut leaf = int_task("leaf", "q");
    leaf.metadata.retries.user_retries = 1;
    let mut cached = int_task("cached", "q");
    cached.metadata.cache = true;
    cached.metadata.cache_version = "1".into();
    Tasks {
        leaf,
        cached,
        inner: list_task("inner", "q"),
        outer: list_task("outer", "q"),
    }
}

/// `flaky = leaf(5)`, `nested = inner(2)`, `cache1 = cached(7)` and `cache2 = cached(7)` after `cache1`; `y` lists
/// `flaky`'s, `cache1`'s and `cache2`'s outputs.
fn outer_spec(tasks: &Tasks) -> DynamicJobSpec {
    let x = |value| vec![Binding::literal("x", Literal::Integer(value))];
    let y = |node: &str| BindingData::Promise(Promise::new(node, "y"));
    let mut cache2 = Node::task("cache2", tasks.cached.id.clone(), x(7));
    cache2.upstream = vec!["cache1".into()];
    DynamicJobSpec {
        nodes: vec![
            Node::task("flaky", tasks.leaf.id.clone(), x(5)),
            Node::task("nested", tasks.inner.id.clone(), x(2)),
            Node::task("cache1", tasks.cached.id.clone(), x(7)),
            cache2,
        ],
        outputs: vec![Binding::new(
            "y",
            BindingData::Collection(vec![y("flaky"), y("cache1"), y("cache2")]),
        )],
        ..Default::default()
    }
}

fn retryable() -> AttemptResult {
    AttemptResult::Error(ExecutionError::user("flaky", "the first try fails").recoverable(true))
}

/// `y = 10 * x + 1`.
fn outputs(assignment: &Assignment) -> AttemptResult {
    let inputs = crate::codec::decode_literals(&assignment.inputs).expect("inputs");
    let Some(Literal::Integer(x)) = inputs.get("x") else {
        panic!("no x in {inputs:?}")
    };
    AttemptResult::Outputs(LiteralMap::from([("y".to_owned(), Literal::Integer(10 * x + 1))]))
}

fn local_id(assignment: &Assignment) -> &str {
    assignment.attempt.node_id.rsplit('/').next().unwrap_or_default()
}

/// The first execution: retries, a nested dynamic task and a cache hit, run to its end.
async fn record_nested(recorder: &mut Recorder, tasks: &Tasks) -> Uuid {
    recorder.tick();
    let execution_id = recorder.harness.run_task(&tasks.outer, inputs(1)).await.id;
    for _ in 0..10 {
        for assignment in recorder.claim().await {
            let result = match (local_id(&assignment), assignment.attempt.attempt) {
                ("n0", _) => AttemptResult::DynamicSpec(Arc::new(outer_spec(tasks))),
                ("nested", _) => AttemptResult::DynamicSpec(Arc::new(fan_out(&tasks.leaf, 2))),
                ("flaky", 0) => retryable(),
                ("flaky", _) => {
                    let answer = recorder.apply(heartbeat("w", &assignment)).await;
                    assert!(
                        matches!(&answer, Answer::Leases(Ok(l)) if matches!(l[..], [LeaseStatus::Extended { .. }])),
                        "{answer:?}"
                    );
                    outputs(&assignment)
                }
                _ => outputs(&assignment),
            };
            recorder.complete(&assignment, result).await;
        }
        if recorder.phase(execution_id).await.is_terminal() {
            return execution_id;
        }
    }
    panic!("{}", recorder.harness.records(execution_id, 0).await.text)
}

/// The second execution: three children of a dynamic task, terminated while `c0` has succeeded, `c1` runs and `c2`
/// waits for its retry.
async fn record_terminated(recorder: &mut Recorder, tasks: &Tasks) -> Uuid {
    recorder.tick();
    let execution_id = recorder.harness.run_task(&tasks.inner, inputs(3)).await.id;
    let generator = recorder.claim().await;
    assert_eq!(generator.len(), 1);
    let spec = AttemptResult::DynamicSpec(Arc::new(fan_out(&tasks.leaf, 3)));
    recorder.complete(&generator[0], spec).await;
    let children = recorder.claim().await;
    let child = |local: &str| {
        children
            .iter()
            .find(|a| local_id(a) == local)
            .unwrap_or_else(|| panic!("{local} was not claimed"))
            .clone()
    };
    recorder.complete(&child("c0"), outputs(&child("c0"))).await;
    recorder.complete(&child("c2"), retryable()).await;
    let stop = Request::Terminate(execution_id, "stopped by the replay test".into());
    let answer = recorder.apply(stop).await;
    assert!(
        matches!(&answer, Answer::Execution(Ok(row)) if row.phase == ExecutionPhase::Aborted),
        "{answer:?}"
    );
    execution_id
}

/// The third execution: `c0` of two children fails for good while `c1` runs, failing its parent and the execution.
async fn record_failed(recorder: &mut Recorder, tasks: &Tasks) -> Uuid {
    recorder.tick();
    let execution_id = recorder.harness.run_task(&tasks.inner, inputs(4)).await.id;
    let generator = recorder.claim().await;
    let spec = AttemptResult::DynamicSpec(Arc::new(fan_out(&tasks.leaf, 2)));
    recorder.complete(&generator[0], spec).await;
    let children = recorder.claim().await;
    let c0 = children.iter().find(|a| local_id(a) == "c0").expect("c0 claimed");
    let error = ExecutionError::user("broken", "c0 cannot succeed");
    recorder.complete(c0, AttemptResult::Error(error)).await;
    assert_eq!(recorder.phase(execution_id).await, ExecutionPhase::Failed);
    execution_id
}

/// The recorded executions.
#[derive(Debug)]
pub struct Recorded {
    pub nested: Snapshot,
    pub terminated: Snapshot,
    pub failed: Snapshot,
}

/// Records the three executions on a fresh store and reads their rows back.
pub async fn record(backend: Backend) -> (Recorder, Recorded) {
    let harness = Harness::new(backend).await;
    let mut recorder = Recorder {
        harness,
        now: 1_000_000_000_000,
    };
    let tasks = tasks();
    let registrations = [&tasks.leaf, &tasks.cached, &tasks.inner, &tasks.outer]
        .into_iter()
        .map(|task| Registration::Task(task.clone()))
        .collect();
    recorder.harness.register(registrations).await;
    let nested = record_nested(&mut recorder, &tasks).await;
    let terminated = record_terminated(&mut recorder, &tasks).await;
    let failed = record_failed(&mut recorder, &tasks).await;
    let recorded = Recorded {
        nested: recorder.snapshot(nested).await,
        terminated: recorder.snapshot(terminated).await,
        failed: recorder.snapshot(failed).await,
    };
    (recorder, recorded)
}
