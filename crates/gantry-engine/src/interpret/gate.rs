//! Gate nodes: a sleep, a signal or an approval. Arming one records its deadline and the signal it waits for (a row
//! the sweeper reads, like an attempt's deadline: no timer per gate); a passed deadline or a signal set through the
//! API opens it. The core decides what each means (`gantry_core::state::gate`); this finds the rows and applies it.

use gantry_core::model::{GateNode, Literal, NodeTarget};
use gantry_core::names;
use gantry_core::state::gate::{self, SignalOutcome};
use gantry_core::state::{NodeEvent, NodePhase};
use gantry_store::{GateRow, SignalRow};
use uuid::Uuid;

use crate::batch::{Batch, NodeKey};
use crate::codec;
use crate::error::{EngineError, EngineResult};

/// What setting a signal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalSet {
    /// False when the signal already held the value.
    pub changed: bool,
    /// The gates it opened (or, for a refused approval, failed).
    pub opened: Vec<String>,
}

impl Batch<'_> {
    /// Records a started gate's wait; if the signal it waits for was set already (for another gate, or before a
    /// recovery), it opens at once.
    pub(crate) async fn arm_gate(&mut self, key: &NodeKey) -> EngineResult<()> {
        let gate = self.gate(key).await?;
        let deadline = gate::deadline(&gate, self.now);
        let signal_id = gate.condition.signal_id().map(str::to_owned);
        let row = GateRow {
            execution_id: key.0,
            node_id: key.1.clone(),
            signal_id: signal_id.clone(),
            deadline,
        };
        self.rows.tx.arm_gate(&row).await?;
        if deadline.is_some() {
            self.wake_sweeper();
        }
        let Some(signal_id) = signal_id else {
            return Ok(());
        };
        let Some(signal) = self.rows.tx.signal(key.0, &signal_id).await? else {
            return Ok(());
        };
        let value = codec::decode_literal(&signal.value)?;
        match self.signal_outcome(key, &gate, &value).await? {
            Ok(outcome) => self.open_gate(key, outcome),
            // Set for a gate of another type: this one cannot take it.
            Err(problem) => {
                let refused = gate::set_signal_refused(&signal_id, &problem);
                self.events.push_back((key.clone(), refused));
            }
        }
        Ok(())
    }

    /// The gate waits no more.
    pub(crate) async fn disarm_gate(&mut self, key: &NodeKey) -> EngineResult<()> {
        self.rows.tx.disarm_gates(std::slice::from_ref(key)).await?;
        Ok(())
    }

    /// Opens gates whose sleep ended and times out those whose signal did not come; deletes the rows of gates that
    /// stopped otherwise. Returns how many rows it looked at.
    pub(crate) async fn pass_gate_deadlines(&mut self, limit: u32) -> EngineResult<usize> {
        let overdue = self.rows.tx.overdue_gates(self.now, limit).await?;
        let mut stale = Vec::new();
        for key in &overdue {
            if self.rows.node(key).await?.phase != NodePhase::Running {
                stale.push(key.clone());
                continue;
            }
            let event = gate::deadline_passed(&self.gate(key).await?);
            if event == NodeEvent::GateOpened {
                self.open_gate(key, SignalOutcome::Opened(Default::default()));
            } else {
                tracing::info!(execution_id = %key.0, node_id = %key.1, "gate timed out");
                self.events.push_back((key.clone(), event));
            }
        }
        self.rows.tx.disarm_gates(&stale).await?;
        self.run().await?;
        Ok(overdue.len())
    }

    /// Sets signal `signal_id` of the execution to `value` and opens the gates waiting for it. Every check comes
    /// before any write: a refused signal changes nothing.
    pub async fn set_signal(
        &mut self,
        execution_id: Uuid,
        signal_id: &str,
        value: &Literal,
        set_by: &str,
    ) -> EngineResult<SignalSet> {
        let phase = self.rows.execution(execution_id).await?.phase;
        let encoded = codec::encode_literal(value);
        let quoted = names::quote(signal_id);
        if let Some(existing) = self.rows.tx.signal(execution_id, signal_id).await? {
            if existing.value == encoded {
                return Ok(SignalSet {
                    changed: false,
                    opened: Vec::new(),
                });
            }
            return Err(EngineError::FailedPrecondition(format!(
                "signal {quoted} of execution {execution_id} was already set to another value by {}; a signal is \
                 set once",
                names::quote(&existing.set_by)
            )));
        }
        if phase.is_terminal() {
            return Err(EngineError::FailedPrecondition(format!(
                "execution {execution_id} is already {phase}"
            )));
        }
        let mut opened = Vec::new();
        for node_id in self.rows.tx.gates_waiting(execution_id, signal_id).await? {
            let key: NodeKey = (execution_id, node_id);
            if self.rows.node(&key).await?.phase != NodePhase::Running {
                continue;
            }
            let gate = self.gate(&key).await?;
            let outcome = self.signal_outcome(&key, &gate, value).await?.map_err(|problem| {
                EngineError::InvalidArgument(format!(
                    "signal {quoted}: gate {} of execution {execution_id} takes {}: {problem}",
                    names::quote(&key.1),
                    gate.condition
                        .signal_type()
                        .map(|ty| ty.to_string())
                        .unwrap_or_default()
                ))
            })?;
            opened.push((key, outcome));
        }
        if opened.is_empty() {
            return Err(EngineError::NotFound(format!(
                "execution {execution_id} has no gate waiting for signal {quoted}"
            )));
        }
        let row = SignalRow {
            execution_id,
            signal_id: signal_id.to_owned(),
            value: encoded,
            set_at: self.now,
            set_by: set_by.to_owned(),
        };
        self.rows.tx.insert_signal(&row).await?;
        tracing::info!(%execution_id, signal_id, set_by, gates = opened.len(), "signal set");
        let opened_ids = opened.iter().map(|(key, _)| key.1.clone()).collect();
        for (key, outcome) in opened {
            self.open_gate(&key, outcome);
        }
        self.run().await?;
        Ok(SignalSet {
            changed: true,
            opened: opened_ids,
        })
    }

    async fn gate(&mut self, key: &NodeKey) -> EngineResult<GateNode> {
        match codec::decode_node(&self.rows.node(key).await?.definition)?.target {
            NodeTarget::Gate(gate) => Ok(gate),
            other => Err(EngineError::Internal(format!(
                "node {:?} is a {}, not a gate",
                key.1,
                other.kind_name()
            ))),
        }
    }

    /// What `value` does to the gate `key`, or why it does not fit.
    async fn signal_outcome(
        &mut self,
        key: &NodeKey,
        gate: &GateNode,
        value: &Literal,
    ) -> EngineResult<Result<SignalOutcome, String>> {
        let inputs = match &self.rows.node(key).await?.inputs {
            Some(bytes) => codec::decode_literals(bytes)?,
            None => Default::default(),
        };
        Ok(gate::signal_received(gate, value, &inputs))
    }

    fn open_gate(&mut self, key: &NodeKey, outcome: SignalOutcome) {
        match outcome {
            SignalOutcome::Opened(outputs) => {
                self.rows.node_mut(key).outputs = Some(codec::encode_literals(&outputs));
                self.events.push_back((key.clone(), NodeEvent::GateOpened));
            }
            SignalOutcome::Rejected(event) => self.events.push_back((key.clone(), event)),
        }
    }
}
