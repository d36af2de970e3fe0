//! The SQLite dialect, for a single server process. Writers are serialised by SQLite itself: every transaction
//! begins `IMMEDIATE`, taking the write lock up front, so two transactions never deadlock upgrading a read lock,
//! and claims need no `SKIP LOCKED`. Lists are bound as one JSON array (`json_each`).

mod batch;
mod dialect;

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use uuid::Uuid;

use crate::StoreResult;
use crate::sql::SqlStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

/// Readers run beside the one writer (WAL); more connections than this only queue on the write lock.
const FILE_MAX_CONNECTIONS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Gantry's store in an embedded SQLite database.
pub type SqliteStore = SqlStore<SqliteDialect>;

/// The SQLite side of [`SqlStore`].
#[derive(Debug, Clone)]
pub struct SqliteDialect;

impl SqlStore<SqliteDialect> {
    /// Opens (creating if missing) the database file at `path` and applies the embedded migrations: WAL journal,
    /// `synchronous = NORMAL`, foreign keys on, a 5 s busy timeout.
    ///
    /// `":memory:"` opens a private in-memory database. It lives on a single connection that is never closed, so
    /// a read outside a transaction waits while a transaction is open: hold no [`crate::Tx`] while awaiting a
    /// [`crate::Store`] read in the same task.
    pub async fn open(path: &str) -> StoreResult<Self> {
        let in_memory = path == ":memory:";
        let options = if in_memory {
            SqliteConnectOptions::from_str("sqlite::memory:")?
        } else {
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
        }
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
        let pool_options = if in_memory {
            // Every connection to :memory: would be a database of its own; one connection that never idles out
            // keeps the one database alive.
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(FILE_MAX_CONNECTIONS)
        };
        let pool = pool_options.connect_with(options).await?;
        let store = SqliteStore {
            pool,
            dialect: SqliteDialect,
        };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the embedded migrations that are not applied yet.
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The pool, for what the store does not cover.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A JSON array of strings: a list bound as one parameter and read with `json_each(?)`.
fn json_strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut json = String::from("[");
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push('"');
        for character in item.chars() {
            match character {
                '"' => json.push_str("\\\""),
                '\\' => json.push_str("\\\\"),
                control if u32::from(control) < 0x20 => {
                    let _ = write!(json, "\\u{:04x}", u32::from(control));
                }
                other => json.push(other),
            }
        }
        json.push('"');
    }
    json.push(']');
    json
}

/// A JSON array of ids in hex, read back as blobs with `unhex(value)` (how sqlx stores a [`Uuid`] in SQLite).
fn json_uuids(ids: &[Uuid]) -> String {
    let mut json = String::with_capacity(2 + ids.len() * 35);
    json.push('[');
    for (index, id) in ids.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        let _ = write!(json, "\"{}\"", id.simple());
    }
    json.push(']');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_encode_as_json() {
        assert_eq!(
            json_strings(["a", "b\"c", "d\\e", "f\ng"]),
            r#"["a","b\"c","d\\e","f\u000ag"]"#
        );
        assert_eq!(json_strings(std::iter::empty()), "[]");
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            json_uuids(&[id, id]),
            r#"["0123456789abcdef0123456789abcdef","0123456789abcdef0123456789abcdef"]"#
        );
    }
}
