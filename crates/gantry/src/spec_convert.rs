//! Turns a [`SpecFile`] into the core's templates. Literals in bindings and launch-plan inputs are typed by the
//! interface of what they feed, taken from the same file or, for anything else, fetched from the server beforehand
//! (see [`external_references`]).

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, anyhow, bail};
use gantry_core::model::{
    Binding, BindingData, CatchUp, ContainerSpec, FailurePolicy, Identifier, LaunchPlan, LiteralMap, LiteralType, Node,
    NodeTarget, OverrideSet, ResourceKind, RetryPolicy, Schedule, ScheduleKind, TaskMetadata, TaskTemplate,
    TypedInterface, Variable, WorkflowTemplate,
};
use serde_json::Value;

use crate::reference::{Reference, parse_promise};
use crate::spec_file::{LaunchPlanSpec, NodeSpec, OrderedMap, RetriesSpec, SpecFile, TaskSpec, Text, WorkflowSpec};
use gantry_text::json::literal_from_json;
use gantry_text::time_text::parse_duration;
use gantry_text::types::{format_type, parse_type};

/// What a file registers, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registrations {
    /// Task templates, registered first.
    pub tasks: Vec<TaskTemplate>,
    /// Workflow templates, registered after the tasks, in file order.
    pub workflows: Vec<WorkflowTemplate>,
    /// Launch plans, registered last.
    pub launch_plans: Vec<LaunchPlan>,
}

/// Known interfaces, by kind and id: of what the files define and of what was fetched from the server.
#[derive(Debug, Clone, Default)]
pub struct Interfaces(HashMap<(ResourceKind, Identifier), TypedInterface>);

impl Interfaces {
    /// Records the interface of `kind` `id`.
    pub fn insert(&mut self, kind: ResourceKind, id: Identifier, interface: TypedInterface) {
        self.0.insert((kind, id), interface);
    }

    /// Whether the interface of `kind` `id` is known.
    pub fn contains(&self, kind: ResourceKind, id: &Identifier) -> bool {
        self.0.contains_key(&(kind, id.clone()))
    }

    fn get(&self, kind: ResourceKind, id: &Identifier) -> anyhow::Result<&TypedInterface> {
        self.0
            .get(&(kind, id.clone()))
            .ok_or_else(|| anyhow!("{kind} {id} is not defined here nor registered"))
    }
}

fn text(value: &Option<Text>) -> Option<String> {
    value.as_ref().map(|t| t.0.clone())
}

/// The id of an entry, with the file's defaults for the parts it leaves out.
fn entry_id(file: &SpecFile, what: &str, name: &str, parts: [&Option<Text>; 3]) -> anyhow::Result<Identifier> {
    let pick = |own: &Option<Text>, default: &Option<Text>, part: &str| {
        text(own)
            .or_else(|| text(default))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                anyhow!("{what} {name:?}: {part} is required (set it on the entry or at the top of the file)")
            })
    };
    Ok(Identifier {
        project: pick(parts[0], &file.project, "project")?,
        domain: pick(parts[1], &file.domain, "domain")?,
        name: name.to_owned(),
        version: pick(parts[2], &file.version, "version")?,
    })
}

fn task_id(file: &SpecFile, task: &TaskSpec) -> anyhow::Result<Identifier> {
    entry_id(file, "task", &task.name, [&task.project, &task.domain, &task.version])
}

fn workflow_id(file: &SpecFile, workflow: &WorkflowSpec) -> anyhow::Result<Identifier> {
    entry_id(
        file,
        "workflow",
        &workflow.name,
        [&workflow.project, &workflow.domain, &workflow.version],
    )
}

fn launch_plan_id(file: &SpecFile, plan: &LaunchPlanSpec) -> anyhow::Result<Identifier> {
    entry_id(
        file,
        "launch plan",
        &plan.name,
        [&plan.project, &plan.domain, &plan.version],
    )
}

fn node_target(node: &NodeSpec, base: &Identifier) -> anyhow::Result<(ResourceKind, Identifier)> {
    let (kind, reference) = match (&node.task, &node.workflow, &node.launch_plan) {
        (Some(task), None, None) => (ResourceKind::Task, task),
        (None, Some(workflow), None) => (ResourceKind::Workflow, workflow),
        (None, None, Some(plan)) => (ResourceKind::LaunchPlan, plan),
        _ => bail!("node {:?}: set exactly one of task, workflow, launch_plan", node.id),
    };
    Ok((kind, Reference::parse(reference)?.resolve(base)))
}

fn plan_target(plan: &LaunchPlanSpec, base: &Identifier) -> anyhow::Result<(ResourceKind, Identifier)> {
    let (kind, reference) = match (&plan.task, &plan.workflow) {
        (Some(task), None) => (ResourceKind::Task, task),
        (None, Some(workflow)) => (ResourceKind::Workflow, workflow),
        _ => bail!("launch plan {:?}: set exactly one of task, workflow", plan.name),
    };
    Ok((kind, Reference::parse(reference)?.resolve(base)))
}

/// What the file refers to without defining it: interfaces to fetch from the server before [`convert`].
pub fn external_references(file: &SpecFile) -> anyhow::Result<Vec<(ResourceKind, Identifier)>> {
    let mut defined = Vec::new();
    for task in &file.tasks {
        defined.push((ResourceKind::Task, task_id(file, task)?));
    }
    for workflow in &file.workflows {
        defined.push((ResourceKind::Workflow, workflow_id(file, workflow)?));
    }
    for plan in &file.launch_plans {
        defined.push((ResourceKind::LaunchPlan, launch_plan_id(file, plan)?));
    }
    let mut references = Vec::new();
    for workflow in &file.workflows {
        let base = workflow_id(file, workflow)?;
        for node in &workflow.nodes {
            references.push(node_target(node, &base)?);
        }
    }
    for plan in &file.launch_plans {
        references.push(plan_target(plan, &launch_plan_id(file, plan)?)?);
    }
    references.retain(|reference| !defined.contains(reference));
    references.sort();
    references.dedup();
    Ok(references)
}

/// Converts a file; `interfaces` must hold every [external reference](external_references) and learns the file's
/// own definitions.
pub fn convert(file: &SpecFile, interfaces: &mut Interfaces) -> anyhow::Result<Registrations> {
    let mut out = Registrations::default();
    for task in &file.tasks {
        let template = convert_task(file, task).with_context(|| format!("task {:?}", task.name))?;
        interfaces.insert(ResourceKind::Task, template.id.clone(), template.interface.clone());
        out.tasks.push(template);
    }
    for workflow in &file.workflows {
        let template =
            convert_workflow(file, workflow, interfaces).with_context(|| format!("workflow {:?}", workflow.name))?;
        interfaces.insert(ResourceKind::Workflow, template.id.clone(), template.interface.clone());
        out.workflows.push(template);
    }
    for plan in &file.launch_plans {
        let (launch_plan, target_interface) =
            convert_launch_plan(file, plan, interfaces).with_context(|| format!("launch plan {:?}", plan.name))?;
        let interface = launch_plan.interface(&target_interface);
        interfaces.insert(ResourceKind::LaunchPlan, launch_plan.id.clone(), interface);
        out.launch_plans.push(launch_plan);
    }
    Ok(out)
}

fn duration(value: &Option<Text>, what: &str) -> anyhow::Result<Option<gantry_core::model::Duration>> {
    value
        .as_ref()
        .map(|t| parse_duration(&t.0).map_err(|e| anyhow!("{what}: {e}")))
        .transpose()
}

fn retries(spec: &RetriesSpec) -> anyhow::Result<RetryPolicy> {
    let defaults = RetryPolicy::default();
    Ok(RetryPolicy {
        user_retries: spec.user,
        system_retries: spec.system,
        initial_backoff: duration(&spec.initial_backoff, "retries.initial_backoff")?
            .unwrap_or(defaults.initial_backoff),
        max_backoff: duration(&spec.max_backoff, "retries.max_backoff")?.unwrap_or(defaults.max_backoff),
    })
}

/// `name: type` or `name: {type, default, description}`.
fn variables(entries: &OrderedMap<Value>, what: &str, defaults_allowed: bool) -> anyhow::Result<Vec<Variable>> {
    entries
        .0
        .iter()
        .map(|(name, value)| {
            let variable = match value {
                Value::String(ty) => Variable::new(name, parse_type(ty).map_err(|e| anyhow!(e))?),
                Value::Object(object) => {
                    let Some(Value::String(ty)) = object.get("type") else {
                        bail!("{what} {name:?}: needs a type, as `{name}: integer` or `{name}: {{type: integer}}`");
                    };
                    if let Some(key) = object
                        .keys()
                        .find(|k| !["type", "default", "description"].contains(&k.as_str()))
                    {
                        bail!("{what} {name:?}: unknown key {key:?} (type, default, description)");
                    }
                    let mut variable = Variable::new(name, parse_type(ty).map_err(|e| anyhow!(e))?);
                    if let Some(default) = object.get("default") {
                        if !defaults_allowed {
                            bail!("{what} {name:?}: only inputs have defaults");
                        }
                        variable.default = Some(literal_from_json(default, &variable.ty, name)?);
                    }
                    if let Some(Value::String(description)) = object.get("description") {
                        variable.description = description.clone();
                    }
                    variable
                }
                _ => bail!("{what} {name:?}: expected a type such as integer or list<string>"),
            };
            Ok(variable)
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .with_context(|| format!("{what}s"))
}

fn convert_task(file: &SpecFile, task: &TaskSpec) -> anyhow::Result<TaskTemplate> {
    let defaults = TaskMetadata::default();
    let metadata = TaskMetadata {
        retries: task
            .retries
            .as_ref()
            .map(retries)
            .transpose()?
            .unwrap_or(defaults.retries),
        timeout: duration(&task.timeout, "timeout")?,
        queue_timeout: duration(&task.queue_timeout, "queue_timeout")?,
        cache: task.cache.unwrap_or(task.cache_version.is_some()),
        cache_version: text(&task.cache_version).unwrap_or_default(),
        cache_serializable: task.cache_serializable,
        queue: task.queue.clone().unwrap_or(defaults.queue),
    };
    Ok(TaskTemplate {
        id: task_id(file, task)?,
        interface: TypedInterface {
            inputs: variables(&task.inputs, "input", true)?,
            outputs: variables(&task.outputs, "output", false)?,
        },
        metadata,
        container: task.container.as_ref().map(|c| ContainerSpec {
            image: c.image.clone(),
            command: c.command.clone(),
            args: c.args.clone(),
            env: c.env.clone(),
            resources: Default::default(),
        }),
        plugin: None,
    })
}

fn convert_workflow(file: &SpecFile, spec: &WorkflowSpec, interfaces: &Interfaces) -> anyhow::Result<WorkflowTemplate> {
    let id = workflow_id(file, spec)?;
    let inputs = variables(&spec.inputs, "input", true)?;
    let mut nodes = Vec::new();
    for node in &spec.nodes {
        nodes.push(convert_node(node, &id, interfaces).with_context(|| format!("node {:?}", node.id))?);
    }
    let mut outputs = Vec::new();
    let mut bindings = Vec::new();
    for (name, value) in &spec.outputs.0 {
        let Value::Object(object) = value else {
            bail!("output {name:?}: expected {{type: T, from: node.output}}");
        };
        let Some(Value::String(ty)) = object.get("type") else {
            bail!("output {name:?}: needs a type");
        };
        let ty = parse_type(ty).map_err(|e| anyhow!("output {name:?}: {e}"))?;
        let rest: serde_json::Map<String, Value> = object
            .iter()
            .filter(|(k, _)| !["type", "description"].contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if rest.is_empty() {
            bail!("output {name:?}: needs a binding (from, list, map or value)");
        }
        let data = binding(&Value::Object(rest), Some(&ty), &format!("output {name:?}"))?;
        outputs.push(Variable::new(name, ty));
        bindings.push(Binding::new(name, data));
    }
    let failure_policy = match spec.failure_policy.as_deref() {
        None | Some("fail_immediately") => FailurePolicy::FailImmediately,
        Some("fail_after_executable_nodes_complete") => FailurePolicy::FailAfterExecutableNodesComplete,
        Some(other) => bail!("failure_policy {other:?}: use fail_immediately or fail_after_executable_nodes_complete"),
    };
    Ok(WorkflowTemplate {
        id,
        interface: TypedInterface { inputs, outputs },
        nodes,
        outputs: bindings,
        failure_policy,
    })
}

fn convert_node(spec: &NodeSpec, base: &Identifier, interfaces: &Interfaces) -> anyhow::Result<Node> {
    let (kind, target_id) = node_target(spec, base)?;
    let interface = interfaces.get(kind, &target_id)?;
    let mut inputs = Vec::new();
    for (name, value) in &spec.inputs.0 {
        let Some(variable) = interface.input(name) else {
            bail!(
                "{kind} {target_id} has no input {name:?} (its inputs: {})",
                describe(&interface.inputs)
            );
        };
        inputs.push(Binding::new(
            name,
            binding(value, Some(&variable.ty), &format!("input {name:?}"))?,
        ));
    }
    let target = match kind {
        ResourceKind::Task => NodeTarget::Task(target_id),
        ResourceKind::Workflow => NodeTarget::SubWorkflow(target_id),
        ResourceKind::LaunchPlan => NodeTarget::LaunchPlan(target_id),
    };
    Ok(Node {
        id: spec.id.clone(),
        inputs,
        upstream: spec.upstream.clone(),
        target,
        overrides: OverrideSet {
            retries: spec.retries.as_ref().map(retries).transpose()?,
            timeout: duration(&spec.timeout, "timeout")?,
            ..OverrideSet::default()
        }
        .into(),
    })
}

fn describe(variables: &[Variable]) -> String {
    if variables.is_empty() {
        return "none".to_owned();
    }
    variables
        .iter()
        .map(|v| format!("{}: {}", v.name, format_type(&v.ty)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A binding of a value of type `ty` (unknown inside unions and schemaless values).
fn binding(value: &Value, ty: Option<&LiteralType>, what: &str) -> anyhow::Result<BindingData> {
    if let Value::Object(object) = value
        && object.len() == 1
        && let Some((form, inner)) = object.iter().next()
    {
        match (form.as_str(), inner) {
            ("from", Value::String(text)) => {
                return Ok(BindingData::Promise(
                    parse_promise(text).with_context(|| what.to_owned())?,
                ));
            }
            ("list", Value::Array(items)) => {
                let element = ty.and_then(element_type);
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| binding(item, element, &format!("{what}[{i}]")))
                    .collect::<anyhow::Result<_>>()?;
                return Ok(BindingData::Collection(items));
            }
            ("map", Value::Object(entries)) => {
                let mut items = BTreeMap::new();
                for (key, item) in entries {
                    let value_type = ty.and_then(|t| value_type(t, key));
                    items.insert(key.clone(), binding(item, value_type, &format!("{what}[{key:?}]"))?);
                }
                return Ok(BindingData::Map(items));
            }
            ("value", inner) => return literal(inner, ty, what),
            ("from" | "list" | "map", _) => bail!("{what}: `{form}` has the wrong shape"),
            _ => {}
        }
    }
    literal(value, ty, what)
}

fn literal(value: &Value, ty: Option<&LiteralType>, what: &str) -> anyhow::Result<BindingData> {
    let Some(ty) = ty else {
        bail!("{what}: cannot tell the type of literal {value}; bind it where the type is a list, map or struct");
    };
    Ok(BindingData::Literal(
        literal_from_json(value, ty, what).map_err(|e| anyhow!("{what}: {}", e.message))?,
    ))
}

fn element_type(ty: &LiteralType) -> Option<&LiteralType> {
    match ty {
        LiteralType::Collection(element) => Some(element),
        LiteralType::Union(variants) => variants.iter().find_map(element_type),
        _ => None,
    }
}

fn value_type<'a>(ty: &'a LiteralType, key: &str) -> Option<&'a LiteralType> {
    match ty {
        LiteralType::Map(value) => Some(value),
        LiteralType::Struct(s) => s.fields.get(key),
        LiteralType::Union(variants) => variants.iter().find_map(|v| value_type(v, key)),
        _ => None,
    }
}

fn convert_launch_plan(
    file: &SpecFile,
    spec: &LaunchPlanSpec,
    interfaces: &Interfaces,
) -> anyhow::Result<(LaunchPlan, TypedInterface)> {
    let id = launch_plan_id(file, spec)?;
    let (kind, target) = plan_target(spec, &id)?;
    let interface = interfaces.get(kind, &target)?.clone();
    let typed = |entries: &OrderedMap<Value>, what: &str| -> anyhow::Result<LiteralMap> {
        let mut literals = LiteralMap::new();
        for (name, value) in &entries.0 {
            let Some(variable) = interface.input(name) else {
                bail!(
                    "{what} {name:?}: {kind} {target} has no such input (its inputs: {})",
                    describe(&interface.inputs)
                );
            };
            literals.insert(name.clone(), literal_from_json(value, &variable.ty, name)?);
        }
        Ok(literals)
    };
    let launch_plan = LaunchPlan {
        default_inputs: typed(&spec.default_inputs, "default input")?,
        fixed_inputs: typed(&spec.fixed_inputs, "fixed input")?,
        id,
        target,
        target_kind: kind,
        max_parallelism: spec.max_parallelism,
        timeout: duration(&spec.timeout, "timeout")?,
        schedule: spec.schedule.as_ref().map(schedule).transpose()?,
    };
    Ok((launch_plan, interface))
}

fn schedule(spec: &crate::spec_file::ScheduleSpec) -> anyhow::Result<Schedule> {
    use crate::spec_file::CatchUpSpec;
    let kind = match (&spec.cron, &spec.fixed_rate) {
        (Some(expression), None) => ScheduleKind::Cron {
            expression: expression.clone(),
            time_zone: spec.time_zone.clone().unwrap_or_default(),
        },
        (None, Some(rate)) if spec.time_zone.is_none() => {
            ScheduleKind::FixedRate(parse_duration(&rate.0).map_err(|e| anyhow!("schedule.fixed_rate: {e}"))?)
        }
        (None, Some(_)) => bail!("schedule: a time_zone goes with a cron expression, not a fixed_rate"),
        _ => bail!("schedule: give exactly one of cron and fixed_rate"),
    };
    let catch_up = match (spec.catch_up, spec.catch_up_limit) {
        (CatchUpSpec::Skip, None) => CatchUp::Skip,
        (CatchUpSpec::Skip, Some(_)) => bail!("schedule: catch_up_limit goes with catch_up: run_missed"),
        (CatchUpSpec::RunMissed, limit) => CatchUp::RunMissed {
            limit: limit.unwrap_or(1),
        },
    };
    let schedule = Schedule {
        kind,
        kickoff_input: spec.kickoff_input.clone(),
        catch_up,
    };
    gantry_core::schedule::Ticks::new(&schedule).map_err(|problem| anyhow!("schedule: {problem}"))?;
    Ok(schedule)
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
