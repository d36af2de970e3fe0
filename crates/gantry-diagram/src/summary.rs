//! Large graphs drawn small. A graph of more nodes than a limit (200 by default), or with more nodes side by side in
//! one layer than another (40), is summarised: nodes are merged into
//! groups, each drawn as one box (`10,000 × task square`, the count first so that cutting a long label keeps it, with its
//! phases counted), and edges between groups drawn once.
//! The rule, in three steps, each taken only while the previous one leaves the drawing beyond the limits:
//!
//! 1. nodes with the same `group` (the target they run), in the same layer, whose predecessors are in the same groups,
//!    merge; a node without a `group` stays on its own. A fan-out's children merge under their parent; the two stages
//!    of a map (`a_i -> b_i`) become two boxes; two fan-outs under different parents stay apart.
//! 2. the same, ignoring `group`: nodes of a layer below the same groups merge whatever they run (`12 nodes`).
//! 3. whole layers merge, and then runs of neighbouring layers, so that at most the limit's boxes remain, one a layer.

use std::collections::HashMap;

use crate::graph::{Edge, Graph, GraphError, Node, indexed_edges};
use crate::layout::{acyclic, ranks};
use crate::svg::count;

/// The default most boxes drawn.
pub const DEFAULT_NODE_LIMIT: usize = 200;
/// The default most boxes side by side in one layer.
pub const DEFAULT_LAYER_WIDTH: usize = 40;

/// When a graph is summarised: when it has more nodes than `nodes`, or more side by side in one layer than
/// `layer_width` (a fan-out of 150 children is within 200 nodes, but 150 boxes abreast are 33,000 units wide).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most boxes drawn.
    pub nodes: usize,
    /// The most boxes side by side in one layer.
    pub layer_width: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            nodes: DEFAULT_NODE_LIMIT,
            layer_width: DEFAULT_LAYER_WIDTH,
        }
    }
}

/// A graph to draw and what each of its nodes stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The graph to draw: the input itself when it was within the limit.
    pub graph: Graph,
    /// For each node of `graph`, the input nodes it stands for (indices into the input's `nodes`, ascending).
    pub members: Vec<Vec<usize>>,
    /// How many nodes the input had.
    pub input_nodes: usize,
}

impl Summary {
    /// Whether any node stands for more than one.
    pub fn is_summarised(&self) -> bool {
        self.members.iter().any(|members| members.len() > 1)
    }
}

/// `graph` as is when it is within `limits`, else summarised by the rule above. A group's box links where its first
/// member links; its phase is its members' when they share one, else `mixed`, with the counts per phase as its detail
/// line. Callers may change the summary's nodes (their links, say) before drawing them.
pub fn summarise(graph: &Graph, limits: Limits) -> Result<Summary, GraphError> {
    let limits = Limits {
        nodes: limits.nodes.max(1),
        layer_width: limits.layer_width.max(1),
    };
    let edges = indexed_edges(graph)?;
    let nodes = graph.nodes.len();
    let downward: Vec<(usize, usize)> = acyclic(nodes, &edges).iter().map(|&(a, b, _)| (a, b)).collect();
    let rank = ranks(nodes, &downward);
    let mut order: Vec<usize> = (0..nodes).collect();
    order.sort_by_key(|&node| (rank[node], node));
    let mut alone = vec![0; nodes];
    for (i, &node) in order.iter().enumerate() {
        alone[node] = i;
    }
    if fits(&alone, &rank, limits) {
        return Ok(Summary {
            graph: graph.clone(),
            members: (0..nodes).map(|i| vec![i]).collect(),
            input_nodes: nodes,
        });
    }
    let mut predecessors = vec![Vec::new(); nodes];
    for &(from, to) in &downward {
        predecessors[to].push(from);
    }
    let mut group_of = merge(graph, &order, &rank, &predecessors, true);
    if !fits(&group_of, &rank, limits) {
        group_of = merge(graph, &order, &rank, &predecessors, false);
    }
    if !fits(&group_of, &rank, limits) {
        let depth = rank.iter().max().map_or(1, |deepest| deepest + 1);
        let band = depth.div_ceil(limits.nodes);
        let mut bands = HashMap::new();
        for &node in &order {
            let next = bands.len();
            group_of[node] = *bands.entry(rank[node] / band).or_insert(next);
        }
    }
    Ok(build(graph, &edges, &group_of))
}

/// Whether groups (each within one layer) are within the limits.
fn fits(group_of: &[usize], rank: &[usize], limits: Limits) -> bool {
    let groups = group_count(group_of);
    if groups > limits.nodes {
        return false;
    }
    let mut counted = vec![false; groups];
    let mut abreast: HashMap<usize, usize> = HashMap::new();
    for (node, &group) in group_of.iter().enumerate() {
        if !std::mem::replace(&mut counted[group], true) {
            *abreast.entry(rank[node]).or_default() += 1;
        }
    }
    abreast.values().all(|&width| width <= limits.layer_width)
}

/// Each node's group, numbered in `order`: by (group or the node itself, layer, predecessors' groups) when
/// `by_target`, else by (layer, predecessors' groups).
fn merge(graph: &Graph, order: &[usize], rank: &[usize], predecessors: &[Vec<usize>], by_target: bool) -> Vec<usize> {
    #[derive(PartialEq, Eq, Hash)]
    enum Identity<'a> {
        Target(&'a str),
        Alone(usize),
        Any,
    }
    let mut group_of = vec![usize::MAX; graph.nodes.len()];
    let mut groups: HashMap<(Identity<'_>, usize, Vec<usize>), usize> = HashMap::new();
    for &node in order {
        let identity = match (by_target, graph.nodes[node].group.as_deref()) {
            (true, Some(group)) => Identity::Target(group),
            (true, None) => Identity::Alone(node),
            (false, _) => Identity::Any,
        };
        // Predecessors are in lower layers, so `order` has numbered them already.
        let mut above: Vec<usize> = predecessors[node].iter().map(|&p| group_of[p]).collect();
        above.sort_unstable();
        above.dedup();
        let next = groups.len();
        group_of[node] = *groups.entry((identity, rank[node], above)).or_insert(next);
    }
    group_of
}

fn group_count(group_of: &[usize]) -> usize {
    group_of.iter().max().map_or(0, |&highest| highest + 1)
}

/// The summary's graph from each node's group.
fn build(graph: &Graph, edges: &[(usize, usize)], group_of: &[usize]) -> Summary {
    let mut members = vec![Vec::new(); group_count(group_of)];
    for (node, &group) in group_of.iter().enumerate() {
        members[group].push(node);
    }
    let mut taken: std::collections::HashSet<&str> = graph.nodes.iter().map(|node| node.id.as_str()).collect();
    let mut ids = Vec::with_capacity(members.len());
    let mut nodes = Vec::with_capacity(members.len());
    for (group, list) in members.iter().enumerate() {
        let node = match list.as_slice() {
            [only] => graph.nodes[*only].clone(),
            list => group_node(graph, list, unique_id(&mut taken, group)),
        };
        ids.push(node.id.clone());
        nodes.push(node);
    }
    let mut group_edges: Vec<(usize, usize)> = edges
        .iter()
        .map(|&(from, to)| (group_of[from], group_of[to]))
        .filter(|(from, to)| from != to)
        .collect();
    group_edges.sort_unstable();
    group_edges.dedup();
    Summary {
        graph: Graph {
            nodes,
            edges: group_edges
                .into_iter()
                .map(|(from, to)| Edge::new(ids[from].clone(), ids[to].clone()))
                .collect(),
        },
        members,
        input_nodes: graph.nodes.len(),
    }
}

/// `group-<n>`, primed until no input node has the id.
fn unique_id(taken: &mut std::collections::HashSet<&str>, group: usize) -> String {
    let mut id = format!("group-{group}");
    while taken.contains(id.as_str()) {
        id.push('\'');
    }
    id
}

/// One box for `list` (two or more nodes).
fn group_node(graph: &Graph, list: &[usize], id: String) -> Node {
    let first = &graph.nodes[list[0]];
    let shared_group = first
        .group
        .as_ref()
        .filter(|group| list.iter().all(|&m| graph.nodes[m].group.as_ref() == Some(*group)));
    let label = match shared_group {
        Some(group) => format!("{} × {group}", count(list.len())),
        None => format!("{} nodes", count(list.len())),
    };
    let mut phases: Vec<(&str, usize)> = Vec::new();
    for &member in list {
        let phase = graph.nodes[member].phase.as_str();
        match phases.iter_mut().find(|(name, _)| *name == phase) {
            Some((_, n)) => *n += 1,
            None => phases.push((phase, 1)),
        }
    }
    phases.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let phase = match phases.as_slice() {
        [(only, _)] => (*only).to_owned(),
        _ => "mixed".to_owned(),
    };
    let detail = phases
        .iter()
        .map(|(name, n)| format!("{} {name}", count(*n)))
        .collect::<Vec<_>>()
        .join(", ");
    Node {
        id,
        label,
        detail: Some(detail),
        href: first.href.clone(),
        phase,
        group: shared_group.cloned(),
    }
}

#[cfg(test)]
mod tests;
