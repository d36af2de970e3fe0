//! Partial success: how many children of an array node or dynamic parent must succeed, and whether they have.

use crate::model::SuccessCriteria;

/// Where a group of children stands against its success criteria.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Not decided yet: enough children are still running to reach the requirement, and not all have finished.
    Pending,
    /// Every child has finished and at least the required number succeeded.
    Succeeded,
    /// So many children failed that the requirement can no longer be met.
    Failed,
}

/// How many of `total` children must succeed.
///
/// `MinSuccesses(n)` above `total` is rejected by the compiler; here it is clamped to `total`, so that a group whose
/// size is only known at run time (an array node over an input list) needs all of its children rather than being
/// unsatisfiable. A ratio is clamped to `[0, 1]` (NaN counts as 1) and rounded up, ignoring float error below about
/// 1e-9, so that `0.3 * 10` needs 3 successes and not 4.
pub fn required_successes(criteria: SuccessCriteria, total: u64) -> u64 {
    match criteria {
        SuccessCriteria::All => total,
        SuccessCriteria::MinSuccesses(n) => n.min(total),
        SuccessCriteria::MinSuccessRatio(ratio) => ratio_of(ratio, total),
    }
}

/// The success criteria of a dynamic spec's `min_successes`: `None` means all children.
pub fn criteria_from_min_successes(min_successes: Option<u64>) -> SuccessCriteria {
    match min_successes {
        None => SuccessCriteria::All,
        Some(n) => SuccessCriteria::MinSuccesses(n),
    }
}

fn ratio_of(ratio: f64, total: u64) -> u64 {
    if ratio.is_nan() || ratio >= 1.0 {
        return total;
    }
    if ratio <= 0.0 {
        return 0;
    }
    let exact = ratio * total as f64;
    // The product's float error is a few ulps of `exact`; 1e-9 absolute (or 1e-12 relative, for huge totals) is far
    // above it and far below the smallest meaningful fraction of a child.
    let tolerance = f64::max(1e-9, exact * 1e-12);
    let nearest = exact.round();
    let required = if (exact - nearest).abs() <= tolerance {
        nearest
    } else {
        exact.ceil()
    };
    // `required` is a whole number in [0, total]; the cast saturates for the (unreachable) out-of-range case.
    (required as u64).min(total)
}

/// Decides a group of `total` children of which `succeeded` and `failed` have finished, needing `required`
/// successes. Failed as soon as the children not yet failed are fewer than required; Succeeded once every child has
/// finished with at least `required` successes; Pending otherwise. Once decided, further finished children never
/// change the outcome.
pub fn outcome(required: u64, succeeded: u64, failed: u64, total: u64) -> Outcome {
    debug_assert!(
        succeeded.saturating_add(failed) <= total,
        "more children finished than exist"
    );
    if total.saturating_sub(failed) < required {
        return Outcome::Failed;
    }
    if succeeded.saturating_add(failed) >= total {
        // Not failed above, so `succeeded == total - failed >= required`.
        return Outcome::Succeeded;
    }
    Outcome::Pending
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn all_and_min_successes() {
        assert_eq!(required_successes(SuccessCriteria::All, 7), 7);
        assert_eq!(required_successes(SuccessCriteria::MinSuccesses(3), 7), 3);
        assert_eq!(required_successes(SuccessCriteria::MinSuccesses(9), 7), 7);
        assert_eq!(required_successes(criteria_from_min_successes(None), 4), 4);
        assert_eq!(required_successes(criteria_from_min_successes(Some(2)), 4), 2);
    }

    #[test]
    fn ratios_round_up_without_float_error() {
        let ratio = |r, total| required_successes(SuccessCriteria::MinSuccessRatio(r), total);
        assert_eq!(ratio(0.3, 10), 3);
        assert_eq!(ratio(0.7, 10), 7);
        assert_eq!(ratio(0.1, 30), 3);
        assert_eq!(ratio(0.31, 10), 4);
        assert_eq!(ratio(0.5, 3), 2);
        assert_eq!(ratio(0.0, 5), 0);
        assert_eq!(ratio(1.0, 5), 5);
        assert_eq!(ratio(1.5, 5), 5);
        assert_eq!(ratio(-0.5, 5), 0);
        assert_eq!(ratio(f64::NAN, 5), 5);
        assert_eq!(ratio(0.5, 0), 0);
        assert_eq!(ratio(0.000_001, 100_000), 1);
    }

    #[test]
    fn outcome_decides_early_failure_and_late_success() {
        assert_eq!(outcome(3, 0, 0, 5), Outcome::Pending);
        assert_eq!(outcome(3, 0, 2, 5), Outcome::Pending);
        assert_eq!(outcome(3, 0, 3, 5), Outcome::Failed);
        assert_eq!(outcome(3, 3, 0, 5), Outcome::Pending);
        assert_eq!(outcome(3, 3, 2, 5), Outcome::Succeeded);
        assert_eq!(outcome(0, 0, 0, 0), Outcome::Succeeded);
        assert_eq!(outcome(0, 0, 0, 2), Outcome::Pending);
        assert_eq!(outcome(0, 0, 2, 2), Outcome::Succeeded);
        assert_eq!(outcome(2, 0, 0, 2), Outcome::Pending);
        assert_eq!(outcome(2, 1, 1, 2), Outcome::Failed);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn outcome_is_monotone_and_waits_for_every_child(
            results in prop::collection::vec(any::<bool>(), 0..40),
            extra_required in 0_u64..3,
            fraction in 0.0_f64..=1.0,
        ) {
            let total = results.len() as u64;
            let required = ((fraction * total as f64) as u64 + extra_required).min(total + 1);
            let (mut succeeded, mut failed) = (0, 0);
            let mut previous = outcome(required, 0, 0, total);
            for success in results {
                if success { succeeded += 1 } else { failed += 1 }
                let current = outcome(required, succeeded, failed, total);
                if previous != Outcome::Pending {
                    prop_assert_eq!(current, previous);
                }
                if current == Outcome::Succeeded {
                    prop_assert_eq!(succeeded + failed, total);
                }
                previous = current;
            }
            let expected = if succeeded >= required { Outcome::Succeeded } else { Outcome::Failed };
            prop_assert_eq!(previous, expected);
        }

        #[test]
        fn ratio_of_rationals_is_the_exact_ceiling(m in 1_u64..1000, k_seed in any::<u64>(), total in 0_u64..200_000) {
            let k = k_seed % (m + 1);
            let exact_ceiling = (k * total).div_ceil(m);
            let required = required_successes(SuccessCriteria::MinSuccessRatio(k as f64 / m as f64), total);
            prop_assert_eq!(required, exact_ceiling);
        }

        #[test]
        fn ratio_is_the_ceiling_within_tolerance(ratio in 0.0_f64..=1.0, total in 0_u64..1_000_000) {
            let required = required_successes(SuccessCriteria::MinSuccessRatio(ratio), total);
            let exact = ratio * total as f64;
            prop_assert!(required <= total);
            prop_assert!(required as f64 >= exact - 1e-6, "{required} < {exact}");
            prop_assert!((required as f64) < exact + 1.0, "{required} >= {exact} + 1");
        }
    }
}
