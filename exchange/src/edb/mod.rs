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
pub mod tags {
    /// PR_IMPORTANCE.
    pub const IMPORTANCE: u16 = 0x0017;
    /// PR_MESSAGE_CLASS.
    pub const MESSAGE_CLASS: u16 = 0x001A;
    /// PR_SUBJECT.
    pub const SUBJECT: u16 = 0x0037;
    /// PR_CLIENT_SUBMIT_TIME.
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    /// PR_SUBJECT_PREFIX.
    pub const SUBJECT_PREFIX: u16 = 0x003D;
    /// PR_SENT_REPRESENTING_NAME.
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    /// PR_SENT_REPRESENTING_ADDRTYPE.
    pub const SENT_REPRESENTING_ADDRTYPE: u16 = 0x0064;
    /// PR_SENT_REPRESENTING_EMAIL_ADDRESS.
    pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
    /// PR_TRANSPORT_MESSAGE_HEADERS.
    pub const TRANSPORT_MESSAGE_HEADERS: u16 = 0x007D;
    /// PR_RECIPIENT_TYPE.
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    /// PR_SENDER_NAME.
    pub const SENDER_NAME: u16 = 0x0C1A;
    /// PR_SENDER_ADDRTYPE.
    pub const SENDER_ADDRTYPE: u16 = 0x0C1E;
    /// PR_SENDER_EMAIL_ADDRESS.
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    /// PR_DISPLAY_BCC.
    pub const DISPLAY_BCC: u16 = 0x0E02;
    /// PR_DISPLAY_CC.
    pub const DISPLAY_CC: u16 = 0x0E03;
    /// PR_DISPLAY_TO.
    pub const DISPLAY_TO: u16 = 0x0E04;
    /// PR_MESSAGE_DELIVERY_TIME.
    pub const DELIVERY_TIME: u16 = 0x0E06;
    /// PR_NORMALIZED_SUBJECT.
    pub const NORMALIZED_SUBJECT: u16 = 0x0E1D;
    /// PR_BODY.
    pub const BODY: u16 = 0x1000;
    /// PR_RTF_COMPRESSED.
    pub const RTF_COMPRESSED: u16 = 0x1009;
    /// PR_HTML.
    pub const HTML: u16 = 0x1013;
    /// PR_INTERNET_MESSAGE_ID.
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    /// PR_INTERNET_REFERENCES.
    pub const INTERNET_REFERENCES: u16 = 0x1039;
    /// PR_IN_REPLY_TO_ID.
    pub const IN_REPLY_TO_ID: u16 = 0x1042;
    /// PR_DISPLAY_NAME.
    pub const DISPLAY_NAME: u16 = 0x3001;
    /// PR_ADDRTYPE.
    pub const ADDRTYPE: u16 = 0x3002;
    /// PR_EMAIL_ADDRESS.
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    /// PR_CREATION_TIME.
    pub const CREATION_TIME: u16 = 0x3007;
    /// PR_LAST_MODIFICATION_TIME.
    pub const LAST_MODIFICATION_TIME: u16 = 0x3008;
    /// PR_CONTAINER_CLASS.
    pub const CONTAINER_CLASS: u16 = 0x3613;
    /// PR_ATTACH_DATA_BIN.
    pub const ATTACH_DATA_BIN: u16 = 0x3701;
    /// PR_ATTACH_FILENAME.
    pub const ATTACH_FILENAME: u16 = 0x3704;
    /// PR_ATTACH_METHOD.
    pub const ATTACH_METHOD: u16 = 0x3705;
    /// PR_ATTACH_LONG_FILENAME.
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    /// PR_ATTACH_PATHNAME.
    pub const ATTACH_PATHNAME: u16 = 0x3708;
    /// PR_ATTACH_LONG_PATHNAME.
    pub const ATTACH_LONG_PATHNAME: u16 = 0x370D;
    /// PR_ATTACH_MIME_TAG.
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    /// PR_ATTACH_CONTENT_ID.
    pub const ATTACH_CONTENT_ID: u16 = 0x3712;
    /// PR_SMTP_ADDRESS.
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    /// PR_SENDER_SMTP_ADDRESS.
    pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
    /// PR_SENT_REPRESENTING_SMTP_ADDRESS.
    pub const SENT_REPRESENTING_SMTP_ADDRESS: u16 = 0x5D02;
}
