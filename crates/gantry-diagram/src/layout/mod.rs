//! A layered (Sugiyama-style) layout of a directed graph: cycles broken, layers by longest path (`rank.rs`), dummy
//! vertices on long edges and barycenter crossing reduction (`order.rs`), horizontal positions (`position.rs`); each
//! edge becomes a polyline through its dummies. Every step is linear or `n log n` in the vertices and edges (dummies
//! included), so a few thousand nodes lay out in milliseconds.

mod order;
mod position;
mod rank;

use crate::graph::{Graph, GraphError, indexed_edges};
use order::Layered;
use position::Spacing;
pub(crate) use rank::{acyclic, ranks};

/// Sizes and effort of a layout, in SVG user units.
#[derive(Debug, Clone, PartialEq)]
pub struct LayoutOptions {
    /// Every node's box: its width ...
    pub node_width: f64,
    /// ... and its height.
    pub node_height: f64,
    /// Between neighbouring boxes in a layer.
    pub node_gap: f64,
    /// Between two edges passing through a layer.
    pub edge_gap: f64,
    /// Between the bottom of one layer's boxes and the top of the next's.
    pub layer_gap: f64,
    /// Around the drawing.
    pub margin: f64,
    /// Rounds of crossing reduction (each a sweep down and a sweep up).
    pub sweeps: usize,
    /// Rounds of horizontal alignment.
    pub alignment_passes: usize,
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            node_width: 200.0,
            node_height: 48.0,
            node_gap: 24.0,
            edge_gap: 8.0,
            layer_gap: 56.0,
            margin: 16.0,
            sweeps: 6,
            alignment_passes: 4,
        }
    }
}

/// A point in SVG user units (y grows downward).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// From the left edge.
    pub x: f64,
    /// From the top edge.
    pub y: f64,
}

/// One edge as drawn: from the bottom of its upstream node's box to the top of its downstream node's, straight down
/// through each layer in between (two points a layer, level with the boxes' tops and bottoms). An edge that closed a cycle runs the other way (upward), still ending at `to`.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgePath {
    /// Index of the upstream node in the graph's `nodes`.
    pub from: usize,
    /// Index of the downstream node.
    pub to: usize,
    /// The polyline, from `from` to `to`.
    pub points: Vec<Point>,
}

/// Where everything goes.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The centre of each node's box, in the order of the graph's `nodes`.
    pub centres: Vec<Point>,
    /// Each node's layer, 0 at the top.
    pub layers: Vec<usize>,
    /// The graph's edges, less self-loops and repeats, in (from, to) order.
    pub edges: Vec<EdgePath>,
    /// How many pairs of edges cross between layers.
    pub crossings: u64,
    /// The drawing's width, margins included ...
    pub width: f64,
    /// ... and its height.
    pub height: f64,
    /// The boxes' width, as asked for ...
    pub node_width: f64,
    /// ... and their height.
    pub node_height: f64,
}

/// Lays `graph` out.
pub fn layout(graph: &Graph, options: &LayoutOptions) -> Result<Layout, GraphError> {
    let edges = indexed_edges(graph)?;
    let nodes = graph.nodes.len();
    let oriented = acyclic(nodes, &edges);
    let downward: Vec<(usize, usize)> = oriented.iter().map(|&(from, to, _)| (from, to)).collect();
    let layer_of = ranks(nodes, &downward);
    let mut layered = Layered::new(layer_of, &downward);
    layered.reduce_crossings(options.sweeps);
    let crossings = layered.crossings(&layered.positions());
    let spacing = Spacing {
        node_width: options.node_width,
        gap: options.node_gap,
        edge_gap: options.edge_gap,
    };
    let x = position::horizontal(&layered, spacing, options.alignment_passes);
    let layer_height = options.node_height + options.layer_gap;
    let centre_y = |layer: usize| options.margin + layer as f64 * layer_height + options.node_height / 2.0;
    let at = |vertex: usize| Point {
        x: options.margin + x[vertex],
        y: centre_y(layered.rank[vertex]),
    };
    let half = options.node_height / 2.0;
    let paths = oriented
        .iter()
        .zip(&layered.chains)
        .map(|(&(upper, lower, reversed), chain)| {
            // Through each layer it crosses, an edge runs straight down the height of the boxes, so that it passes
            // between them rather than cutting their corners.
            let mut points = Vec::with_capacity(chain.len() * 2);
            let (first, last) = (at(chain[0]), at(chain[chain.len() - 1]));
            points.push(Point {
                y: first.y + half,
                ..first
            });
            for &dummy in &chain[1..chain.len() - 1] {
                let centre = at(dummy);
                points.push(Point {
                    y: centre.y - half,
                    ..centre
                });
                points.push(Point {
                    y: centre.y + half,
                    ..centre
                });
            }
            points.push(Point {
                y: last.y - half,
                ..last
            });
            let (from, to) = if reversed {
                points.reverse();
                (lower, upper)
            } else {
                (upper, lower)
            };
            EdgePath { from, to, points }
        })
        .collect();
    let right = (0..nodes)
        .map(|node| x[node] + options.node_width / 2.0)
        .fold(0.0, f64::max);
    let right = (nodes..x.len()).map(|dummy| x[dummy]).fold(right, f64::max);
    Ok(Layout {
        centres: (0..nodes).map(at).collect(),
        layers: layered.rank[..nodes].to_vec(),
        edges: paths,
        crossings,
        width: right + 2.0 * options.margin,
        height: (layered.layers.len() as f64 * layer_height - options.layer_gap).max(0.0) + 2.0 * options.margin,
        node_width: options.node_width,
        node_height: options.node_height,
    })
}

#[cfg(test)]
mod tests;
