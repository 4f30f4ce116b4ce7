//! B+ tree walks: a full scan of a tree's leaves and a seek by key.
//!
//! Notes: `../shared/docs/formats/ese.md` §4. Branch nodes hold a separator
//! key and a child page number (u32 at the start of the node data); leaf
//! nodes hold records, long-value chunks or index entries.
//!
//! The full scan descends branch pages depth-first in key order rather than
//! following the leaf sibling chain: a dirty (crash-consistent) file may have
//! stale sibling pointers, while the branch pages reach every live leaf.
//! Every walk is bounded: a visited set stops cycles, depth is capped, and a
//! page that belongs to another tree (its objid differs) or does not parse is
//! recorded as damaged and skipped, never fatal.

use std::collections::HashSet;
use std::sync::Arc;

use kairos_parsers::{Error, Result, Source};

use crate::database::Database;
use crate::page::Page;

/// Deepest tree we follow (ESE trees are a handful of levels deep).
const MAX_DEPTH: usize = 32;

/// Iterates the leaf pages of one tree in key order.
pub(crate) struct LeafPages {
    objid: u32,
    stack: Vec<(u32, usize)>,
    visited: HashSet<u32>,
}

impl LeafPages {
    /// Walks the tree whose root (FDP) is `root` and whose pages carry `objid`.
    pub(crate) fn new(root: u32, objid: u32) -> Self {
        LeafPages {
            objid,
            stack: vec![(root, 0)],
            visited: HashSet::new(),
        }
    }

    /// The next leaf page, or `None` at the end. Damaged pages are recorded
    /// in `db` and skipped; only I/O errors are returned.
    pub(crate) fn next_leaf<S: Source>(&mut self, db: &Database<S>) -> Result<Option<Arc<Page>>> {
        while let Some((pgno, depth)) = self.stack.pop() {
            if !self.visited.insert(pgno) {
                db.note_damage(pgno, "page reached twice in one tree walk (cycle)");
                continue;
            }
            let page = match db.page(pgno) {
                Ok(p) => p,
                Err(e) if e.is_damage() => {
                    db.note_damage(pgno, &e.to_string());
                    continue;
                }
                Err(e) => return Err(e),
            };
            if page.objid != self.objid {
                db.note_damage(
                    pgno,
                    &format!(
                        "belongs to object {} but was reached from object {}",
                        page.objid, self.objid
                    ),
                );
                continue;
            }
            if page.is_leaf() {
                return Ok(Some(page));
            }
            if depth >= MAX_DEPTH {
                db.note_damage(pgno, "tree deeper than 32 levels");
                continue;
            }
            let children = match child_pages(db, &page) {
                Ok(c) => c,
                Err(e) => {
                    db.note_damage(pgno, &e.to_string());
                    continue;
                }
            };
            self.stack
                .extend(children.into_iter().rev().map(|c| (c, depth + 1)));
        }
        Ok(None)
    }
}

/// Child page numbers of a branch page, in key order.
fn child_pages<S: Source>(db: &Database<S>, page: &Page) -> Result<Vec<u32>> {
    let name = db.source_name();
    let mut out = Vec::with_capacity(page.tag_count());
    for i in 1..page.tag_count() {
        let node = page.node(name, i)?;
        out.push(child_of(db, page, node.data, i)?);
    }
    Ok(out)
}

fn child_of<S: Source>(db: &Database<S>, page: &Page, data: &[u8], tag: usize) -> Result<u32> {
    let child = data
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| {
            db.corrupt(
                page.pgno,
                "branch node",
                format!("tag {tag} has no child page number"),
            )
        })?;
    if child == 0 || child > db.page_count() {
        return Err(db.corrupt(
            page.pgno,
            "child page number",
            format!(
                "tag {tag} points to page {child}, the file has {} pages",
                db.page_count()
            ),
        ));
    }
    Ok(child)
}

/// A position in a leaf page.
pub(crate) struct LeafPos {
    pub(crate) page: Arc<Page>,
    pub(crate) tag: usize,
}

/// Finds the first leaf node whose key is ≥ `key` in the tree rooted at
/// `root` (objid `objid`). Returns `None` when every key is smaller.
pub(crate) fn seek<S: Source>(
    db: &Database<S>,
    root: u32,
    objid: u32,
    key: &[u8],
) -> Result<Option<LeafPos>> {
    let name = db.source_name();
    let mut pgno = root;
    for _ in 0..MAX_DEPTH {
        let page = db.page(pgno)?;
        if page.objid != objid {
            return Err(db.corrupt(
                pgno,
                "page object id",
                format!("{} where object {objid} was expected", page.objid),
            ));
        }
        if page.is_leaf() {
            let mut pos = LeafPos { page, tag: 1 };
            // first node ≥ key on this page, else continue on the right;
            // a sibling chain can visit each page at most once
            let mut pages_left = db.page_count();
            loop {
                if pos.tag >= pos.page.tag_count() {
                    pages_left = pages_left.saturating_sub(1);
                    if pages_left == 0 {
                        return Err(db.corrupt(
                            pos.page.pgno,
                            "leaf chain",
                            "sibling pointers form a cycle".into(),
                        ));
                    }
                    match next_leaf_page(db, &pos.page, objid)? {
                        Some(p) => pos = LeafPos { page: p, tag: 1 },
                        None => return Ok(None),
                    }
                    continue;
                }
                let node = pos.page.node(name, pos.tag)?;
                if pos.page.key(name, &node)?.as_slice() >= key {
                    return Ok(Some(pos));
                }
                pos.tag += 1;
            }
        }
        let n = page.tag_count();
        if n < 2 {
            return Err(db.corrupt(pgno, "branch page", "no child entries".into()));
        }
        let mut chosen = None;
        for i in 1..n {
            let node = page.node(name, i)?;
            let k = page.key(name, &node)?;
            if i == n - 1 || k.as_slice() >= key {
                chosen = Some(child_of(db, &page, node.data, i)?);
                break;
            }
        }
        pgno = chosen.unwrap_or(0);
    }
    Err(db.corrupt(root, "tree depth", "more than 32 levels".into()))
}

/// The right sibling of a leaf, checked to belong to the same tree.
pub(crate) fn next_leaf_page<S: Source>(
    db: &Database<S>,
    page: &Page,
    objid: u32,
) -> Result<Option<Arc<Page>>> {
    if page.next == 0 {
        return Ok(None);
    }
    if page.next > db.page_count() {
        return Err(db.corrupt(
            page.pgno,
            "next page",
            format!("{} is past the end of the file", page.next),
        ));
    }
    let next = db.page(page.next)?;
    if next.objid != objid || !next.is_leaf() {
        return Err(Error::corrupt(
            db.source_name(),
            kairos_parsers::Location::page(u64::from(page.next)),
            "leaf chain",
            format!("page {} is not a leaf of object {objid}", page.next),
        ));
    }
    Ok(Some(next))
}
