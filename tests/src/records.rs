//! What every fault, load and crash test asserts about the server's own records, not only the outputs: no node
//! succeeded twice, no attempt left queued or running under a finished node, the last attempt of every succeeded
//! task node is the one that succeeded, every completion the server acknowledged is recorded with the outcome it was
//! acknowledged with, and no execution is left unfinished.

use std::collections::{BTreeMap, HashMap};

use gantry_core::state::{AttemptPhase, ExecutionPhase, NodePhase};
use prost::Message;

/// A database the records are read from.
#[derive(Debug)]
pub enum Db {
    Postgres(sqlx::PgPool),
    Sqlite(sqlx::SqlitePool),
}

type NodeTuple = (uuid::Uuid, String, String, String, i32);
type AttemptTuple = (uuid::Uuid, String, i32, String, Option<Vec<u8>>);

impl Db {
    pub async fn postgres(url: &str) -> Db {
        Db::Postgres(sqlx::PgPool::connect(url).await.expect("connect to the test database"))
    }

    pub async fn sqlite(path: &std::path::Path) -> Db {
        let url = format!("sqlite://{}", path.display());
        Db::Sqlite(sqlx::SqlitePool::connect(&url).await.expect("open the test database"))
    }

    pub async fn close(self) {
        match self {
            Db::Postgres(pool) => pool.close().await,
            Db::Sqlite(pool) => pool.close().await,
        }
    }

    async fn executions(&self) -> Vec<(uuid::Uuid, String)> {
        const QUERY: &str = "SELECT id, phase FROM executions";
        match self {
            Db::Postgres(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
            Db::Sqlite(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
        }
        .expect("read executions")
    }

    async fn nodes(&self) -> Vec<NodeTuple> {
        const QUERY: &str = "SELECT execution_id, node_id, kind, phase, attempts FROM nodes";
        match self {
            Db::Postgres(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
            Db::Sqlite(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
        }
        .expect("read nodes")
    }

    async fn attempts(&self) -> Vec<AttemptTuple> {
        const QUERY: &str = "SELECT execution_id, node_id, attempt, phase, error FROM attempts";
        match self {
            Db::Postgres(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
            Db::Sqlite(pool) => sqlx::query_as(QUERY).fetch_all(pool).await,
        }
        .expect("read attempts")
    }
}

/// A completion the server acknowledged: the attempt, and the phase the server said it recorded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Acknowledged {
    pub execution_id: String,
    pub node_id: String,
    pub attempt: i32,
    pub phase: AttemptPhase,
}

/// What was wrong with the records; every list is empty when they are sound.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub executions: usize,
    pub nodes: usize,
    pub attempts: usize,
    /// Attempts left queued or running under a node that finished.
    pub open_under_finished: Vec<String>,
    /// Nodes with more than one succeeded attempt.
    pub succeeded_twice: Vec<String>,
    /// Succeeded task nodes whose last attempt did not succeed (say, recorded `lease_expired` after it succeeded).
    pub last_attempt_not_succeeded: Vec<String>,
    /// Acknowledged completions recorded with another outcome, or not at all.
    pub acknowledged_differently: Vec<String>,
    /// Executions that are not terminal.
    pub unfinished_executions: Vec<String>,
    /// How many attempts ended with each error code (`lease_expired`, ...).
    pub error_codes: BTreeMap<String, usize>,
}

impl Report {
    /// Whether every invariant holds.
    pub fn is_sound(&self) -> bool {
        self.open_under_finished.is_empty()
            && self.succeeded_twice.is_empty()
            && self.last_attempt_not_succeeded.is_empty()
            && self.acknowledged_differently.is_empty()
            && self.unfinished_executions.is_empty()
    }

    /// Panics with the report unless every invariant holds.
    pub fn assert_sound(&self) {
        assert!(self.is_sound(), "the records are not sound: {self:#?}");
    }
}

/// Reads every execution, node and attempt and checks them, and the acknowledged completions against them.
pub async fn check(db: &Db, acknowledged: &[Acknowledged]) -> Report {
    let mut report = Report::default();
    let executions = db.executions().await;
    report.executions = executions.len();
    for (id, phase) in executions {
        let phase: ExecutionPhase = phase.parse().expect("execution phase");
        if !phase.is_terminal() {
            report.unfinished_executions.push(format!("{id} {phase}"));
        }
    }
    let nodes = db.nodes().await;
    report.nodes = nodes.len();
    let mut attempts: HashMap<(String, String), Vec<(i32, AttemptPhase)>> = HashMap::new();
    let mut recorded: HashMap<(String, String, i32), AttemptPhase> = HashMap::new();
    for (execution_id, node_id, attempt, phase, error) in db.attempts().await {
        report.attempts += 1;
        let phase: AttemptPhase = phase.parse().expect("attempt phase");
        if let Some(bytes) = error {
            let error = gantry_proto::v1::ExecutionError::decode(bytes.as_slice()).expect("stored error");
            *report.error_codes.entry(error.code).or_default() += 1;
        }
        let execution_id = execution_id.to_string();
        recorded.insert((execution_id.clone(), node_id.clone(), attempt), phase);
        attempts
            .entry((execution_id, node_id))
            .or_default()
            .push((attempt, phase));
    }
    for (execution_id, node_id, kind, phase, count) in nodes {
        let phase: NodePhase = phase.parse().expect("node phase");
        let name = format!("{execution_id} {node_id}");
        let mine = attempts
            .remove(&(execution_id.to_string(), node_id))
            .unwrap_or_default();
        if phase.is_terminal() {
            for (attempt, attempt_phase) in &mine {
                if !attempt_phase.is_terminal() {
                    report
                        .open_under_finished
                        .push(format!("{name} ({phase}): attempt {attempt} {attempt_phase}"));
                }
            }
        }
        if mine.iter().filter(|(_, p)| *p == AttemptPhase::Succeeded).count() > 1 {
            report.succeeded_twice.push(name.clone());
        }
        if kind == "task" && phase == NodePhase::Succeeded && count > 0 {
            let last = mine.iter().find(|(attempt, _)| *attempt == count - 1).map(|(_, p)| *p);
            if last != Some(AttemptPhase::Succeeded) {
                report
                    .last_attempt_not_succeeded
                    .push(format!("{name}: attempt {} is {last:?}", count - 1));
            }
        }
    }
    for ack in acknowledged {
        let key = (ack.execution_id.clone(), ack.node_id.clone(), ack.attempt);
        let found = recorded.get(&key).copied();
        if found != Some(ack.phase) {
            report.acknowledged_differently.push(format!(
                "{} {} attempt {}: acknowledged {}, recorded {found:?}",
                ack.execution_id, ack.node_id, ack.attempt, ack.phase
            ));
        }
    }
    report
}
