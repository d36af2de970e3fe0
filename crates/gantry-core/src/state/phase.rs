//! The phases of executions, nodes and attempts, and which of them are terminal.

use std::fmt;

/// The phase of an execution. `Succeeded`, `Failed`, `Aborted` and `TimedOut` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExecutionPhase {
    Queued,
    Running,
    /// Every node is done; the execution's outputs are being assembled.
    Succeeding,
    Succeeded,
    /// A node failed; running nodes are being aborted (or, with `FailAfterExecutableNodesComplete`, finished).
    Failing,
    Failed,
    /// Termination was asked for; running descendants are being aborted.
    Aborting,
    Aborted,
    TimedOut,
}

/// The phase of a node execution. `Succeeded`, `Failed`, `Skipped`, `TimedOut`, `Aborted` and `Recovered` are
/// terminal. `SpecAccepted`, `ChildrenRunning` and `Assembling` are the sub-phases of a dynamic (or any composite)
/// node after its generator step returned a spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodePhase {
    /// Waiting for upstream nodes.
    NotStarted,
    /// Inputs resolved; an attempt is queued for a worker.
    Queued,
    /// An attempt runs on a worker (for a dynamic task: the generator step).
    Running,
    /// The last attempt failed with a retryable error; the next one is queued after a backoff.
    RetryWaiting,
    /// The generator returned a spec that compiled and was persisted; children are being created.
    SpecAccepted,
    /// Children (of a dynamic spec, sub-workflow, branch or array) are running.
    ChildrenRunning,
    /// Every child is terminal; the node's outputs are being assembled from the spec's bindings.
    Assembling,
    Succeeded,
    /// The node has failed; running children are being aborted before it becomes `Failed`.
    Failing,
    Failed,
    /// Not run: an untaken branch, or downstream of a node that failed under `FailAfterExecutableNodesComplete`.
    Skipped,
    TimedOut,
    Aborted,
    /// Outputs copied from an earlier execution by recover.
    Recovered,
}

/// The phase of one attempt of a task node. `Succeeded`, `Failed`, `TimedOut` and `Aborted` are terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AttemptPhase {
    /// Waiting for a worker of its queue to claim it.
    Queued,
    /// Claimed by a worker under a lease.
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

/// Whether a node's result came from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CacheStatus {
    /// The task does not cache.
    #[default]
    Disabled,
    /// No entry was found; the task ran.
    Miss,
    /// An entry was found; the task did not run.
    Hit,
    /// The task ran and its outputs were written to the cache.
    Populated,
    /// `overwrite_cache` was set: the lookup was skipped and the entry replaced.
    Overwritten,
}

impl ExecutionPhase {
    pub const ALL: [ExecutionPhase; 9] = [
        ExecutionPhase::Queued,
        ExecutionPhase::Running,
        ExecutionPhase::Succeeding,
        ExecutionPhase::Succeeded,
        ExecutionPhase::Failing,
        ExecutionPhase::Failed,
        ExecutionPhase::Aborting,
        ExecutionPhase::Aborted,
        ExecutionPhase::TimedOut,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ExecutionPhase::Succeeded | ExecutionPhase::Failed | ExecutionPhase::Aborted | ExecutionPhase::TimedOut
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionPhase::Queued => "queued",
            ExecutionPhase::Running => "running",
            ExecutionPhase::Succeeding => "succeeding",
            ExecutionPhase::Succeeded => "succeeded",
            ExecutionPhase::Failing => "failing",
            ExecutionPhase::Failed => "failed",
            ExecutionPhase::Aborting => "aborting",
            ExecutionPhase::Aborted => "aborted",
            ExecutionPhase::TimedOut => "timed_out",
        }
    }
}

impl NodePhase {
    pub const ALL: [NodePhase; 14] = [
        NodePhase::NotStarted,
        NodePhase::Queued,
        NodePhase::Running,
        NodePhase::RetryWaiting,
        NodePhase::SpecAccepted,
        NodePhase::ChildrenRunning,
        NodePhase::Assembling,
        NodePhase::Succeeded,
        NodePhase::Failing,
        NodePhase::Failed,
        NodePhase::Skipped,
        NodePhase::TimedOut,
        NodePhase::Aborted,
        NodePhase::Recovered,
    ];

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            NodePhase::Succeeded
                | NodePhase::Failed
                | NodePhase::Skipped
                | NodePhase::TimedOut
                | NodePhase::Aborted
                | NodePhase::Recovered
        )
    }

    /// Terminal with outputs downstream nodes may read.
    pub fn is_success(self) -> bool {
        matches!(self, NodePhase::Succeeded | NodePhase::Recovered)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NodePhase::NotStarted => "not_started",
            NodePhase::Queued => "queued",
            NodePhase::Running => "running",
            NodePhase::RetryWaiting => "retry_waiting",
            NodePhase::SpecAccepted => "spec_accepted",
            NodePhase::ChildrenRunning => "children_running",
            NodePhase::Assembling => "assembling",
            NodePhase::Succeeded => "succeeded",
            NodePhase::Failing => "failing",
            NodePhase::Failed => "failed",
            NodePhase::Skipped => "skipped",
            NodePhase::TimedOut => "timed_out",
            NodePhase::Aborted => "aborted",
            NodePhase::Recovered => "recovered",
        }
    }
}

impl AttemptPhase {
    pub const ALL: [AttemptPhase; 6] = [
        AttemptPhase::Queued,
        AttemptPhase::Running,
        AttemptPhase::Succeeded,
        AttemptPhase::Failed,
        AttemptPhase::TimedOut,
        AttemptPhase::Aborted,
    ];

    pub fn is_terminal(self) -> bool {
        !matches!(self, AttemptPhase::Queued | AttemptPhase::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AttemptPhase::Queued => "queued",
            AttemptPhase::Running => "running",
            AttemptPhase::Succeeded => "succeeded",
            AttemptPhase::Failed => "failed",
            AttemptPhase::TimedOut => "timed_out",
            AttemptPhase::Aborted => "aborted",
        }
    }
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Disabled => "disabled",
            CacheStatus::Miss => "miss",
            CacheStatus::Hit => "hit",
            CacheStatus::Populated => "populated",
            CacheStatus::Overwritten => "overwritten",
        }
    }
}

impl CacheStatus {
    pub const ALL: [CacheStatus; 5] = [
        CacheStatus::Disabled,
        CacheStatus::Miss,
        CacheStatus::Hit,
        CacheStatus::Populated,
        CacheStatus::Overwritten,
    ];
}

/// A phase name that is not one of the phases of its machine (read from storage or a request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {machine} phase {name:?}")]
pub struct UnknownPhase {
    pub machine: &'static str,
    pub name: String,
}

macro_rules! phase_names {
    ($($t:ident => $machine:literal),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $t {
            type Err = UnknownPhase;

            fn from_str(name: &str) -> Result<Self, UnknownPhase> {
                $t::ALL.into_iter().find(|p| p.as_str() == name).ok_or_else(|| UnknownPhase {
                    machine: $machine,
                    name: name.to_owned(),
                })
            }
        }
    )*};
}
phase_names!(ExecutionPhase => "execution", NodePhase => "node", AttemptPhase => "attempt", CacheStatus => "cache status");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_terminal_sets_are_as_documented() {
        for p in ExecutionPhase::ALL {
            assert_eq!(p.as_str().parse::<ExecutionPhase>(), Ok(p));
        }
        for p in NodePhase::ALL {
            assert_eq!(p.as_str().parse::<NodePhase>(), Ok(p));
        }
        for p in AttemptPhase::ALL {
            assert_eq!(p.as_str().parse::<AttemptPhase>(), Ok(p));
        }
        for p in CacheStatus::ALL {
            assert_eq!(p.as_str().parse::<CacheStatus>(), Ok(p));
        }
        assert!("bogus".parse::<NodePhase>().is_err());
        let terminal: Vec<_> = NodePhase::ALL.into_iter().filter(|p| p.is_terminal()).collect();
        assert_eq!(terminal.len(), 6);
        assert_eq!(ExecutionPhase::ALL.into_iter().filter(|p| p.is_terminal()).count(), 4);
        assert_eq!(AttemptPhase::ALL.into_iter().filter(|p| p.is_terminal()).count(), 4);
    }
}
