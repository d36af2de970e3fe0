//! A time axis's ticks: the smallest round step (1, 2 or 5 of a unit, or 15 and 30 seconds or minutes, 3, 6 and 12
//! hours, days) that keeps the axis to a handful of ticks, and each tick's offset from the start as short text
//! (`500ms`, `1.5s`, `2m`, `1h 30m`).

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

const STEPS: [i64; 27] = [
    1,
    2,
    5,
    10,
    20,
    50,
    100,
    200,
    500,
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    7 * DAY,
];

/// The step between ticks for a span of `span_ms`: the smallest with at most `max_ticks` intervals in the span.
pub fn step(span_ms: i64, max_ticks: i64) -> i64 {
    let max_ticks = max_ticks.max(1);
    STEPS
        .iter()
        .copied()
        .find(|step| span_ms / step <= max_ticks)
        .unwrap_or_else(|| {
            let weeks = span_ms / (7 * DAY) / max_ticks + 1;
            weeks * 7 * DAY
        })
}

/// Offsets of the ticks from 0 to `span_ms`, every `step`.
pub fn offsets(span_ms: i64, step: i64) -> Vec<i64> {
    (0..=span_ms / step.max(1)).map(|i| i * step).collect()
}

/// An offset as short text: `0s`, `250ms`, `1.5s`, `45s`, `2m`, `1h 30m`, `2d 6h`.
pub fn offset_text(ms: i64) -> String {
    if ms == 0 {
        return "0s".to_owned();
    }
    if ms < SECOND {
        return format!("{ms}ms");
    }
    if ms < MINUTE && ms % SECOND != 0 {
        let text = format!("{:.3}", ms as f64 / SECOND as f64);
        return format!("{}s", text.trim_end_matches('0'));
    }
    let mut parts = Vec::new();
    let mut rest = ms;
    for (unit, name) in [(DAY, "d"), (HOUR, "h"), (MINUTE, "m"), (SECOND, "s")] {
        if rest >= unit {
            parts.push(format!("{}{name}", rest / unit));
            rest %= unit;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_keep_the_axis_to_a_few_ticks() {
        assert_eq!(step(1_000, 8), 200);
        assert_eq!(step(90 * SECOND, 8), 15 * SECOND);
        assert_eq!(step(3 * HOUR, 6), 30 * MINUTE);
        assert_eq!(step(0, 8), 1);
        assert_eq!(step(400 * DAY, 8), 56 * DAY);
        assert_eq!(offsets(1_000, 200), vec![0, 200, 400, 600, 800, 1_000]);
    }

    #[test]
    fn offsets_read_as_durations() {
        let texts: Vec<String> = [0, 250, 1_500, 45 * SECOND, 2 * MINUTE, 90 * MINUTE, 2 * DAY + 6 * HOUR]
            .into_iter()
            .map(offset_text)
            .collect();
        assert_eq!(texts, ["0s", "250ms", "1.5s", "45s", "2m", "1h 30m", "2d 6h"]);
    }
}
