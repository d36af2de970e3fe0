//! The run form of a task, workflow or launch plan, generated from its typed interface: one field per input, typed
//! (a number, a text, a checkbox, or a JSON text area for collections, maps, structs and unions), required unless
//! the input has a default or is optional; and the submitted fields read back into literals with the shared JSON
//! conversion (`gantry-text`), each error kept with its field. Pure: tested without a server.

use std::collections::BTreeSet;

use gantry_core::model::{Literal, LiteralMap, LiteralType, TypedInterface};
use gantry_text::json::{literal_from_json, literal_to_json};
use gantry_text::types::format_type;
use serde_json::Value;

/// How a field is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    /// `<input type=number step=1>`.
    Integer,
    /// `<input type=number step=any>`.
    Float,
    /// `<input type=text>`: strings, datetimes (RFC 3339), durations (`1m30s`), enums, binary (base64), blobs (URI).
    Text,
    /// `<input type=checkbox>`.
    Checkbox,
    /// `<textarea>` holding JSON.
    Json,
}

/// One input of the form.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The input's name, also the field's.
    pub name: String,
    /// Its declared type.
    pub ty: LiteralType,
    /// How it is entered.
    pub widget: Widget,
    /// Whether it must be given (no default, not optional).
    pub required: bool,
    /// The default as the field's initial text.
    pub initial: String,
    /// The type as spec files spell it, for the label.
    pub type_text: String,
    /// The input's description.
    pub description: String,
}

/// A submitted field that does not fit its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn widget(ty: &LiteralType) -> Widget {
    match ty.untagged() {
        LiteralType::Integer => Widget::Integer,
        LiteralType::Float => Widget::Float,
        LiteralType::Boolean => Widget::Checkbox,
        LiteralType::String
        | LiteralType::Datetime
        | LiteralType::Duration
        | LiteralType::Enum(_)
        | LiteralType::Binary
        | LiteralType::Blob(_) => Widget::Text,
        _ => Widget::Json,
    }
}

fn optional(ty: &LiteralType) -> bool {
    gantry_core::typing::accepts_none(ty)
}

/// A default as the initial text of its widget: strings bare, the rest as JSON.
fn initial(literal: &Literal, widget: Widget) -> String {
    match (literal_to_json(literal), widget) {
        (Value::String(text), Widget::Text) => text,
        (Value::Bool(true), Widget::Checkbox) => "on".to_owned(),
        (Value::Bool(false), Widget::Checkbox) => String::new(),
        (value, Widget::Json) => serde_json::to_string_pretty(&value).unwrap_or_default(),
        (value, _) => value.to_string(),
    }
}

/// The form's fields: every input of `interface` but the `fixed` ones, with `defaults` (a launch plan's) before the
/// interface's own.
pub fn fields(interface: &TypedInterface, defaults: &LiteralMap, fixed: &BTreeSet<String>) -> Vec<Field> {
    interface
        .inputs
        .iter()
        .filter(|input| !fixed.contains(&input.name))
        .map(|input| {
            let widget = widget(&input.ty);
            let default = defaults.get(&input.name).or(input.default.as_ref());
            Field {
                name: input.name.clone(),
                ty: input.ty.clone(),
                widget,
                required: default.is_none() && !optional(&input.ty) && widget != Widget::Checkbox,
                initial: default.map(|literal| initial(literal, widget)).unwrap_or_default(),
                type_text: format_type(&input.ty),
                description: input.description.clone(),
            }
        })
        .collect()
}

/// Reads the submitted `(name, text)` pairs into inputs: an empty optional field is left out (its default applies),
/// an unchecked checkbox is `false`; every field that does not fit is reported, not only the first.
pub fn parse(fields: &[Field], submitted: &[(String, String)]) -> Result<LiteralMap, Vec<FieldError>> {
    let mut inputs = LiteralMap::new();
    let mut errors = Vec::new();
    for field in fields {
        let text = submitted
            .iter()
            .find(|(name, _)| *name == field.name)
            .map(|(_, text)| text.as_str());
        let value = match (field.widget, text.map(str::trim)) {
            (Widget::Checkbox, text) => Value::Bool(text.is_some_and(|t| !t.is_empty())),
            (_, None | Some("")) => {
                if field.required {
                    errors.push(FieldError {
                        field: field.name.clone(),
                        message: "required".to_owned(),
                    });
                }
                continue;
            }
            (Widget::Integer | Widget::Float, Some(text)) => match serde_json::from_str::<Value>(text) {
                Ok(number @ Value::Number(_)) => number,
                _ => {
                    errors.push(FieldError {
                        field: field.name.clone(),
                        message: format!("{text:?} is not a number"),
                    });
                    continue;
                }
            },
            (Widget::Text, Some(_)) => Value::String(text.unwrap_or_default().to_owned()),
            (Widget::Json, Some(text)) => match serde_json::from_str(text) {
                Ok(value) => value,
                Err(error) => {
                    errors.push(FieldError {
                        field: field.name.clone(),
                        message: format!("not JSON: {error}"),
                    });
                    continue;
                }
            },
        };
        match literal_from_json(&value, &field.ty, &field.name) {
            Ok(literal) => {
                inputs.insert(field.name.clone(), literal);
            }
            Err(error) => errors.push(FieldError {
                field: field.name.clone(),
                message: error.message,
            }),
        }
    }
    if errors.is_empty() { Ok(inputs) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use gantry_core::model::Variable;

    use super::*;

    fn interface() -> TypedInterface {
        let mut with_default = Variable::new("label", LiteralType::String);
        with_default.default = Some(Literal::String("x".to_owned()));
        TypedInterface {
            inputs: vec![
                Variable::new("tasks_count", LiteralType::Integer),
                Variable::new("ratio", LiteralType::Float),
                Variable::new("verbose", LiteralType::Boolean),
                Variable::new("xs", LiteralType::collection(LiteralType::Integer)),
                Variable::new("note", LiteralType::optional(LiteralType::String)),
                with_default,
                Variable::new("fixed", LiteralType::Integer),
            ],
            outputs: Vec::new(),
        }
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn fields_follow_the_typed_interface() {
        let defaults = LiteralMap::from([("ratio".to_owned(), Literal::Float(0.5))]);
        let fixed = BTreeSet::from(["fixed".to_owned()]);
        let fields = fields(&interface(), &defaults, &fixed);
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["tasks_count", "ratio", "verbose", "xs", "note", "label"]);
        let widgets: Vec<Widget> = fields.iter().map(|f| f.widget).collect();
        assert_eq!(
            widgets,
            [
                Widget::Integer,
                Widget::Float,
                Widget::Checkbox,
                Widget::Json,
                Widget::Json,
                Widget::Text
            ]
        );
        let required: Vec<bool> = fields.iter().map(|f| f.required).collect();
        assert_eq!(required, [true, false, false, true, false, false]);
        assert_eq!(fields[1].initial, "0.5");
        assert_eq!(fields[5].initial, "x");
        assert_eq!(fields[3].type_text, "list<integer>");
    }

    #[test]
    fn submitted_fields_become_typed_inputs() {
        let fields = fields(&interface(), &LiteralMap::new(), &BTreeSet::from(["fixed".to_owned()]));
        let inputs = parse(
            &fields,
            &pairs(&[
                ("tasks_count", "10"),
                ("verbose", "on"),
                ("xs", "[1, 2]"),
                ("ratio", "0.25"),
                ("note", ""),
            ]),
        )
        .unwrap();
        assert_eq!(inputs.get("tasks_count"), Some(&Literal::Integer(10)));
        assert_eq!(inputs.get("verbose"), Some(&Literal::Boolean(true)));
        assert_eq!(
            inputs.get("xs"),
            Some(&Literal::Collection(vec![Literal::Integer(1), Literal::Integer(2)]))
        );
        assert_eq!(inputs.get("ratio"), Some(&Literal::Float(0.25)));
        assert!(!inputs.contains_key("note") && !inputs.contains_key("label"));
    }

    #[test]
    fn every_bad_field_is_reported_beside_its_name() {
        let fields = fields(&interface(), &LiteralMap::new(), &BTreeSet::new());
        let errors = parse(
            &fields,
            &pairs(&[("tasks_count", "1.5"), ("ratio", "abc"), ("xs", "[1,"), ("fixed", "")]),
        )
        .unwrap_err();
        let by_field: Vec<(&str, &str)> = errors.iter().map(|e| (e.field.as_str(), e.message.as_str())).collect();
        assert_eq!(by_field.len(), 4, "{by_field:?}");
        assert_eq!(by_field[0].0, "tasks_count");
        assert!(by_field[0].1.contains("integer"), "{by_field:?}");
        assert_eq!(by_field[1], ("ratio", "\"abc\" is not a number"));
        assert!(by_field[2].1.starts_with("not JSON"));
        assert_eq!(by_field[3], ("fixed", "required"));
    }
}
