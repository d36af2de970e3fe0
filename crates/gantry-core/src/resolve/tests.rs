use super::*;
use crate::model::{AttrStep, LiteralType, StructValue, UnionValue};

fn outputs(entries: &[(&str, &[(&str, Literal)])]) -> BTreeMap<String, LiteralMap> {
    entries
        .iter()
        .map(|(node, values)| {
            let values = values.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
            ((*node).to_owned(), values)
        })
        .collect()
}

fn promise(node: &str, output: &str, path: Vec<AttrStep>) -> BindingData {
    BindingData::Promise(Promise {
        node_id: node.to_owned(),
        output: output.to_owned(),
        attr_path: path,
    })
}

fn source() -> BTreeMap<String, LiteralMap> {
    let record = Literal::Struct([("x".to_owned(), StructValue::Number(4.0))].into());
    outputs(&[
        ("", &[("n", Literal::Integer(3))]),
        ("dn0", &[("o0", Literal::Integer(10)), ("rec", record)]),
        ("dn1", &[("o0", Literal::Integer(11))]),
        ("dn2", &[("o0", Literal::Integer(12))]),
    ])
}

#[test]
fn resolves_each_kind_of_binding() {
    let source = source();
    let data = BindingData::Map(
        [
            ("lit".to_owned(), BindingData::Literal(Literal::String("s".into()))),
            ("input".to_owned(), promise("", "n", vec![])),
            (
                "list".to_owned(),
                BindingData::Collection(vec![promise("dn0", "o0", vec![]), promise("dn1", "o0", vec![])]),
            ),
            (
                "field".to_owned(),
                promise("dn0", "rec", vec![AttrStep::Key("x".into())]),
            ),
        ]
        .into(),
    );
    let expected = Literal::Map(
        [
            ("lit".to_owned(), Literal::String("s".into())),
            ("input".to_owned(), Literal::Integer(3)),
            (
                "list".to_owned(),
                Literal::Collection(vec![Literal::Integer(10), Literal::Integer(11)]),
            ),
            ("field".to_owned(), Literal::Float(4.0)),
        ]
        .into(),
    );
    assert_eq!(resolve_binding(&data, &source), Ok(expected));
}

#[test]
fn assembles_a_dynamic_parents_list_output() {
    // The seed's `out.set(res)`: one output bound to a list of promises of the children's outputs.
    let source = source();
    let res = BindingData::Collection((0..3).map(|i| promise(&format!("dn{i}"), "o0", vec![])).collect());
    let declared = [Variable::new("out", LiteralType::collection(LiteralType::Integer))];
    let assembled = assemble_outputs(&[Binding::new("out", res)], &declared, &source);
    let expected: LiteralMap = [(
        "out".to_owned(),
        Literal::Collection(vec![Literal::Integer(10), Literal::Integer(11), Literal::Integer(12)]),
    )]
    .into();
    assert_eq!(assembled, Ok(expected));
}

#[test]
fn inputs_are_conformed_and_defaults_fill_gaps() {
    let source = source();
    let declared = [
        Variable::new("index", LiteralType::Integer),
        Variable::new("maybe", LiteralType::optional(LiteralType::Integer)),
        Variable::new("label", LiteralType::String).with_default(Literal::String("none".into())),
    ];
    let bindings = [
        Binding::new("index", promise("dn0", "rec", vec![AttrStep::Key("x".into())])),
        Binding::promise("maybe", "", "n"),
    ];
    let expected: LiteralMap = [
        ("index".to_owned(), Literal::Integer(4)),
        (
            "maybe".to_owned(),
            Literal::Union(Box::new(UnionValue {
                value: Literal::Integer(3),
                variant: LiteralType::Integer,
            })),
        ),
        ("label".to_owned(), Literal::String("none".into())),
    ]
    .into();
    assert_eq!(resolve_inputs(&bindings, &declared, &source), Ok(expected));
}

#[test]
fn errors_name_the_input_and_the_referenced_output() {
    let source = source();
    let declared = [Variable::new("index", LiteralType::Integer)];
    let error = |bindings: &[Binding]| resolve_inputs(bindings, &declared, &source).unwrap_err().to_string();

    let missing_key = Binding::new("index", promise("dn0", "rec", vec![AttrStep::Key("y".into())]));
    assert_eq!(
        error(&[missing_key]),
        r#"input "index": node "dn0" output "rec": key "y" not found"#
    );

    let missing_node = Binding::promise("index", "dn9", "o0");
    assert_eq!(
        error(&[missing_node]),
        r#"input "index": node "dn9" output "o0": value not available"#
    );

    let missing_input = Binding::promise("index", "", "nope");
    assert_eq!(
        error(&[missing_input]),
        r#"input "index": workflow input "nope": value not available"#
    );

    let wrong_type = Binding::literal("index", Literal::String("x".into()));
    assert_eq!(error(&[wrong_type]), r#"input "index": expected integer, got string"#);

    let wrong_promised_type = Binding::new("index", promise("dn0", "rec", vec![]));
    assert_eq!(
        error(&[wrong_promised_type]),
        r#"input "index": node "dn0" output "rec": expected integer, got struct"#
    );

    assert_eq!(error(&[]), r#"input "index": not bound and has no default"#);

    let twice = [
        Binding::promise("index", "dn0", "o0"),
        Binding::promise("index", "dn1", "o0"),
    ];
    assert_eq!(error(&twice), r#"input "index": bound more than once"#);

    let unknown = [
        Binding::promise("index", "dn0", "o0"),
        Binding::promise("extra", "dn1", "o0"),
    ];
    assert_eq!(error(&unknown), r#"input "extra": no such input is declared"#);
}

#[test]
fn output_errors_say_output() {
    let source = source();
    let declared = [Variable::new("out", LiteralType::Integer)];
    let error = assemble_outputs(&[], &declared, &source).unwrap_err();
    assert_eq!(error.var_kind, VarKind::Output);
    assert_eq!(error.to_string(), r#"output "out": not bound and has no default"#);
}

#[test]
fn a_bad_default_is_reported_as_such() {
    let declared = [Variable::new("n", LiteralType::Integer).with_default(Literal::Boolean(true))];
    let error = resolve_inputs(&[], &declared, &source()).unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"input "n": default: expected integer, got boolean"#
    );
}

#[test]
fn closures_and_hash_maps_are_sources() {
    let values: LiteralMap = [("a".to_owned(), Literal::Integer(1))].into();
    let closure = from_fn(|node, name| if node == "n" { values.get(name) } else { None });
    assert_eq!(
        resolve_binding(&promise("n", "a", vec![]), &closure),
        Ok(Literal::Integer(1))
    );
    assert!(resolve_binding(&promise("m", "a", vec![]), &closure).is_err());

    let hashed: HashMap<String, LiteralMap> = [("n".to_owned(), values.clone())].into();
    assert_eq!(
        resolve_binding(&promise("n", "a", vec![]), &hashed),
        Ok(Literal::Integer(1))
    );
    assert_eq!(
        resolve_binding(&promise("n", "a", vec![]), &&hashed),
        Ok(Literal::Integer(1))
    );
}
