//! Real processes for fault tests: start one, read the line it prints when ready, kill it with SIGKILL.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A child process that printed its ready line.
#[derive(Debug)]
pub struct Process {
    pub child: Child,
    /// The ready line, without its prefix.
    pub ready: String,
}

impl Process {
    /// Starts `program` with `args` and waits for a stdout line starting with `prefix`.
    pub async fn start(program: &str, args: &[&str], prefix: &str) -> Process {
        let mut child = Command::new(program)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Process {
                    child,
                    ready: rest.trim().to_owned(),
                };
            }
        }
        panic!("{program} exited before printing {prefix:?}");
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("kill");
        self.child.wait().await.expect("wait");
    }
}
