//! The drawings the console asks for, end to end: the seed's spec (a dynamic node, its ten children and a node
//! downstream), a 100,000-child fan-out summarised into a small SVG, and hostile text that stays text.

use gantry_diagram::{
    DagOptions, Edge, GanttOptions, Graph, LayoutOptions, Limits, Node, Run, layout, render_dag, render_gantt,
    summarise,
};

/// `generate_others` (a dynamic node) -> `children` × `other_task` -> `report`, as the console would map them.
fn seed_shape(children: usize) -> Graph {
    let mut nodes = vec![Node::new("gen", "generate_others", "succeeded").with_href("/executions/e1/nodes/gen")];
    let mut edges = Vec::new();
    for i in 0..children {
        let id = format!("gen/0/dn{i}");
        nodes.push(
            Node::new(
                id.clone(),
                format!("dn{i}"),
                if i == 3 { "failed" } else { "succeeded" },
            )
            .with_href(format!("/executions/e1/nodes/{id}"))
            .with_group("task other_task")
            .with_detail(format!("out {}", 2 * i)),
        );
        edges.push(Edge::new("gen", id.clone()));
        edges.push(Edge::new(id, "report"));
    }
    nodes.push(Node::new("report", "report", "queued"));
    Graph { nodes, edges }
}

fn options(label: &str) -> DagOptions {
    DagOptions {
        label: label.to_owned(),
        ..DagOptions::default()
    }
}

#[test]
fn the_seed_spec_draws_every_child_as_a_link_in_its_phase() {
    let svg = render_dag(&seed_shape(10), &options("spec of gen")).unwrap();
    assert!(
        svg.starts_with(
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="gantry-dag" role="group" aria-label="spec of gen""#
        ),
        "{svg}"
    );
    assert_eq!(svg.matches("<a href=").count(), 11);
    assert_eq!(svg.matches(r#"class="node phase-succeeded""#).count(), 10);
    assert!(
        svg.contains(
            r#"<a href="/executions/e1/nodes/gen/0/dn3" class="node phase-failed"><title>dn3: failed (out 6)</title>"#
        ),
        "{svg}"
    );
    assert!(svg.contains(r#"<g class="node phase-queued"><title>report: queued</title>"#));
    assert_eq!(svg.matches(r#"<path class="edge""#).count(), 20);

    // Layers: the parent, its children side by side, the node downstream; the children centred under the parent.
    let placed = layout(&seed_shape(10), &LayoutOptions::default()).unwrap();
    assert_eq!(placed.layers[0], 0);
    assert!(placed.layers[1..11].iter().all(|&layer| layer == 1));
    assert_eq!(placed.layers[11], 2);
    let children: Vec<f64> = placed.centres[1..11].iter().map(|c| c.x).collect();
    assert!((children.iter().sum::<f64>() / 10.0 - placed.centres[0].x).abs() < 1e-6);
    assert_eq!(placed.centres[0].x, placed.centres[11].x);
}

#[test]
fn a_100_000_child_fan_out_is_summarised_into_a_small_svg() {
    let graph = seed_shape(100_000);
    let svg = render_dag(&graph, &options("spec of gen")).unwrap();
    assert!(
        svg.contains(r#"aria-label="spec of gen (100,002 nodes, drawn as 3 groups)""#),
        "{svg}"
    );
    assert!(svg.contains(">100,000 × task other_task</text>"), "{svg}");
    assert!(svg.contains("99,999 succeeded, 1 failed"), "{svg}");
    assert!(svg.contains(r#"class="node phase-mixed""#));
    assert!(svg.len() < 8_000, "{} bytes", svg.len());
    assert_eq!(summarise(&graph, Limits::default()).unwrap().graph.nodes.len(), 3);
}

#[test]
fn hostile_labels_ids_and_links_stay_inert() {
    let graph = Graph {
        nodes: vec![
            Node::new(
                "a\"><script>",
                "</text><script>alert(1)</script>",
                "fail\"ed onload=\"x",
            )
            .with_href("javascript:alert(document.cookie)")
            .with_detail("<b>&</b>"),
            Node::new("b", "b", "succeeded").with_href("/x?a=1&b=\"2\""),
        ],
        edges: vec![Edge::new("a\"><script>", "b")],
    };
    let svg = render_dag(&graph, &options("a <graph> & \"more\"")).unwrap();
    assert!(!svg.contains("<script"), "{svg}");
    assert!(!svg.contains("javascript:"));
    assert!(svg.contains(r#"aria-label="a &lt;graph&gt; &amp; &quot;more&quot;""#));
    assert!(svg.contains(r#"<g class="node phase-failedonloadx">"#));
    assert!(
        svg.contains(r#"<a href="/x?a=1&amp;b=&quot;2&quot;" class="node phase-succeeded">"#),
        "{svg}"
    );
}

#[test]
fn a_timeline_of_the_seeds_children() {
    let runs: Vec<Run> = (0..10)
        .map(|i| Run {
            label: format!("dn{i}"),
            href: Some(format!("/executions/e1/nodes/gen/0/dn{i}")),
            phase: if i == 9 { "running" } else { "succeeded" }.to_owned(),
            start_ms: 1_000 + i * 100,
            end_ms: (i < 9).then_some(2_000 + i * 100),
        })
        .collect();
    let svg = render_gantt(
        &runs,
        &GanttOptions {
            label: "children of gen".to_owned(),
            now_ms: 3_000,
            ..GanttOptions::default()
        },
    );
    assert_eq!(svg.matches("<a href=").count(), 10);
    assert!(svg.contains(r#"class="run phase-running open""#));
    assert!(!svg.contains("more runs"));
}
