//! A writer of ESE (JET Blue) database files: a clean-shutdown database
//! with the system tables (MSysObjects and its Name/RootObjects indexes,
//! MSysObjectsShadow, MSysObjids), space trees, and user tables with fixed,
//! variable and tagged columns, multi-valued columns, separated long values
//! and compressed long-value columns, at 4/8/16/32 KiB pages.
//!
//! Layout rules follow `../shared/docs/formats/ese.md` and the MIT-licensed
//! engine source; libesedb (`esedbinfo`/`esedbexport`) and dissect.esedb
//! read the output (`tests/ese_writer_roundtrip.rs`, `tests/exchange_edb.rs`).
//! The writer bulk-loads: every object owns one contiguous extent
//! `[root, owned-space tree, available-space tree, child objects' extents,
//! own pages]` with no free pages (empty available-space tree), except
//! MSysObjects and MSysObjectsShadow, whose first extents are fixed as the
//! engine creates them (pages 4–23 and 24–28, where libesedb looks for the
//! catalog and its backup): unused pages there stay zero and are listed as
//! available; pages that do not fit go to a second extent at the end.
//!
//! Not written: secondary indexes of user tables, LID64 long-value keys,
//! Xpress9/10 and LZ4 compression, default values, template tables,
//! MSysLocales, log files.

mod btree;
mod catalog;
mod compression;
mod header;
mod key;
mod long_value;
mod page;
mod record;
mod schema;

pub use schema::{ColumnSpec, ColumnType, DatabaseSpec, TableSpec, Value};

use btree::{TreeKind, TreePlan, root_header, space_pages};
use catalog::{PlacedIndex, PlacedTable};
use long_value::LongValues;
use page::{Geometry, Node, PageHeader, build_page, flags};
use record::Layout;

/// Why a database could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The tables, columns or values are inconsistent.
    #[error("schema: {0}")]
    Schema(String),
    /// A row's record does not fit a page.
    #[error(
        "table {table}, row {row}: record of {size} bytes does not fit a {page_size}-byte page"
    )]
    RecordTooLarge {
        /// Table name.
        table: String,
        /// Row index.
        row: usize,
        /// Encoded record size.
        size: usize,
        /// Page size.
        page_size: usize,
    },
    /// Two rows have the same primary key.
    #[error("table {table}: rows {first} and {second} have the same primary key")]
    DuplicateKey {
        /// Table name.
        table: String,
        /// First row index.
        first: usize,
        /// Second row index.
        second: usize,
    },
    /// A B+ tree node does not fit an empty page.
    #[error("node of {size} bytes does not fit a {page_size}-byte page")]
    NodeTooLarge {
        /// Encoded node size.
        size: usize,
        /// Page size.
        page_size: usize,
    },
    /// Page size other than 4, 8, 16 or 32 KiB.
    #[error("unsupported page size {0} (use 4096, 8192, 16384 or 32768)")]
    PageSize(u32),
}

/// First extent of MSysObjects (pages 4..=23) and MSysObjectsShadow
/// (24..=28), as the engine creates them.
const MSO_RESERVE: u32 = 20;
const SHADOW_RESERVE: u32 = 5;
/// Longest normalized key (`JET_cbKeyMost_OLD`); the engine would truncate
/// longer ones, which this writer refuses instead.
const KEY_MOST: usize = 255;

/// A table encoded into sorted nodes.
struct Encoded {
    name: String,
    layout: Layout,
    key_columns: Vec<u16>,
    index_name: Option<String>,
    nodes: Vec<Node>,
    lvs: LongValues,
}

fn encode_table(g: Geometry, spec: &TableSpec, index_name: &str) -> Result<Encoded, WriteError> {
    let layout = Layout::new(spec)?;
    let mut key_pos = Vec::with_capacity(spec.primary_key.len());
    for k in &spec.primary_key {
        let pos = spec
            .columns
            .iter()
            .position(|c| &c.name == k)
            .ok_or_else(|| {
                WriteError::Schema(format!("table {}: key column {k} not defined", spec.name))
            })?;
        if spec.columns[pos].multi_valued {
            return Err(WriteError::Schema(format!(
                "table {}: key column {k} is multi-valued",
                spec.name
            )));
        }
        key_pos.push(pos);
    }
    let mut lvs = LongValues::default();
    let mut keyed: Vec<(Vec<u8>, usize, Vec<u8>)> = Vec::with_capacity(spec.rows.len());
    // Records must leave room for the key, the page prefix and two tags.
    let max_record = g.body_len() - 16 - 8 - 2 - 255;
    for (i, row) in spec.rows.iter().enumerate() {
        if row.len() != spec.columns.len() {
            return Err(WriteError::Schema(format!(
                "table {}, row {i}: {} values for {} columns",
                spec.name,
                row.len(),
                spec.columns.len()
            )));
        }
        let key = if key_pos.is_empty() {
            (i as u32 + 1).to_be_bytes().to_vec()
        } else {
            let mut key = Vec::new();
            for &p in &key_pos {
                let c = &spec.columns[p];
                key::push_segment(&mut key, c.coltyp, &row[p], &c.name)?;
            }
            if key.len() > KEY_MOST {
                return Err(WriteError::Schema(format!(
                    "table {}, row {i}: normalized key of {} bytes exceeds {KEY_MOST}",
                    spec.name,
                    key.len()
                )));
            }
            key
        };
        let rec = record::encode_record(g, &layout, row, &mut lvs)?;
        if rec.len() > max_record {
            return Err(WriteError::RecordTooLarge {
                table: spec.name.clone(),
                row: i,
                size: rec.len(),
                page_size: g.size,
            });
        }
        keyed.push((key, i, rec));
    }
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = keyed.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(WriteError::DuplicateKey {
            table: spec.name.clone(),
            first: w[0].1,
            second: w[1].1,
        });
    }
    let key_columns = key_pos.iter().map(|&p| layout.columns[p].id).collect();
    Ok(Encoded {
        name: spec.name.clone(),
        layout,
        key_columns,
        index_name: (!key_pos.is_empty()).then(|| index_name.to_owned()),
        nodes: keyed
            .into_iter()
            .map(|(key, _, data)| Node { key, data })
            .collect(),
        lvs,
    })
}

/// A B+ tree object with the objects whose space it owns.
struct Object {
    objid: u32,
    kind: TreeKind,
    plan: TreePlan,
    children: Vec<Object>,
    /// Size of the first extent when the engine fixes it (MSysObjects: 20
    /// pages at 4, MSysObjectsShadow: 5 pages at 24); pages that do not fit
    /// go to a second extent, unused ones stay free.
    reserve: Option<u32>,
}

/// Page numbers given to an object.
struct Alloc {
    children: Vec<u32>,
    own: Vec<u32>,
    owned: Vec<(u32, u32)>,
    free: Vec<(u32, u32)>,
    primary_len: u32,
    overflow_len: u32,
}

impl Object {
    /// Pages the object needs: root, two space-tree roots, children, own pages.
    fn natural(&self) -> u32 {
        3 + self.plan.non_root_pages() as u32
            + self.children.iter().map(Object::natural).sum::<u32>()
    }

    /// Places the object's first extent at `first` and anything that does
    /// not fit its reserve at `overflow_first`.
    fn allocate(&self, first: u32, overflow_first: u32) -> Alloc {
        let primary_len = self.reserve.unwrap_or_else(|| self.natural());
        let end = first + primary_len;
        let (mut cursor, mut spill) = (first + 3, overflow_first);
        let mut take = |len: u32| {
            if cursor + len <= end {
                cursor += len;
                cursor - len
            } else {
                spill += len;
                spill - len
            }
        };
        let children = self.children.iter().map(|c| take(c.natural())).collect();
        let own = (0..self.plan.non_root_pages()).map(|_| take(1)).collect();
        let mut owned = vec![(first, end - 1)];
        if spill > overflow_first {
            owned.push((overflow_first, spill - 1));
        }
        let free = if cursor < end {
            vec![(cursor, end - 1)]
        } else {
            Vec::new()
        };
        Alloc {
            children,
            own,
            owned,
            free,
            primary_len,
            overflow_len: spill - overflow_first,
        }
    }

    /// Emits the object's pages (zero pages for its free ones).
    fn emit(
        self,
        g: Geometry,
        first: u32,
        overflow_first: u32,
        parent_fdp: u32,
        dbtime: u64,
        out: &mut Vec<(u32, Vec<u8>)>,
    ) {
        let alloc = self.allocate(first, overflow_first);
        for (child, at) in self.children.into_iter().zip(&alloc.children) {
            child.emit(g, *at, 0, first, dbtime, out);
        }
        for &(a, b) in &alloc.free {
            out.extend((a..=b).map(|p| (p, vec![0u8; g.size])));
        }
        out.extend(space_pages(
            g,
            self.objid,
            self.kind,
            first + 1,
            &alloc.owned,
            &alloc.free,
            dbtime,
        ));
        let header = root_header(alloc.primary_len, parent_fdp, first + 1);
        out.extend(
            self.plan
                .emit(g, self.objid, first, &alloc.own, &header, dbtime),
        );
    }
}

/// JET log time (`sec, min, hour, day, month, year-1900`) of a Unix instant.
fn log_time(unix: i64) -> [u8; 8] {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    [
        (secs % 60) as u8,
        (secs / 60 % 60) as u8,
        (secs / 3600) as u8,
        day as u8,
        month as u8,
        (year - 1900).clamp(0, 255) as u8,
        0,
        0,
    ]
}

/// Catalog trees for a given placement: MSysObjects records and its two
/// secondary indexes' entries.
fn catalog_trees(
    g: Geometry,
    tables: &[PlacedTable],
    indexes: &[PlacedIndex],
) -> Result<(Encoded, Vec<Vec<Node>>), WriteError> {
    let rows = catalog::catalog_rows(tables, indexes);
    let spec = TableSpec {
        name: "MSysObjects".into(),
        columns: catalog::msysobjects_columns(),
        primary_key: catalog::MSO_KEY.iter().map(|s| (*s).to_owned()).collect(),
        rows,
    };
    let enc = encode_table(g, &spec, "Id")?;
    let mut index_nodes = Vec::new();
    for ix in indexes {
        let cols = catalog::mso_index_columns(ix.objid);
        let mut nodes = Vec::new();
        for row in &spec.rows {
            if cols.iter().any(|&c| row[c] == Value::Null) {
                continue;
            }
            let mut key = Vec::new();
            for &c in cols {
                key::push_segment(
                    &mut key,
                    spec.columns[c].coltyp,
                    &row[c],
                    &spec.columns[c].name,
                )?;
            }
            let mut primary = Vec::new();
            for k in catalog::MSO_KEY {
                let c = spec
                    .columns
                    .iter()
                    .position(|s| s.name == k)
                    .expect("MSysObjects key column");
                key::push_segment(&mut primary, spec.columns[c].coltyp, &row[c], k)?;
            }
            nodes.push(Node { key, data: primary });
        }
        nodes.sort_by(|a, b| a.key.cmp(&b.key));
        index_nodes.push(nodes);
    }
    Ok((enc, index_nodes))
}

/// Writes the database described by `spec` and returns the file's bytes.
pub fn write_database(spec: &DatabaseSpec) -> Result<Vec<u8>, WriteError> {
    if !matches!(spec.page_size, 4096 | 8192 | 16384 | 32768) {
        return Err(WriteError::PageSize(spec.page_size));
    }
    let g = Geometry {
        size: spec.page_size as usize,
    };
    let mut seen = std::collections::HashSet::new();
    for t in &spec.tables {
        if !seen.insert(t.name.to_ascii_uppercase())
            || t.name.starts_with("MSys")
            || !t.name.is_ascii()
        {
            return Err(WriteError::Schema(format!(
                "table name {:?} is reserved, repeated or not ASCII",
                t.name
            )));
        }
    }
    // User tables: records first (LV trees exist only if a value was separated).
    let mut user = Vec::new();
    let mut next_objid = catalog::FIRST_USER_OBJID;
    let mut objids = vec![
        (
            catalog::OBJID_MSYSOBJECTS,
            catalog::OBJID_MSYSOBJECTS,
            catalog::TYPE_TABLE,
        ),
        (
            catalog::OBJID_MSYSOBJECTS_SHADOW,
            catalog::OBJID_MSYSOBJECTS_SHADOW,
            catalog::TYPE_TABLE,
        ),
        (
            catalog::OBJID_NAME_INDEX,
            catalog::OBJID_MSYSOBJECTS,
            catalog::TYPE_INDEX,
        ),
        (
            catalog::OBJID_ROOTOBJECTS_INDEX,
            catalog::OBJID_MSYSOBJECTS,
            catalog::TYPE_INDEX,
        ),
        (
            catalog::OBJID_MSYSOBJIDS,
            catalog::OBJID_MSYSOBJIDS,
            catalog::TYPE_TABLE,
        ),
    ];
    for t in &spec.tables {
        let enc = encode_table(g, t, "primary")?;
        let objid = next_objid;
        objids.push((objid, objid, catalog::TYPE_TABLE));
        let lv_objid = (!enc.lvs.is_empty()).then(|| {
            objids.push((objid + 1, objid, catalog::TYPE_LONG_VALUE));
            objid + 1
        });
        next_objid += 1 + u32::from(lv_objid.is_some());
        user.push((objid, lv_objid, enc));
    }
    let last_objid = next_objid - 1;
    let objids_enc = encode_table(g, &catalog::msysobjids_table(&objids), "primary")?;

    // Plans of everything but the catalog; their sizes fix the placement.
    let mut user_objects = Vec::new();
    for (objid, lv_objid, enc) in &user {
        let mut children = Vec::new();
        if let Some(lv) = lv_objid {
            children.push(Object {
                objid: *lv,
                kind: TreeKind::LongValue,
                plan: TreePlan::new(g, TreeKind::LongValue, enc.lvs.nodes(g))?,
                children: Vec::new(),
                reserve: None,
            });
        }
        user_objects.push(Object {
            objid: *objid,
            kind: TreeKind::Table,
            plan: TreePlan::new(g, TreeKind::Table, enc.nodes.clone())?,
            children,
            reserve: None,
        });
    }
    let objids_object = Object {
        objid: catalog::OBJID_MSYSOBJIDS,
        kind: TreeKind::Table,
        plan: TreePlan::new(g, TreeKind::Table, objids_enc.nodes.clone())?,
        children: Vec::new(),
        reserve: None,
    };

    // The catalog's size does not depend on the page numbers it records
    // (all fixed-width), so plan it once with zeros, place, then rebuild.
    let system_layout = Layout::new(&TableSpec {
        name: "MSysObjects".into(),
        columns: catalog::msysobjects_columns(),
        primary_key: Vec::new(),
        rows: Vec::new(),
    })?;
    let placed = |fdps: &[(u32, u32)], lv_fdps: &[(u32, u32)]| -> Vec<PlacedTable> {
        let mut tables = vec![
            PlacedTable {
                objid: catalog::OBJID_MSYSOBJECTS,
                name: "MSysObjects".into(),
                fdp: fdps[0].0,
                pages: fdps[0].1,
                system: true,
                layout: system_layout.clone(),
                key_columns: vec![1, 2, 3],
                index_name: Some("Id".into()),
                lv: None,
            },
            PlacedTable {
                objid: catalog::OBJID_MSYSOBJECTS_SHADOW,
                name: "MSysObjectsShadow".into(),
                fdp: fdps[1].0,
                pages: fdps[1].1,
                system: true,
                layout: system_layout.clone(),
                key_columns: Vec::new(),
                index_name: None,
                lv: None,
            },
            PlacedTable {
                objid: catalog::OBJID_MSYSOBJIDS,
                name: "MSysObjids".into(),
                fdp: fdps[2].0,
                pages: fdps[2].1,
                system: true,
                layout: objids_enc.layout.clone(),
                key_columns: objids_enc.key_columns.clone(),
                index_name: objids_enc.index_name.clone(),
                lv: None,
            },
        ];
        for (i, (objid, lv_objid, enc)) in user.iter().enumerate() {
            tables.push(PlacedTable {
                objid: *objid,
                name: enc.name.clone(),
                fdp: fdps[3 + i].0,
                pages: fdps[3 + i].1,
                system: false,
                layout: enc.layout.clone(),
                key_columns: enc.key_columns.clone(),
                index_name: enc.index_name.clone(),
                lv: lv_objid.map(|o| (o, lv_fdps[i].0, lv_fdps[i].1)),
            });
        }
        tables
    };
    let n_tables = 3 + user.len();
    let zeros = vec![(0, 0); n_tables];
    let (draft, draft_ix) = catalog_trees(g, &placed(&zeros, &zeros), &catalog::mso_indexes())?;
    let ix_plans = draft_ix
        .into_iter()
        .map(|n| TreePlan::new(g, TreeKind::Index, n))
        .collect::<Result<Vec<_>, _>>()?;
    let draft_object = |reserve: u32| -> Result<Object, WriteError> {
        Ok(Object {
            objid: catalog::OBJID_MSYSOBJECTS,
            kind: TreeKind::Table,
            plan: TreePlan::new(g, TreeKind::Table, draft.nodes.clone())?,
            children: Vec::new(),
            reserve: Some(reserve),
        })
    };
    let mut mso_draft = draft_object(MSO_RESERVE)?;
    mso_draft.children = ix_plans
        .into_iter()
        .zip(catalog::mso_indexes())
        .map(|(plan, ix)| Object {
            objid: ix.objid,
            kind: TreeKind::Index,
            plan,
            children: Vec::new(),
            reserve: None,
        })
        .collect();
    let shadow_draft = draft_object(SHADOW_RESERVE)?;

    // Placement: 1 database root, 2/3 its space trees, 4 MSysObjects,
    // 24 MSysObjectsShadow (libesedb reads the backup catalog there),
    // MSysObjids, user tables, then the catalog's overflow extents.
    let mso_fdp = 4;
    let shadow_fdp = mso_fdp + MSO_RESERVE;
    let objids_fdp = shadow_fdp + SHADOW_RESERVE;
    let mut pos = objids_fdp + objids_object.natural();
    let mut fdps = vec![
        (mso_fdp, MSO_RESERVE),
        (shadow_fdp, SHADOW_RESERVE),
        (objids_fdp, objids_object.natural()),
    ];
    let mut lv_fdps = Vec::new();
    for o in &user_objects {
        fdps.push((pos, o.natural()));
        lv_fdps.push(
            o.children
                .first()
                .map_or((0, 0), |lv| (pos + 3, lv.natural())),
        );
        pos += o.natural();
    }
    let mso_overflow = pos;
    let mso_alloc = mso_draft.allocate(mso_fdp, mso_overflow);
    let shadow_overflow = mso_overflow + mso_alloc.overflow_len;
    let shadow_alloc = shadow_draft.allocate(shadow_fdp, shadow_overflow);
    let total_pages = shadow_overflow + shadow_alloc.overflow_len - 1;
    let mut indexes = catalog::mso_indexes();
    for (ix, at) in indexes.iter_mut().zip(&mso_alloc.children) {
        ix.fdp = *at;
    }

    let tables = placed(&fdps, &lv_fdps);
    let (catalog_enc, ix_nodes) = catalog_trees(g, &tables, &indexes)?;
    let mso_plan = TreePlan::new(g, TreeKind::Table, catalog_enc.nodes.clone())?;
    let shadow_plan = TreePlan::new(g, TreeKind::Table, catalog_enc.nodes)?;
    let ix_objects = indexes
        .iter()
        .zip(ix_nodes)
        .map(|(ix, nodes)| {
            Ok(Object {
                objid: ix.objid,
                kind: TreeKind::Index,
                plan: TreePlan::new(g, TreeKind::Index, nodes)?,
                children: Vec::new(),
                reserve: None,
            })
        })
        .collect::<Result<Vec<_>, WriteError>>()?;
    let mso_object = Object {
        objid: catalog::OBJID_MSYSOBJECTS,
        kind: TreeKind::Table,
        plan: mso_plan,
        children: ix_objects,
        reserve: Some(MSO_RESERVE),
    };
    let shadow_object = Object {
        objid: catalog::OBJID_MSYSOBJECTS_SHADOW,
        kind: TreeKind::Table,
        plan: shadow_plan,
        children: Vec::new(),
        reserve: Some(SHADOW_RESERVE),
    };
    if mso_object.natural() != mso_draft.natural()
        || shadow_object.natural() != shadow_draft.natural()
    {
        return Err(WriteError::Schema(
            "catalog size changed between layout passes".into(),
        ));
    }

    // Emit every page.
    let dbtime = 0x1000;
    let mut pages: Vec<(u32, Vec<u8>)> = Vec::with_capacity(total_pages as usize);
    let db_root = PageHeader {
        pgno: 1,
        objid: catalog::OBJID_DATABASE,
        prev: 0,
        next: 0,
        flags: flags::COMMON | flags::ROOT | flags::LEAF,
        dbtime,
    };
    pages.push((
        1,
        build_page(g, &db_root, &root_header(total_pages, 0, 2), &[], 0),
    ));
    pages.extend(space_pages(
        g,
        catalog::OBJID_DATABASE,
        TreeKind::Table,
        2,
        &[(1, total_pages)],
        &[],
        dbtime,
    ));
    mso_object.emit(g, mso_fdp, mso_overflow, 1, dbtime, &mut pages);
    shadow_object.emit(g, shadow_fdp, shadow_overflow, 1, dbtime, &mut pages);
    objids_object.emit(g, objids_fdp, 0, 1, dbtime, &mut pages);
    for (o, (fdp, _)) in user_objects.into_iter().zip(&fdps[3..]) {
        o.emit(g, *fdp, 0, 1, dbtime, &mut pages);
    }
    pages.sort_by_key(|p| p.0);
    if pages.len() != total_pages as usize
        || pages.iter().enumerate().any(|(i, p)| p.0 != i as u32 + 1)
    {
        return Err(WriteError::Schema(
            "page layout has gaps or overlaps".into(),
        ));
    }
    let info = header::HeaderInfo {
        page_size: spec.page_size,
        dbtime: dbtime + 1,
        signature_random: spec.signature,
        log_time: log_time(spec.created_unix),
        last_objid,
    };
    let head = header::header_page(&info);
    let mut file = Vec::with_capacity(g.size * (total_pages as usize + 2));
    file.extend_from_slice(&head);
    file.extend_from_slice(&head);
    for (_, p) in pages {
        file.extend_from_slice(&p);
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(columns: Vec<ColumnSpec>, key: &[&str], rows: Vec<Vec<Value>>) -> DatabaseSpec {
        DatabaseSpec {
            page_size: 8192,
            signature: 3,
            created_unix: 1_790_000_000,
            tables: vec![TableSpec {
                name: "T".into(),
                columns,
                primary_key: key.iter().map(|s| (*s).to_owned()).collect(),
                rows,
            }],
        }
    }

    #[test]
    fn rejects_bad_input_with_context() {
        let id = || ColumnSpec::new("id", ColumnType::Long);
        let dup = table(
            vec![id()],
            &["id"],
            vec![vec![Value::I32(1)], vec![Value::I32(1)]],
        );
        assert!(matches!(
            write_database(&dup),
            Err(WriteError::DuplicateKey {
                first: 0,
                second: 1,
                ..
            })
        ));
        let wrong = table(vec![id()], &[], vec![vec![Value::Text("x".into())]]);
        assert!(matches!(write_database(&wrong), Err(WriteError::Schema(m)) if m.contains("id")));
        let long = table(
            vec![ColumnSpec::new("t", ColumnType::Text)],
            &[],
            vec![vec![Value::Text("x".repeat(200))]],
        );
        assert!(matches!(write_database(&long), Err(WriteError::Schema(m)) if m.contains("255")));
        let big = table(
            (0..40)
                .map(|i| ColumnSpec::new(&format!("b{i}"), ColumnType::Binary))
                .collect(),
            &[],
            vec![(0..40).map(|_| Value::Bytes(vec![1; 250])).collect()],
        );
        assert!(matches!(
            write_database(&big),
            Err(WriteError::RecordTooLarge { row: 0, .. })
        ));
        let mut odd = table(vec![id()], &[], Vec::new());
        odd.page_size = 5000;
        assert!(matches!(
            write_database(&odd),
            Err(WriteError::PageSize(5000))
        ));
        let cp = table(
            vec![ColumnSpec::new("t", ColumnType::Text).ansi()],
            &[],
            vec![vec![Value::Text("中".into())]],
        );
        assert!(matches!(write_database(&cp), Err(WriteError::Schema(m)) if m.contains("1252")));
        let long_key = table(
            vec![ColumnSpec::new("k", ColumnType::Binary)],
            &["k"],
            vec![vec![Value::Bytes(vec![7; 240])]],
        );
        assert!(
            matches!(write_database(&long_key), Err(WriteError::Schema(m)) if m.contains("key"))
        );
        let reserved = DatabaseSpec {
            tables: vec![TableSpec {
                name: "MSysFoo".into(),
                ..dup.tables[0].clone()
            }],
            ..dup
        };
        assert!(matches!(
            write_database(&reserved),
            Err(WriteError::Schema(_))
        ));
    }

    /// Keys of the nodes on a page, decoded independently of the writer's
    /// encoder (tags at the page end, flags per page size, tag-0 prefix).
    fn page_keys(g: Geometry, p: &[u8], root: bool) -> Vec<Vec<u8>> {
        let hl = g.header_len();
        let count = usize::from(u16::from_le_bytes([p[34], p[35]]) & 0xfff);
        let mask = if g.large() { 0x7fff } else { 0x1fff };
        let tag = |i: usize| {
            let at = g.size - 4 * (i + 1);
            let cb = usize::from(u16::from_le_bytes([p[at], p[at + 1]]) & mask);
            let raw_ib = u16::from_le_bytes([p[at + 2], p[at + 3]]);
            let ib = usize::from(raw_ib & mask);
            (&p[hl + ib..hl + ib + cb], raw_ib >> 13)
        };
        let prefix = if root { &[][..] } else { tag(0).0 };
        (1..count)
            .map(|i| {
                let (node, tag_flags) = tag(i);
                let first = u16::from_le_bytes([node[0], node[1]]);
                let flags = if g.large() { first >> 13 } else { tag_flags };
                if flags & page::NODE_COMPRESSED != 0 {
                    let cb_prefix = usize::from(first & 0x1fff);
                    let cb_suffix = usize::from(u16::from_le_bytes([node[2], node[3]]));
                    let mut k = prefix[..cb_prefix].to_vec();
                    k.extend_from_slice(&node[4..4 + cb_suffix]);
                    k
                } else {
                    node[2..2 + usize::from(first & 0x1fff)].to_vec()
                }
            })
            .collect()
    }

    /// Page-level invariants on a file with multi-level trees: header and
    /// shadow agree, every page is sealed, objids and sibling links are
    /// consistent, keys on every page are sorted.
    #[test]
    fn layout_invariants() {
        for ps in [8192u32, 32768] {
            let rows = (0..4000)
                .map(|i| vec![Value::I32(i), Value::Bytes(vec![i as u8; 60])])
                .collect();
            let mut spec = table(
                vec![
                    ColumnSpec::new("id", ColumnType::Long),
                    ColumnSpec::new("b", ColumnType::Binary),
                ],
                &["id"],
                rows,
            );
            spec.page_size = ps;
            let file = write_database(&spec).expect("write");
            let g = Geometry { size: ps as usize };
            assert_eq!(file[..g.size], file[g.size..2 * g.size], "shadow header");
            assert_eq!(file.len() % g.size, 0);
            let pages = file.len() / g.size - 2;
            let page = |n: usize| &file[(n + 1) * g.size..(n + 2) * g.size];
            let mut leaves = 0;
            for n in 1..=pages {
                let p = page(n);
                let fl = u32::from_le_bytes(p[36..40].try_into().expect("4"));
                if fl == 0 {
                    continue; // free page
                }
                let mut copy = p.to_vec();
                kairos_ese::checksum::seal_page(&mut copy, n as u32);
                assert_eq!(copy, p, "checksum of page {n}");
                let next = u32::from_le_bytes(p[20..24].try_into().expect("4")) as usize;
                if next != 0 {
                    let back =
                        u32::from_le_bytes(page(next)[16..20].try_into().expect("4")) as usize;
                    assert_eq!(back, n, "prev link of page {next}");
                    assert_eq!(page(next)[24..28], p[24..28], "siblings share the objid");
                }
                if fl & page::flags::LEAF != 0 && fl & page::flags::ROOT == 0 {
                    leaves += 1;
                }
                let keys = page_keys(g, p, fl & page::flags::ROOT != 0);
                let sorted = keys.iter().filter(|k| !k.is_empty()).collect::<Vec<_>>();
                assert!(
                    sorted.windows(2).all(|w| w[0] < w[1]),
                    "keys of page {n} not ascending"
                );
            }
            assert!(leaves > 2, "expected a multi-page tree at {ps}");
        }
    }
}
