//! What a spec may reference beyond what it embeds: registered tasks, workflows and launch plans.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::model::{DynamicJobSpec, Identifier, LaunchPlan, TaskTemplate, TypedInterface, WorkflowTemplate};

/// A launch plan together with the interface its callers see (the target's, without fixed inputs and with the
/// plan's defaults), which is what a launch plan node is checked against.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedLaunchPlan {
    /// The launch plan as registered.
    pub plan: LaunchPlan,
    /// What callers bind: the target's inputs less the fixed ones, with the plan's defaults.
    pub interface: TypedInterface,
}

impl ResolvedLaunchPlan {
    /// Resolves `plan` against the interface of the workflow or task it starts.
    pub fn new(plan: LaunchPlan, target_interface: &TypedInterface) -> Self {
        let interface = plan.interface(target_interface);
        ResolvedLaunchPlan { plan, interface }
    }
}

/// Looks up registered templates by identifier. Templates are shared: the compiled graph keeps the ones it uses.
/// The compiler asks once per distinct identifier, so an implementation may be slow-ish (a cache over a store).
pub trait Resolver {
    /// The registered task `id`, if any.
    fn task(&self, id: &Identifier) -> Option<Arc<TaskTemplate>>;
    /// The registered workflow `id`, if any; node targets that name it run it as a sub-workflow.
    fn workflow(&self, id: &Identifier) -> Option<Arc<WorkflowTemplate>>;
    /// The registered launch plan `id`, resolved against its target's interface, if any.
    fn launch_plan(&self, id: &Identifier) -> Option<Arc<ResolvedLaunchPlan>>;
}

/// An in-memory [`Resolver`], for tests and for callers that load what a spec needs up front.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    tasks: BTreeMap<Identifier, Arc<TaskTemplate>>,
    workflows: BTreeMap<Identifier, Arc<WorkflowTemplate>>,
    launch_plans: BTreeMap<Identifier, Arc<ResolvedLaunchPlan>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers (or replaces) a task.
    pub fn add_task(&mut self, task: TaskTemplate) -> &mut Self {
        self.tasks.insert(task.id.clone(), Arc::new(task));
        self
    }

    /// Registers (or replaces) a workflow.
    pub fn add_workflow(&mut self, workflow: WorkflowTemplate) -> &mut Self {
        self.workflows.insert(workflow.id.clone(), Arc::new(workflow));
        self
    }

    /// Registers (or replaces) a launch plan, given the interface of the workflow or task it starts.
    pub fn add_launch_plan(&mut self, plan: LaunchPlan, target_interface: &TypedInterface) -> &mut Self {
        self.launch_plans.insert(
            plan.id.clone(),
            Arc::new(ResolvedLaunchPlan::new(plan, target_interface)),
        );
        self
    }
}

impl Resolver for Registry {
    fn task(&self, id: &Identifier) -> Option<Arc<TaskTemplate>> {
        self.tasks.get(id).cloned()
    }

    fn workflow(&self, id: &Identifier) -> Option<Arc<WorkflowTemplate>> {
        self.workflows.get(id).cloned()
    }

    fn launch_plan(&self, id: &Identifier) -> Option<Arc<ResolvedLaunchPlan>> {
        self.launch_plans.get(id).cloned()
    }
}

/// A dynamic spec's embedded templates in front of the registered ones: embedded templates shadow registered
/// templates with the same identifier.
pub(super) struct Embedded<'a> {
    tasks: HashMap<&'a Identifier, Arc<TaskTemplate>>,
    workflows: HashMap<&'a Identifier, Arc<WorkflowTemplate>>,
    base: &'a dyn Resolver,
}

impl<'a> Embedded<'a> {
    /// Indexes the spec's templates. Returns the identifiers embedded twice with different contents (the first
    /// occurrence wins).
    pub(super) fn new(spec: &'a DynamicJobSpec, base: &'a dyn Resolver) -> (Self, Vec<String>) {
        let mut conflicts = Vec::new();
        let mut tasks: HashMap<&Identifier, Arc<TaskTemplate>> = HashMap::with_capacity(spec.tasks.len());
        for task in &spec.tasks {
            match tasks.get(&task.id) {
                Some(existing) if **existing != *task => conflicts.push(format!("task {}", task.id)),
                Some(_) => {}
                None => {
                    tasks.insert(&task.id, Arc::new(task.clone()));
                }
            }
        }
        let mut workflows: HashMap<&Identifier, Arc<WorkflowTemplate>> =
            HashMap::with_capacity(spec.subworkflows.len());
        for workflow in &spec.subworkflows {
            match workflows.get(&workflow.id) {
                Some(existing) if **existing != *workflow => conflicts.push(format!("workflow {}", workflow.id)),
                Some(_) => {}
                None => {
                    workflows.insert(&workflow.id, Arc::new(workflow.clone()));
                }
            }
        }
        (Embedded { tasks, workflows, base }, conflicts)
    }
}

impl Resolver for Embedded<'_> {
    fn task(&self, id: &Identifier) -> Option<Arc<TaskTemplate>> {
        self.tasks.get(id).cloned().or_else(|| self.base.task(id))
    }

    fn workflow(&self, id: &Identifier) -> Option<Arc<WorkflowTemplate>> {
        self.workflows.get(id).cloned().or_else(|| self.base.workflow(id))
    }

    fn launch_plan(&self, id: &Identifier) -> Option<Arc<ResolvedLaunchPlan>> {
        self.base.launch_plan(id)
    }
}
