//! The summary's rule on the shapes Gantry draws (fan-outs, maps, nested fan-outs, nodes without a target), and its
//! guarantees on random DAGs: at most `limit` boxes, every input node in exactly one, every edge kept between boxes.

use proptest::prelude::*;

use super::*;

fn at_most(limit: usize) -> Limits {
    Limits {
        nodes: limit,
        ..Limits::default()
    }
}

/// `gen` -> `children` children running `task square` (`failed` of them failed) -> `down`.
fn fan_out(children: usize, failed: usize) -> Graph {
    let mut nodes = vec![Node::new("gen", "generate", "succeeded")];
    let mut edges = Vec::new();
    for i in 0..children {
        let phase = if i < failed { "failed" } else { "succeeded" };
        nodes.push(
            Node::new(format!("dn{i}"), format!("dn{i}"), phase)
                .with_group("task square")
                .with_href(format!("/n/dn{i}")),
        );
        edges.push(Edge::new("gen", format!("dn{i}")));
        edges.push(Edge::new(format!("dn{i}"), "down"));
    }
    nodes.push(Node::new("down", "sum", "queued"));
    Graph { nodes, edges }
}

#[test]
fn a_graph_within_the_limit_is_drawn_as_it_is() {
    let graph = fan_out(10, 0);
    let summary = summarise(&graph, Limits::default()).unwrap();
    assert_eq!(summary.graph, graph);
    assert!(!summary.is_summarised());
}

#[test]
fn a_fan_out_becomes_one_box_with_its_phases_counted() {
    let summary = summarise(&fan_out(10_000, 10), Limits::default()).unwrap();
    let labels: Vec<&str> = summary.graph.nodes.iter().map(|node| node.label.as_str()).collect();
    assert_eq!(labels, ["generate", "10,000 × task square", "sum"]);
    let group = &summary.graph.nodes[1];
    assert_eq!(group.detail.as_deref(), Some("9,990 succeeded, 10 failed"));
    assert_eq!((group.phase.as_str(), group.href.as_deref()), ("mixed", Some("/n/dn0")));
    assert_eq!(summary.members[1].len(), 10_000);
    let edges: Vec<(&str, &str)> = summary
        .graph
        .edges
        .iter()
        .map(|e| (e.from.as_str(), e.to.as_str()))
        .collect();
    assert_eq!(edges, [("gen", "group-1"), ("group-1", "down")]);
    assert_eq!(summary.input_nodes, 10_002);
}

#[test]
fn a_maps_stages_stay_apart_and_so_do_fan_outs_under_different_parents() {
    let mut nodes = vec![Node::new("p1", "p1", "running"), Node::new("p2", "p2", "running")];
    let mut edges = Vec::new();
    for i in 0..150 {
        for (parent, stage) in [("p1", "a"), ("p2", "a")] {
            let id = format!("{parent}-{stage}{i}");
            nodes.push(Node::new(id.clone(), id.clone(), "running").with_group("task a"));
            edges.push(Edge::new(parent, id.clone()));
            let next = format!("{parent}-b{i}");
            nodes.push(Node::new(next.clone(), next.clone(), "queued").with_group("task b"));
            edges.push(Edge::new(id, next));
        }
    }
    let summary = summarise(&Graph { nodes, edges }, Limits::default()).unwrap();
    let mut labels: Vec<&str> = summary.graph.nodes.iter().map(|node| node.label.as_str()).collect();
    labels.sort_unstable();
    assert_eq!(
        labels,
        [
            "150 × task a",
            "150 × task a",
            "150 × task b",
            "150 × task b",
            "p1",
            "p2"
        ]
    );
    assert_eq!(summary.graph.edges.len(), 4);
}

#[test]
fn a_layer_wider_than_its_limit_is_summarised_within_the_node_limit() {
    let summary = summarise(&fan_out(150, 0), Limits::default()).unwrap();
    let labels: Vec<&str> = summary.graph.nodes.iter().map(|node| node.label.as_str()).collect();
    assert_eq!(labels, ["generate", "150 × task square", "sum"]);
    let wide = Limits {
        layer_width: 150,
        ..Limits::default()
    };
    assert!(!summarise(&fan_out(150, 0), wide).unwrap().is_summarised());
}

#[test]
fn nodes_without_a_target_merge_by_layer_when_they_must() {
    let mut graph = fan_out(300, 0);
    for node in &mut graph.nodes {
        node.group = None;
    }
    let summary = summarise(&graph, at_most(50)).unwrap();
    let labels: Vec<&str> = summary.graph.nodes.iter().map(|node| node.label.as_str()).collect();
    assert_eq!(labels, ["generate", "300 nodes", "sum"]);
    assert_eq!(summary.graph.nodes[1].group, None);
}

#[test]
fn a_chain_longer_than_the_limit_merges_runs_of_layers() {
    let nodes = (0..1_000)
        .map(|i| Node::new(format!("n{i}"), format!("n{i}"), "succeeded"))
        .collect();
    let edges = (1..1_000)
        .map(|i| Edge::new(format!("n{}", i - 1), format!("n{i}")))
        .collect();
    let summary = summarise(&Graph { nodes, edges }, at_most(200)).unwrap();
    assert_eq!(summary.graph.nodes.len(), 200);
    assert!(summary.members.iter().all(|members| members.len() == 5));
    assert_eq!(summary.graph.edges.len(), 199);
}

#[test]
fn group_ids_never_take_an_input_id() {
    let mut graph = fan_out(300, 0);
    graph.nodes[0].id = "group-1".to_owned();
    for edge in &mut graph.edges {
        if edge.from == "gen" {
            edge.from = "group-1".to_owned();
        }
    }
    let summary = summarise(&graph, at_most(50)).unwrap();
    let ids: Vec<&str> = summary.graph.nodes.iter().map(|node| node.id.as_str()).collect();
    assert_eq!(ids, ["group-1", "group-1'", "down"]);
}

fn dag() -> impl Strategy<Value = (Graph, usize)> {
    (1usize..80, 1usize..20).prop_flat_map(|(nodes, limit)| {
        (
            prop::collection::vec((0..nodes, 0..nodes), 0..nodes * 2),
            prop::collection::vec(prop::option::of(0..3u8), nodes),
        )
            .prop_map(move |(pairs, groups)| {
                let nodes = groups
                    .iter()
                    .enumerate()
                    .map(|(i, group)| {
                        let node = Node::new(
                            format!("n{i}"),
                            format!("n{i}"),
                            if i % 3 == 0 { "failed" } else { "succeeded" },
                        );
                        match group {
                            Some(g) => node.with_group(format!("task t{g}")),
                            None => node,
                        }
                    })
                    .collect();
                let edges = pairs
                    .into_iter()
                    .filter(|(a, b)| a != b)
                    .map(|(a, b)| Edge::new(format!("n{}", a.min(b)), format!("n{}", a.max(b))))
                    .collect();
                (Graph { nodes, edges }, limit)
            })
    })
}

proptest! {
    #[test]
    fn a_summary_keeps_every_node_once_every_edge_and_the_limit((graph, limit) in dag()) {
        let summary = summarise(&graph, at_most(limit)).unwrap();
        prop_assert!(summary.graph.nodes.len() <= limit);
        let mut seen: Vec<usize> = summary.members.iter().flatten().copied().collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (0..graph.nodes.len()).collect::<Vec<_>>());
        let box_of = |id: &str| {
            let index = graph.nodes.iter().position(|node| node.id == id).unwrap();
            summary.members.iter().position(|members| members.contains(&index)).unwrap()
        };
        for edge in &graph.edges {
            let (from, to) = (box_of(&edge.from), box_of(&edge.to));
            let kept = from == to
                || summary.graph.edges.iter().any(|e| {
                    e.from == summary.graph.nodes[from].id && e.to == summary.graph.nodes[to].id
                });
            prop_assert!(kept, "{edge:?}");
        }
        prop_assert_eq!(&summary, &summarise(&graph, at_most(limit)).unwrap());
    }
}
