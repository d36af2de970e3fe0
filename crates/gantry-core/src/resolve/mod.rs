//! Binding resolution: turning bindings into literals once the values they reference exist, assembling a workflow's
//! (or dynamic parent's) outputs, evaluating branch conditions, and the arithmetic of partial success.
//!
//! Everything here is pure. Values come in through an [`OutputSource`]; the engine decides where they live.

mod branch;
mod conform;
mod error;
mod path;
mod success;

#[cfg(test)]
mod proptests;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::marker::PhantomData;

use crate::model::{Binding, BindingData, Literal, LiteralMap, Promise, Variable};

pub use branch::{BranchChoice, evaluate, select_branch};
pub use conform::{conform, task_outputs};
pub use error::{ResolveError, VarKind};
pub use path::{struct_value_to_literal, value_at_path};
pub use success::{Outcome, criteria_from_min_successes, outcome, required_successes};

/// Where resolved values come from: the outputs of finished nodes, and the inputs of the enclosing workflow.
pub trait OutputSource {
    /// The output `name` of node `node_id`, or `None` if it does not exist (yet). An empty `node_id` means the
    /// enclosing workflow's (or dynamic parent's) inputs, and `name` then names one of them.
    fn output(&self, node_id: &str, name: &str) -> Option<&Literal>;
}

/// Outputs keyed by node id, with the enclosing workflow's inputs under the empty id `""`.
impl OutputSource for BTreeMap<String, LiteralMap> {
    fn output(&self, node_id: &str, name: &str) -> Option<&Literal> {
        self.get(node_id)?.get(name)
    }
}

/// Outputs keyed by node id, with the enclosing workflow's inputs under the empty id `""`.
impl OutputSource for HashMap<String, LiteralMap> {
    fn output(&self, node_id: &str, name: &str) -> Option<&Literal> {
        self.get(node_id)?.get(name)
    }
}

impl<S: OutputSource + ?Sized> OutputSource for &S {
    fn output(&self, node_id: &str, name: &str) -> Option<&Literal> {
        (**self).output(node_id, name)
    }
}

/// An [`OutputSource`] backed by a closure `(node_id, name) -> Option<&Literal>`; build one with [`from_fn`].
pub struct FnSource<'d, F> {
    lookup: F,
    _data: PhantomData<&'d Literal>,
}

impl<F> std::fmt::Debug for FnSource<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnSource")
    }
}

/// Adapts a closure that borrows values from elsewhere into an [`OutputSource`].
pub fn from_fn<'d, F>(lookup: F) -> FnSource<'d, F>
where
    F: Fn(&str, &str) -> Option<&'d Literal>,
{
    FnSource {
        lookup,
        _data: PhantomData,
    }
}

impl<'d, F> OutputSource for FnSource<'d, F>
where
    F: Fn(&str, &str) -> Option<&'d Literal>,
{
    fn output(&self, node_id: &str, name: &str) -> Option<&Literal> {
        (self.lookup)(node_id, name)
    }
}

/// Resolves one binding: a literal is itself, a promise is looked up and followed along its attribute path, and
/// collections and maps of bindings resolve element by element. The result is not yet conformed to any type.
pub fn resolve_binding(data: &BindingData, source: &dyn OutputSource) -> Result<Literal, ResolveError> {
    match data {
        BindingData::Literal(literal) => Ok(literal.clone()),
        BindingData::Promise(promise) => resolve_promise(promise, source),
        BindingData::Collection(items) => items
            .iter()
            .map(|item| resolve_binding(item, source))
            .collect::<Result<Vec<_>, _>>()
            .map(Literal::Collection),
        BindingData::Map(items) => items
            .iter()
            .map(|(key, item)| Ok((key.clone(), resolve_binding(item, source)?)))
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map(Literal::Map),
    }
}

fn resolve_promise(promise: &Promise, source: &dyn OutputSource) -> Result<Literal, ResolveError> {
    let Some(value) = source.output(&promise.node_id, &promise.output) else {
        return Err(ResolveError::new("value not available").at_promise(promise));
    };
    value_at_path(value, &promise.attr_path).map_err(|error| error.at_promise(promise))
}

/// Resolves every declared input of a node: from its binding, conformed to the input's type, or from its default.
/// An input that is neither bound nor defaulted, a binding of an undeclared input and a second binding of the same
/// input are errors.
pub fn resolve_inputs(
    bindings: &[Binding],
    inputs: &[Variable],
    source: &dyn OutputSource,
) -> Result<LiteralMap, ResolveError> {
    resolve_variables(bindings, inputs, source, VarKind::Input)
}

/// Assembles the outputs of a workflow or dynamic parent from its output bindings, each conformed to the declared
/// output's type. Every declared output must be bound (or have a default); bindings of undeclared outputs are errors.
pub fn assemble_outputs(
    bindings: &[Binding],
    outputs: &[Variable],
    source: &dyn OutputSource,
) -> Result<LiteralMap, ResolveError> {
    resolve_variables(bindings, outputs, source, VarKind::Output)
}

fn resolve_variables(
    bindings: &[Binding],
    variables: &[Variable],
    source: &dyn OutputSource,
    kind: VarKind,
) -> Result<LiteralMap, ResolveError> {
    let declared: BTreeSet<&str> = variables.iter().map(|v| v.name.as_str()).collect();
    let mut by_name: BTreeMap<&str, &Binding> = BTreeMap::new();
    for binding in bindings {
        if !declared.contains(binding.var.as_str()) {
            return Err(ResolveError::new(format!("no such {kind} is declared")).for_var(kind, &binding.var));
        }
        if by_name.insert(binding.var.as_str(), binding).is_some() {
            return Err(ResolveError::new("bound more than once").for_var(kind, &binding.var));
        }
    }

    let mut resolved = LiteralMap::new();
    for variable in variables {
        let value = match (by_name.get(variable.name.as_str()), &variable.default) {
            (Some(binding), _) => resolve_one(binding, variable, source),
            (None, Some(default)) => {
                conform(default.clone(), &variable.ty).map_err(|error| error.with_message_prefix("default"))
            }
            (None, None) => Err(ResolveError::new("not bound and has no default")),
        };
        let value = value.map_err(|error| error.for_var(kind, &variable.name))?;
        resolved.insert(variable.name.clone(), value);
    }
    Ok(resolved)
}

fn resolve_one(binding: &Binding, variable: &Variable, source: &dyn OutputSource) -> Result<Literal, ResolveError> {
    let value = resolve_binding(&binding.data, source)?;
    conform(value, &variable.ty).map_err(|error| match &binding.data {
        // A conformance error of a single promise is about the value that promise produced: say which.
        BindingData::Promise(promise) => error.at_promise(promise),
        _ => error,
    })
}

#[cfg(test)]
mod tests;
