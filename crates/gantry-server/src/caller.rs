//! Who made a request: the principal the authentication layer established, and what it may do.
//!
//! The authentication layer puts a [`Caller`] into every request's extensions before any handler or other layer
//! that needs it runs (authorization, the audit log, fair-use limits). Without authentication (the developer mode)
//! every request is the [`Caller::developer`], who may do everything.

/// What a grant allows, per project (admin: everywhere).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything: every project, keys, projects.
    Admin,
    /// Per project: register, run, terminate, relaunch, recover, read.
    Operator,
    /// Per project: read.
    Viewer,
    /// Per project: poll, heartbeat and complete attempts of that project's executions.
    Worker,
}

/// One role, on one project or (admin only) on all of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Grant {
    /// `None`: every project.
    pub project: Option<String>,
    pub role: Role,
}

/// The authenticated principal of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// A stable, non-secret name of the principal (an API key's id, a token's subject); safe to log and to record.
    pub principal: String,
    pub grants: Vec<Grant>,
}

impl Caller {
    /// The caller of a server that runs without authentication: may do everything.
    pub fn developer() -> Self {
        Self {
            principal: "developer".to_owned(),
            grants: vec![Grant {
                project: None,
                role: Role::Admin,
            }],
        }
    }

    /// The caller the authentication layer put into a request's extensions; the developer when there is none
    /// (a server without authentication).
    pub fn of<T>(request: &tonic::Request<T>) -> Self {
        request
            .extensions()
            .get::<Caller>()
            .cloned()
            .unwrap_or_else(Caller::developer)
    }
}
