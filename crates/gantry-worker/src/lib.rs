//! Gantry's Rust worker SDK.
//!
//! It owns what a worker process needs: [`TaskDef`] (task templates built in code), handlers
//! (`async fn(TaskContext, Inputs) -> Result<TaskOutput, TaskError>`) with typed inputs and outputs
//! ([`FromLiteral`], [`IntoLiteral`]), the [`DynamicSpec`] builder for dynamic tasks (held to the server's
//! [`SpecLimits`], which the worker learns from every poll), and the [`Worker`] loop that polls attempts, runs them
//! concurrently, heartbeats their leases and reports results in batches, within the server's request limits.
//! [`References`] reads the references a server answers with in place of values too large for one message: the
//! worker reads its inputs' before a handler runs, and clients may read what they get back.
//!
//! `https://` endpoints speak TLS ([`ClientTls`]: the system's roots or a CA file, and a client certificate for
//! mutual TLS), `http://` ones plaintext, and neither falls back to the other; the CLI connects through the same
//! [`endpoint`].
//!
//! It talks to the server only over the gRPC API of `gantry-proto`, and uses `gantry-core` for the data model. It
//! must not depend on the engine, the store or the server.
//!
//! ```no_run
//! use gantry_core::model::LiteralType;
//! use gantry_worker::{Inputs, TaskContext, TaskDef, TaskError, TaskOutput, Worker, outputs};
//!
//! async fn double(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
//!     let index: i64 = inputs.get("index")?;
//!     Ok(outputs().set("other_task_out", index * 2).into())
//! }
//!
//! # async fn run() -> Result<(), gantry_worker::WorkerError> {
//! let def = TaskDef::new("demo", "dev", "other_task", "1")
//!     .input("index", LiteralType::Integer)
//!     .output("other_task_out", LiteralType::Integer);
//! let worker = Worker::builder("http://127.0.0.1:50051").concurrency(8).task(def, double).build()?;
//! worker.register_tasks().await?;
//! worker.run(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
#![forbid(unsafe_code)]

mod context;
mod deadline;
mod dynamic;
mod error;
mod io;
mod literal;
mod references;
mod spec_limits;
mod task_def;
mod tls;
mod token;
mod worker;

pub use context::{AttemptId, TaskContext};
pub use deadline::{Deadline, DeadlineFuture, DeadlinePassed};
pub use dynamic::{DynamicSpec, IntoBinding, NodeHandle, Promise, SIGNAL_OUTPUT, TaskTarget};
pub use error::{TaskError, WorkerError};
pub use io::{Inputs, Outputs, TaskOutput, outputs};
pub use literal::{FromLiteral, IntoLiteral, LiteralError};
pub use references::{ReferenceError, References, holds_reference};
pub use spec_limits::{SPEC_TOO_LARGE, SpecLimits};
pub use task_def::TaskDef;
pub use tls::{ClientTls, ConnectError, diagnose_tls, endpoint, tls_failure, tls_refusal};
pub use token::{AuthedChannel, Bearer, InvalidToken};

/// The project of tasks, executions and listings that name none: the same in this SDK ([`TaskDef::named`]), the
/// Python SDK (`gantry.DEFAULT_PROJECT`) and the `gantry` CLI (`--project`), so that what one registers or starts the
/// others list.
pub const DEFAULT_PROJECT: &str = "demo";
/// The domain of tasks, executions and listings that name none (see [`DEFAULT_PROJECT`]).
pub const DEFAULT_DOMAIN: &str = "dev";
pub use worker::{HandlerFuture, Worker, WorkerBuilder};

/// The core model types a worker's code names most often.
pub use gantry_core::model::{Literal, LiteralMap, LiteralType, TaskPlugin};
