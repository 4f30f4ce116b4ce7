//! The long-value (LV) tree of a table (ese.md §7): separated values are
//! stored under a 4-byte LID; the root node (key = LID big-endian) holds
//! `LVROOT {refcount, size}`, chunk nodes (key = LID ++ offset, both
//! big-endian) hold the bytes.

use super::compression;
use super::page::{Geometry, Node};

/// Separated values of one table, in LID order.
#[derive(Debug, Default)]
pub(crate) struct LongValues {
    /// `(lid, bytes, compress chunks)`.
    values: Vec<(u32, Vec<u8>, bool)>,
}

impl LongValues {
    /// Stores `bytes` and returns its LID (1, 2, ...). Chunks of a
    /// compressed column's value are compressed one by one.
    pub fn add(&mut self, bytes: Vec<u8>, compressed: bool) -> u32 {
        let lid = self.values.len() as u32 + 1;
        self.values.push((lid, bytes, compressed));
        lid
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Nodes of the LV tree, sorted by key.
    pub fn nodes(&self, g: Geometry) -> Vec<Node> {
        let chunk = chunk_size(g);
        let mut nodes = Vec::new();
        for (lid, bytes, compressed) in &self.values {
            let mut root = Vec::with_capacity(8);
            root.extend_from_slice(&1u32.to_le_bytes()); // refcount
            root.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            nodes.push(Node {
                key: lid.to_be_bytes().to_vec(),
                data: root,
            });
            for (i, c) in bytes.chunks(chunk).enumerate() {
                let mut key = lid.to_be_bytes().to_vec();
                key.extend_from_slice(&((i * chunk) as u32).to_be_bytes());
                // Offsets count uncompressed bytes (ese.md §7).
                let data = compressed
                    .then(|| compression::compress(c))
                    .flatten()
                    .unwrap_or_else(|| c.to_vec());
                nodes.push(Node { key, data });
            }
        }
        nodes
    }
}

/// Chunk size: what fits a page with room for the page prefix and tags
/// (4014 on 4 KiB pages, as the engine writes).
pub(crate) fn chunk_size(g: Geometry) -> usize {
    g.size - g.header_len() - 42
}
