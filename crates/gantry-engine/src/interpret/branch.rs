//! Branch nodes: the branch's inputs are resolved when it starts, the core selects the arm
//! (`resolve::select_branch`), and every arm becomes a child: the one taken runs with its bindings resolved to
//! literals (they refer to the graph around the branch), the others are skipped.

use gantry_core::model::{BranchNode, ElseArm, ExecutionError, LiteralMap, Node};
use gantry_core::resolve::{self, BranchChoice, OutputSource};

use super::Children;
use super::start::{StartResult, literalize, resolution_error};
use crate::batch::{Batch, NodeKey};

impl Batch<'_> {
    pub(super) fn prepare_branch(
        &mut self,
        key: &NodeKey,
        node: &Node,
        branch: &BranchNode,
        source: &dyn OutputSource,
    ) -> StartResult {
        let mut vars = LiteralMap::new();
        for binding in &node.inputs {
            let value = resolve::resolve_binding(&binding.data, source).map_err(resolution_error)?;
            vars.insert(binding.var.clone(), value);
        }
        let choice = resolve::select_branch(branch, &vars).map_err(resolution_error)?;
        let mut arms: Vec<Node> = branch.cases.iter().map(|case| (*case.then_node).clone()).collect();
        if let Some(ElseArm::Node(otherwise)) = &branch.otherwise {
            arms.push((**otherwise).clone());
        }
        let taken = match choice {
            BranchChoice::Case(index) => index,
            BranchChoice::Else => branch.cases.len(),
            BranchChoice::Error(message) => {
                return Err(ExecutionError::user("branch_else", message).recoverable(false));
            }
        };
        arms[taken] = literalize(&arms[taken], source).map_err(resolution_error)?;
        self.prepared.insert(key.clone(), Children::Arms { nodes: arms, taken });
        Ok(vars)
    }
}
