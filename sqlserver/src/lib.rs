//! Offline reader of SQL Server data files (.mdf), on any
//! [`kairos_parsers::Source`] — a file, or a kairos point-in-time view.
//!
//! What is read (format notes: `../shared/docs/formats/sqlserver-mdf.md`):
//! - pages: the 96-byte header, slot arrays, checksum verification
//!   ([`page`]); the boot page with version and name ([`boot_page`]);
//! - the system base tables `sysallocunits`, `sysrowsets`, `sysrscols`
//!   (bootstrapped from their fixed leading columns), then `sysschobjs`,
//!   `syscolpars`, `sysidxstats`, `sysiscols`, `sysclsobjs` decoded through
//!   their own `sysrscols` layout ([`catalog`]) → user tables, columns,
//!   types, indexes, allocation units ([`table`]);
//! - rows of heaps (IAM chains, PFS allocation) and clustered indexes (leaf
//!   chain, with an IAM fallback when the chain is broken), forwarded rows,
//!   ghost records and records left in freed slots ([`scan`]);
//! - FixedVar records ([`record`]) and every common type ([`types`]),
//!   char data through the collation's code page ([`collation`]), off-row
//!   values: text/ntext/image, (max) types and row-overflow ([`lob`]);
//! - exports to CSV, JSONL and SQL script ([`export`]) and the item tree
//!   `Database → Table → Row` ([`tree`]);
//! - the statements `sql push` sends to a live server, and with the `push`
//!   feature the tiberius client that sends them ([`push`]).
//!
//! What is not read yet: ROW/PAGE compressed and columnstore data (detected
//! and reported), binary XML (xml values stored in SQL Server's binary
//! form come out as error values), sparse column sets, secondary data files
//! (NDF) of multi-file databases, the transaction log. SQL Server 2000
//! files (version 539) are refused.
//!
//! Damage never stops a read: a bad page comes out of a row scan as an
//! error naming page and field, and the scan continues.

mod bytes;

pub mod boot_page;
pub mod catalog;
pub mod collation;
pub mod database;
pub mod export;
pub mod iam;
pub mod lob;
pub mod page;
pub mod pages;
pub mod push;
pub mod record;
pub mod row;
pub mod scan;
pub mod table;
pub mod tree;
pub mod types;
pub mod value;

pub use boot_page::BootPage;
pub use database::{Database, RowCount, TableSummary};
pub use export::{ExportReport, Format, export_table};
pub use scan::{Row, RowScan, RowState, ScanOptions};
pub use table::{Column, Index, Table};
pub use types::SqlType;
pub use value::Value;
