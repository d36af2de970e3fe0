//! An execution's page: its phase, times, counters (live, `live.rs`), the actions, its signals (`signals.rs`), its
//! error with a link to the
//! failing leaf, inputs and outputs (fetched after the page; offloaded ones on demand), and its node tree, whose top level comes
//! with the page and whose every other level is fetched a page at a time when expanded (`tree.rs`).

use axum::extract::{Path, Query};
use gantry_core::model::Literal;
use gantry_proto::v1 as pb;
use maud::{Markup, html};
use prost::Message;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::format;
use crate::grpc::Api;
use crate::layout;
use crate::literals;
use crate::pages::{node_link, notice, or_dash, signals, tree};

/// How many pages of failed nodes are searched for a leaf before the error's own node id is used.
const FAILED_PAGES: usize = 5;

/// The page's query: a notice from the action that led here.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    notice: Option<String>,
}

/// `GET /executions/{id}`.
pub async fn page(api: Api, Path(id): Path<String>, Query(query): Query<PageQuery>) -> Result<Markup, ConsoleError> {
    let get = pb::GetExecutionRequest {
        id: id.clone(),
        references: true,
    };
    let execution = api
        .admin()
        .get_execution(api.request(get))
        .await?
        .into_inner()
        .execution
        .ok_or_else(|| ConsoleError::Data("the server sent no execution".to_owned()))?;
    let top = tree::list(&api, &id, "", None).await?;
    let signals = signals::list(&api, &id).await?;
    let failing = match &execution.error {
        Some(error) => Some(failing_leaf(&api, &id, error).await?),
        None => None,
    };
    let phase = format::execution_phase(execution.phase);
    let terminal = format::execution_is_terminal(execution.phase);
    let body = html! {
        (notice(query.notice.as_deref()))
        section aria-labelledby="summary-title" {
            h2 #summary-title { "Summary" }
            dl.summary {
                dt { "Phase" }
                dd { span #exec-phase class=(format!("phase phase-{phase}")) data-counter="phase" { (phase) } }
                dt { "Id" } dd { code { (execution.id) } }
                dt { "Target" } dd { (format::identifier(execution.target.as_ref())) }
                dt { "Project / domain" } dd { (execution.project) " / " (execution.domain) }
                dt { "Created" } dd { (format::timestamp(execution.created_at.as_ref())) }
                dt { "Started" } dd { (format::timestamp(execution.started_at.as_ref())) }
                dt { "Finished" } dd { (format::timestamp(execution.finished_at.as_ref())) }
                dt { "Duration" } dd { (format::duration(execution.started_at.as_ref(), execution.finished_at.as_ref())) }
                @if !execution.source_execution_id.is_empty() {
                    dt { "From" } dd { a href=(format!("/executions/{}", execution.source_execution_id)) { (execution.source_execution_id) } }
                }
            }
        }
        section aria-labelledby="counters-title" {
            h2 #counters-title { "Nodes by phase" }
            dl #counters.counters aria-live="polite" {
                @for (key, label) in COUNTERS {
                    div { dt { (label) } dd data-counter=(key) { "…" } }
                }
            }
            @if terminal {
                p { button #count-nodes type="button" { "Count the nodes" } }
            }
        }
        section aria-labelledby="actions-title" {
            h2 #actions-title { "Actions" }
            p.actions {
                @if !terminal {
                    a.button href=(format!("/executions/{id}/actions/terminate")) { "Terminate…" }
                }
                a.button href=(format!("/executions/{id}/actions/relaunch")) { "Relaunch…" }
                @if terminal && execution.phase != pb::ExecutionPhase::Succeeded as i32 {
                    a.button href=(format!("/executions/{id}/actions/recover")) { "Recover…" }
                }
            }
        }
        (signals::section(&id, &signals))
        @if let (Some(error), Some(leaf)) = (&execution.error, &failing) {
            section aria-labelledby="error-title" {
                h2 #error-title { "Error" }
                p.error { (format::error_line(error)) }
                @if !leaf.is_empty() {
                    p { "Failing leaf: " a #failing-leaf href=(node_link(&id, leaf)) { code { (leaf) } } }
                }
            }
        }
        div hx-get=(format!("/executions/{id}/values")) hx-trigger="load" hx-swap="outerHTML" {
            p.muted { "Loading inputs and outputs…" }
        }
        section aria-labelledby="tree-title" {
            h2 #tree-title { "Node tree" }
            (tree::header())
            ul.tree aria-labelledby="tree-title" {
                (tree::items(&id, &top))
            }
        }
        // A running execution is watched at once; a finished one only when asked (its watch's snapshot lists every
        // node, which for a 100,000-child execution costs the server seconds of work for nothing that changes).
        div data-watch=(format!("/executions/{id}/events")) data-start=(if terminal { "ask" } else { "now" }) hidden {}
        @if !terminal {
            p #finished.notice role="status" hidden {
                "The execution finished. " a href=(format!("/executions/{id}")) { "Reload" } " to see its outputs or error."
            }
        }
    };
    Ok(layout::page(&format!("Execution {}", or_dash(&execution.name)), body))
}

/// `GET /executions/{id}/values`: the inputs and outputs, fetched after the page so that a large value (a
/// 100,000-element list) never holds the node tree back.
pub async fn values(api: Api, Path(id): Path<String>) -> Result<Markup, ConsoleError> {
    let request = pb::GetExecutionDataRequest { id, references: true };
    let data = api.admin().get_execution_data(api.request(request)).await?.into_inner();
    let inputs = literals::decode(data.inputs)?;
    let outputs = literals::decode(data.outputs)?;
    Ok(html! {
        section aria-labelledby="inputs-title" {
            h2 #inputs-title { "Inputs" }
            (literals::list("Inputs", &inputs))
        }
        section aria-labelledby="outputs-title" {
            h2 #outputs-title { "Outputs" }
            (literals::list("Outputs", &outputs))
        }
    })
}

/// The counters' keys (as `live.rs` sends them) and labels.
const COUNTERS: [(&str, &str); 8] = [
    ("total", "Total"),
    ("done", "Done"),
    ("waiting", "Waiting"),
    ("running", "Running"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("aborted", "Aborted"),
    ("skipped", "Skipped"),
];

/// The scoped id of the first failed node with no children, at any depth: the failed nodes are listed a page at a
/// time in scoped-id order (parents before their children); the error's own node id when none is found soon.
async fn failing_leaf(api: &Api, execution_id: &str, error: &pb::ExecutionError) -> Result<String, ConsoleError> {
    let mut page_token = String::new();
    for _ in 0..FAILED_PAGES {
        let request = pb::ListNodeExecutionsRequest {
            execution_id: execution_id.to_owned(),
            parent_node_id: String::new(),
            phases: vec![pb::NodePhase::Failed as i32, pb::NodePhase::TimedOut as i32],
            page_size: 100,
            page_token,
            all_depths: true,
        };
        let response = api
            .admin()
            .list_node_executions(api.request(request))
            .await?
            .into_inner();
        if let Some(leaf) = response.node_executions.iter().find(|node| !node.is_parent) {
            return Ok(leaf.node_id.clone());
        }
        if response.next_page_token.is_empty() {
            break;
        }
        page_token = response.next_page_token;
    }
    Ok(error.node_id.clone())
}

/// The query of an offloaded value's fetch.
#[derive(Debug, Deserialize)]
pub struct OffloadedQuery {
    uri: String,
}

/// `GET /offloaded?uri=...`: an offloaded value, read through `ReadOffloaded`, as JSON in place of its button.
pub async fn offloaded(api: Api, Query(query): Query<OffloadedQuery>) -> Result<Markup, ConsoleError> {
    let request = pb::ReadOffloadedRequest { uri: query.uri };
    let mut stream = api.admin().read_offloaded(api.request(request)).await?.into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend_from_slice(&chunk.chunk);
    }
    let wire = pb::Literal::decode(bytes.as_slice())
        .map_err(|error| ConsoleError::Data(format!("the offloaded value does not decode: {error}")))?;
    let literal =
        Literal::try_from(wire).map_err(|error| ConsoleError::Data(format!("the offloaded value: {error}")))?;
    Ok(html! { pre.json { (literals::pretty(&literal)) } })
}
