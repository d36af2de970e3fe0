//! One module per subcommand (or family of them).

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod inspect;
pub mod nodes;
pub mod projects;
pub mod register;
pub mod rerun;
pub mod run;
pub mod schedules;
pub mod server;
pub mod signals;
mod watch;
