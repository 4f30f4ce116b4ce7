//! `kairos ese tables|dump`: any ESE database (Exchange, AD, SRUM, Windows
//! Search, UAL...), read from a file or, with `--store`, from a stream as of
//! `--at` without restoring it. All reading lives in `kairos-ese`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use kairos_ese::{Database, ExportFormat, export_table};
use kairos_parsers::Source;

use crate::args::Global;

/// The `ese` command group.
#[derive(Debug, Subcommand)]
pub enum EseCommand {
    /// List tables with record counts and columns (reads the catalog and
    /// each table's tree, no long values).
    Tables {
        /// An ESE file, or a stream name with --store.
        source: String,
    },
    /// Export every record of TABLE.
    Dump {
        /// An ESE file, or a stream name with --store.
        source: String,
        /// Table name (as printed by `ese tables`).
        table: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DumpFormat::Tsv)]
        format: DumpFormat,
        /// Output file (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// `ese dump` formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DumpFormat {
    /// Tab-separated, header line, NULL as an empty field.
    Tsv,
    /// One JSON object per record.
    Jsonl,
}

/// Runs an `ese` subcommand.
pub fn run(cmd: EseCommand, global: &Global) -> Result<()> {
    match cmd {
        EseCommand::Tables { source } => {
            let db = open(&source, global)?;
            tables(&db, global.json)
        }
        EseCommand::Dump {
            source,
            table,
            format,
            output,
            force,
        } => {
            let db = open(&source, global)?;
            dump(&db, &table, format, output.as_deref(), force)
        }
    }
}

fn open(name: &str, global: &Global) -> Result<Database<Arc<dyn Source>>> {
    let db = Database::open(crate::source::open(name, global)?)?;
    for w in db.warnings() {
        eprintln!("kairos: warning: {}: {w}", db.source_name());
    }
    Ok(db)
}

fn report_damage(db: &Database<Arc<dyn Source>>) {
    let damage = db.damage();
    if damage.is_empty() {
        return;
    }
    eprintln!(
        "kairos: warning: {}: {} damaged page(s) skipped or read as on disk",
        db.source_name(),
        damage.len()
    );
    for (pgno, what) in damage.iter().take(20) {
        eprintln!("kairos:   page {pgno}: {what}");
    }
}

fn tables(db: &Database<Arc<dyn Source>>, json: bool) -> Result<()> {
    let h = db.header();
    let mut rows = Vec::new();
    for t in db.tables() {
        let stats = db
            .table_stats(t)
            .with_context(|| format!("counting records of {}", t.name))?;
        rows.push((t, stats));
    }
    if json {
        let tables: Vec<serde_json::Value> = rows
            .iter()
            .map(|(t, s)| {
                serde_json::json!({
                    "name": t.name,
                    "records": s.records,
                    "leaf_pages": s.leaf_pages,
                    "root_page": t.fdp,
                    "template": t.template,
                    "columns": t.columns.iter().map(|c| serde_json::json!({
                        "id": c.id, "name": c.name, "type": c.coltyp.name(),
                        "codepage": c.codepage, "multi_valued": c.flags & kairos_ese::column::column_flags::MULTI_VALUED != 0,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let out = serde_json::json!({
            "source": db.source_name(),
            "page_size": h.page_size,
            "format_version": h.format_version,
            "format_revision": h.format_revision,
            "state": h.state.to_string(),
            "warnings": db.warnings().iter().map(ToString::to_string).collect::<Vec<_>>(),
            "damaged_pages": db.damage(),
            "tables": tables,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "# {}: ESE format {:#x}/{:#x}, {} byte pages, {}",
        db.source_name(),
        h.format_version,
        h.format_revision,
        h.page_size,
        h.state
    );
    println!("table\trecords\tcolumns\tleaf_pages");
    for (t, s) in &rows {
        println!(
            "{}\t{}\t{}\t{}",
            t.name,
            s.records,
            t.columns.len(),
            s.leaf_pages
        );
    }
    report_damage(db);
    Ok(())
}

fn dump(
    db: &Database<Arc<dyn Source>>,
    table: &str,
    format: DumpFormat,
    output: Option<&Path>,
    force: bool,
) -> Result<()> {
    let t = db.table(table)?;
    let format = match format {
        DumpFormat::Tsv => ExportFormat::Tsv,
        DumpFormat::Jsonl => ExportFormat::Jsonl,
    };
    let (count, _) = crate::output::write(output, force, |mut w| {
        Ok(export_table(db, t, format, &mut w)?)
    })?;
    eprintln!("kairos: {table}: {count} records");
    report_damage(db);
    Ok(())
}
