//! The signals of an execution as its clients see them: what its running gates wait for, and what was set.

use gantry_core::model::{LiteralType, NodeTarget};
use gantry_core::state::NodePhase;
use gantry_proto::v1 as pb;
use prost::Message;
use uuid::Uuid;

use crate::Engine;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::shared::Shared;

/// A signal of an execution and the gate that waits for it (one record per gate; a set signal no running gate
/// waits for has an empty `node_id`).
#[derive(Debug, Clone, PartialEq)]
pub struct SignalRecord {
    pub signal_id: String,
    /// The scoped id of the waiting gate; empty when none waits.
    pub node_id: String,
    /// The type a value must have (for a set signal, its value's).
    pub ty: Option<LiteralType>,
    pub approval: bool,
    /// When the gate stops waiting.
    pub deadline_ms: Option<i64>,
    /// The value, once set, as stored.
    pub value: Option<pb::Literal>,
    pub set_at_ms: Option<i64>,
    pub set_by: String,
}

impl Engine {
    /// The signals of execution `id`, by signal id then node id. NOT_FOUND when there is no such execution.
    pub async fn list_signals(&self, id: Uuid) -> EngineResult<Vec<SignalRecord>> {
        list(&self.shared, id).await
    }
}

/// See [`Engine::list_signals`].
pub(crate) async fn list(shared: &Shared, id: Uuid) -> EngineResult<Vec<SignalRecord>> {
    let store = &shared.store;
    if store.get_execution(id).await?.is_none() {
        return Err(EngineError::NotFound(format!("execution {id} not found")));
    }
    let mut records = Vec::new();
    for gate in store.gates_of(id).await? {
        let Some(signal_id) = gate.signal_id else { continue };
        let Some(node) = store.get_node(id, &gate.node_id).await? else {
            continue;
        };
        if node.phase != NodePhase::Running {
            continue;
        }
        let NodeTarget::Gate(definition) = codec::decode_node(&node.definition)?.target else {
            continue;
        };
        records.push(SignalRecord {
            ty: definition.condition.signal_type(),
            approval: matches!(definition.condition, gantry_core::model::GateCondition::Approve { .. }),
            signal_id,
            node_id: gate.node_id,
            deadline_ms: gate.deadline,
            value: None,
            set_at_ms: None,
            set_by: String::new(),
        });
    }
    for signal in store.signals_of(id).await? {
        let value = pb::Literal::decode(signal.value.as_slice())
            .map_err(|e| EngineError::Internal(format!("stored signal does not decode: {e}")))?;
        let ty = codec::decode_literal(&signal.value)?;
        records.push(SignalRecord {
            signal_id: signal.signal_id,
            node_id: String::new(),
            ty: Some(gantry_core::typing::literal_type_of(&ty)),
            approval: false,
            deadline_ms: None,
            value: Some(value),
            set_at_ms: Some(signal.set_at),
            set_by: signal.set_by,
        });
    }
    records.sort_by(|a, b| (&a.signal_id, &a.node_id).cmp(&(&b.signal_id, &b.node_id)));
    Ok(records)
}
