//! Registering templates, creating executions and terminating them.

use std::sync::Arc;

use gantry_core::compile::{
    Registry, Resolver, SCOPE_DIGEST_CHARS, SCOPE_MARK, compile_workflow, derive_overridden, is_scoped_version,
};
use gantry_core::model::{
    Binding, Duration, FailurePolicy, Identifier, LaunchPlan, LiteralMap, Node, ResourceKind, TaskTemplate,
    TypedInterface, WorkflowTemplate,
};
use gantry_core::resolve;
use gantry_core::state::{ExecutionEvent, ExecutionPhase};
use gantry_store::{ExecutionRow, PutOutcome, ResourceKind as StoredKind, ResourceRow};
use gantry_telemetry::TraceContext;
use uuid::Uuid;

use crate::batch::Batch;
use crate::codec;
use crate::error::{EngineError, EngineResult};
use crate::interpret::Children;

/// What an execution runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Task(Identifier),
    Workflow(Identifier),
    LaunchPlan(Identifier),
}

/// A request to start an execution.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateExecution {
    pub project: String,
    pub domain: String,
    /// Client-chosen name, unique per project and domain; a repeated request with the same name returns the
    /// existing execution. `None` names it after its id.
    pub name: Option<String>,
    pub target: Target,
    pub inputs: LiteralMap,
    pub max_parallelism: Option<u32>,
    pub overwrite_cache: bool,
    /// Limit on the execution's running time, from its creation; `None` takes the launch plan's, if any.
    pub timeout: Option<Duration>,
    /// A new execution, or one made from an earlier one.
    pub origin: Origin,
    /// The W3C trace context it is submitted in, stored with it and handed to the workers with its attempts.
    pub trace_context: Option<TraceContext>,
}

/// How an execution came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Origin {
    #[default]
    Created,
    /// The same target and inputs as this execution; nothing reused.
    Relaunched(Uuid),
    /// The same target and inputs as this execution, reusing what succeeded in it.
    Recovered(Uuid),
    /// Started by its launch plan's schedule.
    Scheduled,
}

impl Origin {
    fn parts(self) -> (&'static str, Option<Uuid>) {
        match self {
            Origin::Created => ("created", None),
            Origin::Relaunched(source) => ("relaunched", Some(source)),
            Origin::Recovered(source) => ("recovered", Some(source)),
            Origin::Scheduled => ("scheduled", None),
        }
    }
}

/// A template to register.
#[derive(Debug, Clone, PartialEq)]
pub enum Registration {
    Task(TaskTemplate),
    Workflow(WorkflowTemplate),
    LaunchPlan(LaunchPlan),
}

impl Batch<'_> {
    pub async fn register(&mut self, registration: &Registration) -> EngineResult<PutOutcome> {
        let (what, id) = match registration {
            Registration::Task(task) => ("task", &task.id),
            Registration::Workflow(workflow) => ("workflow", &workflow.id),
            Registration::LaunchPlan(plan) => ("launch plan", &plan.id),
        };
        if is_scoped_version(&id.version) {
            return Err(EngineError::InvalidArgument(format!(
                "{what} {id}: a version ending in `{SCOPE_MARK}` and {SCOPE_DIGEST_CHARS} hex digits names a \
                 template scoped to a dynamic spec or to a workflow's node, and cannot be registered"
            )));
        }
        let (kind, id, template) = match registration {
            Registration::Task(task) => {
                check_interface(&task.interface, &format!("task {}", task.id))?;
                (StoredKind::Task, &task.id, codec::encode_task(task))
            }
            Registration::Workflow(workflow) => {
                let mut registry = self
                    .shared
                    .templates
                    .registry_for(self.rows.tx.as_mut(), &workflow.nodes, &Registry::new())
                    .await?;
                // Nodes whose overrides change their template run derived templates, registered with the workflow,
                // which is kept pointing at them.
                let mut scoped = WorkflowTemplate::clone(workflow);
                let derived = derive_overridden(&mut scoped.nodes, &|id| registry.task(id), &codec::template_digest);
                for (_, task) in &derived {
                    registry.add_task(task.clone());
                }
                compile_workflow(&scoped, &registry).map_err(|errors| {
                    EngineError::InvalidArgument(format!("workflow {} does not compile: {errors}", workflow.id))
                })?;
                for (_, task) in derived {
                    let row = ResourceRow {
                        key: codec::resource_key(&task.id),
                        template: codec::encode_task(&task),
                        created_at: self.now,
                    };
                    match self.rows.tx.put_resource(StoredKind::Task, &row).await {
                        Err(gantry_store::StoreError::Conflict(message)) => {
                            return Err(EngineError::AlreadyExists(message));
                        }
                        other => drop(other?),
                    }
                }
                (StoredKind::Workflow, &workflow.id, codec::encode_workflow(&scoped))
            }
            Registration::LaunchPlan(plan) => {
                let (_, target) = self.launch_plan_target(plan).await?;
                if plan.schedule.is_some() {
                    let inputs = crate::schedules::input_kinds(&target);
                    gantry_core::schedule::check_kickoff(plan, &inputs).map_err(|problem| {
                        EngineError::InvalidArgument(format!("launch plan {}: {problem}", plan.id))
                    })?;
                }
                (StoredKind::LaunchPlan, &plan.id, codec::encode_launch_plan(plan))
            }
        };
        let row = ResourceRow {
            key: codec::resource_key(id),
            template,
            created_at: self.now,
        };
        let outcome = match self.rows.tx.put_resource(kind, &row).await {
            Err(gantry_store::StoreError::Conflict(message)) => return Err(EngineError::AlreadyExists(message)),
            other => other?,
        };
        if let Registration::LaunchPlan(plan) = registration {
            self.record_schedule(plan).await?;
        }
        Ok(outcome)
    }

    /// The interface of a launch plan's target, which must be registered.
    pub async fn launch_plan_target(&mut self, plan: &LaunchPlan) -> EngineResult<(WorkflowTemplate, TypedInterface)> {
        let workflow = match plan.target_kind {
            ResourceKind::Task => {
                let task = self.shared.templates.task(self.rows.tx.as_mut(), &plan.target).await?;
                let task = task.ok_or_else(|| {
                    EngineError::NotFound(format!(
                        "launch plan {}: task {} is not registered",
                        plan.id, plan.target
                    ))
                })?;
                task_workflow(&task)
            }
            ResourceKind::Workflow => {
                let workflow = self
                    .shared
                    .templates
                    .workflow(self.rows.tx.as_mut(), &plan.target)
                    .await?;
                let workflow = workflow.ok_or_else(|| {
                    EngineError::NotFound(format!(
                        "launch plan {}: workflow {} is not registered",
                        plan.id, plan.target
                    ))
                })?;
                (*workflow).clone()
            }
            ResourceKind::LaunchPlan => {
                return Err(EngineError::InvalidArgument(format!(
                    "launch plan {} must target a task or a workflow",
                    plan.id
                )));
            }
        };
        for (name, value) in plan.fixed_inputs.iter().chain(&plan.default_inputs) {
            let var = workflow.interface.input(name).ok_or_else(|| {
                EngineError::InvalidArgument(format!(
                    "launch plan {}: input {name:?} is not an input of {}",
                    plan.id, plan.target
                ))
            })?;
            resolve::conform(value.clone(), &var.ty).map_err(|e| {
                EngineError::InvalidArgument(format!(
                    "launch plan {}: input {}: {e}",
                    plan.id,
                    gantry_core::names::quote(name)
                ))
            })?;
        }
        let interface = workflow.interface.clone();
        Ok((workflow, interface))
    }

    /// Creates an execution, or returns the existing one of the same name. `Ok((row, created))`.
    pub async fn create_execution(&mut self, request: &CreateExecution) -> EngineResult<(ExecutionRow, bool)> {
        if let Some(name) = &request.name
            && let Some(existing) = self
                .shared
                .store
                .find_execution(&request.project, &request.domain, name)
                .await?
        {
            if existing.target != target_id(&request.target).to_string()
                || existing.inputs != codec::encode_literals(&request.inputs)
            {
                return Err(EngineError::AlreadyExists(format!(
                    "execution {name:?} already exists in {}/{} with a different target or inputs",
                    request.project, request.domain
                )));
            }
            return Ok((existing, false));
        }
        let id = self.new_execution(request, None).await?;
        self.run().await?;
        Ok((self.rows.execution(id).await?.clone(), true))
    }

    /// Inserts a new execution (a child execution when `parent` names a launch-plan node) and queues its start.
    pub async fn new_execution(
        &mut self,
        request: &CreateExecution,
        parent: Option<(Uuid, String)>,
    ) -> EngineResult<Uuid> {
        let (workflow, fixed, defaults, max_parallelism, plan_timeout) = self.target_workflow(request).await?;
        let inputs = check_inputs(&workflow.interface, &request.inputs, &fixed, &defaults)?;
        let registry = self
            .shared
            .templates
            .registry_for(self.rows.tx.as_mut(), &workflow.nodes, &Registry::new())
            .await?;
        let graph = compile_workflow(&workflow, &registry)
            .map_err(|errors| EngineError::InvalidArgument(format!("{} does not compile: {errors}", workflow.id)))?;

        let id = Uuid::now_v7();
        let (parent_execution_id, parent_node_id) = parent.unzip();
        let (origin, source_execution_id) = request.origin.parts();
        let timeout_ms = request.timeout.or(plan_timeout).map(|t| t.as_millis());
        if timeout_ms.is_some() {
            self.wake_sweeper();
        }
        let row = ExecutionRow {
            id,
            project: request.project.clone(),
            domain: request.domain.clone(),
            name: request.name.clone().unwrap_or_else(|| id.simple().to_string()),
            target_kind: target_kind(&request.target).to_owned(),
            target: target_id(&request.target).to_string(),
            workflow: codec::encode_workflow(&workflow),
            phase: ExecutionPhase::Queued,
            inputs: codec::encode_literals(&inputs),
            outputs: None,
            error: None,
            // A limit beyond what the store holds is no limit in practice: clamped, never wrapped to a negative one.
            max_parallelism: request
                .max_parallelism
                .or(max_parallelism)
                .map(|n| i32::try_from(n).unwrap_or(i32::MAX)),
            overwrite_cache: request.overwrite_cache,
            timeout_ms,
            deadline: timeout_ms.map(|t| self.now.saturating_add(t)),
            parent_execution_id,
            parent_node_id,
            origin: origin.to_owned(),
            source_execution_id,
            trace_context: request.trace_context.as_ref().map(TraceContext::to_stored),
            nodes_total: 0,
            nodes_succeeded: 0,
            nodes_failed: 0,
            nodes_skipped: 0,
            created_at: self.now,
            updated_at: self.now,
            started_at: None,
            finished_at: None,
        };
        self.rows.insert_execution(row).await?;
        if let Origin::Recovered(source) = request.origin {
            // Signals set on the original stay set: its gates that did not finish open as soon as they start again.
            self.rows.flush().await?;
            self.rows.tx.copy_signals(source, id).await?;
        }
        self.shared.remember_plan(
            id,
            "",
            0,
            Arc::new(gantry_core::state::CompositePlan::workflow(&workflow)),
        );
        self.prepared
            .insert((id, String::new()), Children::Graph(Arc::new(graph)));
        self.execution_events.push_back((id, ExecutionEvent::Start));
        Ok(id)
    }

    /// The workflow a request runs, with a launch plan's fixed and default inputs, parallelism and timeout.
    async fn target_workflow(
        &mut self,
        request: &CreateExecution,
    ) -> EngineResult<(WorkflowTemplate, LiteralMap, LiteralMap, Option<u32>, Option<Duration>)> {
        match &request.target {
            Target::Task(id) => {
                let task = self.shared.templates.task(self.rows.tx.as_mut(), id).await?;
                let task = task.ok_or_else(|| EngineError::NotFound(format!("task {id} is not registered")))?;
                Ok((task_workflow(&task), LiteralMap::new(), LiteralMap::new(), None, None))
            }
            Target::Workflow(id) => {
                let workflow = self.shared.templates.workflow(self.rows.tx.as_mut(), id).await?;
                let workflow =
                    workflow.ok_or_else(|| EngineError::NotFound(format!("workflow {id} is not registered")))?;
                Ok(((*workflow).clone(), LiteralMap::new(), LiteralMap::new(), None, None))
            }
            Target::LaunchPlan(id) => {
                let plan = self.shared.templates.launch_plan(self.rows.tx.as_mut(), id).await?;
                let plan = plan.ok_or_else(|| EngineError::NotFound(format!("launch plan {id} is not registered")))?;
                let (workflow, _) = self.launch_plan_target(&plan).await?;
                Ok((
                    workflow,
                    plan.fixed_inputs.clone(),
                    plan.default_inputs.clone(),
                    plan.max_parallelism,
                    plan.timeout,
                ))
            }
        }
    }

    pub async fn terminate(&mut self, id: Uuid, reason: &str) -> EngineResult<ExecutionRow> {
        let row = self.rows.execution(id).await?;
        let phase = row.phase;
        if matches!(phase, ExecutionPhase::Aborting | ExecutionPhase::Aborted) {
            return Ok(row.clone());
        }
        if phase.is_terminal() {
            return Err(EngineError::FailedPrecondition(format!(
                "execution {id} is already {phase}"
            )));
        }
        self.execution_events.push_back((
            id,
            ExecutionEvent::Terminate {
                reason: reason.to_owned(),
            },
        ));
        self.run().await?;
        Ok(self.rows.execution(id).await?.clone())
    }
}

/// A request that runs `old`'s target with its inputs again.
pub(crate) fn rerun_of(
    old: &ExecutionRow,
    name: Option<String>,
    overwrite_cache: bool,
    origin: Origin,
) -> EngineResult<CreateExecution> {
    let id = codec::parse_identifier(&old.target)?;
    let target = match old.target_kind.as_str() {
        "task" => Target::Task(id),
        "workflow" => Target::Workflow(id),
        _ => Target::LaunchPlan(id),
    };
    Ok(CreateExecution {
        project: old.project.clone(),
        domain: old.domain.clone(),
        name,
        target,
        inputs: codec::decode_literals(&old.inputs)?,
        max_parallelism: old.max_parallelism.map(|n| n.max(0) as u32),
        overwrite_cache,
        // The same time allowed, from the new execution's creation.
        timeout: old.timeout_ms.map(Duration::from_millis),
        origin,
        // A rerun is a new submission: its own request's context (the caller sets it), not the old execution's.
        trace_context: None,
    })
}

fn target_id(target: &Target) -> &Identifier {
    match target {
        Target::Task(id) | Target::Workflow(id) | Target::LaunchPlan(id) => id,
    }
}

fn target_kind(target: &Target) -> &'static str {
    match target {
        Target::Task(_) => "task",
        Target::Workflow(_) => "workflow",
        Target::LaunchPlan(_) => "launch_plan",
    }
}

/// A task run on its own is a workflow of one node `n0` that passes every input through and returns every output.
pub(crate) fn task_workflow(task: &TaskTemplate) -> WorkflowTemplate {
    let inputs = task
        .interface
        .inputs
        .iter()
        .map(|v| Binding::promise(&v.name, "", &v.name))
        .collect();
    let outputs = task
        .interface
        .outputs
        .iter()
        .map(|v| Binding::promise(&v.name, "n0", &v.name))
        .collect();
    WorkflowTemplate {
        id: task.id.clone(),
        interface: task.interface.clone(),
        nodes: vec![Node::task("n0", task.id.clone(), inputs)],
        outputs,
        failure_policy: FailurePolicy::FailImmediately,
    }
}

/// Checks an execution's inputs against the interface: no unknown input, none that a launch plan fixes, each of its
/// declared type; fills in fixed inputs and defaults. Every problem is reported, each naming its input.
fn check_inputs(
    interface: &TypedInterface,
    given: &LiteralMap,
    fixed: &LiteralMap,
    defaults: &LiteralMap,
) -> EngineResult<LiteralMap> {
    let mut problems = Vec::new();
    for name in given.keys() {
        if interface.input(name).is_none() {
            problems.push(format!("input {} is not declared", gantry_core::names::quote(name)));
        } else if fixed.contains_key(name) {
            problems.push(format!(
                "input {} is fixed by the launch plan",
                gantry_core::names::quote(name)
            ));
        }
    }
    let mut inputs = LiteralMap::new();
    for var in &interface.inputs {
        let value = given
            .get(&var.name)
            .or_else(|| fixed.get(&var.name))
            .or_else(|| defaults.get(&var.name))
            .or(var.default.as_ref());
        match value {
            None => problems.push(format!("input {:?} ({}) is required", var.name, var.ty)),
            Some(value) => match resolve::conform(value.clone(), &var.ty) {
                Ok(value) => {
                    inputs.insert(var.name.clone(), value);
                }
                Err(e) => problems.push(format!("input {:?}: {e}", var.name)),
            },
        }
    }
    if problems.is_empty() {
        Ok(inputs)
    } else {
        Err(EngineError::InvalidArgument(problems.join("; ")))
    }
}

/// Rejects an interface with repeated names.
fn check_interface(interface: &TypedInterface, what: &str) -> EngineResult<()> {
    for (kind, vars) in [("input", &interface.inputs), ("output", &interface.outputs)] {
        let mut seen = std::collections::BTreeSet::new();
        for var in vars {
            if !seen.insert(var.name.as_str()) {
                return Err(EngineError::InvalidArgument(format!(
                    "{what}: {kind} {:?} is declared twice",
                    var.name
                )));
            }
        }
    }
    Ok(())
}
