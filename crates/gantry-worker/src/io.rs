//! What a handler receives and returns: [`Inputs`] with typed getters, and [`TaskOutput`], either plain outputs built
//! with [`outputs()`] or a dynamic spec.

use gantry_core::model::{Literal, LiteralMap};

use crate::dynamic::DynamicSpec;
use crate::error::TaskError;
use crate::literal::{FromLiteral, IntoLiteral, LiteralError};

/// The resolved inputs of an attempt, one per input of the task's interface (defaults filled in by the server).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inputs {
    literals: LiteralMap,
}

impl Inputs {
    /// Wraps a literal map.
    pub fn new(literals: LiteralMap) -> Self {
        Inputs { literals }
    }

    /// The input `name` as a `T`: `inputs.get::<i64>("index")?`. A missing input reads as `None` for `Option<T>`
    /// and is an error otherwise; a literal of the wrong kind is a non-recoverable user error naming the input.
    pub fn get<T: FromLiteral>(&self, name: &str) -> Result<T, TaskError> {
        let read = match self.literals.get(name) {
            Some(literal) => T::from_literal(literal),
            None => T::from_missing(),
        };
        read.map_err(|error| input_error(name, error))
    }

    /// The raw literal of input `name`, if present.
    pub fn literal(&self, name: &str) -> Option<&Literal> {
        self.literals.get(name)
    }

    /// Every input.
    pub fn literals(&self) -> &LiteralMap {
        &self.literals
    }

    /// Every input, by value.
    pub fn into_literals(self) -> LiteralMap {
        self.literals
    }
}

fn input_error(name: &str, error: LiteralError) -> TaskError {
    let location = format!("{name}{}", error.path);
    TaskError::user(format!("input {location:?}: {}", error.message)).with_code("bad_input")
}

impl From<LiteralMap> for Inputs {
    fn from(literals: LiteralMap) -> Self {
        Inputs::new(literals)
    }
}

/// Starts building a task's outputs: `outputs().set("total", 3i64).set("name", "x")`.
pub fn outputs() -> Outputs {
    Outputs::default()
}

/// A task's outputs under construction; one per output of its interface.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    literals: LiteralMap,
}

impl Outputs {
    /// Sets output `name`, replacing an earlier value.
    #[must_use]
    pub fn set(mut self, name: impl Into<String>, value: impl IntoLiteral) -> Self {
        self.literals.insert(name.into(), value.into_literal());
        self
    }

    /// Sets output `name` in place, for loops.
    pub fn insert(&mut self, name: impl Into<String>, value: impl IntoLiteral) {
        self.literals.insert(name.into(), value.into_literal());
    }

    /// The literals set so far.
    pub fn into_literals(self) -> LiteralMap {
        self.literals
    }
}

/// What a successful handler returns.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutput {
    /// The task's outputs, one per output of its interface.
    Outputs(LiteralMap),
    /// The task is dynamic: run these nodes, and assemble the outputs from the spec's output bindings.
    Dynamic(DynamicSpec),
}

impl TaskOutput {
    /// A task with no outputs.
    pub fn none() -> Self {
        TaskOutput::Outputs(LiteralMap::new())
    }
}

impl From<Outputs> for TaskOutput {
    fn from(outputs: Outputs) -> Self {
        TaskOutput::Outputs(outputs.literals)
    }
}

impl From<LiteralMap> for TaskOutput {
    fn from(outputs: LiteralMap) -> Self {
        TaskOutput::Outputs(outputs)
    }
}

impl From<DynamicSpec> for TaskOutput {
    fn from(spec: DynamicSpec) -> Self {
        TaskOutput::Dynamic(spec)
    }
}
