//! Keyed lookups on a table's primary index: the record with a given key,
//! or every record whose key starts with given leading values — descending
//! from the root by separator keys, reading O(depth) pages instead of the
//! whole tree.
//!
//! Keys are built by [`crate::key`] from the catalog's primary-index
//! columns ([`Table::primary_key`]); tables without one (sequentially keyed)
//! or with key columns whose normalization is not implemented yet answer
//! with [`Error::Unsupported`], and the caller scans instead.

use std::sync::Arc;

use kairos_parsers::{Error, Result, Source};

use crate::btree::{self, LeafPos};
use crate::catalog::Table;
use crate::database::{Database, Record};
use crate::key::push_segment;
use crate::page::Page;
use crate::value::Value;

impl<S: Source> Database<S> {
    /// The normalized primary-index key of `values` — the leading key
    /// columns in order (fewer values than key columns give a key prefix).
    pub fn primary_key(&self, table: &Table, values: &[Value]) -> Result<Vec<u8>> {
        let unsupported = |feature: String| Error::Unsupported {
            source_name: self.source_name().to_owned(),
            feature,
        };
        if table.primary_key.is_empty() {
            return Err(unsupported(format!(
                "keyed lookup in table {}: the catalog names no primary-index columns",
                table.name
            )));
        }
        if values.len() > table.primary_key.len() {
            return Err(unsupported(format!(
                "keyed lookup in table {} with {} values: its primary key has {} columns",
                table.name,
                values.len(),
                table.primary_key.len()
            )));
        }
        let mut key = Vec::new();
        for (seg, value) in table.primary_key.iter().zip(values) {
            let column = table
                .columns
                .iter()
                .find(|c| c.id == seg.column)
                .ok_or_else(|| {
                    unsupported(format!(
                        "table {}: key column id {} is not among its columns",
                        table.name, seg.column
                    ))
                })?;
            push_segment(&mut key, column, seg.descending, value)
                .map_err(|e| unsupported(format!("keyed lookup in table {}: {e}", table.name)))?;
        }
        Ok(key)
    }

    /// The live record whose primary key is exactly `key` (one value per key
    /// column), or `None`.
    pub fn seek<'a>(&'a self, table: &'a Table, key: &[Value]) -> Result<Option<Record<'a, S>>> {
        if key.len() != table.primary_key.len() {
            return Err(Error::Unsupported {
                source_name: self.source_name().to_owned(),
                feature: format!(
                    "seek in table {} with {} values: its primary key has {} columns \
                     (use records_from for a prefix)",
                    table.name,
                    key.len(),
                    table.primary_key.len()
                ),
            });
        }
        let mut range = self.records_from(table, key)?;
        // A unique primary index: the first live record with this prefix
        // has exactly this key (fixed-size segments are self-delimiting).
        range.next().transpose()
    }

    /// The live records whose primary key starts with `prefix` (values of
    /// the leading key columns), in key order.
    pub fn records_from<'a>(
        &'a self,
        table: &'a Table,
        prefix: &[Value],
    ) -> Result<KeyRange<'a, S>> {
        let key = self.primary_key(table, prefix)?;
        let pos = btree::seek(self, table.fdp, table.objid, &key)?;
        Ok(KeyRange {
            db: self,
            table,
            prefix: key,
            pos,
            pages_left: self.page_count(),
        })
    }
}

/// Records of one key range; stops at the first key past the prefix.
pub struct KeyRange<'a, S> {
    db: &'a Database<S>,
    table: &'a Table,
    prefix: Vec<u8>,
    pos: Option<LeafPos>,
    /// Leaf pages the sibling chain may still visit (stops cycles).
    pages_left: u32,
}

impl<S: Source> KeyRange<'_, S> {
    /// Moves to the next leaf page when the current one is exhausted.
    fn advance_page(&mut self, page: &Arc<Page>) -> Result<()> {
        self.pages_left = self.pages_left.saturating_sub(1);
        if self.pages_left == 0 {
            return Err(self.db.corrupt(
                page.pgno,
                "leaf chain",
                "sibling pointers form a cycle".into(),
            ));
        }
        self.pos = btree::next_leaf_page(self.db, page, self.table.objid)?
            .map(|page| LeafPos { page, tag: 1 });
        Ok(())
    }
}

impl<'a, S: Source> Iterator for KeyRange<'a, S> {
    type Item = Result<Record<'a, S>>;

    fn next(&mut self) -> Option<Self::Item> {
        let name = self.db.source_name();
        loop {
            let pos = self.pos.as_mut()?;
            let page = Arc::clone(&pos.page);
            if pos.tag >= page.tag_count() {
                if let Err(e) = self.advance_page(&page) {
                    self.pos = None;
                    return Some(Err(e));
                }
                continue;
            }
            let tag = pos.tag;
            pos.tag += 1;
            let node = match page.node(name, tag) {
                Ok(n) => n,
                Err(e) => {
                    self.db.note_damage(page.pgno, &e.to_string());
                    continue;
                }
            };
            let key = match page.key(name, &node) {
                Ok(k) => k,
                Err(e) => {
                    self.db.note_damage(page.pgno, &e.to_string());
                    continue;
                }
            };
            if !key.starts_with(&self.prefix) {
                self.pos = None;
                return None;
            }
            if node.is_deleted() {
                continue;
            }
            return Some(Ok(Record::at(self.db, self.table, page, tag)));
        }
    }
}
