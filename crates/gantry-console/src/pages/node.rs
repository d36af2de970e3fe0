//! A node's page: phase, kind, target, cache status, times; inputs, outputs and error; every attempt (worker, lease,
//! start, end, outcome); for a composite, its children (the tree's lazy levels), and for a dynamic node the list of
//! its spec's nodes. Inputs, outputs and the spec come after the page (`node-values`), as on the execution's page.
//! A dynamic node's spec drawn as a graph (`#spec-graph`) and a parent's children on a timeline (`#timeline`) come
//! after the page too (`drawings.rs`).

use axum::extract::{Path, Query};
use gantry_proto::v1 as pb;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::format;
use crate::grpc::Api;
use crate::layout;
use crate::literals::{self, encode_query};
use crate::pages::{drawings, execution_link, node_link, phase_badge, tree};

/// How many of a spec's nodes are listed by name; the tree lists them all, a page at a time.
const SPEC_NODES_LISTED: usize = 200;

/// The node's scoped id.
#[derive(Debug, Deserialize)]
pub struct NodeQuery {
    pub(crate) id: String,
}

/// `GET /executions/{id}/node?id=...`.
pub async fn page(
    api: Api,
    Path(execution_id): Path<String>,
    Query(query): Query<NodeQuery>,
) -> Result<Markup, ConsoleError> {
    let node = api.node(&execution_id, &query.id).await?;
    let attempts = if node.kind == pb::NodeKind::Task as i32 {
        let request = pb::ListTaskAttemptsRequest {
            execution_id: execution_id.clone(),
            node_id: query.id.clone(),
        };
        api.admin()
            .list_task_attempts(api.request(request))
            .await?
            .into_inner()
            .attempts
    } else {
        Vec::new()
    };
    let children = if node.is_parent {
        Some(tree::list(&api, &execution_id, &node.node_id, None).await?)
    } else {
        None
    };
    let phase = format::node_phase(node.phase);
    let body = html! {
        p { "In execution " a href=(execution_link(&execution_id)) { code { (execution_id) } } }
        @if let Some(parent) = Some(&node.parent_node_id).filter(|p| !p.is_empty()) {
            p { "Child of " a href=(node_link(&execution_id, parent)) { code { (parent) } } }
        }
        section aria-labelledby="summary-title" {
            h2 #summary-title { "Summary" }
            dl.summary {
                dt { "Phase" } dd { span class=(format!("phase phase-{phase}")) data-node-phase=(node.node_id) { (phase) } }
                dt { "Kind" } dd { (format::node_kind(&node)) }
                dt { "Target" } dd { (format::identifier(node.target.as_ref())) }
                dt { "Cache" } dd { (format::cache_status(node.cache_status)) }
                dt { "Attempts" } dd { (node.attempts) " (" (node.user_failures) " user, " (node.system_failures) " system failures)" }
                dt { "Started" } dd { (format::timestamp(node.started_at.as_ref())) }
                dt { "Finished" } dd { (format::timestamp(node.finished_at.as_ref())) }
                dt { "Duration" } dd { (format::duration(node.started_at.as_ref(), node.finished_at.as_ref())) }
                @if !node.child_execution_id.is_empty() {
                    dt { "Child execution" } dd { a href=(execution_link(&node.child_execution_id)) { (node.child_execution_id) } }
                }
            }
        }
        @if let Some(error) = &node.error {
            section aria-labelledby="error-title" {
                h2 #error-title { "Error" }
                p.error { (format::error_line(error)) }
            }
        }
        div hx-get=(format!("/executions/{execution_id}/node-values?id={}", encode_query(&node.node_id)))
            hx-trigger="load" hx-swap="outerHTML" {
            p.muted { "Loading inputs and outputs…" }
        }
        @if node.kind == pb::NodeKind::Task as i32 {
            section aria-labelledby="attempts-title" {
                h2 #attempts-title { "Attempts" }
                // Scrolls sideways in a narrow window rather than widening the page.
                div.scroll { (attempts_table(&attempts)) }
            }
        }
        @if node.is_dynamic_parent {
            (drawings::placeholder("spec-graph", "Spec graph",
                &format!("/executions/{execution_id}/node-graph?id={}", encode_query(&node.node_id)),
                "Drawing the accepted spec…"))
        }
        @if node.is_parent {
            (drawings::placeholder("timeline", "Timeline",
                &format!("/executions/{execution_id}/node-timeline?id={}", encode_query(&node.node_id)),
                "Drawing the children's runs…"))
        }
        @if let Some(children) = &children {
            section aria-labelledby="children-title" {
                h2 #children-title { "Children" }
                (tree::header())
                ul.tree aria-labelledby="children-title" { (tree::items(&execution_id, children)) }
            }
        }
        @if !format::node_is_terminal(node.phase) {
            div data-watch=(format!("/executions/{execution_id}/events")) data-start="now" hidden {}
        }
    };
    Ok(layout::page(&format!("Node {}", format::local_id(&node.node_id)), body))
}

/// `GET /executions/{id}/node-values?id=...`: a node's inputs, outputs and, for a dynamic node, its spec's nodes,
/// fetched after the page so that a large value (a 100,000-element list) never holds the page back.
pub async fn values(
    api: Api,
    Path(execution_id): Path<String>,
    Query(query): Query<NodeQuery>,
) -> Result<Markup, ConsoleError> {
    let data = api.node_data(&execution_id, &query.id).await?;
    let inputs = literals::decode(data.inputs.clone())?;
    let outputs = literals::decode(data.outputs.clone())?;
    let is_dynamic = data.dynamic_spec.is_some() || data.dynamic_spec_reference.is_some();
    Ok(html! {
        section aria-labelledby="inputs-title" { h2 #inputs-title { "Inputs" } (literals::list("Inputs", &inputs)) }
        section aria-labelledby="outputs-title" { h2 #outputs-title { "Outputs" } (literals::list("Outputs", &outputs)) }
        @if is_dynamic {
            section aria-labelledby="spec-title" {
                h2 #spec-title { "Dynamic spec" }
                (spec_nodes(&execution_id, &query.id, &data))
            }
        }
    })
}

fn attempts_table(attempts: &[pb::TaskAttempt]) -> Markup {
    html! {
        @if attempts.is_empty() {
            p.muted { "No attempts yet." }
        } @else {
            table.attempts {
                thead { tr {
                    th scope="col" { "#" } th scope="col" { "Outcome" } th scope="col" { "Worker" }
                    th scope="col" { "Lease until" } th scope="col" { "Started" } th scope="col" { "Ended" }
                    th scope="col" { "Error" }
                } }
                tbody {
                    @for attempt in attempts {
                        tr {
                            td { (attempt.attempt) }
                            td { (phase_badge(&format::attempt_phase(attempt.phase))) }
                            td { code { (attempt.worker_id) } }
                            td { (format::timestamp(attempt.lease_expires_at.as_ref())) }
                            td { (format::timestamp(attempt.started_at.as_ref())) }
                            td { (format::timestamp(attempt.finished_at.as_ref())) }
                            td { @if let Some(error) = &attempt.error { (format::error_line(error)) } }
                        }
                    }
                }
            }
        }
    }
}

/// The spec's nodes by name, each a link to its child's page (`parent/attempt/child`); a large spec lists its first
/// nodes and sends the reader to the tree; an offloaded spec says so.
fn spec_nodes(execution_id: &str, node_id: &str, data: &pb::GetNodeExecutionDataResponse) -> Markup {
    let attempt = data.dynamic_spec_attempt;
    html! {
        @if let Some(spec) = &data.dynamic_spec {
            p { (spec.nodes.len()) " nodes, accepted from attempt " (attempt) "." }
            ul.spec-nodes {
                @for spec_node in spec.nodes.iter().take(SPEC_NODES_LISTED) {
                    li { a href=(node_link(execution_id, &format!("{node_id}/{attempt}/{}", spec_node.id))) { (spec_node.id) } }
                }
            }
            @if spec.nodes.len() > SPEC_NODES_LISTED {
                p.muted { "The first " (SPEC_NODES_LISTED) " are listed; every child is in the tree below." }
            }
        } @else if let Some(reference) = &data.dynamic_spec_reference {
            p { "The spec is large (" (reference.size_bytes) " bytes) and not shown; every child is in the tree below." }
        }
    }
}
