//! The server's configuration: one struct, filled by clap from flags or `GANTRY_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How to run the server.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "GANTRY_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Postgres URL (`postgres://...`). Without it, state lives in the embedded SQLite database at `--data-path`.
    #[arg(long, env = "GANTRY_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Path of the embedded SQLite database used when no database URL is given.
    #[arg(long, env = "GANTRY_DATA_PATH", default_value = "gantry.db")]
    pub data_path: PathBuf,
    /// Connections in the Postgres pool.
    #[arg(long, env = "GANTRY_DATABASE_CONNECTIONS", default_value_t = 8)]
    pub database_connections: u32,
    /// How long a claimed attempt's lease lasts without a heartbeat, e.g. `30s`.
    #[arg(long, env = "GANTRY_LEASE", default_value = "30s", value_parser = parse_duration)]
    pub lease: Duration,
    /// Phase changes buffered per watched execution; a watcher further behind is resynchronised with a snapshot.
    #[arg(long, env = "GANTRY_WATCH_BUFFER", default_value_t = 65_536)]
    pub watch_buffer: usize,
    /// Largest gRPC message accepted or sent, in bytes.
    #[arg(long, env = "GANTRY_MAX_MESSAGE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_message_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            database_url: None,
            data_path: PathBuf::from("gantry.db"),
            database_connections: 8,
            lease: Duration::from_secs(30),
            watch_buffer: 65_536,
            max_message_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Parses `250ms`, `30s`, `5m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s or 250ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use ms, s, m or h)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}
