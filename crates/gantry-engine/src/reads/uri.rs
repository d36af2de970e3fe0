//! `gantry:` references: URIs naming a value held in the server's rows rather than in its blob store (a value too
//! large for a response that was never offloaded, such as a large literal bound in a dynamic spec), or a dynamic spec.
//!
//! `gantry:value?execution=ID&map=inputs&name=NAME` (an execution's inputs or outputs),
//! `gantry:value?execution=ID&node=NODE&map=outputs&name=NAME` (a node's), and
//! `gantry:spec?execution=ID&node=NODE&attempt=N`. Parts are form-encoded, so scoped node ids and any name fit.

use uuid::Uuid;

const SCHEME: &str = "gantry:";

/// Which of an execution's or node's literal maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapKind {
    Inputs,
    Outputs,
}

impl MapKind {
    fn as_str(self) -> &'static str {
        match self {
            MapKind::Inputs => "inputs",
            MapKind::Outputs => "outputs",
        }
    }
}

/// A literal map held in a row: an execution's (`node` `None`) or a node's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    pub execution: Uuid,
    pub node: Option<String>,
    pub map: MapKind,
}

/// What a `gantry:` reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Named {
    /// One value of a held map.
    Value { held: Held, name: String },
    /// The spec a node's attempt returned.
    Spec {
        execution: Uuid,
        node: String,
        attempt: i32,
    },
}

impl Named {
    pub fn uri(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        let kind = match self {
            Named::Value { held, name } => {
                query.append_pair("execution", &held.execution.to_string());
                if let Some(node) = &held.node {
                    query.append_pair("node", node);
                }
                query.append_pair("map", held.map.as_str());
                query.append_pair("name", name);
                "value"
            }
            Named::Spec {
                execution,
                node,
                attempt,
            } => {
                query.append_pair("execution", &execution.to_string());
                query.append_pair("node", node);
                query.append_pair("attempt", &attempt.to_string());
                "spec"
            }
        };
        format!("{SCHEME}{kind}?{}", query.finish())
    }

    /// The reference a `gantry:` URI names; `None` for anything else (another scheme, a malformed one).
    pub fn parse(uri: &str) -> Option<Named> {
        let rest = uri.strip_prefix(SCHEME)?;
        let (kind, query) = rest.split_once('?')?;
        let (mut execution, mut node, mut map, mut name, mut attempt) = (None, None, None, None, None);
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "execution" => &mut execution,
                "node" => &mut node,
                "map" => &mut map,
                "name" => &mut name,
                "attempt" => &mut attempt,
                _ => return None,
            };
            if slot.replace(value.into_owned()).is_some() {
                return None;
            }
        }
        let execution = Uuid::parse_str(&execution?).ok()?;
        // A node id the server could never have handed out names nothing (and must not reach the store).
        if let Some(node) = &node {
            gantry_core::ids::NodeExecutionId::parse(node).ok()?;
        }
        match kind {
            "value" if attempt.is_none() => {
                let map = match map?.as_str() {
                    "inputs" => MapKind::Inputs,
                    "outputs" => MapKind::Outputs,
                    _ => return None,
                };
                Some(Named::Value {
                    held: Held { execution, node, map },
                    name: name?,
                })
            }
            "spec" if map.is_none() && name.is_none() => Some(Named::Spec {
                execution,
                node: node?,
                attempt: attempt?.parse().ok()?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_round_trip_with_any_node_id_and_name() {
        let execution = Uuid::now_v7();
        let named = [
            Named::Value {
                held: Held {
                    execution,
                    node: None,
                    map: MapKind::Inputs,
                },
                name: "text".into(),
            },
            Named::Value {
                held: Held {
                    execution,
                    node: Some("gen/0/dn3".into()),
                    map: MapKind::Outputs,
                },
                name: "a&b=c?d".into(),
            },
            Named::Spec {
                execution,
                node: "gen/0/dn3/1/g".into(),
                attempt: 2,
            },
        ];
        for named in named {
            let uri = named.uri();
            assert!(uri.starts_with("gantry:"), "{uri}");
            assert_eq!(Named::parse(&uri), Some(named), "{uri}");
        }
    }

    #[test]
    fn anything_else_is_not_a_reference() {
        let execution = Uuid::now_v7();
        for uri in [
            "file:///etc/passwd".to_owned(),
            "gantry:value".to_owned(),
            format!("gantry:value?execution={execution}&map=inputs"),
            format!("gantry:value?execution={execution}&map=errors&name=x"),
            format!("gantry:value?execution={execution}&map=inputs&name=x&name=y"),
            format!("gantry:value?execution={execution}&map=inputs&name=x&extra=1"),
            "gantry:value?execution=nope&map=inputs&name=x".to_owned(),
            format!("gantry:spec?execution={execution}&node=n0&attempt=x"),
            format!("gantry:blob?execution={execution}"),
        ] {
            assert_eq!(Named::parse(&uri), None, "{uri}");
        }
    }
}
