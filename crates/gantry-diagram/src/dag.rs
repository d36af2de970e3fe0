//! A graph drawn as SVG: summarised when large, laid out in layers, each node a box that links where its caller says,
//! classed by its phase, and titled with its whole label, phase and detail for tooltips and screen readers.

use std::fmt::Write;

use crate::graph::{Graph, GraphError};
use crate::layout::{Layout, LayoutOptions, layout};
use crate::style::default_style;
use crate::summary::{Limits, summarise};
use crate::svg::{count, escape, num, open_item, open_root, phase_class, truncate};

/// How a graph is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct DagOptions {
    /// What the drawing shows, for screen readers and as its title (`spec of node gen`).
    pub label: String,
    /// Beyond these the graph is summarised (see [`crate::summarise`]).
    pub limits: Limits,
    /// Sizes and effort of the layout.
    pub layout: LayoutOptions,
    /// The most characters of a label drawn in a box (the whole label is in the box's title).
    pub label_chars: usize,
    /// Prefixes the ids the drawing defines (its arrowhead), so that several drawings can share a page.
    pub id_prefix: String,
    /// Embeds the default look (see `style.rs`); off when the page styles the classes itself.
    pub embed_style: bool,
}

impl Default for DagOptions {
    fn default() -> Self {
        DagOptions {
            label: "graph".to_owned(),
            limits: Limits::default(),
            layout: LayoutOptions::default(),
            label_chars: 28,
            id_prefix: "gantry-dag".to_owned(),
            embed_style: true,
        }
    }
}

/// The root element's class.
pub const DAG_CLASS: &str = "gantry-dag";

/// Summarises, lays out and draws `graph`. When summarised, the drawing's label says how many nodes it stands for.
pub fn render_dag(graph: &Graph, options: &DagOptions) -> Result<String, GraphError> {
    let summary = summarise(graph, options.limits)?;
    let placed = layout(&summary.graph, &options.layout)?;
    let label = if summary.is_summarised() {
        let boxes = summary.graph.nodes.len();
        format!(
            "{} ({} nodes, drawn as {} group{})",
            options.label,
            count(summary.input_nodes),
            count(boxes),
            if boxes == 1 { "" } else { "s" }
        )
    } else {
        options.label.clone()
    };
    Ok(draw_dag(
        &summary.graph,
        &placed,
        &DagOptions {
            label,
            ..options.clone()
        },
    ))
}

/// Draws a graph laid out by [`layout`] (with the same graph).
pub fn draw_dag(graph: &Graph, placed: &Layout, options: &DagOptions) -> String {
    let mut out = String::with_capacity(512 + graph.nodes.len() * 320 + placed.edges.len() * 80);
    open_root(&mut out, DAG_CLASS, (placed.width, placed.height), &options.label);
    if options.embed_style {
        out.push_str(&default_style(DAG_CLASS));
    }
    let arrow = format!("{}-arrow", escape(&options.id_prefix));
    let _ = write!(
        out,
        r#"<defs><marker id="{arrow}" class="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0L8,4L0,8z"/></marker></defs>"#
    );
    out.push_str(r#"<g class="edges" aria-hidden="true">"#);
    for path in &placed.edges {
        let mut d = String::new();
        for (i, point) in path.points.iter().enumerate() {
            let _ = write!(d, "{}{},{}", if i == 0 { "M" } else { "L" }, num(point.x), num(point.y));
        }
        let _ = write!(out, r#"<path class="edge" d="{d}" marker-end="url(#{arrow})"/>"#);
    }
    out.push_str(r#"</g><g class="nodes">"#);
    let (width, height) = (placed.node_width, placed.node_height);
    for (node, centre) in graph.nodes.iter().zip(&placed.centres) {
        let mut title = format!("{}: {}", node.label, node.phase);
        if let Some(detail) = &node.detail {
            let _ = write!(title, " ({detail})");
        }
        let class = format!("node {}", phase_class(&node.phase));
        let close = open_item(&mut out, node.href.as_deref(), &class, &title);
        let (left, top) = (centre.x - width / 2.0, centre.y - height / 2.0);
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" rx="6"/>"#,
            num(left),
            num(top),
            num(width),
            num(height)
        );
        let label = escape(&truncate(&node.label, options.label_chars));
        match &node.detail {
            Some(detail) => {
                let detail = escape(&truncate(detail, options.label_chars + 6));
                let _ = write!(
                    out,
                    r#"<text x="{x}" y="{}">{label}</text><text class="detail" x="{x}" y="{}">{detail}</text>"#,
                    num(centre.y - height / 5.0),
                    num(centre.y + height / 4.0),
                    x = num(centre.x)
                );
            }
            None => {
                let _ = write!(
                    out,
                    r#"<text x="{}" y="{}">{label}</text>"#,
                    num(centre.x),
                    num(centre.y)
                );
            }
        }
        out.push_str(close);
    }
    out.push_str("</g></svg>");
    out
}
