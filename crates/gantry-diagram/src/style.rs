//! The default look, embedded in each drawing unless its caller styles the classes itself. Every rule is scoped by the
//! drawing's root class, because a `<style>` inside an SVG inlined in HTML applies to the whole page.

/// The rules for a drawing whose root has class `root`.
pub fn default_style(root: &str) -> String {
    let phases = [
        ("succeeded", "#dafbe1", "#1a7f37"),
        ("failed", "#ffebe9", "#cf222e"),
        ("timed_out", "#ffebe9", "#cf222e"),
        ("running", "#ddf4ff", "#0969da"),
        ("assembling", "#ddf4ff", "#0969da"),
        ("queued", "#ffffff", "#8c959f"),
        ("not_started", "#ffffff", "#8c959f"),
        ("retry_waiting", "#fff8c5", "#9a6700"),
        ("aborted", "#f6f8fa", "#57606a"),
        ("skipped", "#f6f8fa", "#8c959f"),
        ("recovered", "#dafbe1", "#1a7f37"),
        ("mixed", "#fff8c5", "#9a6700"),
    ];
    let mut css = format!(
        ".{root} text{{font:12px system-ui,sans-serif;fill:#1f2328}}\
         .{root} .node rect,.{root} .run rect{{fill:#fff;stroke:#8c959f;stroke-width:1.5}}\
         .{root} .node text{{text-anchor:middle;dominant-baseline:middle}}\
         .{root} text.detail{{font-size:10px;fill:#57606a}}\
         .{root} .edge{{fill:none;stroke:#8c959f;stroke-width:1.2}}\
         .{root} .arrow{{fill:#8c959f}}\
         .{root} .axis line{{stroke:#d0d7de}}.{root} .axis text{{fill:#57606a;font-size:10px}}\
         .{root} .now{{stroke:#0969da;stroke-dasharray:4 3}}\
         .{root} .density rect{{fill:#57606a;stroke:none}}\
         .{root} a:focus rect,.{root} a:hover rect{{stroke-width:3}}"
    );
    for (phase, fill, stroke) in phases {
        css.push_str(&format!(".{root} .phase-{phase} rect{{fill:{fill};stroke:{stroke}}}"));
    }
    format!("<style>{css}</style>")
}
