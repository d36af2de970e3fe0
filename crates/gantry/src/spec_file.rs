//! The files `gantry register` reads: YAML (or JSON) holding tasks, workflows and launch plans.
//!
//! ```yaml
//! project: demo          # defaults for every entry below; each entry may set its own
//! domain: dev
//! version: "1"
//! tasks:
//!   - name: other_task
//!     inputs: {index: integer}                  # name: type, in declaration order
//!     outputs: {other_task_out: integer}
//!     queue: default
//!     retries: {user: 0, system: 3}             # also initial_backoff / max_backoff: "100ms"
//!     timeout: 5m                               # per attempt; queue_timeout: time allowed in the queue
//!     cache_version: "1"                        # implies cache: true
//!   - name: scale
//!     inputs:
//!       factor: {type: float, default: 2.0, description: multiplier}
//! workflows:
//!   - name: twice
//!     inputs: {x: integer}
//!     nodes:
//!       - id: a
//!         task: other_task                      # or demo/dev/other_task@1; or workflow: / launch_plan:
//!         inputs: {index: {from: inputs.x}}
//!       - id: b
//!         task: other_task
//!         inputs: {index: {from: a.other_task_out}}
//!     outputs:
//!       y: {type: integer, from: b.other_task_out}
//!     failure_policy: fail_immediately          # or fail_after_executable_nodes_complete
//! launch_plans:
//!   - name: five_others
//!     task: generate_others                     # or workflow:
//!     default_inputs: {tasks_count: 5}
//!     fixed_inputs: {}
//!     max_parallelism: 10
//!   - name: nightly
//!     task: report
//!     schedule:                                 # registered inactive: `gantry schedule activate`
//!       cron: "0 2 * * *"                       # or fixed_rate: 10m
//!       time_zone: Europe/Paris                 # IANA; UTC when absent
//!       kickoff_input: at                       # a datetime input that gets the tick's time
//!       catch_up: run_missed                    # or skip (the default): only the latest missed tick runs
//!       catch_up_limit: 3                       # with run_missed: how many of the latest missed ticks run
//! ```
//!
//! A binding (node input, workflow output) is a plain value (a literal of the declared type), `{from: node.output}`
//! (a promise, optionally with a path such as `a.out[0]["k"]`; `inputs.x` reads the workflow's input `x`),
//! `{list: [binding, ...]}`, `{map: {key: binding}}`, or `{value: literal}` to pass an object that would otherwise
//! look like one of these forms. Types are spelled as in [`gantry_text::types`].

use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

use anyhow::Context;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

/// One file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecFile {
    /// The project of entries that name none.
    pub project: Option<Text>,
    /// The domain of entries that name none.
    pub domain: Option<Text>,
    /// The version of entries that name none.
    pub version: Option<Text>,
    /// Task templates.
    #[serde(default)]
    pub tasks: Vec<TaskSpec>,
    /// Workflow templates.
    #[serde(default)]
    pub workflows: Vec<WorkflowSpec>,
    /// Launch plans.
    #[serde(default)]
    pub launch_plans: Vec<LaunchPlanSpec>,
}

/// A task template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskSpec {
    /// Overrides the file's project.
    pub project: Option<Text>,
    /// Overrides the file's domain.
    pub domain: Option<Text>,
    /// The name.
    pub name: String,
    /// Overrides the file's version.
    pub version: Option<Text>,
    /// `name: type` or `name: {type, default, description}` (for nodes: `name: binding`), in order.
    #[serde(default)]
    pub inputs: OrderedMap<Value>,
    /// `name: type` (for workflows: `name: {type, from: ...}`), in order.
    #[serde(default)]
    pub outputs: OrderedMap<Value>,
    /// The queue whose workers run it (`default`).
    pub queue: Option<String>,
    /// Retry budgets and backoff.
    pub retries: Option<RetriesSpec>,
    /// Limit on one attempt, such as `5m`.
    pub timeout: Option<Text>,
    /// Limit on the time an attempt may wait queued before a worker claims it, such as `10m`.
    pub queue_timeout: Option<Text>,
    /// Memoise outputs; on by default when `cache_version` is set.
    pub cache: Option<bool>,
    /// Part of the cache key.
    pub cache_version: Option<Text>,
    /// One holder of a cache key runs at a time.
    #[serde(default)]
    pub cache_serializable: bool,
    /// How container workers start it.
    pub container: Option<ContainerSpec>,
}

/// Retry budgets and backoff.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetriesSpec {
    /// Retries after recoverable user errors (0).
    #[serde(default)]
    pub user: u32,
    /// Retries after system errors (3).
    #[serde(default = "default_system_retries")]
    pub system: u32,
    /// The first delay (`100ms`).
    pub initial_backoff: Option<Text>,
    /// The longest delay (`60s`).
    pub max_backoff: Option<Text>,
}

fn default_system_retries() -> u32 {
    3
}

/// How container workers start the task.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// The image.
    pub image: String,
    /// The entrypoint; empty keeps the image's.
    #[serde(default)]
    pub command: Vec<String>,
    /// Arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

/// A workflow template.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    /// Overrides the file's project.
    pub project: Option<Text>,
    /// Overrides the file's domain.
    pub domain: Option<Text>,
    /// The name.
    pub name: String,
    /// Overrides the file's version.
    pub version: Option<Text>,
    /// `name: type` or `name: {type, default, description}` (for nodes: `name: binding`), in order.
    #[serde(default)]
    pub inputs: OrderedMap<Value>,
    /// Each output: `{type: T, from: ...}` (or another binding form).
    #[serde(default)]
    pub outputs: OrderedMap<Value>,
    /// The nodes.
    pub nodes: Vec<NodeSpec>,
    /// `fail_immediately` (default) or `fail_after_executable_nodes_complete`.
    pub failure_policy: Option<String>,
}

/// A node of a workflow: exactly one of `task`, `workflow`, `launch_plan`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Unique within the workflow.
    pub id: String,
    /// A task to run: `name`, `name@version` or `project/domain/name@version`.
    pub task: Option<String>,
    /// A workflow to run (as a sub-workflow, or as a launch plan's target).
    pub workflow: Option<String>,
    /// A launch plan to start as a child execution.
    pub launch_plan: Option<String>,
    /// `name: type` or `name: {type, default, description}` (for nodes: `name: binding`), in order.
    #[serde(default)]
    pub inputs: OrderedMap<Value>,
    /// Nodes to wait for although no binding says so.
    #[serde(default)]
    pub upstream: Vec<String>,
    /// Retry budgets and backoff.
    pub retries: Option<RetriesSpec>,
    /// Limit on one attempt, such as `5m`.
    pub timeout: Option<Text>,
}

/// A launch plan: exactly one of `task`, `workflow`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchPlanSpec {
    /// Overrides the file's project.
    pub project: Option<Text>,
    /// Overrides the file's domain.
    pub domain: Option<Text>,
    /// The name.
    pub name: String,
    /// Overrides the file's version.
    pub version: Option<Text>,
    /// A task to run: `name`, `name@version` or `project/domain/name@version`.
    pub task: Option<String>,
    /// A workflow to run (as a sub-workflow, or as a launch plan's target).
    pub workflow: Option<String>,
    /// Inputs used when the caller gives none.
    #[serde(default)]
    pub default_inputs: OrderedMap<Value>,
    /// Inputs the caller cannot change.
    #[serde(default)]
    pub fixed_inputs: OrderedMap<Value>,
    /// Limit on task nodes running at once.
    pub max_parallelism: Option<u32>,
    /// Limit on the running time of the executions it starts, such as `1h`.
    pub timeout: Option<Text>,
    /// When it runs by itself, once activated.
    pub schedule: Option<ScheduleSpec>,
}

/// A launch plan's schedule: exactly one of `cron`, `fixed_rate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// A cron expression: five fields, or six with seconds first.
    pub cron: Option<String>,
    /// The cron expression's IANA time zone; UTC when absent.
    pub time_zone: Option<String>,
    /// Every so long from the activation, such as `10m`.
    pub fixed_rate: Option<Text>,
    /// A datetime input of the target that gets the tick's time.
    pub kickoff_input: Option<String>,
    /// `skip` (the default) or `run_missed`.
    #[serde(default)]
    pub catch_up: CatchUpSpec,
    /// With `run_missed`, how many of the latest missed ticks run.
    pub catch_up_limit: Option<u32>,
}

/// What becomes of ticks missed while no server ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUpSpec {
    /// Only the latest tick due runs.
    #[default]
    Skip,
    /// The latest `catch_up_limit` ticks due run.
    RunMissed,
}

/// A scalar read as text, so that `version: 1` and `version: "1"` mean the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(s) => Ok(Text(s)),
            Value::Number(n) => Ok(Text(n.to_string())),
            Value::Bool(b) => Ok(Text(b.to_string())),
            other => Err(serde::de::Error::custom(format!("expected a string, got {other}"))),
        }
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A map that keeps the file's order (an interface's declaration order) and rejects duplicate keys.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for OrderedMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for OrderedVisitor<V> {
            type Value = OrderedMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(OrderedMap::default())
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some((key, value)) = access.next_entry::<String, V>()? {
                    if entries.iter().any(|(existing, _)| *existing == key) {
                        return Err(serde::de::Error::custom(format!("duplicate key {key:?}")));
                    }
                    entries.push((key, value));
                }
                Ok(OrderedMap(entries))
            }
        }

        deserializer.deserialize_any(OrderedVisitor(PhantomData))
    }
}

/// Reads a file: JSON when it ends in `.json`, YAML otherwise.
pub fn read_spec_file(path: &Path) -> anyhow::Result<SpecFile> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_spec(&text, path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")))
        .with_context(|| format!("in {}", path.display()))
}

/// Parses the text of a file.
pub fn parse_spec(text: &str, json: bool) -> anyhow::Result<SpecFile> {
    let file: SpecFile = if json {
        serde_json::from_str(text)?
    } else {
        serde_norway::from_str(text)?
    };
    if file.tasks.is_empty() && file.workflows.is_empty() && file.launch_plans.is_empty() {
        anyhow::bail!("no tasks, workflows or launch_plans");
    }
    Ok(file)
}
