//! ListSignals and SetSignal: a request converted, the engine called, the result converted.

use gantry_core::model::Literal;
use gantry_core::names;
use gantry_engine::SignalRecord;
use gantry_proto::convert::required;
use gantry_proto::v1 as pb;
use tonic::{Request, Response, Status};

use super::AdminApi;
use crate::audit::{self, Audited};
use crate::auth::rules::Access;
use crate::records::timestamp;
use crate::status::{IntoStatus, parse_id};

impl AdminApi {
    pub(super) async fn list_signals_of(
        &self,
        request: Request<pb::ListSignalsRequest>,
    ) -> Result<Response<pb::ListSignalsResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        let execution = self.find_execution(&access, &r.execution_id).await?;
        let signals = self.engine.list_signals(execution.id).await.or_status()?;
        Ok(Response::new(pb::ListSignalsResponse {
            signals: signals.into_iter().map(signal).collect(),
        }))
    }

    pub(super) async fn set_signal_of(
        &self,
        request: Request<pb::SetSignalRequest>,
    ) -> Result<Response<pb::SetSignalResponse>, Status> {
        let access = Access::of(&request);
        let principal = audit::principal(&request);
        let audited = Audited::set_signal(principal.clone(), request.get_ref());
        let result = async {
            let r = request.into_inner();
            let id = parse_id("execution_id", &r.execution_id)?;
            self.find_execution(&access, &r.execution_id).await?;
            if let Err(problem) = names::check(&r.signal_id, names::EXECUTION_NAME) {
                return Err(Status::invalid_argument(format!(
                    "signal_id {}: {problem}",
                    names::quote(&r.signal_id)
                )));
            }
            let value: Literal = required("value", r.value).map_err(|e| Status::invalid_argument(e.to_string()))?;
            let set = self
                .engine
                .set_signal(id, r.signal_id, value, principal)
                .await
                .or_status()?;
            Ok(Response::new(pb::SetSignalResponse {
                changed: set.changed,
                opened_node_ids: set.opened,
            }))
        };
        self.audit.record(audited, result.await, |_, _| {}).await
    }
}

fn signal(record: SignalRecord) -> pb::Signal {
    pb::Signal {
        signal_id: record.signal_id,
        node_id: record.node_id,
        r#type: record.ty.map(Into::into),
        approval: record.approval,
        deadline: record.deadline_ms.map(timestamp),
        value: record.value,
        set_at: record.set_at_ms.map(timestamp),
        set_by: record.set_by,
    }
}
