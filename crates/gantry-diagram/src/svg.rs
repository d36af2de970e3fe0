//! What every drawing writes the same way: text and attributes escaped for XML (and so for HTML the SVG is inlined
//! in), characters XML forbids replaced, links kept only when they are safe to follow, phases as CSS classes, numbers
//! short, and text cut to fit a box.

use std::fmt::Write;

/// `text` escaped for an XML text node or a double- or single-quoted attribute; characters XML 1.0 does not allow
/// (most C0 controls) become U+FFFD, so that no input can end the document early or open markup.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '\t' | '\n' | '\r' => escaped.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => escaped.push('\u{fffd}'),
            c => escaped.push(c),
        }
    }
    escaped
}

/// A link the drawing may carry: relative (`/executions/1`, `?page=2`, `#n1`) or `http(s)://`. Anything else with a
/// scheme (`javascript:`, `data:`) is dropped, so that a label or id that reached an href cannot run script.
pub fn safe_href(href: &str) -> Option<&str> {
    let href = href.trim();
    if href.is_empty() {
        return None;
    }
    let scheme_end = href.find([':', '/', '?', '#']);
    match scheme_end {
        Some(end) if href[end..].starts_with(':') => {
            let scheme = href[..end].to_ascii_lowercase();
            (scheme == "http" || scheme == "https").then_some(href)
        }
        _ => Some(href),
    }
}

/// The CSS class of a phase: `phase-` and the phase's ASCII letters, digits, `-` and `_`, lowercased.
pub fn phase_class(phase: &str) -> String {
    let name: String = phase
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if name.is_empty() {
        "phase-unknown".to_owned()
    } else {
        format!("phase-{name}")
    }
}

/// A coordinate with at most one decimal, without a trailing `.0`.
pub fn num(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    if rounded == rounded.trunc() {
        format!("{}", rounded as i64)
    } else {
        format!("{rounded:.1}")
    }
}

/// `text` cut to `max_chars` characters, ending with `…` when cut.
pub fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `n` with thousands separated by commas (`10,000`).
pub fn count(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Opens the root element: sized, labelled for assistive technology, with its title first.
pub fn open_root(out: &mut String, class: &str, (width, height): (f64, f64), label: &str) {
    let (w, h) = (num(width), num(height));
    let label = escape(label);
    // `role="group"` rather than `img`: an image's children are presentational, which would hide the nodes' links
    // from screen readers.
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="{class}" role="group" aria-label="{label}" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>{label}</title>"#
    );
}

/// An element linking to `href` when it is safe, else a plain group; either carries `class` and a `<title>` (the
/// accessible name, and the tooltip). Returns the closing tag.
pub fn open_item(out: &mut String, href: Option<&str>, class: &str, title: &str) -> &'static str {
    let title = escape(title);
    match href.and_then(safe_href) {
        Some(href) => {
            let _ = write!(
                out,
                r#"<a href="{}" class="{class}"><title>{title}</title>"#,
                escape(href)
            );
            "</a>"
        }
        None => {
            let _ = write!(out, r#"<g class="{class}"><title>{title}</title>"#);
            "</g>"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_text_stays_text() {
        assert_eq!(
            escape(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#39;y&#39;)&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{0}b\u{1b}c\td"), "a\u{fffd}b\u{fffd}c\td");
    }

    #[test]
    fn only_relative_and_http_links_are_kept() {
        for kept in ["/executions/1", "?page=2", "#n", "nodes/a:b", "https://x/y", "HTTP://x"] {
            assert_eq!(safe_href(kept), Some(kept), "{kept}");
        }
        for dropped in [
            "javascript:alert(1)",
            " JavaScript:x",
            "data:text/html,x",
            "vbscript:x",
            "",
        ] {
            assert_eq!(safe_href(dropped), None, "{dropped}");
        }
    }

    #[test]
    fn classes_numbers_and_counts() {
        assert_eq!(phase_class("SUCCEEDED"), "phase-succeeded");
        assert_eq!(phase_class("timed_out\" onload=\"x"), "phase-timed_outonloadx");
        assert_eq!(phase_class(""), "phase-unknown");
        assert_eq!(
            (num(12.0), num(12.25), num(-0.04)),
            ("12".to_owned(), "12.3".to_owned(), "0".to_owned())
        );
        assert_eq!(
            (count(7), count(1_000), count(100_000)),
            ("7".to_owned(), "1,000".to_owned(), "100,000".to_owned())
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }
}
