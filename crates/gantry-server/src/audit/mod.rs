//! The audit log: every mutating call recorded, before it is answered, with its principal, target, a summary and
//! its outcome; and `AuditService`, which lists the entries (`service.rs`).
//!
//! **What is audited** is [`AUDITED`]: one table of method names. A handler of an audited method describes its
//! request before running it ([`Audited`], from `summary.rs`, which never copies input values or other literals) and
//! hands its result to [`Audit::record`], which writes the entry and then returns the result. A new mutating RPC (the
//! key and project RPCs of authentication, say) is audited by adding its name to [`AUDITED`] and wrapping its
//! handler the same way; `ListAuditEntries` filters by the names in the table.
//!
//! **A failed audit write fails the call**: the client gets the write's error (UNAVAILABLE when the database is
//! unreachable, INTERNAL otherwise) instead of the call's answer, with a message saying how the call itself ended,
//! and the server logs the entry it could not write as an error. No change is answered as done without its entry;
//! the change itself may have committed before the write failed, which the message says, and the mutating RPCs are
//! idempotent by name, so a client retries as after any UNAVAILABLE.

mod service;
mod summary;

use gantry_engine::{Engine, NewAuditEntry};
use tonic::{Code, Request, Response, Status};

use crate::caller::Caller;
use crate::status::to_status;

pub use service::AuditApi;
pub use summary::Audited;

/// The audited methods, by their names in the protos. Every mutating RPC belongs here; reads, watches and the
/// worker service do not (see audit.proto).
pub const AUDITED: &[&str] = &[
    "RegisterTask",
    "RegisterWorkflow",
    "RegisterLaunchPlan",
    "CreateExecution",
    "TerminateExecution",
    "RelaunchExecution",
    "RecoverExecution",
];

/// Writes audit entries through the engine.
#[derive(Debug, Clone)]
pub struct Audit {
    engine: Engine,
}

impl Audit {
    pub fn new(engine: Engine) -> Self {
        Audit { engine }
    }

    /// Records `audited` with the outcome of `result`, and returns `result`; `learned` adds what only the answer
    /// says (the id of the execution created) to the entry first. A failed write fails the call (see the module's
    /// comment).
    pub async fn record<T>(
        &self,
        mut audited: Audited,
        result: Result<Response<T>, Status>,
        learned: impl FnOnce(&T, &mut Audited),
    ) -> Result<Response<T>, Status> {
        debug_assert!(AUDITED.contains(&audited.rpc), "{} is not in AUDITED", audited.rpc);
        let (outcome, message) = match &result {
            Ok(response) => {
                learned(response.get_ref(), &mut audited);
                ("OK".to_owned(), String::new())
            }
            Err(status) => (code_name(status.code()), status.message().to_owned()),
        };
        let entry = audited.into_entry(outcome, message);
        let rpc = entry.rpc.clone();
        let ended = describe(&entry);
        match self.engine.record_audit(entry.clone()).await {
            Ok(_) => result,
            Err(error) => {
                tracing::error!(
                    rpc = %entry.rpc,
                    principal = %entry.principal,
                    project = %entry.project,
                    domain = %entry.domain,
                    target = %entry.target,
                    summary = %entry.summary,
                    outcome = %entry.outcome,
                    error = %error,
                    "audit entry not written; the call fails"
                );
                let status = to_status(error);
                Err(Status::new(
                    status.code(),
                    format!(
                        "audit log: the entry of this {rpc} could not be written ({}); the call itself {ended}",
                        status.message()
                    ),
                ))
            }
        }
    }
}

/// How a call ended, for the message of a failed audit write.
fn describe(entry: &NewAuditEntry) -> String {
    if entry.outcome == "OK" {
        let target = if entry.target.is_empty() {
            String::new()
        } else {
            format!(" ({})", entry.target)
        };
        format!("succeeded{target}: check before repeating it")
    } else {
        format!("failed with {}: {}", entry.outcome, entry.message)
    }
}

/// The caller's principal, for a handler about to consume its request.
pub fn principal<T>(request: &Request<T>) -> String {
    Caller::of(request).principal
}

/// A gRPC code's name, as the protos and `grpc-status` documentation spell it (`NOT_FOUND`).
pub fn code_name(code: Code) -> String {
    let name = match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    };
    name.to_owned()
}
