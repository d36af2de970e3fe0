//! `gantry relaunch` and `gantry recover`: an execution's target again, with its inputs.

use std::process::ExitCode;

use anyhow::anyhow;
use gantry_proto::v1 as pb;

use crate::client::{Connection, RpcResultExt, connect};
use crate::commands::run::started;
use crate::render::OutputFormat;

/// What `relaunch` and `recover` take.
#[derive(Debug, clap::Args)]
pub struct RerunArgs {
    /// The execution to start again.
    pub execution_id: String,
    /// A name for the new execution; asking again with the same name returns the same execution.
    #[arg(long)]
    pub name: Option<String>,
    /// Follow the new execution to its end, then print its outputs (or error).
    #[arg(long)]
    pub watch: bool,
}

/// Starts the execution's target again with the same inputs; nothing is reused but the cache.
pub async fn relaunch(
    server: &Connection,
    output: OutputFormat,
    args: RerunArgs,
    overwrite_cache: bool,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let response = client
        .relaunch_execution(pb::RelaunchExecutionRequest {
            id: args.execution_id.clone(),
            name: args.name.unwrap_or_default(),
            overwrite_cache,
        })
        .await
        .rpc(format!("relaunching execution {}", args.execution_id))?;
    let execution = response
        .execution
        .ok_or_else(|| anyhow!("the server returned no execution"))?;
    started(&mut client, output, execution, response.created, args.watch).await
}

/// Starts a failed (or aborted, or timed out) execution again, reusing what succeeded in it.
pub async fn recover(server: &Connection, output: OutputFormat, args: RerunArgs) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    let response = client
        .recover_execution(pb::RecoverExecutionRequest {
            id: args.execution_id.clone(),
            name: args.name.unwrap_or_default(),
        })
        .await
        .rpc(format!("recovering execution {}", args.execution_id))?;
    let execution = response
        .execution
        .ok_or_else(|| anyhow!("the server returned no execution"))?;
    started(&mut client, output, execution, response.created, args.watch).await
}
