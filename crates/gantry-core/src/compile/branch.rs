//! Pass 2 for branch nodes: the branch's own bindings feed its conditions, which must compare comparable values,
//! and each arm is checked as a node of the enclosing graph.

use std::collections::HashSet;
use std::sync::Arc;

use crate::model::{
    BooleanExpr, ComparisonOp, ElseArm, LiteralType, Node, NodeTarget, Operand, TypedInterface, Variable,
};
use crate::typing::{accepts_none, literal_type_of};

use super::bindings::{Described, InputCheck, Scope};
use super::compiler::Compiler;
use super::error::{CompileError, CompileErrorCode};
use super::finish::Finished;
use super::graph::CompiledTarget;
use super::targets::{Resolved, ResolvedNode};

/// The branch's inputs: each bound name with the type of what it binds (`None` when known only at run time).
type BranchInputs<'n> = Vec<(&'n str, Option<LiteralType>)>;

/// The primitive a comparison operand reduces to, or `None` if it cannot be compared. An optional primitive may be
/// tested for equality (against `none` or a value) but not ordered.
fn comparable(ty: &LiteralType, allow_optional: bool) -> Option<&LiteralType> {
    let ty = ty.untagged();
    match ty {
        LiteralType::Integer
        | LiteralType::Float
        | LiteralType::String
        | LiteralType::Boolean
        | LiteralType::Datetime
        | LiteralType::Duration
        | LiteralType::Enum(_) => Some(ty),
        LiteralType::Union(variants) if allow_optional && variants.len() == 2 && accepts_none(ty) => variants
            .iter()
            .find(|v| *v.untagged() != LiteralType::None)
            .and_then(|inner| comparable(inner, false)),
        _ => None,
    }
}

/// Why `left op right` cannot be evaluated, if it cannot. Operands compare when both are the same primitive type
/// (enums and strings compare with each other); `none` compares for equality with optionals; booleans and optionals
/// have no order.
pub(super) fn comparison_problem(op: ComparisonOp, left: &LiteralType, right: &LiteralType) -> Option<String> {
    let ordered = !matches!(op, ComparisonOp::Eq | ComparisonOp::Neq);
    let (left, right) = (left.untagged(), right.untagged());
    if *left == LiteralType::None || *right == LiteralType::None {
        let other = if *left == LiteralType::None { right } else { left };
        return if ordered {
            Some("none has no order".to_owned())
        } else if accepts_none(other) {
            None
        } else {
            Some(format!("{other} is never none"))
        };
    }
    let describe = |ty: &LiteralType| {
        if ordered && accepts_none(ty) {
            format!("cannot order {ty}: resolve the optional first")
        } else {
            format!(
                "cannot compare {ty}: only integers, floats, strings, booleans, datetimes, durations and enums compare"
            )
        }
    };
    let Some(left_base) = comparable(left, !ordered) else {
        return Some(describe(left));
    };
    let Some(right_base) = comparable(right, !ordered) else {
        return Some(describe(right));
    };
    let string_like = |ty: &LiteralType| matches!(ty, LiteralType::String | LiteralType::Enum(_));
    if left_base != right_base && !(string_like(left_base) && string_like(right_base)) {
        return Some(format!("cannot compare {left} with {right}"));
    }
    if ordered && *left_base == LiteralType::Boolean {
        return Some("booleans have no order".to_owned());
    }
    None
}

impl Compiler<'_> {
    /// Pass 2 for a branch node.
    pub fn finish_branch(
        &mut self,
        scope: &Scope<'_>,
        node: &Node,
        resolved: ResolvedNode,
        path: &str,
        deps: &mut Vec<usize>,
    ) -> Finished {
        let NodeTarget::Branch(branch) = &node.target else {
            return None;
        };
        let ResolvedNode {
            target: Resolved::Branch { cases, otherwise },
            interface,
        } = resolved
        else {
            return None;
        };
        let check = InputCheck {
            path,
            declared: None,
            target: Described::Text("the branch"),
            already_bound: None,
        };
        self.check_inputs(scope, &check, &node.inputs, deps);
        let mut seen = HashSet::with_capacity(node.inputs.len());
        let inputs: BranchInputs<'_> = node
            .inputs
            .iter()
            .filter(|binding| seen.insert(binding.var.as_str()))
            .map(|binding| (binding.var.as_str(), scope.infer_type(&binding.data)))
            .collect();
        for case in &branch.cases {
            self.check_condition(path, &case.condition, &inputs);
        }

        let mut complete = true;
        let mut compiled_cases = Vec::with_capacity(cases.len());
        for (case, resolved) in branch.cases.iter().zip(cases) {
            match self.finish_arm(scope, &case.then_node, resolved, path, deps) {
                Some(arm) => compiled_cases.push(arm),
                None => complete = false,
            }
        }
        let compiled_else = match (&branch.otherwise, otherwise) {
            (Some(ElseArm::Node(arm)), Some(resolved)) => {
                let compiled = self.finish_arm(scope, arm, *resolved, path, deps);
                complete &= compiled.is_some();
                compiled.map(Box::new)
            }
            _ => None,
        };
        let outputs = interface?.outputs.clone();
        if !complete {
            return None;
        }
        let inputs = inputs
            .into_iter()
            .map(|(name, ty)| Variable::new(name, ty.unwrap_or_else(LiteralType::schemaless_struct)))
            .collect();
        Some((
            CompiledTarget::Branch {
                cases: compiled_cases,
                otherwise: compiled_else,
            },
            Arc::new(TypedInterface { inputs, outputs }),
        ))
    }

    fn check_condition(&mut self, path: &str, condition: &BooleanExpr, inputs: &BranchInputs<'_>) {
        match condition {
            BooleanExpr::Conjunction { left, right, .. } => {
                self.check_condition(path, left, inputs);
                self.check_condition(path, right, inputs);
            }
            BooleanExpr::Comparison { op, left, right } => {
                let left_type = self.operand_type(path, left, inputs);
                let right_type = self.operand_type(path, right, inputs);
                let (Some(Some(left_type)), Some(Some(right_type))) = (left_type, right_type) else {
                    return;
                };
                if let Some(problem) = comparison_problem(*op, &left_type, &right_type) {
                    let var = [left, right]
                        .into_iter()
                        .find_map(|operand| match operand {
                            Operand::Var(name) => Some(name.as_str()),
                            Operand::Literal(_) => None,
                        })
                        .unwrap_or_default();
                    self.push(CompileError::input(CompileErrorCode::TypeMismatch, path, var, problem));
                }
            }
        }
    }

    /// The type of a condition operand: `None` if the variable is not bound (reported), `Some(None)` if its type is
    /// only known at run time.
    fn operand_type(
        &mut self,
        path: &str,
        operand: &Operand,
        inputs: &BranchInputs<'_>,
    ) -> Option<Option<LiteralType>> {
        match operand {
            Operand::Literal(literal) => Some(Some(literal_type_of(literal))),
            Operand::Var(name) => match inputs.iter().find(|(bound, _)| bound == name) {
                Some((_, ty)) => Some(ty.clone()),
                None => {
                    self.push(CompileError::input(
                        CompileErrorCode::UnknownInput,
                        path,
                        name,
                        "the condition reads an input the branch node does not bind",
                    ));
                    None
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ComparisonOp::{Eq, Gt, Neq};

    #[test]
    fn comparisons() {
        let int = LiteralType::Integer;
        let optional_int = LiteralType::optional(LiteralType::Integer);
        let color = LiteralType::Enum(vec!["red".into()]);
        assert_eq!(comparison_problem(Gt, &int, &int), None);
        assert_eq!(comparison_problem(Eq, &color, &LiteralType::String), None);
        assert_eq!(comparison_problem(Eq, &optional_int, &LiteralType::None), None);
        assert_eq!(comparison_problem(Neq, &optional_int, &int), None);
        assert!(comparison_problem(Gt, &optional_int, &int).is_some());
        assert!(comparison_problem(Eq, &int, &LiteralType::None).is_some());
        assert!(comparison_problem(Eq, &int, &LiteralType::Float).is_some());
        assert!(comparison_problem(Gt, &LiteralType::Boolean, &LiteralType::Boolean).is_some());
        assert!(comparison_problem(Eq, &LiteralType::collection(int.clone()), &int).is_some());
    }
}
