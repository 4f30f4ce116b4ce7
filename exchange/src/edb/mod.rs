//! Exchange 2010–2019 mailbox databases (.edb) read through the pure-Rust
//! ESE reader (`kairos-ese`), as a [`crate::model::MailStore`].
//!
//! Tables (exchange-store.md §2–§6; found by name in the catalog, never by
//! position): `Mailbox` (one row per mailbox; optional — the mailbox
//! numbers are also taken from the `Folder_N` table names), `Folder_N`
//! (folder hierarchy by `FolderId`/`ParentFolderId`), `Message_N` (one row
//! per message, filed by `FolderId`), `Attachment_N` (linked by the
//! message's `SubobjectsBlob` and by `MessageDocumentId`). MAPI properties
//! that are not columns come from the "ProP" blobs ([`prop_blob`]).
//!
//! One message is found by a keyed seek on `Message_N`'s primary index
//! (`MailboxPartitionNumber, MessageDocumentId`) and its listed attachments
//! by seeks on `Attachment_N` (`Inid`), reading O(depth) pages; when a
//! table's primary index is other columns (another Exchange version) or the
//! seek misses, the table is scanned as before.
//!
//! Modules: [`prop_blob`] decodes blobs; [`tags`] names the MAPI property
//! ids used; [`row`] reads columns by their real and alternative names;
//! [`store`] is the folder/message listing; [`message`] builds a whole
//! message with recipients, bodies and attachments.

pub mod message;
pub mod prop_blob;
pub mod row;
pub mod store;

pub use store::EdbStore;

/// MAPI property ids ([MS-OXPROPS]) read from the blobs.
pub use crate::mapi as tags;
