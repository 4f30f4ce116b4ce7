//! The catalog (MSysObjects): tables, columns, indexes, long-value trees.
//!
//! Notes: `../shared/docs/formats/ese.md` §5. The catalog is itself an ESE
//! table whose layout the engine hard-codes; we bootstrap with that layout
//! (below) and read every other table's definition from it. Its root is
//! FDP page 4 (object 2); when that tree is unreadable, its copy
//! MSysObjectsShadow (object 3) is found among the first pages and used.

use std::collections::BTreeMap;

use kairos_parsers::{Error, Result, Source};

use crate::btree::LeafPages;
use crate::column::{Column, ColumnType, Storage};
use crate::database::Database;
use crate::key::{KeySegment, parse_key_fld_ids};
use crate::page::flags;
use crate::record::{RawValue, RecordLayout};

/// Root page of MSysObjects.
pub const CATALOG_FDP: u32 = 4;
/// Object id of MSysObjects.
pub const CATALOG_OBJID: u32 = 2;
/// Object id of MSysObjectsShadow.
pub const SHADOW_OBJID: u32 = 3;

/// A table as the catalog describes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Object id.
    pub objid: u32,
    /// Root (FDP) page of the record tree.
    pub fdp: u32,
    /// Root page and object id of the long-value tree, if any.
    pub long_values: Option<(u32, u32)>,
    /// Columns in id order (template columns first for derived tables).
    pub columns: Vec<Column>,
    /// Template table this one derives from.
    pub template: Option<String>,
    /// Secondary indexes: name and root page.
    pub indexes: Vec<(String, u32)>,
    /// Columns of the primary index, in key order (empty when the catalog
    /// names none or its `KeyFldIDs` do not decode against the columns:
    /// the table is then keyed by sequential ids and only scanned).
    pub primary_key: Vec<KeySegment>,
}

impl Table {
    /// The column named `name`.
    pub fn column(&self, name: &str) -> Option<(usize, &Column)> {
        self.columns
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }
}

/// The fields of one catalog row we use.
#[derive(Debug, Default)]
struct Row {
    objid_table: u32,
    kind: u16,
    id: u32,
    coltyp_or_fdp: u32,
    space_usage: u32,
    flags: u32,
    pages_or_locale: u32,
    name: String,
    template: Option<String>,
    default: Option<Vec<u8>>,
    key_fld_ids: Option<Vec<u8>>,
}

fn boot_column(id: u32, name: &str, coltyp: ColumnType, space_usage: u32) -> Column {
    Column {
        id,
        name: name.into(),
        coltyp,
        space_usage,
        flags: 0,
        codepage: 1252,
        record_offset: 0,
        default: None,
        derived: false,
    }
}

/// The catalog's own layout, as the engine hard-codes it (the catalog rows
/// describing MSysObjects agree, see `oracle/*/export/MSysObjects.0`).
fn bootstrap_columns() -> Vec<Column> {
    use ColumnType as T;
    let mut cols = vec![
        boot_column(1, "ObjidTable", T::Long, 4),
        boot_column(2, "Type", T::Short, 2),
        boot_column(3, "Id", T::Long, 4),
        boot_column(4, "ColtypOrPgnoFDP", T::Long, 4),
        boot_column(5, "SpaceUsage", T::Long, 4),
        boot_column(6, "Flags", T::Long, 4),
        boot_column(7, "PagesOrLocale", T::Long, 4),
        boot_column(128, "Name", T::Text, 255),
        boot_column(130, "TemplateTable", T::Text, 255),
        boot_column(131, "DefaultValue", T::Binary, 255),
        boot_column(132, "KeyFldIDs", T::Binary, 255),
    ];
    assign_fixed_offsets(&mut cols);
    cols
}

/// Fixed columns sit back to back after the 4-byte record header, in id
/// order. (The catalog's RecordOffset field is not reliable for system
/// tables — MSysObjectsShadow lists 4 for every column — so, like libesedb
/// and dissect.esedb, offsets are computed from the sizes.)
fn assign_fixed_offsets(cols: &mut [Column]) {
    let mut fixed: Vec<&mut Column> = cols
        .iter_mut()
        .filter(|c| c.storage() == Storage::Fixed)
        .collect();
    fixed.sort_by_key(|c| c.id);
    let mut off = 4u32;
    for c in fixed {
        c.record_offset = off;
        off = off.saturating_add(c.fixed_len() as u32);
    }
}

fn as_u32(raw: &RawValue<'_>) -> u32 {
    match raw {
        RawValue::Plain(b) => match b.len() {
            2 => u32::from(u16::from_le_bytes([b[0], b[1]])),
            n if n >= 4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            _ => 0,
        },
        _ => 0,
    }
}

fn as_bytes<'a>(raw: &RawValue<'a>) -> Option<&'a [u8]> {
    match raw {
        RawValue::Plain(b) => Some(b),
        RawValue::Tagged { bytes, .. } => Some(bytes),
        _ => None,
    }
}

fn read_rows<S: Source>(db: &Database<S>, fdp: u32, objid: u32) -> Result<Vec<Row>> {
    let boot = bootstrap_columns();
    let mut leaves = LeafPages::new(fdp, objid);
    let mut rows = Vec::new();
    let name = db.source_name();
    while let Some(page) = leaves.next_leaf(db)? {
        let new_format = page.flags & flags::NEW_RECORD_FORMAT != 0;
        for tag in 1..page.tag_count() {
            let node = match page.node(name, tag) {
                Ok(n) if !n.is_deleted() => n,
                Ok(_) => continue,
                Err(e) => {
                    db.note_damage(page.pgno, &e.to_string());
                    continue;
                }
            };
            let layout = match RecordLayout::parse(node.data, db.header().large_pages(), new_format)
            {
                Ok(l) => l,
                Err(e) => {
                    db.note_damage(page.pgno, &format!("catalog record (tag {tag}): {e}"));
                    continue;
                }
            };
            let get = |i: usize| layout.raw(&boot[i]);
            let text = |i: usize| as_bytes(&get(i)).map(|b| crate::value::decode_text(b, 1252));
            rows.push(Row {
                objid_table: as_u32(&get(0)),
                kind: as_u32(&get(1)) as u16,
                id: as_u32(&get(2)),
                coltyp_or_fdp: as_u32(&get(3)),
                space_usage: as_u32(&get(4)),
                flags: as_u32(&get(5)),
                pages_or_locale: as_u32(&get(6)),
                name: text(7).unwrap_or_default(),
                template: text(8).filter(|t| !t.is_empty()),
                default: as_bytes(&get(9)).map(<[u8]>::to_vec),
                key_fld_ids: as_bytes(&get(10)).map(<[u8]>::to_vec),
            });
        }
    }
    Ok(rows)
}

/// Finds MSysObjectsShadow's root among the first pages when the catalog's
/// own root is unusable.
fn find_shadow_root<S: Source>(db: &Database<S>) -> Option<u32> {
    (CATALOG_FDP + 1..=db.page_count().min(128)).find(|&pgno| {
        db.page(pgno)
            .is_ok_and(|p| p.objid == SHADOW_OBJID && p.is_root())
    })
}

/// Reads the catalog and builds every table's definition, in catalog order.
pub(crate) fn read_catalog<S: Source>(db: &Database<S>) -> Result<Vec<Table>> {
    // Page 4 is the catalog root; its object id is normally 2, but some
    // files (AD temp.edb) number it differently, so trust a root page there.
    let primary = db
        .page(CATALOG_FDP)
        .ok()
        .filter(|p| p.is_root() && !p.is_empty() && p.objid != 0);
    let rows = if let Some(p) = primary {
        read_rows(db, CATALOG_FDP, p.objid)?
    } else {
        let shadow = find_shadow_root(db).ok_or_else(|| {
            db.corrupt(
                CATALOG_FDP,
                "catalog root",
                "page 4 is not the MSysObjects root and no MSysObjectsShadow root was found".into(),
            )
        })?;
        db.note_damage(
            CATALOG_FDP,
            &format!("catalog root unusable; read MSysObjectsShadow at page {shadow}"),
        );
        read_rows(db, shadow, SHADOW_OBJID)?
    };
    if rows.is_empty() {
        return Err(Error::corrupt(
            db.source_name(),
            kairos_parsers::Location::page(u64::from(CATALOG_FDP)),
            "catalog",
            "no readable catalog records",
        ));
    }
    Ok(build_tables(rows))
}

fn build_tables(rows: Vec<Row>) -> Vec<Table> {
    let mut tables: Vec<Table> = Vec::new();
    let mut by_objid: BTreeMap<u32, usize> = BTreeMap::new();
    let mut columns: BTreeMap<u32, Vec<Column>> = BTreeMap::new();
    let mut lvs: BTreeMap<u32, (u32, u32)> = BTreeMap::new();
    let mut indexes: BTreeMap<u32, Vec<(String, u32)>> = BTreeMap::new();
    // index rows: table objid → (root page, KeyFldIDs)
    let mut index_keys: BTreeMap<u32, Vec<(u32, Vec<u8>)>> = BTreeMap::new();
    for r in rows {
        match r.kind {
            1 => {
                by_objid.insert(r.objid_table, tables.len());
                tables.push(Table {
                    name: r.name,
                    objid: r.objid_table,
                    fdp: r.coltyp_or_fdp,
                    long_values: None,
                    columns: Vec::new(),
                    template: r.template,
                    indexes: Vec::new(),
                    primary_key: Vec::new(),
                });
            }
            2 => columns.entry(r.objid_table).or_default().push(Column {
                id: r.id,
                name: r.name,
                coltyp: ColumnType::from_u32(r.coltyp_or_fdp),
                space_usage: r.space_usage,
                flags: r.flags,
                codepage: r.pages_or_locale,
                record_offset: 0,
                default: r.default.filter(|d| !d.is_empty()),
                derived: false,
            }),
            3 => {
                if let Some(k) = r.key_fld_ids {
                    index_keys
                        .entry(r.objid_table)
                        .or_default()
                        .push((r.coltyp_or_fdp, k));
                }
                indexes
                    .entry(r.objid_table)
                    .or_default()
                    .push((r.name, r.coltyp_or_fdp));
            }
            4 => {
                lvs.insert(r.objid_table, (r.coltyp_or_fdp, r.id));
            }
            _ => {}
        }
    }
    for t in &mut tables {
        let mut cols = columns.remove(&t.objid).unwrap_or_default();
        cols.sort_by_key(|c| c.id);
        t.columns = cols;
        t.long_values = lvs.get(&t.objid).copied();
        t.indexes = indexes.remove(&t.objid).unwrap_or_default();
    }
    // Derived tables: the template's columns come first; its tagged
    // columns are stored with the fDerived bit.
    let templates: BTreeMap<String, Vec<Column>> = tables
        .iter()
        .map(|t| (t.name.clone(), t.columns.clone()))
        .collect();
    for t in &mut tables {
        // a template table names itself as its template (AD's DNT_col)
        let template = t.template.as_ref().filter(|n| **n != t.name);
        if let Some(tpl) = template.and_then(|n| templates.get(n)) {
            let mut cols: Vec<Column> = tpl
                .iter()
                .cloned()
                .map(|mut c| {
                    c.derived = c.storage() == Storage::Tagged;
                    c
                })
                .collect();
            cols.append(&mut t.columns);
            t.columns = cols;
        }
        assign_fixed_offsets(&mut t.columns);
        // The primary index shares the table's root page.
        t.primary_key = index_keys
            .get(&t.objid)
            .and_then(|ix| ix.iter().find(|(fdp, _)| *fdp == t.fdp))
            .and_then(|(_, k)| decode_key_columns(k, &t.columns))
            .unwrap_or_default();
    }
    tables
}

/// Decodes `KeyFldIDs` against the table's columns: the 4-byte `IDXSEG`
/// form of current files when every id it names exists, else the older
/// 2-byte form (the catalog record does not say which it holds).
fn decode_key_columns(bytes: &[u8], columns: &[Column]) -> Option<Vec<KeySegment>> {
    let known = |segs: &Vec<KeySegment>| {
        segs.iter()
            .all(|s| columns.iter().any(|c| c.id == s.column))
    };
    parse_key_fld_ids(bytes, true)
        .filter(known)
        .or_else(|| parse_key_fld_ids(bytes, false).filter(known))
}
