//! What the binary's tests share: running the built `gantry` with a clean environment.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::process::Output;

pub const GANTRY: &str = env!("CARGO_BIN_EXE_gantry");

/// Runs the binary with `args`, none of the environment's GANTRY_* settings but `env`, and echoes what it printed
/// (shown when a test fails).
pub async fn gantry(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(GANTRY);
    command.args(args);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GANTRY_") {
            command.env_remove(name);
        }
    }
    command.envs(env.iter().copied());
    let output = command.output().await.expect("the gantry binary runs");
    eprintln!(
        "$ gantry {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The stdout of a command that must have succeeded.
pub fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// A server on 127.0.0.1:0 over an embedded SQLite file and a blob directory in `dir`, with transitions checked
/// strictly.
pub async fn embedded_server(dir: &std::path::Path) -> gantry_server::RunningServer {
    let config = gantry_server::ServerConfig {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        data_path: dir.join("gantry.db"),
        blob_store: dir.join("blobs").display().to_string(),
        strict_transitions: true,
        ..gantry_server::ServerConfig::default()
    };
    gantry_server::start(config).await.unwrap()
}

/// The `gantry` binary pointed at one server.
pub struct Cli {
    pub endpoint: String,
}

impl Cli {
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["--endpoint", self.endpoint.as_str()];
        all.extend_from_slice(args);
        gantry(&all, &[]).await
    }

    /// Runs a command that must succeed and returns its stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args).await;
        assert!(
            output.status.success(),
            "gantry {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a command with `--output json` that must succeed and returns what it printed.
    pub async fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all).await).expect("JSON on stdout")
    }
}
