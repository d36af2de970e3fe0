//! "Execution on paper": the seed example's dynamic task, and a three-level nested dynamic, driven through the
//! compiler, binding resolution and the three state machines with no IO at all. A small in-memory driver plays the
//! engine's part (it carries out effects exactly as the engine must) and a function plays the worker.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use gantry_core::compile::{CompiledGraph, Registry, compile_dynamic, compile_workflow};
use gantry_core::ids::NodeExecutionId;
use gantry_core::model::{
    Binding, BindingData, DynamicJobSpec, FailurePolicy, Identifier, Literal, LiteralMap, LiteralType, Node, Promise,
    TaskTemplate, TypedInterface, Variable, WorkflowTemplate,
};
use gantry_core::resolve::{self, OutputSource};
use gantry_core::state::{
    self, AttemptEffect, AttemptEvent, AttemptResult, AttemptState, ChildCounts, ChildRule, ExecutionEffect,
    ExecutionEvent, ExecutionPhase, ExecutionState, NodeEffect, NodeEvent, NodePhase, NodePolicy, NodeState, flow,
};

fn id(name: &str) -> Identifier {
    Identifier::new("demo", "dev", name, "1")
}

fn task(name: &str, inputs: &[(&str, LiteralType)], outputs: &[(&str, LiteralType)]) -> TaskTemplate {
    TaskTemplate {
        id: id(name),
        interface: TypedInterface {
            inputs: inputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
            outputs: outputs.iter().map(|(n, t)| Variable::new(*n, t.clone())).collect(),
        },
        metadata: Default::default(),
        container: None,
        plugin: None,
    }
}

fn int(literal: Option<&Literal>) -> i64 {
    match literal {
        Some(Literal::Integer(i)) => *i,
        other => panic!("expected an integer, got {other:?}"),
    }
}

/// The worker: `other_task(index) = index * 2`; `generate_others(tasks_count)` yields `tasks_count` other tasks and
/// binds `out` to the list of their outputs, as in the seed; `nest(depth)` yields two `nest(depth - 1)` children
/// and passes the first one's list through, down to depth 0, which is `generate_others(3)`.
fn worker(task: &TaskTemplate, inputs: &LiteralMap) -> AttemptResult {
    match task.id.name.as_str() {
        "other_task" => {
            let index = int(inputs.get("index"));
            AttemptResult::Outputs(LiteralMap::from([(
                "other_task_out".into(),
                Literal::Integer(index * 2),
            )]))
        }
        "generate_others" => AttemptResult::DynamicSpec(Arc::new(seed_spec(int(inputs.get("tasks_count"))))),
        "nest" => {
            let depth = int(inputs.get("depth"));
            if depth == 0 {
                return AttemptResult::DynamicSpec(Arc::new(seed_spec(3)));
            }
            let child = |i: usize| {
                let depth = Binding::literal("depth", Literal::Integer(depth - 1));
                Node::task(format!("dn{i}"), id("nest"), vec![depth])
            };
            AttemptResult::DynamicSpec(Arc::new(DynamicJobSpec {
                nodes: vec![child(0), child(1)],
                outputs: vec![Binding::promise("out", "dn0", "out")],
                ..Default::default()
            }))
        }
        other => panic!("no handler for {other}"),
    }
}

/// The seed's spec: `tasks_count` × `other_task(index=i)`, `out` = the list of their outputs.
fn seed_spec(tasks_count: i64) -> DynamicJobSpec {
    let nodes = (0..tasks_count)
        .map(|i| {
            Node::task(
                format!("dn{i}"),
                id("other_task"),
                vec![Binding::literal("index", Literal::Integer(i))],
            )
        })
        .collect();
    let res = (0..tasks_count)
        .map(|i| BindingData::Promise(Promise::new(format!("dn{i}"), "other_task_out")))
        .collect();
    DynamicJobSpec {
        nodes,
        outputs: vec![Binding::new("out", BindingData::Collection(res))],
        ..Default::default()
    }
}

fn registry() -> Registry {
    let list = LiteralType::collection(LiteralType::Integer);
    let mut registry = Registry::new();
    registry
        .add_task(task(
            "other_task",
            &[("index", LiteralType::Integer)],
            &[("other_task_out", LiteralType::Integer)],
        ))
        .add_task(task(
            "generate_others",
            &[("tasks_count", LiteralType::Integer)],
            &[("out", list.clone())],
        ))
        .add_task(task("nest", &[("depth", LiteralType::Integer)], &[("out", list)]));
    registry
}

/// One node execution on paper.
struct PaperNode {
    state: NodeState,
    attempt: Option<AttemptState>,
    definition: Node,
    task: Arc<TaskTemplate>,
    parent: Option<String>,
    inputs: LiteralMap,
    outputs: Option<LiteralMap>,
    children: Option<(Arc<CompiledGraph>, ChildCounts)>,
    upstream_pending: usize,
    downstream: Vec<String>,
}

/// The driver: what the engine does, in memory.
struct Paper {
    registry: Registry,
    execution: ExecutionState,
    workflow: Arc<CompiledGraph>,
    execution_inputs: LiteralMap,
    top_counts: ChildCounts,
    execution_outputs: Option<LiteralMap>,
    nodes: BTreeMap<String, PaperNode>,
    events: VecDeque<(String, NodeEvent)>,
    dispatch: VecDeque<String>,
    generator_runs: usize,
    now: i64,
}

impl Paper {
    fn run(workflow: &WorkflowTemplate, inputs: LiteralMap) -> Paper {
        let registry = registry();
        let graph = Arc::new(compile_workflow(workflow, &registry).expect("the workflow compiles"));
        let mut paper = Paper {
            registry,
            execution: ExecutionState::queued(),
            workflow: graph.clone(),
            execution_inputs: inputs,
            top_counts: ChildCounts::new(graph.nodes.len() as u64),
            execution_outputs: None,
            nodes: BTreeMap::new(),
            events: VecDeque::new(),
            dispatch: VecDeque::new(),
            generator_runs: 0,
            now: 0,
        };
        paper.execution_event(ExecutionEvent::Start);
        loop {
            if let Some((node, event)) = paper.events.pop_front() {
                paper.node_event(&node, event);
            } else if let Some(node) = paper.dispatch.pop_front() {
                paper.run_attempt(&node);
            } else {
                break;
            }
        }
        paper
    }

    fn execution_event(&mut self, event: ExecutionEvent) {
        let decision = state::execution::transition(&self.execution, event).expect("valid execution transition");
        self.execution = decision.state;
        for effect in decision.effects {
            match effect {
                ExecutionEffect::StartNodes => {
                    let graph = self.workflow.clone();
                    self.create_children(None, &graph);
                    if graph.nodes.is_empty() {
                        self.nodes_progress();
                    }
                }
                ExecutionEffect::AssembleOutputs => {
                    let outputs = self.assemble(
                        &self.workflow.outputs.clone(),
                        &self.workflow.interface.outputs.clone(),
                        None,
                    );
                    self.execution_outputs = Some(outputs);
                    self.execution_event(ExecutionEvent::Assembled);
                }
                ExecutionEffect::AbortNodes => self.execution_event(ExecutionEvent::NodesDrained),
                ExecutionEffect::Finished(_) => {}
            }
        }
    }

    fn nodes_progress(&mut self) {
        let event = ExecutionEvent::NodesProgress {
            counts: self.top_counts,
            rule: ChildRule::ALL_FAIL_FAST,
            first_error: None,
        };
        self.execution_event(event);
    }

    /// Creates one node per graph node under `parent` (its scoped id and attempt) and starts the roots.
    fn create_children(&mut self, parent: Option<(&str, u32)>, graph: &CompiledGraph) {
        let scoped = |local: &str| match parent {
            Some((parent, attempt)) => NodeExecutionId::parse(parent)
                .expect("valid id")
                .child(attempt, local)
                .into_string(),
            None => NodeExecutionId::top(local).into_string(),
        };
        for (compiled, declared) in graph.nodes.iter().zip(&graph.declared) {
            let task = match &compiled.target {
                gantry_core::compile::CompiledTarget::Task(task) => task.clone(),
                other => panic!("paper runs task nodes only, got {other:?}"),
            };
            let node = PaperNode {
                state: NodeState::new(),
                attempt: None,
                definition: declared.clone(),
                task,
                parent: parent.map(|(p, _)| p.to_owned()),
                inputs: LiteralMap::new(),
                outputs: None,
                children: None,
                upstream_pending: compiled.upstream.len(),
                downstream: compiled.downstream.iter().map(|&i| scoped(graph.node_id(i))).collect(),
            };
            assert!(
                self.nodes.insert(scoped(&declared.id), node).is_none(),
                "node ids are exact and unique"
            );
        }
        for root in graph.roots() {
            self.start(&scoped(graph.node_id(root)));
        }
    }

    /// Resolves a node's inputs from its siblings' outputs and its parent's inputs, then starts it.
    fn start(&mut self, scoped: &str) {
        let node = &self.nodes[scoped];
        let parent_inputs = match &node.parent {
            Some(parent) => &self.nodes[parent].inputs,
            None => &self.execution_inputs,
        };
        let siblings = |local: &str| {
            let id = NodeExecutionId::parse(scoped).expect("valid id");
            let sibling = match id.parent() {
                Some((parent, attempt)) => parent.child(attempt, local),
                None => NodeExecutionId::top(local),
            };
            self.nodes.get(sibling.as_str()).and_then(|n| n.outputs.as_ref())
        };
        let source = resolve::from_fn(|node_id: &str, name: &str| {
            if node_id.is_empty() {
                parent_inputs.get(name)
            } else {
                siblings(node_id).and_then(|o| o.get(name))
            }
        });
        let inputs = resolve::resolve_inputs(&node.definition.inputs, &node.task.interface.inputs, &source)
            .expect("inputs resolve");
        self.nodes.get_mut(scoped).expect("exists").inputs = inputs;
        self.events.push_back((scoped.to_owned(), NodeEvent::Start));
    }

    fn node_event(&mut self, scoped: &str, event: NodeEvent) {
        let node = self.nodes.get_mut(scoped).expect("exists");
        let policy = NodePolicy::task(node.task.metadata.retries.clone());
        let decision = state::node::transition(&node.state, &policy, event).expect("valid node transition");
        node.state = decision.state;
        for effect in decision.effects {
            self.node_effect(scoped, effect);
        }
    }

    fn node_effect(&mut self, scoped: &str, effect: NodeEffect) {
        match effect {
            NodeEffect::EnqueueAttempt { .. } => {
                self.nodes.get_mut(scoped).expect("exists").attempt = Some(AttemptState::queued());
                self.dispatch.push_back(scoped.to_owned());
            }
            NodeEffect::PersistSpec | NodeEffect::WriteCache => {}
            NodeEffect::CreateChildren { attempt } => {
                let (graph, _) = self.nodes[scoped].children.clone().expect("a compiled spec");
                self.create_children(Some((scoped, attempt)), &graph);
                let counts = ChildCounts::new(graph.nodes.len() as u64);
                self.events.push_back((
                    scoped.to_owned(),
                    NodeEvent::ChildrenCreated {
                        counts,
                        rule: ChildRule::ALL_FAIL_FAST,
                        first_failure: None,
                    },
                ));
            }
            NodeEffect::StartChildren => {}
            NodeEffect::AssembleOutputs => {
                let node = &self.nodes[scoped];
                let (graph, _) = node.children.clone().expect("a compiled spec");
                let outputs = self.assemble(&graph.outputs, &node.task.interface.outputs.clone(), Some(scoped));
                self.nodes.get_mut(scoped).expect("exists").outputs = Some(outputs);
                self.events.push_back((scoped.to_owned(), NodeEvent::Assembled));
            }
            NodeEffect::Settled(phase) => self.settled(scoped, phase),
            other => panic!("unexpected effect {other:?} on paper"),
        }
    }

    fn settled(&mut self, scoped: &str, phase: NodePhase) {
        for sibling in self.nodes[scoped].downstream.clone() {
            let node = self.nodes.get_mut(&sibling).expect("exists");
            let waiting = flow::Waiting {
                phase: node.state.phase,
                upstream_pending: node.upstream_pending as u32,
            };
            let (after, then) = flow::release(phase, waiting).expect("the release rule accepts it");
            node.upstream_pending = after.upstream_pending as usize;
            match then {
                flow::Then::Start => self.start(&sibling),
                flow::Then::Skip => self.events.push_back((sibling, NodeEvent::Skip)),
                flow::Then::Nothing => {}
            }
        }
        match self.nodes[scoped].parent.clone() {
            None => {
                self.top_counts.record(phase);
                self.nodes_progress();
            }
            Some(parent) => {
                let node = self.nodes.get_mut(&parent).expect("exists");
                let (_, counts) = node.children.as_mut().expect("a parent has children");
                counts.record(phase);
                let counts = *counts;
                self.events.push_back((
                    parent,
                    NodeEvent::ChildrenProgress {
                        counts,
                        rule: ChildRule::ALL_FAIL_FAST,
                        first_failure: None,
                    },
                ));
            }
        }
    }

    /// The worker claims the attempt, runs the task and completes it; the result goes to the node.
    fn run_attempt(&mut self, scoped: &str) {
        self.now += 1;
        let node = self.nodes.get_mut(scoped).expect("exists");
        let claim = AttemptEvent::Claim {
            worker_id: "paper".into(),
            now_ms: self.now,
            lease_ms: 1_000,
            timeout_ms: None,
        };
        let (running, started) =
            state::attempt::transition(node.attempt.as_ref().expect("queued"), claim).expect("claim");
        assert_eq!(started, AttemptEffect::Started);
        let result = worker(&node.task, &node.inputs);
        let complete = AttemptEvent::Complete {
            worker_id: "paper".into(),
            now_ms: self.now,
            result,
        };
        let (done, effect) = state::attempt::transition(&running, complete).expect("complete");
        node.attempt = Some(done);
        self.events.push_back((scoped.to_owned(), NodeEvent::AttemptStarted));
        let AttemptEffect::Finished(result) = effect else {
            panic!("a completion finishes the attempt")
        };
        let event = match result {
            AttemptResult::Outputs(outputs) => {
                node.outputs = Some(outputs);
                NodeEvent::AttemptSucceeded
            }
            AttemptResult::DynamicSpec(spec) => {
                self.generator_runs += 1;
                let graph = compile_dynamic(&spec, &node.task.interface, &self.registry).expect("the spec compiles");
                let total = graph.nodes.len() as u64;
                node.children = Some((Arc::new(graph), ChildCounts::new(total)));
                NodeEvent::SpecCompiled
            }
            AttemptResult::Error(error) => NodeEvent::AttemptFailed {
                error,
                now_ms: self.now,
            },
        };
        self.events.push_back((scoped.to_owned(), event));
    }

    /// Assembles outputs from bindings over the children of `parent` (the top level when `None`).
    fn assemble(&self, bindings: &[Binding], vars: &[Variable], parent: Option<&str>) -> LiteralMap {
        let (inputs, prefix) = match parent {
            Some(parent) => {
                let node = &self.nodes[parent];
                (
                    &node.inputs,
                    format!("{parent}/{}/", node.state.current_attempt().expect("ran")),
                )
            }
            None => (&self.execution_inputs, String::new()),
        };
        let children: BTreeMap<String, LiteralMap> = self
            .nodes
            .iter()
            .filter_map(|(id, node)| {
                let local = id.strip_prefix(&prefix)?;
                (!local.contains('/')).then(|| (local.to_owned(), node.outputs.clone().unwrap_or_default()))
            })
            .collect();
        let source = resolve::from_fn(|node_id: &str, name: &str| {
            if node_id.is_empty() {
                inputs.get(name)
            } else {
                children.get(node_id).and_then(|o| o.get(name))
            }
        });
        let source: &dyn OutputSource = &source;
        resolve::assemble_outputs(bindings, vars, source).expect("outputs assemble")
    }
}

/// A workflow of one node running `task` with `input` bound from the workflow's input, returning its `out`.
fn one_node_workflow(task: &str, input: &str) -> WorkflowTemplate {
    WorkflowTemplate {
        id: id(&format!("{task}_wf")),
        interface: TypedInterface {
            inputs: vec![Variable::new(input, LiteralType::Integer)],
            outputs: vec![Variable::new("out", LiteralType::collection(LiteralType::Integer))],
        },
        nodes: vec![Node::task("gen", id(task), vec![Binding::promise(input, "", input)])],
        outputs: vec![Binding::promise("out", "gen", "out")],
        failure_policy: FailurePolicy::FailImmediately,
    }
}

fn list_of(outputs: &LiteralMap) -> Vec<i64> {
    match outputs.get("out") {
        Some(Literal::Collection(items)) => items.iter().map(|i| int(Some(i))).collect(),
        other => panic!("expected a list output, got {other:?}"),
    }
}

#[test]
fn seed_example_runs_on_paper() {
    for tasks_count in [0i64, 1, 1_000] {
        let inputs = LiteralMap::from([("tasks_count".into(), Literal::Integer(tasks_count))]);
        let paper = Paper::run(&one_node_workflow("generate_others", "tasks_count"), inputs);
        assert_eq!(paper.execution.phase, ExecutionPhase::Succeeded, "N = {tasks_count}");
        let expected: Vec<i64> = (0..tasks_count).map(|i| i * 2).collect();
        assert_eq!(
            list_of(paper.execution_outputs.as_ref().expect("outputs")),
            expected,
            "N = {tasks_count}"
        );
        assert_eq!(paper.generator_runs, 1, "the generator runs once");
        assert_eq!(paper.nodes.len() as i64, 1 + tasks_count);
        assert!(paper.nodes.values().all(|n| n.state.phase == NodePhase::Succeeded));
        if tasks_count > 0 {
            let last = format!("gen/0/dn{}", tasks_count - 1);
            assert_eq!(
                paper.nodes[&last]
                    .outputs
                    .as_ref()
                    .and_then(|o| o.get("other_task_out")),
                Some(&Literal::Integer((tasks_count - 1) * 2))
            );
        }
    }
}

#[test]
fn three_level_nested_dynamic_runs_on_paper_with_exact_ids() {
    let inputs = LiteralMap::from([("depth".into(), Literal::Integer(2))]);
    let paper = Paper::run(&one_node_workflow("nest", "depth"), inputs);
    assert_eq!(paper.execution.phase, ExecutionPhase::Succeeded);
    assert_eq!(
        list_of(paper.execution_outputs.as_ref().expect("outputs")),
        vec![0, 2, 4]
    );
    // gen (depth 2) -> dn0, dn1 (depth 1) -> dn0, dn1 each (depth 0) -> 3 leaves each.
    assert_eq!(paper.generator_runs, 1 + 2 + 4);
    assert_eq!(paper.nodes.len(), 1 + 2 + 4 + 4 * 3);
    for deep in [
        "gen/0/dn0/0/dn0/0/dn2",
        "gen/0/dn1/0/dn1/0/dn0",
        "gen/0/dn0/0/dn1/0/dn1",
    ] {
        let node = &paper.nodes[deep];
        assert_eq!(node.state.phase, NodePhase::Succeeded, "{deep}");
        assert_eq!(NodeExecutionId::parse(deep).expect("valid").depth(), 3);
    }
    // Children are listed per parent: each level-1 node has exactly its own two children.
    let children_of = |parent: &str| {
        paper
            .nodes
            .values()
            .filter(|n| n.parent.as_deref() == Some(parent))
            .count()
    };
    assert_eq!(children_of("gen"), 2);
    assert_eq!(children_of("gen/0/dn1"), 2);
    assert_eq!(children_of("gen/0/dn1/0/dn0"), 3);
}
