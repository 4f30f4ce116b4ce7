//! The item tree of a database (`Database → Table → Row`) that the CLI and
//! the GUI browse. Paths: `schema.table` for a table; for a row, its
//! primary-key values joined by `,` (stable across instants), or
//! `rid FILE:PAGE:SLOT` without a primary key; deleted rows are
//! `deleted FILE:PAGE:SLOT`.

use std::io::Write;

use kairos_parsers::{
    Error, ExportKind, Field, FieldValue, Item, ItemKind, ItemPath, ItemStatus, ItemTree, Result,
    Source,
};

use crate::database::Database;
use crate::export::{Format, export_table};
use crate::scan::{Row, ScanOptions};
use crate::table::Table;

impl<S: Source> Database<S> {
    fn table_item_of(t: &Table) -> Item {
        let path = ItemPath::root().child(&t.qualified_name());
        let status = if t.warnings.is_empty() {
            ItemStatus::Live
        } else {
            ItemStatus::Damaged(t.warnings.join("; "))
        };
        Item {
            name: path.name(),
            path,
            kind: ItemKind::Table,
            fields: vec![
                field("schema", FieldValue::Text(t.schema.clone())),
                field("columns", FieldValue::Int(t.columns.len() as i64)),
                field("catalog_rows", FieldValue::Int(t.cached_rows())),
            ],
            has_children: true,
            status,
            exports: vec![ExportKind::Csv, ExportKind::Jsonl, ExportKind::Sql],
        }
    }

    /// The path segment naming `row` of `t` (see the module docs).
    pub fn row_name(t: &Table, row: &Row) -> String {
        let rid = format!(
            "{}:{}:{}",
            row.rid.page.file, row.rid.page.page, row.rid.slot
        );
        if row.is_deleted() {
            return format!("deleted {rid}");
        }
        let key: Option<Vec<String>> = t
            .indexes
            .iter()
            .find(|i| i.primary_key && !i.columns.is_empty())
            .and_then(|pk| {
                pk.columns
                    .iter()
                    .map(|name| {
                        let i = t.columns.iter().position(|c| &c.name == name)?;
                        Some(
                            row.values
                                .get(i)?
                                .to_field()
                                .to_string()
                                .trim_end()
                                .to_owned(),
                        )
                    })
                    .collect()
            });
        key.map_or_else(|| format!("rid {rid}"), |k| k.join(","))
    }

    fn row_item(t: &Table, row: &Row) -> Item {
        let path = ItemPath::root()
            .child(&t.qualified_name())
            .child(&Self::row_name(t, row));
        let status = if row.is_deleted() {
            ItemStatus::Deleted
        } else if row.page_damaged {
            ItemStatus::Damaged(format!("page {} failed verification", row.rid.page))
        } else {
            ItemStatus::Live
        };
        Item {
            name: path.name(),
            path,
            kind: ItemKind::Row,
            fields: t
                .columns
                .iter()
                .zip(&row.values)
                .map(|(c, v)| field(&c.name, v.to_field()))
                .collect(),
            has_children: false,
            status,
            exports: vec![ExportKind::Jsonl],
        }
    }

    fn find_row(&self, t: &Table, name: &str) -> Result<Row> {
        let opts = ScanOptions {
            include_deleted: name.starts_with("deleted "),
            count_only: false,
        };
        self.rows(t, opts)
            .filter_map(std::result::Result::ok)
            .find(|r| Self::row_name(t, r) == name)
            .ok_or_else(|| self.not_found(&format!("row {name} of {}", t.qualified_name())))
    }

    fn not_found(&self, what: &str) -> Error {
        Error::NotFound {
            source_name: self.source().name().to_owned(),
            what: what.to_owned(),
        }
    }
}

fn field(name: &str, value: FieldValue) -> Field {
    Field {
        name: name.to_owned(),
        value,
    }
}

impl<S: Source> ItemTree for Database<S> {
    fn children(&self, path: &ItemPath) -> Result<Vec<Item>> {
        match path.segments().as_slice() {
            [] => Ok(self
                .tables()
                .iter()
                .map(|t| Self::table_item_of(t))
                .collect()),
            [table] => {
                let t = self.table(table)?;
                let opts = ScanOptions {
                    include_deleted: true,
                    count_only: false,
                };
                // Damaged pages have no items; the table item says so.
                Ok(self
                    .rows(t, opts)
                    .filter_map(std::result::Result::ok)
                    .map(|r| Self::row_item(t, &r))
                    .collect())
            }
            _ => Ok(Vec::new()),
        }
    }

    fn item(&self, path: &ItemPath) -> Result<Item> {
        match path.segments().as_slice() {
            [] => Ok(Item {
                path: ItemPath::root(),
                kind: ItemKind::Database,
                name: self.boot().name.clone(),
                fields: vec![
                    field("version", FieldValue::Int(i64::from(self.boot().version))),
                    field(
                        "product",
                        FieldValue::Text(self.boot().product().to_owned()),
                    ),
                    field("tables", FieldValue::Int(self.tables().len() as i64)),
                ],
                has_children: true,
                status: if self.warnings().is_empty() {
                    ItemStatus::Live
                } else {
                    ItemStatus::Damaged(self.warnings().join("; "))
                },
                exports: Vec::new(),
            }),
            [table] => Ok(Self::table_item_of(self.table(table)?)),
            [table, row] => {
                let t = self.table(table)?;
                Ok(Self::row_item(t, &self.find_row(t, row)?))
            }
            _ => Err(self.not_found(&format!("item {path}"))),
        }
    }

    fn export(&self, path: &ItemPath, kind: ExportKind, out: &mut dyn Write) -> Result<()> {
        let unsupported = || Error::Unsupported {
            source_name: self.source().name().to_owned(),
            feature: format!("{kind:?} export of {path}"),
        };
        match path.segments().as_slice() {
            [table] => {
                let t = self.table(table)?;
                let format = match kind {
                    ExportKind::Csv => Format::Csv,
                    ExportKind::Jsonl => Format::Jsonl,
                    ExportKind::Sql => Format::Sql,
                    _ => return Err(unsupported()),
                };
                export_table(self, t, format, false, out).map(|_| ())
            }
            [table, row] if kind == ExportKind::Jsonl => {
                let t = self.table(table)?;
                let r = self.find_row(t, row)?;
                let obj: serde_json::Map<String, serde_json::Value> = t
                    .columns
                    .iter()
                    .zip(&r.values)
                    .map(|(c, v)| (c.name.clone(), crate::export::json_value(v)))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(obj)).map_err(|e| Error::Io {
                    source_name: self.source().name().to_owned(),
                    offset: 0,
                    error: e,
                })
            }
            _ => Err(unsupported()),
        }
    }
}
