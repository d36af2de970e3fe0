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
