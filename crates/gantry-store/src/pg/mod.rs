//! The Postgres dialect: every batch write is one `UNNEST` statement, claims use `FOR UPDATE SKIP LOCKED`, so
//! several server replicas can share one database.

mod batch;
mod connection;
mod dialect;

use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, PgConnection};
use uuid::Uuid;

use crate::sql::SqlStore;
use crate::{Announcement, StoreError, StoreResult};
pub use connection::PgSettings;
use connection::Probe;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// Databases [`PgStore::connect_fresh`] creates are named with this prefix; [`PgStore::drop_fresh`] drops no other.
const FRESH_DATABASE_PREFIX: &str = "gantry_test_";

/// Gantry's store on Postgres, over a connection pool (and one connection of its own for [`crate::Store::ping`]).
pub type PgStore = SqlStore<PgDialect>;

/// The Postgres side of [`SqlStore`]; it keeps the connection [`crate::Store::ping`] uses.
#[derive(Debug, Clone)]
pub struct PgDialect {
    probe: Arc<Probe>,
}

impl SqlStore<PgDialect> {
    /// Connects a pool of at most `max_connections` to `url` and applies the embedded migrations. An unreachable
    /// server is [`StoreError::Unavailable`] at once.
    pub async fn connect(url: &str, max_connections: u32) -> StoreResult<Self> {
        let settings = PgSettings {
            max_connections,
            ..PgSettings::default()
        };
        PgStore::connect_with(url, &settings).await
    }

    /// [`PgStore::connect`] with every setting given.
    pub async fn connect_with(url: &str, settings: &PgSettings) -> StoreResult<Self> {
        // Plan every statement for its parameters: a generic plan cached while a table was small (an execution's
        // nodes before its fan-out) would keep scanning it whole after it grew to 100,000 rows. No JIT: our
        // statements are short, and a claim over many queues, estimated expensive, spent longer compiling (30 ms)
        // than running.
        let options =
            PgConnectOptions::from_str(url)?.options([("plan_cache_mode", "force_custom_plan"), ("jit", "off")]);
        // The pool retries refused connects until its acquire timeout; one direct connect fails fast.
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await?;
        let store = PgStore::from_pool(pool);
        store.migrate().await?;
        Ok(store)
    }

    /// Wraps a pool the caller built; does not migrate (call [`PgStore::migrate`]).
    pub fn from_pool(pool: PgPool) -> Self {
        let probe = Arc::new(Probe::new((*pool.connect_options()).clone()));
        PgStore {
            pool,
            dialect: PgDialect { probe },
        }
    }

    /// Applies the embedded migrations that are not applied yet (concurrent callers serialise on an advisory lock).
    pub async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The pool, for what the store does not cover (`LISTEN`/`NOTIFY`).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool, waiting for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates an empty database `gantry_test_<uuid>` on the server of `admin_url`, migrates it and connects to
    /// it. Returns the store and the new database's url. For tests: each gets a database of its own.
    pub async fn connect_fresh(admin_url: &str) -> StoreResult<(PgStore, String)> {
        let database = format!("{FRESH_DATABASE_PREFIX}{}", Uuid::now_v7().simple());
        let mut admin = PgConnection::connect(admin_url).await?;
        // A database name cannot be a bind parameter; this one is ours, made of [a-z0-9_].
        admin.execute(format!("CREATE DATABASE {database}").as_str()).await?;
        admin.close().await?;
        let url = with_database(admin_url, &database)?;
        let store = PgStore::connect(&url, 8).await?;
        Ok((store, url))
    }

    /// Drops a database [`PgStore::connect_fresh`] created, given its url, disconnecting whoever still uses it.
    /// Refuses any database not named `gantry_test_*`.
    pub async fn drop_fresh(admin_url: &str, fresh_url: &str) -> StoreResult<()> {
        let database = database_of(fresh_url);
        let database = database.as_str();
        let is_fresh = database
            .strip_prefix(FRESH_DATABASE_PREFIX)
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_hexdigit()));
        if !is_fresh {
            let refusal = format!("refusing to drop database {database:?}: not a fresh test database");
            return Err(StoreError::Database(sqlx::Error::InvalidArgument(refusal)));
        }
        let mut admin = PgConnection::connect(admin_url).await?;
        admin
            .execute(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)").as_str())
            .await?;
        admin.close().await?;
        Ok(())
    }
}

/// `url` with its database (the path) replaced by `database`, query parameters kept.
fn with_database(url: &str, database: &str) -> StoreResult<String> {
    let mut url =
        url::Url::parse(url).map_err(|error| StoreError::Database(sqlx::Error::Configuration(Box::new(error))))?;
    url.set_path(&format!("/{database}"));
    Ok(url.into())
}

/// The database (path) of a Postgres url; empty when it names none or does not parse.
fn database_of(url: &str) -> String {
    url::Url::parse(url).map_or_else(|_| String::new(), |url| url.path().trim_start_matches('/').to_owned())
}

/// `postgres://user:secret@host/db` as `postgres://***@host/db`, for logs and errors.
pub fn redact_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(a database URL that does not parse)".to_owned();
    };
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Neither fails on a URL with a host, which every URL with credentials has.
        let _ = parsed.set_password(None);
        let _ = parsed.set_username("***");
    }
    parsed.into()
}

/// Inserts of at least this many rows refresh the table's planner statistics at once.
const ANALYZE_AFTER_ROWS: usize = 5_000;

/// A fan-out inserts tens of thousands of nodes into a table whose statistics may say it is empty; until autovacuum
/// catches up (a minute or more) Postgres plans the many small reads and writes of that fan-out's nodes as if the
/// table were tiny. Refreshing them inside the inserting transaction (which `ANALYZE` counts) took a 100,000-child
/// fan-out from 35.6 s to 17.8 s. It samples at most 30,000 rows, so it costs about the same at any size. Doing the
/// same for attempts made claims walk the ordered index past every claimed attempt and slowed later claims 7-fold, so
/// attempts are left to autovacuum.
async fn refresh_statistics(conn: &mut PgConnection, table: &'static str, inserted: usize) -> StoreResult<()> {
    if inserted >= ANALYZE_AFTER_ROWS {
        sqlx::query(&format!("ANALYZE {table}")).execute(conn).await?;
    }
    Ok(())
}

/// The `NOTIFY` channel on which replicas announce queues with new work.
const QUEUE_CHANNEL: &str = "gantry_queues";
/// The `NOTIFY` channel on which replicas announce executions' new phases, as `origin id phase`.
const EXECUTION_CHANNEL: &str = "gantry_executions";

/// A notification as an announcement.
fn announcement(channel: &str, payload: &str) -> Option<Announcement> {
    if channel == QUEUE_CHANNEL {
        return Some(Announcement::Queue(payload.to_owned()));
    }
    let mut parts = payload.split(' ');
    let origin = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    let phase = parts.next()?.parse().ok()?;
    Some(Announcement::Execution { origin, id, phase })
}

/// See [`crate::Store::listen`].
async fn listen(pool: &PgPool) -> StoreResult<tokio::sync::mpsc::Receiver<Announcement>> {
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    // Reconnecting is the caller's to decide (it knows whether the database is reachable), and it must learn
    // that announcements may have been missed meanwhile: a lost connection ends the channel.
    listener.eager_reconnect(false);
    listener.listen_all([QUEUE_CHANNEL, EXECUTION_CHANNEL]).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(1_024);
    // The listener holds one pooled connection until the receiver is dropped or the connection breaks.
    tokio::spawn(async move {
        loop {
            let received = tokio::select! {
                _ = sender.closed() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    let Some(announcement) = announcement(notification.channel(), notification.payload()) else {
                        tracing::warn!(payload = notification.payload(), "an announcement that does not parse");
                        continue;
                    };
                    if sender.send(announcement).await.is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    tracing::warn!("announcements interrupted: the connection was lost");
                    return;
                }
                Err(error) => {
                    tracing::warn!(%error, "announcements interrupted");
                    return;
                }
            }
        }
    });
    Ok(receiver)
}

/// One `NOTIFY` per payload, in one statement; delivered when the transaction commits.
async fn notify(conn: &mut PgConnection, channel: &str, payloads: &[String]) -> StoreResult<()> {
    if payloads.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, payload) FROM UNNEST($2::text[]) AS payload")
        .bind(channel)
        .bind(payloads)
        .execute(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_are_rewritten_and_read() {
        let with = |url: &str, database: &str| with_database(url, database).unwrap();
        assert_eq!(
            with("postgres://postgres@127.0.0.1:5432/postgres", "gantry_test_ab"),
            "postgres://postgres@127.0.0.1:5432/gantry_test_ab"
        );
        assert_eq!(
            with("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with("postgres://h:5432", "x"), "postgres://h:5432/x");
        assert_eq!(
            with("postgres://h?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(with("postgres://u:p%40ss@h/db", "x"), "postgres://u:p%40ss@h/x");
        assert!(with_database("not a url", "x").is_err());
        assert_eq!(database_of("postgres://u@h:1/gantry_test_ab?a=b"), "gantry_test_ab");
        assert_eq!(database_of("postgres://u@h:1"), "");
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(redact_url("postgres://u:pw@db:5432/g"), "postgres://***@db:5432/g");
        assert_eq!(redact_url("postgres://db/g"), "postgres://db/g");
        assert!(!redact_url("postgres://u:p@ss@db/g").contains("p@ss"));
    }
}
