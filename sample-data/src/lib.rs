//! Fixture and demo-store generators.
//!
//! No real Exchange database is small and public, so kairos writes its own:
//!
//! - [`ese_writer`]: writes ESE (JET Blue) database files from a table
//!   description — file header and shadow, page headers (40-byte small and
//!   80-byte large), tags, B+ trees with key prefix compression and branch
//!   pages, owned/available space trees, the catalog (MSysObjects with its
//!   Name and RootObjects indexes, MSysObjectsShadow, MSysObjids), records
//!   with fixed, variable and tagged columns, multi-valued columns (incl. the
//!   two-value form), separated long values in the long-value tree,
//!   compressed long-value columns (7-bit ASCII/Unicode, Xpress), and the
//!   XOR/ECC page checksums, at 4/8/16/32 KiB pages, format 0x620 rev 0x14,
//!   clean shutdown. Not written: secondary indexes of user tables, LID64,
//!   Xpress9/10 and LZ4, default values, template tables, MSysLocales, logs
//!   and dirty states.
//! - [`exchange`]: an Exchange 2013–2019 style mailbox database on top of it
//!   (`Mailbox`, `Folder_N`, `Message_N`, `Attachment_N`, ProP property
//!   blobs), deterministic from a seed, with a JSON [`exchange::Manifest`] of
//!   everything written; `examples/gen_edb.rs` writes one to disk.
//! - [`demo`]: the demo store (`kairos demo`): one simulated working day
//!   of the generated Exchange database and, when the shared samples are
//!   there, Northwind and an Outlook file, with markers and a walkthrough.
//! - [`rtf`]: the [MS-OXRTFCP] compressed-RTF writer used for
//!   PR_RTF_COMPRESSED.
//!
//! Format notes: `../shared/docs/formats/ese.md` and `exchange-store.md`.
//! The output is checked by two independent readers in the tests: libesedb
//! (`esedbinfo`, `esedbexport`; Debian libesedb-utils) and dissect.esedb
//! (PyPI, with `compressed-rtf` for RTF bodies).

pub mod demo;
pub mod ese_writer;
pub mod exchange;
pub mod rtf;
