//! The Prometheus recorder and what a scrape reads. The engine and the RPC layer count through the `metrics` facade
//! into one recorder per process, installed by the first server that starts; a scrape of `/metrics` first sets the
//! gauges (what is in flight, counted in the store at most once a second however many scrape; the pool; the long
//! polls and watches held; readiness) and then renders everything in Prometheus' text format. Every metric is
//! documented in docs/METRICS.md.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gantry_core::state::{ExecutionPhase, NodePhase};
use gantry_engine::Engine;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::Mutex;

use crate::fair_use::FairUseState;

/// Buckets of every `_seconds` histogram: from a fast RPC (100 µs) to a long attempt (an hour).
const SECONDS: [f64; 18] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0,
    3600.0,
];
/// Buckets of the writer's batch sizes.
const COMMANDS: [f64; 11] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0];
/// How long a scrape's counts in the store are reused by the next scrapes.
const COUNTS_REUSED_FOR: Duration = Duration::from_secs(1);
/// The longest a scrape waits for the counts; past it, the gauges keep their last values.
const COUNTS_TIMEOUT: Duration = Duration::from_secs(2);

/// The process's recorder: installed once, by the first server to start. `None` when an embedder installed
/// another recorder of its own first (then `/metrics` says so).
pub fn recorder() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &SECONDS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full("gantry_writer_batch_commands".to_owned()), &COMMANDS)
                })
                .expect("bucket lists are not empty")
                .build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => {
                    metrics::gauge!("gantry_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
                    Some(handle)
                }
                Err(_) => {
                    tracing::warn!("another metrics recorder is installed; /metrics serves nothing");
                    None
                }
            }
        })
        .as_ref()
}

/// What a scrape reads besides the recorder.
#[derive(Debug)]
pub struct Scrape {
    engine: Engine,
    fair_use: FairUseState,
    /// True once the server starts stopping.
    draining: tokio::sync::watch::Receiver<bool>,
    /// When the counts were last read, and the queue and state pairs they named (set to 0 once gone).
    counted: Mutex<Counted>,
}

/// When the store's counts were last read, and the attempts' queue and state pairs they named.
type Counted = (Option<Instant>, BTreeSet<(String, String)>);

impl Scrape {
    pub fn new(engine: Engine, fair_use: FairUseState, draining: tokio::sync::watch::Receiver<bool>) -> Self {
        Scrape {
            engine,
            fair_use,
            draining,
            counted: Mutex::new((None, BTreeSet::new())),
        }
    }

    /// Whether the server takes new work: the store answers and it is not stopping; else why not.
    pub fn readiness(&self) -> Result<(), &'static str> {
        if *self.draining.borrow() {
            Err("draining: the server is stopping")
        } else if !*self.engine.store_reachable().borrow() {
            Err("the database is unreachable")
        } else {
            Ok(())
        }
    }

    /// Sets the gauges and renders every metric in Prometheus' text format.
    pub async fn render(&self) -> Option<String> {
        let handle = recorder()?;
        self.set_gauges().await;
        handle.run_upkeep();
        Some(handle.render())
    }

    async fn set_gauges(&self) {
        metrics::gauge!("gantry_ready").set(if self.readiness().is_ok() { 1.0 } else { 0.0 });
        metrics::gauge!("gantry_draining").set(if *self.draining.borrow() { 1.0 } else { 0.0 });
        metrics::gauge!("gantry_watch_streams").set(f64::from(self.fair_use.watches.total()));
        metrics::gauge!("gantry_polls_waiting").set(f64::from(self.fair_use.polls.total()));
        let pool = self.engine.pool_use();
        metrics::gauge!("gantry_store_connections", "state" => "in_use")
            .set(f64::from(pool.open - pool.idle.min(pool.open)));
        metrics::gauge!("gantry_store_connections", "state" => "idle").set(f64::from(pool.idle));
        self.set_counts().await;
    }

    /// The in-flight gauges from the store's counts, unless read less than a second ago.
    async fn set_counts(&self) {
        let mut counted = self.counted.lock().await;
        if counted.0.is_some_and(|at| at.elapsed() < COUNTS_REUSED_FOR) {
            return;
        }
        let counts = match tokio::time::timeout(COUNTS_TIMEOUT, self.engine.active_counts()).await {
            Ok(Ok(counts)) => counts,
            Ok(Err(error)) => {
                tracing::debug!(%error, "cannot count what is in flight for /metrics");
                return;
            }
            Err(_) => {
                tracing::debug!("counting what is in flight for /metrics took too long");
                return;
            }
        };
        // Every unended phase is set, to 0 when none is in it, so that a phase emptied shows as 0, not as its last
        // value.
        let unended_executions = (ExecutionPhase::ALL.into_iter())
            .filter(|p| !p.is_terminal())
            .map(ExecutionPhase::as_str);
        set_by_phase("gantry_executions", unended_executions, &counts.executions);
        let unended_nodes = (NodePhase::ALL.into_iter())
            .filter(|p| !p.is_terminal())
            .map(NodePhase::as_str);
        set_by_phase("gantry_nodes", unended_nodes, &counts.nodes);
        let mut named = BTreeSet::new();
        for (queue, state, count) in counts.attempts {
            metrics::gauge!("gantry_attempts", "queue" => queue.clone(), "state" => state.clone()).set(count as f64);
            named.insert((queue, state));
        }
        for (queue, state) in counted.1.difference(&named) {
            metrics::gauge!("gantry_attempts", "queue" => queue.clone(), "state" => state.clone()).set(0.0);
        }
        *counted = (Some(Instant::now()), named);
    }
}

/// Sets gauge `name` for each of `phases` from `counts` (0 for a phase with none).
fn set_by_phase(name: &'static str, phases: impl Iterator<Item = &'static str>, counts: &[(String, i64)]) {
    for phase in phases {
        let count = counts.iter().find(|(p, _)| p == phase).map_or(0, |(_, n)| *n);
        metrics::gauge!(name, "phase" => phase).set(count as f64);
    }
}
