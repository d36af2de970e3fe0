//! Task templates: the unit of work a worker runs.

use std::collections::BTreeMap;

use super::identifier::Identifier;
use super::interface::TypedInterface;
use super::literal::Duration;

/// Retry budgets, counted separately for user errors and system errors, with exponential backoff between attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after a recoverable user error (the task raised and said it may be retried).
    pub user_retries: u32,
    /// Retries after a system error (lost worker, expired lease, infrastructure failure).
    pub system_retries: u32,
    /// Delay before the first retry; doubled each time up to `max_backoff`.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            user_retries: 0,
            system_retries: 3,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// How a task behaves when it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMetadata {
    pub retries: RetryPolicy,
    /// Limit on one attempt's running time, from its claim; `None` means no limit.
    pub timeout: Option<Duration>,
    /// Limit on the time an attempt may wait queued (from when it becomes claimable) before a worker claims it;
    /// `None` means no limit.
    pub queue_timeout: Option<Duration>,
    pub cache: bool,
    /// Part of the cache key: bump it to invalidate earlier entries.
    pub cache_version: String,
    /// With caching on, only one holder of a cache key runs at a time; the others wait and read the cache.
    pub cache_serializable: bool,
    /// The queue whose workers run this task.
    pub queue: String,
}

impl Default for TaskMetadata {
    fn default() -> Self {
        TaskMetadata {
            retries: RetryPolicy::default(),
            timeout: None,
            queue_timeout: None,
            cache: false,
            cache_version: String::new(),
            cache_serializable: false,
            queue: "default".to_owned(),
        }
    }
}

/// How a container task is started, for workers that run containers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContainerSpec {
    pub image: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub resources: Resources,
}

/// Compute resources as the container runtime spells them; passed through uninterpreted. Empty means none stated.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Resources {
    pub requests: BTreeMap<String, String>,
    pub limits: BTreeMap<String, String>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.limits.is_empty()
    }
}

/// The largest plugin payload accepted, in bytes of its protobuf encoding (type, custom and config together): a
/// Flyte task's config fits in a few KiB, and a poll of many assignments must still fit in one message.
pub const MAX_PLUGIN_BYTES: usize = 64 * 1024;

/// A foreign task system's description of a task (a Flyte task's type, custom config and config map, carried for
/// the flytekit bridge): stored and handed to workers untouched, never interpreted by Gantry. When present it is part
/// of the task's cache key, since it changes what the worker runs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskPlugin {
    /// The foreign task type, e.g. Flyte's `python-task`; never empty.
    pub task_type: String,
    /// The foreign system's own encoded configuration, kept byte for byte.
    pub custom: Vec<u8>,
    /// Further settings as strings.
    pub config: BTreeMap<String, String>,
}

/// A registered (or spec-embedded) task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTemplate {
    pub id: Identifier,
    pub interface: TypedInterface,
    pub metadata: TaskMetadata,
    pub container: Option<ContainerSpec>,
    /// A foreign task system's payload for the worker, if the task comes from one.
    pub plugin: Option<TaskPlugin>,
}
