//! Cache keys: a task's outputs are memoised by (project, domain, task name, cache version, interface, inputs, and
//! the plugin payload when the template has one).
//!
//! The key is the SHA-256 of a canonical byte encoding of all of these. The encoding is unambiguous (every string and
//! sequence is length-prefixed, every variant has its own tag byte) and independent of incidental order: interface
//! variables are sorted by name, maps are ordered by key, `-0.0` is `0.0` and every NaN is one NaN. Changing the
//! encoding changes every key, which only costs cache misses; bump [`ENCODING_VERSION`] when doing so on purpose.

use std::collections::BTreeMap;
use std::fmt;

use sha2::{Digest, Sha256};

use crate::model::{
    BlobDimensionality, Literal, LiteralMap, LiteralType, StructValue, TaskPlugin, TypedInterface, Variable,
};

/// Written first into every key, so that keys of a future encoding never equal keys of this one.
pub const ENCODING_VERSION: &str = "gantry-cache-key/v1";

/// Everything a task's cache entry depends on.
#[derive(Debug, Clone, Copy)]
pub struct CacheKeyInput<'a> {
    /// The project the task is registered in.
    pub project: &'a str,
    /// The domain the task is registered in.
    pub domain: &'a str,
    /// The task's name (not its version: a new version with the same cache version shares entries).
    pub task_name: &'a str,
    /// The task's `cache_version`; bumping it invalidates earlier entries.
    pub cache_version: &'a str,
    /// Both the inputs' and the outputs' names and types count; descriptions and defaults do not.
    pub interface: &'a TypedInterface,
    /// The resolved inputs of the run.
    pub inputs: &'a LiteralMap,
    /// The template's plugin payload: it changes what the worker runs, so it counts when present. Absent adds
    /// nothing to the encoding, so templates without one keep the keys they had before payloads existed.
    pub plugin: Option<&'a TaskPlugin>,
}

/// A cache key: 64 lowercase hex digits of a SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CacheKey(pub String);

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The cache key of a task run with the given inputs.
pub fn cache_key(input: &CacheKeyInput<'_>) -> CacheKey {
    let mut encoder = Encoder(Sha256::new());
    encoder.str(ENCODING_VERSION);
    encoder.str(input.project);
    encoder.str(input.domain);
    encoder.str(input.task_name);
    encoder.str(input.cache_version);
    encoder.variables(&input.interface.inputs);
    encoder.variables(&input.interface.outputs);
    encoder.len(input.inputs.len());
    for (name, value) in input.inputs {
        encoder.str(name);
        encoder.literal(value);
    }
    if let Some(plugin) = input.plugin {
        encoder.plugin(plugin);
    }
    CacheKey(hex::encode(encoder.0.finalize()))
}

/// Streams the canonical encoding straight into the hash.
struct Encoder(Sha256);

impl Encoder {
    fn tag(&mut self, tag: u8) {
        self.0.update([tag]);
    }

    fn u64(&mut self, value: u64) {
        self.0.update(value.to_le_bytes());
    }

    fn i64(&mut self, value: i64) {
        self.0.update(value.to_le_bytes());
    }

    fn len(&mut self, len: usize) {
        self.u64(len as u64);
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.update(bytes);
    }

    fn str(&mut self, value: &str) {
        self.bytes(value.as_bytes());
    }

    fn f64(&mut self, value: f64) {
        let canonical = if value.is_nan() {
            f64::NAN
        } else if value == 0.0 {
            0.0
        } else {
            value
        };
        self.u64(canonical.to_bits());
    }

    fn plugin(&mut self, plugin: &TaskPlugin) {
        self.tag(1);
        self.str(&plugin.task_type);
        self.bytes(&plugin.custom);
        self.len(plugin.config.len());
        for (key, value) in &plugin.config {
            self.str(key);
            self.str(value);
        }
    }

    fn variables(&mut self, variables: &[Variable]) {
        let mut sorted: Vec<&Variable> = variables.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        self.len(sorted.len());
        for variable in sorted {
            self.str(&variable.name);
            self.literal_type(&variable.ty);
        }
    }

    fn dimensionality(&mut self, dimensionality: BlobDimensionality) {
        self.tag(match dimensionality {
            BlobDimensionality::Single => 0,
            BlobDimensionality::Multipart => 1,
        });
    }

    fn literal_type(&mut self, ty: &LiteralType) {
        match ty {
            LiteralType::Integer => self.tag(1),
            LiteralType::Float => self.tag(2),
            LiteralType::String => self.tag(3),
            LiteralType::Boolean => self.tag(4),
            LiteralType::Datetime => self.tag(5),
            LiteralType::Duration => self.tag(6),
            LiteralType::None => self.tag(7),
            LiteralType::Binary => self.tag(8),
            LiteralType::Error => self.tag(16),
            LiteralType::Struct(struct_type) => {
                self.tag(9);
                self.len(struct_type.fields.len());
                for (name, field_type) in &struct_type.fields {
                    self.str(name);
                    self.literal_type(field_type);
                }
            }
            LiteralType::Blob(blob_type) => {
                self.tag(10);
                self.str(&blob_type.format);
                self.dimensionality(blob_type.dimensionality);
            }
            LiteralType::Collection(element) => {
                self.tag(11);
                self.literal_type(element);
            }
            LiteralType::Map(value) => {
                self.tag(12);
                self.literal_type(value);
            }
            LiteralType::Union(variants) => {
                // Variant order decides which variant a bare value is stamped with, so it counts.
                self.tag(13);
                self.len(variants.len());
                variants.iter().for_each(|variant| self.literal_type(variant));
            }
            LiteralType::Enum(values) => {
                self.tag(14);
                self.len(values.len());
                values.iter().for_each(|value| self.str(value));
            }
            LiteralType::Tagged(tagged) => {
                self.tag(15);
                self.str(&tagged.tag);
                self.literal_type(&tagged.ty);
            }
        }
    }

    fn literal(&mut self, literal: &Literal) {
        match literal {
            Literal::Integer(i) => {
                self.tag(1);
                self.i64(*i);
            }
            Literal::Float(f) => {
                self.tag(2);
                self.f64(*f);
            }
            Literal::String(s) => {
                self.tag(3);
                self.str(s);
            }
            Literal::Boolean(b) => {
                self.tag(4);
                self.tag(u8::from(*b));
            }
            Literal::Datetime(t) => {
                self.tag(5);
                self.i64(t.seconds);
                self.i64(i64::from(t.nanos));
            }
            Literal::Duration(d) => {
                self.tag(6);
                self.i64(d.seconds);
                self.i64(i64::from(d.nanos));
            }
            Literal::None => self.tag(7),
            Literal::Binary(bytes) => {
                self.tag(8);
                self.bytes(bytes);
            }
            Literal::Struct(fields) => {
                self.tag(9);
                self.struct_fields(fields);
            }
            Literal::Blob(blob) => {
                self.tag(10);
                self.str(&blob.uri);
                self.str(&blob.format);
                self.dimensionality(blob.dimensionality);
            }
            Literal::Collection(items) => {
                self.tag(11);
                self.len(items.len());
                items.iter().for_each(|item| self.literal(item));
            }
            Literal::Map(entries) => {
                self.tag(12);
                self.len(entries.len());
                for (key, value) in entries {
                    self.str(key);
                    self.literal(value);
                }
            }
            Literal::Union(union) => {
                self.tag(13);
                self.literal(&union.value);
                self.literal_type(&union.variant);
            }
            Literal::Enum(value) => {
                self.tag(14);
                self.str(value);
            }
            // The digest of the encoded value stands for the value: an offloaded literal is keyed without fetching it.
            // The same value held inline keys differently; offloading depends only on size, so one value is always
            // held the same way.
            Literal::Offloaded(offloaded) => {
                self.tag(15);
                self.str(&offloaded.sha256);
                self.literal_type(&offloaded.ty);
            }
            // The producer's hash stands for the value (as in Flyte): a dataframe written again under a new URI
            // keys the same. The interface already counts its type.
            Literal::Hashed(hashed) => {
                self.tag(16);
                self.str(&hashed.hash);
            }
            Literal::Error(error) => {
                self.tag(17);
                self.str(&error.failed_node_id);
                self.str(&error.message);
            }
        }
    }

    fn struct_fields(&mut self, fields: &BTreeMap<String, StructValue>) {
        self.len(fields.len());
        for (key, value) in fields {
            self.str(key);
            self.struct_value(value);
        }
    }

    fn struct_value(&mut self, value: &StructValue) {
        match value {
            StructValue::Null => self.tag(1),
            StructValue::Bool(b) => {
                self.tag(2);
                self.tag(u8::from(*b));
            }
            StructValue::Number(n) => {
                self.tag(3);
                self.f64(*n);
            }
            StructValue::String(s) => {
                self.tag(4);
                self.str(s);
            }
            StructValue::List(items) => {
                self.tag(5);
                self.len(items.len());
                items.iter().for_each(|item| self.struct_value(item));
            }
            StructValue::Object(fields) => {
                self.tag(6);
                self.struct_fields(fields);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::{StructType, UnionValue};

    struct Parts {
        project: String,
        domain: String,
        task_name: String,
        cache_version: String,
        interface: TypedInterface,
        inputs: LiteralMap,
        plugin: Option<TaskPlugin>,
    }

    impl Parts {
        fn key(&self) -> CacheKey {
            cache_key(&CacheKeyInput {
                project: &self.project,
                domain: &self.domain,
                task_name: &self.task_name,
                cache_version: &self.cache_version,
                interface: &self.interface,
                inputs: &self.inputs,
                plugin: self.plugin.as_ref(),
            })
        }
    }

    fn base() -> Parts {
        Parts {
            project: "flytesnacks".to_owned(),
            domain: "development".to_owned(),
            task_name: "wf.square".to_owned(),
            cache_version: "1".to_owned(),
            interface: TypedInterface {
                inputs: vec![
                    Variable::new("n", LiteralType::Integer),
                    Variable::new("xs", LiteralType::collection(LiteralType::Float)),
                ],
                outputs: vec![Variable::new("o0", LiteralType::Integer)],
            },
            inputs: [
                ("n".to_owned(), Literal::Integer(3)),
                ("xs".to_owned(), Literal::Collection(vec![Literal::Float(1.5)])),
            ]
            .into(),
            plugin: None,
        }
    }

    fn plugin() -> TaskPlugin {
        TaskPlugin {
            task_type: "python-task".to_owned(),
            custom: vec![0, 1, 2],
            config: [("k".to_owned(), "v".to_owned())].into(),
        }
    }

    /// A key computed before plugin payloads existed: a template without one must keep it.
    #[test]
    fn keys_without_a_plugin_are_unchanged() {
        assert_eq!(
            base().key().0,
            "1b19d29f62dd064976921a623265b9e29cbbc8fdbfb933dd65975b6a7c68c3ba"
        );
    }

    #[test]
    fn a_hash_stands_for_its_value() {
        let hashed = |hash: &str, value: i64| {
            let mut parts = base();
            parts.inputs.insert(
                "n".to_owned(),
                Literal::hashed(hash.to_owned(), Literal::Integer(value)),
            );
            parts.key()
        };
        assert_eq!(
            hashed("h1", 3),
            hashed("h1", 4),
            "the value does not count beside a hash"
        );
        assert_ne!(hashed("h1", 3), hashed("h2", 3), "the hash does");
        assert_ne!(
            hashed("h1", 3),
            base().key(),
            "a hashed value keys apart from the bare value"
        );
        // Inside a list too: each element's hash stands for it.
        let mut listed = base();
        let element = |value| Literal::hashed("frame".to_owned(), Literal::Float(value));
        listed
            .inputs
            .insert("xs".to_owned(), Literal::Collection(vec![element(1.5)]));
        let first = listed.key();
        listed
            .inputs
            .insert("xs".to_owned(), Literal::Collection(vec![element(2.5)]));
        assert_eq!(listed.key(), first);
    }

    #[test]
    fn key_is_64_lowercase_hex_digits() {
        let key = base().key();
        assert_eq!(key.0.len(), 64);
        assert!(key.0.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
        assert_eq!(key.to_string(), key.0);
        assert_eq!(key, base().key());
    }

    #[test]
    fn every_part_changes_the_key() {
        type Change = (&'static str, fn(&mut Parts));
        let changes: Vec<Change> = vec![
            ("project", |p| p.project.push('x')),
            ("domain", |p| p.domain = "production".to_owned()),
            ("task name", |p| p.task_name.push('2')),
            ("cache version", |p| p.cache_version = "2".to_owned()),
            ("input type", |p| p.interface.inputs[0].ty = LiteralType::Float),
            ("input name", |p| p.interface.inputs[0].name = "m".to_owned()),
            ("input type's tag", |p| {
                p.interface.inputs[0].ty = LiteralType::tagged("int".to_owned(), LiteralType::Integer)
            }),
            ("output type", |p| {
                p.interface.outputs[0].ty = LiteralType::optional(LiteralType::Integer)
            }),
            ("output name", |p| p.interface.outputs[0].name = "o1".to_owned()),
            ("extra output", |p| {
                p.interface.outputs.push(Variable::new("o1", LiteralType::None))
            }),
            ("input value", |p| {
                drop(p.inputs.insert("n".to_owned(), Literal::Integer(4)))
            }),
            ("input kind", |p| {
                drop(p.inputs.insert("n".to_owned(), Literal::Float(3.0)))
            }),
            ("nested value", |p| {
                drop(p.inputs.insert("xs".to_owned(), Literal::Collection(vec![])))
            }),
            ("input key", |p| {
                let value = p.inputs.remove("n").unwrap();
                p.inputs.insert("m".to_owned(), value);
            }),
            ("plugin added", |p| p.plugin = Some(plugin())),
            ("plugin type", |p| {
                p.plugin = Some(TaskPlugin {
                    task_type: "container_array".to_owned(),
                    ..plugin()
                })
            }),
            ("plugin custom", |p| {
                p.plugin = Some(TaskPlugin {
                    custom: vec![0, 1, 3],
                    ..plugin()
                })
            }),
            ("plugin config", |p| {
                p.plugin = Some(TaskPlugin {
                    config: [("k".to_owned(), "w".to_owned())].into(),
                    ..plugin()
                })
            }),
            ("union stamp", |p| {
                let value = Literal::Union(Box::new(UnionValue {
                    value: Literal::Integer(3),
                    variant: LiteralType::Integer,
                }));
                p.inputs.insert("n".to_owned(), value);
            }),
        ];
        let original = base().key();
        let mut seen = std::collections::BTreeSet::from([original.clone()]);
        for (what, change) in changes {
            let mut parts = base();
            change(&mut parts);
            let key = parts.key();
            assert_ne!(key, original, "changing the {what} kept the key");
            assert!(seen.insert(key), "changing the {what} collided with another change");
        }
    }

    #[test]
    fn strings_are_length_prefixed() {
        let mut a = base();
        a.project = "ab".to_owned();
        a.domain = "c".to_owned();
        let mut b = base();
        b.project = "a".to_owned();
        b.domain = "bc".to_owned();
        assert_ne!(a.key(), b.key());
    }

    #[test]
    fn declaration_order_descriptions_and_defaults_do_not_matter() {
        let mut parts = base();
        parts.interface.inputs.reverse();
        parts.interface.inputs[0].description = "a list".to_owned();
        parts.interface.inputs[1].default = Some(Literal::Integer(0));
        assert_eq!(parts.key(), base().key());
    }

    #[test]
    fn signed_zeros_and_nans_are_one_value_each() {
        let key_of = |value: Literal| {
            let mut parts = base();
            parts.inputs.insert("xs".to_owned(), value);
            parts.key()
        };
        assert_eq!(key_of(Literal::Float(0.0)), key_of(Literal::Float(-0.0)));
        assert_eq!(key_of(Literal::Float(f64::NAN)), key_of(Literal::Float(-f64::NAN)));
        assert_eq!(
            key_of(Literal::Float(f64::NAN)),
            key_of(Literal::Float(f64::from_bits(0x7ff8_0000_dead_beef)))
        );
        assert_ne!(key_of(Literal::Float(0.0)), key_of(Literal::Float(f64::MIN_POSITIVE)));
        let number = |n| Literal::Struct([("v".to_owned(), StructValue::List(vec![StructValue::Number(n)]))].into());
        assert_eq!(key_of(number(0.0)), key_of(number(-0.0)));
        assert_ne!(key_of(number(1.0)), key_of(number(0.0)));
    }

    #[test]
    fn struct_field_types_count() {
        let with_field = |ty| {
            let mut parts = base();
            let fields = [("a".to_owned(), ty)].into();
            parts.interface.outputs[0].ty = LiteralType::Struct(StructType { fields });
            parts.key()
        };
        assert_ne!(with_field(LiteralType::Integer), with_field(LiteralType::Float));
    }

    fn arb_literal() -> impl Strategy<Value = Literal> {
        let leaf = prop_oneof![
            any::<i64>().prop_map(Literal::Integer),
            any::<f64>().prop_map(Literal::Float),
            "[a-z]{0,3}".prop_map(Literal::String),
            Just(Literal::None),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Literal::Collection),
                prop::collection::vec(("[a-d]", inner), 0..4)
                    .prop_shuffle()
                    .prop_map(|entries| Literal::Map(entries.into_iter().collect())),
            ]
        })
    }

    /// Rebuilds every map of `literal` by inserting its entries in an order drawn from `seed`.
    fn reinserted(literal: &Literal, seed: u64) -> Literal {
        match literal {
            Literal::Collection(items) => Literal::Collection(items.iter().map(|i| reinserted(i, seed)).collect()),
            Literal::Map(entries) => {
                let mut pairs: Vec<(&String, &Literal)> = entries.iter().collect();
                shuffle(&mut pairs, seed);
                let mut rebuilt = BTreeMap::new();
                for (key, value) in pairs {
                    rebuilt.insert(key.clone(), reinserted(value, seed.rotate_left(7)));
                }
                Literal::Map(rebuilt)
            }
            other => other.clone(),
        }
    }

    fn shuffle<T>(items: &mut [T], mut seed: u64) {
        for i in (1..items.len()).rev() {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            items.swap(i, (seed >> 33) as usize % (i + 1));
        }
    }

    proptest! {
        #[test]
        fn insertion_order_does_not_matter(
            entries in prop::collection::vec(("[a-e]{1,2}", arb_literal()), 0..6),
            seed in any::<u64>(),
        ) {
            let mut forward = base();
            forward.inputs = entries.iter().cloned().collect();
            let mut shuffled = base();
            let mut pairs = entries.clone();
            // Later duplicates win in both builds: keep the last occurrence of each key.
            let mut seen = std::collections::BTreeSet::new();
            pairs.reverse();
            pairs.retain(|(key, _)| seen.insert(key.clone()));
            shuffle(&mut pairs, seed);
            shuffled.inputs = pairs.into_iter().map(|(key, value)| (key, reinserted(&value, seed))).collect();
            shuffled.interface.inputs.reverse();
            shuffled.interface.outputs.reverse();
            prop_assert_eq!(forward.key(), shuffled.key());
        }

        #[test]
        fn different_integer_inputs_give_different_keys(a in any::<i64>(), b in any::<i64>()) {
            prop_assume!(a != b);
            let key_of = |n| {
                let mut parts = base();
                parts.inputs.insert("n".to_owned(), Literal::Integer(n));
                parts.key()
            };
            prop_assert_ne!(key_of(a), key_of(b));
        }
    }
}
