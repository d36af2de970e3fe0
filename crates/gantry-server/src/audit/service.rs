//! `AuditService`: the audit log's listing, for admins (see audit.proto). Its own service rather than a method of
//! `AdminService`, so that authorization grants it by service (admin only), apart from the project-scoped reads of
//! the admin service, and so that a deployment may keep it off a public listener.

use gantry_engine::{AuditEntry, AuditFilter, Engine};
use gantry_proto::v1 as pb;
use gantry_proto::v1::audit_service_server::AuditService;
use tonic::{Request, Response, Status};

use super::AUDITED;
use crate::edge;
use crate::paging::{fit, page};
use crate::records::timestamp;
use crate::status::IntoStatus;

/// The audit service over an engine.
#[derive(Debug, Clone)]
pub struct AuditApi {
    engine: Engine,
}

impl AuditApi {
    pub fn new(engine: Engine) -> Self {
        AuditApi { engine }
    }
}

#[tonic::async_trait]
impl AuditService for AuditApi {
    async fn list_audit_entries(
        &self,
        request: Request<pb::ListAuditEntriesRequest>,
    ) -> Result<Response<pb::ListAuditEntriesResponse>, Status> {
        let r = request.into_inner();
        let filter = filter(&r)?;
        let page = page(r.page_size, r.page_token)?;
        let listed = self.engine.list_audit(&filter, &page).await.or_status()?;
        let last = listed.last().map(|entry| entry.id.to_string());
        let entries = listed.iter().map(|entry| (entry.id.to_string(), wire(entry))).collect();
        let budget = self.engine.config().limits.response_bytes;
        let (entries, next_page_token) = fit(entries, budget, (listed.len(), page.limit, last));
        Ok(Response::new(pb::ListAuditEntriesResponse {
            entries,
            next_page_token,
        }))
    }
}

/// The listing's filter, checked: a known method, a well-formed project, a time range that is not empty.
fn filter(r: &pb::ListAuditEntriesRequest) -> Result<AuditFilter, Status> {
    let given = |text: &str| (!text.is_empty()).then(|| text.to_owned());
    edge::optional_name("principal", &r.principal, gantry_core::names::NAME)?;
    if !r.project.is_empty() {
        edge::project_or_domain("project", &r.project)?;
    }
    if !r.rpc.is_empty() && !AUDITED.contains(&r.rpc.as_str()) {
        return Err(Status::invalid_argument(format!(
            "rpc: {} is not an audited method (one of {})",
            gantry_core::names::quote(&r.rpc),
            AUDITED.join(", ")
        )));
    }
    let since = r.since.as_ref().map(millis);
    let until = r.until.as_ref().map(millis);
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        return Err(Status::invalid_argument("until: must be after since"));
    }
    Ok(AuditFilter {
        principal: given(&r.principal),
        project: given(&r.project),
        rpc: given(&r.rpc),
        since,
        until,
    })
}

fn millis(time: &prost_types::Timestamp) -> i64 {
    time.seconds
        .saturating_mul(1_000)
        .saturating_add(i64::from(time.nanos) / 1_000_000)
}

fn wire(entry: &AuditEntry) -> pb::AuditEntry {
    pb::AuditEntry {
        id: entry.id.to_string(),
        principal: entry.principal.clone(),
        time: Some(timestamp(entry.at)),
        rpc: entry.rpc.clone(),
        project: entry.project.clone(),
        domain: entry.domain.clone(),
        target: entry.target.clone(),
        summary: entry.summary.clone(),
        outcome: entry.outcome.clone(),
        message: entry.message.clone(),
    }
}
