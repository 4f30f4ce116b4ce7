//! Opening a database and reading its tables: the API the CLI, the GUI and
//! the Exchange layer call.
//!
//! [`Database::open`] reads the header and the catalog only. Records are read
//! by a [`Records`] cursor, one leaf page at a time; a [`Record`] decodes a
//! column only when asked, and fetches a separated long value only then.
//! Damage found on the way (bad checksums, pages of the wrong tree, broken
//! nodes) is collected in [`Database::damage`] and the read goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use kairos_parsers::{Error, Location, Result, Source, SourceExt};

use crate::btree::LeafPages;
use crate::catalog::{self, Table};
use crate::checksum::ChecksumStatus;
use crate::column::Column;
use crate::compression::{self, CompressionError};
use crate::header::{DbState, Header, read_header};
use crate::long_value;
use crate::page::{Page, flags};
use crate::record::{MultiElement, RawValue, RecordLayout, split_multi, tagfld};
use crate::value::Value;

/// Pages kept in memory between reads (long values revisit LV pages).
const CACHE_PAGES: usize = 512;

/// Something the operator should know about the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The header says the database was not shut down cleanly.
    DirtyShutdown,
    /// The header page failed its checksum.
    HeaderChecksum {
        /// The shadow copy was used instead.
        used_shadow: bool,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::DirtyShutdown => {
                f.write_str("dirty shutdown: needs log replay, data as on disk")
            }
            Warning::HeaderChecksum { used_shadow: true } => {
                f.write_str("header page failed its checksum; read the shadow copy")
            }
            Warning::HeaderChecksum { used_shadow: false } => f.write_str(
                "header page and its shadow failed their checksums; values read as on disk",
            ),
        }
    }
}

/// Counts from one walk of a table's record tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TableStats {
    /// Live records.
    pub records: u64,
    /// Leaf pages of the record tree.
    pub leaf_pages: u64,
}

/// An open ESE database on any [`Source`].
pub struct Database<S> {
    source: S,
    header: Header,
    page_count: u32,
    tables: Vec<Table>,
    warnings: Vec<Warning>,
    damage: Mutex<BTreeMap<u32, String>>,
    cache: Mutex<HashMap<u32, Arc<Page>>>,
}

impl<S: Source> Database<S> {
    /// Opens the database: reads the header (falling back to its shadow) and
    /// the catalog. Reads no record pages.
    pub fn open(source: S) -> Result<Self> {
        let header = read_header(&source)?;
        let pages = source.len() / u64::from(header.page_size);
        // two header pages precede logical page 1
        let page_count = u32::try_from(pages.saturating_sub(1)).unwrap_or(u32::MAX);
        let mut warnings = Vec::new();
        if !header.checksum_ok || header.from_shadow {
            warnings.push(Warning::HeaderChecksum {
                used_shadow: header.from_shadow,
            });
        }
        if header.state == DbState::DirtyShutdown {
            warnings.push(Warning::DirtyShutdown);
        }
        let mut db = Database {
            source,
            header,
            page_count,
            tables: Vec::new(),
            warnings,
            damage: Mutex::new(BTreeMap::new()),
            cache: Mutex::new(HashMap::new()),
        };
        db.tables = catalog::read_catalog(&db)?;
        Ok(db)
    }

    /// The decoded file header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// File-level warnings (dirty shutdown, header checksum).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Damaged pages met so far (page number → what was wrong).
    pub fn damage(&self) -> BTreeMap<u32, String> {
        self.damage.lock().map(|d| d.clone()).unwrap_or_default()
    }

    /// The source's name (for messages).
    pub fn source_name(&self) -> &str {
        self.source.name()
    }

    /// The underlying source.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Number of logical pages the file holds.
    pub fn page_count(&self) -> u32 {
        self.page_count
    }

    /// Every table, in catalog order.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Result<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::NotFound {
                source_name: self.source.name().to_owned(),
                what: format!("table {name:?}"),
            })
    }

    /// A cursor over the live records of `table`, in primary-key order.
    pub fn records<'a>(&'a self, table: &'a Table) -> Records<'a, S> {
        Records {
            db: self,
            table,
            leaves: LeafPages::new(table.fdp, table.objid),
            page: None,
            tag: 0,
        }
    }

    /// Counts live records and leaf pages of `table` (walks its tree; decodes
    /// no records).
    pub fn table_stats(&self, table: &Table) -> Result<TableStats> {
        let mut leaves = LeafPages::new(table.fdp, table.objid);
        let mut stats = TableStats::default();
        while let Some(page) = leaves.next_leaf(self)? {
            stats.leaf_pages += 1;
            for tag in 1..page.tag_count() {
                if page
                    .node(self.source.name(), tag)
                    .is_ok_and(|n| !n.is_deleted())
                {
                    stats.records += 1;
                }
            }
        }
        Ok(stats)
    }

    /// Reads logical page `pgno` (cached). A checksum mismatch is recorded as
    /// damage; the page is still returned ("data as on disk").
    pub fn page(&self, pgno: u32) -> Result<Arc<Page>> {
        if let Some(p) = self.cache.lock().ok().and_then(|c| c.get(&pgno).cloned()) {
            return Ok(p);
        }
        if pgno == 0 || pgno > self.page_count {
            return Err(self.corrupt(
                pgno,
                "page number",
                format!("outside the file's {} pages", self.page_count),
            ));
        }
        let data = self
            .source
            .read_page(u64::from(pgno) + 1, self.header.page_size)?;
        let page = Arc::new(Page::parse(
            self.source.name(),
            pgno,
            data,
            self.header.large_pages(),
        )?);
        // A stored checksum of 0 means none was written (temporary
        // databases run without checksums); anything else must match.
        if let ChecksumStatus::Mismatch {
            block,
            stored,
            computed,
        } = page.checksum()
            && stored != 0
        {
            self.note_damage(
                pgno,
                &format!(
                    "checksum mismatch in block {block}: stored {stored:#018x}, computed {computed:#018x}"
                ),
            );
        }
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_PAGES {
                c.clear();
            }
            c.insert(pgno, Arc::clone(&page));
        }
        Ok(page)
    }

    /// Records damage on `pgno` (first description wins).
    pub(crate) fn note_damage(&self, pgno: u32, what: &str) {
        if let Ok(mut d) = self.damage.lock() {
            d.entry(pgno).or_insert_with(|| what.to_owned());
        }
    }

    /// A `Corrupt` error on page `pgno`.
    pub(crate) fn corrupt(&self, pgno: u32, field: &str, detail: String) -> Error {
        Error::corrupt(
            self.source.name(),
            Location::page(u64::from(pgno)),
            field,
            detail,
        )
    }

    /// Maps a decompression failure to the shared error type: unsupported
    /// schemes stay "not supported yet", the rest is damage.
    pub(crate) fn compression_error(&self, pgno: u32, what: &str, e: &CompressionError) -> Error {
        match e {
            CompressionError::Unsupported(_) => Error::Unsupported {
                source_name: self.source.name().to_owned(),
                feature: format!("{what}: {e}"),
            },
            _ => self.corrupt(pgno, what, e.to_string()),
        }
    }

    fn long_value(&self, table: &Table, lid: &[u8]) -> Result<Vec<u8>> {
        let (fdp, objid) = table.long_values.ok_or_else(|| {
            self.corrupt(
                table.fdp,
                "long value",
                format!(
                    "table {} has a separated value but no long-value tree",
                    table.name
                ),
            )
        })?;
        long_value::read(self, fdp, objid, lid)
    }

    /// Turns one located column value into a typed value.
    fn decode(&self, table: &Table, column: &Column, raw: &RawValue<'_>, pgno: u32) -> Value {
        let unreadable = |e: &Error| Value::Unreadable(e.to_string());
        match raw {
            RawValue::Absent => column
                .default
                .as_deref()
                .map_or(Value::Null, |d| Value::from_bytes(column, d)),
            RawValue::Null => Value::Null,
            RawValue::Plain(b) => Value::from_bytes(column, b),
            RawValue::Broken(why) => Value::Unreadable(why.clone()),
            RawValue::Tagged { header, bytes } => {
                if header & tagfld::ENCRYPTED != 0 {
                    return Value::Unreadable("encrypted long value".into());
                }
                if header & (tagfld::MULTI_VALUES | tagfld::TWO_VALUES) != 0 {
                    let elements = match split_multi(*header, bytes) {
                        Ok(e) => e,
                        Err(why) => return Value::Unreadable(why),
                    };
                    let values = elements
                        .iter()
                        .enumerate()
                        .map(|(i, el)| {
                            let bytes = match el {
                                MultiElement::Inline(b) => {
                                    // The engine compresses only the first
                                    // element of a multi-value (as observed
                                    // by dissect.esedb and in our samples).
                                    if i == 0 && header & tagfld::COMPRESSED != 0 {
                                        self.inflate(b, pgno)
                                    } else {
                                        Ok(b.to_vec())
                                    }
                                }
                                MultiElement::Separated(lid) => self.long_value(table, lid),
                            };
                            bytes.map_or_else(|e| unreadable(&e), |b| Value::from_bytes(column, &b))
                        })
                        .collect();
                    return Value::Multi(values);
                }
                let bytes = if header & tagfld::SEPARATED != 0 {
                    self.long_value(table, bytes)
                } else if header & tagfld::COMPRESSED != 0 {
                    self.inflate(bytes, pgno)
                } else {
                    Ok(bytes.to_vec())
                };
                bytes.map_or_else(|e| unreadable(&e), |b| Value::from_bytes(column, &b))
            }
        }
    }

    /// Decompresses an intrinsic (in-record) value: bounded by the page size
    /// times the largest expansion any scheme allows.
    fn inflate(&self, bytes: &[u8], pgno: u32) -> Result<Vec<u8>> {
        let limit = 65_536.max(bytes.len() * 16);
        compression::decompress(bytes, limit)
            .map_err(|e| self.compression_error(pgno, "compressed column value", &e))
    }
}

/// Cursor over a table's records.
pub struct Records<'a, S> {
    db: &'a Database<S>,
    table: &'a Table,
    leaves: LeafPages,
    page: Option<Arc<Page>>,
    tag: usize,
}

impl<'a, S: Source> Iterator for Records<'a, S> {
    type Item = Result<Record<'a, S>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(page) = &self.page {
                if self.tag < page.tag_count() {
                    let tag = self.tag;
                    self.tag += 1;
                    match page.node(self.db.source_name(), tag) {
                        Ok(n) if n.is_deleted() => continue,
                        Ok(_) => {
                            return Some(Ok(Record {
                                db: self.db,
                                table: self.table,
                                page: Arc::clone(page),
                                tag,
                            }));
                        }
                        Err(e) => {
                            self.db.note_damage(page.pgno, &e.to_string());
                            continue;
                        }
                    }
                }
                self.page = None;
            }
            match self.leaves.next_leaf(self.db) {
                Ok(Some(p)) => {
                    self.page = Some(p);
                    self.tag = 1;
                }
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// One record; columns are decoded on demand.
pub struct Record<'a, S> {
    db: &'a Database<S>,
    table: &'a Table,
    page: Arc<Page>,
    tag: usize,
}

impl<'a, S: Source> Record<'a, S> {
    /// The record at `tag` of leaf `page`.
    pub(crate) fn at(db: &'a Database<S>, table: &'a Table, page: Arc<Page>, tag: usize) -> Self {
        Record {
            db,
            table,
            page,
            tag,
        }
    }

    /// Page and tag this record was read from.
    pub fn location(&self) -> (u32, usize) {
        (self.page.pgno, self.tag)
    }

    /// The raw record bytes.
    pub fn bytes(&self) -> &[u8] {
        // The node parsed when the cursor yielded this record; parsing again
        // is a few bounds checks and keeps the record free of copies.
        self.page
            .node(self.db.source_name(), self.tag)
            .map_or(&[], |n| n.data)
    }

    /// The record's key in its tree (the normalized primary key; see
    /// [`crate::key`]). Empty when the node no longer parses.
    pub fn key(&self) -> Vec<u8> {
        let name = self.db.source_name();
        self.page
            .node(name, self.tag)
            .and_then(|n| self.page.key(name, &n))
            .unwrap_or_default()
    }

    fn layout(&self) -> std::result::Result<RecordLayout<'_>, String> {
        RecordLayout::parse(
            self.bytes(),
            self.db.header().large_pages(),
            self.page.flags & flags::NEW_RECORD_FORMAT != 0,
        )
    }

    /// The value of column `index` of the table.
    pub fn value(&self, index: usize) -> Value {
        let Some(column) = self.table.columns.get(index) else {
            return Value::Null;
        };
        match self.layout() {
            Ok(l) => self
                .db
                .decode(self.table, column, &l.raw(column), self.page.pgno),
            Err(why) => Value::Unreadable(why),
        }
    }

    /// The value of the column named `name` (`None`: no such column).
    pub fn get(&self, name: &str) -> Option<Value> {
        self.table.column(name).map(|(i, _)| self.value(i))
    }

    /// Every column's value, in the table's column order.
    pub fn values(&self) -> Vec<Value> {
        match self.layout() {
            Ok(l) => self
                .table
                .columns
                .iter()
                .map(|c| self.db.decode(self.table, c, &l.raw(c), self.page.pgno))
                .collect(),
            Err(why) => vec![Value::Unreadable(why); self.table.columns.len()],
        }
    }
}
