//! The data RPCs' responses: an execution's or node's values as the engine fits them to one message (large values as
//! references), and `ReadOffloaded`'s stream of a reference's bytes.

use std::pin::Pin;

use gantry_engine::{Engine, ExecutionRecord, NodeRecord, ReadMode, ReferenceReader, SpecRead};
use gantry_proto::v1 as pb;
use tokio_stream::Stream;
use tonic::Status;

use crate::records;
use crate::status::IntoStatus;

/// The stream of one `ReadOffloaded`.
pub type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::ReadOffloadedResponse, Status>> + Send>>;

/// The engine's read mode for a request's `references` flag.
pub fn mode(references: bool) -> ReadMode {
    if references {
        ReadMode::References
    } else {
        ReadMode::Values
    }
}

/// An execution for a client, its inputs fitted to the response.
pub async fn execution(engine: &Engine, execution: &ExecutionRecord, mode: ReadMode) -> Result<pb::Execution, Status> {
    let mut record = records::execution(execution);
    record.inputs = Some(engine.execution_inputs(execution, mode).await.or_status()?);
    Ok(record)
}

pub async fn execution_data(
    engine: &Engine,
    execution: &ExecutionRecord,
    mode: ReadMode,
) -> Result<pb::GetExecutionDataResponse, Status> {
    let values = engine.execution_values(execution, mode).await.or_status()?;
    Ok(pb::GetExecutionDataResponse {
        inputs: Some(values.inputs),
        outputs: values.outputs,
        error: records::error(&execution.error),
    })
}

pub async fn node_data(
    engine: &Engine,
    node: &NodeRecord,
    mode: ReadMode,
) -> Result<pb::GetNodeExecutionDataResponse, Status> {
    let values = engine.node_values(node, mode).await.or_status()?;
    let mut response = pb::GetNodeExecutionDataResponse {
        inputs: values.inputs,
        outputs: values.outputs,
        error: records::error(&node.error),
        ..Default::default()
    };
    if let Some((spec, attempt)) = values.spec {
        response.dynamic_spec_attempt = attempt;
        match spec {
            SpecRead::Inline(spec) => response.dynamic_spec = Some(spec),
            SpecRead::Reference { uri, size_bytes } => {
                response.dynamic_spec_reference = Some(pb::OffloadedSpec { uri, size_bytes });
            }
        }
    }
    Ok(response)
}

/// A reference's bytes, one message per chunk. Reading runs ahead of the client by a few chunks at most.
pub fn chunks(mut reader: ReferenceReader) -> ChunkStream {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let item = match reader.next_chunk().await {
                Ok(Some(chunk)) => Ok(pb::ReadOffloadedResponse { chunk }),
                Ok(None) => return,
                Err(error) => Err(crate::status::to_status(error)),
            };
            let failed = item.is_err();
            // The client went away: stop reading.
            if tx.send(item).await.is_err() || failed {
                return;
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
}
