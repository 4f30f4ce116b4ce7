//! Row scans: clustered-index leaf chains and heap IAM walks, forwarded
//! rows, ghost records and rows left in freed slots (deleted rows), with
//! damaged pages reported and skipped. Format notes §5.3.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use kairos_parsers::{Error, Location, Result, Source};

use crate::catalog::AllocUnit;
use crate::iam::{IamPage, pfs_allocated, pfs_page_for};
use crate::lob::LobReader;
use crate::page::{HEADER_LEN, Page, PageCheck, PageId, PageType, Rid};
use crate::pages::Pages;
use crate::record::{Record, RecordType};
use crate::row::decode_column;
use crate::table::Table;
use crate::value::Value;

/// How a row was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowState {
    /// A live row.
    Live,
    /// A ghost record: deleted, not yet cleaned up.
    Ghost,
    /// A record left in a freed slot of the page: deleted and cleaned up,
    /// but its bytes are still there.
    Freed,
}

/// One row of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Values in column order (empty when the scan does not decode).
    pub values: Vec<Value>,
    /// Live or deleted.
    pub state: RowState,
    /// Where the record is (for a freed record, `slot` is the byte offset
    /// on the page, as there is no slot).
    pub rid: Rid,
    /// The page failed its checksum/torn-page check: values may be wrong.
    pub page_damaged: bool,
}

impl Row {
    /// True for ghost and freed-slot rows.
    pub fn is_deleted(&self) -> bool {
        self.state != RowState::Live
    }

    /// Number of columns that could not be decoded.
    pub fn error_count(&self) -> usize {
        self.values.iter().filter(|v| v.is_error()).count()
    }
}

/// Scan options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Also return ghost records and records in freed slots.
    pub include_deleted: bool,
    /// Skip value decoding (row counting).
    pub count_only: bool,
}

enum Phase {
    /// Walking the leaf chain of a clustered index.
    Chain(Option<PageId>),
    /// Visiting pages the IAM chain lists (heaps, and leftovers of a
    /// broken leaf chain).
    Iam(VecDeque<PageId>),
    Done,
}

/// Iterator over the rows of a table. Damaged pages come out as `Err`
/// items (naming page and field) and the scan goes on with the next page;
/// other errors (I/O, unsupported) end it.
pub struct RowScan<'a, S> {
    pages: &'a Pages<S>,
    table: &'a Table,
    opts: ScanOptions,
    partitions: VecDeque<AllocUnit>,
    unit: Option<AllocUnit>,
    phase: Phase,
    visited: HashSet<PageId>,
    /// Allocation-unit id found in the headers of the unit's IAM pages.
    legacy_au: Option<i64>,
    pending: VecDeque<Result<Row>>,
    fatal: bool,
}

impl<'a, S: Source> RowScan<'a, S> {
    pub(crate) fn new(pages: &'a Pages<S>, table: &'a Table, opts: ScanOptions) -> Self {
        let mut pending = VecDeque::new();
        let mut fatal = false;
        if table.is_compressed() {
            pending.push_back(Err(Error::Unsupported {
                source_name: pages.name().to_owned(),
                feature: format!(
                    "reading rows of {} (row/page/columnstore compression)",
                    table.qualified_name()
                ),
            }));
            fatal = true;
        }
        RowScan {
            pages,
            table,
            opts,
            partitions: table
                .partitions
                .iter()
                .filter_map(|p| p.in_row.clone())
                .collect(),
            unit: None,
            phase: Phase::Done,
            visited: HashSet::new(),
            legacy_au: None,
            pending,
            fatal,
        }
    }

    /// Moves to the next page to decode; false when the scan is over.
    fn advance(&mut self) -> bool {
        loop {
            match &mut self.phase {
                Phase::Done => {
                    let Some(unit) = self.partitions.pop_front() else {
                        return false;
                    };
                    self.legacy_au = self
                        .pages
                        .get(unit.first_iam)
                        .ok()
                        .map(|p| p.header().alloc_unit());
                    self.phase = if unit.root.is_null() {
                        Phase::Iam(self.iam_candidates(&unit))
                    } else {
                        Phase::Chain((!unit.first.is_null()).then_some(unit.first))
                    };
                    self.unit = Some(unit);
                }
                Phase::Chain(next) => {
                    let Some(id) = next.take() else {
                        // Chain over: pick up leaf pages it did not reach.
                        let unit = self.unit.clone();
                        self.phase =
                            Phase::Iam(unit.map(|u| self.iam_candidates(&u)).unwrap_or_default());
                        continue;
                    };
                    if !self.visited.insert(id) {
                        self.pending.push_back(Err(self.pages.corrupt(
                            id.page,
                            "m_nextPage",
                            "the leaf chain loops",
                        )));
                        continue;
                    }
                    match self.pages.get(id) {
                        Ok(page) => {
                            let n = page.header().next;
                            *next = (!n.is_null()).then_some(n);
                            self.decode_page(&page);
                        }
                        Err(e) => self.push_error(e),
                    }
                    return true;
                }
                Phase::Iam(queue) => {
                    let Some(id) = queue.pop_front() else {
                        self.phase = Phase::Done;
                        continue;
                    };
                    if !self.visited.insert(id) {
                        continue;
                    }
                    match self.pages.get(id) {
                        Ok(page) => self.decode_page(&page),
                        Err(e) => self.push_error(e),
                    }
                    return true;
                }
            }
        }
    }

    fn push_error(&mut self, e: Error) {
        if !e.is_damage() {
            self.fatal = true;
        }
        self.pending.push_back(Err(e));
    }

    /// Pages the IAM chain gives this allocation unit and the PFS marks
    /// allocated, in page order. Damaged IAM/PFS pages are reported; what
    /// they cover is skipped.
    fn iam_candidates(&mut self, unit: &AllocUnit) -> VecDeque<PageId> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut next = unit.first_iam;
        while !next.is_null() && seen.insert(next) {
            let iam = self
                .pages
                .get(next)
                .and_then(|p| IamPage::parse(self.pages.name(), &p));
            match iam {
                Ok(iam) => {
                    out.extend(iam.allocated_pages());
                    next = iam.next;
                }
                Err(e) => {
                    self.push_error(e);
                    break;
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        let total = self.pages.page_count();
        let mut pfs: Option<Arc<Page>> = None;
        out.into_iter()
            .filter(|id| u64::from(id.page) < total && !self.visited.contains(id))
            .filter(|id| {
                let want = pfs_page_for(id.page);
                if pfs.as_ref().is_none_or(|p| p.number() != want) {
                    pfs = self
                        .pages
                        .get(PageId {
                            file: id.file,
                            page: want,
                        })
                        .ok();
                }
                // Without a readable PFS page, read the page and let the
                // header checks decide.
                pfs.as_ref().is_none_or(|p| pfs_allocated(p, id.page))
            })
            .collect()
    }

    fn decode_page(&mut self, page: &Page) {
        let h = page.header();
        let Some(unit) = &self.unit else { return };
        // Files upgraded from SQL Server 2000 keep legacy ids in page
        // headers; the unit's IAM page carries the same ids as its pages.
        // Leaf pages written by SQL Server 2000 may carry index id 0 in a
        // clustered unit: the object part must match.
        let owned = h.alloc_unit() == unit.id
            || Some(h.alloc_unit()) == self.legacy_au
            || i64::from(h.obj_id) == (unit.id >> 16) & 0xFFFF_FFFF;
        if h.page_type != PageType::Data || h.level != 0 || !owned {
            if matches!(self.phase, Phase::Chain(_)) {
                self.pending.push_back(Err(self.pages.corrupt(
                    page.number(),
                    "m_type",
                    format!(
                        "leaf chain of {} reaches a page of type {:?} of allocation unit {}",
                        self.table.qualified_name(),
                        h.page_type,
                        h.alloc_unit()
                    ),
                )));
            }
            return;
        }
        let damaged = match page.verify() {
            PageCheck::Ok | PageCheck::NotVerifiable => false,
            PageCheck::BadChecksum { stored, computed } => {
                self.pending.push_back(Err(self.pages.corrupt(
                    page.number(),
                    "page checksum",
                    format!("stored {stored:#010x}, computed {computed:#010x}; rows of this page may be wrong"),
                )));
                true
            }
            PageCheck::TornPage => {
                self.pending.push_back(Err(self.pages.corrupt(
                    page.number(),
                    "torn-page bits",
                    "sectors of different writes; rows of this page may be wrong",
                )));
                true
            }
        };
        let id = PageId {
            file: h.this.file,
            page: page.number(),
        };
        let mut lobs = LobReader::new(self.pages);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for slot in 0..h.slot_count {
            let Some(off) = page.slot_offset(slot) else {
                continue;
            };
            let Some(bytes) = page.record_bytes(slot) else {
                if off != 0 {
                    self.pending.push_back(Err(Error::corrupt(
                        self.pages.name(),
                        Location::Page {
                            page: u64::from(page.number()),
                            offset_in_page: Some(u32::from(off)),
                        },
                        "slot offset",
                        format!("slot {slot} points outside the record area"),
                    )));
                }
                continue;
            };
            let rec = match Record::parse(bytes) {
                Ok(r) => r,
                Err(detail) => {
                    self.pending.push_back(Err(Error::corrupt(
                        self.pages.name(),
                        Location::Page {
                            page: u64::from(page.number()),
                            offset_in_page: Some(u32::from(off)),
                        },
                        format!("record in slot {slot}"),
                        detail,
                    )));
                    continue;
                }
            };
            spans.push((usize::from(off), rec.len()));
            let state = match rec.kind() {
                // A forwarded row is returned where it lives; its stub is skipped.
                RecordType::Primary | RecordType::Forwarded => RowState::Live,
                RecordType::GhostData | RecordType::GhostVersion if self.opts.include_deleted => {
                    RowState::Ghost
                }
                _ => continue,
            };
            let row = self.row(&rec, state, Rid { page: id, slot }, damaged, &mut lobs);
            self.pending.push_back(Ok(row));
        }
        if self.opts.include_deleted {
            self.carve_freed(page, id, &spans, damaged, &mut lobs);
        }
    }

    fn row(
        &self,
        rec: &Record<'_>,
        state: RowState,
        rid: Rid,
        damaged: bool,
        lobs: &mut LobReader<'_, S>,
    ) -> Row {
        let values = if self.opts.count_only {
            Vec::new()
        } else {
            self.table
                .columns
                .iter()
                .map(|c| match &c.layout {
                    Some(l) => decode_column(rec, l, lobs),
                    None => Value::Null,
                })
                .collect()
        };
        Row {
            values,
            state,
            rid,
            page_damaged: damaged,
        }
    }

    /// Records between the live ones that still parse as rows of this
    /// table (same fixed length, same column count): deleted rows whose
    /// slot was freed.
    fn carve_freed(
        &mut self,
        page: &Page,
        id: PageId,
        spans: &[(usize, usize)],
        damaged: bool,
        lobs: &mut LobReader<'_, S>,
    ) {
        let h = page.header();
        let end = usize::from(h.free_data).min(page.slot_array_start());
        let mut covered = vec![false; end.max(HEADER_LEN)];
        for &(off, len) in spans {
            for b in covered.iter_mut().skip(off).take(len) {
                *b = true;
            }
        }
        let columns = self
            .table
            .columns
            .iter()
            .filter(|c| c.layout.is_some())
            .count();
        let mut off = HEADER_LEN;
        while off + 4 <= end {
            if covered.get(off).copied().unwrap_or(true) {
                off += 1;
                continue;
            }
            let candidate = page
                .bytes()
                .get(off..end)
                .and_then(|b| Record::parse(b).ok());
            let fits = candidate.as_ref().is_some_and(|r| {
                matches!(r.kind(), RecordType::Primary | RecordType::GhostData)
                    && r.fixed_end() == usize::from(h.pminlen)
                    && r.has_null_bitmap()
                    && usize::from(r.column_count()) >= columns
                    && usize::from(r.column_count()) <= columns + 2
                    && !covered.iter().skip(off).take(r.len()).any(|c| *c)
            });
            match candidate {
                Some(rec) if fits => {
                    let rid = Rid {
                        page: id,
                        slot: off as u16,
                    };
                    let row = self.row(&rec, RowState::Freed, rid, damaged, lobs);
                    self.pending.push_back(Ok(row));
                    off += rec.len().max(1);
                }
                _ => off += 1,
            }
        }
    }
}

impl<S: Source> Iterator for RowScan<'_, S> {
    type Item = Result<Row>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.pending.pop_front() {
                return Some(r);
            }
            if self.fatal || !self.advance() {
                return None;
            }
        }
    }
}
