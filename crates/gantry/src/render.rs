//! How the CLI shows wire messages: tables for people, JSON for scripts.

use comfy_table::{ContentArrangement, Table, presets};
use gantry_core::model::LiteralMap;
use gantry_proto::v1 as pb;
use serde_json::{Value, json};

use gantry_text::json::literal_map_to_json;
use gantry_text::time_text::{format_duration, format_timestamp};

/// `--output`: tables for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Tables for people.
    Table,
    /// JSON for scripts.
    Json,
}

/// A table in the CLI's style.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    table
}

/// Prints JSON, pretty.
pub fn print_json(value: &Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// `EXECUTION_PHASE_RUNNING` as `running`.
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_ascii_lowercase()
}

/// An execution phase's short name (`running`).
pub fn execution_phase(raw: i32) -> String {
    pb::ExecutionPhase::try_from(raw).map_or_else(|_| raw.to_string(), |p| short(p.as_str_name(), "EXECUTION_PHASE_"))
}

/// A node phase's short name (`children_running`).
pub fn node_phase(raw: i32) -> String {
    pb::NodePhase::try_from(raw).map_or_else(|_| raw.to_string(), |p| short(p.as_str_name(), "NODE_PHASE_"))
}

/// A cache status's short name (`hit`).
pub fn cache_status(raw: i32) -> String {
    pb::CacheStatus::try_from(raw).map_or_else(|_| raw.to_string(), |p| short(p.as_str_name(), "CACHE_STATUS_"))
}

/// A node kind's short name (`task`).
pub fn node_kind(raw: i32) -> String {
    pb::NodeKind::try_from(raw).map_or_else(|_| raw.to_string(), |p| short(p.as_str_name(), "NODE_KIND_"))
}

/// A resource type's short name (`launch_plan`).
pub fn resource_type(raw: i32) -> String {
    pb::ResourceType::try_from(raw).map_or_else(|_| raw.to_string(), |p| short(p.as_str_name(), "RESOURCE_TYPE_"))
}

/// Whether an execution phase is terminal.
pub fn is_terminal(phase: pb::ExecutionPhase) -> bool {
    matches!(
        phase,
        pb::ExecutionPhase::Succeeded
            | pb::ExecutionPhase::Failed
            | pb::ExecutionPhase::Aborted
            | pb::ExecutionPhase::TimedOut
    )
}

/// `project/domain/name@version`, empty when absent.
pub fn identifier(id: Option<&pb::Identifier>) -> String {
    id.map_or_else(String::new, |id| {
        format!("{}/{}/{}@{}", id.project, id.domain, id.name, id.version)
    })
}

/// RFC 3339 to the millisecond, empty when absent.
pub fn timestamp(at: Option<&prost_types::Timestamp>) -> String {
    at.map_or_else(String::new, |t| {
        format_timestamp(gantry_core::model::Timestamp {
            seconds: t.seconds,
            nanos: t.nanos - t.nanos % 1_000_000,
        })
    })
}

/// `user error bad_input: input "x": ...`.
pub fn error_text(error: &pb::ExecutionError) -> String {
    let kind = pb::ErrorKind::try_from(error.kind)
        .map_or_else(|_| "unknown".to_owned(), |k| short(k.as_str_name(), "ERROR_KIND_"));
    let mut text = format!("{kind} error {}: {}", error.code, error.message);
    if !error.node_id.is_empty() {
        text.push_str(&format!(" (node {})", error.node_id));
    }
    text
}

/// An error as a JSON object.
pub fn error_json(error: &pb::ExecutionError) -> Value {
    json!({
        "kind": pb::ErrorKind::try_from(error.kind).map_or_else(|_| "unknown".to_owned(), |k| short(k.as_str_name(), "ERROR_KIND_")),
        "recoverable": error.recoverable,
        "code": error.code,
        "message": error.message,
        "node_id": error.node_id,
    })
}

/// A wire literal map as JSON; one the CLI cannot read becomes an error.
pub fn literals_json(literals: Option<pb::LiteralMap>) -> anyhow::Result<Value> {
    let literals: LiteralMap = match literals {
        Some(literals) => LiteralMap::try_from(literals)?,
        None => LiteralMap::new(),
    };
    Ok(literal_map_to_json(&literals))
}

/// A wire duration as text (`1.5s`).
pub fn duration(duration: prost_types::Duration) -> String {
    format_duration(gantry_core::model::Duration {
        seconds: duration.seconds,
        nanos: duration.nanos,
    })
}

/// An execution as a JSON object (with its inputs when the response carried them).
pub fn execution_json(execution: &pb::Execution) -> Value {
    let mut value = json!({
        "id": execution.id,
        "project": execution.project,
        "domain": execution.domain,
        "name": execution.name,
        "target": identifier(execution.target.as_ref()),
        "target_type": resource_type(execution.target_type),
        "phase": execution_phase(execution.phase),
        "created_at": timestamp(execution.created_at.as_ref()),
        "started_at": timestamp(execution.started_at.as_ref()),
        "finished_at": timestamp(execution.finished_at.as_ref()),
        "max_parallelism": execution.max_parallelism,
        "overwrite_cache": execution.overwrite_cache,
        "origin": pb::ExecutionOrigin::try_from(execution.origin)
            .map_or("unspecified", |origin| origin.as_str_name())
            .trim_start_matches("EXECUTION_ORIGIN_")
            .to_lowercase(),
        "source_execution_id": execution.source_execution_id,
        "timeout": execution.timeout.map(duration),
        "deadline": execution.deadline.as_ref().map(|d| timestamp(Some(d))),
    });
    if let Some(error) = &execution.error {
        value["error"] = error_json(error);
    }
    if let Some(inputs) = &execution.inputs {
        value["inputs"] = literals_json(Some(inputs.clone())).unwrap_or(Value::Null);
    }
    value
}

/// One execution, as rows of field and value.
pub fn execution_table(execution: &pb::Execution) -> Table {
    let mut table = table(["FIELD", "VALUE"]);
    let target = format!(
        "{} {}",
        resource_type(execution.target_type),
        identifier(execution.target.as_ref())
    );
    table.add_row(vec!["id", &execution.id]);
    table.add_row(vec![
        "name".to_owned(),
        format!("{}/{}/{}", execution.project, execution.domain, execution.name),
    ]);
    table.add_row(vec!["target", &target]);
    table.add_row(vec!["phase".to_owned(), execution_phase(execution.phase)]);
    table.add_row(vec!["created".to_owned(), timestamp(execution.created_at.as_ref())]);
    table.add_row(vec!["started".to_owned(), timestamp(execution.started_at.as_ref())]);
    table.add_row(vec!["finished".to_owned(), timestamp(execution.finished_at.as_ref())]);
    if let Some(timeout) = execution.timeout {
        let deadline = timestamp(execution.deadline.as_ref());
        table.add_row(vec![
            "timeout".to_owned(),
            format!("{} (until {deadline})", duration(timeout)),
        ]);
    }
    if let Some(inputs) = &execution.inputs {
        let inputs = literals_json(Some(inputs.clone())).map_or_else(|e| format!("unreadable: {e}"), |v| v.to_string());
        table.add_row(vec!["inputs".to_owned(), inputs]);
    }
    if let Some(error) = &execution.error {
        table.add_row(vec!["error".to_owned(), error_text(error)]);
    }
    table
}

/// Executions, one per row.
pub fn executions_table(executions: &[pb::Execution]) -> Table {
    let mut table = table(["ID", "NAME", "TARGET", "PHASE", "CREATED"]);
    for execution in executions {
        table.add_row(vec![
            execution.id.clone(),
            execution.name.clone(),
            identifier(execution.target.as_ref()),
            execution_phase(execution.phase),
            timestamp(execution.created_at.as_ref()),
        ]);
    }
    table
}
