use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::model::{Duration, Identifier, IfBlock, LiteralType, Node, Timestamp, UnionValue};

fn cmp(op: ComparisonOp, left: Literal, right: Literal) -> BooleanExpr {
    BooleanExpr::Comparison {
        op,
        left: Operand::Literal(left),
        right: Operand::Literal(right),
    }
}

fn eval(op: ComparisonOp, left: Literal, right: Literal) -> Result<bool, String> {
    evaluate(&cmp(op, left, right), &LiteralMap::new()).map_err(|error| error.to_string())
}

fn var(name: &str) -> Operand {
    Operand::Var(name.to_owned())
}

fn node(id: &str) -> Box<Node> {
    Box::new(Node::task(id, Identifier::new("p", "d", "t", "v"), Vec::new()))
}

use ComparisonOp::*;

#[test]
fn integers_and_floats_compare_numerically() {
    assert_eq!(eval(Lt, Literal::Integer(1), Literal::Integer(2)), Ok(true));
    assert_eq!(eval(Gte, Literal::Integer(2), Literal::Float(2.0)), Ok(true));
    assert_eq!(eval(Eq, Literal::Float(2.0), Literal::Integer(2)), Ok(true));
    assert_eq!(eval(Gt, Literal::Float(2.5), Literal::Integer(2)), Ok(true));
    assert_eq!(eval(Lt, Literal::Integer(-3), Literal::Float(-2.5)), Ok(true));
    assert_eq!(eval(Gt, Literal::Integer(-2), Literal::Float(-2.5)), Ok(true));
    // Exact: i64::MAX is not equal to 2^63, though both round to the same float.
    assert_eq!(
        eval(Lt, Literal::Integer(i64::MAX), Literal::Float(-(i64::MIN as f64))),
        Ok(true)
    );
    assert_eq!(
        eval(Eq, Literal::Integer(i64::MIN), Literal::Float(i64::MIN as f64)),
        Ok(true)
    );
    assert_eq!(
        eval(Gt, Literal::Integer(i64::MIN), Literal::Float(f64::NEG_INFINITY)),
        Ok(true)
    );
}

#[test]
fn nan_is_unequal_to_everything() {
    assert_eq!(eval(Eq, Literal::Float(f64::NAN), Literal::Float(f64::NAN)), Ok(false));
    assert_eq!(eval(Neq, Literal::Float(f64::NAN), Literal::Integer(1)), Ok(true));
    assert_eq!(eval(Lte, Literal::Integer(1), Literal::Float(f64::NAN)), Ok(false));
}

#[test]
fn strings_enums_times_and_durations() {
    assert_eq!(
        eval(Lt, Literal::String("a".into()), Literal::String("b".into())),
        Ok(true)
    );
    assert_eq!(
        eval(Eq, Literal::Enum("red".into()), Literal::String("red".into())),
        Ok(true)
    );
    let t = |seconds| Literal::Datetime(Timestamp { seconds, nanos: 0 });
    assert_eq!(eval(Gt, t(5), t(4)), Ok(true));
    assert_eq!(
        eval(
            Lte,
            Literal::Duration(Duration::from_millis(1500)),
            Literal::Duration(Duration::from_secs(1))
        ),
        Ok(false)
    );
}

#[test]
fn booleans_and_none_support_only_equality() {
    assert_eq!(eval(Eq, Literal::Boolean(true), Literal::Boolean(true)), Ok(true));
    assert_eq!(eval(Neq, Literal::Boolean(true), Literal::Boolean(false)), Ok(true));
    assert_eq!(
        eval(Gt, Literal::Boolean(true), Literal::Boolean(false)),
        Err("cannot order boolean > boolean: only == and != apply".to_owned())
    );
    assert_eq!(eval(Eq, Literal::None, Literal::None), Ok(true));
    assert_eq!(eval(Eq, Literal::Integer(1), Literal::None), Ok(false));
    assert_eq!(eval(Neq, Literal::None, Literal::String("x".into())), Ok(true));
    assert!(eval(Lt, Literal::None, Literal::Integer(1)).is_err());
}

#[test]
fn mismatched_kinds_are_errors_naming_the_variable() {
    assert_eq!(
        eval(Lt, Literal::Integer(1), Literal::String("x".into())),
        Err("cannot compare integer < string".to_owned())
    );
    let vars: LiteralMap = [("x".to_owned(), Literal::Integer(1))].into();
    let expr = BooleanExpr::Comparison {
        op: Eq,
        left: var("x"),
        right: Operand::Literal(Literal::Boolean(true)),
    };
    assert_eq!(
        evaluate(&expr, &vars).unwrap_err().to_string(),
        r#"variable "x": cannot compare integer == boolean"#
    );
    let missing = BooleanExpr::Comparison {
        op: Eq,
        left: Operand::Literal(Literal::None),
        right: var("y"),
    };
    assert_eq!(
        evaluate(&missing, &vars).unwrap_err().to_string(),
        r#"variable "y": not among the branch's inputs"#
    );
}

#[test]
fn variables_and_unions_are_looked_through() {
    let optional = Literal::Union(Box::new(UnionValue {
        value: Literal::Integer(3),
        variant: LiteralType::Integer,
    }));
    let vars: LiteralMap = [("x".to_owned(), optional), ("y".to_owned(), Literal::Integer(4))].into();
    let expr = BooleanExpr::Comparison {
        op: Lt,
        left: var("x"),
        right: var("y"),
    };
    assert_eq!(evaluate(&expr, &vars), Ok(true));
}

#[test]
fn conjunctions_short_circuit() {
    let failing = cmp(Gt, Literal::Boolean(true), Literal::Boolean(false));
    let truth = cmp(Eq, Literal::Integer(1), Literal::Integer(1));
    let falsity = cmp(Eq, Literal::Integer(1), Literal::Integer(2));
    let and = |l: &BooleanExpr, r: &BooleanExpr| BooleanExpr::Conjunction {
        op: ConjunctionOp::And,
        left: Box::new(l.clone()),
        right: Box::new(r.clone()),
    };
    let or = |l: &BooleanExpr, r: &BooleanExpr| BooleanExpr::Conjunction {
        op: ConjunctionOp::Or,
        left: Box::new(l.clone()),
        right: Box::new(r.clone()),
    };
    let vars = LiteralMap::new();
    assert_eq!(evaluate(&and(&falsity, &failing), &vars), Ok(false));
    assert_eq!(evaluate(&or(&truth, &failing), &vars), Ok(true));
    assert!(evaluate(&and(&truth, &failing), &vars).is_err());
    assert!(evaluate(&or(&falsity, &failing), &vars).is_err());
}

#[test]
fn first_true_case_wins_then_else() {
    let vars: LiteralMap = [("x".to_owned(), Literal::Integer(5))].into();
    let case = |op, n| IfBlock {
        condition: BooleanExpr::Comparison {
            op,
            left: var("x"),
            right: Operand::Literal(Literal::Integer(n)),
        },
        then_node: node("n"),
    };
    let mut branch = BranchNode {
        cases: vec![case(Gt, 10), case(Gt, 3), case(Gt, 1)],
        otherwise: None,
    };
    assert_eq!(select_branch(&branch, &vars), Ok(BranchChoice::Case(1)));

    branch.cases = vec![case(Lt, 0)];
    assert_eq!(
        select_branch(&branch, &vars).unwrap_err().to_string(),
        "no case holds and the branch has no else arm"
    );
    branch.otherwise = Some(ElseArm::Node(node("e")));
    assert_eq!(select_branch(&branch, &vars), Ok(BranchChoice::Else));
    branch.otherwise = Some(ElseArm::Error("x is negative".into()));
    assert_eq!(
        select_branch(&branch, &vars),
        Ok(BranchChoice::Error("x is negative".into()))
    );
}

#[test]
fn a_failing_condition_names_its_case() {
    let vars: LiteralMap = [("x".to_owned(), Literal::Boolean(true))].into();
    let branch = BranchNode {
        cases: vec![IfBlock {
            condition: BooleanExpr::Comparison {
                op: Gt,
                left: var("x"),
                right: Operand::Literal(Literal::Boolean(false)),
            },
            then_node: node("n"),
        }],
        otherwise: Some(ElseArm::Node(node("e"))),
    };
    assert_eq!(
        select_branch(&branch, &vars).unwrap_err().to_string(),
        r#"variable "x": condition of case 0: cannot order boolean > boolean: only == and != apply"#
    );
}

// Properties.

fn arb_op() -> impl Strategy<Value = ComparisonOp> {
    prop::sample::select(vec![Eq, Neq, Gt, Gte, Lt, Lte])
}

fn arb_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![
        (-3_i64..3).prop_map(|i| Operand::Literal(Literal::Integer(i))),
        prop::sample::select(vec!["x", "y", "z"]).prop_map(|name| Operand::Var(name.to_owned())),
    ]
}

fn arb_expr() -> impl Strategy<Value = BooleanExpr> {
    let leaf = (arb_op(), arb_operand(), arb_operand()).prop_map(|(op, left, right)| BooleanExpr::Comparison {
        op,
        left,
        right,
    });
    leaf.prop_recursive(4, 24, 2, |inner| {
        (any::<bool>(), inner.clone(), inner).prop_map(|(and, left, right)| BooleanExpr::Conjunction {
            op: if and { ConjunctionOp::And } else { ConjunctionOp::Or },
            left: Box::new(left),
            right: Box::new(right),
        })
    })
}

/// The meaning of an integer-only expression, in plain Rust.
fn expected(expr: &BooleanExpr, vars: &BTreeMap<String, i64>) -> bool {
    let value = |operand: &Operand| match operand {
        Operand::Literal(Literal::Integer(i)) => *i,
        Operand::Var(name) => vars[name],
        Operand::Literal(_) => unreachable!("integer-only expressions"),
    };
    match expr {
        BooleanExpr::Comparison { op, left, right } => {
            let (a, b) = (value(left), value(right));
            match op {
                Eq => a == b,
                Neq => a != b,
                Gt => a > b,
                Gte => a >= b,
                Lt => a < b,
                Lte => a <= b,
            }
        }
        BooleanExpr::Conjunction {
            op: ConjunctionOp::And,
            left,
            right,
        } => expected(left, vars) && expected(right, vars),
        BooleanExpr::Conjunction {
            op: ConjunctionOp::Or,
            left,
            right,
        } => expected(left, vars) || expected(right, vars),
    }
}

fn compare_literals(op: ComparisonOp, left: Literal, right: Literal) -> bool {
    let expr = BooleanExpr::Comparison {
        op,
        left: Operand::Literal(left),
        right: Operand::Literal(right),
    };
    evaluate(&expr, &LiteralMap::new()).expect("numbers always compare")
}

/// Floats without NaN.
fn arb_float() -> impl Strategy<Value = f64> {
    any::<f64>().prop_map(|f| if f.is_nan() { 0.5 } else { f })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn integer_comparisons_complement(a in any::<i64>(), b in any::<i64>()) {
        let (x, y) = (Literal::Integer(a), Literal::Integer(b));
        let lt = compare_literals(Lt, x.clone(), y.clone());
        prop_assert_eq!(lt, !compare_literals(Gte, x.clone(), y.clone()));
        prop_assert_eq!(lt, a < b);
        let gt = compare_literals(Gt, x.clone(), y.clone());
        prop_assert_eq!(gt, !compare_literals(Lte, x.clone(), y.clone()));
        let eq = compare_literals(Eq, x.clone(), y.clone());
        prop_assert_eq!(eq, !compare_literals(Neq, x, y));
    }

    #[test]
    fn mixed_number_comparisons_complement(a in any::<i64>(), b in arb_float()) {
        let (x, y) = (Literal::Integer(a), Literal::Float(b));
        let lt = compare_literals(Lt, x.clone(), y.clone());
        prop_assert_eq!(lt, !compare_literals(Gte, x.clone(), y.clone()));
        // Swapping sides mirrors the comparison.
        prop_assert_eq!(lt, compare_literals(Gt, y.clone(), x.clone()));
        // Where the float holds the integer exactly, the result is the plain float comparison.
        if (a as f64) as i64 == a && a.unsigned_abs() < 1 << 53 {
            prop_assert_eq!(lt, (a as f64) < b);
        }
    }

    #[test]
    fn conjunctions_match_rust(expr in arb_expr(), x in -3_i64..3, y in -3_i64..3, z in -3_i64..3) {
        let ints: BTreeMap<String, i64> = [("x".to_owned(), x), ("y".to_owned(), y), ("z".to_owned(), z)].into();
        let vars: LiteralMap = ints.iter().map(|(k, v)| (k.clone(), Literal::Integer(*v))).collect();
        prop_assert_eq!(evaluate(&expr, &vars), Ok(expected(&expr, &ints)));
    }
}
