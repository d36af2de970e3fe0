//! proptest strategies generating core task and workflow templates, nodes, bindings, dynamic specs and launch plans.

use gantry_core::model::{
    ArrayNode, AttrStep, Binding, BindingData, BooleanExpr, BranchNode, CacheOverride, CatchUp, ComparisonOp,
    ConjunctionOp, ContainerSpec, Duration, DynamicJobSpec, ElseArm, FailurePolicy, GateCondition, GateNode, IfBlock,
    LaunchPlan, Node, NodeOverrides, NodeTarget, Operand, OverrideSet, Promise, ResourceKind, Resources, RetryPolicy,
    Schedule, ScheduleKind, SuccessCriteria, TaskMetadata, TaskPlugin, TaskTemplate, WorkflowTemplate,
};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use super::strategies::{duration, float, identifier, interface, literal, literal_map, literal_type, name, text};

fn retry_policy() -> impl Strategy<Value = RetryPolicy> {
    (any::<u32>(), any::<u32>(), duration(), duration()).prop_map(
        |(user_retries, system_retries, initial_backoff, max_backoff)| RetryPolicy {
            user_retries,
            system_retries,
            initial_backoff,
            max_backoff,
        },
    )
}

fn task_metadata() -> impl Strategy<Value = TaskMetadata> {
    // An empty queue would come back as `default`, so the queue is never empty here.
    (
        retry_policy(),
        option::of(timeout()),
        option::of(timeout()),
        any::<bool>(),
        // A cache version is empty or a name (printable, no surrounding spaces).
        prop_oneof![Just(String::new()), "[a-z0-9.]{1,8}"],
        any::<bool>(),
        "[a-z]{1,8}",
    )
        .prop_map(
            |(retries, timeout, queue_timeout, cache, cache_version, cache_serializable, queue)| TaskMetadata {
                retries,
                timeout,
                queue_timeout,
                cache,
                cache_version,
                cache_serializable,
                queue,
            },
        )
}

fn resources() -> impl Strategy<Value = Resources> {
    (btree_map(name(), text(), 0..2), btree_map(name(), text(), 0..2))
        .prop_map(|(requests, limits)| Resources { requests, limits })
}

fn container_spec() -> impl Strategy<Value = ContainerSpec> {
    (
        text(),
        vec(text(), 0..3),
        vec(text(), 0..3),
        btree_map(name(), text(), 0..3),
        resources(),
    )
        .prop_map(|(image, command, args, env, resources)| ContainerSpec {
            image,
            command,
            args,
            env,
            resources,
        })
}

/// Arbitrary custom bytes and config values: the payload is opaque, so anything fitting the size limit survives.
fn task_plugin() -> impl Strategy<Value = TaskPlugin> {
    (name(), vec(any::<u8>(), 0..64), btree_map(name(), text(), 0..3)).prop_map(|(task_type, custom, config)| {
        TaskPlugin {
            task_type,
            custom,
            config,
        }
    })
}

pub fn task_template() -> impl Strategy<Value = TaskTemplate> {
    (
        identifier(),
        interface(),
        task_metadata(),
        option::of(container_spec()),
        option::of(task_plugin()),
    )
        .prop_map(|(id, interface, metadata, container, plugin)| TaskTemplate {
            id,
            interface,
            metadata,
            container,
            plugin,
        })
}

fn attr_step() -> impl Strategy<Value = AttrStep> {
    prop_oneof![any::<u32>().prop_map(AttrStep::Index), text().prop_map(AttrStep::Key)]
}

fn promise() -> impl Strategy<Value = Promise> {
    (prop_oneof![Just(String::new()), name()], name(), vec(attr_step(), 0..3)).prop_map(
        |(node_id, output, attr_path)| Promise {
            node_id,
            output,
            attr_path,
        },
    )
}

fn binding_data() -> BoxedStrategy<BindingData> {
    let leaf = prop_oneof![
        literal().prop_map(BindingData::Literal),
        promise().prop_map(BindingData::Promise)
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(BindingData::Collection),
            btree_map(text(), inner, 0..3).prop_map(BindingData::Map),
        ]
    })
    .boxed()
}

pub fn binding() -> impl Strategy<Value = Binding> {
    (name(), binding_data()).prop_map(|(var, data)| Binding { var, data })
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![literal().prop_map(Operand::Literal), name().prop_map(Operand::Var)]
}

fn boolean_expr() -> BoxedStrategy<BooleanExpr> {
    let comparison_op = prop_oneof![
        Just(ComparisonOp::Eq),
        Just(ComparisonOp::Neq),
        Just(ComparisonOp::Gt),
        Just(ComparisonOp::Gte),
        Just(ComparisonOp::Lt),
        Just(ComparisonOp::Lte),
    ];
    let leaf =
        (comparison_op, operand(), operand()).prop_map(|(op, left, right)| BooleanExpr::Comparison { op, left, right });
    leaf.prop_recursive(2, 8, 2, |inner| {
        (
            prop_oneof![Just(ConjunctionOp::And), Just(ConjunctionOp::Or)],
            inner.clone(),
            inner,
        )
            .prop_map(|(op, left, right)| BooleanExpr::Conjunction {
                op,
                left: Box::new(left),
                right: Box::new(right),
            })
    })
    .boxed()
}

/// Timeouts are positive: zero or negative ones are refused at conversion.
fn timeout() -> impl Strategy<Value = Duration> {
    (1i64..1_000_000_000).prop_map(Duration::from_millis)
}

fn overrides() -> impl Strategy<Value = NodeOverrides> {
    let cache =
        (any::<bool>(), name(), any::<bool>()).prop_map(|(cache, cache_version, cache_serializable)| CacheOverride {
            cache,
            cache_version,
            cache_serializable,
        });
    let image = "[a-z./:0-9]{1,12}";
    (
        option::of(retry_policy()),
        option::of(timeout()),
        option::of(cache),
        option::of(resources()),
        option::of(image),
    )
        .prop_map(|(retries, timeout, cache, resources, container_image)| {
            NodeOverrides::from(OverrideSet {
                retries,
                timeout,
                cache,
                resources,
                container_image,
            })
        })
}

/// A node with the given target and generated everything else.
fn node_with(target: impl Strategy<Value = NodeTarget>) -> impl Strategy<Value = Node> {
    (name(), vec(binding(), 0..3), vec(name(), 0..2), overrides(), target).prop_map(
        |(id, inputs, upstream, overrides, target)| Node {
            id,
            inputs,
            upstream,
            target,
            overrides,
        },
    )
}

fn success_criteria() -> impl Strategy<Value = SuccessCriteria> {
    prop_oneof![
        Just(SuccessCriteria::All),
        any::<u64>().prop_map(SuccessCriteria::MinSuccesses),
        float().prop_map(SuccessCriteria::MinSuccessRatio),
    ]
}

/// A gate as the wire carries it: a positive sleep, a signal whose output is named (an empty one reads back as
/// `o0`), or an approval; any of them with a positive timeout or none.
fn gate() -> impl Strategy<Value = GateNode> {
    let condition = prop_oneof![
        timeout().prop_map(GateCondition::Sleep),
        (name(), literal_type(), name()).prop_map(|(id, ty, output)| GateCondition::Signal { id, ty, output }),
        name().prop_map(|id| GateCondition::Approve { id }),
    ];
    (condition, option::of(timeout())).prop_map(|(condition, timeout)| GateNode { condition, timeout })
}

pub fn node() -> BoxedStrategy<Node> {
    let leaf = node_with(prop_oneof![
        identifier().prop_map(NodeTarget::Task),
        identifier().prop_map(NodeTarget::SubWorkflow),
        identifier().prop_map(NodeTarget::LaunchPlan),
        gate().prop_map(NodeTarget::Gate),
    ]);
    leaf.prop_recursive(2, 8, 2, |inner| {
        let if_block = (boolean_expr(), inner.clone()).prop_map(|(condition, then_node)| IfBlock {
            condition,
            then_node: Box::new(then_node),
        });
        let else_arm = prop_oneof![
            inner.clone().prop_map(|node| ElseArm::Node(Box::new(node))),
            text().prop_map(ElseArm::Error),
        ];
        let branch = (vec(if_block, 0..3), option::of(else_arm))
            .prop_map(|(cases, otherwise)| NodeTarget::Branch(BranchNode { cases, otherwise }));
        let array = (inner, option::of(any::<u32>()), success_criteria()).prop_map(|(node, parallelism, success)| {
            NodeTarget::Array(ArrayNode {
                node: Box::new(node),
                parallelism,
                success,
            })
        });
        node_with(prop_oneof![branch, array])
    })
    .boxed()
}

pub fn workflow_template() -> impl Strategy<Value = WorkflowTemplate> {
    let failure_policy = prop_oneof![
        Just(FailurePolicy::FailImmediately),
        Just(FailurePolicy::FailAfterExecutableNodesComplete)
    ];
    (
        identifier(),
        interface(),
        vec(node(), 0..3),
        vec(binding(), 0..3),
        failure_policy,
    )
        .prop_map(|(id, interface, nodes, outputs, failure_policy)| WorkflowTemplate {
            id,
            interface,
            nodes,
            outputs,
            failure_policy,
        })
}

pub fn dynamic_job_spec() -> impl Strategy<Value = DynamicJobSpec> {
    (
        vec(node(), 0..3),
        option::of(any::<u64>()),
        vec(binding(), 0..3),
        vec(task_template(), 0..2),
        vec(workflow_template(), 0..2),
    )
        .prop_map(|(nodes, min_successes, outputs, tasks, subworkflows)| DynamicJobSpec {
            nodes,
            min_successes,
            outputs,
            tasks,
            subworkflows,
        })
}

/// A schedule as the wire carries it: a cron expression in a time zone (empty: UTC) or a fixed rate of at least a
/// second; a kickoff input or none; either catch-up policy, with a limit in range.
fn schedule() -> impl Strategy<Value = Schedule> {
    let cron = (
        prop_oneof![
            Just("*/5 * * * *"),
            Just("0 9 * * MON-FRI"),
            Just("30 2 1 * *"),
            Just("*/10 * * * * *")
        ],
        prop_oneof![Just(""), Just("UTC"), Just("Europe/Paris"), Just("America/New_York")],
    )
        .prop_map(|(expression, zone)| ScheduleKind::Cron {
            expression: expression.to_owned(),
            time_zone: zone.to_owned(),
        });
    let rate = (1_000i64..100_000_000).prop_map(|millis| ScheduleKind::FixedRate(Duration::from_millis(millis)));
    let catch_up = prop_oneof![
        Just(CatchUp::Skip),
        (1u32..=1_000).prop_map(|limit| CatchUp::RunMissed { limit }),
    ];
    (prop_oneof![cron, rate], option::of(name()), catch_up).prop_map(|(kind, kickoff_input, catch_up)| Schedule {
        kind,
        kickoff_input,
        catch_up,
    })
}

pub fn launch_plan() -> impl Strategy<Value = LaunchPlan> {
    let kind = prop_oneof![
        Just(ResourceKind::Task),
        Just(ResourceKind::Workflow),
        Just(ResourceKind::LaunchPlan)
    ];
    (
        identifier(),
        identifier(),
        kind,
        literal_map(),
        literal_map(),
        option::of(any::<u32>()),
        option::of(timeout()),
        option::of(schedule()),
    )
        .prop_map(
            |(id, target, target_kind, default_inputs, fixed_inputs, max_parallelism, timeout, schedule)| LaunchPlan {
                id,
                target,
                target_kind,
                default_inputs,
                fixed_inputs,
                max_parallelism,
                timeout,
                schedule,
            },
        )
}
