//! The audit log: every mutating call recorded, before it is answered, with its principal, target, a summary and
//! its outcome; and `AuditService`, which lists the entries (`service.rs`).
//!
//! **What is audited** is [`AUDITED`]: one table of method names. A handler of an audited method describes its
//! request before running it ([`Audited`], from `summary.rs`, which never copies input values or other literals) and
//! hands its result to [`Audit::record`], which writes the entry and then returns the result. A new mutating RPC (the
//! key and project RPCs of authentication, say) is audited by adding its name to [`AUDITED`] and wrapping its
//! handler the same way; `ListAuditEntries` filters by the names in the table.
//!
//! **A failed audit write fails the call**: a call that succeeded is answered with the write's error instead
//! (UNAVAILABLE when the database is unreachable, INTERNAL otherwise), with a message saying that the call itself
//! succeeded, so that no change is answered as done without its entry; the change did commit, and the mutating RPCs
//! are idempotent by name, so a client retries as after any UNAVAILABLE and finds it. A call that failed keeps its
//! own error (it is refused either way, and during an outage that error already says the database is unavailable).
//! Either way the server logs the entry it could not write, as an error: nothing is lost silently.

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
    "SetSignal",
    "ActivateSchedule",
    "DeactivateSchedule",
    "CreateApiKey",
    "RevokeApiKey",
    "CreateProject",
    "ArchiveProject",
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
        let Err(error) = self.engine.record_audit(entry.clone()).await else {
            return result;
        };
        if result.is_err() {
            // Refused either way: the call's own error says why.
            log_unwritten(&entry, &error, "audit entry of a refused call not written");
            return result;
        }
        log_unwritten(&entry, &error, "audit entry not written; the call fails");
        let status = to_status(error);
        Err(Status::new(
            status.code(),
            format!(
                "audit log: the entry of this {} could not be written ({}); the call itself {}",
                entry.rpc,
                status.message(),
                describe(&entry)
            ),
        ))
    }
}

/// Logs an entry that could not be written, whole, so that the log holds what the audit log misses.
fn log_unwritten(entry: &NewAuditEntry, error: &gantry_engine::EngineError, what: &str) {
    tracing::error!(
        rpc = %entry.rpc,
        principal = %entry.principal,
        project = %entry.project,
        domain = %entry.domain,
        target = %entry.target,
        summary = %entry.summary,
        outcome = %entry.outcome,
        message = %entry.message,
        error = %error,
        "{what}"
    );
}

/// How a call that succeeded ended, for the message of a failed audit write.
fn describe(entry: &NewAuditEntry) -> String {
    let target = if entry.target.is_empty() {
        String::new()
    } else {
        format!(" ({})", entry.target)
    };
    format!("succeeded{target}: check before repeating it")
}

/// The caller's principal, for a handler about to consume its request.
pub fn principal<T>(request: &Request<T>) -> String {
    Caller::of(request).principal
}

/// A gRPC code's name, as the protos and `grpc-status` documentation spell it (`NOT_FOUND`).
pub fn code_name(code: Code) -> String {
    gantry_proto::code_name(code).to_owned()
}
