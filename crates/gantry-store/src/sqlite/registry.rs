//! Registered tasks, workflows and launch plans.

use sqlx::{SqliteConnection, SqliteExecutor};

use crate::codec::{RawResource, page_after_resource, page_limit, resource_conflict, resource_table};
use crate::rows::{Page, ResourceKey, ResourceKind, ResourceRow};
use crate::{PutOutcome, StoreResult};

pub(super) async fn put_resource(
    conn: &mut SqliteConnection,
    kind: ResourceKind,
    row: &ResourceRow,
) -> StoreResult<PutOutcome> {
    let table = resource_table(kind);
    let key = &row.key;
    let inserted = sqlx::query(&format!(
        "INSERT INTO {table} (project, domain, name, version, template, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING"
    ))
    .bind(&key.project)
    .bind(&key.domain)
    .bind(&key.name)
    .bind(&key.version)
    .bind(&row.template)
    .bind(row.created_at)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(PutOutcome::Created);
    }
    let existing: Option<Vec<u8>> = sqlx::query_scalar(&format!(
        "SELECT template FROM {table} WHERE project = ?1 AND domain = ?2 AND name = ?3 AND version = ?4"
    ))
    .bind(&key.project)
    .bind(&key.domain)
    .bind(&key.name)
    .bind(&key.version)
    .fetch_optional(&mut *conn)
    .await?;
    match existing {
        Some(template) if template == row.template => Ok(PutOutcome::Unchanged),
        _ => Err(resource_conflict(kind, key)),
    }
}

pub(super) async fn get_resource<'e>(
    executor: impl SqliteExecutor<'e>,
    kind: ResourceKind,
    key: &ResourceKey,
) -> StoreResult<Option<ResourceRow>> {
    let table = resource_table(kind);
    let raw: Option<RawResource> = sqlx::query_as(&format!(
        "SELECT * FROM {table} WHERE project = ?1 AND domain = ?2 AND name = ?3 AND version = ?4"
    ))
    .bind(&key.project)
    .bind(&key.domain)
    .bind(&key.name)
    .bind(&key.version)
    .fetch_optional(executor)
    .await?;
    Ok(raw.map(ResourceRow::from))
}

pub(super) async fn list_resources<'e>(
    executor: impl SqliteExecutor<'e>,
    kind: ResourceKind,
    project: &str,
    domain: &str,
    name: Option<&str>,
    page: &Page,
) -> StoreResult<Vec<ResourceRow>> {
    let table = resource_table(kind);
    let (after_name, after_version) = page_after_resource(page)?.unzip();
    let raws: Vec<RawResource> = sqlx::query_as(&format!(
        "SELECT * FROM {table} WHERE project = ?1 AND domain = ?2 AND (?3 IS NULL OR name = ?3) \
         AND (?4 IS NULL OR (name, version) > (?4, ?5)) ORDER BY name, version LIMIT ?6"
    ))
    .bind(project)
    .bind(domain)
    .bind(name)
    .bind(after_name)
    .bind(after_version)
    .bind(page_limit(page))
    .fetch_all(executor)
    .await?;
    Ok(raws.into_iter().map(ResourceRow::from).collect())
}
