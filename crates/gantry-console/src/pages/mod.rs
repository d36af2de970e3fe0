//! One module per page; each handler decodes its request, makes its gRPC calls through [`crate::grpc::Api`] and
//! renders. Nothing here decides anything the server decides.

pub mod actions;
pub mod drawings;
pub mod execution;
pub mod executions;
pub mod login;
pub mod node;
pub mod registry;
pub mod run;
pub mod schedules;
pub mod signals;
pub mod tree;

use maud::{Markup, html};

/// A phase as a coloured badge (its class is `phase-<word>`).
pub fn phase_badge(phase: &str) -> Markup {
    html! { span class=(format!("phase phase-{phase}")) { (phase) } }
}

/// The link to an execution's page.
pub fn execution_link(id: &str) -> String {
    format!("/executions/{id}")
}

/// The link to a node's page.
pub fn node_link(execution_id: &str, node_id: &str) -> String {
    format!(
        "/executions/{execution_id}/node?id={}",
        crate::literals::encode_query(node_id)
    )
}

/// A notice from the action that led here (`?notice=terminated`).
pub fn notice(notice: Option<&str>) -> Markup {
    let text = match notice {
        Some("terminated") => "Termination requested: running attempts are cancelled and every node is aborted.",
        Some("relaunched") => "Relaunched: this is the new execution.",
        Some("recovered") => "Recovered: this is the new execution; what succeeded before is reused.",
        Some("created") => "Execution created.",
        Some("signal-set") => "Signal set: the gates waiting for it went on.",
        _ => return html! {},
    };
    html! { p #notice.notice role="status" { (text) } }
}

/// `—` for an empty string.
pub fn or_dash(text: &str) -> &str {
    if text.is_empty() { "—" } else { text }
}
