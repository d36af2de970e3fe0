//! Inputs and outputs as JSON (the spellings of `gantry-text`, which the CLI prints too). An offloaded value is not
//! fetched with the page: it shows its size and a button that fetches it through `ReadOffloaded`.

use gantry_core::model::{Literal, LiteralMap};
use gantry_proto::v1 as pb;
use gantry_text::json::literal_to_json;
use maud::{Markup, html};

use crate::error::ConsoleError;

/// A wire literal map as core literals; a map the console cannot read is an error naming what is wrong.
pub fn decode(map: Option<pb::LiteralMap>) -> Result<LiteralMap, ConsoleError> {
    match map {
        Some(map) => LiteralMap::try_from(map).map_err(|error| ConsoleError::Data(format!("a value: {error}"))),
        None => Ok(LiteralMap::new()),
    }
}

/// Longest value written on one line; longer ones are indented.
const ONE_LINE: usize = 100;

/// One value as JSON: on one line when short, indented when not.
pub fn pretty(literal: &Literal) -> String {
    let json = literal_to_json(literal);
    let line = json.to_string();
    if line.len() <= ONE_LINE {
        return line;
    }
    serde_json::to_string_pretty(&json).unwrap_or(line)
}

/// A map's values on one line (`{"out":[0,2]}`), cut after `limit` characters: for tables.
pub fn compact(map: &LiteralMap, limit: usize) -> String {
    let object: serde_json::Map<String, serde_json::Value> = map
        .iter()
        .map(|(name, literal)| (name.clone(), literal_to_json(literal)))
        .collect();
    let text = serde_json::Value::Object(object).to_string();
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// A definition list of named values, `label`led for screen readers; offloaded values as fetch buttons.
pub fn list(label: &str, map: &LiteralMap) -> Markup {
    html! {
        @if map.is_empty() {
            p.muted { "None." }
        } @else {
            dl.values aria-label=(label) {
                @for (name, literal) in map {
                    dt { code { (name) } }
                    dd { (value(literal)) }
                }
            }
        }
    }
}

/// One value: JSON, or a button that fetches an offloaded one in its place.
pub fn value(literal: &Literal) -> Markup {
    match literal {
        Literal::Offloaded(offloaded) => html! {
            button.fetch type="button"
                hx-get=(format!("/offloaded?uri={}", encode_query(&offloaded.uri)))
                hx-swap="outerHTML" {
                "Fetch value (" (offloaded.size_bytes) " bytes)"
            }
        },
        other => {
            let text = pretty(other);
            match text.char_indices().nth(SHOWN_CHARS) {
                Some((cut, _)) => html! {
                    pre.json { (&text[..cut]) "…" }
                    p.muted { "Cut at " (SHOWN_CHARS) " of " (text.chars().count()) " characters; "
                        code { "gantry outputs" } " and " code { "gantry execution get" } " print it whole." }
                },
                None => html! { pre.json { (text) } },
            }
        }
    }
}

/// Longest value shown whole on a page: a 100,000-element list would be megabytes of HTML.
const SHOWN_CHARS: usize = 20_000;

/// A query parameter's value percent-encoded (everything but unreserved characters).
pub fn encode_query(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_values_are_cut_for_tables() {
        let map = LiteralMap::from([(
            "out".to_owned(),
            Literal::Collection(vec![Literal::Integer(0), Literal::Integer(2)]),
        )]);
        assert_eq!(compact(&map, 80), r#"{"out":[0,2]}"#);
        assert_eq!(compact(&map, 5), r#"{"out…"#);
    }

    #[test]
    fn short_values_take_one_line_and_long_ones_are_indented() {
        let short = Literal::Collection((0..10).map(|i| Literal::Integer(i * 2)).collect());
        assert_eq!(pretty(&short), "[0,2,4,6,8,10,12,14,16,18]");
        let long = Literal::Collection((0..100).map(Literal::Integer).collect());
        assert!(pretty(&long).starts_with("[\n  0,\n"));
    }

    #[test]
    fn huge_values_are_cut() {
        let huge = Literal::Collection((0..100_000).map(Literal::Integer).collect());
        let html = value(&huge).into_string();
        assert!(html.len() < SHOWN_CHARS + 1_000, "{}", html.len());
        assert!(html.contains("Cut at 20000 of"));
    }

    #[test]
    fn offloaded_values_are_fetched_on_demand() {
        let offloaded = Literal::Offloaded(gantry_core::model::Offloaded {
            uri: "gantry:exec/1 x".to_owned(),
            size_bytes: 12,
            ty: gantry_core::model::LiteralType::Integer,
            sha256: String::new(),
        });
        let html = value(&offloaded).into_string();
        assert!(
            html.contains(r#"hx-get="/offloaded?uri=gantry%3Aexec%2F1%20x""#),
            "{html}"
        );
        assert!(html.contains("12 bytes"));
        let plain = value(&Literal::Integer(4)).into_string();
        assert!(plain.contains("<pre class=\"json\">4</pre>"), "{plain}");
    }
}
