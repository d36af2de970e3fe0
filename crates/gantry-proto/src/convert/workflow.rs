//! Nodes (task, sub-workflow, launch plan, branch and array targets), conditions and workflow templates.

use gantry_core::model::{
    ArrayNode, BooleanExpr, BranchNode, CacheOverride, ComparisonOp, ConjunctionOp, ElseArm, FailurePolicy,
    GateCondition, GateNode, IfBlock, Node, NodeOverrides, NodeTarget, Operand, OverrideSet, SuccessCriteria,
    WorkflowTemplate,
};

use super::interface::{check_name, interface_or_empty, required_identifier};
use super::literal::{duration_to_pb, timeout_from_pb};
use super::{ConversionError, ResultExt, decode_enum, into_list, list, optional, required, required_with};
use crate::v1 as pb;
use gantry_core::names;

/// `target` is required; absent overrides are none.
impl TryFrom<pb::Node> for Node {
    type Error = ConversionError;

    fn try_from(node: pb::Node) -> Result<Self, Self::Error> {
        let overrides = match node.overrides {
            None => NodeOverrides::default(),
            Some(overrides) => {
                if let Some(cache) = &overrides.cache
                    && !cache.cache_version.is_empty()
                {
                    check_name("cache_version", &cache.cache_version, names::NAME)
                        .at("cache")
                        .at("overrides")?;
                }
                NodeOverrides::from(OverrideSet {
                    retries: optional("retries", overrides.retries).at("overrides")?,
                    timeout: timeout_from_pb("timeout", overrides.timeout)?,
                    cache: overrides.cache.map(|cache| CacheOverride {
                        cache: cache.cache,
                        cache_version: cache.cache_version,
                        cache_serializable: cache.cache_serializable,
                    }),
                    resources: overrides.resources.map(Into::into),
                    container_image: (!overrides.container_image.is_empty()).then_some(overrides.container_image),
                })
            }
        };
        let Some(target) = node.target else {
            return Err(ConversionError::new("", "node has no target set"));
        };
        Ok(Node {
            inputs: list("inputs", node.inputs)?,
            target: NodeTarget::try_from(target)?,
            id: node.id,
            upstream: node.upstream,
            overrides,
        })
    }
}

impl From<Node> for pb::Node {
    fn from(node: Node) -> Self {
        let overrides = node.overrides.into_set();
        pb::Node {
            id: node.id,
            inputs: into_list(node.inputs),
            upstream: node.upstream,
            overrides: Some(pb::NodeOverrides {
                retries: overrides.retries.map(Into::into),
                timeout: overrides.timeout.map(duration_to_pb),
                cache: overrides.cache.map(|cache| pb::CacheOverride {
                    cache: cache.cache,
                    cache_version: cache.cache_version,
                    cache_serializable: cache.cache_serializable,
                }),
                resources: overrides.resources.map(Into::into),
                container_image: overrides.container_image.unwrap_or_default(),
            }),
            target: Some(node.target.into()),
        }
    }
}

/// Paths below a target start at the oneof's field (`task.name`, `branch.cases[0]`), as in the JSON mapping.
impl TryFrom<pb::node::Target> for NodeTarget {
    type Error = ConversionError;

    fn try_from(target: pb::node::Target) -> Result<Self, Self::Error> {
        use pb::node::Target;
        Ok(match target {
            Target::Task(id) => NodeTarget::Task(id.try_into().at("task")?),
            Target::SubWorkflow(id) => NodeTarget::SubWorkflow(id.try_into().at("sub_workflow")?),
            Target::LaunchPlan(id) => NodeTarget::LaunchPlan(id.try_into().at("launch_plan")?),
            Target::Branch(branch) => NodeTarget::Branch(BranchNode::try_from(*branch).at("branch")?),
            Target::Array(array) => NodeTarget::Array(ArrayNode::try_from(*array).at("array")?),
            Target::Gate(gate) => NodeTarget::Gate(GateNode::try_from(gate).at("gate")?),
        })
    }
}

impl From<NodeTarget> for pb::node::Target {
    fn from(target: NodeTarget) -> Self {
        use pb::node::Target;
        match target {
            NodeTarget::Task(id) => Target::Task(id.into()),
            NodeTarget::SubWorkflow(id) => Target::SubWorkflow(id.into()),
            NodeTarget::LaunchPlan(id) => Target::LaunchPlan(id.into()),
            NodeTarget::Branch(branch) => Target::Branch(Box::new(branch.into())),
            NodeTarget::Array(array) => Target::Array(Box::new(array.into())),
            NodeTarget::Gate(gate) => Target::Gate(gate.into()),
        }
    }
}

/// The name a signal gate's output gets when the request leaves it empty (flytekit's).
pub const DEFAULT_SIGNAL_OUTPUT: &str = "o0";

/// The condition is required; signal ids and output names are checked by the compiler, which names the node.
impl TryFrom<pb::GateNode> for GateNode {
    type Error = ConversionError;

    fn try_from(gate: pb::GateNode) -> Result<Self, Self::Error> {
        use pb::gate_node::Condition;
        let condition = match gate.condition {
            None => return Err(ConversionError::new("condition", "required field is missing")),
            Some(Condition::Sleep(duration)) => GateCondition::Sleep(
                timeout_from_pb("sleep", Some(duration))?.unwrap_or(gantry_core::model::Duration::from_millis(0)),
            ),
            Some(Condition::Signal(signal)) => GateCondition::Signal {
                id: signal.signal_id,
                ty: required("type", signal.r#type).at("signal")?,
                output: match signal.output_variable_name.is_empty() {
                    true => DEFAULT_SIGNAL_OUTPUT.to_owned(),
                    false => signal.output_variable_name,
                },
            },
            Some(Condition::Approve(approve)) => GateCondition::Approve { id: approve.signal_id },
        };
        Ok(GateNode {
            condition,
            timeout: timeout_from_pb("timeout", gate.timeout)?,
        })
    }
}

impl From<GateNode> for pb::GateNode {
    fn from(gate: GateNode) -> Self {
        use pb::gate_node::Condition;
        pb::GateNode {
            condition: Some(match gate.condition {
                GateCondition::Sleep(duration) => Condition::Sleep(duration_to_pb(duration)),
                GateCondition::Signal { id, ty, output } => Condition::Signal(pb::SignalCondition {
                    signal_id: id,
                    r#type: Some(ty.into()),
                    output_variable_name: output,
                }),
                GateCondition::Approve { id } => Condition::Approve(pb::ApproveCondition { signal_id: id }),
            }),
            timeout: gate.timeout.map(duration_to_pb),
        }
    }
}

/// An absent `otherwise` is kept as `None`: the compiler reports it with the node's id.
impl TryFrom<pb::BranchNode> for BranchNode {
    type Error = ConversionError;

    fn try_from(branch: pb::BranchNode) -> Result<Self, Self::Error> {
        use pb::branch_node::Otherwise;
        let otherwise = match branch.otherwise {
            None => None,
            Some(Otherwise::ElseNode(node)) => Some(ElseArm::Node(Box::new(Node::try_from(*node).at("else_node")?))),
            Some(Otherwise::ElseError(message)) => Some(ElseArm::Error(message)),
        };
        Ok(BranchNode {
            cases: list("cases", branch.cases)?,
            otherwise,
        })
    }
}

impl From<BranchNode> for pb::BranchNode {
    fn from(branch: BranchNode) -> Self {
        use pb::branch_node::Otherwise;
        pb::BranchNode {
            cases: into_list(branch.cases),
            otherwise: branch.otherwise.map(|otherwise| match otherwise {
                ElseArm::Node(node) => Otherwise::ElseNode(Box::new((*node).into())),
                ElseArm::Error(message) => Otherwise::ElseError(message),
            }),
        }
    }
}

impl TryFrom<pb::IfBlock> for IfBlock {
    type Error = ConversionError;

    fn try_from(block: pb::IfBlock) -> Result<Self, Self::Error> {
        Ok(IfBlock {
            condition: required_with("condition", block.condition, "missing condition")?,
            then_node: Box::new(required_with("then_node", block.then_node, "missing node")?),
        })
    }
}

impl From<IfBlock> for pb::IfBlock {
    fn from(block: IfBlock) -> Self {
        pb::IfBlock {
            condition: Some(block.condition.into()),
            then_node: Some((*block.then_node).into()),
        }
    }
}

impl TryFrom<pb::BooleanExpression> for BooleanExpr {
    type Error = ConversionError;

    fn try_from(expression: pb::BooleanExpression) -> Result<Self, Self::Error> {
        use pb::boolean_expression::Expr;
        match expression.expr {
            None => Err(ConversionError::new(
                "",
                "boolean expression has neither a comparison nor a conjunction",
            )),
            Some(Expr::Comparison(comparison)) => comparison_from_pb(comparison).at("comparison"),
            Some(Expr::Conjunction(conjunction)) => conjunction_from_pb(*conjunction).at("conjunction"),
        }
    }
}

fn comparison_from_pb(comparison: pb::ComparisonExpression) -> Result<BooleanExpr, ConversionError> {
    Ok(BooleanExpr::Comparison {
        op: decode_enum::<pb::ComparisonOperator, _>("op", comparison.op)?,
        left: required_with("left", comparison.left, "missing operand")?,
        right: required_with("right", comparison.right, "missing operand")?,
    })
}

fn conjunction_from_pb(conjunction: pb::ConjunctionExpression) -> Result<BooleanExpr, ConversionError> {
    Ok(BooleanExpr::Conjunction {
        op: decode_enum::<pb::ConjunctionOperator, _>("op", conjunction.op)?,
        left: Box::new(required_with(
            "left",
            conjunction.left.map(|left| *left),
            "missing expression",
        )?),
        right: Box::new(required_with(
            "right",
            conjunction.right.map(|right| *right),
            "missing expression",
        )?),
    })
}

impl From<BooleanExpr> for pb::BooleanExpression {
    fn from(expression: BooleanExpr) -> Self {
        use pb::boolean_expression::Expr;
        let expr = match expression {
            BooleanExpr::Comparison { op, left, right } => Expr::Comparison(pb::ComparisonExpression {
                op: pb::ComparisonOperator::from(op) as i32,
                left: Some(left.into()),
                right: Some(right.into()),
            }),
            BooleanExpr::Conjunction { op, left, right } => Expr::Conjunction(Box::new(pb::ConjunctionExpression {
                op: pb::ConjunctionOperator::from(op) as i32,
                left: Some(Box::new((*left).into())),
                right: Some(Box::new((*right).into())),
            })),
        };
        pb::BooleanExpression { expr: Some(expr) }
    }
}

impl TryFrom<pb::Operand> for Operand {
    type Error = ConversionError;

    fn try_from(operand: pb::Operand) -> Result<Self, Self::Error> {
        use pb::operand::Kind;
        match operand.kind {
            None => Err(ConversionError::new("", "operand has neither a literal nor a var")),
            Some(Kind::Literal(literal)) => Ok(Operand::Literal(literal.try_into().at("literal")?)),
            Some(Kind::Var(var)) => Ok(Operand::Var(var)),
        }
    }
}

impl From<Operand> for pb::Operand {
    fn from(operand: Operand) -> Self {
        use pb::operand::Kind;
        let kind = match operand {
            Operand::Literal(literal) => Kind::Literal(literal.into()),
            Operand::Var(var) => Kind::Var(var),
        };
        pb::Operand { kind: Some(kind) }
    }
}

/// `UNSPECIFIED` is rejected.
impl TryFrom<pb::ComparisonOperator> for ComparisonOp {
    type Error = ConversionError;

    fn try_from(op: pb::ComparisonOperator) -> Result<Self, Self::Error> {
        Ok(match op {
            pb::ComparisonOperator::Unspecified => {
                return Err(ConversionError::new("", "comparison operator is unspecified"));
            }
            pb::ComparisonOperator::Eq => ComparisonOp::Eq,
            pb::ComparisonOperator::Neq => ComparisonOp::Neq,
            pb::ComparisonOperator::Gt => ComparisonOp::Gt,
            pb::ComparisonOperator::Gte => ComparisonOp::Gte,
            pb::ComparisonOperator::Lt => ComparisonOp::Lt,
            pb::ComparisonOperator::Lte => ComparisonOp::Lte,
        })
    }
}

impl From<ComparisonOp> for pb::ComparisonOperator {
    fn from(op: ComparisonOp) -> Self {
        match op {
            ComparisonOp::Eq => pb::ComparisonOperator::Eq,
            ComparisonOp::Neq => pb::ComparisonOperator::Neq,
            ComparisonOp::Gt => pb::ComparisonOperator::Gt,
            ComparisonOp::Gte => pb::ComparisonOperator::Gte,
            ComparisonOp::Lt => pb::ComparisonOperator::Lt,
            ComparisonOp::Lte => pb::ComparisonOperator::Lte,
        }
    }
}

/// `UNSPECIFIED` is rejected.
impl TryFrom<pb::ConjunctionOperator> for ConjunctionOp {
    type Error = ConversionError;

    fn try_from(op: pb::ConjunctionOperator) -> Result<Self, Self::Error> {
        match op {
            pb::ConjunctionOperator::Unspecified => {
                Err(ConversionError::new("", "conjunction operator is unspecified"))
            }
            pb::ConjunctionOperator::And => Ok(ConjunctionOp::And),
            pb::ConjunctionOperator::Or => Ok(ConjunctionOp::Or),
        }
    }
}

impl From<ConjunctionOp> for pb::ConjunctionOperator {
    fn from(op: ConjunctionOp) -> Self {
        match op {
            ConjunctionOp::And => pb::ConjunctionOperator::And,
            ConjunctionOp::Or => pb::ConjunctionOperator::Or,
        }
    }
}

/// `node` is required; absent success criteria mean all elements must succeed.
impl TryFrom<pb::ArrayNode> for ArrayNode {
    type Error = ConversionError;

    fn try_from(array: pb::ArrayNode) -> Result<Self, Self::Error> {
        use pb::array_node::Success;
        Ok(ArrayNode {
            node: Box::new(required_with("node", array.node.map(|node| *node), "missing node")?),
            parallelism: array.parallelism,
            success: match array.success {
                None => SuccessCriteria::All,
                Some(Success::MinSuccesses(count)) => SuccessCriteria::MinSuccesses(count),
                Some(Success::MinSuccessRatio(ratio)) => SuccessCriteria::MinSuccessRatio(ratio),
            },
        })
    }
}

impl From<ArrayNode> for pb::ArrayNode {
    fn from(array: ArrayNode) -> Self {
        use pb::array_node::Success;
        pb::ArrayNode {
            node: Some(Box::new((*array.node).into())),
            parallelism: array.parallelism,
            success: match array.success {
                SuccessCriteria::All => None,
                SuccessCriteria::MinSuccesses(count) => Some(Success::MinSuccesses(count)),
                SuccessCriteria::MinSuccessRatio(ratio) => Some(Success::MinSuccessRatio(ratio)),
            },
        }
    }
}

/// `UNSPECIFIED` is rejected.
impl TryFrom<pb::FailurePolicy> for FailurePolicy {
    type Error = ConversionError;

    fn try_from(policy: pb::FailurePolicy) -> Result<Self, Self::Error> {
        match policy {
            pb::FailurePolicy::Unspecified => Err(ConversionError::new("", "failure policy is unspecified")),
            pb::FailurePolicy::FailImmediately => Ok(FailurePolicy::FailImmediately),
            pb::FailurePolicy::FailAfterExecutableNodesComplete => Ok(FailurePolicy::FailAfterExecutableNodesComplete),
        }
    }
}

impl From<FailurePolicy> for pb::FailurePolicy {
    fn from(policy: FailurePolicy) -> Self {
        match policy {
            FailurePolicy::FailImmediately => pb::FailurePolicy::FailImmediately,
            FailurePolicy::FailAfterExecutableNodesComplete => pb::FailurePolicy::FailAfterExecutableNodesComplete,
        }
    }
}

/// `id` and `failure_policy` are required; an absent interface is empty.
impl TryFrom<pb::WorkflowTemplate> for WorkflowTemplate {
    type Error = ConversionError;

    fn try_from(workflow: pb::WorkflowTemplate) -> Result<Self, Self::Error> {
        Ok(WorkflowTemplate {
            id: required_identifier("id", workflow.id)?,
            interface: interface_or_empty("interface", workflow.interface)?,
            nodes: list("nodes", workflow.nodes)?,
            outputs: list("outputs", workflow.outputs)?,
            failure_policy: decode_enum::<pb::FailurePolicy, _>("failure_policy", workflow.failure_policy)?,
        })
    }
}

impl From<WorkflowTemplate> for pb::WorkflowTemplate {
    fn from(workflow: WorkflowTemplate) -> Self {
        pb::WorkflowTemplate {
            id: Some(workflow.id.into()),
            interface: Some(workflow.interface.into()),
            nodes: into_list(workflow.nodes),
            outputs: into_list(workflow.outputs),
            failure_policy: pb::FailurePolicy::from(workflow.failure_policy) as i32,
        }
    }
}
