//! Reading a reference in chunks: a blob-store object in ranges (never whole in memory), or a value held in a row.

use bytes::Bytes;

use crate::blobs::BlobStore;
use crate::error::{EngineError, EngineResult};

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
    use super::*;

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
