//! Typed interfaces: the named inputs and outputs of tasks, workflows and launch plans.

use super::literal::Literal;
use super::types::LiteralType;

/// One named input or output. An input with a `default` need not be bound.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    pub name: String,
    pub ty: LiteralType,
    pub description: String,
    pub default: Option<Literal>,
}

impl Variable {
    pub fn new(name: impl Into<String>, ty: LiteralType) -> Self {
        Variable {
            name: name.into(),
            ty,
            description: String::new(),
            default: None,
        }
    }

    pub fn with_default(mut self, default: Literal) -> Self {
        self.default = Some(default);
        self
    }
}

/// Inputs and outputs, each in declaration order with unique names.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TypedInterface {
    pub inputs: Vec<Variable>,
    pub outputs: Vec<Variable>,
}

impl TypedInterface {
    pub fn input(&self, name: &str) -> Option<&Variable> {
        self.inputs.iter().find(|v| v.name == name)
    }

    pub fn output(&self, name: &str) -> Option<&Variable> {
        self.outputs.iter().find(|v| v.name == name)
    }
}
