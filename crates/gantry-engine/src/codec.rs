//! Encoding core values to the protobuf bytes the store keeps, and back. Stored bytes were written by us, so a
//! decoding failure is corruption, reported as an internal error.

use gantry_core::model::{
    DynamicJobSpec, ExecutionError, Identifier, Literal, LiteralMap, Node, TaskTemplate, WorkflowTemplate,
};
use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use gantry_proto::v1 as pb;
use gantry_store::ResourceKey;
use prost::Message;

use crate::error::{EngineError, EngineResult};

fn decode<P: Message + Default, T: TryFrom<P, Error = gantry_proto::ConversionError>>(
    what: &str,
    bytes: &[u8],
) -> EngineResult<T> {
    let wire = P::decode(bytes).map_err(|e| EngineError::Internal(format!("stored {what} does not decode: {e}")))?;
    T::try_from(wire).map_err(|e| EngineError::Internal(format!("stored {what} is invalid: {e}")))
}

pub fn encode_literals(map: &LiteralMap) -> Vec<u8> {
    pb::LiteralMap::from(map.clone()).encode_to_vec()
}

pub fn decode_literals(bytes: &[u8]) -> EngineResult<LiteralMap> {
    decode::<pb::LiteralMap, LiteralMap>("literal map", bytes)
}

pub fn encode_literal(literal: &Literal) -> Vec<u8> {
    pb::Literal::from(literal.clone()).encode_to_vec()
}

pub fn decode_literal(bytes: &[u8]) -> EngineResult<Literal> {
    decode::<pb::Literal, Literal>("literal", bytes)
}

/// Stored outputs as assembly holds them (`gantry_core::state::Outputs`): a slice, not a map.
pub fn decode_outputs(bytes: &[u8]) -> EngineResult<gantry_core::state::Outputs> {
    let invalid = |e: &dyn std::fmt::Display| EngineError::Internal(format!("stored literal map is invalid: {e}"));
    let wire = pb::LiteralMap::decode(bytes)
        .map_err(|e| EngineError::Internal(format!("stored literal map does not decode: {e}")))?;
    wire.literals
        .into_iter()
        .map(|(name, literal)| Ok((name, Literal::try_from(literal).map_err(|e| invalid(&e))?)))
        .collect()
}

pub fn encode_error(error: &ExecutionError) -> Vec<u8> {
    pb::ExecutionError::from(error.clone()).encode_to_vec()
}

pub fn decode_error(bytes: &[u8]) -> EngineResult<ExecutionError> {
    decode::<pb::ExecutionError, ExecutionError>("error", bytes)
}

pub fn encode_node(node: &Node) -> Vec<u8> {
    pb::Node::from(node.clone()).encode_to_vec()
}

pub fn decode_node(bytes: &[u8]) -> EngineResult<Node> {
    decode::<pb::Node, Node>("node", bytes)
}

/// What a node runs, as its stored definition says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeRuns {
    Task(Identifier),
    SubWorkflow(Identifier),
    LaunchPlan(Identifier),
    Branch,
    Array,
    Gate,
}

/// `gantry.v1.Node` with only its target read: the rest is skipped, not decoded.
#[derive(Clone, PartialEq, Message)]
struct NodeTargetShell {
    #[prost(oneof = "TargetShell", tags = "10, 11, 12, 13, 14, 15")]
    target: Option<TargetShell>,
}

/// `gantry.v1.Node.target`, a branch's and an array's definitions skipped.
#[derive(Clone, PartialEq, prost::Oneof)]
enum TargetShell {
    #[prost(message, tag = "10")]
    Task(pb::Identifier),
    #[prost(message, tag = "11")]
    SubWorkflow(pb::Identifier),
    #[prost(message, tag = "12")]
    LaunchPlan(pb::Identifier),
    #[prost(message, tag = "13")]
    Branch(Skipped),
    #[prost(message, tag = "14")]
    Array(Skipped),
    #[prost(message, tag = "15")]
    Gate(Skipped),
}

/// A message whose fields are all skipped.
#[derive(Clone, PartialEq, Message)]
struct Skipped {}

/// What a stored node runs, read from its definition without decoding the rest: its bindings (or an array's element
/// node's) may hold large literals, and the records of node listings and watches show only the target.
pub fn decode_node_runs(bytes: &[u8]) -> EngineResult<NodeRuns> {
    let shell = NodeTargetShell::decode(bytes)
        .map_err(|e| EngineError::Internal(format!("stored node does not decode: {e}")))?;
    let id = |wire: pb::Identifier| {
        Identifier::try_from(wire).map_err(|e| EngineError::Internal(format!("stored node is invalid: {e}")))
    };
    Ok(match shell.target {
        Some(TargetShell::Task(wire)) => NodeRuns::Task(id(wire)?),
        Some(TargetShell::SubWorkflow(wire)) => NodeRuns::SubWorkflow(id(wire)?),
        Some(TargetShell::LaunchPlan(wire)) => NodeRuns::LaunchPlan(id(wire)?),
        Some(TargetShell::Branch(_)) => NodeRuns::Branch,
        Some(TargetShell::Array(_)) => NodeRuns::Array,
        Some(TargetShell::Gate(_)) => NodeRuns::Gate,
        None => return Err(EngineError::Internal("stored node has no target".to_owned())),
    })
}

pub fn encode_spec(spec: &DynamicJobSpec) -> Vec<u8> {
    pb::DynamicJobSpec::from(spec.clone()).encode_to_vec()
}

/// Specs larger than this are stored compressed. A 100,000-node spec is about 10 MB encoded and a tenth of that
/// compressed; each copy the database driver makes while writing it then costs a tenth too.
const COMPRESS_SPECS_OVER: usize = 64 * 1024;
/// How a gzip stream starts. No protobuf message starts so (0x1f would be field 3 with wire type 7, which does not
/// exist), so a stored spec says by itself whether it is compressed.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes a spec is stored as: the encoded `gantry.v1.DynamicJobSpec`, gzip-compressed when it is large.
pub fn spec_to_store(encoded: Bytes) -> Bytes {
    if encoded.len() <= COMPRESS_SPECS_OVER {
        return encoded;
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(encoded.len() / 8), Compression::fast());
    match encoder.write_all(&encoded).and_then(|()| encoder.finish()) {
        Ok(compressed) => compressed.into(),
        // Writing to a vector does not fail; were it to, the spec is stored as it is.
        Err(_) => encoded,
    }
}

/// The encoded `gantry.v1.DynamicJobSpec` a stored spec holds.
pub fn spec_from_store(stored: Bytes) -> EngineResult<Bytes> {
    if !stored.starts_with(&GZIP_MAGIC) {
        return Ok(stored);
    }
    let mut encoded = Vec::new();
    GzDecoder::new(stored.as_ref())
        .read_to_end(&mut encoded)
        .map_err(|e| EngineError::Internal(format!("stored dynamic spec does not decompress: {e}")))?;
    Ok(encoded.into())
}

/// A stored spec (see [`spec_to_store`]), its nodes decoded one at a time.
pub fn decode_spec(stored: &Bytes) -> EngineResult<DynamicJobSpec> {
    let encoded = spec_from_store(stored.clone())?;
    gantry_proto::lazy::spec_from_bytes(&encoded)
        .map_err(|e| EngineError::Internal(format!("stored dynamic spec is invalid: {e}")))
}

/// Names an embedded template by its contents (the SHA-256 of its encoding, in hex), for spec-scoped identifiers.
pub fn template_digest(template: gantry_core::compile::EmbeddedTemplate<'_>) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(encode_template(template)))
}

/// A task or workflow template embedded in a dynamic spec, as the store keeps it.
pub fn encode_template(template: gantry_core::compile::EmbeddedTemplate<'_>) -> Vec<u8> {
    use gantry_core::compile::EmbeddedTemplate;
    match template {
        EmbeddedTemplate::Task(task) => encode_task(task),
        EmbeddedTemplate::Workflow(workflow) => encode_workflow(workflow),
    }
}

pub fn encode_task(task: &TaskTemplate) -> Vec<u8> {
    pb::TaskTemplate::from(task.clone()).encode_to_vec()
}

pub fn decode_task(bytes: &[u8]) -> EngineResult<TaskTemplate> {
    decode::<pb::TaskTemplate, TaskTemplate>("task", bytes)
}

pub fn encode_workflow(workflow: &WorkflowTemplate) -> Vec<u8> {
    pb::WorkflowTemplate::from(workflow.clone()).encode_to_vec()
}

pub fn decode_workflow(bytes: &[u8]) -> EngineResult<WorkflowTemplate> {
    decode::<pb::WorkflowTemplate, WorkflowTemplate>("workflow", bytes)
}

pub fn encode_launch_plan(plan: &gantry_core::model::LaunchPlan) -> Vec<u8> {
    pb::LaunchPlan::from(plan.clone()).encode_to_vec()
}

pub fn decode_launch_plan(bytes: &[u8]) -> EngineResult<gantry_core::model::LaunchPlan> {
    decode::<pb::LaunchPlan, gantry_core::model::LaunchPlan>("launch plan", bytes)
}

/// The store's key of a registered resource.
pub fn resource_key(id: &Identifier) -> ResourceKey {
    ResourceKey {
        project: id.project.clone(),
        domain: id.domain.clone(),
        name: id.name.clone(),
        version: id.version.clone(),
    }
}

/// Parses `project/domain/name@version`, as [`Identifier`]'s `Display` writes it.
pub fn parse_identifier(text: &str) -> EngineResult<Identifier> {
    let bad = || EngineError::Internal(format!("stored identifier {text:?} is malformed"));
    let (path, version) = text.rsplit_once('@').ok_or_else(bad)?;
    let mut parts = path.splitn(3, '/');
    let (Some(project), Some(domain), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    Ok(Identifier::new(project, domain, name, version))
}

#[cfg(test)]
mod tests {
    use gantry_core::model::{Binding, Identifier, Literal};

    use super::*;

    fn spec(nodes: usize) -> DynamicJobSpec {
        DynamicJobSpec {
            nodes: (0..nodes)
                .map(|i| {
                    Node::task(
                        format!("n{i}"),
                        Identifier::new("demo", "dev", "other_task", "1"),
                        vec![Binding::literal("x", Literal::Integer(i as i64))],
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_large_spec_is_stored_compressed_and_read_back_whole() {
        let encoded = Bytes::from(encode_spec(&spec(5_000)));
        let stored = spec_to_store(encoded.clone());
        assert!(stored.starts_with(&GZIP_MAGIC), "compressed");
        assert!(
            stored.len() * 4 < encoded.len(),
            "{} of {} bytes",
            stored.len(),
            encoded.len()
        );
        assert_eq!(spec_from_store(stored.clone()).expect("decompresses"), encoded);
        assert_eq!(decode_spec(&stored).expect("decodes"), spec(5_000));
    }

    #[test]
    fn a_small_spec_and_one_stored_before_compression_read_as_they_are() {
        let small = Bytes::from(encode_spec(&spec(3)));
        assert_eq!(spec_to_store(small.clone()), small);
        let large = Bytes::from(encode_spec(&spec(5_000)));
        assert_eq!(spec_from_store(large.clone()).expect("as it is"), large);
        assert_eq!(decode_spec(&large).expect("decodes"), spec(5_000));
    }

    #[test]
    fn a_node_target_reads_as_the_whole_node_says() {
        use gantry_core::model::{
            ArrayNode, BooleanExpr, BranchNode, ComparisonOp, ElseArm, IfBlock, NodeTarget, Operand, SuccessCriteria,
        };
        let id = Identifier::new("demo", "dev", "t", "1");
        // A large literal bound in the node: reading the target does not decode it.
        let task = Node::task(
            "n",
            id.clone(),
            vec![Binding::literal("x", Literal::String("y".repeat(1 << 20)))],
        );
        let with = |target: NodeTarget| Node { target, ..task.clone() };
        let branch = BranchNode {
            cases: vec![IfBlock {
                condition: BooleanExpr::Comparison {
                    op: ComparisonOp::Eq,
                    left: Operand::Var("x".into()),
                    right: Operand::Literal(Literal::Integer(1)),
                },
                then_node: Box::new(task.clone()),
            }],
            otherwise: Some(ElseArm::Error("no".into())),
        };
        let array = ArrayNode {
            node: Box::new(task.clone()),
            parallelism: Some(2),
            success: SuccessCriteria::All,
        };
        let nodes = [
            (task.clone(), NodeRuns::Task(id.clone())),
            (
                with(NodeTarget::SubWorkflow(id.clone())),
                NodeRuns::SubWorkflow(id.clone()),
            ),
            (
                with(NodeTarget::LaunchPlan(id.clone())),
                NodeRuns::LaunchPlan(id.clone()),
            ),
            (with(NodeTarget::Branch(branch)), NodeRuns::Branch),
            (with(NodeTarget::Array(array)), NodeRuns::Array),
        ];
        for (node, runs) in nodes {
            let bytes = encode_node(&node);
            assert_eq!(decode_node(&bytes).expect("decodes"), node);
            assert_eq!(
                decode_node_runs(&bytes).expect("reads"),
                runs,
                "{}",
                node.target.kind_name()
            );
        }
        let no_target = pb::Node {
            id: "n".into(),
            ..Default::default()
        };
        let error = decode_node_runs(&no_target.encode_to_vec()).expect_err("no target");
        assert!(error.to_string().contains("no target"), "{error}");
    }

    #[test]
    fn a_corrupt_compressed_spec_is_an_internal_error() {
        let mut stored = spec_to_store(Bytes::from(encode_spec(&spec(5_000)))).to_vec();
        stored.truncate(stored.len() / 2);
        let error = decode_spec(&Bytes::from(stored)).expect_err("truncated");
        assert!(error.to_string().contains("does not decompress"), "{error}");
    }
}
