//! Properties of random graphs: a DAG always compiles and its order respects every edge; a back edge never
//! compiles; a missing required binding never compiles.

use proptest::prelude::*;

use super::*;

/// A random DAG: `edges[j]` lists upstream nodes of node `j`, all with a lower index; `order` is a permutation in
/// which the nodes are declared; `explicit[j]` says whether node `j` names its upstream nodes explicitly rather than
/// through promises.
#[derive(Debug, Clone)]
struct Dag {
    edges: Vec<Vec<usize>>,
    order: Vec<usize>,
    explicit: Vec<bool>,
}

fn arb_dag() -> impl Strategy<Value = Dag> {
    (1usize..40)
        .prop_flat_map(|count| {
            let edges = (0..count)
                .map(|j| {
                    prop::collection::btree_set(0..j.max(1), 0..=j.min(4))
                        .prop_map(move |s| s.into_iter().filter(|&i| i < j).collect::<Vec<_>>())
                })
                .collect::<Vec<_>>();
            let order = Just((0..count).collect::<Vec<_>>()).prop_shuffle();
            (edges, order, prop::collection::vec(any::<bool>(), count))
        })
        .prop_map(|(edges, order, explicit)| Dag { edges, order, explicit })
}

fn name(i: usize) -> String {
    format!("n{i}")
}

/// Every node runs `sum(xs: list<integer>) -> total: integer` over its upstream nodes' totals.
fn dag_node(dag: &Dag, j: usize) -> Node {
    let explicit = dag.explicit[j];
    let promises = if explicit {
        Vec::new()
    } else {
        dag.edges[j].iter().map(|&i| promise(&name(i), "total")).collect()
    };
    let mut node = task_node(&name(j), "sum", vec![bind("xs", BindingData::Collection(promises))]);
    if explicit {
        node.upstream = dag.edges[j].iter().map(|&i| name(i)).collect();
    }
    node
}

fn dag_spec(dag: &Dag) -> DynamicJobSpec {
    let nodes = dag.order.iter().map(|&j| dag_node(dag, j)).collect();
    let outputs = vec![bind(
        "out",
        BindingData::Collection(dag.order.iter().map(|&j| promise(&name(j), "total")).collect()),
    )];
    DynamicJobSpec {
        nodes,
        outputs,
        ..DynamicJobSpec::default()
    }
}

proptest! {
    #[test]
    fn dags_compile_and_the_order_respects_every_edge(dag in arb_dag()) {
        let graph = expect_graph(compile_dynamic(&dag_spec(&dag), &seed_parent(), &registry()));
        let count = dag.edges.len();
        prop_assert_eq!(graph.order.len(), count);
        let mut position = vec![usize::MAX; count];
        for (at, &index) in graph.order.iter().enumerate() {
            prop_assert_eq!(position[index], usize::MAX, "node listed twice");
            position[index] = at;
        }
        for (index, node) in graph.nodes.iter().enumerate() {
            let original: usize = graph.node_id(index)[1..].parse().expect("n<number>");
            let mut expected: Vec<usize> = dag.edges[original].iter().map(|&i| graph.node_index(&name(i)).expect("exists")).collect();
            expected.sort_unstable();
            prop_assert_eq!(&node.upstream, &expected);
            for &up in &node.upstream {
                prop_assert!(position[up] < position[index]);
                prop_assert!(graph.nodes[up].downstream.contains(&index));
            }
        }
    }

    #[test]
    fn a_back_edge_never_compiles(dag in arb_dag(), pick in any::<prop::sample::Index>()) {
        let with_edges: Vec<usize> = (0..dag.edges.len()).filter(|&j| !dag.edges[j].is_empty()).collect();
        prop_assume!(!with_edges.is_empty());
        let j = with_edges[pick.index(with_edges.len())];
        let i = dag.edges[j][0];
        // `i` already runs before `j`; make it wait for `j` as well.
        let mut spec = dag_spec(&dag);
        let declared = spec.nodes.iter_mut().find(|n| n.id == name(i)).expect("declared");
        declared.upstream.push(name(j));
        let errors = expect_errors(compile_dynamic(&spec, &seed_parent(), &registry()));
        prop_assert!(errors.iter().all(|e| matches!(e.code, CompileErrorCode::Cycle | CompileErrorCode::Unreachable)), "{:?}", errors);
        prop_assert!(errors.iter().any(|e| e.code == CompileErrorCode::Cycle));
    }

    #[test]
    fn a_missing_required_binding_never_compiles(dag in arb_dag(), pick in any::<prop::sample::Index>()) {
        let mut spec = dag_spec(&dag);
        let at = pick.index(spec.nodes.len());
        spec.nodes[at].inputs.clear();
        let node_id = spec.nodes[at].id.clone();
        let errors = expect_errors(compile_dynamic(&spec, &seed_parent(), &registry()));
        prop_assert_eq!(errors.len(), 1);
        prop_assert_eq!(errors[0].code, CompileErrorCode::UnboundInput);
        prop_assert_eq!(&errors[0].node_id, &node_id);
        prop_assert_eq!(&errors[0].input, "xs");
    }
}
