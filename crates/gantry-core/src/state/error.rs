//! The one error type of the state machines.

/// An event that the machine's transition table has no row for, or that it must refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// No row of the table matches: the event makes no sense in this phase.
    #[error("{machine} in phase {phase} cannot take event {event}")]
    Invalid {
        machine: &'static str,
        phase: &'static str,
        event: &'static str,
    },
    /// A completion or heartbeat for an attempt that is already terminal (completed, expired, aborted).
    #[error("attempt is already {phase}; {event} refused")]
    AlreadyTerminal { phase: &'static str, event: &'static str },
    /// A completion or heartbeat from a worker that does not hold the attempt's lease.
    /// The message names the caller only: under authentication a holder's id names the key that claimed the lease,
    /// which the caller has no business learning.
    #[error("attempt is leased to another worker, not {caller:?}")]
    NotLeaseHolder { holder: String, caller: String },
    /// A completion or heartbeat that arrived after the lease expired.
    #[error("lease expired at {expired_at_ms} ms, event at {now_ms} ms")]
    LeaseExpired { expired_at_ms: i64, now_ms: i64 },
    /// A claim, heartbeat or completion that arrived after the attempt's deadline (its queue or attempt timeout).
    #[error("the attempt's deadline passed at {deadline_ms} ms, event at {now_ms} ms")]
    DeadlinePassed { deadline_ms: i64, now_ms: i64 },
}
