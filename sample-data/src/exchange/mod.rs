//! An Exchange 2013–2019 style mailbox database (.edb) generator on top of
//! [`crate::ese_writer`], with a manifest of exactly what was written.
//!
//! Schema (table and column names per `../shared/docs/formats/exchange-store.md`;
//! where the real store's layout is unknown, the choice made here is stated
//! and recorded in [`Manifest::conventions`] so readers can rely on it):
//! - `Mailbox` (key `MailboxNumber`) and `MailboxIdentity`.
//! - per mailbox *N*: `Folder_N` (key `MailboxPartitionNumber, FolderId`),
//!   `Message_N` (key `MailboxPartitionNumber, MessageDocumentId`),
//!   `Attachment_N` (key `Inid`).
//! - `FolderId` / `MessageId`: 26 bytes = 16-byte mailbox GUID, 8-byte
//!   big-endian counter, 2 zero bytes; the root folder's parent is 26 zeros.
//! - `PropertyBlob`: "ProP" blobs (flags 0x0400) with gromox's type and value
//!   encodings; strings as 0x4d/0x4e with UTF-8 bytes. Message bodies
//!   (PR_BODY, PR_HTML, PR_RTF_COMPRESSED) are kept below 2049 bytes so they
//!   stay inline in the blob; `NativeBody` holds the HTML body (UTF-8) with
//!   `BodyType` 3.
//! - `RecipientList`: multi-valued, one ProP blob per recipient.
//! - `SubobjectsBlob`: per attachment `0x21` + `Inid` (u64 LE); the
//!   attachment row also names its message in `MessageDocumentId`.
//! - An embedded message (PR_ATTACH_METHOD 5) is stored as its RFC 5322 form
//!   in `Content` with `ContentType` `message/rfc822`.
//! - A deleted message sits in `Recoverable Items/Deletions`
//!   (`SpecialFolderNumber` 21).

mod content;
mod prop_blob;
mod tables;

use serde::{Deserialize, Serialize};

use crate::ese_writer::{DatabaseSpec, WriteError, write_database};

/// What to generate.
#[derive(Clone, Debug)]
pub struct ExchangeOptions {
    /// Seeds every generated value.
    pub seed: u64,
    /// ESE page size: 8192 (Exchange 2007 style) or 32768 (2010+).
    pub page_size: u32,
    /// Number of mailboxes (1–4).
    pub mailboxes: usize,
    /// Extra small messages in the first mailbox's `Bulk` folder, so that
    /// `Message_N` spans many pages and needs branch pages.
    pub bulk_messages: usize,
    /// Messages left out, as `(MailboxNumber, MessageDocumentId)`: with the
    /// same seed this gives a later version of the same database in which
    /// those messages were removed (everything else is identical).
    pub omit_messages: Vec<(i32, i32)>,
    /// Mark every single-valued long column compressed, as Exchange 2013+
    /// does: values are stored 7-bit packed or Xpress-compressed (ese.md §8).
    pub compress_columns: bool,
}

impl Default for ExchangeOptions {
    fn default() -> Self {
        ExchangeOptions {
            seed: 7,
            page_size: 32768,
            mailboxes: 3,
            bulk_messages: 400,
            omit_messages: Vec::new(),
            compress_columns: false,
        }
    }
}

/// Everything the generator wrote, for readers' tests to compare against.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// Seed used.
    pub seed: u64,
    /// ESE page size.
    pub page_size: u32,
    /// Record count per table (system tables included).
    pub tables: Vec<TableCount>,
    /// Layout choices made where the real store is undocumented.
    pub conventions: Vec<String>,
    /// The mailboxes.
    pub mailboxes: Vec<MailboxManifest>,
}

/// A table and its number of records.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TableCount {
    /// Table name.
    pub name: String,
    /// Records written.
    pub records: usize,
}

/// A person (sender or recipient).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Person {
    /// Display name.
    pub name: String,
    /// SMTP address.
    pub email: String,
}

/// One mailbox.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MailboxManifest {
    /// `MailboxNumber` (the *N* of `Folder_N` ...).
    pub number: i32,
    /// `MailboxGuid`, hex of the 16 stored bytes.
    pub guid: String,
    /// Owner.
    pub owner: Person,
    /// Folders in creation order (parents before children).
    pub folders: Vec<FolderManifest>,
}

/// One folder.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FolderManifest {
    /// `FolderId` hex.
    pub id: String,
    /// `ParentFolderId` hex.
    pub parent_id: String,
    /// `DisplayName` (empty for the root).
    pub name: String,
    /// Path from the root, `/`-separated, starting with `/` (root = `/`).
    pub path: String,
    /// `SpecialFolderNumber`, if the folder is a special one.
    pub special_number: Option<i32>,
    /// Messages filed in this folder.
    pub messages: Vec<MessageManifest>,
}

/// One message.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct MessageManifest {
    /// `MessageDocumentId` (0 for an embedded message).
    pub document_id: i32,
    /// `MessageClass`.
    pub message_class: String,
    /// Full subject (PR_SUBJECT) = prefix + normalized subject.
    pub subject: String,
    /// `SubjectPrefix` (e.g. "RE: "), may be empty.
    pub subject_prefix: String,
    /// Sender.
    pub from: Person,
    /// To recipients.
    pub to: Vec<Person>,
    /// Cc recipients.
    pub cc: Vec<Person>,
    /// PR_CLIENT_SUBMIT_TIME / `DateSent`, RFC 3339 UTC.
    pub date_sent: String,
    /// `DateReceived`, RFC 3339 UTC.
    pub date_received: String,
    /// `DateSent` as stored: FILETIME (100 ns since 1601).
    pub date_sent_filetime: i64,
    /// PR_INTERNET_MESSAGE_ID.
    pub internet_message_id: String,
    /// PR_BODY.
    pub body_text: String,
    /// PR_HTML / `NativeBody` (UTF-8).
    pub body_html: String,
    /// The RTF whose compressed form is PR_RTF_COMPRESSED, if any.
    pub body_rtf: Option<String>,
    /// `IsRead`.
    pub is_read: bool,
    /// Filed in Recoverable Items after deletion.
    pub deleted: bool,
    /// Attachments.
    pub attachments: Vec<AttachmentManifest>,
}

/// One attachment.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AttachmentManifest {
    /// `Inid`.
    pub inid: i64,
    /// PR_ATTACH_METHOD: 1 by value, 5 embedded message.
    pub method: i32,
    /// `Name` / PR_ATTACH_LONG_FILENAME.
    pub name: String,
    /// `ContentType` / PR_ATTACH_MIME_TAG.
    pub content_type: String,
    /// PR_ATTACH_CONTENT_ID of inline attachments.
    pub content_id: Option<String>,
    /// Size of `Content` in bytes.
    pub size: usize,
    /// BLAKE3 of `Content`, hex.
    pub blake3: String,
    /// The embedded message (method 5).
    pub embedded: Option<Box<MessageManifest>>,
}

/// Generates the database and its manifest.
pub fn generate_exchange_edb(opts: &ExchangeOptions) -> Result<(Vec<u8>, Manifest), WriteError> {
    let (mut manifest, bytes) = content::build_manifest(opts);
    for mb in &mut manifest.mailboxes {
        for f in &mut mb.folders {
            f.messages
                .retain(|m| !opts.omit_messages.contains(&(mb.number, m.document_id)));
        }
    }
    let mut tables = tables::tables(&manifest, &bytes);
    if opts.compress_columns {
        for c in tables.iter_mut().flat_map(|t| t.columns.iter_mut()) {
            c.compressed = c.coltyp.is_long() && !c.multi_valued;
        }
        manifest
            .conventions
            .push("Compressed columns: every single-valued LongText/LongBinary column (7-bit or Xpress per value / LV chunk)".into());
    }
    manifest.tables = tables
        .iter()
        .map(|t| TableCount {
            name: t.name.clone(),
            records: t.rows.len(),
        })
        .collect();
    let spec = DatabaseSpec {
        page_size: opts.page_size,
        signature: opts.seed as u32 ^ 0xED8_2013,
        created_unix: content::BASE_UNIX - 86_400,
        tables,
    };
    Ok((write_database(&spec)?, manifest))
}
