//! The catalog (ese.md §5): MSysObjects, its shadow copy MSysObjectsShadow,
//! its Name and RootObjects indexes, and MSysObjids.
//!
//! MSysObjects describes every table, column, index and long-value tree,
//! itself included. Its records use the engine's fixed schema below; values
//! the engine writes for its own rows (flags, densities, index flags and
//! key-field lists) were read off engine-written samples.

use super::record::{Column, Layout, Placement};
use super::schema::{ColumnSpec, ColumnType, TableSpec, Value};

/// Object ids and root pages the engine reserves (ese.md §5: MSysObjects at
/// FDP page 4).
pub(crate) const OBJID_DATABASE: u32 = 1;
pub(crate) const OBJID_MSYSOBJECTS: u32 = 2;
pub(crate) const OBJID_MSYSOBJECTS_SHADOW: u32 = 3;
pub(crate) const OBJID_NAME_INDEX: u32 = 4;
pub(crate) const OBJID_ROOTOBJECTS_INDEX: u32 = 5;
pub(crate) const OBJID_MSYSOBJIDS: u32 = 6;
/// First object id given to user tables.
pub(crate) const FIRST_USER_OBJID: u32 = 7;

/// Catalog record types (`Type` column).
pub(crate) const TYPE_TABLE: i16 = 1;
pub(crate) const TYPE_COLUMN: i16 = 2;
pub(crate) const TYPE_INDEX: i16 = 3;
pub(crate) const TYPE_LONG_VALUE: i16 = 4;

/// Table flags of the system tables (`JET_bitObjectSystem`-style high bits).
const FLAGS_SYSTEM_TABLE: i32 = 0xC000_0000_u32 as i32;
/// Index flags as the engine writes them: primary (unique, primary,
/// disallow-null, ...) and the two MSysObjects secondary indexes.
const FLAGS_PRIMARY_INDEX: i32 = 0x1002F;
const FLAGS_MSO_ID_INDEX: i32 = 0x10031;
const FLAGS_MSO_NAME_INDEX: i32 = 0x10011;
const FLAGS_MSO_ROOTOBJECTS_INDEX: i32 = 0x10009;
/// LCMapString flags stored for every index (NORM_IGNORECASE | ...).
const LCMAP_FLAGS: i32 = 0x30401;
/// Catalog column flag: multi-valued (`ffieldMultivalued`).
const COLUMN_FLAG_MULTI: i32 = 0x8;
/// Catalog column flag: NOT NULL.
const COLUMN_FLAG_NOT_NULL: i32 = 0x1;
/// Catalog column flag: compressed (`ffieldCompressed`, 4096 on samples).
const COLUMN_FLAG_COMPRESSED: i32 = 0x1000;
const KEY_MOST: u16 = 255;

/// The fixed schema of MSysObjects / MSysObjectsShadow.
pub(crate) fn msysobjects_columns() -> Vec<ColumnSpec> {
    use ColumnType as T;
    let fixed = [
        ("ObjidTable", T::Long),
        ("Type", T::Short),
        ("Id", T::Long),
        ("ColtypOrPgnoFDP", T::Long),
        ("SpaceUsage", T::Long),
        ("Flags", T::Long),
        ("PagesOrLocale", T::Long),
        ("RootFlag", T::Bit),
        ("RecordOffset", T::Short),
        ("LCMapFlags", T::Long),
        ("KeyMost", T::UnsignedShort),
        ("LVChunkMax", T::Long),
    ];
    let var = [
        ("Name", T::Text),
        ("Stats", T::Binary),
        ("TemplateTable", T::Text),
        ("DefaultValue", T::Binary),
        ("KeyFldIDs", T::Binary),
        ("VarSegMac", T::Binary),
        ("ConditionalColumns", T::Binary),
        ("TupleLimits", T::Binary),
        ("Version", T::Binary),
        ("SortID", T::Binary),
    ];
    let tagged = [
        "CallbackData",
        "CallbackDependencies",
        "SeparateLV",
        "SpaceHints",
        "SpaceDeferredLVHints",
        "LocaleName",
    ];
    fixed
        .iter()
        .chain(var.iter())
        .map(|(n, t)| {
            let c = ColumnSpec::new(n, *t);
            if t.is_text() { c.ansi() } else { c }
        })
        .chain(tagged.iter().map(|n| ColumnSpec::new(n, T::LongBinary)))
        .collect()
}

/// Key columns of MSysObjects' primary index "Id".
pub(crate) const MSO_KEY: [&str; 3] = ["ObjidTable", "Type", "Id"];

/// Indices into the MSysObjects row of the columns used below.
mod col {
    pub const OBJID_TABLE: usize = 0;
    pub const TYPE: usize = 1;
    pub const ID: usize = 2;
    pub const COLTYP_OR_FDP: usize = 3;
    pub const SPACE_USAGE: usize = 4;
    pub const FLAGS: usize = 5;
    pub const PAGES_OR_LOCALE: usize = 6;
    pub const ROOT_FLAG: usize = 7;
    pub const RECORD_OFFSET: usize = 8;
    pub const LCMAP_FLAGS: usize = 9;
    pub const KEY_MOST: usize = 10;
    pub const NAME: usize = 12;
    pub const KEY_FLD_IDS: usize = 16;
    pub const LOCALE_NAME: usize = 27;
    pub const COUNT: usize = 28;
}

/// A row with the common leading fields set.
fn row(objid_table: u32, kind: i16, id: u32, name: &str) -> Vec<Value> {
    let mut r = vec![Value::Null; col::COUNT];
    r[col::OBJID_TABLE] = Value::I32(objid_table as i32);
    r[col::TYPE] = Value::I16(kind);
    r[col::ID] = Value::I32(id as i32);
    r[col::NAME] = Value::Text(name.to_owned());
    r
}

/// Where a table (and its long-value tree) was placed.
#[derive(Clone, Debug)]
pub(crate) struct PlacedTable {
    pub objid: u32,
    pub name: String,
    pub fdp: u32,
    pub pages: u32,
    pub system: bool,
    pub layout: Layout,
    /// Primary-key column ids, empty for sequentially keyed tables.
    pub key_columns: Vec<u16>,
    /// Primary index name, when there is one.
    pub index_name: Option<String>,
    /// `(objid, fdp, pages)` of the long-value tree.
    pub lv: Option<(u32, u32, u32)>,
}

/// A secondary index of MSysObjects.
#[derive(Clone, Debug)]
pub(crate) struct PlacedIndex {
    pub objid: u32,
    pub name: &'static str,
    pub fdp: u32,
    pub flags: i32,
    pub key_columns: Vec<u16>,
}

fn key_fld_ids(ids: &[u16]) -> Vec<u8> {
    ids.iter()
        .flat_map(|id| [0, 0, id.to_le_bytes()[0], id.to_le_bytes()[1]])
        .collect()
}

fn column_row(objid: u32, c: &Column, system: bool) -> Vec<Value> {
    let mut r = row(objid, TYPE_COLUMN, u32::from(c.id), &c.spec.name);
    let size = match (c.spec.coltyp.fixed_size(), c.spec.coltyp.is_long()) {
        (Some(s), _) => s as i32,
        (None, false) => 255,
        (None, true) => 0,
    };
    r[col::COLTYP_OR_FDP] = Value::I32(c.spec.coltyp as i32);
    r[col::SPACE_USAGE] = Value::I32(size);
    let mut flags = 0;
    if c.spec.multi_valued {
        flags |= COLUMN_FLAG_MULTI;
    }
    if c.spec.compressed {
        flags |= COLUMN_FLAG_COMPRESSED;
    }
    if system && (c.id <= 7 || c.id == 128) {
        flags |= COLUMN_FLAG_NOT_NULL;
    }
    r[col::FLAGS] = Value::I32(flags);
    let code_page = if c.spec.coltyp.is_text() {
        i32::from(c.spec.code_page)
    } else if system {
        1252
    } else {
        0
    };
    r[col::PAGES_OR_LOCALE] = Value::I32(code_page);
    if let Placement::Fixed { offset, .. } = c.placement {
        r[col::RECORD_OFFSET] = Value::I16(offset as i16);
    }
    r
}

fn index_row(
    table_objid: u32,
    id: u32,
    name: &str,
    fdp: u32,
    flags: i32,
    keys: &[u16],
    locale: bool,
) -> Vec<Value> {
    let mut r = row(table_objid, TYPE_INDEX, id, name);
    r[col::COLTYP_OR_FDP] = Value::I32(fdp as i32);
    r[col::SPACE_USAGE] = Value::I32(80);
    r[col::FLAGS] = Value::I32(flags);
    r[col::PAGES_OR_LOCALE] = Value::I32(0);
    r[col::LCMAP_FLAGS] = Value::I32(LCMAP_FLAGS);
    r[col::KEY_MOST] = Value::U16(KEY_MOST);
    r[col::KEY_FLD_IDS] = Value::Bytes(key_fld_ids(keys));
    if locale {
        r[col::LOCALE_NAME] =
            Value::Bytes("en-US".encode_utf16().flat_map(u16::to_le_bytes).collect());
    }
    r
}

/// All catalog rows (unsorted; the caller sorts them by key).
pub(crate) fn catalog_rows(tables: &[PlacedTable], mso_indexes: &[PlacedIndex]) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    for t in tables {
        let mut r = row(t.objid, TYPE_TABLE, t.objid, &t.name);
        r[col::COLTYP_OR_FDP] = Value::I32(t.fdp as i32);
        r[col::SPACE_USAGE] = Value::I32(80);
        r[col::FLAGS] = Value::I32(if t.system { FLAGS_SYSTEM_TABLE } else { 0 });
        r[col::PAGES_OR_LOCALE] = Value::I32(t.pages as i32);
        r[col::ROOT_FLAG] = Value::Bit(true);
        rows.push(r);
        for c in &t.layout.columns {
            rows.push(column_row(t.objid, c, t.system));
        }
        if let Some(name) = &t.index_name {
            let mso = t.objid == OBJID_MSYSOBJECTS || t.objid == OBJID_MSYSOBJECTS_SHADOW;
            let flags = if mso {
                FLAGS_MSO_ID_INDEX
            } else {
                FLAGS_PRIMARY_INDEX
            };
            rows.push(index_row(
                t.objid,
                t.objid,
                name,
                t.fdp,
                flags,
                &t.key_columns,
                mso,
            ));
        }
        if t.objid == OBJID_MSYSOBJECTS {
            for ix in mso_indexes {
                rows.push(index_row(
                    t.objid,
                    ix.objid,
                    ix.name,
                    ix.fdp,
                    ix.flags,
                    &ix.key_columns,
                    true,
                ));
            }
        }
        if let Some((objid, fdp, pages)) = t.lv {
            let mut r = row(t.objid, TYPE_LONG_VALUE, objid, "LV");
            r[col::COLTYP_OR_FDP] = Value::I32(fdp as i32);
            r[col::SPACE_USAGE] = Value::I32(100);
            r[col::FLAGS] = Value::I32(0);
            r[col::PAGES_OR_LOCALE] = Value::I32(pages as i32);
            rows.push(r);
        }
    }
    rows
}

/// The two secondary indexes of MSysObjects, unplaced.
pub(crate) fn mso_indexes() -> Vec<PlacedIndex> {
    vec![
        PlacedIndex {
            objid: OBJID_NAME_INDEX,
            name: "Name",
            fdp: 0,
            flags: FLAGS_MSO_NAME_INDEX,
            key_columns: vec![1, 2, 128],
        },
        PlacedIndex {
            objid: OBJID_ROOTOBJECTS_INDEX,
            name: "RootObjects",
            fdp: 0,
            flags: FLAGS_MSO_ROOTOBJECTS_INDEX,
            key_columns: vec![8, 128],
        },
    ]
}

/// Positions (in the MSysObjects row) of the columns each secondary index
/// keys on; rows with a NULL key column are left out (ignore-NULL indexes).
pub(crate) fn mso_index_columns(objid: u32) -> &'static [usize] {
    if objid == OBJID_NAME_INDEX {
        &[col::OBJID_TABLE, col::TYPE, col::NAME]
    } else {
        &[col::ROOT_FLAG, col::NAME]
    }
}

/// MSysObjids: one row per object (objid, owning table, type).
pub(crate) fn msysobjids_table(objects: &[(u32, u32, i16)]) -> TableSpec {
    TableSpec {
        name: "MSysObjids".into(),
        columns: vec![
            ColumnSpec::new("objid", ColumnType::Long).tagged(),
            ColumnSpec::new("objidTable", ColumnType::Long).tagged(),
            ColumnSpec::new("type", ColumnType::Short).tagged(),
        ],
        primary_key: vec!["objid".into()],
        rows: objects
            .iter()
            .map(|(o, t, k)| vec![Value::I32(*o as i32), Value::I32(*t as i32), Value::I16(*k)])
            .collect(),
    }
}
