//! The drawings, each fetched after its page by htmx so that the page itself never waits for them: a dynamic node's
//! accepted spec as a graph (`node-graph`), a parent's children on a timeline (`node-timeline`), and a registered
//! workflow's graph (`/workflows/.../graph`). Each answers its whole `<section>`, which replaces the busy placeholder
//! ([`placeholder`]); a failure is shown in the section rather than leaving it busy.
//!
//! Nothing here lists all of a node's children: the spec graph takes phases from the first page of children (the
//! rest are drawn `unknown`, and a large spec is summarised by gantry-diagram), and the timeline draws the first
//! [`TIMELINE_PAGES`] pages, most as rows and the rest in gantry-diagram's `N more` band.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query};
use gantry_diagram::{DagOptions, GanttOptions, count, render_dag, render_gantt};
use gantry_proto::v1 as pb;
use maud::{Markup, PreEscaped, html};
use prost::Message;

use crate::drawings;
use crate::error::ConsoleError;
use crate::grpc::Api;
use crate::pages::node::NodeQuery;
use crate::pages::{node_link, tree};

/// The largest offloaded spec read to be drawn (a 100,000-child spec is about 5 MiB); larger ones are described.
const SPEC_DRAW_BYTES: u64 = 64 << 20;

/// Pages of children (of [`tree::PAGE_SIZE`]) drawn on a timeline.
pub const TIMELINE_PAGES: usize = 2;

/// Rows of a timeline; the other children fetched go into the `N more` band.
const TIMELINE_ROWS: usize = 40;

/// A drawing's section while it loads: busy, fetched from `url` as soon as the page is there.
pub fn placeholder(id: &str, title: &str, url: &str, waiting: &str) -> Markup {
    html! {
        section id=(id) aria-labelledby=(format!("{id}-title")) aria-busy="true" hx-get=(url) hx-trigger="load"
            hx-swap="outerHTML" {
            h2 id=(format!("{id}-title")) { (title) }
            p.muted { (waiting) }
        }
    }
}

/// A drawing's section once drawn: the SVG in a box that scrolls sideways (and by keyboard) rather than widening the
/// page, then notes. A `live` drawing's boxes and bars each stand for the node their link names, so the page's live
/// view (`console.js`) recolours them as those nodes' phases change; a summary's boxes stand for many and are not live.
fn drawn(id: &str, title: &str, svg: Option<String>, live: bool, notes: Markup) -> Markup {
    html! {
        section id=(id) aria-labelledby=(format!("{id}-title")) {
            h2 id=(format!("{id}-title")) { (title) }
            @if let Some(svg) = svg {
                div.drawing tabindex="0" role="region" aria-label=(title) data-live-phases[live] { (PreEscaped(svg)) }
            }
            (notes)
        }
    }
}

/// The section with what went wrong, so that a failed drawing does not look like one still loading.
fn failed(id: &str, title: &str, result: Result<Markup, ConsoleError>) -> Markup {
    result.unwrap_or_else(|error| {
        drawn(
            id,
            title,
            None,
            false,
            html! { p.error role="alert" { (error.message()) } },
        )
    })
}

/// `GET /executions/{id}/node-graph?id=...`: a dynamic node's accepted spec drawn as a graph.
pub async fn spec_graph(api: Api, Path(execution_id): Path<String>, Query(query): Query<NodeQuery>) -> Markup {
    failed(
        "spec-graph",
        "Spec graph",
        draw_spec(&api, &execution_id, &query.id).await,
    )
}

async fn draw_spec(api: &Api, execution_id: &str, node_id: &str) -> Result<Markup, ConsoleError> {
    let (id, title) = ("spec-graph", "Spec graph");
    let data = api.node_data(execution_id, node_id).await?;
    let spec = match (data.dynamic_spec, data.dynamic_spec_reference) {
        (Some(spec), _) => spec,
        (None, Some(reference)) if reference.size_bytes <= SPEC_DRAW_BYTES => read_spec(api, reference.uri).await?,
        (None, Some(reference)) => {
            let note = html! {
                p.muted {
                    "The spec is too large to draw (" (count(reference.size_bytes.try_into().unwrap_or(usize::MAX)))
                    " bytes); every child is in the tree below."
                }
            };
            return Ok(drawn(id, title, None, false, note));
        }
        (None, None) => {
            return Ok(drawn(
                id,
                title,
                None,
                false,
                html! { p.muted { "No spec was accepted yet." } },
            ));
        }
    };
    let attempt = data.dynamic_spec_attempt;
    let children = tree::list(api, execution_id, node_id, None).await?;
    let phases = drawings::child_phases(node_id, attempt, &children.nodes);
    let graph = drawings::spec_graph(&spec, &phases, |local| {
        node_link(execution_id, &format!("{node_id}/{attempt}/{local}"))
    });
    let options = DagOptions {
        label: format!("Spec of node {node_id}, accepted from attempt {attempt}"),
        id_prefix: "spec-graph".to_owned(),
        embed_style: false,
        ..DagOptions::default()
    };
    let svg = render_dag(&graph, &options).map_err(|error| ConsoleError::Data(format!("the spec: {error}")))?;
    let unknown = spec.nodes.len().saturating_sub(phases.len());
    let notes = html! {
        @if unknown > 0 {
            p.muted {
                "Phases come from the first " (tree::PAGE_SIZE) " children; the other " (count(unknown))
                " are drawn as unknown."
            }
        }
    };
    // Within both limits no box is a summary's.
    let live = spec.nodes.len() <= options.limits.nodes.min(options.limits.layer_width);
    Ok(drawn(id, title, Some(svg), live, notes))
}

/// An offloaded spec, read through `ReadOffloaded` and decoded.
async fn read_spec(api: &Api, uri: String) -> Result<pb::DynamicJobSpec, ConsoleError> {
    let request = pb::ReadOffloadedRequest { uri };
    let mut stream = api.admin().read_offloaded(api.request(request)).await?.into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend_from_slice(&chunk.chunk);
    }
    pb::DynamicJobSpec::decode(bytes.as_slice())
        .map_err(|error| ConsoleError::Data(format!("the offloaded spec does not decode: {error}")))
}

/// `GET /executions/{id}/node-timeline?id=...`: a parent's children on a timeline, from the first pages.
pub async fn timeline(api: Api, Path(execution_id): Path<String>, Query(query): Query<NodeQuery>) -> Markup {
    failed(
        "timeline",
        "Timeline",
        draw_timeline(&api, &execution_id, &query.id).await,
    )
}

async fn draw_timeline(api: &Api, execution_id: &str, node_id: &str) -> Result<Markup, ConsoleError> {
    let mut children = Vec::new();
    let mut token = None;
    for _ in 0..TIMELINE_PAGES {
        let level = tree::list(api, execution_id, node_id, token).await?;
        children.extend(level.nodes);
        if level.next_page_token.is_empty() {
            token = None;
            break;
        }
        token = Some(level.next_page_token);
    }
    let runs = drawings::runs(&children, |child| node_link(execution_id, child));
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
    let options = GanttOptions {
        label: format!("Children of node {node_id}"),
        now_ms,
        max_rows: TIMELINE_ROWS,
        embed_style: false,
        ..GanttOptions::default()
    };
    let svg = (!runs.is_empty()).then(|| render_gantt(&runs, &options));
    let notes = html! {
        @if runs.is_empty() {
            p.muted { "No child has started yet." }
        }
        @if token.is_some() {
            p.muted { "Drawn from the first " (count(children.len())) " children; every child is in the tree below." }
        }
    };
    Ok(drawn("timeline", "Timeline", svg, true, notes))
}

/// A workflow's identifier, from its page's path.
type WorkflowPath = (String, String, String, String);

/// `GET /workflows/{project}/{domain}/{name}/{version}/graph`: a registered workflow's nodes and edges, each node
/// linked to its target's page.
pub async fn workflow_graph(api: Api, Path((project, domain, name, version)): Path<WorkflowPath>) -> Markup {
    let id = pb::Identifier {
        project,
        domain,
        name,
        version,
    };
    failed("workflow-graph", "Graph", draw_workflow(&api, id).await)
}

async fn draw_workflow(api: &Api, id: pb::Identifier) -> Result<Markup, ConsoleError> {
    let request = pb::GetWorkflowRequest { id: Some(id.clone()) };
    let template = api
        .admin()
        .get_workflow(api.request(request))
        .await?
        .into_inner()
        .workflow
        .ok_or_else(|| ConsoleError::Data("the server sent no workflow".to_owned()))?;
    let graph = drawings::workflow_graph(&template, drawings::target_page);
    let options = DagOptions {
        label: format!("Workflow {}@{}", id.name, id.version),
        id_prefix: "workflow-graph".to_owned(),
        embed_style: false,
        ..DagOptions::default()
    };
    let svg = render_dag(&graph, &options).map_err(|error| ConsoleError::Data(format!("the workflow: {error}")))?;
    let notes = html! { p.muted { (template.nodes.len()) " nodes; each links to what it runs." } };
    Ok(drawn("workflow-graph", "Graph", Some(svg), false, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_placeholder_is_busy_until_its_drawing_replaces_it() {
        let html = placeholder("timeline", "Timeline", "/executions/e1/node-timeline?id=n0", "Drawing…").into_string();
        assert!(html.contains(r#"aria-busy="true""#), "{html}");
        assert!(
            html.contains(r#"hx-get="/executions/e1/node-timeline?id=n0""#),
            "{html}"
        );
        assert!(html.contains(r#"hx-swap="outerHTML""#), "{html}");
        let done = drawn("timeline", "Timeline", Some("<svg/>".to_owned()), true, html! {}).into_string();
        assert!(!done.contains("aria-busy"), "{done}");
        assert!(
            done.contains(
                r#"<div class="drawing" tabindex="0" role="region" aria-label="Timeline" data-live-phases><svg/></div>"#
            ),
            "{done}"
        );
    }

    #[test]
    fn a_failed_drawing_says_why_instead_of_staying_busy() {
        let status = tonic::Status::not_found("no node n9");
        let html = failed("spec-graph", "Spec graph", Err(ConsoleError::Rpc(status))).into_string();
        assert!(html.contains("NOT_FOUND: no node n9"), "{html}");
        assert!(
            html.contains(r#"role="alert""#) && !html.contains("aria-busy"),
            "{html}"
        );
    }
}
