//! Literals entering the engine: what workers and clients send is checked against the size limits and its large
//! values offloaded before the writer sees it (uploads never hold up the writer). What leaves is `reads`' part.

use gantry_core::model::LiteralMap;
use gantry_core::state::AttemptResult;

use crate::blobs::contains_offloaded;
use crate::error::{EngineError, EngineResult};
use crate::worker::Completion;
use crate::{CreateExecution, Engine};

fn refuse_offloaded(map: &LiteralMap, what: &str) -> EngineResult<()> {
    match map.iter().find(|(_, literal)| contains_offloaded(literal)) {
        Some((name, _)) => Err(EngineError::InvalidArgument(format!(
            "{what}: {name:?} is an offloaded literal; only the server issues those"
        ))),
        None => Ok(()),
    }
}

impl Engine {
    /// Checks a completion against the limits and offloads its large outputs.
    pub(crate) async fn admit_completion(&self, mut completion: Completion) -> EngineResult<Completion> {
        let offloader = &self.shared.offloader;
        let what = format!(
            "outputs of attempt {} of node {:?} in execution {}",
            completion.attempt.attempt, completion.attempt.node_id, completion.attempt.execution_id
        );
        completion.result = match completion.result {
            AttemptResult::Outputs(outputs) => {
                refuse_offloaded(&outputs, &what)?;
                let limit = offloader.limits.outputs_bytes;
                let group = completion.attempt.execution_id.to_string();
                AttemptResult::Outputs(offloader.admit(outputs, &group, &what, limit).await?)
            }
            AttemptResult::DynamicSpec(spec) => {
                let size = completion.result_bytes;
                if size > offloader.limits.spec_bytes {
                    return Err(EngineError::ResourceExhausted(format!(
                        "the dynamic spec of node {:?} in execution {} is {size} bytes, above the limit of {} bytes",
                        completion.attempt.node_id, completion.attempt.execution_id, offloader.limits.spec_bytes
                    )));
                }
                AttemptResult::DynamicSpec(spec)
            }
            error => error,
        };
        Ok(completion)
    }

    /// Checks an execution's inputs against the limits and offloads the large ones.
    pub(crate) async fn admit_inputs(&self, mut request: CreateExecution) -> EngineResult<CreateExecution> {
        let offloader = &self.shared.offloader;
        let what = "the execution's inputs";
        refuse_offloaded(&request.inputs, what)?;
        let inputs = std::mem::take(&mut request.inputs);
        // Offloaded objects are grouped by execution; the new execution's id is not known yet.
        request.inputs = offloader
            .admit(inputs, "inputs", what, offloader.limits.outputs_bytes)
            .await?;
        Ok(request)
    }
}
