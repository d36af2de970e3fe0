//! `gantry signal list|set` and `gantry approve|reject`: the signals an execution's gate nodes wait for.

use std::process::ExitCode;

use anyhow::{Context, anyhow};
use gantry_core::model::{Literal, LiteralType};
use gantry_proto::v1 as pb;
use gantry_text::json::{literal_from_json, literal_to_json};
use gantry_text::types::{format_type, parse_type};
use serde_json::{Value, json};

use crate::client::{Admin, Connection, RpcResultExt, connect};
use crate::render::{OutputFormat, print_json, table, timestamp};

/// `gantry signal ...`.
#[derive(Debug, clap::Subcommand)]
pub enum SignalCommand {
    /// List the signals an execution's gates wait for, and those already set.
    #[command(visible_alias = "ls")]
    List {
        /// The execution's id.
        execution_id: String,
    },
    /// Set a signal: the gates waiting for it take the value. Setting the same value again changes nothing.
    Set {
        /// The execution's id.
        execution_id: String,
        /// The signal's id, as its gates name it.
        signal_id: String,
        /// The value as JSON (`42`, `"text"`, `[1, 2]`), read as the type the gates wait for.
        value: String,
        /// The value's type (`int`, `list<str>`, ...), when no gate waits for the signal yet.
        #[arg(long = "type")]
        ty: Option<String>,
    },
}

/// `gantry approve` and `gantry reject`.
#[derive(Debug, clap::Args)]
pub struct DecisionArgs {
    /// The execution's id.
    execution_id: String,
    /// The approval's signal id.
    signal_id: String,
}

/// Runs a signal command.
pub async fn signal(server: &Connection, output: OutputFormat, command: SignalCommand) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    match command {
        SignalCommand::List { execution_id } => {
            let signals = list(&mut client, &execution_id).await?;
            match output {
                OutputFormat::Json => print_json(&Value::Array(signals.iter().map(signal_json).collect())),
                OutputFormat::Table if signals.is_empty() => errln!("execution {execution_id} has no signals"),
                OutputFormat::Table => outln!("{}", signals_table(&signals)),
            }
            Ok(ExitCode::SUCCESS)
        }
        SignalCommand::Set {
            execution_id,
            signal_id,
            value,
            ty,
        } => {
            let json: Value =
                serde_json::from_str(&value).with_context(|| format!("the value {value:?} is not JSON"))?;
            let ty = match ty {
                Some(text) => parse_type(&text).map_err(|problem| anyhow!("--type {text:?}: {problem}"))?,
                None => waited_type(&mut client, &execution_id, &signal_id).await?,
            };
            let literal = literal_from_json(&json, &ty, "value").map_err(|error| anyhow!("{error}"))?;
            set(&mut client, output, &execution_id, &signal_id, literal).await
        }
    }
}

/// Runs `gantry approve` (or, with `approved` false, `gantry reject`).
pub async fn decide(
    server: &Connection,
    output: OutputFormat,
    args: DecisionArgs,
    approved: bool,
) -> anyhow::Result<ExitCode> {
    let mut client = connect(server).await?;
    set(
        &mut client,
        output,
        &args.execution_id,
        &args.signal_id,
        Literal::Boolean(approved),
    )
    .await
}

async fn list(client: &mut Admin, execution_id: &str) -> anyhow::Result<Vec<pb::Signal>> {
    let request = pb::ListSignalsRequest {
        execution_id: execution_id.to_owned(),
    };
    let response = client
        .list_signals(request)
        .await
        .rpc(format!("listing the signals of execution {execution_id}"))?;
    Ok(response.signals)
}

/// The type the gates waiting for `signal_id` take.
async fn waited_type(client: &mut Admin, execution_id: &str, signal_id: &str) -> anyhow::Result<LiteralType> {
    let signals = list(client, execution_id).await?;
    let waiting = signals
        .into_iter()
        .find(|signal| signal.signal_id == signal_id && !signal.node_id.is_empty());
    let Some(ty) = waiting.and_then(|signal| signal.r#type) else {
        return Err(anyhow!(
            "no gate of execution {execution_id} waits for signal {signal_id:?}; give --type to set it anyway"
        ));
    };
    LiteralType::try_from(ty).map_err(|error| anyhow!("the server sent a malformed type: {error}"))
}

async fn set(
    client: &mut Admin,
    output: OutputFormat,
    execution_id: &str,
    signal_id: &str,
    value: Literal,
) -> anyhow::Result<ExitCode> {
    let request = pb::SetSignalRequest {
        execution_id: execution_id.to_owned(),
        signal_id: signal_id.to_owned(),
        value: Some(value.into()),
    };
    let response = client
        .set_signal(request)
        .await
        .rpc(format!("setting signal {signal_id:?}"))?;
    match output {
        OutputFormat::Json => print_json(&json!({
            "changed": response.changed,
            "opened_node_ids": response.opened_node_ids,
        })),
        OutputFormat::Table if !response.changed => outln!("signal {signal_id:?} already held this value"),
        OutputFormat::Table => outln!(
            "signal {signal_id:?} set; gates opened: {}",
            response.opened_node_ids.join(", ")
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn type_text(signal: &pb::Signal) -> String {
    let ty = signal.r#type.clone().and_then(|ty| LiteralType::try_from(ty).ok());
    match (ty, signal.approval) {
        (_, true) => "approval".to_owned(),
        (Some(ty), false) => format_type(&ty),
        (None, false) => String::new(),
    }
}

fn value_json(signal: &pb::Signal) -> Value {
    let value = signal.value.clone().and_then(|value| Literal::try_from(value).ok());
    value.as_ref().map(literal_to_json).unwrap_or(Value::Null)
}

fn signals_table(signals: &[pb::Signal]) -> comfy_table::Table {
    let mut table = table([
        "SIGNAL",
        "WAITING NODE",
        "TYPE",
        "DEADLINE",
        "VALUE",
        "SET BY",
        "SET AT",
    ]);
    for signal in signals {
        let value = if signal.value.is_some() {
            value_json(signal).to_string()
        } else {
            String::new()
        };
        let optional_time = |at: Option<&prost_types::Timestamp>| at.map(|at| timestamp(Some(at))).unwrap_or_default();
        table.add_row(vec![
            signal.signal_id.clone(),
            signal.node_id.clone(),
            type_text(signal),
            optional_time(signal.deadline.as_ref()),
            value,
            signal.set_by.clone(),
            optional_time(signal.set_at.as_ref()),
        ]);
    }
    table
}

fn signal_json(signal: &pb::Signal) -> Value {
    json!({
        "signal_id": signal.signal_id,
        "node_id": signal.node_id,
        "type": type_text(signal),
        "approval": signal.approval,
        "deadline": signal.deadline.as_ref().map(|at| timestamp(Some(at))),
        "value": value_json(signal),
        "set_by": signal.set_by,
        "set_at": signal.set_at.as_ref().map(|at| timestamp(Some(at))),
    })
}
