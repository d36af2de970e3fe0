//! How the Postgres store connects: the pool's settings, and the connection [`crate::Store::ping`] uses. That one
//! is not one of the pool's: a pool whose connections are all busy with slow requests says nothing about whether the
//! database is reachable, and the pool retries a refused connection until its acquire timeout, where a probe must
//! fail at once.

use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

use crate::StoreResult;

/// How the Postgres store connects.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// Connections in the pool.
    pub max_connections: u32,
    /// The longest a call waits for a pooled connection, connecting included; past it the call fails as
    /// [`crate::StoreError::Unavailable`] instead of queueing behind a database that does not answer.
    pub acquire_timeout: Duration,
}

impl Default for PgSettings {
    /// Eight connections; sqlx's acquire timeout of 30 s.
    fn default() -> Self {
        PgSettings {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
        }
    }
}

/// The store's own connection for pings.
pub(super) struct Probe {
    options: PgConnectOptions,
    connection: tokio::sync::Mutex<Option<PgConnection>>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe").finish_non_exhaustive()
    }
}

impl Probe {
    pub(super) fn new(options: PgConnectOptions) -> Self {
        Probe {
            options,
            connection: tokio::sync::Mutex::new(None),
        }
    }

    /// Pings the held connection, or connects anew when there is none or it broke.
    pub(super) async fn ping(&self) -> StoreResult<()> {
        let mut held = self.connection.lock().await;
        // Out of the slot while in use: a ping its caller gives up on (a database that does not answer) drops the
        // connection with it, and the next ping starts from a fresh one.
        if let Some(mut connection) = held.take()
            && connection.ping().await.is_ok()
        {
            *held = Some(connection);
            return Ok(());
        }
        *held = Some(PgConnection::connect_with(&self.options).await?);
        Ok(())
    }
}
