//! Encoding core values to the protobuf bytes the store keeps, and back. Stored bytes were written by us, so a
//! decoding failure is corruption, reported as an internal error.

use gantry_core::model::{
    DynamicJobSpec, ExecutionError, Identifier, LiteralMap, Node, TaskTemplate, WorkflowTemplate,
};
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

pub fn encode_spec(spec: &DynamicJobSpec) -> Vec<u8> {
    pb::DynamicJobSpec::from(spec.clone()).encode_to_vec()
}

pub fn decode_spec(bytes: &[u8]) -> EngineResult<DynamicJobSpec> {
    decode::<pb::DynamicJobSpec, DynamicJobSpec>("dynamic spec", bytes)
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
