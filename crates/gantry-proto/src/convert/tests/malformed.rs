//! Malformed literals, types, identifiers and errors are rejected with an error naming the exact field path.

use gantry_core::model::{
    ExecutionError, Identifier, Literal, LiteralMap, LiteralType, Node, TaskMetadata, TaskTemplate, TypedInterface,
    Variable,
};
use gantry_core::state::ExecutionPhase;

use crate::convert::{ConversionError, decode_enum, required};
use crate::v1 as pb;

pub(super) fn id(name: &str) -> pb::Identifier {
    Identifier::new("p", "d", name, "v1").into()
}

pub(super) fn int_literal(value: i64) -> pb::Literal {
    Literal::Integer(value).into()
}

pub(super) fn task_node(node_id: &str) -> pb::Node {
    Node::task(node_id, Identifier::new("p", "d", "t", "v1"), Vec::new()).into()
}

pub(super) fn expect_error<C, P>(message: P) -> ConversionError
where
    C: TryFrom<P, Error = ConversionError> + std::fmt::Debug,
{
    C::try_from(message).expect_err("the message is malformed")
}

#[track_caller]
pub(super) fn assert_error(error: &ConversionError, field: &str, message: &str) {
    assert_eq!(error.field, field, "{error}");
    assert!(error.message.contains(message), "{error} does not say {message:?}");
}

#[test]
fn a_variable_without_a_type_is_named_down_from_the_request() {
    let mut task = pb::TaskTemplate::from(TaskTemplate {
        id: Identifier::new("p", "d", "t", "v1"),
        interface: Default::default(),
        metadata: Default::default(),
        container: None,
        plugin: None,
    });
    let interface = task.interface.get_or_insert_default();
    for name in ["a", "b", "c"] {
        interface.inputs.push(Variable::new(name, LiteralType::Integer).into());
    }
    interface.inputs[2].r#type = None;

    let error = required::<_, TaskTemplate>("task", Some(task)).unwrap_err();
    assert_error(&error, "task.interface.inputs[2].type", "missing literal type");
    assert_eq!(
        error.to_string(),
        "field \"task.interface.inputs[2].type\": missing literal type"
    );
}

#[test]
fn an_absent_required_request_field_is_named() {
    let error = required::<pb::TaskTemplate, TaskTemplate>("task", None).unwrap_err();
    assert_error(&error, "task", "missing");
}

#[test]
fn an_empty_identifier_part_is_named() {
    for (part, field) in [
        ("project", "id.project"),
        ("domain", "id.domain"),
        ("name", "id.name"),
        ("version", "id.version"),
    ] {
        let mut identifier = id("t");
        match part {
            "project" => identifier.project.clear(),
            "domain" => identifier.domain.clear(),
            "name" => identifier.name.clear(),
            _ => identifier.version.clear(),
        }
        let task = pb::TaskTemplate {
            id: Some(identifier),
            ..Default::default()
        };
        let error = expect_error::<TaskTemplate, _>(task);
        assert_error(&error, field, "must not be empty");
    }
    let error = expect_error::<TaskTemplate, _>(pb::TaskTemplate::default());
    assert_error(&error, "id", "missing identifier");
}

#[test]
fn a_literal_without_a_value_is_named_by_its_map_key() {
    let mut literals = pb::LiteralMap::from(LiteralMap::from([("ok".to_owned(), Literal::Boolean(true))]));
    literals.literals.insert("bad".to_owned(), pb::Literal::default());
    let error = expect_error::<LiteralMap, _>(literals);
    assert_error(&error, "literals['bad']", "literal has no value set");
}

#[test]
fn an_offloaded_literal_needs_a_uri_and_a_type() {
    let offloaded = |uri: &str, ty: Option<LiteralType>| pb::Literal {
        hash: String::new(),
        value: Some(pb::literal::Value::Offloaded(pb::OffloadedLiteral {
            uri: uri.to_owned(),
            size_bytes: 10 << 20,
            r#type: ty.map(Into::into),
            sha256: "ab".repeat(32),
        })),
    };
    let collection = |item: pb::Literal| pb::Literal {
        hash: String::new(),
        value: Some(pb::literal::Value::Collection(pb::LiteralCollection {
            literals: vec![int_literal(1), item],
        })),
    };
    let error = expect_error::<Literal, _>(collection(offloaded("s3://bucket/offloaded/1", None)));
    assert_error(
        &error,
        "collection.literals[1].offloaded.type",
        "required field is missing",
    );
    let error = expect_error::<Literal, _>(collection(offloaded("", Some(LiteralType::Integer))));
    assert_error(&error, "collection.literals[1].offloaded.uri", "must not be empty");
    let good = offloaded("s3://bucket/offloaded/1", Some(LiteralType::Integer));
    let model = Literal::try_from(good.clone()).expect("converts");
    assert_eq!(pb::Literal::from(model), good, "round trip");
}

#[test]
fn unspecified_and_unknown_enum_values_are_named() {
    let nested = pb::Variable {
        name: "xs".to_owned(),
        r#type: Some(pb::LiteralType {
            kind: Some(pb::literal_type::Kind::CollectionType(Box::new(pb::LiteralType {
                kind: Some(pb::literal_type::Kind::Simple(pb::SimpleType::Unspecified as i32)),
                tag: String::new(),
            }))),
            tag: String::new(),
        }),
        ..Default::default()
    };
    let error = expect_error::<Variable, _>(nested);
    assert_error(&error, "type.collection_type.simple", "simple type is unspecified");

    let unknown = pb::LiteralType {
        kind: Some(pb::literal_type::Kind::Simple(99)),
        tag: String::new(),
    };
    assert_error(
        &expect_error::<LiteralType, _>(unknown),
        "simple",
        "unknown enum value 99",
    );

    let blob = pb::Literal {
        hash: String::new(),
        value: Some(pb::literal::Value::Blob(pb::Blob {
            uri: "s3://b/k".to_owned(),
            ..Default::default()
        })),
    };
    assert_error(
        &expect_error::<Literal, _>(blob),
        "blob.dimensionality",
        "blob dimensionality is unspecified",
    );

    let phase = decode_enum::<pb::ExecutionPhase, ExecutionPhase>("phases[1]", 0).unwrap_err();
    assert_error(&phase, "phases[1]", "execution phase is unspecified");
    let error = expect_error::<ExecutionError, _>(pb::ExecutionError::default());
    assert_error(&error, "kind", "error kind is unspecified");
}

#[test]
fn a_struct_value_without_a_kind_is_named_by_its_path() {
    use prost_types::value::Kind;
    let number = |n: f64| prost_types::Value {
        kind: Some(Kind::NumberValue(n)),
    };
    let list = prost_types::Value {
        kind: Some(Kind::ListValue(prost_types::ListValue {
            values: vec![number(1.0), number(2.0), prost_types::Value { kind: None }],
        })),
    };
    let literal = pb::Literal {
        hash: String::new(),
        value: Some(pb::literal::Value::StructValue(prost_types::Struct {
            fields: [("a".to_owned(), list)].into(),
        })),
    };
    let error = expect_error::<Literal, _>(literal);
    assert_error(
        &error,
        "struct_value.fields['a'].list_value.values[2]",
        "struct value has no kind set",
    );
}

#[test]
fn a_union_value_needs_its_value_and_variant() {
    let union = |value: Option<pb::Literal>, variant: Option<pb::LiteralType>| pb::Literal {
        hash: String::new(),
        value: Some(pb::literal::Value::Union(Box::new(pb::UnionValue {
            value: value.map(Box::new),
            variant,
        }))),
    };
    let error = expect_error::<Literal, _>(union(Some(int_literal(1)), None));
    assert_error(&error, "union.variant", "missing union variant type");
    let error = expect_error::<Literal, _>(union(None, Some(LiteralType::Integer.into())));
    assert_error(&error, "union.value", "missing union value");
}

#[cfg(feature = "services")]
#[test]
fn a_conversion_error_is_an_invalid_argument_status() {
    let error = ConversionError::new("type", "missing literal type")
        .at("[2]")
        .at("inputs")
        .at("task");
    assert_eq!(error.field, "task.inputs[2].type");
    let status = tonic::Status::from(error);
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(status.message(), "field \"task.inputs[2].type\": missing literal type");
    assert_eq!(ConversionError::new("", "no field").to_string(), "no field");
}

#[test]
fn the_descriptor_set_holds_both_services() {
    use prost::Message;
    let set = prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap();
    let service = |name: &str| {
        set.file
            .iter()
            .filter(|file| file.package() == "gantry.v1")
            .flat_map(|file| &file.service)
            .find(|service| service.name() == name)
            .unwrap_or_else(|| panic!("no service {name}"))
            .method
            .iter()
            .map(|method| method.name().to_owned())
            .collect::<Vec<_>>()
    };
    let admin = service("AdminService");
    assert_eq!(admin.len(), 27);
    assert_eq!(admin.last().map(String::as_str), Some("ReadOffloaded"));
    assert_eq!(service("WorkerService"), ["PollTasks", "Heartbeat", "CompleteAttempts"]);
    assert!(
        set.file
            .iter()
            .any(|file| file.name() == "google/protobuf/timestamp.proto"),
        "imports are included"
    );
}

#[test]
fn a_timeout_that_is_not_positive_is_refused_naming_its_field() {
    let mut task = pb::TaskTemplate::from(TaskTemplate {
        id: Identifier::new("p", "d", "t", "v1"),
        interface: Default::default(),
        metadata: Default::default(),
        container: None,
        plugin: None,
    });
    task.metadata.get_or_insert_default().queue_timeout = Some(prost_types::Duration { seconds: 0, nanos: 0 });
    let error = required::<_, TaskTemplate>("task", Some(task.clone())).unwrap_err();
    assert_error(&error, "task.metadata.queue_timeout", "at least one millisecond");

    let metadata = task.metadata.get_or_insert_default();
    metadata.queue_timeout = None;
    metadata.timeout = Some(prost_types::Duration { seconds: -1, nanos: 0 });
    let error = required::<_, TaskTemplate>("task", Some(task.clone())).unwrap_err();
    assert_error(&error, "task.metadata.timeout", "at least one millisecond");

    task.metadata.get_or_insert_default().timeout = Some(prost_types::Duration {
        seconds: 0,
        nanos: 250_000_000,
    });
    let converted = required::<_, TaskTemplate>("task", Some(task)).expect("a positive timeout converts");
    assert_eq!(converted.metadata.timeout.map(|t| t.as_millis()), Some(250));
}

/// Sets one field of a task template.
type Setter = fn(&mut pb::TaskTemplate, &str);

#[test]
fn names_outside_their_rules_are_named_and_quoted_short() {
    let long = "n".repeat(2 << 20);
    let cases: [(&str, Setter); 4] = [
        ("id.name", |task, value| {
            task.id.get_or_insert_default().name = value.to_owned()
        }),
        ("id.project", |task, value| {
            task.id.get_or_insert_default().project = value.to_owned()
        }),
        ("metadata.queue", |task, value| {
            task.metadata.get_or_insert_default().queue = value.to_owned()
        }),
        ("metadata.cache_version", |task, value| {
            task.metadata.get_or_insert_default().cache_version = value.to_owned();
        }),
    ];
    for (field, set) in cases {
        for (value, says) in [(long.as_str(), "(2097152 bytes)"), ("nul\0", "\\0")] {
            let mut task = pb::TaskTemplate::from(TaskTemplate {
                id: Identifier::new("p", "d", "t", "v1"),
                interface: TypedInterface::default(),
                metadata: TaskMetadata::default(),
                container: None,
                plugin: None,
            });
            set(&mut task, value);
            let error = expect_error::<TaskTemplate, _>(task);
            assert_error(&error, field, says);
            assert!(
                error.to_string().len() < 300,
                "{field}: {} bytes",
                error.to_string().len()
            );
        }
    }
}

#[test]
fn a_literal_hash_is_printable_and_bounded() {
    let hashed = |hash: String| pb::Literal { hash, ..int_literal(1) };
    let list = |item: pb::Literal| pb::Literal {
        value: Some(pb::literal::Value::Collection(pb::LiteralCollection {
            literals: vec![int_literal(1), item],
        })),
        hash: String::new(),
    };
    assert_error(
        &expect_error::<Literal, _>(hashed("a\u{0}b".to_owned())),
        "hash",
        "control",
    );
    assert_error(
        &expect_error::<Literal, _>(list(hashed("x".repeat(256)))),
        "collection.literals[1].hash",
        "255",
    );
    let read = Literal::try_from(hashed("x".repeat(255))).expect("255 bytes are fine");
    assert_eq!(read.hash().map(str::len), Some(255));
}

#[test]
fn a_type_tag_is_printable_and_bounded() {
    let tagged = |tag: &str| pb::LiteralType {
        tag: tag.to_owned(),
        ..LiteralType::Integer.into()
    };
    let list = pb::LiteralType {
        kind: Some(pb::literal_type::Kind::CollectionType(Box::new(tagged("a\nb")))),
        tag: String::new(),
    };
    assert_error(&expect_error::<LiteralType, _>(list), "collection_type.tag", "control");
    assert_error(&expect_error::<LiteralType, _>(tagged(&"t".repeat(256))), "tag", "255");
    assert_eq!(LiteralType::try_from(tagged("int")).expect("valid").tag(), Some("int"));
}
