//! The server's limits on a dynamic spec, and the byte accounting that lets [`crate::DynamicSpec`] keep to them as
//! it grows: a generator that would pass a limit gets a [`TaskError`] at the node that passes it, so a runaway loop
//! (`for i in 0..tasks_count` with `tasks_count = 2^63 - 1`) stops at once instead of exhausting the worker's memory.

use gantry_proto::v1 as pb;
use prost::Message;
use prost::encoding::{encoded_len_varint, key_len};

use crate::error::TaskError;

/// The error code of a spec over a limit.
pub const SPEC_TOO_LARGE: &str = "spec_too_large";

/// Field numbers of `DynamicJobSpec` (dynamic.proto) and of `Completion.dynamic_spec` (worker.proto).
const NODES: u32 = 1;
const MIN_SUCCESSES: u32 = 2;
const OUTPUTS: u32 = 3;
const TASKS: u32 = 4;
const SUBWORKFLOWS: u32 = 5;
const COMPLETION_SPEC: u32 = 4;

/// What the server accepts in a dynamic spec (`WorkerLimits` in worker.proto). The worker learns them from every
/// poll and hands them to each attempt ([`crate::TaskContext::spec_limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecLimits {
    /// The most nodes a spec may have.
    pub max_nodes: u64,
    /// The largest spec, in bytes, as the server counts it: the encoded `Completion.dynamic_spec` field.
    pub max_bytes: u64,
}

impl Default for SpecLimits {
    /// A server's defaults (`--max-spec-nodes`, `--max-spec-bytes`), for specs built before any poll told the real
    /// ones.
    fn default() -> Self {
        SpecLimits {
            max_nodes: 1_000_000,
            max_bytes: 256 * 1024 * 1024,
        }
    }
}

impl SpecLimits {
    /// The limits a server announced; the defaults for what it left out (a server that predates the announcement).
    pub fn from_wire(limits: Option<&pb::WorkerLimits>) -> Self {
        let defaults = SpecLimits::default();
        match limits {
            Some(limits) => SpecLimits {
                max_nodes: nonzero_or(limits.max_spec_nodes, defaults.max_nodes),
                max_bytes: nonzero_or(limits.max_spec_bytes, defaults.max_bytes),
            },
            None => defaults,
        }
    }

    /// The error of a spec that would get node number `count` (counting from 1).
    pub(crate) fn too_many_nodes(&self, count: u64) -> TaskError {
        spec_too_large(format!(
            "the dynamic spec would have {count} nodes, above the server's limit of {} nodes",
            self.max_nodes
        ))
    }

    /// The error of a spec that would be `bytes` long, as the server counts it.
    pub(crate) fn too_many_bytes(&self, bytes: u64) -> TaskError {
        spec_too_large(format!(
            "the dynamic spec would be {bytes} bytes, above the server's limit of {} bytes",
            self.max_bytes
        ))
    }
}

fn nonzero_or(value: u64, default: u64) -> u64 {
    if value == 0 { default } else { value }
}

/// A spec over a limit is the generator's doing and no retry changes it: a non-recoverable user error.
fn spec_too_large(message: String) -> TaskError {
    TaskError::user(message).with_code(SPEC_TOO_LARGE)
}

/// The encoded size of one entry of a repeated message field of `DynamicJobSpec`.
fn entry_len(tag: u32, message: &impl Message) -> u64 {
    let body = message.encoded_len();
    (key_len(tag) + encoded_len_varint(body as u64) + body) as u64
}

pub(crate) fn node_len(node: gantry_core::model::Node) -> u64 {
    entry_len(NODES, &pb::Node::from(node))
}

pub(crate) fn output_len(binding: gantry_core::model::Binding) -> u64 {
    entry_len(OUTPUTS, &pb::Binding::from(binding))
}

pub(crate) fn task_len(task: gantry_core::model::TaskTemplate) -> u64 {
    entry_len(TASKS, &pb::TaskTemplate::from(task))
}

pub(crate) fn workflow_len(workflow: gantry_core::model::WorkflowTemplate) -> u64 {
    entry_len(SUBWORKFLOWS, &pb::WorkflowTemplate::from(workflow))
}

pub(crate) fn min_successes_len(count: Option<u64>) -> u64 {
    count.map_or(0, |count| (key_len(MIN_SUCCESSES) + encoded_len_varint(count)) as u64)
}

/// What the server counts for a spec whose fields take `body` bytes: the `Completion.dynamic_spec` field around it.
pub(crate) fn completion_field_len(body: u64) -> u64 {
    key_len(COMPLETION_SPEC) as u64 + encoded_len_varint(body) as u64 + body
}
