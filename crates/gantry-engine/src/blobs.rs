//! Size limits, and offloading large literals to a blob store.
//!
//! A literal whose encoding is larger than the offload threshold is written to the blob store (the `object_store`
//! crate: a local directory by default, S3-compatible stores by URL) and replaced by a [`Literal::Offloaded`]
//! reference carrying its type and digest, so rows and batches stay small and type checks and cache keys need not
//! fetch it. Inside the control plane a reference is resolved only where a value itself is needed to start a node (a
//! branch condition, an attribute path into it), and then outside the writer (`hydration.rs`); what leaves it is
//! `reads`' part.
//! Literals larger than the hard limit are refused, naming what was too large. Blob literals (URIs of the user's own
//! data) are never fetched nor offloaded.

use std::sync::Arc;

use bytes::Bytes;
use gantry_core::model::{Literal, LiteralMap, Offloaded};
use gantry_core::typing::literal_type_of;
use gantry_proto::v1 as pb;
use object_store::ObjectStore;
use object_store::path::Path;
use prost::Message;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{EngineError, EngineResult};

/// Byte limits on what workers and clients send, and the size above which literals are offloaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Literals whose encoding is larger than this are moved to the blob store.
    pub offload_bytes: u64,
    /// No single literal (an input or output value) may be larger than this.
    pub literal_bytes: u64,
    /// No task's outputs may be larger than this in all, before offloading.
    pub outputs_bytes: u64,
    /// No assembled outputs (of a dynamic task, a sub-workflow, an array node, an execution) may be larger than this
    /// in all, before offloading.
    pub assembled_bytes: u64,
    /// No dynamic job spec may be larger than this, encoded.
    pub spec_bytes: u64,
    /// No dynamic job spec may have more nodes than this.
    pub spec_nodes: u64,
    /// The values one response (to a read or a poll) carries inline, in all; beyond, it carries references (see
    /// `reads`). The server makes it half its message limit.
    pub response_bytes: u64,
}

impl Default for Limits {
    /// Defaults that let a 100,000-child spec and its assembled list through.
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        Limits {
            offload_bytes: MIB,
            literal_bytes: 64 * MIB,
            outputs_bytes: 128 * MIB,
            assembled_bytes: 128 * MIB,
            spec_bytes: 256 * MIB,
            spec_nodes: 1_000_000,
            response_bytes: 32 * MIB,
        }
    }
}

/// Where offloaded literals are kept: an object store and the URL its objects' URIs start with.
#[derive(Debug, Clone)]
pub struct BlobStore {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// What the URIs of its objects start with.
    pub(crate) base: String,
}

impl BlobStore {
    /// A store in memory: for tests and engines that never offload.
    pub fn in_memory() -> Self {
        BlobStore {
            store: Arc::new(object_store::memory::InMemory::new()),
            base: "memory://".to_owned(),
        }
    }

    /// A store at `location`: a directory path (created if missing), a `file://` URL, or an `s3://bucket/prefix`
    /// URL configured by the usual `AWS_*` environment variables (endpoint, region, keys), which also reaches
    /// S3-compatible stores.
    pub fn open(location: &str) -> EngineResult<Self> {
        let invalid = |e: &dyn std::fmt::Display| EngineError::InvalidArgument(format!("blob store {location:?}: {e}"));
        if !location.contains("://") {
            std::fs::create_dir_all(location).map_err(|e| invalid(&e))?;
            let dir = std::fs::canonicalize(location).map_err(|e| invalid(&e))?;
            let store = object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|e| invalid(&e))?;
            return Ok(BlobStore {
                store: Arc::new(store),
                base: format!("file://{}", dir.display()),
            });
        }
        let url = url::Url::parse(location).map_err(|e| invalid(&e))?;
        let options = std::env::vars().filter(|(key, _)| key.starts_with("AWS_"));
        let (store, prefix) = object_store::parse_url_opts(&url, options).map_err(|e| invalid(&e))?;
        let store: Arc<dyn ObjectStore> = Arc::from(store);
        let store = if prefix.as_ref().is_empty() {
            store
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(BlobStore {
            store,
            base: location.trim_end_matches('/').to_owned(),
        })
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> EngineResult<String> {
        let size = bytes.len();
        self.store
            .put(&Path::from(key), Bytes::from(bytes).into())
            .await
            .map_err(|e| EngineError::Unavailable(format!("blob store: writing {key}: {e}")))?;
        crate::metrics::offloaded("written", size);
        Ok(format!("{}/{key}", self.base))
    }

    pub(crate) async fn get(&self, uri: &str) -> EngineResult<Bytes> {
        let key = uri
            .strip_prefix(&self.base)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(|| {
                EngineError::Internal(format!("offloaded literal {uri} is not in this server's blob store"))
            })?;
        let object = self
            .store
            .get(&Path::from(key))
            .await
            .map_err(|e| EngineError::Unavailable(format!("blob store: reading {uri}: {e}")))?;
        let bytes = object
            .bytes()
            .await
            .map_err(|e| EngineError::Unavailable(format!("blob store: reading {uri}: {e}")))?;
        crate::metrics::offloaded("read", bytes.len());
        Ok(bytes)
    }
}

/// A literal's encoded size.
pub fn encoded_size(literal: &Literal) -> u64 {
    pb::Literal::from(literal.clone()).encoded_len() as u64
}

/// Offloading and resolving literals under the configured limits.
#[derive(Debug, Clone)]
pub(crate) struct Offloader {
    pub store: BlobStore,
    pub limits: Limits,
}

impl Offloader {
    /// Checks a task's outputs (or an execution's inputs) against the limits, then offloads the large values.
    /// `what` names the map in errors (`outputs of node "n0"`); the result's values are in the same order.
    pub async fn admit(&self, map: LiteralMap, group: &str, what: &str, total_limit: u64) -> EngineResult<LiteralMap> {
        let sizes: Vec<u64> = map.values().map(encoded_size).collect();
        for ((name, _), size) in map.iter().zip(&sizes) {
            if *size > self.limits.literal_bytes {
                return Err(EngineError::ResourceExhausted(format!(
                    "{what}: {name:?} is {size} bytes, above the limit of {} bytes for one literal",
                    self.limits.literal_bytes
                )));
            }
        }
        let total: u64 = sizes.iter().sum();
        if total > total_limit {
            return Err(EngineError::ResourceExhausted(format!(
                "{what} are {total} bytes in all, above the limit of {total_limit} bytes"
            )));
        }
        self.offload(map, &sizes, group).await
    }

    /// Replaces the values larger than the offload threshold by references, stored under `offloaded/{group}/`.
    /// `sizes` are the values' encoded sizes.
    pub async fn offload(&self, map: LiteralMap, sizes: &[u64], group: &str) -> EngineResult<LiteralMap> {
        let mut out = LiteralMap::new();
        for ((name, literal), size) in map.into_iter().zip(sizes) {
            let keep =
                *size <= self.limits.offload_bytes || matches!(literal, Literal::Offloaded(_) | Literal::Blob(_));
            let literal = if keep {
                literal
            } else {
                self.offload_one(literal, group).await?
            };
            out.insert(name, literal);
        }
        Ok(out)
    }

    async fn offload_one(&self, literal: Literal, group: &str) -> EngineResult<Literal> {
        let ty = literal_type_of(&literal);
        let bytes = pb::Literal::from(literal).encode_to_vec();
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let size_bytes = bytes.len() as u64;
        let key = format!("offloaded/{group}/{}", Uuid::now_v7().simple());
        let uri = self.store.put(&key, bytes).await?;
        tracing::debug!(%uri, size_bytes, "offloaded a literal");
        Ok(Literal::Offloaded(Offloaded {
            uri,
            size_bytes,
            ty,
            sha256,
        }))
    }

    /// Assembled outputs as stored: refused above the assembled-outputs limit (the message names the largest value),
    /// large values offloaded under `offloaded/{group}/`. `what` names the composite in the refusal.
    pub async fn store_assembled(
        &self,
        outputs: LiteralMap,
        what: &str,
        group: &str,
    ) -> EngineResult<Result<LiteralMap, String>> {
        let sizes: Vec<u64> = outputs.values().map(encoded_size).collect();
        let total: u64 = sizes.iter().sum();
        if total > self.limits.assembled_bytes {
            let largest = outputs
                .keys()
                .zip(&sizes)
                .max_by_key(|(_, size)| **size)
                .map(|(name, _)| name.clone());
            return Ok(Err(format!(
                "the assembled outputs of {what} are {total} bytes, above the limit of {} bytes (largest: {:?})",
                self.limits.assembled_bytes,
                largest.unwrap_or_default()
            )));
        }
        Ok(Ok(self.offload(outputs, &sizes, group).await?))
    }

    /// The value an offloaded literal refers to, fetched from the blob store and decoded (offloaded literals inside
    /// it stay references). Outside any transaction: the hydrator's.
    pub async fn fetch(&self, offloaded: &Offloaded) -> Result<Literal, FetchError> {
        let uri = &offloaded.uri;
        let Some(key) = uri
            .strip_prefix(&self.store.base)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return Err(FetchError::Unavailable("is not in this server's blob store".to_owned()));
        };
        let read = async {
            let object = self.store.store.get(&Path::from(key)).await?;
            object.bytes().await
        };
        let bytes = match read.await {
            Ok(bytes) => bytes,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(FetchError::Unavailable("does not exist".to_owned()));
            }
            Err(e) => {
                return Err(FetchError::Failed(EngineError::Unavailable(format!(
                    "blob store: reading {uri}: {e}"
                ))));
            }
        };
        let decoded =
            pb::Literal::decode(bytes).map_err(|e| FetchError::Unavailable(format!("cannot be decoded: {e}")))?;
        Literal::try_from(decoded).map_err(|e| FetchError::Unavailable(format!("cannot be decoded: {e}")))
    }
}

/// Why an offloaded value could not be fetched.
#[derive(Debug)]
pub(crate) enum FetchError {
    /// It never will be: it does not exist (or not in this server's blob store), or it is not a literal. Says what is
    /// wrong with it (`does not exist`); a node that needs it fails.
    Unavailable(String),
    /// The blob store failed (unreachable, timed out): fetch again later.
    Failed(EngineError),
}

/// Whether the literal is, or contains, an offloaded literal.
pub fn contains_offloaded(literal: &Literal) -> bool {
    match literal {
        Literal::Offloaded(_) => true,
        Literal::Collection(items) => items.iter().any(contains_offloaded),
        Literal::Map(entries) => entries.values().any(contains_offloaded),
        Literal::Union(union) => contains_offloaded(&union.value),
        Literal::Hashed(hashed) => contains_offloaded(&hashed.value),
        _ => false,
    }
}

/// A promise whose value a node's start needs itself, not a reference to it (see [`promises_needing_values`]).
#[derive(Debug, Clone)]
pub(crate) struct NeededValue {
    /// The input it is bound to.
    pub input: String,
    /// The nested node (a branch arm, an array's inner node) whose input it is; `None` for the node's own.
    pub nested: Option<String>,
    pub promise: gantry_core::model::Promise,
}

/// The promises of a node (its own bindings, its branch arms' and array inner node's) that need the value itself
/// rather than a reference: those with an attribute path, and every one of a branch, whose conditions compare values.
pub(crate) fn promises_needing_values(node: &gantry_core::model::Node) -> Vec<NeededValue> {
    let mut out = Vec::new();
    collect_needing_values(node, None, &mut out);
    out
}

fn collect_needing_values(node: &gantry_core::model::Node, nested: Option<&str>, out: &mut Vec<NeededValue>) {
    use gantry_core::model::{ElseArm, NodeTarget};
    let is_branch = matches!(node.target, NodeTarget::Branch(_));
    for binding in &node.inputs {
        for promise in binding.data.promises() {
            if is_branch || !promise.attr_path.is_empty() {
                out.push(NeededValue {
                    input: binding.var.clone(),
                    nested: nested.map(str::to_owned),
                    promise: promise.clone(),
                });
            }
        }
    }
    match &node.target {
        NodeTarget::Branch(branch) => {
            for case in &branch.cases {
                collect_needing_values(&case.then_node, Some(&case.then_node.id), out);
            }
            if let Some(ElseArm::Node(otherwise)) = &branch.otherwise {
                collect_needing_values(otherwise, Some(&otherwise.id), out);
            }
        }
        NodeTarget::Array(array) => collect_needing_values(&array.node, Some(&array.node.id), out),
        _ => {}
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::future::Future;
    use std::pin::Pin;

    use gantry_core::model::{Blob, BlobDimensionality, UnionValue};

    use super::*;

    impl Offloader {
        /// The map with every offloaded literal in it, at any depth, replaced by its value.
        pub async fn resolve_map(&self, map: LiteralMap) -> EngineResult<LiteralMap> {
            if !map.values().any(contains_offloaded) {
                return Ok(map);
            }
            let mut out = LiteralMap::new();
            for (name, literal) in map {
                out.insert(name, self.resolve(literal).await?);
            }
            Ok(out)
        }

        /// The literal with every offloaded literal in it replaced by its value.
        pub fn resolve(&self, literal: Literal) -> Pin<Box<dyn Future<Output = EngineResult<Literal>> + Send + '_>> {
            Box::pin(async move {
                match literal {
                    Literal::Offloaded(offloaded) => {
                        let bytes = self.store.get(&offloaded.uri).await?;
                        let decoded = pb::Literal::decode(bytes)
                            .map_err(|e| EngineError::Internal(format!("offloaded literal {}: {e}", offloaded.uri)))?;
                        Ok(Literal::try_from(decoded)?)
                    }
                    Literal::Collection(items) if items.iter().any(contains_offloaded) => {
                        let mut resolved = Vec::with_capacity(items.len());
                        for item in items {
                            resolved.push(self.resolve(item).await?);
                        }
                        Ok(Literal::Collection(resolved))
                    }
                    Literal::Map(entries) if entries.values().any(contains_offloaded) => {
                        let mut resolved = std::collections::BTreeMap::new();
                        for (key, value) in entries {
                            resolved.insert(key, self.resolve(value).await?);
                        }
                        Ok(Literal::Map(resolved))
                    }
                    Literal::Union(union) if contains_offloaded(&union.value) => {
                        let UnionValue { value, variant } = *union;
                        let value = self.resolve(value).await?;
                        Ok(Literal::Union(Box::new(UnionValue { value, variant })))
                    }
                    other => Ok(other),
                }
            })
        }
    }

    pub(crate) fn offloader() -> Offloader {
        Offloader {
            store: BlobStore::in_memory(),
            limits: Limits {
                offload_bytes: 100,
                literal_bytes: 1_000,
                outputs_bytes: 1_500,
                ..Limits::default()
            },
        }
    }

    pub(crate) fn values() -> LiteralMap {
        let blob = Blob {
            uri: format!("s3://bucket/{}", "k".repeat(300)),
            format: "csv".into(),
            dimensionality: BlobDimensionality::Single,
        };
        LiteralMap::from([
            ("big".to_owned(), Literal::String("x".repeat(500))),
            ("blob".to_owned(), Literal::Blob(blob)),
            ("small".to_owned(), Literal::Integer(7)),
            (
                "list".to_owned(),
                Literal::Collection((0..50).map(|i| Literal::String(format!("item {i}"))).collect()),
            ),
        ])
    }

    #[tokio::test]
    async fn large_values_are_offloaded_and_resolve_to_what_they_were() {
        let offloader = offloader();
        let stored = offloader
            .admit(values(), "e", "outputs", 1_500)
            .await
            .expect("admitted");
        let offloaded: Vec<&str> = stored
            .iter()
            .filter(|(_, literal)| matches!(literal, Literal::Offloaded(_)))
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(
            offloaded,
            ["big", "list"],
            "blobs pass through untouched, small values stay inline"
        );
        match &stored["big"] {
            Literal::Offloaded(o) => {
                assert_eq!(o.ty, gantry_core::model::LiteralType::String);
                assert_eq!(o.size_bytes, encoded_size(&values()["big"]));
                assert!(o.uri.starts_with("memory:///offloaded/e/"), "{}", o.uri);
            }
            other => panic!("{other:?}"),
        }
        let nested = LiteralMap::from([(
            "wrapped".to_owned(),
            Literal::Collection(vec![stored["big"].clone(), Literal::Integer(1)]),
        )]);
        assert_eq!(offloader.resolve_map(stored).await.expect("resolved"), values());
        let resolved = offloader.resolve_map(nested).await.expect("nested");
        assert_eq!(
            resolved["wrapped"],
            Literal::Collection(vec![values()["big"].clone(), Literal::Integer(1)])
        );
    }

    #[tokio::test]
    async fn limits_name_what_is_too_large() {
        let offloader = offloader();
        let one = LiteralMap::from([("huge".to_owned(), Literal::String("y".repeat(2_000)))]);
        let error = offloader
            .admit(one, "e", "outputs of n0", 1_500)
            .await
            .expect_err("too large");
        assert!(
            matches!(&error, EngineError::ResourceExhausted(m) if m.contains("outputs of n0: \"huge\"")),
            "{error}"
        );
        let many: LiteralMap = (0..3)
            .map(|i| (format!("v{i}"), Literal::String("z".repeat(600))))
            .collect();
        let error = offloader
            .admit(many, "e", "outputs of n0", 1_500)
            .await
            .expect_err("too large in all");
        assert!(
            matches!(&error, EngineError::ResourceExhausted(m) if m.contains("in all")),
            "{error}"
        );
    }
}
