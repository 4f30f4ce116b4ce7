//! The item tree of an ESE database: `Database → Table → Row`, so the GUI
//! and the CLI browse ESE files like every other source.
//!
//! Paths: `/<table>` and `/<table>/<n>` where `n` is the row's ordinal in
//! primary-key order (0-based). Listing the root reads only the catalog
//! (already read at open); listing a table walks its record tree; a row's
//! long values are fetched when that row is asked for.

use std::io::Write;

use kairos_parsers::{
    Error, ExportKind, Field, FieldValue, Item, ItemKind, ItemPath, ItemStatus, ItemTree, Result,
    Source,
};

use crate::catalog::Table;
use crate::database::{Database, Record};
use crate::export::{ExportFormat, export_table};
use crate::value::{Value, datetime_to_iso};

/// A display value for the item tree.
fn field_value(v: &Value) -> FieldValue {
    match v {
        Value::Null => FieldValue::Null,
        Value::Bit(b) => FieldValue::Bool(*b),
        Value::UnsignedByte(x) => FieldValue::Int(i64::from(*x)),
        Value::Short(x) => FieldValue::Int(i64::from(*x)),
        Value::Long(x) => FieldValue::Int(i64::from(*x)),
        Value::Currency(x) | Value::LongLong(x) => FieldValue::Int(*x),
        Value::UnsignedLong(x) => FieldValue::Int(i64::from(*x)),
        Value::UnsignedShort(x) => FieldValue::Int(i64::from(*x)),
        Value::UnsignedLongLong(x) => {
            i64::try_from(*x).map_or_else(|_| FieldValue::Decimal(x.to_string()), FieldValue::Int)
        }
        Value::IeeeSingle(x) => FieldValue::Float(f64::from(*x)),
        Value::IeeeDouble(x) => FieldValue::Float(*x),
        Value::DateTime(d) => {
            datetime_to_iso(*d).map_or(FieldValue::Float(*d), FieldValue::DateTime)
        }
        Value::Binary(b) => FieldValue::Binary(b.clone()),
        Value::Text(s) => FieldValue::Text(s.clone()),
        Value::Guid(_) | Value::Multi(_) | Value::Unreadable(_) => FieldValue::Text(v.to_text()),
    }
}

fn table_item(t: &Table) -> Item {
    Item {
        path: ItemPath::root().child(&t.name),
        kind: ItemKind::Table,
        name: t.name.clone(),
        fields: vec![
            Field {
                name: "columns".into(),
                value: FieldValue::Int(t.columns.len() as i64),
            },
            Field {
                name: "root_page".into(),
                value: FieldValue::Int(i64::from(t.fdp)),
            },
        ],
        has_children: true,
        status: ItemStatus::Live,
        exports: vec![ExportKind::Jsonl],
    }
}

fn row_item<S: Source>(t: &Table, n: usize, record: &Record<'_, S>) -> Item {
    let values = record.values();
    let damaged: Vec<String> = t
        .columns
        .iter()
        .zip(&values)
        .filter_map(|(c, v)| match v {
            Value::Unreadable(why) => Some(format!("{}: {why}", c.name)),
            _ => None,
        })
        .collect();
    Item {
        path: ItemPath::root().child(&t.name).child(&n.to_string()),
        kind: ItemKind::Row,
        name: n.to_string(),
        fields: t
            .columns
            .iter()
            .zip(&values)
            .map(|(c, v)| Field {
                name: c.name.clone(),
                value: field_value(v),
            })
            .collect(),
        has_children: false,
        status: if damaged.is_empty() {
            ItemStatus::Live
        } else {
            ItemStatus::Damaged(damaged.join("; "))
        },
        exports: vec![ExportKind::Jsonl],
    }
}

impl<S: Source> Database<S> {
    fn not_found(&self, path: &ItemPath) -> Error {
        Error::NotFound {
            source_name: self.source_name().to_owned(),
            what: format!("item {path}"),
        }
    }

    /// Resolves `/<table>[/<n>]`.
    fn resolve(&self, path: &ItemPath) -> Result<(&Table, Option<usize>)> {
        let segs = path.segments();
        let table = segs
            .first()
            .and_then(|name| self.tables().iter().find(|t| &t.name == name))
            .ok_or_else(|| self.not_found(path))?;
        match segs.get(1) {
            None => Ok((table, None)),
            Some(n) if segs.len() == 2 => n
                .parse()
                .map(|n| (table, Some(n)))
                .map_err(|_| self.not_found(path)),
            Some(_) => Err(self.not_found(path)),
        }
    }

    fn nth_record(&self, table: &Table, n: usize, path: &ItemPath) -> Result<Item> {
        let record = self
            .records(table)
            .nth(n)
            .ok_or_else(|| self.not_found(path))??;
        Ok(row_item(table, n, &record))
    }
}

impl<S: Source> ItemTree for Database<S> {
    fn children(&self, path: &ItemPath) -> Result<Vec<Item>> {
        if path.is_root() {
            return Ok(self.tables().iter().map(table_item).collect());
        }
        match self.resolve(path)? {
            (table, None) => self
                .records(table)
                .enumerate()
                .map(|(n, r)| r.map(|r| row_item(table, n, &r)))
                .collect(),
            (_, Some(_)) => Ok(Vec::new()),
        }
    }

    fn item(&self, path: &ItemPath) -> Result<Item> {
        if path.is_root() {
            return Ok(Item {
                path: ItemPath::root(),
                kind: ItemKind::Database,
                name: self.source_name().to_owned(),
                fields: vec![
                    Field {
                        name: "page_size".into(),
                        value: FieldValue::Int(i64::from(self.header().page_size)),
                    },
                    Field {
                        name: "state".into(),
                        value: FieldValue::Text(self.header().state.to_string()),
                    },
                    Field {
                        name: "tables".into(),
                        value: FieldValue::Int(self.tables().len() as i64),
                    },
                ],
                has_children: true,
                status: self
                    .warnings()
                    .first()
                    .map_or(ItemStatus::Live, |w| ItemStatus::Damaged(w.to_string())),
                exports: Vec::new(),
            });
        }
        match self.resolve(path)? {
            (table, None) => Ok(table_item(table)),
            (table, Some(n)) => self.nth_record(table, n, path),
        }
    }

    fn export(&self, path: &ItemPath, kind: ExportKind, out: &mut dyn Write) -> Result<()> {
        if kind != ExportKind::Jsonl {
            return Err(Error::Unsupported {
                source_name: self.source_name().to_owned(),
                feature: format!("{kind:?} export of ESE items (JSONL is offered)"),
            });
        }
        match self.resolve(path)? {
            (table, None) => export_table(self, table, ExportFormat::Jsonl, out).map(|_| ()),
            (table, Some(n)) => {
                let record = self
                    .records(table)
                    .nth(n)
                    .ok_or_else(|| self.not_found(path))??;
                let obj: serde_json::Map<String, serde_json::Value> = table
                    .columns
                    .iter()
                    .zip(record.values())
                    .map(|(c, v)| (c.name.clone(), v.to_json()))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(obj)).map_err(|error| Error::Io {
                    source_name: self.source_name().to_owned(),
                    offset: 0,
                    error,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_map_to_display_fields() {
        assert_eq!(
            field_value(&Value::UnsignedLongLong(u64::MAX)),
            FieldValue::Decimal(u64::MAX.to_string())
        );
        assert_eq!(field_value(&Value::Bit(true)), FieldValue::Bool(true));
        assert_eq!(
            field_value(&Value::DateTime(25_569.5)),
            FieldValue::DateTime("1970-01-01T12:00:00.000".into())
        );
        assert_eq!(
            field_value(&Value::Multi(vec![Value::Short(1), Value::Short(2)])),
            FieldValue::Text("1; 2".into())
        );
    }
}
