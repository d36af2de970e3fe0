//! Bindings: how a node's input (or a workflow's output) gets its value.

use std::collections::BTreeMap;
use std::fmt;

use super::literal::Literal;

/// One step of an attribute path into a collection, map or struct.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrStep {
    Index(u32),
    Key(String),
}

impl fmt::Display for AttrStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrStep::Index(i) => write!(f, "[{i}]"),
            AttrStep::Key(k) => write!(f, "[{k:?}]"),
        }
    }
}

/// A reference to an output of another node. An empty `node_id` means the enclosing workflow's (or dynamic parent's)
/// inputs, and `output` then names one of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Promise {
    pub node_id: String,
    pub output: String,
    pub attr_path: Vec<AttrStep>,
}

impl Promise {
    pub fn new(node_id: impl Into<String>, output: impl Into<String>) -> Self {
        Promise {
            node_id: node_id.into(),
            output: output.into(),
            attr_path: Vec::new(),
        }
    }

    /// A promise of one of the enclosing workflow's inputs.
    pub fn workflow_input(name: impl Into<String>) -> Self {
        Promise::new("", name)
    }

    pub fn is_workflow_input(&self) -> bool {
        self.node_id.is_empty()
    }
}

impl fmt::Display for Promise {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.node_id.is_empty() {
            write!(f, "inputs.{}", self.output)?;
        } else {
            write!(f, "{}.{}", self.node_id, self.output)?;
        }
        for step in &self.attr_path {
            write!(f, "{step}")?;
        }
        Ok(())
    }
}

/// Where a value comes from: a literal, a promise, or a collection or map built of further bindings.
#[derive(Debug, Clone, PartialEq)]
pub enum BindingData {
    Literal(Literal),
    Promise(Promise),
    Collection(Vec<BindingData>),
    Map(BTreeMap<String, BindingData>),
}

impl BindingData {
    /// Every promise inside this binding, depth first.
    pub fn promises(&self) -> Vec<&Promise> {
        let mut out = Vec::new();
        self.collect_promises(&mut out);
        out
    }

    fn collect_promises<'a>(&'a self, out: &mut Vec<&'a Promise>) {
        match self {
            BindingData::Literal(_) => {}
            BindingData::Promise(p) => out.push(p),
            BindingData::Collection(items) => items.iter().for_each(|b| b.collect_promises(out)),
            BindingData::Map(items) => items.values().for_each(|b| b.collect_promises(out)),
        }
    }
}

/// Binds the variable `var` (an input of a node, or an output of a workflow) to `data`.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub var: String,
    pub data: BindingData,
}

impl Binding {
    pub fn new(var: impl Into<String>, data: BindingData) -> Self {
        Binding { var: var.into(), data }
    }

    pub fn literal(var: impl Into<String>, literal: Literal) -> Self {
        Binding::new(var, BindingData::Literal(literal))
    }

    pub fn promise(var: impl Into<String>, node_id: impl Into<String>, output: impl Into<String>) -> Self {
        Binding::new(var, BindingData::Promise(Promise::new(node_id, output)))
    }
}
