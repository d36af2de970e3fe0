//! Evaluating branch conditions and choosing the arm of an `if / elif / else` node.

use std::cmp::Ordering;

use super::{ResolveError, VarKind};
use crate::model::{BooleanExpr, BranchNode, ComparisonOp, ConjunctionOp, ElseArm, Literal, LiteralMap, Operand};

/// Which arm of a branch node runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BranchChoice {
    /// The case at this index (into [`BranchNode::cases`]) was the first whose condition holds.
    Case(usize),
    /// No case holds; the else node runs.
    Else,
    /// No case holds and the else arm fails the branch node with this message.
    Error(String),
}

/// Evaluates a condition over the branch node's resolved inputs. `Operand::Var` names a key of `vars`.
///
/// Integers, floats (an integer and a float compare numerically, exactly), strings and enum values (as strings),
/// datetimes and durations support every comparison. Booleans and `none` support only `==` and `!=`; `none` equals
/// only `none`, so `x == none` tests an optional. A NaN is unequal to everything. Union values are unwrapped first.
/// Other combinations are errors. `And` and `Or` short-circuit: the right side is not evaluated (and its errors not
/// raised) when the left decides.
pub fn evaluate(expr: &BooleanExpr, vars: &LiteralMap) -> Result<bool, ResolveError> {
    match expr {
        BooleanExpr::Comparison { op, left, right } => {
            let left_value = operand_value(left, vars)?;
            let right_value = operand_value(right, vars)?;
            compare(*op, left_value, right_value).map_err(|message| {
                let error = ResolveError::new(message);
                match (left, right) {
                    (Operand::Var(name), _) | (_, Operand::Var(name)) => error.for_var(VarKind::Variable, name),
                    _ => error,
                }
            })
        }
        BooleanExpr::Conjunction {
            op: ConjunctionOp::And,
            left,
            right,
        } => Ok(evaluate(left, vars)? && evaluate(right, vars)?),
        BooleanExpr::Conjunction {
            op: ConjunctionOp::Or,
            left,
            right,
        } => Ok(evaluate(left, vars)? || evaluate(right, vars)?),
    }
}

/// Chooses the arm of a branch node: the first case whose condition holds, else the else arm. A branch with no
/// matching case and no else arm is an error, as is a condition that cannot be evaluated.
pub fn select_branch(branch: &BranchNode, vars: &LiteralMap) -> Result<BranchChoice, ResolveError> {
    for (index, case) in branch.cases.iter().enumerate() {
        let holds = evaluate(&case.condition, vars)
            .map_err(|error| error.with_message_prefix(&format!("condition of case {index}")))?;
        if holds {
            return Ok(BranchChoice::Case(index));
        }
    }
    match &branch.otherwise {
        Some(ElseArm::Node(_)) => Ok(BranchChoice::Else),
        Some(ElseArm::Error(message)) => Ok(BranchChoice::Error(message.clone())),
        None => Err(ResolveError::new("no case holds and the branch has no else arm")),
    }
}

fn operand_value<'a>(operand: &'a Operand, vars: &'a LiteralMap) -> Result<&'a Literal, ResolveError> {
    let value = match operand {
        Operand::Literal(literal) => literal,
        Operand::Var(name) => vars
            .get(name)
            .ok_or_else(|| ResolveError::new("not among the branch's inputs").for_var(VarKind::Variable, name))?,
    };
    Ok(value.bare())
}

fn compare(op: ComparisonOp, left: &Literal, right: &Literal) -> Result<bool, String> {
    let ordering = match (left, right) {
        (Literal::Integer(a), Literal::Integer(b)) => Some(a.cmp(b)),
        (Literal::Float(a), Literal::Float(b)) => a.partial_cmp(b),
        (Literal::Integer(a), Literal::Float(b)) => compare_integer_float(*a, *b),
        (Literal::Float(a), Literal::Integer(b)) => compare_integer_float(*b, *a).map(Ordering::reverse),
        (Literal::String(a) | Literal::Enum(a), Literal::String(b) | Literal::Enum(b)) => Some(a.cmp(b)),
        (Literal::Datetime(a), Literal::Datetime(b)) => Some(a.cmp(b)),
        (Literal::Duration(a), Literal::Duration(b)) => Some(a.cmp(b)),
        (Literal::Boolean(a), Literal::Boolean(b)) => {
            return equality_only(op, a == b, left, right);
        }
        (Literal::None, _) | (_, Literal::None) => {
            return equality_only(op, matches!((left, right), (Literal::None, Literal::None)), left, right);
        }
        _ => {
            return Err(format!(
                "cannot compare {} {} {}",
                left.kind_name(),
                symbol(op),
                right.kind_name()
            ));
        }
    };
    Ok(match ordering {
        // Only a NaN is unordered; like IEEE 754, it is unequal to everything.
        None => op == ComparisonOp::Neq,
        Some(ordering) => match op {
            ComparisonOp::Eq => ordering == Ordering::Equal,
            ComparisonOp::Neq => ordering != Ordering::Equal,
            ComparisonOp::Gt => ordering == Ordering::Greater,
            ComparisonOp::Gte => ordering != Ordering::Less,
            ComparisonOp::Lt => ordering == Ordering::Less,
            ComparisonOp::Lte => ordering != Ordering::Greater,
        },
    })
}

fn equality_only(op: ComparisonOp, equal: bool, left: &Literal, right: &Literal) -> Result<bool, String> {
    match op {
        ComparisonOp::Eq => Ok(equal),
        ComparisonOp::Neq => Ok(!equal),
        _ => Err(format!(
            "cannot order {} {} {}: only == and != apply",
            left.kind_name(),
            symbol(op),
            right.kind_name()
        )),
    }
}

/// Compares an integer with a float exactly, without rounding the integer to a float first.
fn compare_integer_float(integer: i64, float: f64) -> Option<Ordering> {
    // 2^63 is exact in f64; every f64 in [-2^63, 2^63) truncates to an i64 exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if float.is_nan() {
        return None;
    }
    if float >= LIMIT {
        return Some(Ordering::Less);
    }
    if float < -LIMIT {
        return Some(Ordering::Greater);
    }
    let whole = float.trunc();
    match integer.cmp(&(whole as i64)) {
        Ordering::Equal => 0.0_f64.partial_cmp(&(float - whole)),
        unequal => Some(unequal),
    }
}

fn symbol(op: ComparisonOp) -> &'static str {
    match op {
        ComparisonOp::Eq => "==",
        ComparisonOp::Neq => "!=",
        ComparisonOp::Gt => ">",
        ComparisonOp::Gte => ">=",
        ComparisonOp::Lt => "<",
        ComparisonOp::Lte => "<=",
    }
}

#[cfg(test)]
#[path = "branch_tests.rs"]
mod tests;
