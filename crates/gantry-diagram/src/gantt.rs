//! A Gantt timeline of runs (a dynamic node's children, an execution's nodes): one row per run, a bar from its start
//! to its end (or to `now` while it runs), a time axis with round ticks. Many runs are summarised: the first
//! `max_rows` by start are drawn as rows, and every other run goes into one last band, `N more`, drawn as a density
//! strip (the shade of each column is how many of those runs overlap it), titled with their phases counted.

use std::fmt::Write;

use crate::style::default_style;
use crate::svg::{count, escape, num, open_item, open_root, phase_class, truncate};
use crate::ticks::{offset_text, offsets, step};

/// One run on the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The row's text (a node id, a task name).
    pub label: String,
    /// Where the row links to; `None` for no link (only relative and `http(s)` links are kept).
    pub href: Option<String>,
    /// Drawn as the CSS class `phase-<phase>`.
    pub phase: String,
    /// When it started, in milliseconds since the Unix epoch.
    pub start_ms: i64,
    /// When it ended; `None` while it still runs (its bar reaches `now`).
    pub end_ms: Option<i64>,
}

/// How a timeline is drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct GanttOptions {
    /// What the drawing shows, for screen readers and as its title.
    pub label: String,
    /// The time runs without an end are drawn up to, in milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// The most runs drawn as rows; the rest go into the `N more` band.
    pub max_rows: usize,
    /// The whole drawing's width.
    pub width: f64,
    /// The column of row labels.
    pub label_width: f64,
    /// The most characters of a label drawn (the whole label is in the row's title).
    pub label_chars: usize,
    /// Each row's height.
    pub row_height: f64,
    /// Columns of the density strip.
    pub density_columns: usize,
    /// The most ticks on the axis.
    pub max_ticks: i64,
    /// Embeds the default look; off when the page styles the classes itself.
    pub embed_style: bool,
}

impl Default for GanttOptions {
    fn default() -> Self {
        GanttOptions {
            label: "timeline".to_owned(),
            now_ms: 0,
            max_rows: 50,
            width: 960.0,
            label_width: 200.0,
            label_chars: 28,
            row_height: 22.0,
            density_columns: 120,
            max_ticks: 8,
            embed_style: true,
        }
    }
}

/// The root element's class.
pub const GANTT_CLASS: &str = "gantry-gantt";

const AXIS_HEIGHT: f64 = 24.0;
const MARGIN: f64 = 12.0;

/// Maps times onto the chart's columns.
struct Scale {
    start: i64,
    span: i64,
    left: f64,
    right: f64,
}

impl Scale {
    fn x(&self, ms: i64) -> f64 {
        self.left + (ms - self.start) as f64 / self.span as f64 * (self.right - self.left)
    }
}

/// Draws `runs` on a timeline.
pub fn render_gantt(runs: &[Run], options: &GanttOptions) -> String {
    let end_of = |run: &Run| run.end_ms.unwrap_or(options.now_ms).max(run.start_ms);
    let start = runs.iter().map(|run| run.start_ms).min().unwrap_or(options.now_ms);
    let end = runs.iter().map(end_of).max().unwrap_or(start);
    let scale = Scale {
        start,
        span: (end - start).max(1),
        left: options.label_width,
        right: options.width - MARGIN,
    };
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| (runs[a].start_ms, &runs[a].label).cmp(&(runs[b].start_ms, &runs[b].label)));
    let shown = order.len().min(options.max_rows);
    let (rows, rest) = order.split_at(shown);
    let bands = rows.len() + usize::from(!rest.is_empty());
    let height = AXIS_HEIGHT + bands as f64 * options.row_height + MARGIN;
    let label = format!("{} ({} runs)", options.label, count(runs.len()));

    let mut out = String::with_capacity(1_024 + rows.len() * 300 + options.density_columns * 60);
    open_root(&mut out, GANTT_CLASS, (options.width, height), &label);
    if options.embed_style {
        out.push_str(&default_style(GANTT_CLASS));
    }
    axis(&mut out, &scale, height, options.max_ticks);
    let bar_height = options.row_height * 0.7;
    for (i, &index) in rows.iter().enumerate() {
        let run = &runs[index];
        let top = AXIS_HEIGHT + i as f64 * options.row_height;
        let running = run.end_ms.is_none();
        let title = format!(
            "{}: {}, from {} for {}{}",
            run.label,
            run.phase,
            offset_text(run.start_ms - start),
            offset_text(end_of(run) - run.start_ms),
            if running { " so far" } else { "" }
        );
        let class = format!("run {}{}", phase_class(&run.phase), if running { " open" } else { "" });
        let close = open_item(&mut out, run.href.as_deref(), &class, &title);
        let (left, right) = (scale.x(run.start_ms), scale.x(end_of(run)));
        let _ = write!(
            out,
            r#"<text x="4" y="{}">{}</text><rect x="{}" y="{}" width="{}" height="{}" rx="2"/>"#,
            num(top + options.row_height / 2.0 + 4.0),
            escape(&truncate(&run.label, options.label_chars)),
            num(left),
            num(top + (options.row_height - bar_height) / 2.0),
            num((right - left).max(2.0)),
            num(bar_height)
        );
        out.push_str(close);
    }
    if !rest.is_empty() {
        let top = AXIS_HEIGHT + rows.len() as f64 * options.row_height;
        let band: Vec<&Run> = rest.iter().map(|&i| &runs[i]).collect();
        density(
            &mut out,
            &band,
            &scale,
            (top, options.row_height),
            options.density_columns,
            end_of,
        );
    }
    if runs.iter().any(|run| run.end_ms.is_none()) && options.now_ms >= start {
        let x = num(scale.x(options.now_ms));
        let _ = write!(
            out,
            r#"<line class="now" x1="{x}" y1="{}" x2="{x}" y2="{}"><title>now</title></line>"#,
            num(AXIS_HEIGHT - 4.0),
            num(height - MARGIN)
        );
    }
    out.push_str("</svg>");
    out
}

/// Grid lines and tick labels, offsets from the first start.
fn axis(out: &mut String, scale: &Scale, height: f64, max_ticks: i64) {
    out.push_str(r#"<g class="axis" aria-hidden="true">"#);
    let every = step(scale.span, max_ticks);
    for offset in offsets(scale.span, every) {
        let x = num(scale.x(scale.start + offset));
        let _ = write!(
            out,
            r#"<line x1="{x}" y1="{}" x2="{x}" y2="{}"/><text x="{x}" y="{}" text-anchor="middle">{}</text>"#,
            num(AXIS_HEIGHT - 4.0),
            num(height - MARGIN),
            num(AXIS_HEIGHT - 8.0),
            offset_text(offset)
        );
    }
    out.push_str("</g>");
}

/// The `N more` band: a label, and per column a shade as dark as the share of the band's runs that overlap it at the
/// busiest column. Overlaps are counted with a difference array, so the cost is the runs plus the columns.
fn density(
    out: &mut String,
    band: &[&Run],
    scale: &Scale,
    (top, row_height): (f64, f64),
    columns: usize,
    end_of: impl Fn(&Run) -> i64,
) {
    let columns = columns.max(1);
    let column_of = |ms: i64| (((ms - scale.start) as f64 / scale.span as f64) * columns as f64) as usize;
    let mut change = vec![0i64; columns + 1];
    let mut phases: Vec<(&str, usize)> = Vec::new();
    for run in band {
        let first = column_of(run.start_ms).min(columns - 1);
        let last = column_of(end_of(run)).min(columns - 1).max(first);
        change[first] += 1;
        change[last + 1] -= 1;
        match phases.iter_mut().find(|(name, _)| *name == run.phase) {
            Some((_, n)) => *n += 1,
            None => phases.push((&run.phase, 1)),
        }
    }
    let mut overlapping = Vec::with_capacity(columns);
    let mut running = 0;
    for delta in &change[..columns] {
        running += delta;
        overlapping.push(running);
    }
    let busiest = overlapping.iter().copied().max().unwrap_or(0).max(1);
    phases.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let counted: Vec<String> = phases.iter().map(|(name, n)| format!("{} {name}", count(*n))).collect();
    let title = format!(
        "{} more runs: {}; up to {} in one column of the strip",
        count(band.len()),
        counted.join(", "),
        count(busiest as usize)
    );
    let _ = write!(
        out,
        r#"<g class="density" role="img" aria-label="{title}"><title>{title}</title><text x="4" y="{}">{} more</text>"#,
        num(top + row_height / 2.0 + 4.0),
        count(band.len()),
        title = escape(&title)
    );
    let width = (scale.right - scale.left) / columns as f64;
    for (column, &n) in overlapping.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let opacity = 0.1 + 0.9 * n as f64 / busiest as f64;
        let _ = write!(
            out,
            r#"<rect x="{}" y="{}" width="{}" height="{}" fill-opacity="{:.2}"/>"#,
            num(scale.left + column as f64 * width),
            num(top + row_height * 0.15),
            num(width + 0.3),
            num(row_height * 0.7),
            opacity
        );
    }
    out.push_str("</g>");
}

#[cfg(test)]
mod tests;
