//! The node tree, at any depth and any size: a level is listed a page at a time (`ListNodeExecutions` with
//! `parent_node_id`, 100 nodes a page), each page fetched when its parent is expanded or when the previous page's
//! "more" item scrolls into view. Nothing ever lists all of a level's children, so a 100,000-child dynamic node
//! opens as fast as a 10-child one. Each row shows kind, target, phase (updated live), attempts, cache status,
//! duration, and a succeeded leaf's outputs, fetched when the row is on screen.

use axum::extract::{Path, Query};
use gantry_proto::v1 as pb;
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::format;
use crate::grpc::Api;
use crate::literals::{self, encode_query};
use crate::pages::node_link;

/// Nodes per page of a level.
pub const PAGE_SIZE: u32 = 100;

/// Longest outputs text in a row.
const OUTPUTS_CHARS: usize = 80;

/// One page of one level of the tree.
#[derive(Debug)]
pub struct Level {
    /// The parent's scoped id; empty for the top level.
    pub parent: String,
    /// The nodes of this page.
    pub nodes: Vec<pb::NodeExecution>,
    /// The next page's token; empty after the last page.
    pub next_page_token: String,
}

/// Lists one page of `parent`'s children (the top level when `parent` is empty).
pub async fn list(
    api: &Api,
    execution_id: &str,
    parent: &str,
    page_token: Option<String>,
) -> Result<Level, ConsoleError> {
    let request = pb::ListNodeExecutionsRequest {
        execution_id: execution_id.to_owned(),
        parent_node_id: parent.to_owned(),
        phases: Vec::new(),
        page_size: PAGE_SIZE,
        page_token: page_token.unwrap_or_default(),
        all_depths: false,
    };
    let response = api
        .admin()
        .list_node_executions(api.request(request))
        .await?
        .into_inner();
    Ok(Level {
        parent: parent.to_owned(),
        nodes: response.node_executions,
        next_page_token: response.next_page_token,
    })
}

/// The query of a level's page.
#[derive(Debug, Deserialize)]
pub struct ChildrenQuery {
    /// The parent's scoped id; empty or absent for the top level.
    #[serde(default)]
    parent: String,
    page_token: Option<String>,
}

/// `GET /executions/{id}/children?parent=...&page_token=...`: one page of a level, as list items.
pub async fn children(
    api: Api,
    Path(id): Path<String>,
    Query(query): Query<ChildrenQuery>,
) -> Result<Markup, ConsoleError> {
    let level = list(&api, &id, &query.parent, query.page_token).await?;
    Ok(items(&id, &level))
}

/// The query of one node's row.
#[derive(Debug, Deserialize)]
pub struct RowQuery {
    node: String,
}

/// `GET /executions/{id}/row?node=...`: one node's list item afresh (the live view asks for it when a node on screen
/// became a parent, so that it gets its expand button).
pub async fn row(api: Api, Path(id): Path<String>, Query(query): Query<RowQuery>) -> Result<Markup, ConsoleError> {
    let node = api.node(&id, &query.node).await?;
    Ok(item(&id, &node))
}

/// The query of a node's outputs.
#[derive(Debug, Deserialize)]
pub struct OutputsQuery {
    node: String,
}

/// `GET /executions/{id}/outputs?node=...`: a node's outputs on one line.
pub async fn outputs(
    api: Api,
    Path(id): Path<String>,
    Query(query): Query<OutputsQuery>,
) -> Result<Markup, ConsoleError> {
    let data = api.node_data(&id, &query.node).await?;
    let outputs = literals::decode(data.outputs)?;
    Ok(html! { code { (literals::compact(&outputs, OUTPUTS_CHARS)) } })
}

/// The column names above a tree, for sighted readers (each cell also carries its own label).
pub fn header() -> Markup {
    html! {
        div.tree-header aria-hidden="true" {
            span { "Node" } span { "Kind" } span { "Target" } span { "Phase" } span { "Attempts" } span { "Cache" }
            span { "Duration" } span { "Outputs" }
        }
    }
}

/// A page of nodes as list items, followed by a "more" item that fetches the next page when clicked or scrolled to.
pub fn items(execution_id: &str, level: &Level) -> Markup {
    html! {
        @for node in &level.nodes {
            (item(execution_id, node))
        }
        @if !level.next_page_token.is_empty() {
            li.more {
                button type="button"
                    hx-get=(format!("/executions/{execution_id}/children?parent={}&page_token={}",
                        encode_query(&level.parent), encode_query(&level.next_page_token)))
                    hx-trigger="click, intersect once" hx-target="closest li" hx-swap="outerHTML" {
                    "More nodes…"
                }
            }
        }
        @if level.nodes.is_empty() {
            li.muted { "No nodes." }
        }
    }
}

/// An HTML id for a node's children list (scoped ids hold only `[A-Za-z0-9_-/]`; the dots make it no CSS id
/// selector, so htmx finds the list as the button's `next ul.children`).
fn children_id(node_id: &str) -> String {
    format!("children-{}", node_id.replace('/', "."))
}

fn item(execution_id: &str, node: &pb::NodeExecution) -> Markup {
    let phase = format::node_phase(node.phase);
    let local = format::local_id(&node.node_id);
    // A leaf's outputs only: a composite's are assembled from its children's (a 100,000-element list for the seed's
    // largest fan-out), too large to fetch for a row; its page shows them.
    let has_outputs = !node.is_parent
        && (node.phase == pb::NodePhase::Succeeded as i32 || node.phase == pb::NodePhase::Recovered as i32);
    html! {
        li.node data-node=(node.node_id) data-row=(format!("/executions/{execution_id}/row?node={}", encode_query(&node.node_id))) {
            div.row {
                @if node.is_parent {
                    button.toggle type="button" aria-expanded="false" aria-controls=(children_id(&node.node_id))
                        aria-label=(format!("Show the children of {local}"))
                        hx-get=(format!("/executions/{execution_id}/children?parent={}", encode_query(&node.node_id)))
                        hx-trigger="click once" hx-target="next ul.children" hx-swap="innerHTML" {
                        "▸"
                    }
                } @else {
                    span.leaf aria-hidden="true" { "·" }
                }
                a.name href=(node_link(execution_id, &node.node_id)) title=(node.node_id) { (local) }
                span.kind aria-label="kind" { (format::node_kind(node)) }
                span.target aria-label="target" { (format::short_identifier(node.target.as_ref())) }
                span class=(format!("phase phase-{phase}")) data-node-phase=(node.node_id) aria-label="phase" { (phase) }
                span.attempts aria-label="attempts" title="attempts" { (node.attempts) }
                span.cache aria-label="cache" { (format::cache_status(node.cache_status)) }
                span.duration aria-label="duration" { (format::duration(node.started_at.as_ref(), node.finished_at.as_ref())) }
                @if has_outputs {
                    span.outputs aria-label="outputs"
                        hx-get=(format!("/executions/{execution_id}/outputs?node={}", encode_query(&node.node_id)))
                        hx-trigger="intersect once" { "…" }
                } @else {
                    span.outputs {}
                }
            }
            @if node.is_parent {
                ul.children id=(children_id(&node.node_id)) hidden {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, is_parent: bool, phase: pb::NodePhase) -> pb::NodeExecution {
        pb::NodeExecution {
            node_id: id.to_owned(),
            is_parent,
            phase: phase as i32,
            ..Default::default()
        }
    }

    #[test]
    fn parents_expand_lazily_and_pages_end_with_more() {
        let level = Level {
            parent: "n0".to_owned(),
            nodes: vec![
                node("n0/1/dn0", true, pb::NodePhase::ChildrenRunning),
                node("n0/1/dn1", false, pb::NodePhase::Succeeded),
            ],
            next_page_token: "tok/1".to_owned(),
        };
        let html = items("e1", &level).into_string();
        assert!(
            html.contains(r#"hx-get="/executions/e1/children?parent=n0%2F1%2Fdn0""#),
            "{html}"
        );
        assert!(html.contains(r#"id="children-n0.1.dn0""#));
        assert!(html.contains(r#"data-node-phase="n0/1/dn1""#));
        assert!(html.contains(r#"hx-get="/executions/e1/outputs?node=n0%2F1%2Fdn1""#));
        assert!(html.contains("children?parent=n0&amp;page_token=tok%2F1"), "{html}");
        assert_eq!(html.matches("class=\"toggle\"").count(), 1);
    }

    #[test]
    fn an_empty_last_page_says_so() {
        let level = Level {
            parent: String::new(),
            nodes: Vec::new(),
            next_page_token: String::new(),
        };
        let html = items("e1", &level).into_string();
        assert!(html.contains("No nodes."));
        assert!(!html.contains("More nodes"));
    }
}
