//! Layers: which row each node is drawn in. Cycles are broken first (a depth-first search from the nodes in input
//! order reverses every edge that closes one), then each node goes one row below its lowest predecessor (longest
//! path), and a node without predecessors moves down to just above its highest successor, so that an input-less node
//! sits beside what it feeds rather than at the top.

/// `edges` with those that close a cycle reversed, and whether each was: afterwards every edge leads from a lower
/// index in a topological order to a higher one. `edges` must be sorted (as `indexed_edges` returns them), which makes
/// the search, and so the result, deterministic.
pub(crate) fn acyclic(nodes: usize, edges: &[(usize, usize)]) -> Vec<(usize, usize, bool)> {
    let successors = adjacency(nodes, edges.iter().map(|&(from, to)| (from, to)));
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut mark = vec![Mark::New; nodes];
    let mut closing = std::collections::HashSet::new();
    for root in 0..nodes {
        if mark[root] != Mark::New {
            continue;
        }
        mark[root] = Mark::Open;
        let mut stack = vec![(root, 0usize)];
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            let Some(&successor) = successors[node].get(next) else {
                mark[node] = Mark::Done;
                stack.pop();
                continue;
            };
            top.1 += 1;
            match mark[successor] {
                Mark::New => {
                    mark[successor] = Mark::Open;
                    stack.push((successor, 0));
                }
                Mark::Open => {
                    closing.insert((node, successor));
                }
                Mark::Done => {}
            }
        }
    }
    edges
        .iter()
        .map(|&(from, to)| {
            if closing.contains(&(from, to)) {
                (to, from, true)
            } else {
                (from, to, false)
            }
        })
        .collect()
}

/// Each node's layer, for an acyclic graph: 0 for the top row.
pub(crate) fn ranks(nodes: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let successors = adjacency(nodes, edges.iter().copied());
    let mut waiting = vec![0usize; nodes];
    for &(_, to) in edges {
        waiting[to] += 1;
    }
    let has_predecessor: Vec<bool> = waiting.iter().map(|&n| n > 0).collect();
    let mut rank = vec![0usize; nodes];
    let mut ready: Vec<usize> = (0..nodes).filter(|&node| waiting[node] == 0).collect();
    let mut order = Vec::with_capacity(nodes);
    while let Some(node) = ready.pop() {
        order.push(node);
        for &successor in &successors[node] {
            rank[successor] = rank[successor].max(rank[node] + 1);
            waiting[successor] -= 1;
            if waiting[successor] == 0 {
                ready.push(successor);
            }
        }
    }
    debug_assert_eq!(order.len(), nodes, "ranks() needs an acyclic graph");
    for node in 0..nodes {
        if !has_predecessor[node]
            && let Some(highest) = successors[node].iter().map(|&s| rank[s]).min()
        {
            rank[node] = highest - 1;
        }
    }
    rank
}

/// Successor lists, each in ascending order.
pub(crate) fn adjacency(nodes: usize, edges: impl Iterator<Item = (usize, usize)>) -> Vec<Vec<usize>> {
    let mut lists = vec![Vec::new(); nodes];
    for (from, to) in edges {
        lists[from].push(to);
    }
    for list in &mut lists {
        list.sort_unstable();
    }
    lists
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_is_broken_by_reversing_its_closing_edge() {
        let edges = vec![(0, 1), (1, 2), (2, 0)];
        assert_eq!(acyclic(3, &edges), vec![(0, 1, false), (1, 2, false), (0, 2, true)]);
    }

    #[test]
    fn nodes_go_below_their_lowest_predecessor_and_sources_sit_above_what_they_feed() {
        // 0 -> 1 -> 2 -> 3, and 4 -> 3 only: 4 sits just above 3.
        let edges = vec![(0, 1), (1, 2), (2, 3), (4, 3)];
        assert_eq!(ranks(5, &edges), vec![0, 1, 2, 3, 2]);
        // A lone node stays on top.
        assert_eq!(ranks(1, &[]), vec![0]);
    }
}
