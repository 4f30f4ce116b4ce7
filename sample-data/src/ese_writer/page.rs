//! Page header (small 40-byte / large 80-byte), tags and node encoding,
//! ese.md §2–§4.

use kairos_ese::checksum::seal_page;

/// Page flags (ese.md §2, `cpage.hxx`).
pub(crate) mod flags {
    pub const ROOT: u32 = 0x1;
    pub const LEAF: u32 = 0x2;
    pub const PARENT_OF_LEAF: u32 = 0x4;
    pub const SPACE_TREE: u32 = 0x20;
    pub const INDEX: u32 = 0x40;
    pub const LONG_VALUE: u32 = 0x80;
    /// New record format + new (ECC) checksum + flush type bit, as on every
    /// page the engine writes at format revision 0x14.
    pub const COMMON: u32 = 0x800 | 0x2000 | 0x8000;
}

/// Node (tag) flag: the node's key starts with `cbPrefix` bytes of the page's
/// common prefix stored in tag 0.
pub(crate) const NODE_COMPRESSED: u16 = 0x4;

/// Prefixes shorter than this are not worth their 2-byte `cbPrefix` field.
const MIN_PREFIX: usize = 3;

/// Size-dependent layout of a page.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub size: usize,
}

impl Geometry {
    /// 16/32 KiB pages use the extended header and keep node flags in the
    /// node's first word instead of the tag.
    pub fn large(self) -> bool {
        self.size > 8192
    }
    pub fn header_len(self) -> usize {
        if self.large() { 80 } else { 40 }
    }
    /// Bytes available for tag 0 data, node data and the tag array.
    pub fn body_len(self) -> usize {
        self.size - self.header_len()
    }
}

/// A node as it will be encoded on a page.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub key: Vec<u8>,
    pub data: Vec<u8>,
}

/// Whether a page whose keys share `lcp` bytes stores them compressed.
pub(crate) fn use_prefix(lcp: usize) -> bool {
    lcp >= MIN_PREFIX
}

/// Encoded size of a node (without its tag) given the prefix length used.
pub(crate) fn node_len(key_len: usize, data_len: usize, prefix: usize) -> usize {
    if prefix > 0 {
        4 + key_len - prefix + data_len
    } else {
        2 + key_len + data_len
    }
}

fn encode_node(g: Geometry, node: &Node, prefix: usize) -> (Vec<u8>, u16) {
    let mut out = Vec::with_capacity(node_len(node.key.len(), node.data.len(), prefix));
    let flags = if prefix > 0 { NODE_COMPRESSED } else { 0 };
    let top = if g.large() { flags << 13 } else { 0 };
    if prefix > 0 {
        out.extend_from_slice(&((prefix as u16) | top).to_le_bytes());
        out.extend_from_slice(&((node.key.len() - prefix) as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&((node.key.len() as u16) | top).to_le_bytes());
    }
    out.extend_from_slice(&node.key[prefix..]);
    out.extend_from_slice(&node.data);
    (out, flags)
}

/// Header fields of one page.
pub(crate) struct PageHeader {
    pub pgno: u32,
    pub objid: u32,
    pub prev: u32,
    pub next: u32,
    pub flags: u32,
    pub dbtime: u64,
}

/// Lays out a page: tag 0 (`external`: the root header or the common key
/// prefix), then the nodes, each compressed with `prefix` bytes when
/// `prefix > 0`; tags at the end of the page; checksums sealed.
///
/// The caller (the B+ tree paginator) guarantees the content fits.
pub(crate) fn build_page(
    g: Geometry,
    h: &PageHeader,
    external: &[u8],
    nodes: &[Node],
    prefix: usize,
) -> Vec<u8> {
    let mut page = vec![0u8; g.size];
    let hl = g.header_len();
    let mut tags: Vec<(u16, u16, u16)> = Vec::with_capacity(nodes.len() + 1);
    let mut data = Vec::with_capacity(g.body_len());
    tags.push((external.len() as u16, 0, 0));
    data.extend_from_slice(external);
    for n in nodes {
        let p = if prefix > 0 && n.key.len() >= prefix {
            prefix
        } else {
            0
        };
        let (bytes, fl) = encode_node(g, n, p);
        tags.push((bytes.len() as u16, data.len() as u16, fl));
        data.extend_from_slice(&bytes);
    }
    let used = data.len() + 4 * tags.len();
    assert!(
        used <= g.body_len(),
        "page {} overfull: {used} bytes",
        h.pgno
    );
    page[hl..hl + data.len()].copy_from_slice(&data);
    for (i, (cb, ib, fl)) in tags.iter().enumerate() {
        let at = g.size - 4 * (i + 1);
        let ib_word = if g.large() { *ib } else { ib | (fl << 13) };
        page[at..at + 2].copy_from_slice(&cb.to_le_bytes());
        page[at + 2..at + 4].copy_from_slice(&ib_word.to_le_bytes());
    }
    page[8..16].copy_from_slice(&h.dbtime.to_le_bytes());
    page[16..20].copy_from_slice(&h.prev.to_le_bytes());
    page[20..24].copy_from_slice(&h.next.to_le_bytes());
    page[24..28].copy_from_slice(&h.objid.to_le_bytes());
    let free = (g.body_len() - used) as u16;
    page[28..30].copy_from_slice(&free.to_le_bytes());
    page[32..34].copy_from_slice(&(data.len() as u16).to_le_bytes());
    page[34..36].copy_from_slice(&(tags.len() as u16).to_le_bytes());
    page[36..40].copy_from_slice(&h.flags.to_le_bytes());
    if g.large() {
        page[64..68].copy_from_slice(&h.pgno.to_le_bytes());
    }
    seal_page(&mut page, h.pgno);
    page
}
