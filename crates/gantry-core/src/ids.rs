//! Exact, scoped ids of node executions.
//!
//! A top-level node's execution id is the node's own id (`n0`). A child of a composite node (a dynamic task's spec, a
//! sub-workflow, a branch arm, an array element) is scoped by its parent's id, the parent's attempt and its own id:
//! `parent/attempt/child`, so nested dynamics that all call their children `dn0, dn1, ...` never collide, and a retry of
//! a dynamic parent gets fresh children. Node ids never contain `/` (see [`validate_local_id`]), so the path is exact and
//! can be parsed back; nothing is hashed or shortened.

use std::fmt;

use crate::names::{MAX_SCOPED_NODE_ID_BYTES, quote};

/// Longest local node id accepted.
pub const MAX_LOCAL_ID_LEN: usize = 63;

/// Why a local node id or a scoped id is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("node id is empty")]
    Empty,
    #[error("node id {} is longer than {MAX_LOCAL_ID_LEN} characters", quote(.0))]
    TooLong(String),
    #[error("node id {} may only contain letters, digits, '_' and '-'", quote(.0))]
    BadCharacter(String),
    #[error("scoped node id {} is not of the form node(/attempt/node)*", quote(.0))]
    BadScope(String),
    #[error("scoped node id {} is longer than {MAX_SCOPED_NODE_ID_BYTES} bytes", quote(.0))]
    ScopeTooLong(String),
}

/// Checks a node id as written in a workflow or spec: 1 to 63 characters of `[A-Za-z0-9_-]`.
pub fn validate_local_id(id: &str) -> Result<(), IdError> {
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_LOCAL_ID_LEN {
        return Err(IdError::TooLong(id.to_owned()));
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return Err(IdError::BadCharacter(id.to_owned()));
    }
    Ok(())
}

/// The id of a node execution within its execution, exact at any depth.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeExecutionId(String);

impl NodeExecutionId {
    /// A top-level node of the execution's workflow.
    pub fn top(local_id: &str) -> Self {
        debug_assert!(validate_local_id(local_id).is_ok(), "invalid node id {local_id:?}");
        NodeExecutionId(local_id.to_owned())
    }

    /// The child `local_id` created by attempt `parent_attempt` of this node.
    pub fn child(&self, parent_attempt: u32, local_id: &str) -> Self {
        debug_assert!(validate_local_id(local_id).is_ok(), "invalid node id {local_id:?}");
        NodeExecutionId(format!("{}/{parent_attempt}/{local_id}", self.0))
    }

    /// Parses and validates a scoped id received from outside.
    pub fn parse(scoped: &str) -> Result<Self, IdError> {
        if scoped.len() > MAX_SCOPED_NODE_ID_BYTES {
            return Err(IdError::ScopeTooLong(scoped.to_owned()));
        }
        let parts: Vec<&str> = scoped.split('/').collect();
        if parts.len().is_multiple_of(2) {
            return Err(IdError::BadScope(scoped.to_owned()));
        }
        for (i, part) in parts.iter().enumerate() {
            if i % 2 == 0 {
                validate_local_id(part)?;
            } else if part.parse::<u32>().is_err() {
                return Err(IdError::BadScope(scoped.to_owned()));
            }
        }
        Ok(NodeExecutionId(scoped.to_owned()))
    }

    /// The parent node execution and the parent's attempt that created this node, or `None` at the top level.
    pub fn parent(&self) -> Option<(NodeExecutionId, u32)> {
        let (rest, _local) = self.0.rsplit_once('/')?;
        let (parent, attempt) = rest.rsplit_once('/')?;
        let attempt = attempt.parse().ok()?;
        Some((NodeExecutionId(parent.to_owned()), attempt))
    }

    /// The node's id as written in its workflow or spec.
    pub fn local_id(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// 0 for a top-level node, 1 for its children, and so on.
    pub fn depth(&self) -> usize {
        self.0.bytes().filter(|&b| b == b'/').count() / 2
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for NodeExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn nested_dynamics_reusing_child_ids_stay_distinct() {
        let gen_node = NodeExecutionId::top("gen");
        let a = gen_node.child(0, "dn0").child(0, "dn0");
        let b = gen_node.child(1, "dn0").child(0, "dn0");
        assert_eq!(a.as_str(), "gen/0/dn0/0/dn0");
        assert_ne!(a, b);
        assert_eq!(a.depth(), 2);
        assert_eq!(a.local_id(), "dn0");
        let (parent, attempt) = a.parent().expect("has a parent");
        assert_eq!(parent.as_str(), "gen/0/dn0");
        assert_eq!(attempt, 0);
        assert_eq!(gen_node.parent(), None);
    }

    #[test]
    fn parse_rejects_malformed_scopes() {
        assert!(NodeExecutionId::parse("a/0/b").is_ok());
        assert_eq!(NodeExecutionId::parse("a/b"), Err(IdError::BadScope("a/b".into())));
        assert_eq!(NodeExecutionId::parse("a/x/b"), Err(IdError::BadScope("a/x/b".into())));
        assert_eq!(NodeExecutionId::parse("a/0/"), Err(IdError::Empty));
        assert!(matches!(NodeExecutionId::parse("a b"), Err(IdError::BadCharacter(_))));
        assert!(matches!(
            NodeExecutionId::parse(&"x".repeat(64)),
            Err(IdError::TooLong(_))
        ));
    }

    proptest! {
        #[test]
        fn scoped_ids_round_trip(path in prop::collection::vec(("[a-z][a-z0-9_-]{0,10}", 0u32..5), 1..12)) {
            let mut id = NodeExecutionId::top(&path[0].0);
            for (local, attempt) in &path[1..] {
                let child = id.child(*attempt, local);
                prop_assert_eq!(child.parent(), Some((id.clone(), *attempt)));
                prop_assert_eq!(child.local_id(), local.as_str());
                id = child;
            }
            prop_assert_eq!(NodeExecutionId::parse(id.as_str()), Ok(id.clone()));
            prop_assert_eq!(id.depth(), path.len() - 1);
        }
    }
}
