use std::collections::BTreeMap;

use super::*;
use crate::model::{Blob, BlobDimensionality, Duration, Timestamp};

fn union(value: Literal, variant: LiteralType) -> Literal {
    Literal::Union(Box::new(UnionValue { value, variant }))
}

fn message(lit: Literal, ty: &LiteralType) -> String {
    conform(lit, ty).unwrap_err().message
}

#[test]
fn scalars_of_the_declared_kind_pass_unchanged() {
    let cases = [
        (Literal::Integer(3), LiteralType::Integer),
        (Literal::Float(0.5), LiteralType::Float),
        (Literal::String("s".into()), LiteralType::String),
        (Literal::Boolean(true), LiteralType::Boolean),
        (
            Literal::Datetime(Timestamp { seconds: 1, nanos: 2 }),
            LiteralType::Datetime,
        ),
        (Literal::Duration(Duration::from_secs(9)), LiteralType::Duration),
        (Literal::None, LiteralType::None),
        (Literal::Binary(vec![1, 2]), LiteralType::Binary),
    ];
    for (lit, ty) in cases {
        assert_eq!(conform(lit.clone(), &ty), Ok(lit));
    }
}

#[test]
fn mismatch_names_the_path() {
    assert_eq!(
        message(Literal::String("x".into()), &LiteralType::Integer),
        "expected integer, got string"
    );
    let list = Literal::Collection(vec![Literal::Integer(1), Literal::String("x".into())]);
    assert_eq!(
        message(list, &LiteralType::collection(LiteralType::Integer)),
        "at [1]: expected integer, got string"
    );
    let nested = Literal::Map([("k".to_owned(), Literal::Collection(vec![Literal::Boolean(true)]))].into());
    assert_eq!(
        message(nested, &LiteralType::map(LiteralType::collection(LiteralType::Float))),
        r#"at ["k"][0]: expected float, got boolean"#
    );
}

#[test]
fn bare_values_are_stamped_with_the_first_fitting_variant() {
    let optional_int = LiteralType::optional(LiteralType::Integer);
    assert_eq!(
        conform(Literal::Integer(1), &optional_int),
        Ok(union(Literal::Integer(1), LiteralType::Integer))
    );
    assert_eq!(
        conform(Literal::None, &optional_int),
        Ok(union(Literal::None, LiteralType::None))
    );
    assert_eq!(
        message(Literal::String("x".into()), &optional_int),
        "expected union<integer | none>, got string"
    );
}

#[test]
fn variants_fitting_without_conversion_are_preferred() {
    let int_or_float = LiteralType::Union(vec![LiteralType::Integer, LiteralType::Float]);
    assert_eq!(
        conform(Literal::Float(2.0), &int_or_float),
        Ok(union(Literal::Float(2.0), LiteralType::Float))
    );
    let enum_ty = LiteralType::Enum(vec!["a".into()]);
    let enum_or_string = LiteralType::Union(vec![enum_ty.clone(), LiteralType::String]);
    assert_eq!(
        conform(Literal::String("a".into()), &enum_or_string),
        Ok(union(Literal::String("a".into()), LiteralType::String))
    );
    // With no exact variant, conversions are tried.
    let int_or_none = LiteralType::optional(LiteralType::Integer);
    assert_eq!(
        conform(Literal::Float(2.0), &int_or_none),
        Ok(union(Literal::Integer(2), LiteralType::Integer))
    );
    let enum_or_none = LiteralType::optional(enum_ty.clone());
    assert_eq!(
        conform(Literal::String("a".into()), &enum_or_none),
        Ok(union(Literal::Enum("a".into()), enum_ty))
    );
}

#[test]
fn unions_recurse_through_collections_and_maps() {
    let ty = LiteralType::map(LiteralType::collection(LiteralType::optional(LiteralType::String)));
    let lit = Literal::Map(
        [(
            "k".to_owned(),
            Literal::Collection(vec![Literal::String("a".into()), Literal::None]),
        )]
        .into(),
    );
    let expected = Literal::Map(
        [(
            "k".to_owned(),
            Literal::Collection(vec![
                union(Literal::String("a".into()), LiteralType::String),
                union(Literal::None, LiteralType::None),
            ]),
        )]
        .into(),
    );
    assert_eq!(conform(lit, &ty), Ok(expected));
}

#[test]
fn stamped_unions_keep_a_declared_stamp_and_are_restamped_otherwise() {
    let ty = LiteralType::optional(LiteralType::Integer);
    let stamped = union(Literal::Integer(5), LiteralType::Integer);
    assert_eq!(conform(stamped.clone(), &ty), Ok(stamped));
    let foreign = union(
        Literal::Integer(5),
        LiteralType::Union(vec![LiteralType::Integer, LiteralType::String]),
    );
    assert_eq!(
        conform(foreign, &ty),
        Ok(union(Literal::Integer(5), LiteralType::Integer))
    );
    let wrong = union(Literal::String("x".into()), LiteralType::Integer);
    assert_eq!(message(wrong, &ty), "expected integer, got string");
}

#[test]
fn a_union_value_declared_as_a_plain_type_is_unwrapped() {
    let stamped = union(Literal::Integer(5), LiteralType::Integer);
    assert_eq!(conform(stamped, &LiteralType::Integer), Ok(Literal::Integer(5)));
}

#[test]
fn integral_floats_become_integers() {
    assert_eq!(
        conform(Literal::Float(3.0), &LiteralType::Integer),
        Ok(Literal::Integer(3))
    );
    assert_eq!(
        conform(Literal::Float(-0.0), &LiteralType::Integer),
        Ok(Literal::Integer(0))
    );
    assert_eq!(
        message(Literal::Float(3.5), &LiteralType::Integer),
        "expected integer, got float"
    );
    assert_eq!(
        message(Literal::Float(f64::NAN), &LiteralType::Integer),
        "expected integer, got float"
    );
    assert_eq!(
        message(Literal::Float(1e19), &LiteralType::Integer),
        "expected integer, got float"
    );
    assert_eq!(
        conform(Literal::Float(i64::MIN as f64), &LiteralType::Integer),
        Ok(Literal::Integer(i64::MIN))
    );
    // Integers are not silently widened to floats.
    assert_eq!(
        message(Literal::Integer(3), &LiteralType::Float),
        "expected float, got integer"
    );
}

#[test]
fn strings_become_enum_values_when_allowed() {
    let ty = LiteralType::Enum(vec!["red".into(), "green".into()]);
    assert_eq!(
        conform(Literal::String("red".into()), &ty),
        Ok(Literal::Enum("red".into()))
    );
    assert_eq!(
        conform(Literal::Enum("green".into()), &ty),
        Ok(Literal::Enum("green".into()))
    );
    assert_eq!(
        message(Literal::String("blue".into()), &ty),
        r#""blue" is not one of enum{red, green}"#
    );
    assert_eq!(
        message(Literal::Enum("blue".into()), &ty),
        r#""blue" is not one of enum{red, green}"#
    );
}

#[test]
fn structs_check_declared_fields() {
    let ty = LiteralType::Struct(StructType {
        fields: [
            ("n".to_owned(), LiteralType::Integer),
            ("maybe".to_owned(), LiteralType::optional(LiteralType::String)),
        ]
        .into(),
    });
    let ok = Literal::Struct(
        [
            ("n".to_owned(), StructValue::Number(2.0)),
            ("extra".to_owned(), StructValue::Null),
        ]
        .into(),
    );
    assert_eq!(conform(ok.clone(), &ty), Ok(ok));
    let bad = Literal::Struct([("n".to_owned(), StructValue::String("2".into()))].into());
    assert_eq!(message(bad, &ty), r#"at ["n"]: expected integer, got string"#);
    let missing = Literal::Struct(BTreeMap::new());
    assert_eq!(message(missing, &ty), r#"at ["n"]: missing field"#);
    let any = Literal::Struct([("x".to_owned(), StructValue::Bool(true))].into());
    assert_eq!(conform(any.clone(), &LiteralType::schemaless_struct()), Ok(any));
}

#[test]
fn struct_fields_json_cannot_spell_accept_any_encoding_like_the_type_check() {
    let ty = LiteralType::Struct(StructType {
        fields: [
            ("joined".to_owned(), LiteralType::Datetime),
            ("took".to_owned(), LiteralType::optional(LiteralType::Duration)),
            ("raw".to_owned(), LiteralType::Binary),
        ]
        .into(),
    });
    let encoded = Literal::Struct(
        [
            ("joined".to_owned(), StructValue::String("2026-11-25T04:00:00Z".into())),
            ("took".to_owned(), StructValue::Number(1.5)),
            ("raw".to_owned(), StructValue::String("AAE=".into())),
        ]
        .into(),
    );
    assert_eq!(conform(encoded.clone(), &ty), Ok(encoded.clone()));
    assert_eq!(crate::typing::check_literal(&encoded, &ty), Ok(()), "both checks agree");
    let null = Literal::Struct(
        [
            ("joined".to_owned(), StructValue::Null),
            ("raw".to_owned(), StructValue::String("AAE=".into())),
        ]
        .into(),
    );
    assert_eq!(message(null, &ty), r#"at ["joined"]: expected datetime, got none"#);
}

#[test]
fn structs_declared_as_maps_become_maps() {
    let lit = Literal::Struct([("a".to_owned(), StructValue::Number(1.0))].into());
    assert_eq!(
        conform(lit.clone(), &LiteralType::map(LiteralType::Integer)),
        Ok(Literal::Map([("a".to_owned(), Literal::Integer(1))].into()))
    );
    assert_eq!(
        message(lit, &LiteralType::map(LiteralType::String)),
        r#"at ["a"]: expected string, got float"#
    );
}

#[test]
fn blobs_check_format_and_dimensionality() {
    let blob = |format: &str, dimensionality| {
        Literal::Blob(Blob {
            uri: "s3://b/k".into(),
            format: format.into(),
            dimensionality,
        })
    };
    let csv = LiteralType::Blob(BlobType {
        format: "csv".into(),
        dimensionality: BlobDimensionality::Single,
    });
    let any_format = LiteralType::Blob(BlobType::default());
    assert!(conform(blob("csv", BlobDimensionality::Single), &csv).is_ok());
    assert!(conform(blob("", BlobDimensionality::Single), &csv).is_ok());
    assert!(conform(blob("parquet", BlobDimensionality::Single), &any_format).is_ok());
    assert_eq!(
        message(blob("parquet", BlobDimensionality::Single), &csv),
        "expected blob(csv, single), got blob(parquet, single)"
    );
    assert_eq!(
        message(blob("csv", BlobDimensionality::Multipart), &csv),
        "expected blob(csv, single), got blob(csv, multipart)"
    );
}

fn offloaded(ty: LiteralType) -> Literal {
    Literal::Offloaded(crate::model::Offloaded {
        uri: "file:///blobs/offloaded/1".into(),
        size_bytes: 2 << 20,
        ty,
        sha256: "ab".repeat(32),
    })
}

#[test]
fn offloaded_literals_are_checked_by_their_recorded_type() {
    let list = LiteralType::collection(LiteralType::String);
    assert_eq!(conform(offloaded(list.clone()), &list), Ok(offloaded(list.clone())));
    assert_eq!(
        message(offloaded(list.clone()), &LiteralType::Integer),
        "expected integer, got an offloaded list<string>"
    );
    let optional = LiteralType::optional(list.clone());
    match conform(offloaded(list.clone()), &optional) {
        Ok(Literal::Union(union)) => assert_eq!(union.value, offloaded(list)),
        other => panic!("an offloaded list into an optional list: {other:?}"),
    }
}

#[test]
fn a_hash_stays_with_its_value_outside_any_stamp() {
    let hashed = |value: Literal| Literal::hashed("h".to_owned(), value);
    // A float declared `integer` is converted under its hash; a value declared as a union is stamped under it.
    assert_eq!(
        conform(hashed(Literal::Float(2.0)), &LiteralType::Integer),
        Ok(hashed(Literal::Integer(2)))
    );
    let optional = LiteralType::optional(LiteralType::Integer);
    assert_eq!(
        conform(hashed(Literal::Integer(2)), &optional),
        Ok(hashed(union(Literal::Integer(2), LiteralType::Integer)))
    );
    // Stamped elsewhere with the hash inside the stamp: chosen again among our variants, the hash kept.
    let stamped = union(hashed(Literal::Integer(2)), LiteralType::Float);
    assert_eq!(
        conform(stamped, &optional),
        Ok(hashed(union(Literal::Integer(2), LiteralType::Integer)))
    );
    assert_eq!(
        message(hashed(Literal::String("x".into())), &LiteralType::Integer),
        "expected integer, got string"
    );
    // Elements keep theirs.
    let list = Literal::Collection(vec![hashed(Literal::Integer(1)), Literal::Integer(2)]);
    assert_eq!(
        conform(list.clone(), &LiteralType::collection(LiteralType::Integer)),
        Ok(list)
    );
}

#[test]
fn reads_see_through_a_hash() {
    let hashed = Literal::hashed(
        "h".to_owned(),
        Literal::Collection(vec![Literal::Map([("k".to_owned(), Literal::Integer(1))].into())]),
    );
    let ty = LiteralType::collection(LiteralType::map(LiteralType::Integer));
    assert_eq!(crate::typing::literal_type_of(&hashed), ty);
    assert!(crate::typing::check_literal(&hashed, &ty).is_ok());
    // A path into the value leaves the hash behind; the empty path is the value itself, hash and all.
    let path = [AttrStep::Index(0), AttrStep::Key("k".to_owned())];
    assert_eq!(
        super::super::path::value_at_path(&hashed, &path),
        Ok(Literal::Integer(1))
    );
    assert_eq!(super::super::path::value_at_path(&hashed, &[]), Ok(hashed.clone()));
    // A hash is never nested, and an empty one is none.
    assert_eq!(Literal::hashed("g".to_owned(), hashed.clone()).hash(), Some("g"));
    assert_eq!(Literal::hashed(String::new(), hashed.clone()), *hashed.unhashed());
}

#[test]
fn a_tagged_stamp_is_kept_and_a_tag_chooses_among_variants_of_one_type() {
    let tagged = |tag: &str, ty| LiteralType::tagged(tag.to_owned(), ty);
    // Two variants of one type, told apart only by their tags (flytekit names each variant).
    let counted = LiteralType::Union(vec![
        tagged("int", LiteralType::Integer),
        tagged("count", LiteralType::Integer),
    ]);
    // A bare value takes the first; a value stamped with a declared variant keeps it.
    assert_eq!(
        conform(Literal::Integer(3), &counted),
        Ok(union(Literal::Integer(3), tagged("int", LiteralType::Integer)))
    );
    let as_count = union(Literal::Integer(3), tagged("count", LiteralType::Integer));
    assert_eq!(conform(as_count.clone(), &counted), Ok(as_count.clone()));
    // Stamped by another union (here an optional of a float) with the same tag: that variant is preferred.
    let elsewhere = union(Literal::Integer(3), tagged("count", LiteralType::Float));
    assert_eq!(conform(elsewhere, &counted), Ok(as_count));
    // A tagged non-union type is its type.
    assert_eq!(
        conform(Literal::Float(2.0), &tagged("n", LiteralType::Integer)),
        Ok(Literal::Integer(2))
    );
    assert!(crate::typing::check_literal(&Literal::Integer(2), &tagged("n", LiteralType::Integer)).is_ok());
    assert!(crate::typing::is_castable(
        &tagged("a", LiteralType::Integer),
        &tagged("b", LiteralType::Integer)
    ));
    assert!(crate::typing::is_castable(
        &LiteralType::None,
        &LiteralType::optional(tagged("a", LiteralType::Integer))
    ));
    assert_eq!(
        tagged("a", tagged("b", LiteralType::Integer)).tag(),
        Some("a"),
        "never nested"
    );
    assert_eq!(tagged("", tagged("b", LiteralType::Integer)), LiteralType::Integer);
    assert_eq!(counted.to_string(), r#"union<integer ("int") | integer ("count")>"#);
}

#[test]
fn an_error_value_is_of_the_error_type_only() {
    let error = Literal::Error(crate::model::ErrorValue {
        failed_node_id: "n0/0/dn3".to_owned(),
        message: "boom".to_owned(),
    });
    assert_eq!(crate::typing::literal_type_of(&error), LiteralType::Error);
    assert_eq!(conform(error.clone(), &LiteralType::Error), Ok(error.clone()));
    assert!(crate::typing::check_literal(&error, &LiteralType::Error).is_ok());
    assert_eq!(
        message(error.clone(), &LiteralType::String),
        "expected string, got error"
    );
    let optional = LiteralType::optional(LiteralType::Error);
    assert_eq!(conform(error.clone(), &optional), Ok(union(error, LiteralType::Error)));
    assert_eq!(
        message(Literal::String("boom".into()), &LiteralType::Error),
        "expected error, got string"
    );
}
