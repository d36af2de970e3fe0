//! The plugin payload: carried byte for byte through the wire, refused only for its size, an empty or malformed type,
//! or an empty config key, with the error naming the field.

use gantry_core::model::{Identifier, MAX_PLUGIN_BYTES, TaskPlugin, TaskTemplate};
use prost::Message;

use super::malformed::assert_error;
use crate::convert::required;
use crate::v1 as pb;

fn template_with(plugin: pb::TaskPlugin) -> pb::TaskTemplate {
    pb::TaskTemplate {
        id: Some(Identifier::new("p", "d", "t", "v1").into()),
        plugin: Some(plugin),
        ..Default::default()
    }
}

fn flyte_plugin() -> pb::TaskPlugin {
    pb::TaskPlugin {
        r#type: "python-task".to_owned(),
        // Not UTF-8 and with zero bytes: the payload is bytes, never text.
        custom: vec![0x0a, 0x00, 0xff, 0xfe, 0x12, 0x03, b'a', b'b', b'c'],
        config: [
            ("image".to_owned(), "cr.flyte.org/x:1".to_owned()),
            ("pod".to_owned(), String::new()),
        ]
        .into(),
    }
}

#[test]
fn a_payload_survives_the_wire_byte_for_byte() {
    let wire = template_with(flyte_plugin());
    let task = required::<_, TaskTemplate>("task", Some(wire.clone())).expect("a valid payload");
    let plugin = task.plugin.clone().expect("the payload is kept");
    assert_eq!(plugin.task_type, "python-task");
    assert_eq!(plugin.custom, flyte_plugin().custom);
    assert_eq!(plugin.config, flyte_plugin().config);
    let back = pb::TaskTemplate::from(task);
    assert_eq!(back.plugin, wire.plugin);
    assert_eq!(
        back.plugin.expect("set").encode_to_vec(),
        flyte_plugin().encode_to_vec()
    );
}

#[test]
fn a_template_without_a_payload_has_none() {
    let task = pb::TaskTemplate {
        id: Some(Identifier::new("p", "d", "t", "v1").into()),
        ..Default::default()
    };
    let task = TaskTemplate::try_from(task).expect("valid");
    assert_eq!(task.plugin, None);
    assert_eq!(pb::TaskTemplate::from(task).plugin, None);
}

#[test]
fn a_payload_at_the_limit_is_accepted_and_one_byte_more_is_refused() {
    let overhead = pb::TaskPlugin {
        r#type: "python-task".to_owned(),
        custom: vec![0; MAX_PLUGIN_BYTES],
        config: Default::default(),
    }
    .encoded_len()
        - MAX_PLUGIN_BYTES;
    let at_limit = pb::TaskPlugin {
        r#type: "python-task".to_owned(),
        custom: vec![7; MAX_PLUGIN_BYTES - overhead],
        config: Default::default(),
    };
    assert_eq!(at_limit.encoded_len(), MAX_PLUGIN_BYTES);
    let task: TaskTemplate = required("task", Some(template_with(at_limit.clone()))).expect("at the limit");
    assert_eq!(task.plugin.map(|p| p.custom.len()), Some(MAX_PLUGIN_BYTES - overhead));

    let mut over = at_limit;
    over.config.insert("k".to_owned(), String::new());
    let error = required::<_, TaskTemplate>("task", Some(template_with(over))).unwrap_err();
    assert_error(&error, "task.plugin", &format!("over the limit of {MAX_PLUGIN_BYTES}"));
    assert!(error.to_string().len() < 200, "{error}");
}

/// A field path, a change of the payload that breaks it, and what the error says.
type Case = (&'static str, fn(&mut pb::TaskPlugin), &'static str);

#[test]
fn a_bad_type_or_config_key_is_named() {
    let cases: [Case; 3] = [
        ("task.plugin.type", |p| p.r#type.clear(), "must not be empty"),
        ("task.plugin.type", |p| p.r#type = "a\0b".to_owned(), "\\0"),
        (
            "task.plugin.config",
            |p| drop(p.config.insert(String::new(), "v".to_owned())),
            "a key is empty",
        ),
    ];
    for (field, change, says) in cases {
        let mut plugin = flyte_plugin();
        change(&mut plugin);
        let error = required::<_, TaskTemplate>("task", Some(template_with(plugin))).unwrap_err();
        assert_error(&error, field, says);
    }
}

#[test]
fn the_core_payload_round_trips_through_its_wire_message() {
    let plugin = TaskPlugin {
        task_type: "container_array".to_owned(),
        custom: (0..=255).collect(),
        config: [("a".to_owned(), "1".to_owned())].into(),
    };
    let wire = pb::TaskPlugin::from(plugin.clone());
    let decoded = pb::TaskPlugin::decode(wire.encode_to_vec().as_slice()).expect("decodes");
    assert_eq!(TaskPlugin::try_from(decoded), Ok(plugin));
}
