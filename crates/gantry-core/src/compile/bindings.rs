//! Pass 2 for bindings: promises must point at existing nodes and outputs (or the graph's inputs), attribute paths
//! must fit, and every binding's type must fit the variable it binds.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use crate::model::{AttrStep, Binding, BindingData, Identifier, LiteralType, Promise, TypedInterface, Variable};
use crate::typing::{PathType, TypeMismatch, check_literal, is_castable, literal_type_of, type_at_path, union_of};

use super::compiler::Compiler;
use super::error::{CompileError, CompileErrorCode};

/// A graph after pass 1: what promises in it can read.
pub(super) struct Scope<'a> {
    /// The graph's error path (empty at the top).
    pub path: &'a str,
    /// Who owns the graph's inputs and outputs, for messages.
    pub owner: &'static str,
    /// The graph's interface: empty-node-id promises read its inputs, output bindings bind its outputs.
    pub interface: &'a TypedInterface,
    pub index: HashMap<&'a str, usize>,
    /// Each node's interface after pass 1; `None` when its target is unknown.
    pub interfaces: Vec<Option<Arc<TypedInterface>>>,
}

/// What a promise reads: the node it waits for (none for the graph's inputs) and the type it yields (`None` when
/// that is only known at run time).
struct PromiseSource {
    node: Option<usize>,
    ty: Option<LiteralType>,
}

impl Scope<'_> {
    fn promise_source(&self, promise: &Promise) -> Result<PromiseSource, (CompileErrorCode, String)> {
        let (node, declared) = if promise.is_workflow_input() {
            match self.interface.input(&promise.output) {
                Some(variable) => (None, Some(&variable.ty)),
                None => {
                    return Err((
                        CompileErrorCode::UnknownOutput,
                        format!("{promise} reads an input {} does not have", self.owner),
                    ));
                }
            }
        } else {
            let Some(&index) = self.index.get(promise.node_id.as_str()) else {
                return Err((
                    CompileErrorCode::UnknownNode,
                    format!(
                        "{promise} reads node {}, which does not exist",
                        crate::names::quote(&promise.node_id)
                    ),
                ));
            };
            match &self.interfaces[index] {
                None => (Some(index), None),
                Some(interface) => match interface.output(&promise.output) {
                    Some(variable) => (Some(index), Some(&variable.ty)),
                    None => {
                        return Err((
                            CompileErrorCode::UnknownOutput,
                            format!(
                                "node {} has no output {}",
                                crate::names::quote(&promise.node_id),
                                crate::names::quote(&promise.output)
                            ),
                        ));
                    }
                },
            }
        };
        let ty = match declared.map(|ty| type_at_path(ty, &promise.attr_path)) {
            None | Some(Ok(PathType::Unknown)) => None,
            Some(Ok(PathType::Known(ty))) => Some(ty),
            Some(Err(error)) => {
                return Err((CompileErrorCode::InvalidAttributePath, format!("{promise}: {error}")));
            }
        };
        Ok(PromiseSource { node, ty })
    }

    /// Type mismatches of `data` against `expected`, each at its path inside the binding. Promises that do not
    /// resolve are skipped: they are reported on their own.
    fn mismatches(
        &self,
        data: &BindingData,
        expected: &LiteralType,
        path: &mut Vec<AttrStep>,
        out: &mut Vec<TypeMismatch>,
    ) {
        match data {
            BindingData::Literal(literal) => {
                if let Err(mismatch) = check_literal(literal, expected) {
                    out.push(mismatch.within(path));
                }
            }
            BindingData::Promise(promise) => {
                if let Ok(PromiseSource { ty: Some(ty), .. }) = self.promise_source(promise)
                    && !is_castable(&ty, expected)
                {
                    out.push(TypeMismatch::at(path, expected, format!("{ty} from {promise}")));
                }
            }
            BindingData::Collection(_) | BindingData::Map(_)
                if matches!(expected.untagged(), LiteralType::Union(_)) =>
            {
                let LiteralType::Union(variants) = expected.untagged() else {
                    return;
                };
                let fits = |variant: &LiteralType, path: &mut Vec<AttrStep>| {
                    let mut trial = Vec::new();
                    self.mismatches(data, variant, path, &mut trial);
                    trial.is_empty()
                };
                if !variants.iter().any(|variant| fits(variant, path)) {
                    out.push(TypeMismatch::at(path, expected, binding_kind(data)));
                }
            }
            BindingData::Collection(items) => {
                let LiteralType::Collection(element) = expected.untagged() else {
                    out.push(TypeMismatch::at(path, expected, binding_kind(data)));
                    return;
                };
                for (index, item) in items.iter().enumerate() {
                    path.push(AttrStep::Index(index as u32));
                    self.mismatches(item, element, path, out);
                    path.pop();
                }
            }
            BindingData::Map(entries) => {
                let LiteralType::Map(value) = expected.untagged() else {
                    out.push(TypeMismatch::at(path, expected, binding_kind(data)));
                    return;
                };
                for (key, entry) in entries {
                    path.push(AttrStep::Key(key.clone()));
                    self.mismatches(entry, value, path, out);
                    path.pop();
                }
            }
        }
    }

    /// The type a binding yields, as far as it is known before run time.
    pub fn infer_type(&self, data: &BindingData) -> Option<LiteralType> {
        match data {
            BindingData::Literal(literal) => Some(literal_type_of(literal)),
            BindingData::Promise(promise) => self.promise_source(promise).ok().and_then(|source| source.ty),
            BindingData::Collection(items) => {
                let types = items
                    .iter()
                    .map(|item| self.infer_type(item))
                    .collect::<Option<Vec<_>>>()?;
                Some(LiteralType::collection(union_of(types)))
            }
            BindingData::Map(entries) => {
                let types = entries
                    .values()
                    .map(|entry| self.infer_type(entry))
                    .collect::<Option<Vec<_>>>()?;
                Some(LiteralType::map(union_of(types)))
            }
        }
    }
}

fn binding_kind(data: &BindingData) -> &'static str {
    match data {
        BindingData::Literal(_) => "a literal",
        BindingData::Promise(_) => "a promise",
        BindingData::Collection(_) => "a collection of bindings",
        BindingData::Map(_) => "a map of bindings",
    }
}

/// What a node runs, named in messages (`task p/d/n@v`) only when one is needed.
#[derive(Clone, Copy)]
pub(super) enum Described<'a> {
    /// `task`, `workflow` or `launch plan`, and its identifier.
    Resource(&'static str, &'a Identifier),
    Text(&'static str),
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Described::Resource(kind, id) => write!(f, "{kind} {id}"),
            Described::Text(text) => f.write_str(text),
        }
    }
}

/// How to check one node's input bindings.
pub(super) struct InputCheck<'c> {
    /// The node's error path.
    pub path: &'c str,
    /// The inputs the target declares; `None` when unknown (or, for a branch, not declared): then only promises and
    /// repeated names are checked.
    pub declared: Option<&'c [Variable]>,
    /// What the node runs, for messages.
    pub target: Described<'c>,
    /// Names already bound elsewhere (an array node's inner node binds inputs shared by every element).
    pub already_bound: Option<&'c HashSet<&'c str>>,
}

impl Compiler<'_> {
    fn promise_errors(
        &mut self,
        scope: &Scope<'_>,
        error: &dyn Fn(CompileErrorCode, String) -> CompileError,
        data: &BindingData,
        mut deps: Option<&mut Vec<usize>>,
    ) {
        for promise in data.promises() {
            match scope.promise_source(promise) {
                Ok(source) => {
                    if let (Some(deps), Some(node)) = (deps.as_deref_mut(), source.node) {
                        deps.push(node);
                    }
                }
                Err((code, message)) => self.push(error(code, message)),
            }
        }
    }

    /// Checks a node's input bindings, adds the nodes they wait for to `deps`, and returns the names bound.
    pub fn check_inputs<'b>(
        &mut self,
        scope: &Scope<'_>,
        check: &InputCheck<'_>,
        bindings: &'b [Binding],
        deps: &mut Vec<usize>,
    ) -> HashSet<&'b str> {
        let mut bound = HashSet::with_capacity(bindings.len());
        for binding in bindings {
            let name = binding.var.as_str();
            let error = |code, message| CompileError::input(code, check.path, name, message);
            self.promise_errors(scope, &error, &binding.data, Some(deps));
            if check.already_bound.is_some_and(|names| names.contains(name)) {
                self.push(error(
                    CompileErrorCode::DuplicateBinding,
                    "the input is bound by both the array node and its inner node".to_owned(),
                ));
                continue;
            }
            if !bound.insert(name) {
                self.push(error(
                    CompileErrorCode::DuplicateBinding,
                    "the input is bound more than once".to_owned(),
                ));
                continue;
            }
            let Some(declared) = check.declared else {
                continue;
            };
            let Some(variable) = declared.iter().find(|v| v.name == name) else {
                self.push(error(
                    CompileErrorCode::UnknownInput,
                    format!("{} has no such input", check.target),
                ));
                continue;
            };
            let mut mismatches = Vec::new();
            scope.mismatches(&binding.data, &variable.ty, &mut Vec::new(), &mut mismatches);
            for mismatch in mismatches {
                self.push(error(CompileErrorCode::TypeMismatch, mismatch.to_string()));
            }
        }
        bound
    }

    /// Reports every declared input that is required (per `required`) but not bound.
    pub fn report_unbound(
        &mut self,
        path: &str,
        declared: &[Variable],
        bound: &HashSet<&str>,
        required: impl Fn(&Variable) -> bool,
    ) {
        for variable in declared {
            if !bound.contains(variable.name.as_str()) && required(variable) {
                self.push(CompileError::input(
                    CompileErrorCode::UnboundInput,
                    path,
                    &variable.name,
                    format!("the input ({}) is required and not bound", variable.ty),
                ));
            }
        }
    }

    /// Resolves a node's explicit upstream ids into `deps`.
    pub fn check_upstream(&mut self, scope: &Scope<'_>, path: &str, upstream: &[String], deps: &mut Vec<usize>) {
        for id in upstream {
            match scope.index.get(id.as_str()) {
                Some(&index) => deps.push(index),
                None => self.push(CompileError::node(
                    CompileErrorCode::UnknownNode,
                    path,
                    format!("upstream node {} does not exist", crate::names::quote(id)),
                )),
            }
        }
    }

    /// Checks the graph's output bindings against the outputs its interface declares.
    pub fn check_outputs(&mut self, scope: &Scope<'_>, outputs: &[Binding]) {
        let mut bound = HashSet::with_capacity(outputs.len());
        for binding in outputs {
            let name = binding.var.as_str();
            let error = |code, message| CompileError::output(code, scope.path, name, message);
            self.promise_errors(scope, &error, &binding.data, None);
            if !bound.insert(name) {
                self.push(error(
                    CompileErrorCode::DuplicateOutputBinding,
                    "the output is bound more than once".to_owned(),
                ));
                continue;
            }
            let Some(variable) = scope.interface.output(name) else {
                self.push(error(
                    CompileErrorCode::UnknownOutputBinding,
                    format!("{} declares no such output", scope.owner),
                ));
                continue;
            };
            let mut mismatches = Vec::new();
            scope.mismatches(&binding.data, &variable.ty, &mut Vec::new(), &mut mismatches);
            for mismatch in mismatches {
                self.push(error(CompileErrorCode::OutputTypeMismatch, mismatch.to_string()));
            }
        }
        for variable in &scope.interface.outputs {
            if !bound.contains(variable.name.as_str()) {
                self.push(CompileError::output(
                    CompileErrorCode::MissingOutputBinding,
                    scope.path,
                    &variable.name,
                    format!(
                        "{} declares the output ({}) but nothing binds it",
                        scope.owner, variable.ty
                    ),
                ));
            }
        }
    }
}
