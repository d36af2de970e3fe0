use gantry_core::model::{Duration, Timestamp, Variable};
use serde_json::json;

use super::*;
use crate::types::parse_type;

fn ty(text: &str) -> LiteralType {
    parse_type(text).unwrap()
}

#[test]
fn typed_values_round_trip() {
    for (type_text, value) in [
        ("integer", json!(5)),
        ("float", json!(1.5)),
        ("string", json!("hi")),
        ("boolean", json!(true)),
        ("datetime", json!("2024-05-01T12:00:00.5Z")),
        ("duration", json!("1.5s")),
        ("none", json!(null)),
        ("binary", json!("AAEC")),
        ("struct", json!({"a": 1.0, "b": [true, null], "c": {"d": "e"}})),
        ("list<list<integer>>", json!([[1, 2], []])),
        ("map<float>", json!({"x": 0.5})),
        ("optional<integer>", json!(3)),
        ("optional<integer>", json!(null)),
        ("enum{red, green}", json!("red")),
        (
            "blob(csv)",
            json!({"uri": "s3://b/k", "format": "csv", "dimensionality": "single"}),
        ),
    ] {
        let literal = literal_from_json(&value, &ty(type_text), "x").unwrap_or_else(|e| panic!("{type_text}: {e}"));
        assert_eq!(literal_to_json(&literal), value, "{type_text}");
    }
}

#[test]
fn the_type_decides_between_integer_and_float() {
    assert_eq!(
        literal_from_json(&json!(3), &LiteralType::Float, "x"),
        Ok(Literal::Float(3.0))
    );
    assert_eq!(
        literal_from_json(&json!(3.0), &LiteralType::Integer, "x"),
        Ok(Literal::Integer(3))
    );
    assert!(literal_from_json(&json!(3.5), &LiteralType::Integer, "x").is_err());
}

#[test]
fn special_spellings() {
    assert_eq!(
        literal_from_json(&json!(2), &LiteralType::Duration, "d"),
        Ok(Literal::Duration(Duration::from_secs(2)))
    );
    assert_eq!(
        literal_from_json(&json!("1970-01-01T00:00:01Z"), &LiteralType::Datetime, "t"),
        Ok(Literal::Datetime(Timestamp { seconds: 1, nanos: 0 }))
    );
    assert_eq!(
        literal_from_json(&json!("AAEC"), &LiteralType::Binary, "b"),
        Ok(Literal::Binary(vec![0, 1, 2]))
    );
    let blob = literal_from_json(&json!("file:///tmp/x"), &ty("blob(multipart)"), "b").unwrap();
    assert!(matches!(blob, Literal::Blob(b) if b.dimensionality == BlobDimensionality::Multipart));
    assert_eq!(literal_to_json(&Literal::Float(f64::NAN)), json!("NaN"));
}

#[test]
fn errors_name_the_input_and_the_path_inside_it() {
    let error = literal_from_json(&json!([1, "two"]), &ty("list<integer>"), "xs").unwrap_err();
    assert_eq!(error.to_string(), "input \"xs[1]\": expected integer, got \"two\"");
    let error = literal_from_json(&json!("purple"), &ty("enum{red, green}"), "c").unwrap_err();
    assert!(error.message.contains("not one of red, green"));
}

#[test]
fn inputs_are_checked_against_the_interface() {
    let interface = TypedInterface {
        inputs: vec![Variable::new("tasks_count", LiteralType::Integer)],
        outputs: vec![],
    };
    let literals = inputs_from_json(&json!({"tasks_count": 5}), &interface).unwrap();
    assert_eq!(literals["tasks_count"], Literal::Integer(5));
    let error = inputs_from_json(&json!({"task_count": 5}), &interface).unwrap_err();
    assert_eq!(
        error.to_string(),
        "input \"task_count\": no such input (the inputs are: tasks_count: integer)"
    );
    assert!(inputs_from_json(&json!([1]), &interface).is_err());
}
