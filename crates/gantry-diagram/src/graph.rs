//! What a caller draws: nodes with their text, link and phase, and the edges between them. Plain data, so that the
//! console maps a workflow's nodes, a dynamic spec or a node listing onto it without this crate knowing any of them.

use std::collections::HashMap;
use std::fmt;

/// One node of a graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Unique within the graph; edges name nodes by it.
    pub id: String,
    /// The text drawn in the box (cut to fit; the whole text is in the node's `<title>`).
    pub label: String,
    /// A second, smaller line under the label (a duration, counts); `None` for none.
    pub detail: Option<String>,
    /// Where the node links to; `None` draws it without a link. Only relative links and `http(s)` are drawn as links.
    pub href: Option<String>,
    /// The node's phase, drawn as the CSS class `phase-<phase>` (`succeeded` gives `phase-succeeded`); characters other
    /// than ASCII letters, digits, `-` and `_` are dropped from the class.
    pub phase: String,
    /// What a large graph groups the node by (for example `task square`): nodes with the same group, at the same
    /// depth, below the same groups, are drawn as one box when the graph is summarised. `None`: never merged with
    /// others while it can be avoided (see [`crate::summarise`]).
    pub group: Option<String>,
}

impl Node {
    /// A node with a label and a phase, no detail, link or group.
    pub fn new(id: impl Into<String>, label: impl Into<String>, phase: impl Into<String>) -> Self {
        Node {
            id: id.into(),
            label: label.into(),
            detail: None,
            href: None,
            phase: phase.into(),
            group: None,
        }
    }

    /// The same node linking to `href`.
    pub fn with_href(mut self, href: impl Into<String>) -> Self {
        self.href = Some(href.into());
        self
    }

    /// The same node in group `group`.
    pub fn with_group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// The same node with a second line of text.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// An edge: `from` runs before `to` (or feeds it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The upstream node's id.
    pub from: String,
    /// The downstream node's id.
    pub to: String,
}

impl Edge {
    /// An edge from the node with id `from` to the node with id `to`.
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> Self {
        Edge {
            from: from.into(),
            to: to.into(),
        }
    }
}

/// A directed graph to draw. It should be acyclic; an edge that closes a cycle is drawn upward rather than refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    /// The nodes, in the order the drawing keeps when nothing else decides (ties in a layer, groups' numbering).
    pub nodes: Vec<Node>,
    /// The edges, by node id.
    pub edges: Vec<Edge>,
}

/// A graph that cannot be drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// Two nodes share an id.
    DuplicateNode(String),
    /// An edge names a node the graph does not have.
    UnknownNode {
        /// The edge's index in `edges`.
        edge: usize,
        /// The id it names.
        id: String,
    },
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::DuplicateNode(id) => write!(f, "node {id:?} appears twice"),
            GraphError::UnknownNode { edge, id } => {
                write!(f, "edges[{edge}] names node {id:?}, which is not in the graph")
            }
        }
    }
}

impl std::error::Error for GraphError {}

/// A graph's edges as node indices, checked: ids unique, every edge between known nodes. Self-loops and repeated
/// edges are dropped (they add nothing to a drawing of what runs before what).
pub(crate) fn indexed_edges(graph: &Graph) -> Result<Vec<(usize, usize)>, GraphError> {
    let mut index = HashMap::with_capacity(graph.nodes.len());
    for (i, node) in graph.nodes.iter().enumerate() {
        if index.insert(node.id.as_str(), i).is_some() {
            return Err(GraphError::DuplicateNode(node.id.clone()));
        }
    }
    let mut edges = Vec::with_capacity(graph.edges.len());
    for (i, edge) in graph.edges.iter().enumerate() {
        let find = |id: &str| {
            index.get(id).copied().ok_or_else(|| GraphError::UnknownNode {
                edge: i,
                id: id.to_owned(),
            })
        };
        let (from, to) = (find(&edge.from)?, find(&edge.to)?);
        if from != to {
            edges.push((from, to));
        }
    }
    edges.sort_unstable();
    edges.dedup();
    Ok(edges)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_are_checked_and_deduplicated() {
        let graph = Graph {
            nodes: vec![Node::new("a", "a", "queued"), Node::new("b", "b", "queued")],
            edges: vec![Edge::new("a", "b"), Edge::new("a", "b"), Edge::new("b", "b")],
        };
        assert_eq!(indexed_edges(&graph), Ok(vec![(0, 1)]));
        let unknown = Graph {
            edges: vec![Edge::new("a", "c")],
            ..graph.clone()
        };
        assert_eq!(
            indexed_edges(&unknown).map_err(|e| e.to_string()),
            Err(r#"edges[0] names node "c", which is not in the graph"#.to_owned())
        );
        let mut twice = graph;
        twice.nodes.push(Node::new("a", "again", "queued"));
        assert_eq!(indexed_edges(&twice), Err(GraphError::DuplicateNode("a".to_owned())));
    }
}
