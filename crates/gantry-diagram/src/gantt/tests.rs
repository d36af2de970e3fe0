//! Timelines: bars from start to end or to now, the axis, links and escaping, and many runs summarised.

use super::*;

fn run(label: &str, phase: &str, start_ms: i64, end_ms: Option<i64>) -> Run {
    Run {
        label: label.to_owned(),
        href: Some(format!("/nodes/{label}")),
        phase: phase.to_owned(),
        start_ms,
        end_ms,
    }
}

fn options(now_ms: i64) -> GanttOptions {
    GanttOptions {
        label: "children of gen".to_owned(),
        now_ms,
        ..GanttOptions::default()
    }
}

/// The `x` and `width` of each bar, in document order.
fn bars(svg: &str) -> Vec<(f64, f64)> {
    svg.split("<rect ")
        .skip(1)
        .map(|rest| &rest[..rest.find("/>").unwrap()])
        .filter(|attributes| attributes.contains(r#"rx="2""#))
        .map(|attributes| (attribute(attributes, "x"), attribute(attributes, "width")))
        .collect()
}

fn attribute(attributes: &str, name: &str) -> f64 {
    let prefix = format!("{name}=\"");
    let value = attributes
        .split(' ')
        .find_map(|pair| pair.strip_prefix(prefix.as_str()))
        .unwrap();
    value.trim_end_matches('"').parse().unwrap()
}

#[test]
fn bars_run_from_start_to_end_or_to_now() {
    let runs = [
        run("dn0", "succeeded", 1_000, Some(3_000)),
        run("dn1", "running", 2_000, None),
    ];
    let svg = render_gantt(&runs, &options(5_000));
    // The chart spans 1 s to 5 s over x = 200 ... 948.
    assert_eq!(bars(&svg), vec![(200.0, 374.0), (387.0, 561.0)]);
    assert!(
        svg.contains(
            r#"<a href="/nodes/dn0" class="run phase-succeeded"><title>dn0: succeeded, from 0s for 2s</title>"#
        ),
        "{svg}"
    );
    assert!(
        svg.contains(r#"class="run phase-running open"><title>dn1: running, from 1s for 3s so far</title>"#),
        "{svg}"
    );
    assert!(svg.contains(r#"class="now""#));
    for tick in ["0s", "1s", "2s", "3s", "4s"] {
        assert!(
            svg.contains(&format!(r#"text-anchor="middle">{tick}</text>"#)),
            "{tick}"
        );
    }
    assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" class="gantry-gantt" role="group" aria-label="children of gen (2 runs)""#));
}

#[test]
fn labels_are_escaped_and_unsafe_links_dropped() {
    let mut evil = run("<img src=x onerror=alert(1)>", "fa\"iled", 0, Some(10));
    evil.href = Some("javascript:alert(1)".to_owned());
    let svg = render_gantt(&[evil], &options(10));
    assert!(!svg.contains("<img"));
    assert!(!svg.contains("javascript:"));
    assert!(svg.contains(r#"<g class="run phase-failed">"#), "{svg}");
}

#[test]
fn many_runs_keep_the_first_rows_and_a_density_band() {
    let runs: Vec<Run> = (0..100_000)
        .map(|i| {
            let phase = if i % 1_000 == 0 { "failed" } else { "succeeded" };
            run(
                &format!("dn{i}"),
                phase,
                i64::from(i) * 10,
                Some(i64::from(i) * 10 + 5_000),
            )
        })
        .collect();
    let svg = render_gantt(&runs, &options(2_000_000));
    assert_eq!(svg.matches(r#"<a href="/nodes/"#).count(), 50);
    assert!(svg.contains(r#"<a href="/nodes/dn0""#) && svg.contains(r#"<a href="/nodes/dn49""#));
    assert!(
        svg.contains("99,950 more runs: 99,851 succeeded, 99 failed"),
        "{}",
        &svg[..2_000]
    );
    assert!(svg.contains(">99,950 more</text>"));
    assert!(svg.len() < 40_000, "{} bytes", svg.len());
    assert!(!svg.contains(r#"class="now""#));
}

#[test]
fn no_runs_draw_an_empty_axis() {
    let svg = render_gantt(&[], &options(0));
    assert!(svg.contains("timeline") || svg.contains("children of gen (0 runs)"));
    assert!(svg.ends_with("</svg>"));
}
