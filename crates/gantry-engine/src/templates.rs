//! Registered templates: registration, lookup, and loading what a workflow or spec references into the core's
//! in-memory [`Registry`] before compiling. Registered templates never change (a key is registered once), so they are
//! cached in memory for the life of the process.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use gantry_core::compile::Registry;
use gantry_core::model::{Identifier, LaunchPlan, Node, ResourceKind, TaskTemplate, WorkflowTemplate, references};
use gantry_store::{ResourceKind as StoredKind, Tx};

use crate::codec;
use crate::error::{EngineError, EngineResult};

/// Process-wide cache of registered templates, keyed by their identifier.
#[derive(Debug, Default)]
pub(crate) struct TemplateCache {
    tasks: Mutex<HashMap<Identifier, Arc<TaskTemplate>>>,
    workflows: Mutex<HashMap<Identifier, Arc<WorkflowTemplate>>>,
    launch_plans: Mutex<HashMap<Identifier, Arc<LaunchPlan>>>,
}

fn cached<T>(map: &Mutex<HashMap<Identifier, Arc<T>>>, id: &Identifier) -> Option<Arc<T>> {
    map.lock().unwrap_or_else(|p| p.into_inner()).get(id).cloned()
}

fn remember<T>(map: &Mutex<HashMap<Identifier, Arc<T>>>, id: &Identifier, value: Arc<T>) {
    map.lock().unwrap_or_else(|p| p.into_inner()).insert(id.clone(), value);
}

impl TemplateCache {
    pub async fn task(&self, tx: &mut dyn Tx, id: &Identifier) -> EngineResult<Option<Arc<TaskTemplate>>> {
        if let Some(task) = cached(&self.tasks, id) {
            return Ok(Some(task));
        }
        let Some(row) = tx.get_resource(StoredKind::Task, &codec::resource_key(id)).await? else {
            return Ok(None);
        };
        let task = Arc::new(codec::decode_task(&row.template)?);
        remember(&self.tasks, id, task.clone());
        Ok(Some(task))
    }

    pub async fn workflow(&self, tx: &mut dyn Tx, id: &Identifier) -> EngineResult<Option<Arc<WorkflowTemplate>>> {
        if let Some(workflow) = cached(&self.workflows, id) {
            return Ok(Some(workflow));
        }
        let Some(row) = tx.get_resource(StoredKind::Workflow, &codec::resource_key(id)).await? else {
            return Ok(None);
        };
        let workflow = Arc::new(codec::decode_workflow(&row.template)?);
        remember(&self.workflows, id, workflow.clone());
        Ok(Some(workflow))
    }

    pub async fn launch_plan(&self, tx: &mut dyn Tx, id: &Identifier) -> EngineResult<Option<Arc<LaunchPlan>>> {
        if let Some(plan) = cached(&self.launch_plans, id) {
            return Ok(Some(plan));
        }
        let Some(row) = tx
            .get_resource(StoredKind::LaunchPlan, &codec::resource_key(id))
            .await?
        else {
            return Ok(None);
        };
        let plan = Arc::new(codec::decode_launch_plan(&row.template)?);
        remember(&self.launch_plans, id, plan.clone());
        Ok(Some(plan))
    }

    /// The task a task node runs, which must exist (it was checked when the node's graph compiled).
    pub async fn require_task(&self, tx: &mut dyn Tx, id: &Identifier) -> EngineResult<Arc<TaskTemplate>> {
        self.task(tx, id)
            .await?
            .ok_or_else(|| EngineError::Internal(format!("task {id} vanished after it was compiled against")))
    }

    /// Loads every registered template that `nodes` (and the sub-workflows they reference, transitively) name into
    /// a registry for the compiler. Names that are not registered are left out: the compiler reports them.
    pub async fn registry_for(&self, tx: &mut dyn Tx, nodes: &[Node], skip: &Registry) -> EngineResult<Registry> {
        self.registry_within(tx, nodes, skip, None).await
    }

    /// [`Templates::registry_for`], with the nodes' own references restricted to templates of `project` when given
    /// (what a worker's dynamic spec may use under authentication): a reference elsewhere stays unresolved, so the
    /// compiler reports it as a template that is not registered. What those templates refer to in turn was checked
    /// when they were registered.
    pub async fn registry_within(
        &self,
        tx: &mut dyn Tx,
        nodes: &[Node],
        skip: &Registry,
        project: Option<&str>,
    ) -> EngineResult<Registry> {
        let mut registry = skip.clone();
        let mut pending = references(nodes);
        if let Some(project) = project {
            pending.retain(|(_, id)| id.project == project);
        }
        let mut seen = BTreeSet::new();
        while let Some((kind, id)) = pending.pop() {
            if !seen.insert((kind, id.clone())) {
                continue;
            }
            match kind {
                ResourceKind::Task => {
                    if let Some(task) = self.task(tx, &id).await? {
                        registry.add_task((*task).clone());
                    }
                }
                ResourceKind::Workflow => {
                    if let Some(workflow) = self.workflow(tx, &id).await? {
                        pending.extend(references(&workflow.nodes));
                        registry.add_workflow((*workflow).clone());
                    }
                }
                ResourceKind::LaunchPlan => {
                    let Some(plan) = self.launch_plan(tx, &id).await? else {
                        continue;
                    };
                    let interface = match plan.target_kind {
                        ResourceKind::Task => self.task(tx, &plan.target).await?.map(|t| t.interface.clone()),
                        _ => self.workflow(tx, &plan.target).await?.map(|w| w.interface.clone()),
                    };
                    if let Some(interface) = interface {
                        registry.add_launch_plan((*plan).clone(), &interface);
                    }
                }
            }
        }
        Ok(registry)
    }
}
