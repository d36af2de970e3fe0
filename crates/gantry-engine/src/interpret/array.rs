//! Array (map) nodes: one task node per element of the list inputs, ids `0`, `1`, ...; at most `parallelism` run at
//! once, the next starting when one settles (the core's `flow::child_settled` says which).

use gantry_core::compile::array_interface;
use gantry_core::model::{ArrayNode, Binding, Literal, LiteralMap, Node, NodeTarget};
use gantry_core::resolve::{self, OutputSource};
use gantry_core::state::NodePhase;

use super::Children;
use super::start::{StartResult, literalize, resolution_error};
use crate::batch::{Batch, NodeKey, sibling_id};
use crate::error::{EngineError, EngineResult};

impl Batch<'_> {
    pub(super) async fn prepare_array(
        &mut self,
        key: &NodeKey,
        node: &Node,
        array: &ArrayNode,
        source: &(dyn OutputSource + Sync),
    ) -> EngineResult<StartResult> {
        let NodeTarget::Task(task_id) = &array.node.target else {
            return Err(EngineError::Internal(format!(
                "array node {:?} runs a non-task node, which the compiler refuses",
                node.id
            )));
        };
        let task = self
            .shared
            .templates
            .require_task(self.rows.tx.as_mut(), task_id)
            .await?;
        let interface = array_interface(&task, &array.node, array.success);
        let inputs = match resolve::resolve_inputs(&node.inputs, &interface.inputs, source) {
            Ok(inputs) => inputs,
            Err(problem) => return Ok(Err(resolution_error(problem))),
        };
        let inner = match literalize(&array.node, source) {
            Ok(inner) => inner,
            Err(problem) => return Ok(Err(resolution_error(problem))),
        };
        match elements(&inner, &inputs) {
            Ok(nodes) => {
                let parallelism = array.parallelism;
                self.prepared
                    .insert(key.clone(), Children::Elements { nodes, parallelism });
                Ok(Ok(inputs))
            }
            Err(problem) => Ok(Err(resolution_error(problem))),
        }
    }

    /// Starts the element at `position` of the array node whose element `element` just settled, unless it started
    /// already. An element not created yet starts when it is created, if enough elements have settled by then.
    pub(super) async fn start_element(&mut self, element: &NodeKey, position: u64) -> EngineResult<()> {
        let next_key = (element.0, sibling_id(&element.1, &position.to_string()));
        self.rows
            .load_nodes(next_key.0, std::slice::from_ref(&next_key.1))
            .await?;
        if self
            .rows
            .held_node(&next_key)
            .is_some_and(|row| row.phase == NodePhase::NotStarted)
        {
            self.start_node(&next_key).await?;
        }
        Ok(())
    }
}

/// The element nodes of an array node: the inner node once per element, its broadcast inputs as they are and
/// element `i` of every list input bound as a literal.
fn elements(inner: &Node, lists: &LiteralMap) -> Result<Vec<Node>, String> {
    let mut columns: Vec<(&str, &Vec<Literal>)> = Vec::with_capacity(lists.len());
    for (name, value) in lists {
        match value.bare() {
            Literal::Collection(items) => columns.push((name, items)),
            Literal::None => columns.push((name, &EMPTY)),
            other => {
                return Err(format!(
                    "array input {} is not a list but {}",
                    gantry_core::names::quote(name),
                    other.kind_name()
                ));
            }
        }
    }
    let count = columns.first().map_or(0, |(_, items)| items.len());
    if let Some((name, items)) = columns.iter().find(|(_, items)| items.len() != count) {
        return Err(format!(
            "array inputs differ in length: {:?} has {count} elements, {name:?} has {}",
            columns[0].0,
            items.len()
        ));
    }
    Ok((0..count)
        .map(|i| {
            let mut node = inner.clone();
            node.id = i.to_string();
            node.upstream.clear();
            node.inputs.extend(
                columns
                    .iter()
                    .map(|(name, items)| Binding::literal(*name, items[i].clone())),
            );
            node
        })
        .collect())
}

static EMPTY: Vec<Literal> = Vec::new();
