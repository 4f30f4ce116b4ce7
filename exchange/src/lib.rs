//! Mailboxes, folders, messages and attachments from Outlook PST/OST files
//! and Exchange EDB databases, as one item tree with EML export.
//!
//! What is read:
//! - Exchange 2010–2019 mailbox databases ([`edb`]) through the pure-Rust
//!   ESE reader `kairos-ese`, on any `Source` (engine views in place):
//!   mailboxes (`Mailbox`, else the `Folder_N` table names; dirty-shutdown
//!   and header warnings as mailbox notes), the folder tree (`Folder_N`,
//!   names and container classes from columns or the property blob),
//!   Recoverable Items and its subfolders with their messages marked
//!   deleted, a synthetic "(messages without a folder)" top folder for
//!   messages filed in the root or in a folder row lost to damage,
//!   message listings from `Message_N` without bodies, whole
//!   messages (subject, sender, on-behalf-of, recipients from
//!   `RecipientList`, dates, Internet ids and headers, PR_BODY, PR_HTML /
//!   `NativeBody`, PR_RTF_COMPRESSED), attachments from `Attachment_N`
//!   (linked by `SubobjectsBlob` or `MessageDocumentId`; files, inline
//!   images with Content-ID, embedded messages stored in RFC 5322 form
//!   passed through as message/rfc822). "ProP" property blobs are decoded
//!   per exchange-store.md §4 ([`edb::prop_blob`]), `PropertyBlobDelta`
//!   merged over `PropertyBlob`, `OffPagePropertyBlob` adding what the main
//!   blob lacks when a whole message is read; a value that cannot be decoded marks the
//!   item damaged and names table, page and column.
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
//! Not yet for EDB (the store's on-disk schema is unpublished; everything
//! above is checked on generated databases only — no real mailbox database
//! is public): values moved out of the blob (NEAR/FAR, `SeparatedPropertyNN`,
//! `LargePropertyValueBlob`) are reported, not read — `OffPagePropertyBlob`
//! is read only when it is itself a ProP blob;
//! named properties (`ExtendedPropertyNameMapping_N`), so contact and
//! calendar details; embedded messages stored as message rows; associated
//! (hidden) messages are not listed; Xpress9/10-compressed columns (`kairos-ese`
//! reports them).
//!
//! Not yet: MSG export;
//! task and note fields as text; named properties beyond the contact and
//! calendar ones listed in [`pst`]; HTML de-encapsulated from RTF
//! (`\fromhtml`) — an RTF-only body is exported as a plain-text rendering
//! ([`rtf::to_text`]) plus the RTF itself. 4 KiB-page OSTs (wVer 36) are
//! left to libpff and untested: no public sample has been found.
//!
//! Format notes: `../shared/docs/formats/pst.md` (PST/OST),
//! `exchange-store.md` (the Exchange store schema and the MAPI message
//! model) and `ese.md` (the database engine underneath).

pub mod edb;
pub mod eml;
pub mod mapi;
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
