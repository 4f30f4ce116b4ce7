//! User tables assembled from the catalog: columns with their physical
//! layout, partitions with their allocation units, indexes, and the
//! `CREATE TABLE` text.

use std::fmt::Write as _;

use crate::catalog::{AllocUnit, AllocUnitType, Catalog, IndexDef};
use crate::collation::CodePage;
use crate::row::Layout;
use crate::types::SqlType;

/// `syscolpars.status` bits.
const COL_NULLABLE_OFF: u32 = 0x1;
const COL_IDENTITY: u32 = 0x4;
const COL_COMPUTED: u32 = 0x10;
/// `sysrscols.status` bit of a dropped column.
const RSCOL_DROPPED: u32 = 0x2;
/// `sysidxstats.status` bits [I]: unique index, primary key constraint.
const IDX_UNIQUE: u32 = 0x8;
const IDX_PRIMARY_KEY: u32 = 0x20;

/// A column of a user table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name.
    pub name: String,
    /// `syscolpars.colid`.
    pub colid: i32,
    /// Type.
    pub ty: SqlType,
    /// NULL allowed.
    pub nullable: bool,
    /// IDENTITY column.
    pub identity: bool,
    /// Computed column (not stored unless persisted).
    pub computed: bool,
    /// Code page of character data.
    pub code_page: CodePage,
    /// Where the value is in a record; `None` when not stored (computed).
    pub layout: Option<Layout>,
}

/// One partition's data: rowset and its in-row allocation unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// `sysrowsets.rowsetid`.
    pub rowset: i64,
    /// The in-row allocation unit (heap or clustered leaf pages).
    pub in_row: Option<AllocUnit>,
    /// Every allocation unit of the rowset (in-row, LOB, row-overflow).
    pub units: Vec<AllocUnit>,
    /// Catalog row count (`rcrows`, may be stale).
    pub cached_rows: i64,
    /// True for a clustered index (leaf chain), false for a heap.
    pub clustered: bool,
    /// `cmprlevel`.
    pub compression: u8,
}

/// An index definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// Name.
    pub name: String,
    /// 1 clustered, 2+ non-clustered.
    pub index_id: i32,
    /// Clustered.
    pub clustered: bool,
    /// Unique.
    pub unique: bool,
    /// Backs the PRIMARY KEY constraint.
    pub primary_key: bool,
    /// Key column names in order.
    pub columns: Vec<String>,
}

/// A user table.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Object id.
    pub object_id: i32,
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Columns in `colid` order.
    pub columns: Vec<Column>,
    /// Partitions of the heap or clustered index.
    pub partitions: Vec<Partition>,
    /// Indexes (clustered and non-clustered).
    pub indexes: Vec<Index>,
    /// Things the reader could not represent (unsupported types,
    /// compression, unknown collations).
    pub warnings: Vec<String>,
}

impl Table {
    /// Builds table `object_id` from the catalog.
    pub(crate) fn from_catalog(
        cat: &Catalog,
        object_id: i32,
        schema: String,
        name: String,
    ) -> Table {
        let mut warnings = Vec::new();
        let mut partitions: Vec<Partition> = cat
            .rowsets
            .iter()
            .filter(|r| r.object_id == object_id && (r.index_id == 0 || r.index_id == 1))
            .map(|r| Partition {
                rowset: r.id,
                in_row: cat.in_row_unit(r.id).cloned(),
                units: cat
                    .alloc_units
                    .iter()
                    .filter(|a| a.owner == r.id)
                    .cloned()
                    .collect(),
                cached_rows: r.cached_rows,
                clustered: r.index_id == 1,
                compression: r.compression,
            })
            .collect();
        partitions.sort_by_key(|p| p.rowset);
        let rscols = partitions
            .first()
            .and_then(|p| cat.rscols.get(&p.rowset))
            .cloned()
            .unwrap_or_default();
        let columns: Vec<Column> = cat
            .columns
            .get(&object_id)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let (code_page, known) = CodePage::from_collation(c.collation);
                let is_char = matches!(c.ty, SqlType::Char(_) | SqlType::VarChar(_) | SqlType::Text);
                if is_char && !known {
                    warnings.push(format!(
                        "column {}: collation {:#x} has no known code page; decoded as Windows-1252",
                        c.name, c.collation
                    ));
                }
                if let SqlType::Unknown(x) = c.ty {
                    warnings.push(format!("column {}: system type {x} is not supported yet", c.name));
                }
                if c.ty == SqlType::Xml {
                    warnings.push(format!(
                        "column {}: xml is stored in binary XML; values in that form are reported as errors (not supported yet)",
                        c.name
                    ));
                }
                let layout = rscols
                    .iter()
                    .find(|r| r.rscolid == c.colid && r.status & RSCOL_DROPPED == 0)
                    .map(|r| Layout {
                        ty: c.ty,
                        leaf_offset: r.leaf_offset,
                        null_bit: r.null_bit,
                        bit_pos: r.bit_pos,
                        code_page,
                    });
                let computed = c.status & COL_COMPUTED != 0;
                if layout.is_none() && !computed {
                    warnings.push(format!("column {}: no physical layout in sysrscols", c.name));
                }
                Column {
                    name: c.name.clone(),
                    colid: c.colid,
                    ty: c.ty,
                    nullable: c.status & COL_NULLABLE_OFF == 0,
                    identity: c.status & COL_IDENTITY != 0,
                    computed,
                    code_page,
                    layout,
                }
            })
            .collect();
        for p in &partitions {
            match p.compression {
                0 => {}
                1 | 2 => warnings.push(format!(
                    "{} compression is not supported yet: rows cannot be decoded",
                    if p.compression == 1 { "ROW" } else { "PAGE" }
                )),
                c => warnings.push(format!(
                    "compression level {c} (columnstore) is not supported yet: rows cannot be decoded"
                )),
            }
            if p.units
                .iter()
                .any(|u| matches!(u.kind, AllocUnitType::Other(_)))
            {
                warnings.push("an allocation unit of unknown type is ignored".into());
            }
        }
        let indexes = cat
            .indexes
            .iter()
            .filter(|i| i.object_id == object_id && i.index_id >= 1 && !i.name.is_empty())
            .map(|i| index_from(i, &columns))
            .collect();
        if cat
            .indexes
            .iter()
            .any(|i| i.object_id == object_id && matches!(i.kind, 5 | 6))
        {
            warnings
                .push("columnstore index present: its data is not read (not supported yet)".into());
        }
        Table {
            object_id,
            schema,
            name,
            columns,
            partitions,
            indexes,
            warnings,
        }
    }

    /// `schema.name`.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// True when rows are stored compressed (not decoded yet).
    pub fn is_compressed(&self) -> bool {
        self.partitions.iter().any(|p| p.compression != 0)
    }

    /// The catalog's cached row count (sum over partitions; may be stale).
    pub fn cached_rows(&self) -> i64 {
        self.partitions.iter().map(|p| p.cached_rows).sum()
    }

    /// `CREATE TABLE` text with the original column types, NULL-ability
    /// and primary key; identity columns are marked in a comment (seed and
    /// increment are not read yet).
    pub fn create_table_sql(&self, name_override: Option<&str>) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "CREATE TABLE {} (", self.sql_name(name_override));
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mut l = format!("    {} {}", quote_ident(&c.name), c.ty.ddl());
                l.push_str(if c.nullable { " NULL" } else { " NOT NULL" });
                if c.identity {
                    l.push_str(" /* IDENTITY */");
                }
                if c.computed {
                    l.push_str(" /* computed column, stored values only */");
                }
                l
            })
            .collect();
        if let Some(pk) = self
            .indexes
            .iter()
            .find(|i| i.primary_key && !i.columns.is_empty())
        {
            let cols: Vec<String> = pk.columns.iter().map(|c| quote_ident(c)).collect();
            lines.push(format!(
                "    CONSTRAINT {} PRIMARY KEY {} ({})",
                quote_ident(&pk.name),
                if pk.clustered {
                    "CLUSTERED"
                } else {
                    "NONCLUSTERED"
                },
                cols.join(", ")
            ));
        }
        s.push_str(&lines.join(",\n"));
        s.push_str("\n);\n");
        s
    }

    /// `[schema].[name]`, or the given override (used as written).
    pub fn sql_name(&self, name_override: Option<&str>) -> String {
        match name_override {
            Some(n) => n.to_owned(),
            None => format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name)),
        }
    }
}

fn index_from(i: &IndexDef, columns: &[Column]) -> Index {
    Index {
        name: i.name.clone(),
        index_id: i.index_id,
        clustered: i.index_id == 1,
        unique: i.status & IDX_UNIQUE != 0,
        primary_key: i.status & IDX_PRIMARY_KEY != 0,
        columns: i
            .key_columns
            .iter()
            .filter_map(|id| {
                columns
                    .iter()
                    .find(|c| c.colid == *id)
                    .map(|c| c.name.clone())
            })
            .collect(),
    }
}

/// `[name]` with `]` doubled, SQL Server's delimited identifier.
pub fn quote_ident(name: &str) -> String {
    format!("[{}]", name.replace(']', "]]"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ColPar, IndexDef, Rowset, RsCol};

    /// A one-column table whose only partition has compression `level`.
    fn catalog(level: u8) -> Catalog {
        let mut cat = Catalog::default();
        cat.rowsets.push(Rowset {
            id: 1 << 48,
            object_id: 500,
            index_id: 1,
            cached_rows: 3,
            compression: level,
        });
        cat.columns.insert(
            500,
            vec![ColPar {
                object_id: 500,
                colid: 1,
                name: "id".into(),
                ty: SqlType::Int,
                xtype: 56,
                collation: 0,
                status: 0,
            }],
        );
        cat.rscols.insert(
            1 << 48,
            vec![RsCol {
                rscolid: 1,
                hbcolid: 1,
                ty: SqlType::Int,
                status: 0x80,
                leaf_offset: 4,
                null_bit: 1,
                bit_pos: 0,
            }],
        );
        cat
    }

    #[test]
    fn compression_and_columnstore_are_reported_not_supported() {
        let plain = Table::from_catalog(&catalog(0), 500, "dbo".into(), "t".into());
        assert!(plain.warnings.is_empty(), "{:?}", plain.warnings);
        assert!(!plain.is_compressed());
        let page = Table::from_catalog(&catalog(2), 500, "dbo".into(), "t".into());
        assert!(page.is_compressed());
        assert!(
            page.warnings
                .iter()
                .any(|w| w.contains("PAGE compression is not supported yet"))
        );
        let mut cs = catalog(3);
        cs.indexes.push(IndexDef {
            object_id: 500,
            index_id: 1,
            name: "cci".into(),
            kind: 5,
            status: 0,
            key_columns: Vec::new(),
        });
        let t = Table::from_catalog(&cs, 500, "dbo".into(), "t".into());
        assert!(
            t.warnings.iter().any(|w| w.contains("columnstore")),
            "{:?}",
            t.warnings
        );
        assert_eq!(t.columns[0].layout.as_ref().map(|l| l.leaf_offset), Some(4));
    }
}
