//! `CompleteAttemptsRequest` as the server decodes it: a completion's dynamic spec kept as the bytes the worker sent,
//! not decoded into a tree of `pb` messages. A 100,000-node spec decoded whole takes about a kilobyte a node, twice
//! what the core's model of it takes; kept as bytes, it is stored as it came and its nodes are decoded one at a time
//! into the core's model ([`spec_from_bytes`]).
//!
//! The messages here are wire-compatible with `gantry.v1.CompleteAttemptsRequest` and `gantry.v1.Completion` (a
//! length-delimited message and `bytes` are the same on the wire); clients use the generated ones.

use gantry_core::model::DynamicJobSpec;
use prost::Message;
use prost::bytes::Bytes;

use crate::convert::ConversionError;
use crate::v1 as pb;

/// `gantry.v1.CompleteAttemptsRequest`, with each dynamic spec left encoded.
#[derive(Clone, PartialEq, Message)]
pub struct CompleteAttemptsRequest {
    #[prost(string, tag = "1")]
    pub worker_id: String,
    #[prost(message, repeated, tag = "2")]
    pub completions: Vec<Completion>,
}

/// `gantry.v1.Completion`, with its dynamic spec left encoded.
#[derive(Clone, PartialEq, Message)]
pub struct Completion {
    #[prost(message, optional, tag = "1")]
    pub attempt: Option<pb::AttemptRef>,
    #[prost(string, tag = "2")]
    pub lease_id: String,
    #[prost(oneof = "CompletionResult", tags = "3, 4, 5")]
    pub result: Option<CompletionResult>,
}

/// `gantry.v1.Completion.result`.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum CompletionResult {
    #[prost(message, tag = "3")]
    Outputs(pb::LiteralMap),
    /// An encoded `gantry.v1.DynamicJobSpec`.
    #[prost(bytes = "bytes", tag = "4")]
    DynamicSpec(Bytes),
    #[prost(message, tag = "5")]
    Error(pb::ExecutionError),
}

impl From<pb::CompleteAttemptsRequest> for CompleteAttemptsRequest {
    fn from(request: pb::CompleteAttemptsRequest) -> Self {
        CompleteAttemptsRequest {
            worker_id: request.worker_id,
            completions: request.completions.into_iter().map(Completion::from).collect(),
        }
    }
}

impl From<pb::Completion> for Completion {
    fn from(completion: pb::Completion) -> Self {
        let result = completion.result.map(|result| match result {
            pb::completion::Result::Outputs(outputs) => CompletionResult::Outputs(outputs),
            pb::completion::Result::DynamicSpec(spec) => CompletionResult::DynamicSpec(spec.encode_to_vec().into()),
            pb::completion::Result::Error(error) => CompletionResult::Error(error),
        });
        Completion {
            attempt: completion.attempt,
            lease_id: completion.lease_id,
            result,
        }
    }
}

/// `gantry.v1.DynamicJobSpec` with its nodes left encoded, each a slice of the spec's bytes.
#[derive(Clone, PartialEq, Message)]
struct SpecShell {
    #[prost(bytes = "bytes", repeated, tag = "1")]
    nodes: Vec<Bytes>,
    #[prost(uint64, optional, tag = "2")]
    min_successes: Option<u64>,
    #[prost(message, repeated, tag = "3")]
    outputs: Vec<pb::Binding>,
    #[prost(message, repeated, tag = "4")]
    tasks: Vec<pb::TaskTemplate>,
    #[prost(message, repeated, tag = "5")]
    subworkflows: Vec<pb::WorkflowTemplate>,
}

/// The core's model of an encoded `gantry.v1.DynamicJobSpec`, decoding its nodes one at a time. Errors name the
/// field as `TryFrom<pb::DynamicJobSpec>` does (`nodes[3].inputs[0]`).
pub fn spec_from_bytes(bytes: &Bytes) -> Result<DynamicJobSpec, ConversionError> {
    let undecodable =
        |field: String, error: prost::DecodeError| ConversionError::new(field, format!("does not decode: {error}"));
    let shell = SpecShell::decode(bytes.clone()).map_err(|error| undecodable(String::new(), error))?;
    let mut nodes = Vec::with_capacity(shell.nodes.len());
    for (index, node) in shell.nodes.into_iter().enumerate() {
        let field = format!("nodes[{index}]");
        let node = match pb::Node::decode(node) {
            Ok(node) => node,
            Err(error) => return Err(undecodable(field, error)),
        };
        nodes.push(node.try_into().map_err(|error: ConversionError| error.at(&field))?);
    }
    let rest = pb::DynamicJobSpec {
        nodes: Vec::new(),
        min_successes: shell.min_successes,
        outputs: shell.outputs,
        tasks: shell.tasks,
        subworkflows: shell.subworkflows,
    };
    let mut spec = DynamicJobSpec::try_from(rest)?;
    spec.nodes = nodes;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(nodes: usize) -> pb::DynamicJobSpec {
        let core = DynamicJobSpec {
            nodes: (0..nodes)
                .map(|i| {
                    gantry_core::model::Node::task(
                        format!("n{i}"),
                        gantry_core::model::Identifier::new("p", "d", "t", "1"),
                        vec![gantry_core::model::Binding::literal(
                            "x",
                            gantry_core::model::Literal::Integer(i as i64),
                        )],
                    )
                })
                .collect(),
            min_successes: Some(2),
            outputs: vec![gantry_core::model::Binding::promise("y", "n0", "y")],
            ..Default::default()
        };
        core.into()
    }

    #[test]
    fn the_lazy_request_reads_what_the_generated_one_writes_and_back() {
        let wire = pb::CompleteAttemptsRequest {
            worker_id: "w".into(),
            completions: vec![
                pb::Completion {
                    attempt: Some(pb::AttemptRef {
                        execution_id: "e".into(),
                        node_id: "n0".into(),
                        attempt: 2,
                    }),
                    lease_id: "l".into(),
                    result: Some(pb::completion::Result::DynamicSpec(spec(3))),
                },
                pb::Completion {
                    lease_id: "m".into(),
                    result: Some(pb::completion::Result::Error(pb::ExecutionError {
                        code: "boom".into(),
                        ..Default::default()
                    })),
                    ..Default::default()
                },
            ],
        };
        let bytes = wire.encode_to_vec();
        let lazy = CompleteAttemptsRequest::decode(bytes.as_slice()).expect("decodes");
        assert_eq!(lazy, CompleteAttemptsRequest::from(wire.clone()));
        let Some(CompletionResult::DynamicSpec(spec_bytes)) = &lazy.completions[0].result else {
            panic!("a spec: {lazy:?}");
        };
        assert_eq!(
            spec_from_bytes(spec_bytes).expect("converts"),
            DynamicJobSpec::try_from(spec(3)).expect("converts")
        );
        // And back: what the server decodes lazily encodes to what the client sent.
        assert_eq!(lazy.encode_to_vec(), bytes);
    }

    #[test]
    fn a_bad_node_is_named_by_its_index() {
        let mut bad = spec(3);
        bad.nodes[1].target = None;
        let error = spec_from_bytes(&bad.encode_to_vec().into()).expect_err("no target");
        assert!(error.field.starts_with("nodes[1]"), "{error}");
        let garbage = Bytes::from_static(&[0x0a, 0x05, 0xff]);
        let error = spec_from_bytes(&garbage).expect_err("garbage");
        assert!(error.to_string().contains("does not decode"), "{error}");
    }
}
