//! Gantry's example tasks, in project `demo`, domain `dev`, version `1`, and a worker that runs them.
//!
//! - `other_task(index: integer) -> other_task_out: integer` returns `index * 2`.
//! - `generate_others(tasks_count: integer) -> out: list<integer>` is the seed's dynamic task (cache version `1`):
//!   it yields `tasks_count` × `other_task(index = i)` and binds `out` to the list of their outputs, so
//!   `tasks_count = 5` gives `[0, 2, 4, 6, 8]`.
//! - `nested_dynamic(depth: integer, width: integer) -> total: list<integer>` nests dynamics: at depth 1 it yields
//!   `width` × `other_task`; deeper, `width` × `nested_dynamic(depth - 1, width)` and a `flatten_lists` node that
//!   concatenates their totals. `depth = 3, width = 2` gives three levels of dynamic parents and
//!   `[0, 2, 0, 2, 0, 2, 0, 2]`.
//! - `flatten_lists(lists: list<list<integer>>) -> flat: list<integer>` is that reduce step.
//! - `fail_task(message: string)` fails with a non-recoverable user error whose message includes `message`.
//! - `choose_plan(n: integer) -> out: integer` picks a launch plan by its input, as the seed describes: above 10 it
//!   starts `double_hundred` (`other_task` with `index` fixed to 100), otherwise `double` (`other_task(index = n)`),
//!   and returns what the child execution returns. The launch plans are [`launch_plans`].
//! - `gated_double() -> out: integer` waits for people: a gate waits for the signal `factor` (an integer, `gantry
//!   signal set <execution> factor 21`), `other_task` doubles it, and an approval gate waits for `publish` (`gantry
//!   approve <execution> publish`) before the doubled value becomes `out` (`gantry reject` fails it).
//!
//! It depends only on the worker SDK and the core model; never on the engine, the store or the server.
#![forbid(unsafe_code)]

pub mod cross_language;

use gantry_core::model::{Identifier, LaunchPlan, Literal, LiteralMap, LiteralType, ResourceKind};
use gantry_worker::{
    DynamicSpec, Inputs, IntoBinding, TaskContext, TaskDef, TaskError, TaskOutput, WorkerBuilder, outputs,
};

/// The project of every example task: the default one of the SDKs and the CLI.
pub const PROJECT: &str = gantry_worker::DEFAULT_PROJECT;
/// The domain of every example task: the default one of the SDKs and the CLI.
pub const DOMAIN: &str = gantry_worker::DEFAULT_DOMAIN;
/// The version of every example task.
pub const VERSION: &str = "1";

fn def(name: &str) -> TaskDef {
    TaskDef::new(PROJECT, DOMAIN, name, VERSION)
}

fn integers() -> LiteralType {
    LiteralType::collection(LiteralType::Integer)
}

/// `other_task(index: integer) -> other_task_out: integer`, returning `index * 2`.
pub fn other_task_def() -> TaskDef {
    def("other_task")
        .input("index", LiteralType::Integer)
        .output("other_task_out", LiteralType::Integer)
}

/// `generate_others(tasks_count: integer) -> out: list<integer>`: the seed's dynamic task, cached under version `1`.
pub fn generate_others_def() -> TaskDef {
    def("generate_others")
        .input("tasks_count", LiteralType::Integer)
        .output("out", integers())
        .cache("1")
}

/// `nested_dynamic(depth: integer, width: integer) -> total: list<integer>`: dynamics nested `depth` levels deep.
pub fn nested_dynamic_def() -> TaskDef {
    def("nested_dynamic")
        .input("depth", LiteralType::Integer)
        .input("width", LiteralType::Integer)
        .output("total", integers())
}

/// `flatten_lists(lists: list<list<integer>>) -> flat: list<integer>`: concatenates lists, in order.
pub fn flatten_lists_def() -> TaskDef {
    def("flatten_lists")
        .input("lists", LiteralType::collection(integers()))
        .output("flat", integers())
}

/// `fail_task(message: string)`: always fails, with a non-recoverable user error quoting `message`.
pub fn fail_task_def() -> TaskDef {
    def("fail_task").input("message", LiteralType::String)
}

/// `choose_plan(n: integer) -> out: integer`: a dynamic task that starts one of two launch plans.
pub fn choose_plan_def() -> TaskDef {
    def("choose_plan")
        .input("n", LiteralType::Integer)
        .output("out", LiteralType::Integer)
}

/// `gated_double() -> out: integer`: a dynamic task whose nodes wait for a signal and an approval.
pub fn gated_double_def() -> TaskDef {
    def("gated_double").output("out", LiteralType::Integer)
}

fn example_id(name: &str) -> Identifier {
    Identifier::new(PROJECT, DOMAIN, name, VERSION)
}

/// The launch plans `choose_plan` starts: `double` runs `other_task`; `double_hundred` runs it with `index` fixed to
/// 100. Register them once the tasks are registered.
pub fn launch_plans() -> Vec<LaunchPlan> {
    let plan = |name: &str, fixed: LiteralMap| LaunchPlan {
        id: example_id(name),
        target: example_id("other_task"),
        target_kind: ResourceKind::Task,
        default_inputs: LiteralMap::new(),
        fixed_inputs: fixed,
        max_parallelism: None,
        timeout: None,
        schedule: None,
    };
    vec![
        plan("double", LiteralMap::new()),
        plan(
            "double_hundred",
            LiteralMap::from([("index".to_owned(), Literal::Integer(100))]),
        ),
    ]
}

/// The seed's two tasks: `other_task` and `generate_others`.
pub fn seed_tasks() -> Vec<TaskDef> {
    vec![other_task_def(), generate_others_def()]
}

/// Every example task: the seed's, `nested_dynamic`, `flatten_lists`, `fail_task`, `choose_plan` and `gated_double`.
pub fn all_tasks() -> Vec<TaskDef> {
    vec![
        other_task_def(),
        generate_others_def(),
        nested_dynamic_def(),
        flatten_lists_def(),
        fail_task_def(),
        choose_plan_def(),
        gated_double_def(),
    ]
}

/// A worker builder with the handler of every example task registered; set concurrency and the rest, then build.
pub fn seed_worker(endpoint: impl Into<String>) -> WorkerBuilder {
    gantry_worker::Worker::builder(endpoint)
        .task(other_task_def(), other_task)
        .task(generate_others_def(), generate_others)
        .task(nested_dynamic_def(), nested_dynamic)
        .task(flatten_lists_def(), flatten_lists)
        .task(fail_task_def(), fail_task)
        .task(choose_plan_def(), choose_plan)
        .task(gated_double_def(), gated_double)
}

/// Doubles its input.
pub async fn other_task(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let index: i64 = inputs.get("index")?;
    let doubled = index
        .checked_mul(2)
        .ok_or_else(|| TaskError::user(format!("index {index} is too large to double")))?;
    Ok(outputs().set("other_task_out", doubled).into())
}

/// The seed's generator: one `other_task` per index, and `out` bound to the list of their outputs. A `tasks_count`
/// past the server's spec limits fails the attempt with a non-recoverable `spec_too_large` at the first node over.
pub async fn generate_others(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let tasks_count: i64 = inputs.get("tasks_count")?;
    Ok(TaskOutput::Dynamic(generate_others_spec(
        ctx.dynamic_spec(),
        tasks_count,
    )?))
}

/// The spec `generate_others` yields for `tasks_count`, built on `spec` (empty, with the server's limits).
pub fn generate_others_spec(mut spec: DynamicSpec, tasks_count: i64) -> Result<DynamicSpec, TaskError> {
    let other_task = other_task_def();
    let mut res = Vec::new();
    for i in 0..tasks_count {
        let task = spec.task(&other_task, [("index", i.into_binding())])?;
        res.push(task.output("other_task_out"));
    }
    spec.set_output("out", res);
    Ok(spec)
}

/// Yields `width` leaves at depth 1, else `width` nested children and a `flatten_lists` node over their totals.
pub async fn nested_dynamic(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let depth: i64 = inputs.get("depth")?;
    let width: i64 = inputs.get("width")?;
    if width < 0 {
        return Err(TaskError::user(format!("width must not be negative, got {width}")));
    }
    Ok(TaskOutput::Dynamic(nested_dynamic_spec(
        ctx.dynamic_spec(),
        depth,
        width,
    )?))
}

/// The spec `nested_dynamic` yields for `depth` and `width`, built on `spec`.
pub fn nested_dynamic_spec(mut spec: DynamicSpec, depth: i64, width: i64) -> Result<DynamicSpec, TaskError> {
    if depth <= 0 {
        spec.set_output("total", Vec::<i64>::new());
        return Ok(spec);
    }
    if depth == 1 {
        let leaves = (0..width)
            .map(|i| {
                let leaf = spec.task(&other_task_def(), [("index", i.into_binding())])?;
                Ok(leaf.output("other_task_out"))
            })
            .collect::<Result<Vec<_>, TaskError>>()?;
        spec.set_output("total", leaves);
        return Ok(spec);
    }
    let nested = nested_dynamic_def();
    let totals = (0..width)
        .map(|_| {
            let child = spec.task(
                &nested,
                [("depth", (depth - 1).into_binding()), ("width", width.into_binding())],
            )?;
            Ok(child.output("total"))
        })
        .collect::<Result<Vec<_>, TaskError>>()?;
    let flatten = spec.task(&flatten_lists_def(), [("lists", totals.into_binding())])?;
    spec.set_output("total", flatten.output("flat"));
    Ok(spec)
}

/// Concatenates its input lists.
pub async fn flatten_lists(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let lists: Vec<Vec<i64>> = inputs.get("lists")?;
    Ok(outputs().set("flat", lists.concat()).into())
}

/// Starts `double_hundred` above 10, `double(index = n)` otherwise, and returns the child execution's result.
pub async fn choose_plan(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let n: i64 = inputs.get("n")?;
    Ok(TaskOutput::Dynamic(choose_plan_spec(ctx.dynamic_spec(), n)?))
}

/// The spec `choose_plan` yields for `n`, built on `spec`: one launch-plan node.
pub fn choose_plan_spec(mut spec: DynamicSpec, n: i64) -> Result<DynamicSpec, TaskError> {
    let child = if n > 10 {
        spec.launch_plan(&example_id("double_hundred"), Vec::<(&str, _)>::new())?
    } else {
        spec.launch_plan(&example_id("double"), [("index", n.into_binding())])?
    };
    spec.set_output("out", child.output("other_task_out"));
    Ok(spec)
}

/// Waits for the signal `factor`, doubles it, and waits for the approval `publish` before returning it.
pub async fn gated_double(ctx: TaskContext, _inputs: Inputs) -> Result<TaskOutput, TaskError> {
    Ok(TaskOutput::Dynamic(gated_double_spec(ctx.dynamic_spec())?))
}

/// The spec `gated_double` yields, built on `spec`: `factor` -> `other_task` -> approval `publish`.
pub fn gated_double_spec(mut spec: DynamicSpec) -> Result<DynamicSpec, TaskError> {
    let factor = spec.wait_for_input("factor", LiteralType::Integer, None)?;
    let doubled = spec.task(
        &other_task_def(),
        [("index", factor.output(gantry_worker::SIGNAL_OUTPUT).into_binding())],
    )?;
    let published = spec.approve(doubled.output("other_task_out"), "publish", None)?;
    spec.set_output("out", published.output(gantry_worker::SIGNAL_OUTPUT));
    Ok(spec)
}

/// Fails as asked.
pub async fn fail_task(_ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let message: String = inputs.get("message")?;
    Err(TaskError::user(format!("fail_task failed as asked: {message}")).with_code("asked_to_fail"))
}

#[cfg(test)]
mod tests;
