//! The worker service: poll, heartbeat, complete. A request over a [`REQUEST_LIMITS`] count is refused whole before
//! anything reaches the engine; within them, each completion is validated on its own, so one malformed completion is
//! refused without failing the rest of the batch.

use std::time::Duration;

use gantry_core::model::{ExecutionError, LiteralMap};
use gantry_core::names;
use gantry_core::state::AttemptResult;
use gantry_engine::{AttemptRef, Claimant, Completion, CompletionOutcome, Engine, LeaseStatus};
use gantry_proto::lazy;
use gantry_proto::v1 as pb;
use gantry_proto::v1::worker_service_server::WorkerService;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::auth::rules::Access;
use crate::config::REQUEST_LIMITS;
use crate::edge;
use crate::fair_use::FairUseState;
use crate::records::timestamp;
use crate::status::{IntoStatus, to_status, within};

/// How long a poll waits for work when the worker does not say.
const DEFAULT_WAIT: Duration = Duration::from_secs(20);

/// The worker service over an engine.
#[derive(Debug, Clone)]
pub struct WorkerApi {
    engine: Engine,
    /// Announced to workers with every poll.
    limits: pb::WorkerLimits,
    /// Long polls held per principal.
    fair_use: FairUseState,
}

impl WorkerApi {
    /// The service; `(max_spec_nodes, max_spec_bytes)` are announced to workers (see `ServerConfig::spec_limits`).
    pub fn new(engine: Engine, (max_spec_nodes, max_spec_bytes): (u64, u64), fair_use: FairUseState) -> Self {
        WorkerApi {
            engine,
            limits: pb::WorkerLimits {
                max_spec_nodes,
                max_spec_bytes,
            },
            fair_use,
        }
    }
}

impl WorkerApi {
    /// `CompleteAttempts`, with each dynamic spec as the bytes the worker sent.
    pub async fn complete(
        &self,
        request: Request<lazy::CompleteAttemptsRequest>,
    ) -> Result<Response<pb::CompleteAttemptsResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        edge::worker_id(&r.worker_id)?;
        let claimant = claimant(&access, &r.worker_id);
        let (mut checked, valid) = Checked::new(r.completions)?;
        let outcomes = if valid.is_empty() {
            Vec::new()
        } else {
            self.engine.complete(&claimant.worker_id, valid).await.or_status()?
        };
        Ok(Response::new(pb::CompleteAttemptsResponse {
            results: checked.answer(outcomes),
        }))
    }
}

/// Who a worker is to the engine. Without authentication, the id it gives. With it, the caller's principal and that
/// id (`<principal>/<worker id>`): a lease is granted to that name and heartbeats and completions must present the
/// same, so a lease id used under another key is refused as a lease not held. Its claims take only attempts of its
/// project's executions (every project's for an admin).
fn claimant(access: &Access, worker_id: &str) -> Claimant {
    if access.caller.is_developer() {
        return Claimant {
            worker_id: worker_id.to_owned(),
            project: None,
        };
    }
    Claimant {
        worker_id: format!("{}/{worker_id}", access.caller.principal),
        project: access.caller.worker_project(),
    }
}

/// A request's completions checked at the edge: the result of each one refused there, and where the outcomes of the
/// others go.
struct Checked {
    results: Vec<Option<pb::CompletionResult>>,
    valid: Vec<(usize, AttemptRef)>,
}

impl Checked {
    /// Checks each completion on its own; refuses the request whole only over the count limit.
    fn new(completions: Vec<lazy::Completion>) -> Result<(Checked, Vec<Completion>), Status> {
        within("completions", completions.len(), REQUEST_LIMITS.completions)?;
        let mut checked = Checked {
            results: Vec::with_capacity(completions.len()),
            valid: Vec::new(),
        };
        let mut valid = Vec::new();
        for (i, wire) in completions.into_iter().enumerate() {
            let echo = wire.attempt.clone();
            match completion(i, wire) {
                Ok(completion) => {
                    checked.valid.push((i, completion.attempt.clone()));
                    valid.push(completion);
                    checked.results.push(None);
                }
                Err(status) => checked.results.push(Some(rejected(echo, status))),
            }
        }
        Ok((checked, valid))
    }

    /// Every completion's result, in request order, given the engine's outcomes of the valid ones.
    fn answer(&mut self, outcomes: Vec<CompletionOutcome>) -> Vec<pb::CompletionResult> {
        for ((slot, attempt), outcome) in self.valid.iter().zip(outcomes) {
            self.results[*slot] = Some(match outcome {
                Ok(phase) => pb::CompletionResult {
                    attempt: Some(wire_ref(attempt)),
                    status: pb::CompletionStatus::Accepted as i32,
                    code: Code::Ok as i32,
                    message: String::new(),
                    phase: pb::AttemptPhase::from(phase) as i32,
                },
                Err(error) => rejected(Some(wire_ref(attempt)), to_status(error)),
            });
        }
        std::mem::take(&mut self.results).into_iter().flatten().collect()
    }
}

fn attempt_ref(field: &str, attempt: Option<pb::AttemptRef>) -> Result<AttemptRef, Status> {
    let attempt = attempt.ok_or_else(|| Status::invalid_argument(format!("{field}: required field is missing")))?;
    let execution_id = Uuid::parse_str(&attempt.execution_id).map_err(|_| {
        Status::invalid_argument(format!(
            "{field}.execution_id: {} is not an execution id",
            names::quote(&attempt.execution_id)
        ))
    })?;
    edge::node_id(&format!("{field}.node_id"), &attempt.node_id)?;
    Ok(AttemptRef {
        execution_id,
        node_id: attempt.node_id,
        attempt: attempt.attempt,
    })
}

fn wire_ref(attempt: &AttemptRef) -> pb::AttemptRef {
    pb::AttemptRef {
        execution_id: attempt.execution_id.to_string(),
        node_id: attempt.node_id.clone(),
        attempt: attempt.attempt,
    }
}

/// Decodes one completion, naming the field that is wrong.
fn completion(index: usize, wire: lazy::Completion) -> Result<Completion, Status> {
    let field = format!("completions[{index}]");
    let attempt = attempt_ref(&format!("{field}.attempt"), wire.attempt)?;
    let lease_id = Uuid::parse_str(&wire.lease_id).map_err(|_| {
        Status::invalid_argument(format!(
            "{field}.lease_id: {} is not a lease id",
            names::quote(&wire.lease_id)
        ))
    })?;
    let result_bytes = wire.result.as_ref().map_or(0, |result| result.encoded_len()) as u64;
    let mut encoded_spec = None;
    let result = match wire.result {
        Some(lazy::CompletionResult::Outputs(outputs)) => AttemptResult::Outputs(
            LiteralMap::try_from(outputs).map_err(|e| Status::from(e.at(&format!("{field}.outputs"))))?,
        ),
        Some(lazy::CompletionResult::DynamicSpec(bytes)) => {
            // Stored as received, and decoded a node at a time: the spec is never a tree of `pb` messages here.
            let spec =
                lazy::spec_from_bytes(&bytes).map_err(|e| Status::from(e.at(&format!("{field}.dynamic_spec"))))?;
            encoded_spec = Some(Vec::from(bytes));
            AttemptResult::DynamicSpec(std::sync::Arc::new(spec))
        }
        Some(lazy::CompletionResult::Error(error)) => {
            let mut error =
                ExecutionError::try_from(error).map_err(|e| Status::from(e.at(&format!("{field}.error"))))?;
            if !error.code.is_empty() {
                edge::name(&format!("{field}.error.code"), &error.code, names::NAME)?;
            }
            error.message = edge::capped_message(error.message);
            AttemptResult::Error(error)
        }
        None => {
            return Err(Status::invalid_argument(format!(
                "{field}.result: one of outputs, dynamic_spec or error is required"
            )));
        }
    };
    Ok(Completion {
        attempt,
        lease_id,
        result,
        result_bytes,
        encoded_spec,
    })
}

fn rejected(attempt: Option<pb::AttemptRef>, status: Status) -> pb::CompletionResult {
    pb::CompletionResult {
        attempt,
        status: pb::CompletionStatus::Rejected as i32,
        code: status.code() as i32,
        message: status.message().to_owned(),
        phase: 0,
    }
}

#[tonic::async_trait]
impl WorkerService for WorkerApi {
    async fn poll_tasks(
        &self,
        request: Request<pb::PollTasksRequest>,
    ) -> Result<Response<pb::PollTasksResponse>, Status> {
        let access = Access::of(&request);
        let principal = access.caller.principal.clone();
        let r = request.into_inner();
        edge::worker_id(&r.worker_id)?;
        let claimant = claimant(&access, &r.worker_id);
        if r.queues.is_empty() {
            return Err(Status::invalid_argument("queues: at least one queue is required"));
        }
        within("queues", r.queues.len(), REQUEST_LIMITS.poll_queues)?;
        for (i, queue) in r.queues.iter().enumerate() {
            edge::name(&format!("queues[{i}]"), queue, names::NAME)?;
        }
        within(
            "max_attempts",
            r.max_attempts as usize,
            REQUEST_LIMITS.poll_attempts as usize,
        )?;
        let wait = match r.wait {
            Some(wait) => {
                Duration::try_from(wait).map_err(|_| Status::invalid_argument("wait: must not be negative"))?
            }
            None => DEFAULT_WAIT,
        };
        // Completions in a poll come decoded whole; CompleteAttempts takes large dynamic specs without that.
        let (mut checked, completions) = Checked::new(r.completions.into_iter().map(lazy::Completion::from).collect())?;
        // A long poll holds one of its principal's slots until this call ends, however it ends (a cancelled call's
        // future is dropped, and the slot with it).
        let _slot = match wait.is_zero() {
            true => None,
            false => Some(self.fair_use.polls.take(&principal)?),
        };
        let polled = self
            .engine
            .poll_with(&claimant, &r.queues, r.max_attempts.max(1), wait, completions)
            .await
            .or_status()?;
        let assignments = polled
            .assignments
            .into_iter()
            .map(|a| {
                let (traceparent, tracestate) = a
                    .trace_context
                    .as_deref()
                    .map(gantry_telemetry::split_stored)
                    .unwrap_or_default();
                pb::AttemptAssignment {
                    attempt: Some(wire_ref(&a.attempt)),
                    lease_id: a.lease_id.to_string(),
                    lease_expires_at: Some(timestamp(a.lease_expires_at_ms)),
                    task: Some(a.task),
                    inputs: Some(a.inputs),
                    deadline: a.deadline_ms.map(timestamp),
                    traceparent: traceparent.to_owned(),
                    tracestate: tracestate.to_owned(),
                }
            })
            .collect();
        Ok(Response::new(pb::PollTasksResponse {
            assignments,
            limits: Some(self.limits),
            completion_results: checked.answer(polled.completions),
        }))
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let access = Access::of(&request);
        let r = request.into_inner();
        edge::worker_id(&r.worker_id)?;
        let claimant = claimant(&access, &r.worker_id);
        within("attempts", r.attempts.len(), REQUEST_LIMITS.heartbeat_attempts)?;
        let mut refs = Vec::with_capacity(r.attempts.len());
        let mut leases = Vec::with_capacity(r.attempts.len());
        for (i, leased) in r.attempts.into_iter().enumerate() {
            let attempt = attempt_ref(&format!("attempts[{i}].attempt"), leased.attempt)?;
            // An unparseable lease can never match: the attempt is reported lost.
            leases.push((attempt.clone(), Uuid::parse_str(&leased.lease_id).unwrap_or_default()));
            refs.push(attempt);
        }
        let states = self.engine.heartbeat(&claimant.worker_id, leases).await.or_status()?;
        let statuses = refs
            .iter()
            .zip(states)
            .map(|(attempt, state)| {
                let (state, until) = match state {
                    LeaseStatus::Extended { until_ms } => (pb::LeaseState::Extended, Some(timestamp(until_ms))),
                    LeaseStatus::Cancel => (pb::LeaseState::Cancel, None),
                    LeaseStatus::Lost => (pb::LeaseState::Lost, None),
                };
                pb::AttemptLeaseStatus {
                    attempt: Some(wire_ref(attempt)),
                    state: state as i32,
                    lease_expires_at: until,
                }
            })
            .collect();
        Ok(Response::new(pb::HeartbeatResponse { statuses }))
    }

    async fn complete_attempts(
        &self,
        request: Request<pb::CompleteAttemptsRequest>,
    ) -> Result<Response<pb::CompleteAttemptsResponse>, Status> {
        // Served by `WorkerRoutes` through `complete`; here for clients of the generated trait.
        self.complete(request.map(lazy::CompleteAttemptsRequest::from)).await
    }
}
