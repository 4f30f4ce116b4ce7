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
//! Where real files differ from the format notes (checked on the samples):
//! - the IAM header's start page is at record offset 40 and the eight
//!   single-page slots at 46–93 (notes: 36 / 42);
//! - SQL Server 2005 (version 611) has no `sysrscols`: the physical layout is
//!   in `syshobtcolumns` (object 13, typed by xtype/length, not `ti`);
//! - files upgraded from SQL Server 2000 carry legacy ids in page headers
//!   (leaf pages of a clustered unit with index id 0), use LOB root type 4
//!   (`LARGE_ROOT_SHILOH`, same links as type 5) and torn-page detection:
//!   the pattern is in bits 0–1 of `m_tornBits`, the original low bits of
//!   sector *s*'s last byte in bits `2s..2s+2`;
//! - `sysrscols.rscolid` is the logical column id (`syscolpars.colid`),
//!   `hbcolid` the physical ordinal (they differ when the clustered key is
//!   not the leading columns); the uniquifier has rscolid 0;
//! - var-column leaf offsets are −1, −2, … (1-based) and null bits 1-based.
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
