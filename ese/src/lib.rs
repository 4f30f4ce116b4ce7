//! kairos-ese: a pure-Rust reader of ESE (JET Blue) databases — Exchange
//! mailbox stores, Active Directory, SRUM, Windows Search, UAL and any other
//! `.edb` — on any [`kairos_parsers::Source`], reading only the pages it needs.
//!
//! Format notes: `../shared/docs/formats/ese.md`; the reference is the MIT
//! engine source (`microsoft/Extensible-Storage-Engine`), each module names
//! the structures it follows.
//!
//! What is read:
//! - [`header`]: the file header (state, versions, page size 2–32 KiB) with
//!   fallback to the shadow copy when page 0 fails its checksum.
//! - [`page`]: page headers (40-byte and 80-byte large-page variants), tags
//!   and their flags per page size, nodes with key-prefix compression.
//! - [`checksum`]: old XOR and new XOR+ECC page checksums (16/32 KiB pages in
//!   blocks); mismatches are reported as damage, not fatal.
//! - [`btree`]: full scans and key seeks, bounded against cycles and depth.
//! - [`catalog`]: MSysObjects (or its shadow) → tables, columns, defaults,
//!   long-value trees, indexes, template (derived) tables.
//! - [`record`]: fixed, variable and tagged columns, multi-values.
//! - [`long_value`]: separated long values from the LV tree.
//! - [`compression`]: 7-bit ASCII/Unicode, XPRESS and LZ4; XPRESS9/XPRESS10
//!   detected and reported as not supported yet.
//! - [`key`] and [`seek`]: keyed lookups on a table's primary index —
//!   `Database::seek` (one record by its full key) and
//!   `Database::records_from` (all records whose key starts with given
//!   values) — reading O(depth) pages; keys normalized for integer and bit
//!   columns.
//! - [`value`]: typed values for every column type; [`export`]: TSV/JSONL.
//! - [`tree`]: the `ItemTree` (Database → Table → Row) the GUI and CLI browse.
//!
//! Not yet: log replay (dirty files are read as on disk, with a warning),
//! ECC single-bit correction (detected, not corrected), XPRESS9/10
//! decoding, encrypted long values, the pre-2003 (revision < 9) tagged-column
//! format, secondary-index lookups (indexes are listed, scans use the
//! primary tree), keyed lookups on text, binary, GUID, floating-point and
//! DateTime key columns (their normalization is not implemented yet).

pub mod btree;
pub mod catalog;
pub mod checksum;
pub mod column;
pub mod compression;
pub mod database;
pub mod export;
pub mod header;
pub mod key;
pub mod long_value;
pub mod page;
pub mod record;
pub mod seek;
pub mod tree;
pub mod value;

pub use catalog::Table;
pub use column::{Column, ColumnType};
pub use database::{Database, Record, Records, TableStats, Warning};
pub use export::{ExportFormat, export_table};
pub use header::{DbState, Header};
pub use key::{KeyError, KeySegment};
pub use seek::KeyRange;
pub use value::Value;
