//! The audit log, as the engine keeps it: an entry written by the writer with its next batch, and listings of them.
//! Through the writer, because on SQLite a write of its own waits for the one write lock, which the writer's
//! back-to-back transactions can keep from it for seconds (a client's CreateExecution, whose entry is written before
//! the reply, waited 1.4-3.2 s behind a 5,000-child fan-out run by maximal polls); in a batch it costs one insert
//! and no commit of its own. What is audited, and what an entry says, is the server's business: the engine stores
//! what it is given, stamped with an id and the engine's clock.

use gantry_store::{AuditFilter, AuditRow, Page};
use uuid::Uuid;

use crate::Engine;
use crate::error::EngineResult;
use crate::writer::{Reply, Request};

/// An audit entry before it is written: everything but its id and time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewAuditEntry {
    pub principal: String,
    pub rpc: String,
    pub project: String,
    pub domain: String,
    pub target: String,
    pub summary: String,
    /// `OK`, or the gRPC code's name.
    pub outcome: String,
    pub message: String,
}

impl Engine {
    /// Writes an audit entry (a UUIDv7 id, the engine's clock's time) and returns it once committed.
    pub async fn record_audit(&self, entry: NewAuditEntry) -> EngineResult<AuditRow> {
        let row = AuditRow {
            id: Uuid::now_v7(),
            principal: entry.principal,
            at: self.shared.config.clock.now(),
            rpc: entry.rpc,
            project: entry.project,
            domain: entry.domain,
            target: entry.target,
            summary: entry.summary,
            outcome: entry.outcome,
            message: entry.message,
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Request::Audit(Box::new(row.clone())), Reply::Audited(tx), rx)
            .await?;
        Ok(row)
    }

    /// A page of audit entries, newest first.
    pub async fn list_audit(&self, filter: &AuditFilter, page: &Page) -> EngineResult<Vec<AuditRow>> {
        Ok(self.shared.store.list_audit_entries(filter, page).await?)
    }
}
