//! Cross-language dynamics: a Rust dynamic task whose children are Python tasks.
//!
//! - `rust_fans_out_python(count: integer) -> out: list<integer>` yields `count` × the Python task
//!   `demo/dev/py_square@1` (`x: integer -> out: integer`, queue `python`, run by a Python worker of the SDK in
//!   `sdk/python`) and binds `out` to the list of their outputs: `count = 4` gives `[0, 1, 4, 9]`.
//!
//! The Python task is named by its id and queue only; its template is embedded in the spec, so the spec compiles
//! whether or not the Python worker registered it yet. The Python side of the example (a Python dynamic task that
//! yields Rust tasks, among them this one) is in `sdk/python/tests/test_cross_language.py`.

use gantry_core::model::LiteralType;
use gantry_worker::{DynamicSpec, Inputs, IntoBinding, TaskContext, TaskDef, TaskError, TaskOutput, WorkerBuilder};

use crate::{DOMAIN, PROJECT, VERSION};

/// The queue Python workers poll by default.
pub const PYTHON_QUEUE: &str = "python";

/// `py_square(x: integer) -> out: integer` on queue `python`: the Python task, as Rust names it.
pub fn python_square_def() -> TaskDef {
    TaskDef::new(PROJECT, DOMAIN, "py_square", VERSION)
        .input("x", LiteralType::Integer)
        .output("out", LiteralType::Integer)
        .queue(PYTHON_QUEUE)
}

/// `rust_fans_out_python(count: integer) -> out: list<integer>`: a Rust dynamic task of Python children.
pub fn rust_fans_out_python_def() -> TaskDef {
    TaskDef::new(PROJECT, DOMAIN, "rust_fans_out_python", VERSION)
        .input("count", LiteralType::Integer)
        .output("out", LiteralType::collection(LiteralType::Integer))
}

/// Adds the cross-language tasks' handlers to a worker (the example worker binary runs them).
pub fn with_cross_language_tasks(builder: WorkerBuilder) -> WorkerBuilder {
    builder.task(rust_fans_out_python_def(), rust_fans_out_python)
}

/// Yields `count` × `py_square(x = i)`.
pub async fn rust_fans_out_python(ctx: TaskContext, inputs: Inputs) -> Result<TaskOutput, TaskError> {
    let count: i64 = inputs.get("count")?;
    if count < 0 {
        return Err(TaskError::user(format!("count must not be negative, got {count}")));
    }
    Ok(TaskOutput::Dynamic(rust_fans_out_python_spec(
        ctx.dynamic_spec(),
        count,
    )?))
}

/// The spec `rust_fans_out_python` yields for `count`, built on `spec`.
pub fn rust_fans_out_python_spec(mut spec: DynamicSpec, count: i64) -> Result<DynamicSpec, TaskError> {
    let square = python_square_def();
    spec.embed(&square);
    let squares = (0..count)
        .map(|x| Ok(spec.task(&square, [("x", x.into_binding())])?.output("out")))
        .collect::<Result<Vec<_>, TaskError>>()?;
    spec.set_output("out", squares);
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use gantry_core::model::{BindingData, NodeTarget};

    use super::*;

    #[test]
    fn the_spec_runs_the_python_task_on_its_queue() {
        let spec = rust_fans_out_python_spec(DynamicSpec::new(), 3)
            .expect("within the limits")
            .into_job_spec();
        assert_eq!(spec.nodes.len(), 3);
        assert!(
            spec.nodes
                .iter()
                .all(|node| node.target == NodeTarget::Task(python_square_def().id().clone()))
        );
        assert_eq!(spec.tasks.len(), 1);
        assert_eq!(spec.tasks[0].metadata.queue, PYTHON_QUEUE);
        let BindingData::Collection(items) = &spec.outputs[0].data else {
            panic!("out binds a collection of promises");
        };
        assert_eq!(items.len(), 3);
    }
}
