//! Identifiers, resource kinds, variables and typed interfaces.

use gantry_core::model::{Identifier, ResourceKind, TypedInterface, Variable};
use gantry_core::names;

use super::{ConversionError, ResultExt, list, optional, required_with};
use crate::v1 as pb;

/// Every part must be a valid name (see `gantry_core::names`): project and domain 1 to 63 bytes of
/// `[a-z0-9][a-z0-9_-]*`, name and version 1 to 255 bytes of printable text without `@`. The error names the part.
impl TryFrom<pb::Identifier> for Identifier {
    type Error = ConversionError;

    fn try_from(id: pb::Identifier) -> Result<Self, Self::Error> {
        for (part, value, rule) in [
            ("project", &id.project, names::PROJECT),
            ("domain", &id.domain, names::PROJECT),
            ("name", &id.name, names::RESOURCE_NAME),
            ("version", &id.version, names::RESOURCE_NAME),
        ] {
            check_name(part, value, rule)?;
        }
        Ok(Identifier {
            project: id.project,
            domain: id.domain,
            name: id.name,
            version: id.version,
        })
    }
}

/// Checks a name against its rule, as an error at `field`.
pub fn check_name(field: &str, value: &str, rule: names::Rule) -> Result<(), ConversionError> {
    names::check(value, rule).map_err(|problem| ConversionError::new(field, problem))
}

impl From<Identifier> for pb::Identifier {
    fn from(id: Identifier) -> Self {
        pb::Identifier {
            project: id.project,
            domain: id.domain,
            name: id.name,
            version: id.version,
        }
    }
}

/// An absent identifier field is an error at `field`.
pub(crate) fn required_identifier(field: &str, id: Option<pb::Identifier>) -> Result<Identifier, ConversionError> {
    required_with(field, id, "missing identifier")
}

/// `UNSPECIFIED` is rejected.
impl TryFrom<pb::ResourceType> for ResourceKind {
    type Error = ConversionError;

    fn try_from(resource_type: pb::ResourceType) -> Result<Self, Self::Error> {
        match resource_type {
            pb::ResourceType::Unspecified => Err(ConversionError::new("", "resource type is unspecified")),
            pb::ResourceType::Task => Ok(ResourceKind::Task),
            pb::ResourceType::Workflow => Ok(ResourceKind::Workflow),
            pb::ResourceType::LaunchPlan => Ok(ResourceKind::LaunchPlan),
        }
    }
}

impl From<ResourceKind> for pb::ResourceType {
    fn from(kind: ResourceKind) -> Self {
        match kind {
            ResourceKind::Task => pb::ResourceType::Task,
            ResourceKind::Workflow => pb::ResourceType::Workflow,
            ResourceKind::LaunchPlan => pb::ResourceType::LaunchPlan,
        }
    }
}

impl TryFrom<pb::Variable> for Variable {
    type Error = ConversionError;

    fn try_from(variable: pb::Variable) -> Result<Self, Self::Error> {
        check_name("name", &variable.name, names::NAME)?;
        Ok(Variable {
            ty: required_with("type", variable.r#type, "missing literal type")?,
            default: optional("default", variable.default)?,
            name: variable.name,
            description: variable.description,
        })
    }
}

impl From<Variable> for pb::Variable {
    fn from(variable: Variable) -> Self {
        pb::Variable {
            name: variable.name,
            r#type: Some(variable.ty.into()),
            description: variable.description,
            default: variable.default.map(Into::into),
        }
    }
}

impl TryFrom<pb::TypedInterface> for TypedInterface {
    type Error = ConversionError;

    fn try_from(interface: pb::TypedInterface) -> Result<Self, Self::Error> {
        Ok(TypedInterface {
            inputs: list("inputs", interface.inputs)?,
            outputs: list("outputs", interface.outputs)?,
        })
    }
}

impl From<TypedInterface> for pb::TypedInterface {
    fn from(interface: TypedInterface) -> Self {
        pb::TypedInterface {
            inputs: super::into_list(interface.inputs),
            outputs: super::into_list(interface.outputs),
        }
    }
}

/// An absent interface has no inputs and no outputs.
pub(crate) fn interface_or_empty(
    field: &str,
    interface: Option<pb::TypedInterface>,
) -> Result<TypedInterface, ConversionError> {
    interface.map_or_else(
        || Ok(TypedInterface::default()),
        |interface| TypedInterface::try_from(interface).at(field),
    )
}
