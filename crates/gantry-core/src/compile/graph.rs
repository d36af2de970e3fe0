//! The compiled graph, and ordering it: Kahn's algorithm for the topological order, Tarjan's for the cycles when
//! there is no such order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use hashbrown::HashTable;

use crate::model::{Binding, FailurePolicy, Identifier, Node, TaskTemplate, TypedInterface, WorkflowTemplate};

use super::resolver::ResolvedLaunchPlan;

/// A spec that passed every check: its nodes with what they run, their dependencies both ways and an order to run
/// them in.
#[derive(Debug, Clone)]
pub struct CompiledGraph {
    /// The interface the graph fulfils: the workflow's, or the dynamic parent task's.
    pub interface: Arc<TypedInterface>,
    /// The nodes as declared, in declaration order: the spec's own vector, taken over (a 100,000-node spec is held
    /// once, not as nodes and again as compiled nodes).
    pub declared: Vec<Node>,
    /// What each of `declared` was compiled to, at the same position; `upstream`, `downstream` and `order` index
    /// into both.
    pub nodes: Vec<CompiledNode>,
    /// Every node once, after all of its upstream nodes; among nodes ready together, declaration order.
    pub order: Vec<usize>,
    /// How the graph's outputs are assembled, one binding per declared output; shared with whoever assembles them
    /// (a 100,000-child spec's output is one binding with 100,000 promises).
    pub outputs: Arc<[Binding]>,
    /// A workflow or a dynamic spec, with the settings of that kind.
    pub source: GraphSource,
    /// Positions in `declared` by node id, hashed with `hasher`: the ids are not copied (a copy of each is about
    /// 50 bytes a node in a 100,000-node spec).
    index: HashTable<usize>,
    hasher: RandomState,
}

/// Where a compiled graph came from, with the settings that only one kind of graph has.
#[derive(Debug, Clone, PartialEq)]
pub enum GraphSource {
    /// A registered (or sub-) workflow.
    Workflow {
        /// The workflow's identifier.
        id: Identifier,
        /// What a node failure does to the rest of the graph.
        failure_policy: FailurePolicy,
    },
    /// A dynamic job spec returned by a generator.
    Dynamic {
        /// Successes the parent needs; `None` means every node.
        min_successes: Option<u64>,
    },
}

impl CompiledGraph {
    /// The position of the node with this id in [`CompiledGraph::nodes`].
    pub fn node_index(&self, id: &str) -> Option<usize> {
        let hash = self.hasher.hash_one(id);
        self.index.find(hash, |&i| self.declared[i].id == id).copied()
    }

    /// The node with this id.
    pub fn node(&self, id: &str) -> Option<&CompiledNode> {
        self.node_index(id).map(|i| &self.nodes[i])
    }

    /// The id of the node at `position`.
    pub fn node_id(&self, position: usize) -> &str {
        &self.declared[position].id
    }

    /// Nodes with no upstream nodes: ready as soon as the graph starts.
    pub fn roots(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|&i| self.nodes[i].upstream.is_empty())
    }
}

/// What a node was compiled to; the node itself is its graph's `declared` (or, for a branch arm, the branch's).
#[derive(Debug, Clone)]
pub struct CompiledNode {
    /// The interface the node's bindings were checked against and its outputs are read through: the target's for
    /// tasks, sub-workflows and launch plans; for a branch, its bound inputs (typed from the bindings) and the arms'
    /// outputs; for an array node, lists of the task's inputs and outputs.
    pub interface: Arc<TypedInterface>,
    /// What the node runs, resolved.
    pub target: CompiledTarget,
    /// Nodes that must finish first (bindings and explicit upstream ids), sorted, without repeats. For a branch arm
    /// or an array's inner node these index the enclosing graph and are included in the enclosing node's.
    pub upstream: Vec<usize>,
    /// Nodes that wait for this one, sorted; always empty for branch arms and inner nodes.
    pub downstream: Vec<usize>,
}

/// What a compiled node runs, resolved.
#[derive(Debug, Clone)]
pub enum CompiledTarget {
    /// A task, run by a worker.
    Task(Arc<TaskTemplate>),
    /// A workflow whose nodes run inside the same execution.
    SubWorkflow {
        /// The workflow as registered or embedded.
        template: Arc<WorkflowTemplate>,
        /// Its compiled graph, shared by every node that runs it.
        graph: Arc<CompiledGraph>,
    },
    /// A launch plan, started as a child execution.
    LaunchPlan(Arc<ResolvedLaunchPlan>),
    /// The compiled arms, in the order of `node.target`'s cases; conditions and an else error are read from there.
    Branch {
        /// One compiled node per `if` case.
        cases: Vec<CompiledNode>,
        /// The else node; `None` when the branch ends in an else error.
        otherwise: Option<Box<CompiledNode>>,
    },
    /// The task run per element. An input the inner node binds is the same for every element and is not part of
    /// the array node's interface. A mapped input whose task input has a default may be left unbound: each element
    /// then uses the default.
    Array {
        /// The inner node's task.
        task: Arc<TaskTemplate>,
    },
    /// A gate; what it waits for is read from `node.target`.
    Gate,
}

impl CompiledGraph {
    pub(super) fn new(
        interface: Arc<TypedInterface>,
        (declared, nodes): (Vec<Node>, Vec<CompiledNode>),
        order: Vec<usize>,
        outputs: Vec<Binding>,
        source: GraphSource,
    ) -> Self {
        let hasher = RandomState::new();
        let mut index = HashTable::with_capacity(declared.len());
        for (i, node) in declared.iter().enumerate() {
            let hash = hasher.hash_one(node.id.as_str());
            let same = |&j: &usize| declared[j].id == node.id;
            // Ids are unique in a compiled graph; were one repeated, the first would be found.
            if index.find(hash, same).is_none() {
                index.insert_unique(hash, i, |&j| hasher.hash_one(declared[j].id.as_str()));
            }
        }
        CompiledGraph {
            interface,
            declared,
            nodes,
            order,
            outputs: outputs.into(),
            source,
            index,
            hasher,
        }
    }
}

/// The downstream lists matching sorted, deduplicated `upstream` lists.
pub(super) fn downstream_of(upstream: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let mut downstream = vec![Vec::new(); upstream.len()];
    for (node, ups) in upstream.iter().enumerate() {
        for &up in ups {
            downstream[up].push(node);
        }
    }
    downstream
}

/// The outcome of ordering a graph.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ordering {
    Sorted(Vec<usize>),
    /// Some nodes never became ready: the strongly connected components that form cycles (each sorted, the lowest
    /// index first) and the other nodes that depend on a cycle.
    Cyclic {
        cycles: Vec<Vec<usize>>,
        blocked: Vec<usize>,
    },
}

/// Kahn's algorithm, taking the lowest-index ready node first so the order is deterministic.
pub(super) fn order(upstream: &[Vec<usize>], downstream: &[Vec<usize>]) -> Ordering {
    let count = upstream.len();
    let mut waiting: Vec<usize> = upstream.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<usize>> = (0..count).filter(|&i| waiting[i] == 0).map(Reverse).collect();
    let mut sorted = Vec::with_capacity(count);
    while let Some(Reverse(node)) = ready.pop() {
        sorted.push(node);
        for &next in &downstream[node] {
            waiting[next] -= 1;
            if waiting[next] == 0 {
                ready.push(Reverse(next));
            }
        }
    }
    if sorted.len() == count {
        return Ordering::Sorted(sorted);
    }
    let stuck: Vec<bool> = waiting.iter().map(|&w| w > 0).collect();
    let mut cycles: Vec<Vec<usize>> = strongly_connected(&stuck, downstream)
        .into_iter()
        .filter(|component| component.len() > 1 || downstream[component[0]].contains(&component[0]))
        .collect();
    for component in &mut cycles {
        component.sort_unstable();
    }
    cycles.sort_unstable();
    let mut on_cycle = vec![false; count];
    cycles.iter().flatten().for_each(|&i| on_cycle[i] = true);
    let blocked = (0..count).filter(|&i| stuck[i] && !on_cycle[i]).collect();
    Ordering::Cyclic { cycles, blocked }
}

/// Tarjan's strongly connected components of the subgraph of `included` nodes, iteratively (graphs may be deep).
fn strongly_connected(included: &[bool], downstream: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: usize = usize::MAX;
    let count = included.len();
    let mut visit_index = vec![UNVISITED; count];
    let mut low_link = vec![0; count];
    let mut on_stack = vec![false; count];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next_index = 0;
    for root in 0..count {
        if !included[root] || visit_index[root] != UNVISITED {
            continue;
        }
        let mut calls: Vec<(usize, usize)> = Vec::new();
        visit_index[root] = next_index;
        low_link[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        calls.push((root, 0));
        while let Some(&(node, edge)) = calls.last() {
            if let Some(&next) = downstream[node].get(edge) {
                if let Some(call) = calls.last_mut() {
                    call.1 += 1;
                }
                if !included[next] {
                    continue;
                }
                if visit_index[next] == UNVISITED {
                    visit_index[next] = next_index;
                    low_link[next] = next_index;
                    next_index += 1;
                    stack.push(next);
                    on_stack[next] = true;
                    calls.push((next, 0));
                } else if on_stack[next] {
                    low_link[node] = low_link[node].min(visit_index[next]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low_link[parent] = low_link[parent].min(low_link[node]);
            }
            if low_link[node] == visit_index[node] {
                let mut component = Vec::new();
                while let Some(member) = stack.pop() {
                    on_stack[member] = false;
                    component.push(member);
                    if member == node {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordering(upstream: Vec<Vec<usize>>) -> Ordering {
        let downstream = downstream_of(&upstream);
        order(&upstream, &downstream)
    }

    #[test]
    fn ready_nodes_go_in_declaration_order() {
        // Node 3 waits for 0 and 1; node 2 waits for nothing but comes after 1 in declaration order.
        let result = ordering(vec![vec![], vec![], vec![], vec![0, 1]]);
        assert_eq!(result, Ordering::Sorted(vec![0, 1, 2, 3]));
        let result = ordering(vec![vec![2], vec![], vec![]]);
        assert_eq!(result, Ordering::Sorted(vec![1, 2, 0]));
        let result = ordering(vec![vec![1], vec![], vec![]]);
        assert_eq!(result, Ordering::Sorted(vec![1, 0, 2]));
    }

    #[test]
    fn cycles_and_the_nodes_they_block() {
        // 0 -> 1 -> 2 -> 1 (cycle {1, 2}), 3 waits for 2, 4 waits for itself, 5 is free.
        let result = ordering(vec![vec![], vec![0, 2], vec![1], vec![2], vec![4], vec![]]);
        assert_eq!(
            result,
            Ordering::Cyclic {
                cycles: vec![vec![1, 2], vec![4]],
                blocked: vec![3],
            }
        );
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let count = 200_000;
        let mut upstream: Vec<Vec<usize>> = (0..count).map(|i| if i == 0 { vec![] } else { vec![i - 1] }).collect();
        upstream[0] = vec![count - 1];
        match ordering(upstream) {
            Ordering::Cyclic { cycles, blocked } => {
                assert_eq!(cycles.len(), 1);
                assert_eq!(cycles[0].len(), count);
                assert!(blocked.is_empty());
            }
            Ordering::Sorted(_) => panic!("a ring has no order"),
        }
    }
}
