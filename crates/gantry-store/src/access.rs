//! The rows of authentication and authorization: API keys (their secrets only as hashes) and projects.

/// An API key as stored. The secret is never stored: only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiKeyRow {
    /// The key's id (a UUIDv7 in canonical form): its non-secret principal name.
    pub id: String,
    /// SHA-256 of the key's secret.
    pub secret_hash: Vec<u8>,
    /// The project it grants its role on; `None`: every project (admin keys).
    pub project: Option<String>,
    /// `admin`, `operator`, `viewer` or `worker`.
    pub role: String,
    pub description: String,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it stops being accepted; `None`: never.
    pub expires_at: Option<i64>,
    /// When it was revoked; `None`: it was not.
    pub revoked_at: Option<i64>,
}

/// A project: what executions and registrations belong to, and what grants name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectRow {
    pub id: String,
    pub description: String,
    /// Its domains, in the order given at creation.
    pub domains: Vec<String>,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_at: i64,
    /// When it was archived; `None`: it takes new registrations and executions.
    pub archived_at: Option<i64>,
}

/// A project as stored: its domains joined by commas (a domain name never holds one).
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct RawProject {
    id: String,
    description: String,
    domains: String,
    created_at: i64,
    archived_at: Option<i64>,
}

impl From<RawProject> for ProjectRow {
    fn from(raw: RawProject) -> Self {
        ProjectRow {
            id: raw.id,
            description: raw.description,
            domains: raw
                .domains
                .split(',')
                .filter(|domain| !domain.is_empty())
                .map(str::to_owned)
                .collect(),
            created_at: raw.created_at,
            archived_at: raw.archived_at,
        }
    }
}
