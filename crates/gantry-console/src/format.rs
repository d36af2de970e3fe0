//! How the console writes the wire's values: phases, kinds and cache statuses as short lowercase words (also CSS
//! classes), identifiers as `project/domain/name@version`, times as RFC 3339 and durations as `1m30s`.

use gantry_proto::v1 as pb;
use gantry_text::time_text::{format_duration, format_timestamp};
use prost_types::Timestamp;

/// `EXECUTION_PHASE_TIMED_OUT` → `timed_out`.
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_ascii_lowercase()
}

/// An execution phase's word.
pub fn execution_phase(raw: i32) -> String {
    pb::ExecutionPhase::try_from(raw)
        .map_or_else(|_| "unknown".to_owned(), |p| short(p.as_str_name(), "EXECUTION_PHASE_"))
}

/// A node phase's word.
pub fn node_phase(raw: i32) -> String {
    pb::NodePhase::try_from(raw).map_or_else(|_| "unknown".to_owned(), |p| short(p.as_str_name(), "NODE_PHASE_"))
}

/// An attempt phase's word.
pub fn attempt_phase(raw: i32) -> String {
    pb::AttemptPhase::try_from(raw).map_or_else(|_| "unknown".to_owned(), |p| short(p.as_str_name(), "ATTEMPT_PHASE_"))
}

/// A cache status's word (`disabled` for none).
pub fn cache_status(raw: i32) -> String {
    pb::CacheStatus::try_from(raw).map_or_else(|_| "unknown".to_owned(), |p| short(p.as_str_name(), "CACHE_STATUS_"))
}

/// What a node runs: `task`, `dynamic` (a task whose generator returned a spec), `sub_workflow`, `launch_plan`,
/// `branch` or `array`.
pub fn node_kind(node: &pb::NodeExecution) -> String {
    if node.is_dynamic_parent {
        return "dynamic".to_owned();
    }
    pb::NodeKind::try_from(node.kind).map_or_else(|_| "unknown".to_owned(), |k| short(k.as_str_name(), "NODE_KIND_"))
}

/// Whether an execution phase is final.
pub fn execution_is_terminal(raw: i32) -> bool {
    matches!(
        pb::ExecutionPhase::try_from(raw),
        Ok(pb::ExecutionPhase::Succeeded
            | pb::ExecutionPhase::Failed
            | pb::ExecutionPhase::Aborted
            | pb::ExecutionPhase::TimedOut)
    )
}

/// Whether a node phase is final.
pub fn node_is_terminal(raw: i32) -> bool {
    matches!(
        pb::NodePhase::try_from(raw),
        Ok(pb::NodePhase::Succeeded
            | pb::NodePhase::Failed
            | pb::NodePhase::Skipped
            | pb::NodePhase::TimedOut
            | pb::NodePhase::Aborted
            | pb::NodePhase::Recovered)
    )
}

/// `project/domain/name@version`, or `—` when absent.
pub fn identifier(id: Option<&pb::Identifier>) -> String {
    match id {
        Some(id) => format!("{}/{}/{}@{}", id.project, id.domain, id.name, id.version),
        None => "—".to_owned(),
    }
}

/// `name@version`, the short form used in tables.
pub fn short_identifier(id: Option<&pb::Identifier>) -> String {
    match id {
        Some(id) => format!("{}@{}", id.name, id.version),
        None => "—".to_owned(),
    }
}

/// A time as RFC 3339, or `—`.
pub fn timestamp(at: Option<&Timestamp>) -> String {
    match at {
        Some(at) => format_timestamp(gantry_core::model::Timestamp {
            seconds: at.seconds,
            nanos: at.nanos,
        }),
        None => "—".to_owned(),
    }
}

/// How long from `start` to `end`, to the millisecond (`1.25s`); `—` unless both are known.
pub fn duration(start: Option<&Timestamp>, end: Option<&Timestamp>) -> String {
    let (Some(start), Some(end)) = (start, end) else {
        return "—".to_owned();
    };
    let nanos = (i128::from(end.seconds) * 1_000_000_000 + i128::from(end.nanos))
        - (i128::from(start.seconds) * 1_000_000_000 + i128::from(start.nanos));
    let millis = nanos / 1_000_000;
    let seconds = i64::try_from(millis.div_euclid(1000)).unwrap_or(i64::MAX);
    let nanos = i32::try_from(millis.rem_euclid(1000) * 1_000_000).unwrap_or(0);
    format_duration(gantry_core::model::Duration { seconds, nanos })
}

/// A node's own id within its parent: the last part of a scoped id (`dn3` of `n0/1/dn3`).
pub fn local_id(scoped: &str) -> &str {
    scoped.rsplit('/').next().unwrap_or(scoped)
}

/// An error as one line: `USER user_error: message`.
pub fn error_line(error: &pb::ExecutionError) -> String {
    let kind = pb::ErrorKind::try_from(error.kind)
        .map_or_else(|_| "unknown".to_owned(), |k| short(k.as_str_name(), "ERROR_KIND_"));
    format!("{kind} error {}: {}", error.code, error.message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64, nanos: i32) -> Timestamp {
        Timestamp { seconds, nanos }
    }

    #[test]
    fn phases_are_short_words() {
        assert_eq!(execution_phase(pb::ExecutionPhase::TimedOut as i32), "timed_out");
        assert_eq!(node_phase(pb::NodePhase::ChildrenRunning as i32), "children_running");
        assert_eq!(cache_status(pb::CacheStatus::Hit as i32), "hit");
        assert_eq!(attempt_phase(99), "unknown");
        assert!(execution_is_terminal(pb::ExecutionPhase::Aborted as i32));
        assert!(!execution_is_terminal(pb::ExecutionPhase::Aborting as i32));
        assert!(node_is_terminal(pb::NodePhase::Recovered as i32));
        assert!(!node_is_terminal(pb::NodePhase::Assembling as i32));
    }

    #[test]
    fn dynamic_parents_are_called_dynamic() {
        let mut node = pb::NodeExecution {
            kind: pb::NodeKind::Task as i32,
            ..Default::default()
        };
        assert_eq!(node_kind(&node), "task");
        node.is_dynamic_parent = true;
        assert_eq!(node_kind(&node), "dynamic");
    }

    #[test]
    fn durations_are_measured_to_the_millisecond() {
        assert_eq!(duration(Some(&at(10, 0)), Some(&at(11, 250_000_000))), "1.25s");
        assert_eq!(duration(Some(&at(10, 900_000_000)), Some(&at(100, 0))), "89.1s");
        assert_eq!(duration(Some(&at(10, 0)), None), "—");
    }

    #[test]
    fn scoped_ids_show_their_last_part() {
        assert_eq!(local_id("n0/1/dn3"), "dn3");
        assert_eq!(local_id("n0"), "n0");
    }
}
