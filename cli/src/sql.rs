//! `kairos sql tables|schema|export|push`: SQL Server data files read from a
//! file or, with `--store`, from a stream as of `--at` without restoring it.
//! All reading, exporting and pushing lives in `kairos-sqlserver`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Subcommand, ValueEnum};
use kairos_parsers::Source;
use kairos_sqlserver::export::{ExportReport, Format, export_table};
use kairos_sqlserver::{Database, Table};

use crate::args::Global;

/// The `sql` command group.
#[derive(Debug, Subcommand)]
pub enum SqlCommand {
    /// List user tables: schema.table, rows (counted on the data pages),
    /// deleted rows still on the pages, allocated pages.
    Tables {
        /// A .mdf file, or a stream name with --store.
        source: String,
        /// Only read the catalog and allocation pages: rows are the
        /// catalog's cached counts (fast, but can be stale).
        #[arg(long)]
        fast: bool,
    },
    /// Print a table's definition as CREATE TABLE.
    Schema {
        /// A .mdf file, or a stream name with --store.
        source: String,
        /// Table: name or schema.name.
        table: String,
    },
    /// Export every row of a table.
    Export {
        /// A .mdf file, or a stream name with --store.
        source: String,
        /// Table: name or schema.name.
        table: String,
        /// Output format.
        #[arg(long, value_enum)]
        format: ExportFormat,
        /// Output file (default: standard output).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
        /// Also export deleted rows still on the pages (ghost records and
        /// freed slots), marked in a `_row_state` column / key / comment.
        #[arg(long)]
        include_deleted: bool,
    },
    /// Create the table on a live SQL Server and insert every row.
    Push {
        /// A .mdf file, or a stream name with --store.
        source: String,
        /// Table: name or schema.name.
        table: String,
        /// ADO.NET connection string, e.g. "server=tcp:host,1433;user=sa;password=...;TrustServerCertificate=true".
        #[arg(long, value_name = "CONNECTION_STRING")]
        to: String,
        /// Name of the new table (default: the original name).
        #[arg(long = "as", value_name = "NEW_TABLE")]
        as_name: Option<String>,
        /// Insert into an existing table instead of creating it.
        #[arg(long)]
        append: bool,
    },
}

/// `sql export` formats (docs/ARCHITECTURE.md "Export formats").
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per row.
    Jsonl,
    /// CREATE TABLE and INSERT statements.
    Sql,
}

/// Runs an `sql` subcommand.
pub fn run(cmd: SqlCommand, global: &Global) -> Result<()> {
    match cmd {
        SqlCommand::Tables { source, fast } => tables(&open(&source, global)?, fast, global.json),
        SqlCommand::Schema { source, table } => {
            let db = open(&source, global)?;
            schema(db.table(&table)?);
            Ok(())
        }
        SqlCommand::Export {
            source,
            table,
            format,
            output,
            force,
            include_deleted,
        } => {
            let db = open(&source, global)?;
            let format = match format {
                ExportFormat::Csv => Format::Csv,
                ExportFormat::Jsonl => Format::Jsonl,
                ExportFormat::Sql => Format::Sql,
            };
            export(
                &db,
                &table,
                format,
                output.as_deref(),
                force,
                include_deleted,
            )
        }
        SqlCommand::Push {
            source,
            table,
            to,
            as_name,
            append,
        } => {
            let db = open(&source, global)?;
            let t = db.table(&table)?;
            let report = kairos_sqlserver::push::push(&db, t, &to, as_name.as_deref(), append)?;
            report_damage(db.source().name(), &report.damage);
            eprintln!(
                "kairos: {} {} row(s) into {} in {} batch(es)",
                if report.created {
                    "created the table and inserted"
                } else {
                    "appended"
                },
                report.rows,
                report.target,
                report.batches
            );
            Ok(())
        }
    }
}

fn open(name: &str, global: &Global) -> Result<Database<Arc<dyn Source>>> {
    let src = crate::source::open(name, global)?;
    let db =
        Database::open(src).with_context(|| format!("opening {name} as a SQL Server data file"))?;
    for w in db.warnings() {
        eprintln!("kairos: warning: {}: {w}", db.source().name());
    }
    Ok(db)
}

fn report_damage(source: &str, damage: &[String]) {
    if damage.is_empty() {
        return;
    }
    eprintln!(
        "kairos: warning: {source}: {} damaged page(s) or record(s) skipped; every other row was read",
        damage.len()
    );
    for d in damage.iter().take(20) {
        eprintln!("kairos:   {d}");
    }
}

fn tables(db: &Database<Arc<dyn Source>>, fast: bool, json: bool) -> Result<()> {
    let summaries = db.summaries()?;
    let mut lines = Vec::new();
    let mut damage = Vec::new();
    for (t, s) in db.tables().iter().zip(&summaries) {
        let (rows, deleted) = if fast || t.is_compressed() {
            (s.cached_rows.max(0).cast_unsigned(), None)
        } else {
            let c = db.count_rows(t)?;
            if c.damaged > 0 {
                damage.push(format!(
                    "{}: {} damaged page(s) or record(s)",
                    t.qualified_name(),
                    c.damaged
                ));
            }
            (c.live, Some(c.deleted))
        };
        lines.push((t, s, rows, deleted));
    }
    if json {
        let tables: Vec<serde_json::Value> = lines
            .iter()
            .map(|(t, s, rows, deleted)| {
                serde_json::json!({
                    "schema": t.schema, "name": t.name, "rows": rows,
                    "rows_source": if deleted.is_some() { "data pages" } else { "catalog" },
                    "deleted_rows": deleted, "catalog_rows": s.cached_rows, "pages": s.pages,
                    "compressed": s.compressed, "warnings": t.warnings,
                })
            })
            .collect();
        let out = serde_json::json!({
            "source": db.source().name(), "database": db.boot().name,
            "version": db.boot().version, "product": db.boot().product(),
            "warnings": db.warnings(), "tables": tables,
        });
        println!("{out}");
    } else {
        println!(
            "# {}: {} (version {}, {})",
            db.source().name(),
            db.boot().name,
            db.boot().version,
            db.boot().product()
        );
        println!("table\trows\tdeleted\tpages");
        for (t, s, rows, deleted) in &lines {
            let deleted = deleted.map_or_else(|| "-".to_owned(), |d| d.to_string());
            println!("{}\t{rows}\t{deleted}\t{}", t.qualified_name(), s.pages);
            for w in &t.warnings {
                eprintln!("kairos: warning: {}: {w}", t.qualified_name());
            }
        }
        if fast {
            eprintln!(
                "kairos: rows are the catalog's cached counts (--fast); without --fast they are counted on the data pages"
            );
        }
    }
    report_damage(db.source().name(), &damage);
    Ok(())
}

fn schema(t: &Table) {
    print!("{}", t.create_table_sql(None));
    for i in t.indexes.iter().filter(|i| !i.primary_key) {
        println!(
            "-- {}{} index {} ({})",
            if i.unique { "unique " } else { "" },
            if i.clustered {
                "clustered"
            } else {
                "nonclustered"
            },
            i.name,
            i.columns.join(", ")
        );
    }
    for w in &t.warnings {
        println!("-- warning: {w}");
    }
}

fn export(
    db: &Database<Arc<dyn Source>>,
    table: &str,
    format: Format,
    output: Option<&Path>,
    force: bool,
    include_deleted: bool,
) -> Result<()> {
    let t = db.table(table)?;
    for w in &t.warnings {
        eprintln!("kairos: warning: {}: {w}", t.qualified_name());
    }
    let (report, target): (ExportReport, String) = crate::output::write(output, force, |mut w| {
        Ok(export_table(db, t, format, include_deleted, &mut w)?)
    })?;
    report_damage(db.source().name(), &report.damage);
    if report.column_errors > 0 {
        eprintln!(
            "kairos: warning: {} value(s) could not be decoded and are marked <error: ...>",
            report.column_errors
        );
    }
    eprintln!(
        "kairos: exported {} row(s){} of {} to {target}",
        report.rows,
        if include_deleted {
            format!(" ({} deleted)", report.deleted_rows)
        } else {
            String::new()
        },
        t.qualified_name()
    );
    Ok(())
}
