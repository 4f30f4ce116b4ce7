//! Database pages: the page header, the tag array, and the nodes tags point at.
//!
//! Layout: `../shared/docs/formats/ese.md` §2–§4 (MS engine `cpage.hxx`
//! `PGHDR`/`PGHDR2`/`TAG`; libesedb `libesedb_page.c`). Logical page *N* lives
//! at file offset `(N + 1) * page_size` (two header pages, one of them
//! counted as logical page 0's predecessor).
//!
//! Everything here is bounds-checked: a tag pointing outside the page or a key
//! longer than its node is an [`Error::Corrupt`] naming the page and tag.

use kairos_parsers::{Error, Location, Result};

use crate::checksum::{self, ChecksumStatus};

/// Page flags (`cpage.hxx`).
pub mod flags {
    /// Root of a B+ tree.
    pub const ROOT: u32 = 0x1;
    /// Leaf page.
    pub const LEAF: u32 = 0x2;
    /// Parent of leaf pages.
    pub const PARENT_OF_LEAF: u32 = 0x4;
    /// Empty page.
    pub const EMPTY: u32 = 0x8;
    /// Space-tree page (owned/available extents).
    pub const SPACE_TREE: u32 = 0x20;
    /// Secondary-index page.
    pub const INDEX: u32 = 0x40;
    /// Long-value tree page.
    pub const LONG_VALUE: u32 = 0x80;
    /// Records use the new (revision ≥ 9) tagged-column format.
    pub const NEW_RECORD_FORMAT: u32 = 0x800;
}

/// Node (tag) flags.
pub mod node_flags {
    /// Versioned: part of an uncommitted or not-yet-cleaned-up transaction.
    pub const VERSIONED: u8 = 0x1;
    /// Deleted ("defunct"): not live data.
    pub const DELETED: u8 = 0x2;
    /// The key starts with a prefix shared with tag 0.
    pub const COMPRESSED_KEY: u8 = 0x4;
}

/// Size of the page header: 40 bytes, 80 on 16/32 KiB pages.
pub fn header_size(large: bool) -> usize {
    if large { 80 } else { 40 }
}

/// One page, owned.
#[derive(Debug, Clone)]
pub struct Page {
    /// Logical page number.
    pub pgno: u32,
    data: Vec<u8>,
    large: bool,
    /// Left sibling (0 = none).
    pub prev: u32,
    /// Right sibling (0 = none).
    pub next: u32,
    /// Object id of the tree this page belongs to.
    pub objid: u32,
    /// Page flags.
    pub flags: u32,
    tag_count: usize,
}

/// A node of a page: key parts and data.
#[derive(Debug, Clone, Copy)]
pub struct Node<'a> {
    /// Tag number on the page.
    pub tag: usize,
    /// Node flags (versioned, deleted, compressed key).
    pub flags: u8,
    /// Bytes of the page's common prefix (tag 0) that start the key.
    pub prefix_len: usize,
    /// The rest of the key.
    pub suffix: &'a [u8],
    /// The node's data (record, child page number, LV chunk...).
    pub data: &'a [u8],
}

impl Node<'_> {
    /// True when the node is deleted (not live data).
    pub fn is_deleted(&self) -> bool {
        self.flags & node_flags::DELETED != 0
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2)
        .map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

impl Page {
    /// Decodes the header of page `pgno` from its bytes.
    pub fn parse(source_name: &str, pgno: u32, data: Vec<u8>, large: bool) -> Result<Page> {
        let hs = header_size(large);
        if data.len() < hs + 4 {
            return Err(Error::corrupt(
                source_name,
                Location::page(u64::from(pgno)),
                "page size",
                format!("{} bytes is too small for a page", data.len()),
            ));
        }
        let tag_count = usize::from(u16_at(&data, 34) & 0x0fff);
        let max_tags = (data.len() - hs) / 4;
        if tag_count > max_tags {
            return Err(Error::corrupt(
                source_name,
                Location::Page {
                    page: u64::from(pgno),
                    offset_in_page: Some(34),
                },
                "tag count",
                format!("{tag_count} tags do not fit in the page"),
            ));
        }
        Ok(Page {
            pgno,
            large,
            prev: u32_at(&data, 16),
            next: u32_at(&data, 20),
            objid: u32_at(&data, 24),
            flags: u32_at(&data, 36),
            tag_count,
            data,
        })
    }

    /// The raw page bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// Verifies the page checksum.
    pub fn checksum(&self) -> ChecksumStatus {
        checksum::verify_page(&self.data, self.pgno, self.large, self.flags)
    }

    /// Number of tags (tag 0 is the external header / common key prefix).
    pub fn tag_count(&self) -> usize {
        self.tag_count
    }

    /// True for a leaf page.
    pub fn is_leaf(&self) -> bool {
        self.flags & flags::LEAF != 0
    }

    /// True for a root page.
    pub fn is_root(&self) -> bool {
        self.flags & flags::ROOT != 0
    }

    /// True for an empty (freed) page.
    pub fn is_empty(&self) -> bool {
        self.flags & flags::EMPTY != 0
    }

    fn corrupt(&self, source_name: &str, at: usize, field: &str, detail: String) -> Error {
        Error::corrupt(
            source_name,
            Location::Page {
                page: u64::from(self.pgno),
                offset_in_page: Some(at as u32),
            },
            field,
            detail,
        )
    }

    /// Bytes and flags of tag `i`.
    pub fn tag(&self, source_name: &str, i: usize) -> Result<(u8, &[u8])> {
        let pos = self
            .data
            .len()
            .checked_sub(4 * (i + 1))
            .filter(|_| i < self.tag_count)
            .ok_or_else(|| self.corrupt(source_name, 34, "tag index", format!("tag {i}")))?;
        let cb_raw = u16_at(&self.data, pos);
        let ib_raw = u16_at(&self.data, pos + 2);
        let (cb, ib, small_flags) = if self.large {
            (
                usize::from(cb_raw & 0x7fff),
                usize::from(ib_raw & 0x7fff),
                0,
            )
        } else {
            (
                usize::from(cb_raw & 0x1fff),
                usize::from(ib_raw & 0x1fff),
                (ib_raw >> 13) as u8,
            )
        };
        let start = header_size(self.large) + ib;
        let bytes = start
            .checked_add(cb)
            .filter(|&end| end <= pos)
            .and_then(|end| self.data.get(start..end))
            .ok_or_else(|| {
                self.corrupt(
                    source_name,
                    pos,
                    "tag",
                    format!("tag {i} (offset {ib}, size {cb}) points outside the page"),
                )
            })?;
        let flags = if self.large {
            // On 16/32 KiB pages the flags live in the top 3 bits of the
            // node's first u16 (only for tags ≥ 1; tag 0 carries none).
            if i > 0 && bytes.len() >= 2 {
                bytes[1] >> 5
            } else {
                0
            }
        } else {
            small_flags
        };
        Ok((flags, bytes))
    }

    /// Tag 0: the common key prefix of non-root pages (the root header on
    /// root pages).
    pub fn prefix(&self, source_name: &str) -> Result<&[u8]> {
        if self.tag_count == 0 {
            return Ok(&[]);
        }
        Ok(self.tag(source_name, 0)?.1)
    }

    /// Decodes node `i` (≥ 1).
    pub fn node(&self, source_name: &str, i: usize) -> Result<Node<'_>> {
        let (flags, bytes) = self.tag(source_name, i)?;
        let first = |at: usize| -> Result<usize> {
            let v = bytes.get(at..at + 2).ok_or_else(|| {
                self.corrupt(
                    source_name,
                    0,
                    "node key size",
                    format!("tag {i}: node of {} bytes has no key size", bytes.len()),
                )
            })?;
            let mut v = u16::from_le_bytes([v[0], v[1]]);
            if self.large && at == 0 {
                v &= 0x1fff;
            }
            Ok(usize::from(v))
        };
        let (prefix_len, key_len, key_at) = if flags & node_flags::COMPRESSED_KEY != 0 {
            (first(0)?, first(2)?, 4)
        } else {
            (0, first(0)?, 2)
        };
        let suffix = bytes.get(key_at..key_at + key_len).ok_or_else(|| {
            self.corrupt(
                source_name,
                0,
                "node key size",
                format!(
                    "tag {i}: key of {key_len} bytes does not fit in a node of {} bytes",
                    bytes.len()
                ),
            )
        })?;
        Ok(Node {
            tag: i,
            flags,
            prefix_len,
            suffix,
            data: bytes.get(key_at + key_len..).unwrap_or(&[]),
        })
    }

    /// The full key of `node`: the page prefix's first `prefix_len` bytes
    /// followed by the suffix.
    pub fn key(&self, source_name: &str, node: &Node<'_>) -> Result<Vec<u8>> {
        let mut key = Vec::with_capacity(node.prefix_len + node.suffix.len());
        if node.prefix_len > 0 {
            let prefix = self.prefix(source_name)?;
            let part = prefix.get(..node.prefix_len).ok_or_else(|| {
                self.corrupt(
                    source_name,
                    0,
                    "key prefix size",
                    format!(
                        "tag {}: prefix of {} bytes but tag 0 holds {}",
                        node.tag,
                        node.prefix_len,
                        prefix.len()
                    ),
                )
            })?;
            key.extend_from_slice(part);
        }
        key.extend_from_slice(node.suffix);
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a small page with the given tag payloads (tag 0 first).
    fn small_page(tags: &[(u8, &[u8])]) -> Vec<u8> {
        let mut p = vec![0u8; 4096];
        let mut ib = 0usize;
        for (i, (flags, bytes)) in tags.iter().enumerate() {
            let at = 40 + ib;
            p[at..at + bytes.len()].copy_from_slice(bytes);
            let pos = 4096 - 4 * (i + 1);
            p[pos..pos + 2].copy_from_slice(&(bytes.len() as u16).to_le_bytes());
            let ibf = (ib as u16) | (u16::from(*flags) << 13);
            p[pos + 2..pos + 4].copy_from_slice(&ibf.to_le_bytes());
            ib += bytes.len();
        }
        p[34..36].copy_from_slice(&(tags.len() as u16).to_le_bytes());
        p[36..40].copy_from_slice(&flags::LEAF.to_le_bytes());
        p
    }

    #[test]
    fn prefix_compressed_keys_are_rebuilt() {
        // tag 0 = prefix "abcdef"; tag 1 uses 3 prefix bytes + "XY" + data "d"
        let node: &[u8] = &[3, 0, 2, 0, b'X', b'Y', b'd'];
        let page = Page::parse(
            "t",
            7,
            small_page(&[(0, b"abcdef"), (node_flags::COMPRESSED_KEY, node)]),
            false,
        )
        .expect("page");
        assert!(page.is_leaf());
        let n = page.node("t", 1).expect("node");
        assert_eq!(page.key("t", &n).expect("key"), b"abcXY");
        assert_eq!(n.data, b"d");
    }

    proptest::proptest! {
        /// Any page bytes: header, tags, nodes and keys never panic.
        #[test]
        fn arbitrary_pages_never_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
            large: bool,
        ) {
            if let Ok(p) = Page::parse("p", 3, data, large) {
                let _ = p.checksum();
                for i in 0..p.tag_count().min(64) {
                    if let Ok(n) = p.node("p", i) {
                        let _ = p.key("p", &n);
                    }
                }
            }
        }
    }

    #[test]
    fn bad_tags_are_errors_naming_the_page() {
        let node: &[u8] = &[200, 0, 1];
        let page = Page::parse("t.edb", 9, small_page(&[(0, b""), (0, node)]), false).expect("p");
        let err = page.node("t.edb", 1).expect_err("key too long");
        assert!(err.to_string().starts_with("t.edb: page 9"), "{err}");
        assert!(page.node("t.edb", 5).is_err());
    }
}
