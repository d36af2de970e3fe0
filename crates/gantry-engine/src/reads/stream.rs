//! Reading a reference in chunks: a blob-store object in ranges (never whole in memory), or a value held in a row.

use bytes::Bytes;
use object_store::path::Path;
use uuid::Uuid;

use crate::blobs::BlobStore;
use crate::error::{EngineError, EngineResult};

impl BlobStore {
    /// The key of `uri` if it is one this store issues for an offloaded literal (`offloaded/GROUP/ID`, the group an
    /// execution id or `inputs`); `None` for anything else, so that readers reach offloaded literals only.
    pub(crate) fn offloaded_key(&self, uri: &str) -> Option<String> {
        let key = uri.strip_prefix(&self.base)?.strip_prefix('/')?;
        let mut parts = key.split('/');
        let (Some("offloaded"), Some(group), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let group_ok = group == "inputs" || Uuid::parse_str(group).is_ok_and(|g| g.to_string() == group);
        let id_ok = id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        (group_ok && id_ok).then(|| key.to_owned())
    }

    /// The size of the object at `key`; NotFound when there is none.
    pub(crate) async fn size_of(&self, key: &str) -> EngineResult<u64> {
        match self.store.head(&Path::from(key)).await {
            Ok(meta) => Ok(meta.size),
            Err(object_store::Error::NotFound { .. }) => {
                Err(EngineError::NotFound(format!("no such reference: {key}")))
            }
            Err(e) => Err(EngineError::Unavailable(format!("blob store: reading {key}: {e}"))),
        }
    }

    /// Bytes `range` of the object at `key`.
    pub(crate) async fn read_range(&self, key: &str, range: std::ops::Range<u64>) -> EngineResult<Bytes> {
        self.store
            .get_range(&Path::from(key), range)
            .await
            .map_err(|e| EngineError::Unavailable(format!("blob store: reading {key}: {e}")))
    }
}

/// The size of the chunks a reader hands out.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// How much of a blob-store object one read fetches.
const READ_AHEAD_BYTES: u64 = 4 * 1024 * 1024;

/// The bytes of one reference, chunk by chunk, in order.
#[derive(Debug)]
pub struct ReferenceReader {
    size: u64,
    source: Source,
}

#[derive(Debug)]
enum Source {
    Memory(Bytes),
    Blob {
        store: BlobStore,
        key: String,
        /// Where the next range read starts.
        offset: u64,
        buffered: Bytes,
    },
}

impl ReferenceReader {
    pub(crate) fn memory(bytes: Vec<u8>) -> Self {
        ReferenceReader {
            size: bytes.len() as u64,
            source: Source::Memory(Bytes::from(bytes)),
        }
    }

    pub(crate) fn blob(store: BlobStore, key: String, size: u64) -> Self {
        ReferenceReader {
            size,
            source: Source::Blob {
                store,
                key,
                offset: 0,
                buffered: Bytes::new(),
            },
        }
    }

    /// The size of the whole value, in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The next chunk (at most [`CHUNK_BYTES`]); `None` after the last.
    pub async fn next_chunk(&mut self) -> EngineResult<Option<Bytes>> {
        let size = self.size;
        let buffered = match &mut self.source {
            Source::Memory(bytes) => bytes,
            Source::Blob {
                store,
                key,
                offset,
                buffered,
            } => {
                if buffered.is_empty() && *offset < size {
                    let end = size.min(*offset + READ_AHEAD_BYTES);
                    *buffered = store.read_range(key, *offset..end).await?;
                    if buffered.len() as u64 != end - *offset {
                        return Err(EngineError::Unavailable(format!(
                            "blob store: {key} changed while being read"
                        )));
                    }
                    *offset = end;
                }
                buffered
            }
        };
        if buffered.is_empty() {
            return Ok(None);
        }
        Ok(Some(buffered.split_to(buffered.len().min(CHUNK_BYTES))))
    }
}

#[cfg(test)]
mod tests {
    use gantry_core::model::Literal;

    use super::*;

    #[tokio::test]
    async fn readers_reach_offloaded_literals_only() {
        let offloader = crate::blobs::tests::offloader();
        let group = Uuid::now_v7();
        let stored = offloader
            .admit(crate::blobs::tests::values(), &group.to_string(), "outputs", 1_500)
            .await
            .expect("admitted");
        let Literal::Offloaded(big) = &stored["big"] else {
            panic!("not offloaded")
        };
        let store = &offloader.store;
        let key = store.offloaded_key(&big.uri).expect("an issued reference");
        assert_eq!(store.size_of(&key).await.expect("size"), big.size_bytes);
        let id = "0".repeat(32);
        assert!(
            store
                .offloaded_key(&format!("memory:///offloaded/{group}/{id}"))
                .is_some()
        );
        assert!(
            store
                .offloaded_key(&format!("memory:///offloaded/inputs/{id}"))
                .is_some()
        );
        for uri in [
            format!("memory:///offloaded/../{id}"),
            format!("memory:///offloaded/{group}/../../{id}"),
            format!("memory:///offloaded/other/{id}"),
            format!("memory:///elsewhere/{group}/{id}"),
            format!("memory:///offloaded/{group}/{}", "G".repeat(32)),
            format!("memory:///offloaded/{group}/{id}/more"),
            format!("file:///offloaded/{group}/{id}"),
        ] {
            assert_eq!(store.offloaded_key(&uri), None, "{uri}");
        }
        let missing = store
            .offloaded_key(&format!("memory:///offloaded/{group}/{id}"))
            .expect("well formed");
        assert!(matches!(store.size_of(&missing).await, Err(EngineError::NotFound(_))));
    }

    #[tokio::test]
    async fn a_value_comes_in_chunks_of_at_most_one_mebibyte() {
        let value: Vec<u8> = (0..CHUNK_BYTES * 2 + 10).map(|i| (i % 251) as u8).collect();
        let mut reader = ReferenceReader::memory(value.clone());
        assert_eq!(reader.size(), value.len() as u64);
        let mut read = Vec::new();
        let mut sizes = Vec::new();
        while let Some(chunk) = reader.next_chunk().await.expect("chunk") {
            sizes.push(chunk.len());
            read.extend_from_slice(&chunk);
        }
        assert_eq!(sizes, [CHUNK_BYTES, CHUNK_BYTES, 10]);
        assert_eq!(read, value);
    }
}
