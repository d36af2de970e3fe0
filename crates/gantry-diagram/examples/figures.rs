//! Prints how long the drawings take and how large they are: layouts of random layered DAGs of 1,000 to 5,000 nodes
//! drawn in full, a 100,000-child fan-out summarised, a 100,000-run timeline. With a directory argument, also writes
//! the SVGs there to look at. Run it with `cargo run --release -p gantry-diagram --example figures [DIR]`.

use std::time::Instant;

use gantry_diagram::{
    DagOptions, Edge, GanttOptions, Graph, LayoutOptions, Limits, Node, Run, layout, render_dag, render_gantt,
};

/// A deterministic pseudo-random sequence (xorshift), so that every run draws the same graphs.
struct Sequence(u64);

impl Sequence {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// `nodes` nodes in `layers` layers, each but the first fed by one to three nodes of the layers above it.
fn layered_dag(nodes: usize, layers: usize) -> Graph {
    let mut random = Sequence(0x9e37_79b9_7f4a_7c15);
    let per_layer = nodes.div_ceil(layers);
    let graph_nodes: Vec<Node> = (0..nodes)
        .map(|i| Node::new(format!("n{i}"), format!("node {i}"), "succeeded").with_href(format!("/nodes/n{i}")))
        .collect();
    let mut edges = Vec::new();
    for i in per_layer..nodes {
        let layer = i / per_layer;
        for _ in 0..1 + random.below(3) {
            let from_layer = layer - 1 - random.below(layer.min(3));
            let from = from_layer * per_layer + random.below(per_layer);
            edges.push(Edge::new(format!("n{from}"), format!("n{i}")));
        }
    }
    Graph {
        nodes: graph_nodes,
        edges,
    }
}

fn fan_out(children: usize) -> Graph {
    let mut nodes = vec![Node::new("gen", "generate_others", "succeeded")];
    let mut edges = Vec::new();
    for i in 0..children {
        let id = format!("gen/0/dn{i}");
        nodes.push(Node::new(id.clone(), format!("dn{i}"), "succeeded").with_group("task other_task"));
        edges.push(Edge::new("gen", id.clone()));
        edges.push(Edge::new(id, "report"));
    }
    nodes.push(Node::new("report", "report", "queued"));
    Graph { nodes, edges }
}

fn write(dir: Option<&str>, name: &str, svg: &str) {
    if let Some(dir) = dir {
        let path = std::path::Path::new(dir).join(name);
        if let Err(error) = std::fs::write(&path, svg) {
            eprintln!("cannot write {}: {error}", path.display());
        }
    }
}

fn main() {
    let dir = std::env::args().nth(1);
    let dir = dir.as_deref();
    for (nodes, layers) in [(1_000, 20), (3_000, 40), (5_000, 50)] {
        let graph = layered_dag(nodes, layers);
        let started = Instant::now();
        let placed = layout(&graph, &LayoutOptions::default()).expect("a valid graph");
        let laid_out = started.elapsed();
        let options = DagOptions {
            label: format!("{nodes} nodes"),
            limits: Limits {
                nodes: usize::MAX,
                layer_width: usize::MAX,
            },
            ..DagOptions::default()
        };
        let started = Instant::now();
        let svg = render_dag(&graph, &options).expect("a valid graph");
        let drawn = started.elapsed();
        println!(
            "layered DAG, {nodes} nodes, {} edges, {layers} layers, {} crossings: layout {:.1} ms, layout and SVG {:.1} ms, \
             {} KiB",
            graph.edges.len(),
            placed.crossings,
            laid_out.as_secs_f64() * 1e3,
            drawn.as_secs_f64() * 1e3,
            svg.len() / 1024
        );
        assert_eq!(placed.centres.len(), nodes);
        write(dir, &format!("dag-{nodes}.svg"), &svg);
    }

    let graph = fan_out(100_000);
    let started = Instant::now();
    let svg = render_dag(&graph, &DagOptions::default()).expect("a valid graph");
    println!(
        "fan-out of 100,000 children, summarised: {:.1} ms, {} bytes",
        started.elapsed().as_secs_f64() * 1e3,
        svg.len()
    );
    write(dir, "fan-out-100000.svg", &svg);
    let svg = render_dag(&fan_out(10), &DagOptions::default()).expect("a valid graph");
    write(dir, "seed.svg", &svg);

    let runs: Vec<Run> = (0..100_000i64)
        .map(|i| Run {
            label: format!("dn{i}"),
            href: Some(format!("/nodes/gen/0/dn{i}")),
            phase: if i % 997 == 0 { "failed" } else { "succeeded" }.to_owned(),
            start_ms: i * 3,
            end_ms: Some(i * 3 + 2_000 + (i % 7) * 300),
        })
        .collect();
    let started = Instant::now();
    let svg = render_gantt(
        &runs,
        &GanttOptions {
            label: "children of gen".to_owned(),
            now_ms: 400_000,
            ..GanttOptions::default()
        },
    );
    println!(
        "timeline of 100,000 runs (50 rows and a density band): {:.1} ms, {} bytes",
        started.elapsed().as_secs_f64() * 1e3,
        svg.len()
    );
    write(dir, "timeline-100000.svg", &svg);
}
