//! Literal types: inferring a value's type, deciding whether one type may be bound where another is declared,
//! checking a value against a declared type, and typing attribute paths.
//!
//! The rules follow Flyte's type checker and are strict where Flyte is strict: an integer is not a float, a string is
//! not an enum (at the type level), and an optional must be resolved before it is indexed. Two Gantry conventions
//! matter to callers:
//! - `Union(vec![])` is the *nothing* type ([`nothing`]). No value has it, and it is castable to every type, which is
//!   what lets an empty collection or map literal (typed `list<nothing>` / `map<string, nothing>`) bind to any
//!   collection or map.
//! - A schemaless struct type (no fields) accepts any struct, and a fielded struct type accepts a schemaless one, as
//!   Flyte does: the fields of such a value are only known at run time.

mod cast;
mod check;
mod infer;
mod path;

#[cfg(test)]
mod proptests;

pub use cast::{accepts_none, is_castable};
pub use check::{TypeMismatch, check_literal};
pub use infer::{literal_type_of, nothing, union_of};
pub use path::{AttrPathError, AttrPathErrorReason, PathType, type_at_path};
