//! Table export: TSV and JSONL, written row by row (constant memory).
//!
//! Formats (the `kairos ese dump` contract):
//! - TSV: a header line of column names, then one line per record; NULL is an
//!   empty field; see [`Value::to_text`] for each type.
//! - JSONL: one object per record, column names as keys; see
//!   [`Value::to_json`].

use std::io::Write;

use kairos_parsers::{Result, Source};

use crate::catalog::Table;
use crate::database::Database;
use crate::value::Value;

/// Output format of [`export_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON object per line.
    Jsonl,
}

/// Writes every record of `table` to `out`; returns the number of records.
/// Write errors are reported as I/O errors naming the source.
pub fn export_table<S: Source, W: Write + ?Sized>(
    db: &Database<S>,
    table: &Table,
    format: ExportFormat,
    out: &mut W,
) -> Result<u64> {
    let io = |error: std::io::Error| kairos_parsers::Error::Io {
        source_name: format!("{} (export of {})", db.source_name(), table.name),
        offset: 0,
        error,
    };
    if format == ExportFormat::Tsv {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        writeln!(out, "{}", names.join("\t")).map_err(io)?;
    }
    let mut count = 0u64;
    for record in db.records(table) {
        let values = record?.values();
        match format {
            ExportFormat::Tsv => {
                let cells: Vec<String> = values.iter().map(Value::to_text).collect();
                writeln!(out, "{}", cells.join("\t")).map_err(io)?;
            }
            ExportFormat::Jsonl => {
                let obj: serde_json::Map<String, serde_json::Value> = table
                    .columns
                    .iter()
                    .zip(&values)
                    .map(|(c, v)| (c.name.clone(), v.to_json()))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Object(obj)).map_err(io)?;
            }
        }
        count += 1;
    }
    Ok(count)
}
