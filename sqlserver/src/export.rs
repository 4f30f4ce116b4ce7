//! Table exports in the formats ARCHITECTURE.md "Export formats" fixes:
//! CSV (RFC 4180), JSONL, and a SQL script (`CREATE TABLE` + `INSERT`s
//! SQL Server accepts). The value → text rules live here once and are
//! shared with `push`.

use std::fmt::Write as _;
use std::io::Write;

use kairos_parsers::{Error, Result, Source};

use crate::database::Database;
use crate::scan::{Row, RowState, ScanOptions};
use crate::table::{Table, quote_ident};
use crate::types::SqlType;
use crate::value::{Value, hex_upper};

/// Output formats of a table export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per row.
    Jsonl,
    /// `CREATE TABLE` and one `INSERT` per row.
    Sql,
}

/// Name of the extra column marking deleted rows with `include_deleted`.
pub const ROW_STATE_COLUMN: &str = "_row_state";

/// What an export did, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Rows written (live + deleted).
    pub rows: u64,
    /// Of which deleted (ghost or freed-slot records).
    pub deleted_rows: u64,
    /// Column values that could not be decoded (written as error markers).
    pub column_errors: u64,
    /// Damaged pages and records skipped or flagged (one message each).
    pub damage: Vec<String>,
}

/// Writes `table` to `out` in `format`. Damaged pages are reported in the
/// result and the export goes on; I/O errors on `out` and unsupported
/// features (compressed tables) fail it.
pub fn export_table<S: Source>(
    db: &Database<S>,
    table: &Table,
    format: Format,
    include_deleted: bool,
    out: &mut dyn Write,
) -> Result<ExportReport> {
    let io = |e: std::io::Error| Error::Io {
        source_name: format!("export of {}", table.qualified_name()),
        offset: 0,
        error: e,
    };
    let mut report = ExportReport::default();
    match format {
        Format::Csv => {
            let mut header: Vec<String> =
                table.columns.iter().map(|c| csv_field(&c.name)).collect();
            if include_deleted {
                header.push(ROW_STATE_COLUMN.to_owned());
            }
            writeln!(out, "{}\r", header.join(",")).map_err(io)?;
        }
        Format::Sql => {
            writeln!(
                out,
                "-- {} exported by kairos from {}",
                table.qualified_name(),
                db.source().name()
            )
            .map_err(io)?;
            out.write_all(table.create_table_sql(None).as_bytes())
                .map_err(io)?;
            writeln!(out, "GO").map_err(io)?;
        }
        Format::Jsonl => {}
    }
    let opts = ScanOptions {
        include_deleted,
        count_only: false,
    };
    let columns = insert_columns(table);
    let mut line = String::new();
    for row in db.rows(table, opts) {
        let row = match row {
            Ok(r) => r,
            Err(e) if e.is_damage() => {
                report.damage.push(e.to_string());
                continue;
            }
            Err(e) => return Err(e),
        };
        report.rows += 1;
        report.deleted_rows += u64::from(row.is_deleted());
        report.column_errors += row.error_count() as u64;
        line.clear();
        match format {
            Format::Csv => csv_row(&row, include_deleted, &mut line),
            Format::Jsonl => jsonl_row(table, &row, include_deleted, &mut line),
            Format::Sql => {
                if row.is_deleted() {
                    let _ = writeln!(
                        line,
                        "-- deleted row ({}) at page {} slot {}",
                        state_name(row.state),
                        row.rid.page,
                        row.rid.slot
                    );
                }
                line.push_str(&insert_statement(
                    table,
                    &table.sql_name(None),
                    &columns,
                    std::slice::from_ref(&row),
                ));
            }
        }
        out.write_all(line.as_bytes()).map_err(io)?;
    }
    out.flush().map_err(io)?;
    Ok(report)
}

/// `live`, `ghost` or `freed`.
pub fn state_name(state: RowState) -> &'static str {
    match state {
        RowState::Live => "live",
        RowState::Ghost => "ghost",
        RowState::Freed => "freed",
    }
}

/// One CSV field: quoted when empty or when it holds `,` `"` CR or LF.
fn csv_field(s: &str) -> String {
    if s.is_empty() || s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The text of a value in CSV (NULL is the empty unquoted field).
fn csv_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Decimal(s) | Value::DateTime(s) | Value::Guid(s) | Value::Text(s) => csv_field(s),
        Value::Binary(b) => hex_upper(b),
        Value::Error(e) => csv_field(&format!("<error: {e}>")),
    }
}

fn csv_row(row: &Row, include_deleted: bool, line: &mut String) {
    let mut fields: Vec<String> = row.values.iter().map(csv_value).collect();
    if include_deleted {
        fields.push(state_name(row.state).to_owned());
    }
    line.push_str(&fields.join(","));
    line.push_str("\r\n");
}

/// A value as JSON: numbers that fit i64/f64 as numbers, decimals and
/// binary as strings.
pub fn json_value(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Decimal(s) | Value::DateTime(s) | Value::Guid(s) | Value::Text(s) => {
            s.clone().into()
        }
        Value::Binary(b) => hex_upper(b).into(),
        Value::Error(e) => format!("<error: {e}>").into(),
    }
}

fn jsonl_row(table: &Table, row: &Row, include_deleted: bool, line: &mut String) {
    line.push('{');
    for (i, (c, v)) in table.columns.iter().zip(&row.values).enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&serde_json::Value::from(c.name.as_str()).to_string());
        line.push(':');
        line.push_str(&json_value(v).to_string());
    }
    if include_deleted {
        let _ = write!(
            line,
            ",\"{ROW_STATE_COLUMN}\":\"{}\"",
            state_name(row.state)
        );
    }
    line.push_str("}\n");
}

/// Columns an INSERT can set: all but timestamp/rowversion, which the
/// server generates.
pub fn insert_columns(table: &Table) -> Vec<usize> {
    table
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.ty != SqlType::Timestamp)
        .map(|(i, _)| i)
        .collect()
}

/// One `INSERT INTO name (cols) VALUES (...), (...);` for `rows`
/// (SQL Server accepts at most 1000 rows per VALUES list; callers batch).
pub fn insert_statement(table: &Table, name: &str, columns: &[usize], rows: &[Row]) -> String {
    let cols: Vec<String> = columns
        .iter()
        .filter_map(|&i| table.columns.get(i))
        .map(|c| quote_ident(&c.name))
        .collect();
    let mut s = format!("INSERT INTO {name} ({}) VALUES", cols.join(", "));
    for (n, row) in rows.iter().enumerate() {
        s.push_str(if n == 0 { "\n    (" } else { ",\n    (" });
        let vals: Vec<String> = columns
            .iter()
            .filter_map(|&i| row.values.get(i).map(sql_literal))
            .collect();
        s.push_str(&vals.join(", "));
        s.push(')');
    }
    s.push_str(";\n");
    s
}

/// A value as a T-SQL literal.
pub fn sql_literal(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => format!("{f:e}"),
        Value::Decimal(s) => s.clone(),
        Value::DateTime(s) | Value::Guid(s) => format!("'{s}'"),
        // N'' for every character type: the server converts to the
        // column's code page, and non-Latin text survives the script.
        Value::Text(s) => format!("N'{}'", s.replace('\'', "''")),
        Value::Binary(b) => {
            if b.is_empty() {
                "0x".into()
            } else {
                hex_upper(b)
            }
        }
        Value::Error(e) => format!("NULL /* not decoded: {} */", e.replace("*/", "* /")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_follows_rfc4180_and_the_null_rule() {
        assert_eq!(csv_value(&Value::Null), "");
        assert_eq!(csv_value(&Value::Text(String::new())), "\"\"");
        assert_eq!(
            csv_value(&Value::Text("a,\"b\"\nc".into())),
            "\"a,\"\"b\"\"\nc\""
        );
        assert_eq!(csv_value(&Value::Binary(vec![0xAB, 0x01])), "0xAB01");
        assert_eq!(csv_value(&Value::Bool(true)), "1");
        assert_eq!(csv_value(&Value::Decimal("1.2300".into())), "1.2300");
    }

    #[test]
    fn json_types() {
        assert_eq!(json_value(&Value::Int(-3)).to_string(), "-3");
        assert_eq!(
            json_value(&Value::Decimal("1.50".into())).to_string(),
            "\"1.50\""
        );
        assert_eq!(json_value(&Value::Binary(vec![1])).to_string(), "\"0x01\"");
        assert_eq!(json_value(&Value::Null).to_string(), "null");
        assert_eq!(json_value(&Value::Float(0.5)).to_string(), "0.5");
    }

    #[test]
    fn sql_literals_quote_and_escape() {
        assert_eq!(sql_literal(&Value::Text("O'Hara".into())), "N'O''Hara'");
        assert_eq!(sql_literal(&Value::Float(1.5e300)), "1.5e300");
        assert_eq!(sql_literal(&Value::Binary(vec![])), "0x");
        assert_eq!(sql_literal(&Value::Null), "NULL");
        assert_eq!(
            sql_literal(&Value::DateTime("2026-11-24T10:15:00.123".into())),
            "'2026-11-24T10:15:00.123'"
        );
        assert!(sql_literal(&Value::Error("x */ y".into())).starts_with("NULL /*"));
    }
}
