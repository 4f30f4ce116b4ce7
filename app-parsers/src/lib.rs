//! The seam between kairos' storage and its application parsers.
//!
//! Every parser (SQL Server, ESE/Exchange, PST/OST, SharePoint) reads its file
//! through [`Source`], a random-access byte source. The engine implements
//! `Source` for "stream S as of instant T", plain files and memory implement it
//! too, so a parser never knows whether it is reading a live file, a sample in
//! a test, or a point-in-time view that decompresses chunks on demand.
//!
//! What this crate holds:
//! - [`source`]: the `Source` contract, file and memory sources, and
//!   [`CountingSource`], which counts the pages a parser touched so tests and
//!   benchmarks can assert laziness ("listing tables read N pages").
//! - [`error`]: the shared error type; every error names the source, the place
//!   (offset or page) and the field, so an operator can act on it.
//! - [`item`]: the item tree (`Database → Table → Row`,
//!   `Mailbox → Folder → Message → Attachment`, ...) that the CLI and the GUI
//!   browse, with stable path strings.
//! - [`sniff`]: format detection from the first pages of a file.
//! - [`lzxpress`]: LZXPRESS plain-LZ77 decompression ([MS-XCA]), shared by
//!   the formats that compress with it (ESE columns, ...).
//!
//! What it does not hold: any format-specific decoding (that lives in the
//! parser crates) and anything about the store (that lives in the engine).
//! Format notes are in `../shared/docs/formats/`.

pub mod error;
pub mod item;
pub mod lzxpress;
pub mod sniff;
pub mod source;

pub use error::{Error, Location, Result};
pub use item::{ExportKind, Field, FieldValue, Item, ItemKind, ItemPath, ItemStatus, ItemTree};
pub use sniff::{EseState, PstClient, PstEncoding, Sniffed, sniff};
pub use source::{CountingSource, FileSource, MemSource, Source, SourceExt};
