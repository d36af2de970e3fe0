//! Reads: the literals and specs that leave for clients and workers, so that every response fits in one message
//! whatever an execution holds.
//!
//! A response carries its values inline up to a budget (`Limits::response_bytes`, what is left of it after the rest
//! of the response); beyond, it carries references in their place (see `plan.rs` for which). A value already in the
//! blob store keeps its reference; a value held in a row that does not fit (a large literal bound in a dynamic spec,
//! many values just under the offload threshold) gets a `gantry:` reference naming it (`uri.rs`), and so does a spec.
//! Reads never write. [`Engine::open_reference`] reads either kind in chunks, for the server's `ReadOffloaded`.
//! Everything here works on wire messages: values pass through without conversion to the core's types.
//!
//! `records.rs` reads the rest of what the store holds as typed records (the server reads nothing else), and
//! `assign.rs` answers polls.

mod assign;
mod plan;
mod records;
pub(crate) mod signals;
mod stream;
mod uri;

use gantry_core::typing::literal_type_of;
use gantry_proto::references::{Reading, resolve_references};
use gantry_proto::v1 as pb;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::Engine;
use crate::error::{EngineError, EngineResult};
use plan::{Choice, Slot, plan};
use records::StoredValues;
use uri::{Held, MapKind, Named};

pub use assign::TaskAssignment;
pub use plan::ReadMode;
pub use records::{AttemptRecord, ExecutionOrigin, ExecutionRecord, Listed, NodeRecord, Template};
pub use signals::SignalRecord;
pub use stream::{CHUNK_BYTES, ReferenceReader};

/// A dynamic spec as a response carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum SpecRead {
    Inline(pb::DynamicJobSpec),
    /// Too large for the response (or references were asked for): read it with [`Engine::open_reference`].
    Reference {
        uri: String,
        size_bytes: u64,
    },
}

/// An execution's values for a response.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionValues {
    pub inputs: pb::LiteralMap,
    /// Once it succeeded.
    pub outputs: Option<pb::LiteralMap>,
}

/// A node's values for a response.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeValues {
    /// Once resolved.
    pub inputs: Option<pb::LiteralMap>,
    /// Once it succeeded.
    pub outputs: Option<pb::LiteralMap>,
    /// For a dynamic parent: its accepted spec and the attempt that returned it.
    pub spec: Option<(SpecRead, u32)>,
}

/// A literal map on its way out, and where it is held (what its `gantry:` references name).
struct Outgoing {
    held: Held,
    map: pb::LiteralMap,
}

/// A spec on its way out.
struct OutgoingSpec {
    named: Named,
    bytes: Vec<u8>,
}

/// Room kept in a response for what is not a value: ids, timestamps, the framing of references.
const OVERHEAD_BYTES: u64 = 64 * 1024;

fn decode_map(bytes: &[u8]) -> EngineResult<pb::LiteralMap> {
    pb::LiteralMap::decode(bytes).map_err(|e| EngineError::Internal(format!("stored literal map does not decode: {e}")))
}

impl Engine {
    /// An execution's inputs, and its outputs once it succeeded.
    pub async fn execution_values(&self, execution: &ExecutionRecord, mode: ReadMode) -> EngineResult<ExecutionValues> {
        let stored = &execution.values;
        let mut maps = vec![self.outgoing(execution.id, MapKind::Inputs, stored.inputs.as_deref())?];
        if let Some(outputs) = &stored.outputs {
            maps.push(self.outgoing(execution.id, MapKind::Outputs, Some(outputs))?);
        }
        let (maps, _) = self.fit(maps, None, stored.error_bytes, mode).await?;
        let mut maps = maps.into_iter();
        let inputs = maps.next().unwrap_or_default();
        Ok(ExecutionValues {
            inputs,
            outputs: maps.next(),
        })
    }

    /// An execution's inputs, for the records of single-execution responses.
    pub async fn execution_inputs(&self, execution: &ExecutionRecord, mode: ReadMode) -> EngineResult<pb::LiteralMap> {
        let stored = &execution.values;
        let maps = vec![self.outgoing(execution.id, MapKind::Inputs, stored.inputs.as_deref())?];
        let (mut maps, _) = self.fit(maps, None, stored.error_bytes, mode).await?;
        Ok(maps.pop().unwrap_or_default())
    }

    /// A node's inputs, outputs and accepted spec.
    pub async fn node_values(&self, node: &NodeRecord, mode: ReadMode) -> EngineResult<NodeValues> {
        let held = |map| Held {
            execution: node.execution_id,
            node: Some(node.node_id.clone()),
            map,
        };
        let StoredValues {
            inputs,
            outputs,
            error_bytes,
        } = &node.values;
        let mut maps = Vec::new();
        for (map, bytes) in [(MapKind::Inputs, inputs), (MapKind::Outputs, outputs)] {
            if let Some(bytes) = bytes {
                maps.push((
                    map,
                    Outgoing {
                        held: held(map),
                        map: decode_map(bytes)?,
                    },
                ));
            }
        }
        let mut spec = None;
        let mut spec_attempt = 0;
        if node.is_dynamic {
            let attempt = node.last_attempt;
            let stored = self
                .shared
                .store
                .get_spec(node.execution_id, &node.node_id, attempt)
                .await?;
            if let Some(stored) = stored {
                spec_attempt = attempt as u32;
                spec = Some(OutgoingSpec {
                    named: Named::Spec {
                        execution: node.execution_id,
                        node: node.node_id.clone(),
                        attempt,
                    },
                    bytes: crate::codec::spec_from_store(stored.spec)?.into(),
                });
            }
        }
        let kinds: Vec<MapKind> = maps.iter().map(|(kind, _)| *kind).collect();
        let outgoing = maps.into_iter().map(|(_, map)| map).collect();
        let (maps, spec) = self.fit(outgoing, spec, *error_bytes, mode).await?;
        let mut values = NodeValues {
            inputs: None,
            outputs: None,
            spec: spec.map(|spec| (spec, spec_attempt)),
        };
        for (kind, map) in kinds.into_iter().zip(maps) {
            match kind {
                MapKind::Inputs => values.inputs = Some(map),
                MapKind::Outputs => values.outputs = Some(map),
            }
        }
        Ok(values)
    }

    /// Opens a reference from a response for reading. NotFound for anything that is not one: another store's URI,
    /// a key this server never issues, a value or spec that does not exist.
    pub async fn open_reference(&self, uri: &str) -> EngineResult<ReferenceReader> {
        let not_found = || EngineError::NotFound(format!("no such reference: {}", gantry_core::names::quote(uri)));
        if let Some(named) = Named::parse(uri) {
            let bytes = match named {
                Named::Value { held, name } => {
                    let stored = match &held.node {
                        None => {
                            let row = self
                                .shared
                                .store
                                .get_execution(held.execution)
                                .await?
                                .ok_or_else(not_found)?;
                            match held.map {
                                MapKind::Inputs => Some(row.inputs),
                                MapKind::Outputs => row.outputs,
                            }
                        }
                        Some(node) => {
                            let row = self
                                .shared
                                .store
                                .get_node(held.execution, node)
                                .await?
                                .ok_or_else(not_found)?;
                            match held.map {
                                MapKind::Inputs => row.inputs,
                                MapKind::Outputs => row.outputs,
                            }
                        }
                    };
                    let mut map = decode_map(&stored.ok_or_else(not_found)?)?;
                    map.literals.remove(&name).ok_or_else(not_found)?.encode_to_vec()
                }
                Named::Spec {
                    execution,
                    node,
                    attempt,
                } => {
                    let stored = self.shared.store.get_spec(execution, &node, attempt).await?;
                    Vec::from(crate::codec::spec_from_store(stored.ok_or_else(not_found)?.spec)?)
                }
            };
            return Ok(ReferenceReader::memory(bytes));
        }
        let blobs = &self.shared.offloader.store;
        let key = blobs.offloaded_key(uri).ok_or_else(not_found)?;
        let size = blobs.size_of(&key).await.map_err(|error| match error {
            EngineError::NotFound(_) => not_found(),
            other => other,
        })?;
        Ok(ReferenceReader::blob(blobs.clone(), key, size))
    }

    fn response_budget(&self, reserved: u64) -> u64 {
        self.shared
            .config
            .limits
            .response_bytes
            .saturating_sub(reserved.saturating_add(OVERHEAD_BYTES))
    }

    /// One of an execution's maps, on its way out. An execution always has inputs (`None` only for a node's).
    fn outgoing(&self, execution: uuid::Uuid, map: MapKind, bytes: Option<&[u8]>) -> EngineResult<Outgoing> {
        Ok(Outgoing {
            held: Held {
                execution,
                node: None,
                map,
            },
            map: decode_map(bytes.unwrap_or_default())?,
        })
    }

    /// Fits a response's maps and spec to its budget, less `reserved` bytes for the rest of it.
    async fn fit(
        &self,
        maps: Vec<Outgoing>,
        spec: Option<OutgoingSpec>,
        reserved: u64,
        mode: ReadMode,
    ) -> EngineResult<(Vec<pb::LiteralMap>, Option<SpecRead>)> {
        let mut slots = Vec::new();
        for outgoing in &maps {
            for literal in outgoing.map.literals.values() {
                let stored = literal.encoded_len() as u64;
                slots.push(Slot {
                    stored,
                    resolved: stored.saturating_add(referenced_bytes(literal)),
                    reference: matches!(literal.value, Some(pb::literal::Value::Offloaded(_))),
                });
            }
        }
        if let Some(spec) = &spec {
            slots.push(Slot::whole(spec.bytes.len() as u64));
        }
        let offload_bytes = self.shared.config.limits.offload_bytes;
        let mut choices = plan(&slots, self.response_budget(reserved), mode, offload_bytes).into_iter();
        let mut out = Vec::with_capacity(maps.len());
        for outgoing in maps {
            let mut map = pb::LiteralMap::default();
            for (name, literal) in outgoing.map.literals {
                let literal = match choices.next().unwrap_or(Choice::Keep) {
                    Choice::Resolve => self.resolve(literal).await?,
                    Choice::Keep => literal,
                    Choice::Refer if is_reference(&literal) => literal,
                    Choice::Refer => refer(
                        Named::Value {
                            held: outgoing.held.clone(),
                            name: name.clone(),
                        },
                        literal,
                    )?,
                };
                map.literals.insert(name, literal);
            }
            out.push(map);
        }
        let spec = match (spec, choices.next()) {
            (None, _) => None,
            (Some(spec), Some(Choice::Refer)) => Some(SpecRead::Reference {
                uri: spec.named.uri(),
                size_bytes: spec.bytes.len() as u64,
            }),
            (Some(spec), _) => Some(SpecRead::Inline(
                pb::DynamicJobSpec::decode(spec.bytes.as_slice())
                    .map_err(|e| EngineError::Internal(format!("stored dynamic spec does not decode: {e}")))?,
            )),
        };
        Ok((out, spec))
    }

    /// The literal with the references in it, at any depth, replaced by what they refer to. What a reference holds
    /// is not looked into: references in it stay references, for the reader to follow.
    async fn resolve(&self, literal: pb::Literal) -> EngineResult<pb::Literal> {
        let read = |reference: pb::OffloadedLiteral| -> Reading<'_, EngineError> {
            Box::pin(async move {
                let bytes = self.shared.offloader.store.get(&reference.uri).await?;
                pb::Literal::decode(bytes)
                    .map_err(|e| EngineError::Internal(format!("offloaded literal {}: {e}", reference.uri)))
            })
        };
        resolve_references(literal, &read).await
    }
}

/// A `gantry:` reference to a value held in a row.
fn refer(named: Named, literal: pb::Literal) -> EngineResult<pb::Literal> {
    let bytes = literal.encode_to_vec();
    let ty = literal_type_of(&gantry_core::model::Literal::try_from(literal)?);
    Ok(pb::Literal {
        value: Some(pb::literal::Value::Offloaded(pb::OffloadedLiteral {
            uri: named.uri(),
            size_bytes: bytes.len() as u64,
            r#type: Some(ty.into()),
            sha256: hex::encode(Sha256::digest(&bytes)),
        })),
        // The hash is in the value the reference names.
        hash: String::new(),
    })
}

fn is_reference(literal: &pb::Literal) -> bool {
    matches!(literal.value, Some(pb::literal::Value::Offloaded(_)))
}

/// The sizes of the references in the literal, at any depth.
fn referenced_bytes(literal: &pb::Literal) -> u64 {
    use pb::literal::Value;
    match &literal.value {
        Some(Value::Offloaded(o)) => o.size_bytes,
        Some(Value::Collection(c)) => c.literals.iter().map(referenced_bytes).sum(),
        Some(Value::Map(m)) => m.literals.values().map(referenced_bytes).sum(),
        Some(Value::Union(u)) => u.value.as_deref().map_or(0, referenced_bytes),
        _ => 0,
    }
}

/// The tag byte of `Literal.offloaded` (field 15, length-delimited). An encoded map without it holds no reference;
/// with it, it may (the byte can occur inside other data too).
const OFFLOADED_TAG: u8 = (15 << 3) | 2;

fn may_hold_reference(encoded_map: &[u8]) -> bool {
    encoded_map.contains(&OFFLOADED_TAG)
}
