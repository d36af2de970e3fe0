//! One module per subcommand (or family of them).

pub mod audit;
pub mod catalog;
pub mod inspect;
pub mod nodes;
pub mod register;
pub mod rerun;
pub mod run;
pub mod server;
mod watch;
