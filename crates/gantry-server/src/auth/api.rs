//! The AuthService: API keys, for admins (the layer refuses everyone else before a handler runs).

use gantry_engine::{Engine, EngineError};
use gantry_proto::v1 as pb;
use gantry_proto::v1::auth_service_server::AuthService;
use gantry_store::{ApiKeyRow, Store};
use tonic::{Request, Response, Status};

use super::keys::{self, KeySpec};
use crate::audit::{self, Audit, Audited};
use crate::caller::Role;
use crate::edge;
use crate::records::timestamp;
use crate::status::IntoStatus;

/// The longest description a key takes.
const MAX_DESCRIPTION_BYTES: usize = 1024;

/// The AuthService over the engine.
#[derive(Debug, Clone)]
pub struct AuthApi {
    engine: Engine,
    audit: Audit,
}

impl AuthApi {
    pub fn new(engine: Engine) -> Self {
        let audit = Audit::new(engine.clone());
        AuthApi { engine, audit }
    }
}

/// Where a new key is recorded: through the engine (the server), or straight on the store (the first admin key,
/// made before any server can be called with one).
#[tonic::async_trait]
pub trait KeyRecords: Sync {
    async fn project_exists(&self, project: &str) -> Result<bool, EngineError>;
    async fn insert_key(&self, row: &ApiKeyRow) -> Result<(), EngineError>;
}

#[tonic::async_trait]
impl KeyRecords for Engine {
    async fn project_exists(&self, project: &str) -> Result<bool, EngineError> {
        Ok(self.project(project).await?.is_some())
    }

    async fn insert_key(&self, row: &ApiKeyRow) -> Result<(), EngineError> {
        self.insert_api_key(row).await
    }
}

#[tonic::async_trait]
impl KeyRecords for dyn Store {
    async fn project_exists(&self, project: &str) -> Result<bool, EngineError> {
        Ok(self.get_project(project).await?.is_some())
    }

    async fn insert_key(&self, row: &ApiKeyRow) -> Result<(), EngineError> {
        Ok(self.insert_api_key(row).await?)
    }
}

/// A role from the wire.
fn role(raw: i32) -> Result<Role, Status> {
    match pb::Role::try_from(raw) {
        Ok(pb::Role::Admin) => Ok(Role::Admin),
        Ok(pb::Role::Operator) => Ok(Role::Operator),
        Ok(pb::Role::Viewer) => Ok(Role::Viewer),
        Ok(pb::Role::Worker) => Ok(Role::Worker),
        _ => Err(Status::invalid_argument(format!(
            "role: {raw} is not a role (admin, operator, viewer or worker)"
        ))),
    }
}

fn wire_role(name: &str) -> pb::Role {
    match keys::parse_role(name) {
        Some(Role::Admin) => pb::Role::Admin,
        Some(Role::Operator) => pb::Role::Operator,
        Some(Role::Viewer) => pb::Role::Viewer,
        Some(Role::Worker) => pb::Role::Worker,
        None => pb::Role::Unspecified,
    }
}

/// A key as shown: never its hash.
pub fn api_key(row: &ApiKeyRow) -> pb::ApiKey {
    pb::ApiKey {
        id: row.id.clone(),
        project: row.project.clone().unwrap_or_default(),
        role: wire_role(&row.role) as i32,
        description: row.description.clone(),
        created_at: Some(timestamp(row.created_at)),
        expires_at: row.expires_at.map(timestamp),
        revoked_at: row.revoked_at.map(timestamp),
    }
}

/// Checks a key request and turns it into what [`keys::issue`] takes; `now` counts the expiry from.
pub fn key_spec(request: pb::CreateApiKeyRequest, now: i64) -> Result<KeySpec, Status> {
    let role = role(request.role)?;
    let project = match (role, request.project.is_empty()) {
        (Role::Admin, true) => None,
        (Role::Admin, false) => {
            return Err(Status::invalid_argument(
                "project: an admin key is for every project, and names none",
            ));
        }
        (_, true) => return Err(Status::invalid_argument("project is required for this role")),
        (_, false) => {
            edge::project_or_domain("project", &request.project)?;
            Some(request.project)
        }
    };
    if request.description.len() > MAX_DESCRIPTION_BYTES {
        return Err(Status::invalid_argument(format!(
            "description: {} bytes given, over the limit of {MAX_DESCRIPTION_BYTES}",
            request.description.len()
        )));
    }
    let expires_at = match request.expires_in {
        None => None,
        Some(expires_in) => {
            let expires_in = std::time::Duration::try_from(expires_in)
                .ok()
                .filter(|duration| !duration.is_zero())
                .ok_or_else(|| Status::invalid_argument("expires_in: must be longer than zero"))?;
            let ms = i64::try_from(expires_in.as_millis()).unwrap_or(i64::MAX);
            Some(now.saturating_add(ms))
        }
    };
    Ok(KeySpec {
        project,
        role,
        description: request.description,
        expires_at,
    })
}

/// Issues a key and stores it: what `CreateApiKey` does, and what `gantry auth keys create --database-url` does
/// straight on the store to make the first admin key (no key can call the server before one exists). A key for a
/// project needs the project to exist.
pub async fn create_key(
    records: &(impl KeyRecords + ?Sized),
    request: pb::CreateApiKeyRequest,
) -> Result<pb::CreateApiKeyResponse, Status> {
    let now = gantry_engine::now_ms();
    let spec = key_spec(request, now)?;
    if let Some(project) = &spec.project
        && !records.project_exists(project).await.or_status()?
    {
        return Err(Status::not_found(format!("project {project} does not exist")));
    }
    let issued = keys::issue(spec, now).map_err(Status::from)?;
    records.insert_key(&issued.row).await.or_status()?;
    tracing::info!(key = %issued.row.id, role = %issued.row.role, "api key created");
    Ok(pb::CreateApiKeyResponse {
        key: Some(api_key(&issued.row)),
        token: issued.token,
    })
}

#[tonic::async_trait]
impl AuthService for AuthApi {
    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        let audited = Audited::create_api_key(audit::principal(&request), request.get_ref());
        let result = create_key(&self.engine, request.into_inner()).await.map(Response::new);
        let learned = |response: &pb::CreateApiKeyResponse, audited: &mut Audited| {
            if let Some(key) = &response.key {
                audited.set_target(&key.id);
            }
        };
        self.audit.record(audited, result, learned).await
    }

    async fn list_api_keys(
        &self,
        _request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        let rows = self.engine.api_keys().await.or_status()?;
        Ok(Response::new(pb::ListApiKeysResponse {
            keys: rows.iter().map(api_key).collect(),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        let audited = Audited::revoke_api_key(audit::principal(&request), request.get_ref());
        let result = async {
            let id = request.into_inner().id;
            let uuid = uuid::Uuid::parse_str(&id).map_err(|_| {
                Status::invalid_argument(format!("id: {} is not a key id", gantry_core::names::quote(&id)))
            })?;
            let row = self.engine.revoke_api_key(&uuid.to_string()).await.or_status()?;
            let row = row.ok_or_else(|| Status::not_found(format!("API key {uuid} does not exist")))?;
            tracing::info!(key = %row.id, "api key revoked");
            Ok(Response::new(pb::RevokeApiKeyResponse {
                key: Some(api_key(&row)),
            }))
        };
        self.audit.record(audited, result.await, |_, _| {}).await
    }
}
