//! Real processes for fault tests: start one, read the line it prints when ready (and later lines, if the test
//! wants them), write lines to its stdin, kill it with SIGKILL.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// A child process that printed its ready line.
#[derive(Debug)]
pub struct Process {
    pub child: Child,
    /// The ready line, without its prefix.
    pub ready: String,
    /// The rest of its stdout. A process that prints much more must have it read (see [`Process::take_lines`]).
    lines: Option<Lines<BufReader<ChildStdout>>>,
    stdin: Option<ChildStdin>,
}

impl Process {
    /// Starts `program` with `args` and waits for a stdout line starting with `prefix`.
    pub async fn start(program: &str, args: &[&str], prefix: &str) -> Process {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Process {
                    child,
                    ready: rest.trim().to_owned(),
                    lines: Some(lines),
                    stdin,
                };
            }
        }
        panic!("{program} exited before printing {prefix:?}");
    }

    /// The lines the process prints after its ready line, to read as they come.
    pub fn take_lines(&mut self) -> Lines<BufReader<ChildStdout>> {
        self.lines.take().expect("the lines were taken already")
    }

    /// Writes one line to the process's stdin.
    pub async fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write stdin");
        stdin.flush().await.expect("flush stdin");
    }

    /// Closes the process's stdin (processes that stop when it closes then stop) and waits for it to exit.
    pub async fn close_and_wait(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        self.child.wait().await.expect("wait")
    }

    /// SIGKILL, and wait for the process to be gone.
    pub async fn kill(mut self) {
        self.child.start_kill().expect("kill");
        self.child.wait().await.expect("wait");
    }
}
