//! The entry point: open a data file from any `Source`, list tables, read
//! a table's schema and rows.

use kairos_parsers::{Error, Result, Source};

use crate::boot_page::BootPage;
use crate::catalog::{AllocUnitType, Catalog};
use crate::iam::IamPage;
use crate::page::PageId;
use crate::pages::Pages;
use crate::scan::{RowScan, ScanOptions};
use crate::table::Table;

/// Summary of a table for listings, computed from catalog and allocation
/// pages only (no data page is read).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableSummary {
    /// Schema name.
    pub schema: String,
    /// Table name.
    pub name: String,
    /// Object id.
    pub object_id: i32,
    /// Row count cached in the catalog (`sysrowsets.rcrows`; may be stale —
    /// [`Database::count_rows`] counts the data pages).
    pub cached_rows: i64,
    /// Pages the IAM chains give the table (data, index, LOB, overflow).
    pub pages: u64,
    /// Rows are compressed (not decoded yet).
    pub compressed: bool,
}

/// Live and deleted rows counted on the data pages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RowCount {
    /// Live rows.
    pub live: u64,
    /// Ghost records and records in freed slots.
    pub deleted: u64,
    /// Damaged pages or records met while counting.
    pub damaged: u64,
}

/// An open SQL Server data file.
#[derive(Debug)]
pub struct Database<S> {
    pages: Pages<S>,
    boot: BootPage,
    catalog: Catalog,
    tables: Vec<Table>,
}

impl<S: Source> Database<S> {
    /// Opens a primary data file (.mdf): reads the boot page and the
    /// system catalog; no data page is read.
    pub fn open(src: S) -> Result<Self> {
        let boot = BootPage::read(&src)?;
        let pages = Pages::new(src);
        let catalog = Catalog::read(&pages, &boot)?;
        let mut tables: Vec<Table> = catalog
            .objects
            .iter()
            // Schema `sys` holds tables shipped with SQL Server.
            .filter(|o| o.kind == "U" && o.schema_id != SYS_SCHEMA)
            .map(|o| {
                let schema = catalog
                    .schemas
                    .get(&o.schema_id)
                    .cloned()
                    .unwrap_or_else(|| default_schema(o.schema_id));
                Table::from_catalog(&catalog, o.id, schema, o.name.clone())
            })
            .collect();
        tables.sort_by(|a, b| {
            (a.schema.as_str(), a.name.as_str()).cmp(&(b.schema.as_str(), b.name.as_str()))
        });
        Ok(Database {
            pages,
            boot,
            catalog,
            tables,
        })
    }

    /// The boot page (version, name).
    pub fn boot(&self) -> &BootPage {
        &self.boot
    }

    /// The decoded system catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The underlying source.
    pub fn source(&self) -> &S {
        self.pages.source()
    }

    /// Open-time warnings: untested version, damaged catalog pages.
    pub fn warnings(&self) -> Vec<String> {
        let mut w = Vec::new();
        if self.boot.is_untested_version() {
            w.push(format!(
                "database version {} ({}) is newer than any file this reader was checked against",
                self.boot.version,
                self.boot.product()
            ));
        }
        w.extend(self.catalog.warnings.iter().cloned());
        w
    }

    /// User tables, sorted by schema and name.
    pub fn tables(&self) -> &[Table] {
        &self.tables
    }

    /// Finds a table by `name` or `schema.name` (exact first, then
    /// case-insensitive, as SQL Server's default collations compare).
    pub fn table(&self, name: &str) -> Result<&Table> {
        let matches = |t: &Table, eq: &dyn Fn(&str, &str) -> bool| {
            eq(&t.name, name)
                || eq(&t.qualified_name(), name)
                || eq(&format!("[{}].[{}]", t.schema, t.name), name)
        };
        self.tables
            .iter()
            .find(|t| matches(t, &|a, b| a == b))
            .or_else(|| {
                self.tables
                    .iter()
                    .find(|t| matches(t, &|a, b| a.eq_ignore_ascii_case(b)))
            })
            .ok_or_else(|| Error::NotFound {
                source_name: self.pages.name().to_owned(),
                what: format!("table {name}"),
            })
    }

    /// Listing of every table from catalog and allocation (IAM) pages only.
    pub fn summaries(&self) -> Result<Vec<TableSummary>> {
        self.tables
            .iter()
            .map(|t| {
                Ok(TableSummary {
                    schema: t.schema.clone(),
                    name: t.name.clone(),
                    object_id: t.object_id,
                    cached_rows: t.cached_rows(),
                    pages: self.allocated_pages(t)?,
                    compressed: t.is_compressed(),
                })
            })
            .collect()
    }

    /// Pages the IAM chains of all allocation units of every index of the
    /// table list.
    fn allocated_pages(&self, table: &Table) -> Result<u64> {
        let rowsets: Vec<i64> = self
            .catalog
            .rowsets
            .iter()
            .filter(|r| r.object_id == table.object_id)
            .map(|r| r.id)
            .collect();
        let mut total = 0u64;
        for au in self
            .catalog
            .alloc_units
            .iter()
            .filter(|a| rowsets.contains(&a.owner))
        {
            if matches!(au.kind, AllocUnitType::Other(_)) {
                continue;
            }
            let mut next = au.first_iam;
            let mut seen = std::collections::HashSet::<PageId>::new();
            while !next.is_null() && seen.insert(next) {
                let page = match self.pages.get(next) {
                    Ok(p) => p,
                    Err(e) if e.is_damage() => break,
                    Err(e) => return Err(e),
                };
                let Ok(iam) = IamPage::parse(self.pages.name(), &page) else {
                    break;
                };
                total += iam.single_pages.len() as u64 + 8 * iam.extents.len() as u64;
                next = iam.next;
            }
        }
        Ok(total)
    }

    /// Iterates over the rows of `table`; see [`RowScan`] for how damage is
    /// reported.
    pub fn rows<'a>(&'a self, table: &'a Table, opts: ScanOptions) -> RowScan<'a, S> {
        RowScan::new(&self.pages, table, opts)
    }

    /// Counts rows on the data pages (the catalog's count can be stale).
    pub fn count_rows(&self, table: &Table) -> Result<RowCount> {
        let mut c = RowCount::default();
        let opts = ScanOptions {
            include_deleted: true,
            count_only: true,
        };
        for r in self.rows(table, opts) {
            match r {
                Ok(row) if row.is_deleted() => c.deleted += 1,
                Ok(_) => c.live += 1,
                Err(e) if e.is_damage() => c.damaged += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(c)
    }
}

/// Schema id of `sys`.
const SYS_SCHEMA: i32 = 4;

/// Names of the fixed schema ids, when `sysclsobjs` is unreadable.
fn default_schema(id: i32) -> String {
    match id {
        1 => "dbo".into(),
        3 => "INFORMATION_SCHEMA".into(),
        4 => "sys".into(),
        other => format!("schema_{other}"),
    }
}
