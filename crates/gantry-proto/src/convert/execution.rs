//! Phases, cache statuses and execution errors.

use gantry_core::model::{ErrorKind, ExecutionError};
use gantry_core::state::{AttemptPhase, CacheStatus, ExecutionPhase, NodePhase};

use super::{ConversionError, decode_enum};
use crate::v1 as pb;

/// `TryFrom<wire>` rejecting `Unspecified`, and `From<core>`, for enums whose variants have the same names on both
/// sides.
macro_rules! same_name_enum {
    ($wire:ty, $core:ident, $what:literal, [$($variant:ident),+ $(,)?]) => {
        /// `UNSPECIFIED` is rejected.
        impl TryFrom<$wire> for $core {
            type Error = ConversionError;

            fn try_from(value: $wire) -> Result<Self, Self::Error> {
                match value {
                    <$wire>::Unspecified => Err(ConversionError::new("", concat!($what, " is unspecified"))),
                    $(<$wire>::$variant => Ok($core::$variant),)+
                }
            }
        }

        impl From<$core> for $wire {
            fn from(value: $core) -> Self {
                match value {
                    $($core::$variant => <$wire>::$variant,)+
                }
            }
        }
    };
}

same_name_enum!(
    pb::ExecutionPhase,
    ExecutionPhase,
    "execution phase",
    [
        Queued, Running, Succeeding, Succeeded, Failing, Failed, Aborting, Aborted, TimedOut
    ]
);

same_name_enum!(
    pb::NodePhase,
    NodePhase,
    "node phase",
    [
        NotStarted,
        Queued,
        Running,
        RetryWaiting,
        SpecAccepted,
        ChildrenRunning,
        Assembling,
        Succeeded,
        Failing,
        Failed,
        Skipped,
        TimedOut,
        Aborted,
        Recovered,
    ]
);

same_name_enum!(
    pb::AttemptPhase,
    AttemptPhase,
    "attempt phase",
    [Queued, Running, Succeeded, Failed, TimedOut, Aborted]
);

same_name_enum!(
    pb::CacheStatus,
    CacheStatus,
    "cache status",
    [Disabled, Miss, Hit, Populated, Overwritten]
);

same_name_enum!(pb::ErrorKind, ErrorKind, "error kind", [User, System]);

/// `kind` is required.
impl TryFrom<pb::ExecutionError> for ExecutionError {
    type Error = ConversionError;

    fn try_from(error: pb::ExecutionError) -> Result<Self, Self::Error> {
        Ok(ExecutionError {
            kind: decode_enum::<pb::ErrorKind, _>("kind", error.kind)?,
            recoverable: error.recoverable,
            code: error.code,
            message: error.message,
            node_id: error.node_id,
        })
    }
}

impl From<ExecutionError> for pb::ExecutionError {
    fn from(error: ExecutionError) -> Self {
        pb::ExecutionError {
            kind: pb::ErrorKind::from(error.kind) as i32,
            recoverable: error.recoverable,
            code: error.code,
            message: error.message,
            node_id: error.node_id,
        }
    }
}
