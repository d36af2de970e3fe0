//! The layout's invariants on random DAGs (boxes in a layer never overlap, every edge goes downward through two points
//! per layer it crosses, the same graph always gives the same layout) and its shape on small graphs.

use proptest::prelude::*;

use super::*;
use crate::graph::{Edge, Node};

fn graph(nodes: usize, edges: &[(usize, usize)]) -> Graph {
    Graph {
        nodes: (0..nodes)
            .map(|i| Node::new(format!("n{i}"), format!("node {i}"), "queued"))
            .collect(),
        edges: edges
            .iter()
            .map(|&(a, b)| Edge::new(format!("n{a}"), format!("n{b}")))
            .collect(),
    }
}

/// A random DAG: edges only from a lower index to a higher one.
fn dag() -> impl Strategy<Value = Graph> {
    (1usize..40).prop_flat_map(|nodes| {
        prop::collection::vec((0..nodes, 0..nodes), 0..nodes * 2).prop_map(move |pairs| {
            let edges: Vec<(usize, usize)> = pairs
                .into_iter()
                .filter(|(a, b)| a != b)
                .map(|(a, b)| (a.min(b), a.max(b)))
                .collect();
            graph(nodes, &edges)
        })
    })
}

proptest! {
    #[test]
    fn boxes_in_a_layer_never_overlap(graph in dag()) {
        let options = LayoutOptions::default();
        let layout = layout(&graph, &options).unwrap();
        let mut by_layer: Vec<(usize, f64)> = layout.layers.iter().copied().zip(layout.centres.iter().map(|c| c.x)).collect();
        by_layer.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        for pair in by_layer.windows(2) {
            if pair[0].0 == pair[1].0 {
                prop_assert!(pair[1].1 - pair[0].1 >= options.node_width + options.node_gap - 1e-6, "{pair:?}");
            }
        }
        for centre in &layout.centres {
            prop_assert!(centre.x - options.node_width / 2.0 >= options.margin - 1e-6);
            prop_assert!(centre.x + options.node_width / 2.0 <= layout.width - options.margin + 1e-6);
            prop_assert!(centre.y + options.node_height / 2.0 <= layout.height - options.margin + 1e-6);
        }
    }

    #[test]
    fn every_edge_goes_downward_from_its_source_to_its_target(graph in dag()) {
        let layout = layout(&graph, &LayoutOptions::default()).unwrap();
        for path in &layout.edges {
            prop_assert!(layout.layers[path.from] < layout.layers[path.to]);
            prop_assert_eq!(path.points.len(), 2 * (layout.layers[path.to] - layout.layers[path.from]));
            prop_assert!(path.points.windows(2).all(|pair| pair[1].y > pair[0].y), "{path:?}");
            let first = path.points[0];
            let last = path.points[path.points.len() - 1];
            prop_assert_eq!(first.x, layout.centres[path.from].x);
            prop_assert_eq!(last.x, layout.centres[path.to].x);
        }
    }

    #[test]
    fn the_same_graph_gives_the_same_layout(graph in dag()) {
        let options = LayoutOptions::default();
        prop_assert_eq!(layout(&graph, &options).unwrap(), layout(&graph, &options).unwrap());
    }
}

#[test]
fn an_edge_closing_a_cycle_is_drawn_upward_and_still_ends_at_its_target() {
    let layout = layout(&graph(3, &[(0, 1), (1, 2), (2, 0)]), &LayoutOptions::default()).unwrap();
    let back = layout.edges.iter().find(|path| path.from == 2).unwrap();
    assert_eq!(back.to, 0);
    assert!(back.points.windows(2).all(|pair| pair[1].y < pair[0].y));
}

#[test]
fn an_empty_graph_is_just_its_margins() {
    let layout = layout(&Graph::default(), &LayoutOptions::default()).unwrap();
    assert_eq!((layout.width, layout.height), (32.0, 32.0));
}

#[test]
fn a_diamond_is_symmetric() {
    let layout = layout(&graph(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]), &LayoutOptions::default()).unwrap();
    let c = &layout.centres;
    assert_eq!(c[0].x, c[3].x);
    assert_eq!(c[0].x - c[1].x, c[2].x - c[0].x);
    assert_eq!(layout.layers, vec![0, 1, 1, 2]);
    assert_eq!(layout.crossings, 0);
}
