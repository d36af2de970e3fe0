//! What a gate node does with the passing of time and with a signal's value: pure rules the engine applies when it
//! arms a gate, when the sweeper finds its deadline passed, and when a client sets a signal.

use crate::model::{Duration, ExecutionError, GateCondition, GateNode, Literal, LiteralMap};
use crate::names;
use crate::resolve::conform;

use super::node::NodeEvent;

/// When a gate started at `started_ms` stops waiting: the end of its sleep, or of its timeout (`None`: never).
pub fn deadline(gate: &GateNode, started_ms: i64) -> Option<i64> {
    let wait = match &gate.condition {
        GateCondition::Sleep(duration) => Some(*duration),
        GateCondition::Signal { .. } | GateCondition::Approve { .. } => gate.timeout,
    };
    wait.map(|wait| started_ms.saturating_add(wait.as_millis()))
}

/// What a passed deadline makes of a running gate: a sleep is over, a signal or approval timed out.
pub fn deadline_passed(gate: &GateNode) -> NodeEvent {
    let waited = match (&gate.condition, gate.timeout) {
        (GateCondition::Sleep(_), _) => return NodeEvent::GateOpened,
        (GateCondition::Signal { id, .. }, timeout) => (format!("signal {}", names::quote(id)), timeout),
        (GateCondition::Approve { id }, timeout) => (format!("approval {}", names::quote(id)), timeout),
    };
    let (what, timeout) = waited;
    let within = timeout.map(describe).unwrap_or_default();
    NodeEvent::GateExpired {
        error: ExecutionError::user("gate_timeout", format!("the {what} was not given within {within}"))
            .recoverable(false),
    }
}

/// What a signal's value does to a gate waiting for it.
#[derive(Debug, Clone, PartialEq)]
pub enum SignalOutcome {
    /// The gate succeeds with these outputs (the engine stores them, then applies [`NodeEvent::GateOpened`]).
    Opened(LiteralMap),
    /// The approval was refused ([`NodeEvent::GateRejected`]).
    Rejected(NodeEvent),
}

/// The value `value` of the signal a gate waits for, given the gate's resolved `inputs` (an approval's one value):
/// the gate's outcome, or why the value does not fit the gate's type (the signal is then refused and nothing
/// changes).
pub fn signal_received(gate: &GateNode, value: &Literal, inputs: &LiteralMap) -> Result<SignalOutcome, String> {
    match &gate.condition {
        GateCondition::Sleep(_) => Err("a sleep waits for no signal".to_owned()),
        GateCondition::Signal { ty, output, .. } => {
            let value = conform(value.clone(), ty).map_err(|error| error.to_string())?;
            Ok(SignalOutcome::Opened(LiteralMap::from([(output.clone(), value)])))
        }
        GateCondition::Approve { id } => match value.bare() {
            Literal::Boolean(true) => Ok(SignalOutcome::Opened(inputs.clone())),
            Literal::Boolean(false) => Ok(SignalOutcome::Rejected(NodeEvent::GateRejected {
                error: ExecutionError::user(
                    "gate_rejected",
                    format!("the approval {} was refused", names::quote(id)),
                )
                .recoverable(false),
            })),
            other => Err(format!("expected boolean, got {}", other.kind_name())),
        },
    }
}

/// What becomes of a gate that starts after its signal was set to a value it cannot take (set for another gate of
/// the execution, of another type): it fails, saying why.
pub fn set_signal_refused(signal_id: &str, problem: &str) -> NodeEvent {
    NodeEvent::GateRejected {
        error: ExecutionError::user(
            "gate_signal_type",
            format!(
                "signal {} was set to a value this gate cannot take: {problem}",
                names::quote(signal_id)
            ),
        )
        .recoverable(false),
    }
}

/// A duration as people read it: `90s`, `1500ms`.
fn describe(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis % 1000 == 0 {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LiteralType;

    fn signal(ty: LiteralType, timeout: Option<Duration>) -> GateNode {
        GateNode {
            condition: GateCondition::Signal {
                id: "title".into(),
                ty,
                output: "o0".into(),
            },
            timeout,
        }
    }

    fn approve() -> GateNode {
        GateNode {
            condition: GateCondition::Approve { id: "ok".into() },
            timeout: Some(Duration::from_millis(1500)),
        }
    }

    #[test]
    fn a_sleep_ends_at_its_duration_and_opens() {
        let gate = GateNode {
            condition: GateCondition::Sleep(Duration::from_secs(2)),
            timeout: None,
        };
        assert_eq!(deadline(&gate, 1_000), Some(3_000));
        assert_eq!(deadline_passed(&gate), NodeEvent::GateOpened);
    }

    #[test]
    fn a_signal_times_out_naming_it_and_the_timeout() {
        let gate = signal(LiteralType::String, Some(Duration::from_secs(90)));
        assert_eq!(deadline(&gate, 10), Some(90_010));
        let NodeEvent::GateExpired { error } = deadline_passed(&gate) else {
            panic!("expected an expiry");
        };
        assert_eq!(error.code, "gate_timeout");
        assert_eq!(error.message, "the signal \"title\" was not given within 90s");
        assert!(!error.recoverable);
        assert_eq!(deadline(&signal(LiteralType::String, None), 10), None);
    }

    #[test]
    fn an_approval_times_out_in_milliseconds_when_not_whole_seconds() {
        let NodeEvent::GateExpired { error } = deadline_passed(&approve()) else {
            panic!("expected an expiry");
        };
        assert_eq!(error.message, "the approval \"ok\" was not given within 1500ms");
    }

    #[test]
    fn a_signal_value_becomes_the_output_once_it_fits() {
        let gate = signal(LiteralType::Integer, None);
        let opened = signal_received(&gate, &Literal::Integer(3), &LiteralMap::new());
        assert_eq!(
            opened,
            Ok(SignalOutcome::Opened(LiteralMap::from([(
                "o0".into(),
                Literal::Integer(3)
            )])))
        );
        let refused = signal_received(&gate, &Literal::String("3".into()), &LiteralMap::new()).unwrap_err();
        assert!(refused.contains("expected integer, got string"), "{refused}");
    }

    #[test]
    fn an_approval_passes_its_input_on_or_fails() {
        let inputs = LiteralMap::from([("report".into(), Literal::String("draft".into()))]);
        assert_eq!(
            signal_received(&approve(), &Literal::Boolean(true), &inputs),
            Ok(SignalOutcome::Opened(inputs.clone()))
        );
        let Ok(SignalOutcome::Rejected(NodeEvent::GateRejected { error })) =
            signal_received(&approve(), &Literal::Boolean(false), &inputs)
        else {
            panic!("expected a refusal");
        };
        assert_eq!(
            (error.code.as_str(), error.message.as_str()),
            ("gate_rejected", "the approval \"ok\" was refused")
        );
        assert_eq!(
            signal_received(&approve(), &Literal::Integer(1), &inputs),
            Err("expected boolean, got integer".to_owned())
        );
    }
}
