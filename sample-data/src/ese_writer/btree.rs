//! B+ tree bulk loading (ese.md §4): sorted nodes → leaf pages with key
//! prefix compression → branch levels → one root page.
//!
//! Conventions, as observed on engine-written files: the root page's tag 0
//! is the 16-byte space header, other pages' tag 0 is the common key prefix
//! of their nodes; a branch node's key is the shortest prefix of the next
//! child's first key that is still greater than this child's last key (so
//! every key in the child is below it), and the rightmost branch node of a
//! level has an empty key; leaf pages are chained through prev/next.

use super::WriteError;
use super::page::{Geometry, Node, PageHeader, build_page, flags, node_len, use_prefix};

/// Size of the root header (`SPACE_HEADER`) in the root page's tag 0.
const ROOT_HEADER_LEN: usize = 16;

/// What a tree holds; selects page flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeKind {
    Table,
    LongValue,
    Index,
}

impl TreeKind {
    fn flags(self) -> u32 {
        match self {
            TreeKind::Table => 0,
            TreeKind::LongValue => flags::LONG_VALUE,
            TreeKind::Index => flags::INDEX,
        }
    }
}

/// One planned page: its nodes (branch nodes carry the child's index in the
/// level below as a placeholder until page numbers are known).
#[derive(Debug)]
struct Planned {
    nodes: Vec<Node>,
    children: Vec<usize>,
    prefix: usize,
}

/// A paginated tree whose page numbers are not assigned yet.
#[derive(Debug)]
pub(crate) struct TreePlan {
    kind: TreeKind,
    /// `levels[0]` are the leaves; the last level is the root (one page).
    levels: Vec<Vec<Planned>>,
}

fn lcp(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Shortest prefix of `next_first` that sorts after `last`.
fn separator(last: &[u8], next_first: &[u8]) -> Vec<u8> {
    let common = lcp(last, next_first);
    let len = (common + 1).min(next_first.len());
    next_first[..len].to_vec()
}

/// Bytes a root page needs for `nodes` (no prefix compression on roots).
fn root_len(nodes: &[Node]) -> usize {
    ROOT_HEADER_LEN
        + nodes
            .iter()
            .map(|n| node_len(n.key.len(), n.data.len(), 0) + 4)
            .sum::<usize>()
        + 4
}

/// Room kept on long-value leaf pages so an LV root node never has to
/// start a page (see [`paginate`]).
const LV_ROOT_RESERVE: usize = 64;

/// Greedy split of `nodes` into non-root pages, each using the common prefix
/// of its keys. Returns `(start, end, prefix)` per page.
///
/// With `lv_leaves`, a long value's root node (4-byte key) is never the
/// first node of a page: libesedb looks long values up through the branch
/// keys and, when a separator equals a LID exactly, descends into the left
/// page and misses the value. Keeping roots with the preceding page makes
/// every separator at least 5 bytes, which both the engine's rule and
/// libesedb's agree on.
fn paginate(
    g: Geometry,
    nodes: &[Node],
    lv_leaves: bool,
) -> Result<Vec<(usize, usize, usize)>, WriteError> {
    let cap = g.body_len() - if lv_leaves { LV_ROOT_RESERVE } else { 0 };
    let mut pages = Vec::new();
    let mut start = 0;
    while start < nodes.len() {
        let first = &nodes[start].key;
        let (mut sum_k, mut sum_d) = (0usize, 0usize);
        let mut end = start;
        let mut prefix_of_page = 0;
        while end < nodes.len() {
            let n = &nodes[end];
            let k_sum = sum_k + n.key.len();
            let d_sum = sum_d + n.data.len();
            let count = end - start + 1;
            let common = lcp(first, &n.key);
            let p = if use_prefix(common) { common } else { 0 };
            let size = if p > 0 {
                p + count * 4 + k_sum - count * p + d_sum
            } else {
                count * 2 + k_sum + d_sum
            } + 4 * (count + 1);
            // The reserve is a target; a lone node may use the whole page.
            if size > cap && !(end == start && size <= g.body_len()) {
                break;
            }
            sum_k = k_sum;
            sum_d = d_sum;
            prefix_of_page = p;
            end += 1;
        }
        if end == start {
            return Err(WriteError::NodeTooLarge {
                size: node_len(nodes[start].key.len(), nodes[start].data.len(), 0),
                page_size: g.size,
            });
        }
        while lv_leaves && end < nodes.len() && nodes[end].key.len() == 4 {
            let common = lcp(first, &nodes[end].key);
            prefix_of_page = if use_prefix(common) {
                prefix_of_page.min(common)
            } else {
                0
            };
            end += 1;
        }
        pages.push((start, end, prefix_of_page));
        start = end;
    }
    Ok(pages)
}

impl TreePlan {
    /// Paginates `nodes`, which must be sorted by key without duplicates.
    pub fn new(g: Geometry, kind: TreeKind, nodes: Vec<Node>) -> Result<TreePlan, WriteError> {
        debug_assert!(nodes.windows(2).all(|w| w[0].key < w[1].key));
        if root_len(&nodes) <= g.body_len() {
            return Ok(TreePlan {
                kind,
                levels: vec![vec![Planned {
                    nodes,
                    children: Vec::new(),
                    prefix: 0,
                }]],
            });
        }
        let mut levels: Vec<Vec<Planned>> = Vec::new();
        let mut current = nodes;
        let mut children_of_current: Vec<usize> = Vec::new();
        loop {
            let split = paginate(
                g,
                &current,
                kind == TreeKind::LongValue && levels.is_empty(),
            )?;
            let mut pages = Vec::with_capacity(split.len());
            let mut rest = current.into_iter();
            for &(s, e, prefix) in &split {
                let page_nodes: Vec<Node> = rest.by_ref().take(e - s).collect();
                let children = if children_of_current.is_empty() {
                    Vec::new()
                } else {
                    children_of_current[s..e].to_vec()
                };
                pages.push(Planned {
                    nodes: page_nodes,
                    children,
                    prefix,
                });
            }
            // Parent entries: one per page of this level.
            let leaves = levels.is_empty();
            let mut parent = Vec::with_capacity(pages.len());
            for i in 0..pages.len() {
                let key = if i + 1 == pages.len() {
                    Vec::new()
                } else if leaves {
                    let last = &pages[i].nodes.last().expect("pages are non-empty").key;
                    let next = &pages[i + 1].nodes[0].key;
                    separator(last, next)
                } else {
                    pages[i]
                        .nodes
                        .last()
                        .expect("pages are non-empty")
                        .key
                        .clone()
                };
                parent.push(Node {
                    key,
                    data: vec![0; 4],
                });
            }
            levels.push(pages);
            children_of_current = (0..parent.len()).collect();
            if root_len(&parent) <= g.body_len() {
                levels.push(vec![Planned {
                    nodes: parent,
                    children: children_of_current,
                    prefix: 0,
                }]);
                return Ok(TreePlan { kind, levels });
            }
            current = parent;
        }
    }

    /// Pages besides the root.
    pub fn non_root_pages(&self) -> usize {
        self.levels.iter().map(Vec::len).sum::<usize>() - 1
    }

    /// Writes the pages: the root at `root_pgno` with `root_header` in tag 0,
    /// the other pages at `page_numbers` (leaves first, left to right, then
    /// each branch level). Returns `(pgno, page bytes)`.
    pub fn emit(
        self,
        g: Geometry,
        objid: u32,
        root_pgno: u32,
        page_numbers: &[u32],
        root_header: &[u8; ROOT_HEADER_LEN],
        dbtime: u64,
    ) -> Vec<(u32, Vec<u8>)> {
        let depth = self.levels.len();
        let kind = self.kind;
        assert_eq!(
            page_numbers.len(),
            self.non_root_pages(),
            "page numbers for every non-root page"
        );
        // Page numbers per level.
        let mut numbers: Vec<Vec<u32>> = Vec::with_capacity(depth);
        let mut next = page_numbers.iter().copied();
        for (li, level) in self.levels.iter().enumerate() {
            if li + 1 == depth {
                numbers.push(vec![root_pgno]);
            } else {
                numbers.push(next.by_ref().take(level.len()).collect());
            }
        }
        let mut out = Vec::new();
        for (li, level) in self.levels.into_iter().enumerate() {
            let is_root = li + 1 == depth;
            let is_leaf = li == 0;
            let count = level.len();
            for (pi, mut planned) in level.into_iter().enumerate() {
                for (node, &child) in planned.nodes.iter_mut().zip(&planned.children) {
                    node.data = numbers[li - 1][child].to_le_bytes().to_vec();
                }
                let mut fl = flags::COMMON | kind.flags();
                if is_root {
                    fl |= flags::ROOT;
                }
                if is_leaf {
                    fl |= flags::LEAF;
                } else if li == 1 {
                    fl |= flags::PARENT_OF_LEAF;
                }
                let (prev, next) = if is_leaf && !is_root {
                    let prev = if pi == 0 { 0 } else { numbers[li][pi - 1] };
                    let next = if pi + 1 == count {
                        0
                    } else {
                        numbers[li][pi + 1]
                    };
                    (prev, next)
                } else {
                    (0, 0)
                };
                let pgno = numbers[li][pi];
                let header = PageHeader {
                    pgno,
                    objid,
                    prev,
                    next,
                    flags: fl,
                    dbtime,
                };
                let prefix_bytes: Vec<u8> = if planned.prefix > 0 {
                    planned.nodes[0].key[..planned.prefix].to_vec()
                } else {
                    Vec::new()
                };
                let external: &[u8] = if is_root { root_header } else { &prefix_bytes };
                out.push((
                    pgno,
                    build_page(g, &header, external, &planned.nodes, planned.prefix),
                ));
            }
        }
        out
    }
}

/// The 16-byte root header of a tree that owns one extent and tracks it in
/// separate owned/available space trees at `pgno_oe` / `pgno_oe + 1`.
pub(crate) fn root_header(
    cpg_primary: u32,
    pgno_parent: u32,
    pgno_oe: u32,
) -> [u8; ROOT_HEADER_LEN] {
    let mut h = [0u8; ROOT_HEADER_LEN];
    h[0..4].copy_from_slice(&cpg_primary.to_le_bytes());
    h[4..8].copy_from_slice(&pgno_parent.to_le_bytes());
    h[8..12].copy_from_slice(&1u32.to_le_bytes()); // fSPHMultipleExtent
    h[12..16].copy_from_slice(&pgno_oe.to_le_bytes());
    h
}

/// Owned-extent (OE) and available-extent (AE) space trees at `pgno_oe` /
/// `pgno_oe + 1`. Both list extents as nodes keyed by the extent's last page
/// (big-endian) with the page count as data; `owned` and `free` are
/// `(first, last)` ranges in ascending order.
pub(crate) fn space_pages(
    g: Geometry,
    objid: u32,
    kind: TreeKind,
    pgno_oe: u32,
    owned: &[(u32, u32)],
    free: &[(u32, u32)],
    dbtime: u64,
) -> Vec<(u32, Vec<u8>)> {
    let fl = flags::COMMON | flags::ROOT | flags::LEAF | flags::SPACE_TREE | kind.flags();
    let zero_header = [0u8; ROOT_HEADER_LEN];
    let nodes = |ranges: &[(u32, u32)]| -> Vec<Node> {
        ranges
            .iter()
            .map(|&(first, last)| Node {
                key: last.to_be_bytes().to_vec(),
                data: (last - first + 1).to_le_bytes().to_vec(),
            })
            .collect()
    };
    let mk = |pgno: u32, nodes: &[Node]| {
        let h = PageHeader {
            pgno,
            objid,
            prev: 0,
            next: 0,
            flags: fl,
            dbtime,
        };
        (pgno, build_page(g, &h, &zero_header, nodes, 0))
    };
    vec![mk(pgno_oe, &nodes(owned)), mk(pgno_oe + 1, &nodes(free))]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separator_is_shortest_bound() {
        assert_eq!(
            separator(b"\x7f\x80\x01", b"\x7f\x80\x02\x05"),
            b"\x7f\x80\x02"
        );
        assert_eq!(separator(b"ab", b"b"), b"b");
        let s = separator(b"abc", b"abd");
        assert!(s.as_slice() > b"abc".as_slice() && s.as_slice() <= b"abd".as_slice());
    }

    #[test]
    fn many_nodes_make_branch_levels() {
        let g = Geometry { size: 8192 };
        let nodes: Vec<Node> = (0u32..5000)
            .map(|i| Node {
                key: i.to_be_bytes().to_vec(),
                data: vec![7; 40],
            })
            .collect();
        let plan = TreePlan::new(g, TreeKind::Table, nodes).expect("plan");
        assert!(plan.levels.len() >= 2);
        let leaves: usize = plan.levels[0].iter().map(|p| p.nodes.len()).sum();
        assert_eq!(leaves, 5000);
        let n = plan.non_root_pages() as u32;
        let numbers: Vec<u32> = (103..103 + n).collect();
        let pages = plan.emit(g, 9, 100, &numbers, &root_header(1, 1, 101), 5);
        assert!(pages.iter().all(|(_, p)| p.len() == 8192));
    }
}
