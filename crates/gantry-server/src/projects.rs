//! Projects as resources: the ProjectService, and the check that a registration or execution names a project it may
//! go to. With authentication on, that is an existing project that is not archived; in the developer mode a project
//! is created when first named, so that nothing that ran before projects existed breaks.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use gantry_engine::Engine;
use gantry_proto::v1 as pb;
use gantry_proto::v1::project_service_server::ProjectService;
use gantry_store::ProjectRow;
use tonic::{Request, Response, Status};

use crate::audit::{self, Audit, Audited};
use crate::auth::rules::Access;
use crate::edge;
use crate::records::timestamp;
use crate::status::IntoStatus;

/// A project's domains when its creator names none: the SDKs' default domain, `dev`, and two more.
pub const DEFAULT_DOMAINS: [&str; 3] = ["dev", "staging", "prod"];

/// The projects, for the services that need one to exist.
#[derive(Debug)]
pub struct Projects {
    engine: Engine,
    /// Authentication is on: projects must exist.
    enforce: bool,
    /// Developer mode: the projects known to exist, so that each is created once.
    known: Mutex<HashSet<String>>,
}

impl Projects {
    pub fn new(engine: Engine, enforce: bool) -> Self {
        Projects {
            engine,
            enforce,
            known: Mutex::new(HashSet::new()),
        }
    }

    /// Refuses a registration or execution in `project` and `domain` unless the project exists, is not archived and
    /// has the domain (authentication on); creates the project on first use otherwise (its domains unchecked).
    pub async fn admit(&self, project: &str, domain: &str) -> Result<(), Status> {
        if !self.enforce {
            if self.known().contains(project) {
                return Ok(());
            }
            let row = new_project(project.to_owned(), String::new(), Vec::new());
            self.engine.insert_project(&row).await.or_status()?;
            self.known().insert(project.to_owned());
            return Ok(());
        }
        match self.engine.project(project).await.or_status()? {
            None => Err(Status::not_found(format!("project {project} does not exist"))),
            Some(row) if row.archived_at.is_some() => {
                Err(Status::failed_precondition(format!("project {project} is archived")))
            }
            Some(row) if !row.domains.iter().any(|d| d == domain) => Err(Status::not_found(format!(
                "domain {domain} is not a domain of project {project} ({})",
                row.domains.join(", ")
            ))),
            Some(_) => Ok(()),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn new_project(id: String, description: String, domains: Vec<String>) -> ProjectRow {
    let domains = if domains.is_empty() {
        DEFAULT_DOMAINS.iter().map(|domain| (*domain).to_owned()).collect()
    } else {
        domains
    };
    ProjectRow {
        id,
        description,
        domains,
        created_at: gantry_engine::now_ms(),
        archived_at: None,
    }
}

fn project(row: ProjectRow) -> pb::Project {
    pb::Project {
        id: row.id,
        description: row.description,
        domains: row.domains,
        created_at: Some(timestamp(row.created_at)),
        archived_at: row.archived_at.map(timestamp),
    }
}

/// The ProjectService.
#[derive(Debug, Clone)]
pub struct ProjectApi {
    projects: Arc<Projects>,
    audit: Audit,
}

impl ProjectApi {
    pub fn new(projects: Arc<Projects>) -> Self {
        let audit = Audit::new(projects.engine.clone());
        ProjectApi { projects, audit }
    }

    fn engine(&self) -> &Engine {
        &self.projects.engine
    }
}

fn not_found(id: &str) -> Status {
    Status::not_found(format!("project {id} does not exist"))
}

#[tonic::async_trait]
impl ProjectService for ProjectApi {
    async fn create_project(
        &self,
        request: Request<pb::CreateProjectRequest>,
    ) -> Result<Response<pb::CreateProjectResponse>, Status> {
        let audited = Audited::create_project(audit::principal(&request), request.get_ref());
        let result = async {
            let r = request.into_inner();
            edge::project_or_domain("id", &r.id)?;
            for (i, domain) in r.domains.iter().enumerate() {
                edge::project_or_domain(&format!("domains[{i}]"), domain)?;
            }
            if r.description.len() > 1024 {
                return Err(Status::invalid_argument(format!(
                    "description: {} bytes given, over the limit of 1024",
                    r.description.len()
                )));
            }
            let row = new_project(r.id.clone(), r.description, r.domains);
            if !self.engine().insert_project(&row).await.or_status()? {
                return Err(Status::already_exists(format!("project {} already exists", r.id)));
            }
            self.projects.known().insert(r.id);
            Ok(Response::new(pb::CreateProjectResponse {
                project: Some(project(row)),
            }))
        };
        self.audit.record(audited, result.await, |_, _| {}).await
    }

    async fn list_projects(
        &self,
        request: Request<pb::ListProjectsRequest>,
    ) -> Result<Response<pb::ListProjectsResponse>, Status> {
        let access = Access::of(&request);
        let rows = self.engine().projects().await.or_status()?;
        let projects = rows
            .into_iter()
            .filter(|row| access.lists(&row.id))
            .map(project)
            .collect();
        Ok(Response::new(pb::ListProjectsResponse { projects }))
    }

    async fn get_project(
        &self,
        request: Request<pb::GetProjectRequest>,
    ) -> Result<Response<pb::GetProjectResponse>, Status> {
        let access = Access::of(&request);
        let id = request.into_inner().id;
        edge::project_or_domain("id", &id)?;
        access.sees(&id, || not_found(&id))?;
        let row = self.engine().project(&id).await.or_status()?;
        let row = row.ok_or_else(|| not_found(&id))?;
        Ok(Response::new(pb::GetProjectResponse {
            project: Some(project(row)),
        }))
    }

    async fn archive_project(
        &self,
        request: Request<pb::ArchiveProjectRequest>,
    ) -> Result<Response<pb::ArchiveProjectResponse>, Status> {
        let audited = Audited::archive_project(audit::principal(&request), request.get_ref());
        let result = async {
            let id = request.into_inner().id;
            edge::project_or_domain("id", &id)?;
            let row = self.engine().archive_project(&id).await.or_status()?;
            let row = row.ok_or_else(|| not_found(&id))?;
            Ok(Response::new(pb::ArchiveProjectResponse {
                project: Some(project(row)),
            }))
        };
        self.audit.record(audited, result.await, |_, _| {}).await
    }
}
