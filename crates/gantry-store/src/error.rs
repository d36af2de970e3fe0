//! The store's one error type.

/// What went wrong in the store, in the terms the server maps to gRPC codes.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key is taken (an execution name, a resource registered with a different template).
    #[error("{0}")]
    Conflict(String),
    /// The database cannot be reached or the connection broke; the caller may retry.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A row holds a value this version cannot read (an unknown phase name).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A page token (`Page::after`) that no listing could have returned.
    #[error("invalid page token: {0}")]
    InvalidPage(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// Applying the embedded migrations failed. The message holds the cause's, so it is not also a `source` (a chain
    /// printed with `{:#}` would say it twice).
    #[error("migration failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(error)
    }
}

/// Classifies a sqlx error once, so that every `?` in the store yields the right variant: a lost connection is
/// [`StoreError::Unavailable`] (retryable), a value the row cannot decode is [`StoreError::Corrupt`]. Unique
/// violations stay [`StoreError::Database`] here; the insert that knows the key turns them into a
/// [`StoreError::Conflict`] with [`conflict_or`].
impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(error.to_string()),
            sqlx::Error::Database(database_error) if is_unavailable(database_error.as_ref()) => {
                StoreError::Unavailable(database_error.message().to_owned())
            }
            _ => StoreError::Database(error),
        }
    }
}

/// Postgres SQLSTATEs of a lost or refused connection (class 08, admin/crash shutdown, too many connections,
/// cannot connect now) and SQLite's BUSY and LOCKED (the busy timeout ran out): all worth a retry.
fn is_unavailable(error: &dyn sqlx::error::DatabaseError) -> bool {
    if let Some(postgres_error) = error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        return is_unavailable_sqlstate(postgres_error.code());
    }
    if error.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // SQLite reports extended result codes as decimal; the primary code is the low byte.
        let extended = error.code().and_then(|code| code.parse::<i32>().ok());
        return extended.is_some_and(|extended| matches!(extended & 0xff, SQLITE_BUSY | SQLITE_LOCKED));
    }
    false
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

fn is_unavailable_sqlstate(sqlstate: &str) -> bool {
    sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300")
}

/// A unique violation becomes a [`StoreError::Conflict`] with the message `describe` builds (naming the key);
/// anything else is classified as usual.
pub(crate) fn conflict_or(error: sqlx::Error, describe: impl FnOnce() -> String) -> StoreError {
    match &error {
        sqlx::Error::Database(database_error) if database_error.is_unique_violation() => {
            StoreError::Conflict(describe())
        }
        _ => StoreError::from(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_are_unavailable_and_others_are_not() {
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Database(_)
        ));
        assert!(is_unavailable_sqlstate("08006"));
        assert!(is_unavailable_sqlstate("57P01"));
        assert!(!is_unavailable_sqlstate("23505"));
        assert!(!is_unavailable_sqlstate("42501"));
    }
}
