//! Following attribute paths into collections, maps and structs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::ResolveError;
use crate::model::{AttrStep, Literal, StructValue};

/// Converts a JSON-like struct value to a literal: null to none, numbers to floats, lists to collections and objects
/// to struct literals.
pub fn struct_value_to_literal(value: &StructValue) -> Literal {
    match value {
        StructValue::Null => Literal::None,
        StructValue::Bool(b) => Literal::Boolean(*b),
        StructValue::Number(n) => Literal::Float(*n),
        StructValue::String(s) => Literal::String(s.clone()),
        StructValue::List(items) => Literal::Collection(items.iter().map(struct_value_to_literal).collect()),
        StructValue::Object(fields) => Literal::Struct(fields.clone()),
    }
}

/// Where a walk along a path currently is: on a literal, or inside a struct's JSON-like payload.
enum Cursor<'a> {
    Literal(&'a Literal),
    Struct(&'a StructValue),
}

/// The value at `path` inside `lit`: `Index` steps go into collections and struct lists, `Key` steps into maps and
/// struct objects. A union stamp or a hash is unwrapped before each step. An empty path yields `lit` itself, hash and
/// all.
pub fn value_at_path(lit: &Literal, path: &[AttrStep]) -> Result<Literal, ResolveError> {
    let mut cursor = Cursor::Literal(lit);
    for (position, step) in path.iter().enumerate() {
        cursor = step_into(cursor, step).map_err(|message| {
            if position == 0 {
                ResolveError::new(message)
            } else {
                ResolveError::new(format!("{message} at {}", render_path(&path[..position])))
            }
        })?;
    }
    Ok(match cursor {
        Cursor::Literal(literal) => literal.clone(),
        Cursor::Struct(value) => struct_value_to_literal(value),
    })
}

fn step_into<'a>(cursor: Cursor<'a>, step: &AttrStep) -> Result<Cursor<'a>, String> {
    match cursor {
        Cursor::Literal(literal) => step_into_literal(literal.bare(), step),
        Cursor::Struct(value) => step_into_struct_value(value, step),
    }
}

fn step_into_literal<'a>(literal: &'a Literal, step: &AttrStep) -> Result<Cursor<'a>, String> {
    match (literal, step) {
        (Literal::Collection(items), AttrStep::Index(index)) => index_into(items, *index).map(Cursor::Literal),
        (Literal::Map(entries), AttrStep::Key(key)) => key_into(entries, key).map(Cursor::Literal),
        (Literal::Struct(fields), AttrStep::Key(key)) => key_into(fields, key).map(Cursor::Struct),
        (other, step) => Err(format!("cannot index {step} into {}", other.kind_name())),
    }
}

fn step_into_struct_value<'a>(value: &'a StructValue, step: &AttrStep) -> Result<Cursor<'a>, String> {
    match (value, step) {
        (StructValue::List(items), AttrStep::Index(index)) => index_into(items, *index).map(Cursor::Struct),
        (StructValue::Object(fields), AttrStep::Key(key)) => key_into(fields, key).map(Cursor::Struct),
        (other, step) => Err(format!("cannot index {step} into {}", struct_kind_name(other))),
    }
}

fn index_into<T>(items: &[T], index: u32) -> Result<&T, String> {
    usize::try_from(index)
        .ok()
        .and_then(|i| items.get(i))
        .ok_or_else(|| format!("index [{index}] out of range (len {})", items.len()))
}

fn key_into<'a, T>(entries: &'a BTreeMap<String, T>, key: &str) -> Result<&'a T, String> {
    entries
        .get(key)
        .ok_or_else(|| format!("key {} not found", crate::names::quote(key)))
}

fn struct_kind_name(value: &StructValue) -> &'static str {
    match value {
        StructValue::Null => "null",
        StructValue::Bool(_) => "boolean",
        StructValue::Number(_) => "number",
        StructValue::String(_) => "string",
        StructValue::List(_) => "list",
        StructValue::Object(_) => "object",
    }
}

/// Renders a path as its steps side by side: `[0]["key"]`.
pub(super) fn render_path(path: &[AttrStep]) -> String {
    let mut out = String::new();
    for step in path {
        let _ = write!(out, "{step}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LiteralType, UnionValue};

    fn key(k: &str) -> AttrStep {
        AttrStep::Key(k.to_owned())
    }

    fn object(fields: &[(&str, StructValue)]) -> BTreeMap<String, StructValue> {
        fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect()
    }

    #[test]
    fn empty_path_is_identity() {
        let lit = Literal::Integer(7);
        assert_eq!(value_at_path(&lit, &[]), Ok(lit));
    }

    #[test]
    fn indexes_collections_and_maps() {
        let lit = Literal::Collection(vec![
            Literal::Integer(1),
            Literal::Map([("a".to_owned(), Literal::String("x".into()))].into()),
        ]);
        assert_eq!(value_at_path(&lit, &[AttrStep::Index(0)]), Ok(Literal::Integer(1)));
        assert_eq!(
            value_at_path(&lit, &[AttrStep::Index(1), key("a")]),
            Ok(Literal::String("x".into()))
        );
    }

    #[test]
    fn struct_values_become_literals() {
        let inner = object(&[("n", StructValue::Null), ("b", StructValue::Bool(true))]);
        let lit = Literal::Struct(object(&[
            ("num", StructValue::Number(2.5)),
            ("s", StructValue::String("hi".into())),
            (
                "list",
                StructValue::List(vec![StructValue::Number(1.0), StructValue::Object(inner.clone())]),
            ),
        ]));
        assert_eq!(value_at_path(&lit, &[key("num")]), Ok(Literal::Float(2.5)));
        assert_eq!(value_at_path(&lit, &[key("s")]), Ok(Literal::String("hi".into())));
        assert_eq!(
            value_at_path(&lit, &[key("list"), AttrStep::Index(0)]),
            Ok(Literal::Float(1.0))
        );
        assert_eq!(
            value_at_path(&lit, &[key("list"), AttrStep::Index(1)]),
            Ok(Literal::Struct(inner))
        );
        assert_eq!(
            value_at_path(&lit, &[key("list"), AttrStep::Index(1), key("n")]),
            Ok(Literal::None)
        );
        assert_eq!(
            value_at_path(&lit, &[key("list"), AttrStep::Index(1), key("b")]),
            Ok(Literal::Boolean(true))
        );
        assert_eq!(
            value_at_path(&lit, &[key("list")]),
            Ok(Literal::Collection(vec![
                Literal::Float(1.0),
                Literal::Struct(object(&[("n", StructValue::Null), ("b", StructValue::Bool(true))]))
            ]))
        );
    }

    #[test]
    fn unions_are_unwrapped_before_a_step() {
        let lit = Literal::Union(Box::new(UnionValue {
            value: Literal::Collection(vec![Literal::Integer(4)]),
            variant: LiteralType::collection(LiteralType::Integer),
        }));
        assert_eq!(value_at_path(&lit, &[AttrStep::Index(0)]), Ok(Literal::Integer(4)));
    }

    #[test]
    fn errors_name_the_step() {
        let list = Literal::Collection(vec![Literal::Integer(1); 3]);
        let message = |lit: &Literal, path: &[AttrStep]| value_at_path(lit, path).unwrap_err().message;
        assert_eq!(message(&list, &[AttrStep::Index(5)]), "index [5] out of range (len 3)");
        assert_eq!(
            message(&list, &[AttrStep::Index(0), AttrStep::Index(0)]),
            "cannot index [0] into integer at [0]"
        );
        assert_eq!(
            message(&Literal::Integer(1), &[AttrStep::Index(0)]),
            "cannot index [0] into integer"
        );
        assert_eq!(message(&list, &[key("x")]), r#"cannot index ["x"] into collection"#);
        let map = Literal::Map(BTreeMap::new());
        assert_eq!(message(&map, &[key("x")]), r#"key "x" not found"#);
        let st = Literal::Struct(object(&[("a", StructValue::List(vec![]))]));
        assert_eq!(
            message(&st, &[key("a"), AttrStep::Index(0)]),
            r#"index [0] out of range (len 0) at ["a"]"#
        );
        assert_eq!(
            message(&st, &[key("a"), key("b")]),
            r#"cannot index ["b"] into list at ["a"]"#
        );
        assert_eq!(message(&st, &[AttrStep::Index(0)]), "cannot index [0] into struct");
    }
}
