//! Typing attribute paths: what a promise such as `n1.out[2]["key"]` holds.

use std::fmt;

use crate::model::{AttrStep, LiteralType};

use super::cast::accepts_none;

/// The type at the end of an attribute path.
#[derive(Debug, Clone, PartialEq)]
pub enum PathType {
    /// The path was typed all the way down.
    Known(LiteralType),
    /// The path entered a schemaless struct: what it holds is only known, and checked, at run time.
    Unknown,
}

/// Why an attribute step cannot be applied to a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrPathErrorReason {
    /// Scalars, blobs and the like have no parts.
    NotIndexable,
    /// A list takes an index, not a key.
    ListNeedsIndex,
    /// A map takes a key, not an index.
    MapNeedsKey,
    /// A struct takes a field name, not an index.
    StructNeedsKey,
    /// The struct type has no such field.
    NoSuchField,
    /// The value may be `none`: the optional has to be resolved before indexing into it.
    Optional,
    /// The value may be any of several variants: the union has to be resolved first.
    Union,
}

/// An attribute step that cannot be applied: `cannot index [2] into integer`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AttrPathError {
    /// The offending step and its position (0-based) in the path.
    pub step: AttrStep,
    /// Where `step` is in the path, from 0.
    pub position: usize,
    /// The type the step was applied to.
    pub ty: LiteralType,
    /// Why the step does not apply.
    pub reason: AttrPathErrorReason,
}

impl fmt::Display for AttrPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (step, ty) = (&self.step, &self.ty);
        match self.reason {
            AttrPathErrorReason::NotIndexable => write!(f, "cannot index {step} into {ty}"),
            AttrPathErrorReason::ListNeedsIndex => {
                write!(f, "cannot index {step} into {ty}: a list takes an index")
            }
            AttrPathErrorReason::MapNeedsKey => {
                write!(f, "cannot index {step} into {ty}: a map takes a key")
            }
            AttrPathErrorReason::StructNeedsKey => {
                write!(f, "cannot index {step} into {ty}: a struct takes a field name")
            }
            AttrPathErrorReason::NoSuchField => {
                write!(f, "cannot index {step} into {ty}: there is no such field")
            }
            AttrPathErrorReason::Optional => write!(
                f,
                "cannot index {step} into optional {ty}: it may be none; resolve the optional (for example in a \
                 task) before indexing into it"
            ),
            AttrPathErrorReason::Union => write!(
                f,
                "cannot index {step} into {ty}: resolve the union to one variant before indexing into it"
            ),
        }
    }
}

/// The type reached by following `path` from a value of type `ty`.
///
/// An index steps into a list, a key into a map or a field of a fielded struct (which must exist). Any step into a
/// schemaless struct yields [`PathType::Unknown`], as do the remaining steps after it. Indexing into an optional or
/// any other union is an error: which variant holds is only known at run time.
pub fn type_at_path(ty: &LiteralType, path: &[AttrStep]) -> Result<PathType, AttrPathError> {
    let mut current = ty;
    for (position, step) in path.iter().enumerate() {
        let error = |reason| AttrPathError {
            step: step.clone(),
            position,
            ty: current.clone(),
            reason,
        };
        current = match (current.untagged(), step) {
            (LiteralType::Collection(element), AttrStep::Index(_)) => element,
            (LiteralType::Collection(_), AttrStep::Key(_)) => {
                return Err(error(AttrPathErrorReason::ListNeedsIndex));
            }
            (LiteralType::Map(value), AttrStep::Key(_)) => value,
            (LiteralType::Map(_), AttrStep::Index(_)) => {
                return Err(error(AttrPathErrorReason::MapNeedsKey));
            }
            (LiteralType::Struct(struct_type), _) if struct_type.fields.is_empty() => {
                return Ok(PathType::Unknown);
            }
            (LiteralType::Struct(struct_type), AttrStep::Key(name)) => match struct_type.fields.get(name) {
                Some(field) => field,
                None => return Err(error(AttrPathErrorReason::NoSuchField)),
            },
            (LiteralType::Struct(_), AttrStep::Index(_)) => {
                return Err(error(AttrPathErrorReason::StructNeedsKey));
            }
            (LiteralType::Union(_), _) if accepts_none(current.untagged()) => {
                return Err(error(AttrPathErrorReason::Optional));
            }
            (LiteralType::Union(_), _) => return Err(error(AttrPathErrorReason::Union)),
            _ => return Err(error(AttrPathErrorReason::NotIndexable)),
        };
    }
    Ok(PathType::Known(current.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StructType;

    fn key(k: &str) -> AttrStep {
        AttrStep::Key(k.to_owned())
    }

    #[test]
    fn steps_into_lists_maps_and_fielded_structs() {
        let record = LiteralType::Struct(StructType {
            fields: [("scores".to_owned(), LiteralType::map(LiteralType::Float))].into(),
        });
        let ty = LiteralType::collection(record);
        assert_eq!(
            type_at_path(&ty, &[AttrStep::Index(0), key("scores"), key("alice")]),
            Ok(PathType::Known(LiteralType::Float))
        );
        assert_eq!(type_at_path(&ty, &[]), Ok(PathType::Known(ty.clone())));
    }

    #[test]
    fn schemaless_structs_are_unknown() {
        let ty = LiteralType::map(LiteralType::schemaless_struct());
        assert_eq!(
            type_at_path(&ty, &[key("a"), key("b"), AttrStep::Index(3)]),
            Ok(PathType::Unknown)
        );
    }

    #[test]
    fn errors_name_the_step_and_the_type() {
        let error = type_at_path(&LiteralType::Integer, &[AttrStep::Index(2)]).expect_err("integers have no parts");
        assert_eq!(error.to_string(), "cannot index [2] into integer");
        let list = LiteralType::collection(LiteralType::Integer);
        let error = type_at_path(&list, &[AttrStep::Index(0), AttrStep::Index(1)]).expect_err("too deep");
        assert_eq!(error.position, 1);
        assert_eq!(error.to_string(), "cannot index [1] into integer");
        let error = type_at_path(&list, &[key("k")]).expect_err("a list needs an index");
        assert_eq!(error.reason, AttrPathErrorReason::ListNeedsIndex);
        let record = LiteralType::Struct(StructType {
            fields: [("a".to_owned(), LiteralType::Integer)].into(),
        });
        let error = type_at_path(&record, &[key("b")]).expect_err("no field b");
        assert_eq!(error.reason, AttrPathErrorReason::NoSuchField);
    }

    #[test]
    fn optionals_must_be_resolved_first() {
        let ty = LiteralType::optional(LiteralType::collection(LiteralType::Integer));
        let error = type_at_path(&ty, &[AttrStep::Index(0)]).expect_err("optional");
        assert_eq!(error.reason, AttrPathErrorReason::Optional);
        assert!(error.to_string().contains("resolve the optional"), "{error}");
        let union = LiteralType::Union(vec![LiteralType::collection(LiteralType::Integer), LiteralType::String]);
        let error = type_at_path(&union, &[AttrStep::Index(0)]).expect_err("union");
        assert_eq!(error.reason, AttrPathErrorReason::Union);
    }
}
