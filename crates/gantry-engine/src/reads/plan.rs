//! Which values of a response go inline and which as references: a pure decision over sizes, so that every response
//! fits in one message whatever the execution holds.
//!
//! A slot is one top-level value of a response (an input or output, at any depth of nesting inside it) or a dynamic
//! spec. Within the response's budget, the smallest values are resolved first (their references fetched), so that
//! as many values as possible arrive whole; what is left stays inline as stored (its references unresolved) while
//! it fits, and otherwise goes as a reference of its own.

/// How a reader wants large values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// Values inline while they fit the response; references only for what does not.
    #[default]
    Values,
    /// References for every value above the offload threshold, so that a large execution can be shown without
    /// downloading it.
    References,
}

/// The sizes of one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Its encoded size as stored (references inside it counted as references).
    pub stored: u64,
    /// Its encoded size once the references inside it are fetched.
    pub resolved: u64,
    /// Whether it is itself a reference.
    pub reference: bool,
}

impl Slot {
    /// A value held whole (a spec, or a literal without references).
    pub fn whole(size: u64) -> Self {
        Slot {
            stored: size,
            resolved: size,
            reference: false,
        }
    }
}

/// What to do with one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Choice {
    /// Send it whole, its references fetched.
    Resolve,
    /// Send it as stored: a reference stays one, references inside it stay references.
    Keep,
    /// Send a reference to it in its place.
    Refer,
}

/// Decides each slot's fate within `budget` bytes. With [`ReadMode::References`] nothing is fetched and only values
/// of at most `offload_bytes` stay inline.
pub(crate) fn plan(slots: &[Slot], budget: u64, mode: ReadMode, offload_bytes: u64) -> Vec<Choice> {
    let mut choices = vec![Choice::Refer; slots.len()];
    let mut used = 0u64;
    let mut decided = vec![false; slots.len()];
    if mode == ReadMode::Values {
        let mut order: Vec<usize> = (0..slots.len()).collect();
        order.sort_by_key(|&i| (slots[i].resolved, i));
        for i in order {
            if used.saturating_add(slots[i].resolved) <= budget {
                used += slots[i].resolved;
                choices[i] = Choice::Resolve;
                decided[i] = true;
            }
        }
    }
    let inline_max = match mode {
        ReadMode::Values => u64::MAX,
        ReadMode::References => offload_bytes,
    };
    let mut order: Vec<usize> = (0..slots.len()).filter(|&i| !decided[i]).collect();
    order.sort_by_key(|&i| (slots[i].stored, i));
    for i in order {
        let slot = slots[i];
        let fits = slot.stored <= inline_max && used.saturating_add(slot.stored) <= budget;
        choices[i] = if slot.reference || fits {
            used = used.saturating_add(slot.stored);
            Choice::Keep
        } else {
            Choice::Refer
        };
    }
    choices
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    fn reference(size: u64) -> Slot {
        Slot {
            stored: 150,
            resolved: size,
            reference: true,
        }
    }

    #[test]
    fn everything_that_fits_is_resolved() {
        let slots = [Slot::whole(10), reference(5 * MIB), reference(20 * MIB)];
        let choices = plan(&slots, 32 * MIB, ReadMode::Values, MIB);
        assert_eq!(choices, [Choice::Resolve; 3]);
    }

    #[test]
    fn the_smallest_values_come_whole_and_the_rest_as_references() {
        // A 60 MB input and its 60 MB echo: neither fits, both stay references; small values still come whole.
        let slots = [reference(60 * MIB), Slot::whole(8), reference(60 * MIB)];
        let choices = plan(&slots, 32 * MIB, ReadMode::Values, MIB);
        assert_eq!(choices, [Choice::Keep, Choice::Resolve, Choice::Keep]);
        // Two 20 MB values: the first fits, the second would not.
        let slots = [reference(20 * MIB), reference(20 * MIB)];
        let choices = plan(&slots, 32 * MIB, ReadMode::Values, MIB);
        assert_eq!(choices, [Choice::Resolve, Choice::Keep]);
    }

    #[test]
    fn large_values_held_inline_become_references_when_they_do_not_fit() {
        // Values held inline (a large literal bound in a dynamic spec) cannot stay references: they are referred to.
        let slots = [Slot::whole(40 * MIB), Slot::whole(40 * MIB), Slot::whole(3)];
        let choices = plan(&slots, 64 * MIB, ReadMode::Values, MIB);
        assert_eq!(choices, [Choice::Resolve, Choice::Refer, Choice::Resolve]);
        // A small list of references to large values is sent as it is, its references unresolved.
        let list = Slot {
            stored: 300,
            resolved: 80 * MIB,
            reference: false,
        };
        assert_eq!(plan(&[list], 32 * MIB, ReadMode::Values, MIB), [Choice::Keep]);
    }

    #[test]
    fn references_mode_fetches_nothing_and_refers_to_every_large_value() {
        let list = Slot {
            stored: 300,
            resolved: 80 * MIB,
            reference: false,
        };
        let slots = [reference(2 * MIB), Slot::whole(10), Slot::whole(3 * MIB), list];
        let choices = plan(&slots, 32 * MIB, ReadMode::References, MIB);
        assert_eq!(choices, [Choice::Keep, Choice::Keep, Choice::Refer, Choice::Keep]);
    }

    #[test]
    fn no_budget_sends_references_only() {
        let slots = [Slot::whole(10), reference(5 * MIB)];
        assert_eq!(plan(&slots, 0, ReadMode::Values, MIB), [Choice::Refer, Choice::Keep]);
    }
}
