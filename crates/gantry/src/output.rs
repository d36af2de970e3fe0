//! Writing to stdout and stderr without panicking: `gantry nodes ID | head` closes the pipe early, and the standard
//! `println!` panics on that ("failed printing to stdout: Broken pipe"). A closed stdout ends the command quietly
//! and successfully, as it ends `cat`; any other write failure ends it with a message. Lines for stderr go through
//! `errln!`, which never panics either.
//!
//! Also the one place that renders an error for people: an error chain printed without repeating a cause whose
//! text its context already shows.

use std::fmt;
use std::io::{ErrorKind, Write};

/// `outln!("...", args)`: `println!` that ends the process quietly when stdout is a closed pipe.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::line(::std::format_args!($($arg)*))
    };
}

/// `errln!("...", args)`: `eprintln!` that never panics; when stderr is gone (`2>&1 | head` closed it), there is no
/// one left to tell.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::error_line(::std::format_args!($($arg)*))
    };
}

/// Writes one line to stderr, ignoring failure.
pub fn error_line(text: fmt::Arguments<'_>) {
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_fmt(text).and_then(|()| stderr.write_all(b"\n"));
}

/// Writes one line to stdout; see the module's header for what happens when that fails.
pub fn line(text: fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(text)
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush());
    if let Err(error) = written {
        if error.kind() == ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        // stderr may be gone too: nothing more can be said then.
        let _ = writeln!(std::io::stderr(), "error: writing to stdout: {error}");
        std::process::exit(1);
    }
}

/// An error and its causes, `: `-separated, leaving out each cause whose text the line already holds (libraries
/// often put their source's message into their own, so `{:#}` says it twice).
pub fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if cause.is_empty() || text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::*;

    #[test]
    fn a_cause_already_said_is_said_once() {
        let error = Err::<(), _>(std::io::Error::other("scheme is missing"))
            .context("invalid URL, scheme is missing")
            .context("cannot reach the server")
            .unwrap_err();
        assert_eq!(
            error_chain(&error),
            "cannot reach the server: invalid URL, scheme is missing"
        );
        let error = anyhow::anyhow!("disk full").context("writing x");
        assert_eq!(error_chain(&error), "writing x: disk full");
    }
}
