//! Gantry's records as gantry-diagram's inputs: a dynamic spec's or a registered workflow's nodes and edges as a
//! [`Graph`], a dynamic node's children as [`Run`]s. Pure, so that what the console draws is tested without a server;
//! the handlers (`pages/drawings.rs`) fetch, call these and render.
//!
//! Edges come from where the spec says values flow: every promise in a node's input bindings (inside collections and
//! maps too) names its upstream node, and `upstream` lists the rest. A promise with an empty node id reads the
//! enclosing workflow's inputs and draws no edge.

use std::collections::HashMap;

use gantry_diagram::{Edge, Graph, Node, Run};
use gantry_proto::v1 as pb;
use prost_types::Timestamp;

use crate::format;

/// The phase drawn for a spec node whose child was not among the children fetched (only the first page is).
pub const UNKNOWN_PHASE: &str = "unknown";

/// A dynamic spec's nodes and edges. Each node links where `link` says (its child node's page), is grouped by what it
/// runs (so that a large fan-out is summarised as `100,000 × task other_task`), and has the phase `phases` knows for
/// its id, else [`UNKNOWN_PHASE`].
pub fn spec_graph(spec: &pb::DynamicJobSpec, phases: &HashMap<String, String>, link: impl Fn(&str) -> String) -> Graph {
    let nodes = spec
        .nodes
        .iter()
        .map(|node| {
            let phase = phases.get(&node.id).map_or(UNKNOWN_PHASE, String::as_str);
            let mut drawn = Node::new(&node.id, &node.id, phase).with_href(link(&node.id));
            if let Some((kind, target)) = target(node) {
                drawn = drawn.with_detail(&target).with_group(format!("{kind} {target}"));
            }
            drawn
        })
        .collect();
    Graph {
        nodes,
        edges: edges(&spec.nodes),
    }
}

/// A registered workflow's nodes and edges. A node's phase is its kind (`task`, `sub-workflow`, `launch plan`,
/// `branch`, `array`), drawn as the class `phase-<kind>` and read in its title; it links where `link` says (its
/// target's registry page, when it has one).
pub fn workflow_graph(template: &pb::WorkflowTemplate, link: impl Fn(&pb::Node) -> Option<String>) -> Graph {
    let nodes = template
        .nodes
        .iter()
        .map(|node| {
            let (kind, target) = target(node).unwrap_or(("node", String::new()));
            let mut drawn = Node::new(&node.id, &node.id, kind);
            drawn.href = link(node);
            if !target.is_empty() {
                drawn = drawn.with_detail(&target).with_group(format!("{kind} {target}"));
            }
            drawn
        })
        .collect();
    Graph {
        nodes,
        edges: edges(&template.nodes),
    }
}

/// The registry page of a workflow node's target: its task, sub-workflow or launch plan; `None` for a branch (its
/// arms are nodes of their own) and for an array (its element's task has a page, linked instead).
pub fn target_page(node: &pb::Node) -> Option<String> {
    use pb::node::Target;
    let (kind, id) = match node.target.as_ref()? {
        Target::Task(id) => ("tasks", id),
        Target::SubWorkflow(id) => ("workflows", id),
        Target::LaunchPlan(id) => ("launch-plans", id),
        Target::Array(array) => return array.node.as_deref().and_then(target_page),
        Target::Branch(_) | Target::Gate(_) => return None,
    };
    Some(format!(
        "/{kind}/{}/{}/{}/{}",
        id.project, id.domain, id.name, id.version
    ))
}

/// What a node runs: its kind's word and `name@version` (an array's element task; a branch has none).
fn target(node: &pb::Node) -> Option<(&'static str, String)> {
    use pb::node::Target;
    match node.target.as_ref()? {
        Target::Task(id) => Some(("task", format::short_identifier(Some(id)))),
        Target::SubWorkflow(id) => Some(("sub-workflow", format::short_identifier(Some(id)))),
        Target::LaunchPlan(id) => Some(("launch plan", format::short_identifier(Some(id)))),
        Target::Array(array) => {
            let element = array
                .node
                .as_deref()
                .and_then(target)
                .map(|(_, t)| t)
                .unwrap_or_default();
            Some(("array", element))
        }
        Target::Branch(_) => Some(("branch", String::new())),
        Target::Gate(gate) => Some(("gate", gate_condition(gate))),
    }
}

/// What a gate waits for, in a few words: `sleep 30s`, `signal "title"`, `approval "ship"`.
pub fn gate_condition(gate: &pb::GateNode) -> String {
    use pb::gate_node::Condition;
    match &gate.condition {
        Some(Condition::Sleep(duration)) => format!("sleep {}s", duration.seconds),
        Some(Condition::Signal(signal)) => format!("signal {}", gantry_core::names::quote(&signal.signal_id)),
        Some(Condition::Approve(approve)) => format!("approval {}", gantry_core::names::quote(&approve.signal_id)),
        None => String::new(),
    }
}

/// Every edge the nodes' bindings and `upstream` lists say, to nodes among `nodes` (a promise to anything else, such
/// as the enclosing workflow's inputs, draws none). gantry-diagram drops repeats.
fn edges(nodes: &[pb::Node]) -> Vec<Edge> {
    let known: std::collections::HashSet<&str> = nodes.iter().map(|node| node.id.as_str()).collect();
    let mut edges = Vec::new();
    for node in nodes {
        let mut upstream: Vec<&str> = node.upstream.iter().map(String::as_str).collect();
        for binding in &node.inputs {
            if let Some(data) = &binding.binding {
                promised(data, &mut upstream);
            }
        }
        for from in upstream {
            if known.contains(from) && from != node.id {
                edges.push(Edge::new(from, &node.id));
            }
        }
    }
    edges
}

/// The node ids promises in `data` read from, at any depth of collections and maps.
fn promised<'a>(data: &'a pb::BindingData, out: &mut Vec<&'a str>) {
    use pb::binding_data::Value;
    match &data.value {
        Some(Value::Promise(promise)) if !promise.node_id.is_empty() => out.push(&promise.node_id),
        Some(Value::Collection(collection)) => collection.bindings.iter().for_each(|item| promised(item, out)),
        Some(Value::Map(map)) => map.bindings.values().for_each(|item| promised(item, out)),
        _ => {}
    }
}

/// Children's phases by their local id (`dn3`), for the children of the spec accepted from `attempt` of `parent` (a
/// retried generator's earlier children are scoped by another attempt and left out).
pub fn child_phases(parent: &str, attempt: u32, children: &[pb::NodeExecution]) -> HashMap<String, String> {
    let prefix = format!("{parent}/{attempt}/");
    children
        .iter()
        .filter_map(|child| {
            let local = child.node_id.strip_prefix(&prefix)?;
            (!local.contains('/')).then(|| (local.to_owned(), format::node_phase(child.phase)))
        })
        .collect()
}

/// The children that started, as runs on a timeline: from `started_at` to `finished_at` (open while it runs, so that
/// its bar reaches now), labelled by local id, linked where `link` says. A child not started yet has no bar.
pub fn runs(children: &[pb::NodeExecution], link: impl Fn(&str) -> String) -> Vec<Run> {
    children
        .iter()
        .filter_map(|child| {
            let start_ms = millis(child.started_at.as_ref()?);
            let end_ms = child.finished_at.as_ref().map(millis).map(|end| end.max(start_ms));
            Some(Run {
                label: format::local_id(&child.node_id).to_owned(),
                href: Some(link(&child.node_id)),
                phase: format::node_phase(child.phase),
                start_ms,
                end_ms,
            })
        })
        .collect()
}

/// A timestamp in milliseconds since the Unix epoch.
fn millis(at: &Timestamp) -> i64 {
    at.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(at.nanos) / 1_000_000)
}

#[cfg(test)]
mod tests;
