//! An execution listing's filters as both dialects bind them: a target, and a search by name prefix, become
//! half-open text ranges, so that each is one index range scan and neither store needs `LIKE` (whose wildcards,
//! case folding and collation differ between the two databases). Ranges compare bytewise: SQLite's text does, and
//! Postgres is told `COLLATE "C"`; the bytewise order of UTF-8 is the order of code points.

use gantry_core::model::ResourceKind;
use uuid::Uuid;

use crate::rows::{ExecutionFilter, TargetFilter};

/// What an [`ExecutionFilter`] binds beyond project, domain, phases and the page: every field `None` when its
/// filter is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExecutionBounds {
    /// `executions.target_kind` of the target filter.
    pub target_kind: Option<&'static str>,
    /// `executions.target` at or above this ...
    pub target_from: Option<String>,
    /// ... and below this.
    pub target_to: Option<String>,
    /// `executions.name` at or above this ...
    pub name_from: Option<String>,
    /// ... and below this.
    pub name_to: Option<String>,
    /// The search text read as an execution id, when it is one.
    pub search_id: Option<Uuid>,
}

impl ExecutionBounds {
    pub(crate) fn of(filter: &ExecutionFilter) -> Self {
        let (target_kind, target_from, target_to) = match &filter.target {
            Some(target) => {
                let (from, to) = target_range(target);
                (Some(target_kind_str(target.kind)), Some(from), Some(to))
            }
            None => (None, None, None),
        };
        let (name_from, name_to, search_id) = match filter.search.as_deref() {
            Some(text) => (
                Some(text.to_owned()),
                Some(prefix_end(text)),
                Uuid::parse_str(text).ok(),
            ),
            None => (None, None, None),
        };
        ExecutionBounds {
            target_kind,
            target_from,
            target_to,
            name_from,
            name_to,
            search_id,
        }
    }
}

/// `executions.target_kind` of a kind of target, as execution rows hold it.
pub(crate) fn target_kind_str(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Task => "task",
        ResourceKind::Workflow => "workflow",
        ResourceKind::LaunchPlan => "launch_plan",
    }
}

/// The range of `project/domain/name@version` strings a target filter matches. Names and versions hold no `@`, so
/// `project/domain/name@` begins exactly the identifiers of that name; with a version, the range holds the one
/// identifier (`\u{1}` sorts right after the end of a string, and names hold no control characters).
fn target_range(target: &TargetFilter) -> (String, String) {
    let stem = format!("{}/{}/{}@", target.project, target.domain, target.name);
    match &target.version {
        Some(version) => {
            let exact = format!("{stem}{version}");
            let end = format!("{exact}\u{1}");
            (exact, end)
        }
        None => {
            let end = prefix_end(&stem);
            (stem, end)
        }
    }
}

/// The least string above every string that starts with `prefix`: its last character incremented (dropped, and the
/// one before incremented, when it has no successor). Empty when nothing is above (an empty prefix, or one of only
/// `char::MAX`), which callers never ask for: both filters are validated non-empty.
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn target(name: &str, version: Option<&str>) -> TargetFilter {
        TargetFilter {
            kind: ResourceKind::Workflow,
            project: "p".to_owned(),
            domain: "d".to_owned(),
            name: name.to_owned(),
            version: version.map(str::to_owned),
        }
    }

    fn within((from, to): &(String, String), value: &str) -> bool {
        from.as_str() <= value && value < to.as_str()
    }

    #[test]
    fn a_target_range_holds_its_name_or_version_only() {
        let every = target_range(&target("wf", None));
        assert!(within(&every, "p/d/wf@v1"));
        assert!(within(&every, "p/d/wf@zzz"));
        for other in [
            "p/d/wf2@v1",
            "p/d/w@v1",
            "p/d/wf",
            "p/d/wfA@v1",
            "p/dd/wf@v1",
            "q/d/wf@v1",
        ] {
            assert!(!within(&every, other), "{other}");
        }
        let one = target_range(&target("wf", Some("v1")));
        assert!(within(&one, "p/d/wf@v1"));
        for other in ["p/d/wf@v10", "p/d/wf@v", "p/d/wf@v1 ", "p/d/wf@v2"] {
            assert!(!within(&one, other), "{other}");
        }
    }

    #[test]
    fn bounds_read_a_uuid_search_as_an_id_too() {
        let id = Uuid::now_v7();
        let filter = ExecutionFilter {
            search: Some(id.to_string()),
            target: Some(target("wf", None)),
            ..ExecutionFilter::default()
        };
        let bounds = ExecutionBounds::of(&filter);
        assert_eq!(bounds.search_id, Some(id));
        assert_eq!(bounds.target_kind, Some("workflow"));
        let named = ExecutionBounds::of(&ExecutionFilter {
            search: Some("nightly".to_owned()),
            ..ExecutionFilter::default()
        });
        assert_eq!(named.search_id, None);
        assert_eq!(named.name_to.as_deref(), Some("nightlz"));
        assert_eq!(
            ExecutionBounds::of(&ExecutionFilter::default()),
            ExecutionBounds::default()
        );
    }

    #[test]
    fn prefix_end_skips_characters_without_a_successor() {
        assert_eq!(prefix_end("a@"), "aA");
        assert_eq!(prefix_end("a\u{d7ff}"), "a\u{e000}");
        assert_eq!(prefix_end("a\u{10ffff}"), "b");
        assert_eq!(prefix_end(""), "");
    }

    proptest! {
        /// A string is in `[prefix, prefix_end(prefix))` exactly when it starts with the prefix.
        #[test]
        fn prefix_range_is_exactly_the_strings_with_the_prefix(prefix in "[a-c][a-c@\u{d7ff}\u{10ffff}]{0,3}", value in "[a-c@\u{d7ff}\u{10ffff}]{0,6}") {
            let end = prefix_end(&prefix);
            let in_range = prefix.as_str() <= value.as_str() && value < end;
            prop_assert_eq!(in_range, value.starts_with(&prefix));
        }
    }
}
