//! The system base tables, read offline: `sysallocunits` → `sysrowsets` →
//! `sysrscols` bootstrap the physical layout of every rowset; `sysschobjs`,
//! `syscolpars`, `sysidxstats`, `sysiscols` and `sysclsobjs` are then
//! decoded with their own `sysrscols` layout. Format notes §5.

use std::collections::{HashMap, HashSet};

use kairos_parsers::{Error, Result, Source};

use crate::boot_page::BootPage;
use crate::bytes::{i32_at, i64_at, u8_at, u16_at, u32_at};
use crate::collation::CodePage;
use crate::iam::IamPage;
use crate::lob::LobReader;
use crate::page::{Page, PageId, PageType};
use crate::pages::Pages;
use crate::record::{Record, RecordType};
use crate::row::{Layout, decode_column};
use crate::types::SqlType;
use crate::value::Value;

/// Allocation unit id of `sysrowsets` (object 5 << 16; format notes §5.2).
const SYSROWSETS_AUID: i64 = 327_680;
/// Allocation unit id of `sysallocunits` (object 7 << 16).
const SYSALLOCUNITS_AUID: i64 = 458_752;
/// Object ids of the system base tables (format notes §5).
const SYSRSCOLS: i32 = 3;
/// SQL Server 2005 kept the physical layout in `syshobtcolumns` instead.
const SYSHOBTCOLUMNS: i32 = 13;
const SYSSCHOBJS: i32 = 34;
const SYSCOLPARS: i32 = 41;
const SYSIDXSTATS: i32 = 54;
const SYSISCOLS: i32 = 55;
const SYSCLSOBJS: i32 = 64;
/// Decoder of one `sysrscols` / `syshobtcolumns` record.
type RsColParser = fn(&[u8]) -> Option<(i64, RsCol)>;

/// `sysclsobjs.class` of schemas.
const CLASS_SCHEMA: i64 = 50;

/// What an allocation unit holds (`sysallocunits.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocUnitType {
    /// In-row data (heap or B-tree pages).
    InRow,
    /// LOB_DATA: text/image and (max) values.
    Lob,
    /// ROW_OVERFLOW_DATA: variable columns pushed off the row.
    RowOverflow,
    /// Another value (dropped unit, future type).
    Other(u8),
}

/// One row of `sysallocunits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocUnit {
    /// `auid`.
    pub id: i64,
    /// `type`.
    pub kind: AllocUnitType,
    /// `ownerid`: the rowset.
    pub owner: i64,
    /// `pgfirst`: first page (first leaf page of a B-tree).
    pub first: PageId,
    /// `pgroot`: B-tree root (0:0 for heaps).
    pub root: PageId,
    /// `pgfirstiam`: first IAM page.
    pub first_iam: PageId,
}

/// One row of `sysrowsets`: one partition of one index or heap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rowset {
    /// `rowsetid`.
    pub id: i64,
    /// `idmajor`: object id.
    pub object_id: i32,
    /// `idminor`: index id (0 heap, 1 clustered).
    pub index_id: i32,
    /// `rcrows`: the catalog's cached row count (may be stale).
    pub cached_rows: i64,
    /// `cmprlevel`: 0 none, 1 ROW, 2 PAGE, 3+ columnstore.
    pub compression: u8,
}

/// One row of `sysrscols` (SQL Server 2008+) or `syshobtcolumns` (2005):
/// where a column lives in a rowset's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsCol {
    /// `rscolid`: the logical column id (`syscolpars.colid`; 0 = uniquifier).
    pub rscolid: i32,
    /// `hbcolid`: physical column ordinal.
    pub hbcolid: i32,
    /// The type as the rowset stores it.
    pub ty: SqlType,
    /// `status`: 0x2 dropped, 0x10 uniquifier, 0x80 not null, 0x100 sparse.
    pub status: u32,
    /// `offset & 0xFFFF`.
    pub leaf_offset: i16,
    /// `nullbit & 0xFFFF`.
    pub null_bit: u16,
    /// `bitpos & 0xFF`.
    pub bit_pos: u8,
}

/// One row of `sysschobjs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaObject {
    /// Object id.
    pub id: i32,
    /// Name.
    pub name: String,
    /// Schema id.
    pub schema_id: i32,
    /// Type code (`U`, `S`, `IT`, `V`, `P`, ...), trimmed.
    pub kind: String,
}

/// One row of `syscolpars`: a logical column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColPar {
    /// Object id.
    pub object_id: i32,
    /// `colid`.
    pub colid: i32,
    /// Name.
    pub name: String,
    /// Type.
    pub ty: SqlType,
    /// `xtype` as stored (system type id).
    pub xtype: u8,
    /// `collationid`.
    pub collation: u32,
    /// `status` bits (0x1 NOT NULL, 0x4 identity, 0x10 computed).
    pub status: u32,
}

/// One row of `sysidxstats` plus its key columns from `sysiscols`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// Table object id.
    pub object_id: i32,
    /// Index id (1 clustered, 2+ non-clustered).
    pub index_id: i32,
    /// Index name.
    pub name: String,
    /// `type`: 0 heap, 1 clustered, 2 non-clustered, 5/6 columnstore.
    pub kind: u8,
    /// `status` bits.
    pub status: u32,
    /// Key column ids in key order.
    pub key_columns: Vec<i32>,
}

/// The decoded system catalog.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// `sysallocunits`.
    pub alloc_units: Vec<AllocUnit>,
    /// `sysrowsets`.
    pub rowsets: Vec<Rowset>,
    /// `sysrscols`, per rowset id, ordered by `hbcolid`.
    pub rscols: HashMap<i64, Vec<RsCol>>,
    /// `sysschobjs`.
    pub objects: Vec<SchemaObject>,
    /// Schema names by id (`sysclsobjs`).
    pub schemas: HashMap<i32, String>,
    /// `syscolpars`, per object id.
    pub columns: HashMap<i32, Vec<ColPar>>,
    /// `sysidxstats` + `sysiscols`.
    pub indexes: Vec<IndexDef>,
    /// What could not be read (damaged catalog pages); the rest is used.
    pub warnings: Vec<String>,
}

impl Catalog {
    /// Reads the catalog, starting from the boot page.
    pub fn read<S: Source>(pages: &Pages<S>, boot: &BootPage) -> Result<Catalog> {
        let mut cat = Catalog::default();
        // sysallocunits is reached only through the boot page; its unit id
        // is object 7 << 16 (format notes §5.2).
        let sysallocunits = AllocUnit {
            id: SYSALLOCUNITS_AUID,
            kind: AllocUnitType::InRow,
            owner: SYSALLOCUNITS_AUID,
            first: boot.first_sys_indexes,
            root: PageId::default(),
            first_iam: PageId::default(),
        };
        for rec in records(pages, &sysallocunits, &mut cat.warnings)? {
            if let Some(au) = parse_alloc_unit(&rec) {
                cat.alloc_units.push(au);
            }
        }
        let rowsets_au = cat
            .alloc_units
            .iter()
            .find(|a| a.id == SYSROWSETS_AUID)
            .cloned()
            .ok_or_else(|| missing(pages, "sysrowsets allocation unit 327680"))?;
        // Bootstrap sysrowsets with its leading columns, which never moved.
        let raw_rowsets = records(pages, &rowsets_au, &mut cat.warnings)?;
        let (raw_rowsets, boot_rowsets): (Vec<Vec<u8>>, Vec<Rowset>) = raw_rowsets
            .into_iter()
            .filter_map(|r| parse_rowset_head(&r).map(|h| (r, h)))
            .unzip();
        // 2008+: sysrscols; 2005: syshobtcolumns, with its own layout.
        let (layout_table, parse): (i32, RsColParser) = if boot_rowsets
            .iter()
            .any(|r| r.object_id == SYSRSCOLS && r.index_id == 1)
        {
            (SYSRSCOLS, parse_rscol)
        } else {
            (SYSHOBTCOLUMNS, parse_hobtcol)
        };
        let rscols_rowset = boot_rowsets
            .iter()
            .find(|r| r.object_id == layout_table && r.index_id == 1)
            .ok_or_else(|| missing(pages, "sysrscols / syshobtcolumns rowset"))?
            .id;
        let rscols_au = in_row_unit(&cat.alloc_units, rscols_rowset)
            .ok_or_else(|| missing(pages, "sysrscols allocation unit"))?
            .clone();
        for rec in records(pages, &rscols_au, &mut cat.warnings)? {
            if let Some((rsid, col)) = parse(&rec) {
                cat.rscols.entry(rsid).or_default().push(col);
            }
        }
        for cols in cat.rscols.values_mut() {
            cols.sort_by_key(|c| c.hbcolid);
            if layout_table == SYSHOBTCOLUMNS {
                assign_bit_positions(cols);
            }
        }
        // Now every system table decodes through its own layout.
        cat.rowsets = boot_rowsets;
        let rowset_layout = cat.system_layout_by_id(pages, 5);
        if let Some(layout) = rowset_layout {
            for (rs, rec) in cat.rowsets.iter_mut().zip(raw_rowsets.iter()) {
                let v = decode_all(pages, rec, &layout);
                rs.cached_rows = int(&v, 8).unwrap_or(rs.cached_rows);
                rs.compression = u8::try_from(int(&v, 9).unwrap_or(0)).unwrap_or(0);
            }
        }
        for v in cat.system_rows(pages, SYSSCHOBJS)? {
            if let (Some(id), Some(name), Some(schema_id), Some(kind)) =
                (int(&v, 1), text(&v, 2), int(&v, 3), text(&v, 6))
            {
                cat.objects.push(SchemaObject {
                    id: id as i32,
                    name,
                    schema_id: schema_id as i32,
                    kind: kind.trim().to_owned(),
                });
            }
        }
        for v in cat.system_rows(pages, SYSCOLPARS)? {
            let (Some(object_id), Some(number), Some(colid), Some(name), Some(xtype)) =
                (int(&v, 1), int(&v, 2), int(&v, 3), text(&v, 4), int(&v, 5))
            else {
                continue;
            };
            if number != 0 {
                continue; // procedure parameters
            }
            let length = int(&v, 7).unwrap_or(0) as i16;
            let prec = int(&v, 8).unwrap_or(0) as u8;
            let scale = int(&v, 9).unwrap_or(0) as u8;
            cat.columns
                .entry(object_id as i32)
                .or_default()
                .push(ColPar {
                    object_id: object_id as i32,
                    colid: colid as i32,
                    name,
                    ty: SqlType::from_catalog(xtype as u8, length, prec, scale),
                    xtype: xtype as u8,
                    collation: int(&v, 10).unwrap_or(0) as u32,
                    status: int(&v, 11).unwrap_or(0) as u32,
                });
        }
        for cols in cat.columns.values_mut() {
            cols.sort_by_key(|c| c.colid);
        }
        if let Ok(rows) = cat.system_rows(pages, SYSCLSOBJS) {
            for v in rows {
                if let (Some(CLASS_SCHEMA), Some(id), Some(name)) =
                    (int(&v, 1), int(&v, 2), text(&v, 3))
                {
                    cat.schemas.insert(id as i32, name);
                }
            }
        }
        let mut keys: HashMap<(i32, i32), Vec<(i64, i32)>> = HashMap::new();
        if let Ok(rows) = cat.system_rows(pages, SYSISCOLS) {
            for v in rows {
                if let (Some(obj), Some(ind), Some(subid), Some(status), Some(col)) =
                    (int(&v, 1), int(&v, 2), int(&v, 3), int(&v, 4), int(&v, 5))
                {
                    // status 0x2: key column (others are included columns).
                    if status & 0x2 != 0 {
                        keys.entry((obj as i32, ind as i32))
                            .or_default()
                            .push((subid, col as i32));
                    }
                }
            }
        }
        if let Ok(rows) = cat.system_rows(pages, SYSIDXSTATS) {
            for v in rows {
                if let (Some(obj), Some(ind), Some(name), Some(status), Some(kind)) =
                    (int(&v, 1), int(&v, 2), text(&v, 3), int(&v, 4), int(&v, 7))
                {
                    let mut k = keys.remove(&(obj as i32, ind as i32)).unwrap_or_default();
                    k.sort_unstable();
                    cat.indexes.push(IndexDef {
                        object_id: obj as i32,
                        index_id: ind as i32,
                        name,
                        kind: kind as u8,
                        status: status as u32,
                        key_columns: k.into_iter().map(|(_, c)| c).collect(),
                    });
                }
            }
        }
        Ok(cat)
    }

    /// Layout of a system table's clustered rowset, typed from `sysrscols.ti`.
    fn system_layout_by_id<S: Source>(
        &self,
        _pages: &Pages<S>,
        object_id: i32,
    ) -> Option<Vec<Layout>> {
        let rowset = self
            .rowsets
            .iter()
            .find(|r| r.object_id == object_id && r.index_id == 1)?;
        let cols = self.rscols.get(&rowset.id)?;
        Some(
            cols.iter()
                .map(|c| Layout {
                    ty: c.ty,
                    leaf_offset: c.leaf_offset,
                    null_bit: c.null_bit,
                    bit_pos: c.bit_pos,
                    code_page: CodePage::WINDOWS_1252,
                })
                .collect(),
        )
    }

    /// Every live row of a system table, decoded by column ordinal.
    fn system_rows<S: Source>(
        &mut self,
        pages: &Pages<S>,
        object_id: i32,
    ) -> Result<Vec<Vec<Value>>> {
        let layout = self
            .system_layout_by_id(pages, object_id)
            .ok_or_else(|| missing(pages, &format!("layout of system table {object_id}")))?;
        let rowset = self
            .rowsets
            .iter()
            .find(|r| r.object_id == object_id && r.index_id == 1)
            .map(|r| r.id)
            .unwrap_or_default();
        let au = in_row_unit(&self.alloc_units, rowset)
            .ok_or_else(|| {
                missing(
                    pages,
                    &format!("allocation unit of system table {object_id}"),
                )
            })?
            .clone();
        let recs = records(pages, &au, &mut self.warnings)?;
        Ok(recs.iter().map(|r| decode_all(pages, r, &layout)).collect())
    }

    /// The in-row allocation unit of `rowset`.
    pub fn in_row_unit(&self, rowset: i64) -> Option<&AllocUnit> {
        in_row_unit(&self.alloc_units, rowset)
    }
}

fn in_row_unit(units: &[AllocUnit], rowset: i64) -> Option<&AllocUnit> {
    units
        .iter()
        .find(|a| a.owner == rowset && a.kind == AllocUnitType::InRow)
}

fn missing<S: Source>(pages: &Pages<S>, what: &str) -> Error {
    Error::corrupt(
        pages.name(),
        kairos_parsers::Location::page(9),
        "system catalog",
        format!("{what} not found (damaged catalog or not a SQL Server 2005+ database)"),
    )
}

/// Bytes of every live record of a system table: its leaf chain from
/// `unit.first`; when the chain is broken (damaged or missing page), the
/// remaining pages the unit's IAM chain lists. Damage is noted in
/// `warnings`.
fn records<S: Source>(
    pages: &Pages<S>,
    unit: &AllocUnit,
    warnings: &mut Vec<String>,
) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut visited = HashSet::new();
    let mut broken = false;
    for page in pages.chain(unit.first) {
        let page = match page {
            Ok(p) => p,
            Err(e) if e.is_damage() => {
                warnings.push(e.to_string());
                broken = true;
                break;
            }
            Err(e) => return Err(e),
        };
        visited.insert(page.number());
        if page.header().page_type != PageType::Data {
            warnings.push(
                pages
                    .corrupt(
                        page.number(),
                        "m_type",
                        "catalog chain reaches a non-data page",
                    )
                    .to_string(),
            );
            broken = true;
            break;
        }
        push_live(&page, &mut out);
    }
    if broken {
        for id in iam_pages(pages, unit.first_iam) {
            if !visited.insert(id.page) {
                continue;
            }
            match pages.get(id) {
                Ok(p)
                    if p.header().page_type == PageType::Data
                        && p.header().alloc_unit() == unit.id =>
                {
                    push_live(&p, &mut out);
                }
                Ok(_) => {}
                Err(e) => warnings.push(e.to_string()),
            }
        }
    }
    Ok(out)
}

/// Pages listed by the IAM chain from `first_iam` (damaged IAM pages end
/// the list).
fn iam_pages<S: Source>(pages: &Pages<S>, first_iam: PageId) -> Vec<PageId> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut next = first_iam;
    while !next.is_null() && seen.insert(next) {
        let Ok(iam) = pages
            .get(next)
            .and_then(|p| IamPage::parse(pages.name(), &p))
        else {
            break;
        };
        out.extend(iam.allocated_pages());
        next = iam.next;
    }
    out
}

fn push_live(page: &Page, out: &mut Vec<Vec<u8>>) {
    for slot in 0..page.header().slot_count {
        let Some(bytes) = page.record_bytes(slot) else {
            continue;
        };
        if let Ok(r) = Record::parse(bytes)
            && r.kind() == RecordType::Primary
        {
            out.push(r.bytes().to_vec());
        }
    }
}

fn decode_all<S: Source>(pages: &Pages<S>, rec: &[u8], layout: &[Layout]) -> Vec<Value> {
    let Ok(r) = Record::parse(rec) else {
        return Vec::new();
    };
    let mut lobs = LobReader::new(pages);
    layout
        .iter()
        .map(|c| decode_column(&r, c, &mut lobs))
        .collect()
}

/// Column `n` (1-based ordinal) as an integer.
fn int(v: &[Value], n: usize) -> Option<i64> {
    match v.get(n.checked_sub(1)?)? {
        Value::Int(i) => Some(*i),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// Column `n` (1-based ordinal) as text.
fn text(v: &[Value], n: usize) -> Option<String> {
    match v.get(n.checked_sub(1)?)? {
        Value::Text(s) => Some(s.clone()),
        _ => None,
    }
}

/// `sysallocunits` with its fixed leading columns (the bootstrap cannot use
/// `sysrscols` yet): auid@4, type@12, ownerid@13, pgfirst@27, pgroot@33,
/// pgfirstiam@39.
fn parse_alloc_unit(rec: &[u8]) -> Option<AllocUnit> {
    let kind = match u8_at(rec, 12)? {
        1 => AllocUnitType::InRow,
        2 => AllocUnitType::Lob,
        3 => AllocUnitType::RowOverflow,
        x => AllocUnitType::Other(x),
    };
    Some(AllocUnit {
        id: i64_at(rec, 4)?,
        kind,
        owner: i64_at(rec, 13)?,
        first: PageId::parse(rec, 27)?,
        root: PageId::parse(rec, 33)?,
        first_iam: PageId::parse(rec, 39)?,
    })
}

/// `sysrowsets` leading columns: rowsetid@4, idmajor@13, idminor@17,
/// rcrows@31.
fn parse_rowset_head(rec: &[u8]) -> Option<Rowset> {
    Some(Rowset {
        id: i64_at(rec, 4)?,
        object_id: i32_at(rec, 13)?,
        index_id: i32_at(rec, 17)?,
        cached_rows: i64_at(rec, 31)?,
        compression: 0,
    })
}

/// `sysrscols`: rsid@4, rscolid@12, hbcolid@16, ti@28, status@40,
/// offset@44, nullbit@48, bitpos@52.
fn parse_rscol(rec: &[u8]) -> Option<(i64, RsCol)> {
    Some((
        i64_at(rec, 4)?,
        RsCol {
            rscolid: i32_at(rec, 12)?,
            hbcolid: i32_at(rec, 16)?,
            ty: SqlType::from_ti(u32_at(rec, 28)?),
            status: u32_at(rec, 40)?,
            leaf_offset: u16_at(rec, 44)? as i16,
            null_bit: u16_at(rec, 48)?,
            bit_pos: u8_at(rec, 52)?,
        },
    ))
}

/// `bit` columns sharing a byte of the fixed part take its bits in column
/// order; `syshobtcolumns` (2005) has no bit position field, so it is
/// derived the way the engine allocates it.
fn assign_bit_positions(cols: &mut [RsCol]) {
    let mut next: HashMap<i16, u8> = HashMap::new();
    for c in cols
        .iter_mut()
        .filter(|c| c.ty == SqlType::Bit && c.leaf_offset > 0)
    {
        let pos = next.entry(c.leaf_offset).or_insert(0);
        c.bit_pos = *pos;
        *pos = pos.saturating_add(1);
    }
}

/// SQL Server 2005 `syshobtcolumns` (checked on a version 611 file):
/// hobtid@4, colid@12, status@16, xtype@22, length@23, prec@25, scale@26,
/// collation@27, offset@31, nullbit@37. Bit positions are derived by
/// [`assign_bit_positions`].
fn parse_hobtcol(rec: &[u8]) -> Option<(i64, RsCol)> {
    let colid = i32_at(rec, 12)?;
    let ty = SqlType::from_catalog(
        u8_at(rec, 22)?,
        u16_at(rec, 23)? as i16,
        u8_at(rec, 25)?,
        u8_at(rec, 26)?,
    );
    Some((
        i64_at(rec, 4)?,
        RsCol {
            rscolid: colid,
            hbcolid: colid,
            ty,
            status: 0,
            leaf_offset: u16_at(rec, 31)? as i16,
            null_bit: u16_at(rec, 37)?,
            bit_pos: 0,
        },
    ))
}
