//! Specs of 100,000 nodes compile (correctness only: timings belong in benchmarks).

use super::*;

const COUNT: usize = 100_000;

#[test]
fn the_seed_spec_with_100k_nodes_compiles() {
    let graph = expect_graph(compile_dynamic(&seed_spec(COUNT), &seed_parent(), &registry()));
    assert_eq!(graph.nodes.len(), COUNT);
    assert!(graph.order.iter().copied().eq(0..COUNT));
    assert!(
        graph
            .nodes
            .iter()
            .all(|n| n.upstream.is_empty() && n.downstream.is_empty())
    );
    assert_eq!(graph.node_index("dn99999"), Some(COUNT - 1));
}

#[test]
fn a_chain_of_100k_nodes_compiles_in_order_and_a_ring_does_not() {
    let chain = |ring: bool| {
        let nodes = (0..COUNT)
            .map(|i| {
                let source = if i == 0 {
                    if ring {
                        promise(&format!("n{}", COUNT - 1), "y")
                    } else {
                        int(0)
                    }
                } else {
                    promise(&format!("n{}", i - 1), "y")
                };
                task_node(&format!("n{i}"), "double", vec![bind("x", source)])
            })
            .rev()
            .collect();
        compile_nodes(nodes)
    };
    let graph = expect_graph(chain(false));
    assert!(graph.order.iter().copied().eq((0..COUNT).rev()));
    let errors = expect_errors(chain(true));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].code, CompileErrorCode::Cycle);
}
