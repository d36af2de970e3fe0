//! Gantry's drawings, as SVG strings for the console to inline: a dynamic spec's or a workflow's graph, laid out in
//! layers (`layout`), summarised when large (`summary`) and drawn with links and phase classes (`dag`); and a Gantt
//! timeline of runs (`gantt`).
//!
//! Pure: no IO, no async, no dependency on Gantry's other crates. Its inputs are plain structs ([`Graph`] of
//! [`Node`]s and [`Edge`]s, [`Run`]s) that callers fill from whatever they read, so that the console maps node
//! records and specs onto them and this crate stays testable on its own. Every text it writes is escaped, and links
//! other than relative and `http(s)` ones are dropped, so that ids, labels and errors from users cannot inject markup.
//!
//! The layout is written here rather than taken from a crate: the candidates on crates.io (`layout-rs`, a Graphviz
//! port with few releases; `dagre_rust`, undocumented) draw their own SVG without links, classes or accessible names,
//! and would have had to be bent to give positions back; a layered layout is a few hundred lines, property-tested.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod dag;
mod gantt;
mod graph;
mod layout;
mod style;
mod summary;
mod svg;
mod ticks;

pub use dag::{DAG_CLASS, DagOptions, draw_dag, render_dag};
pub use gantt::{GANTT_CLASS, GanttOptions, Run, render_gantt};
pub use graph::{Edge, Graph, GraphError, Node};
pub use layout::{EdgePath, Layout, LayoutOptions, Point, layout};
pub use summary::{DEFAULT_LAYER_WIDTH, DEFAULT_NODE_LIMIT, Limits, Summary, summarise};
pub use svg::{count, escape, safe_href};
