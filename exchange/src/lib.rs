//! Mailboxes, folders, messages and attachments from Outlook PST/OST files
//! (and, later, Exchange EDB databases), as one item tree with EML export.
//!
//! What is read:
//! - PST/OST/PAB through libpff ([`pst`]): ANSI and Unicode files, 4 KiB-page
//!   OSTs, both encodings; folders, messages (subject without the prefix
//!   marker, sender, recipients, dates, class, Internet headers), plain,
//!   HTML and compressed-RTF bodies ([`rtf`], [MS-OXRTFCP]), attachments
//!   (files, embedded messages, references, inline images with Content-ID),
//!   contact and calendar fields as text, and deleted items found by
//!   libpff's recovery scan plus orphan items (a "Recovered" folder, scanned
//!   only when opened). Password-protected PSTs
//!   open without the password (it is only a CRC, not encryption). libpff
//!   reads through a libbfio handle backed by a `kairos_parsers::Source`, so
//!   engine views are read in place.
//! - The model ([`model`]) and the item tree ([`tree`]) are reader-neutral;
//!   [`eml`] writes any model message as RFC 5322/MIME.
//!
//! Not yet: Exchange EDB mailboxes (the `edb` module, to come); MSG export;
//! task and note fields as text; named properties beyond the contact and
//! calendar ones listed in [`pst`]; HTML de-encapsulated from RTF
//! (`\fromhtml`) — an RTF-only body is exported as a plain-text rendering
//! ([`rtf::to_text`]) plus the RTF itself. 4 KiB-page OSTs (wVer 36) are
//! left to libpff and untested: no public sample has been found.
//!
//! Format notes: `../shared/docs/formats/pst.md` (PST/OST) and
//! `exchange-store.md` (the MAPI message model).

pub mod edb;
pub mod eml;
pub mod model;
pub mod pst;
pub mod rtf;
pub mod tree;

pub use edb::EdbStore;
pub use model::{MailStore, Message};
pub use pst::PstStore;
pub use tree::MailboxTree;

use std::sync::Arc;

use kairos_parsers::{Error, ItemTree, Location, Result, Sniffed, Source};

/// Opens any mail source as an item tree, choosing the reader from the
/// file's signature: PST/OST/PAB through libpff; an ESE database whose
/// catalog has the Exchange mailbox tables (`Folder_N` ...) through
/// [`edb::EdbStore`] (any other ESE database is refused with a pointer to
/// `kairos ese tables`); anything else is an error naming the source.
pub fn open_tree(source: Arc<dyn Source>) -> Result<Box<dyn ItemTree + Send>> {
    match kairos_parsers::sniff(&source)? {
        Sniffed::Pst { .. } => Ok(Box::new(MailboxTree::new(PstStore::open(source)?))),
        Sniffed::Ese { .. } => Ok(Box::new(MailboxTree::new(EdbStore::open(source)?))),
        other => Err(Error::corrupt(
            source.name(),
            Location::Offset(0),
            "file signature",
            format!(
                "not a PST/OST or Exchange EDB file (found: {})",
                other.format_name()
            ),
        )),
    }
}
