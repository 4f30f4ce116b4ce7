//! `sql push`: recreate a table on a live SQL Server. The statements are
//! generated here without a server (`create_statement`, `insert_batches`,
//! unit-tested); with the `push` feature, [`push`] sends them with
//! tiberius in one transaction.
//!
//! Rules: the target table is created from the original column types and
//! must not exist, unless `append` is set (then it must exist and rows are
//! added). Rows go in multi-row `INSERT` batches of at most 1000 rows (SQL
//! Server's limit for one VALUES list) and about 1 MiB of text.

use kairos_parsers::{Result, Source};

use crate::database::Database;
use crate::export::{insert_columns, insert_statement};
use crate::scan::{Row, RowScan, ScanOptions};
use crate::table::{Table, quote_ident};

/// Most rows of one `INSERT … VALUES` list SQL Server accepts.
pub const MAX_ROWS_PER_BATCH: usize = 1000;
/// Text size after which a batch is closed early (large LOB rows).
const MAX_BATCH_BYTES: usize = 1 << 20;

/// The target table name as SQL: `NEW` → `[dbo].[NEW]`, `sch.NEW` →
/// `[sch].[NEW]`, bracketed names are used as written; `None` keeps the
/// source table's schema and name.
pub fn target_name(table: &Table, as_name: Option<&str>) -> String {
    match as_name {
        None => table.sql_name(None),
        Some(n) if n.contains('[') => n.to_owned(),
        Some(n) => match n.split_once('.') {
            Some((schema, name)) => format!("{}.{}", quote_ident(schema), quote_ident(name)),
            None => format!("{}.{}", quote_ident("dbo"), quote_ident(n)),
        },
    }
}

/// `CREATE TABLE` for the target.
pub fn create_statement(table: &Table, target: &str) -> String {
    table.create_table_sql(Some(target))
}

/// One generated `INSERT` batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The statement.
    pub sql: String,
    /// Rows in it.
    pub rows: usize,
}

/// Iterator over the `INSERT` batches of a table's live rows. Damaged
/// pages come out as errors (the caller decides whether to go on).
pub struct InsertBatches<'a, S> {
    scan: RowScan<'a, S>,
    table: &'a Table,
    target: String,
    columns: Vec<usize>,
    pending_error: Option<kairos_parsers::Error>,
    done: bool,
}

/// Batches of `INSERT` statements for every live row of `table`.
pub fn insert_batches<'a, S: Source>(
    db: &'a Database<S>,
    table: &'a Table,
    target: &str,
) -> InsertBatches<'a, S> {
    InsertBatches {
        scan: db.rows(table, ScanOptions::default()),
        table,
        target: target.to_owned(),
        columns: insert_columns(table),
        pending_error: None,
        done: false,
    }
}

impl<S: Source> Iterator for InsertBatches<'_, S> {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        let mut rows: Vec<Row> = Vec::new();
        let mut bytes = 0;
        while rows.len() < MAX_ROWS_PER_BATCH && bytes < MAX_BATCH_BYTES {
            match self.scan.next() {
                None => {
                    self.done = true;
                    break;
                }
                Some(Ok(row)) => {
                    bytes += row.values.iter().map(value_size).sum::<usize>();
                    rows.push(row);
                }
                Some(Err(e)) => {
                    // Emit what we have first, then the error.
                    if rows.is_empty() {
                        return Some(Err(e));
                    }
                    self.pending_error = Some(e);
                    break;
                }
            }
        }
        if rows.is_empty() {
            return None;
        }
        Some(Ok(Batch {
            sql: insert_statement(self.table, &self.target, &self.columns, &rows),
            rows: rows.len(),
        }))
    }
}

fn value_size(v: &crate::value::Value) -> usize {
    use crate::value::Value;
    match v {
        Value::Text(s)
        | Value::Decimal(s)
        | Value::DateTime(s)
        | Value::Guid(s)
        | Value::Error(s) => s.len() + 4,
        Value::Binary(b) => 2 * b.len() + 2,
        _ => 8,
    }
}

/// What a push did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// Target table.
    pub target: String,
    /// True when the table was created.
    pub created: bool,
    /// Rows inserted.
    pub rows: u64,
    /// Batches sent.
    pub batches: u64,
    /// Damaged pages skipped while reading the source.
    pub damage: Vec<String>,
}

/// Errors of a push: reading the source, or the server.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Reading the source database failed.
    #[error(transparent)]
    Read(#[from] kairos_parsers::Error),
    /// The connection string or the connection failed.
    #[error("cannot connect to SQL Server: {0}")]
    Connect(String),
    /// The server refused a statement.
    #[error("SQL Server refused {what}: {detail}")]
    Server {
        /// Which statement.
        what: String,
        /// The server's message.
        detail: String,
    },
    /// The target exists and `append` was not given (or is missing with `append`).
    #[error("{0}")]
    Target(String),
}

/// Creates the target table (or appends to it) on the server named by the
/// ADO.NET connection string `connection` and inserts every live row, in
/// one transaction. Blocks; runs its own single-threaded runtime.
#[cfg(feature = "push")]
pub fn push<S: Source>(
    db: &Database<S>,
    table: &Table,
    connection: &str,
    as_name: Option<&str>,
    append: bool,
) -> std::result::Result<PushReport, PushError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| PushError::Connect(e.to_string()))?;
    rt.block_on(push_async(db, table, connection, as_name, append))
}

#[cfg(feature = "push")]
async fn push_async<S: Source>(
    db: &Database<S>,
    table: &Table,
    connection: &str,
    as_name: Option<&str>,
    append: bool,
) -> std::result::Result<PushReport, PushError> {
    use tokio_util::compat::TokioAsyncWriteCompatExt;

    let connect = |e: &dyn std::fmt::Display| PushError::Connect(e.to_string());
    let config = tiberius::Config::from_ado_string(connection).map_err(|e| connect(&e))?;
    let tcp = tokio::net::TcpStream::connect(config.get_addr())
        .await
        .map_err(|e| connect(&e))?;
    tcp.set_nodelay(true).map_err(|e| connect(&e))?;
    let mut client = tiberius::Client::connect(config, tcp.compat_write())
        .await
        .map_err(|e| connect(&e))?;
    let server = |what: &str| {
        let what = what.to_owned();
        move |e: tiberius::error::Error| PushError::Server {
            what: what.clone(),
            detail: e.to_string(),
        }
    };
    let target = target_name(table, as_name);
    let exists = client
        .query("SELECT OBJECT_ID(@P1, N'U')", &[&target.as_str()])
        .await
        .map_err(server("the existence check"))?
        .into_row()
        .await
        .map_err(server("the existence check"))?
        .and_then(|r| r.get::<i32, _>(0))
        .is_some();
    match (exists, append) {
        (true, false) => {
            return Err(PushError::Target(format!(
                "{target} already exists on the server; choose another name with --as, or add rows with --append"
            )));
        }
        (false, true) => {
            return Err(PushError::Target(format!(
                "{target} does not exist on the server; --append needs an existing table"
            )));
        }
        _ => {}
    }
    let mut report = PushReport {
        target: target.clone(),
        created: !exists,
        ..PushReport::default()
    };
    client
        .simple_query("BEGIN TRANSACTION")
        .await
        .map_err(server("BEGIN TRANSACTION"))?;
    if !exists {
        client
            .execute(create_statement(table, &target), &[])
            .await
            .map_err(server("CREATE TABLE"))?;
    }
    for batch in insert_batches(db, table, &target) {
        let batch = match batch {
            Ok(b) => b,
            Err(e) if e.is_damage() => {
                report.damage.push(e.to_string());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        client
            .execute(batch.sql, &[])
            .await
            .map_err(server("an INSERT batch"))?;
        report.rows += batch.rows as u64;
        report.batches += 1;
    }
    client
        .simple_query("COMMIT TRANSACTION")
        .await
        .map_err(server("COMMIT"))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names() {
        let db = crate::Database::open(
            kairos_parsers::FileSource::open(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../shared/samples/mdf/itsligo_pubs.mdf"),
            )
            .expect("sample present"),
        )
        .expect("open");
        let t = db.table("authors").expect("authors");
        assert_eq!(target_name(t, None), "[dbo].[authors]");
        assert_eq!(target_name(t, Some("authors_0900")), "[dbo].[authors_0900]");
        assert_eq!(target_name(t, Some("rec.authors")), "[rec].[authors]");
        assert_eq!(target_name(t, Some("[x].[y z]")), "[x].[y z]");
    }
}
