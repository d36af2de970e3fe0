//! Gantry's values as people read and write them: literals to and from JSON guided by the declared type (`json`),
//! the type syntax of spec files and tables (`types`), RFC 3339 timestamps and the one duration syntax
//! (`time_text`), a schedule in a few words (`schedules`). Shared by the CLI and the console so that both spell a value the same way; the server uses its
//! duration parser for its flags.
//!
//! Pure: it depends on `gantry-core` and small parsing crates only, never on tokio, tonic, the store or the server.
#![forbid(unsafe_code)]

pub mod json;
pub mod schedules;
pub mod time_text;
pub mod types;
