//! Who may use Gantry, as the engine keeps it: API keys and projects, read and written straight on the store
//! (outside the writer: neither belongs to a state change of executions). What a key or project allows is the
//! server's business; the engine stores what it is given.

use gantry_store::{ApiKeyRow, ProjectRow};

use crate::Engine;
use crate::error::EngineResult;

impl Engine {
    /// Records a new API key (its secret only as a hash).
    pub async fn insert_api_key(&self, row: &ApiKeyRow) -> EngineResult<()> {
        Ok(self.shared.store.insert_api_key(row).await?)
    }

    /// The key with this id, revoked or not.
    pub async fn api_key(&self, id: &str) -> EngineResult<Option<ApiKeyRow>> {
        Ok(self.shared.store.get_api_key(id).await?)
    }

    /// Every key, revoked ones included.
    pub async fn api_keys(&self) -> EngineResult<Vec<ApiKeyRow>> {
        Ok(self.shared.store.list_api_keys().await?)
    }

    /// Revokes the key as of the engine's clock (once: a revoked key keeps its first revocation time); `None` when
    /// there is no such key.
    pub async fn revoke_api_key(&self, id: &str) -> EngineResult<Option<ApiKeyRow>> {
        let now = self.shared.config.clock.now();
        Ok(self.shared.store.revoke_api_key(id, now).await?)
    }

    /// Records a new project; false when one of that id exists.
    pub async fn insert_project(&self, row: &ProjectRow) -> EngineResult<bool> {
        Ok(self.shared.store.insert_project(row).await?)
    }

    /// The project with this id, archived or not.
    pub async fn project(&self, id: &str) -> EngineResult<Option<ProjectRow>> {
        Ok(self.shared.store.get_project(id).await?)
    }

    /// Every project, archived ones included.
    pub async fn projects(&self) -> EngineResult<Vec<ProjectRow>> {
        Ok(self.shared.store.list_projects().await?)
    }

    /// Archives the project as of the engine's clock; `None` when there is no such project.
    pub async fn archive_project(&self, id: &str) -> EngineResult<Option<ProjectRow>> {
        let now = self.shared.config.clock.now();
        Ok(self.shared.store.archive_project(id, now).await?)
    }
}
