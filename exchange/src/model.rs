//! The mailbox model shared by every mail reader in this crate (PST/OST
//! through libpff, Exchange EDB through kairos-ese): Mailbox → Folder → Message →
//! Attachment, as plain data decoded from MAPI properties.
//!
//! A reader implements [`MailStore`]; [`crate::tree::MailboxTree`] turns any
//! `MailStore` into the `kairos_parsers::ItemTree` the CLI and GUI browse, and
//! [`crate::eml`] writes any [`Message`] as RFC 5322/MIME. Nothing here knows
//! about PST or ESE.

use jiff::Timestamp;
use kairos_parsers::{ItemStatus, Result};
use serde::Serialize;

/// An opaque key a [`MailStore`] gives a mailbox, folder or message. Keys of
/// messages appear in item paths (`Subject [key]`), so a store must keep
/// them stable for the same item across instants (a PST uses the node id)
/// and free of `/`, `[` and `]`.
pub type Key = String;

/// One mailbox: an Exchange mailbox, or the single store of a PST/OST.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MailboxInfo {
    /// Store key.
    pub key: Key,
    /// Display name (PR_DISPLAY_NAME of the message store, else "Mailbox").
    pub name: String,
    /// Things the operator should know when opening it (password-protected
    /// PST, file format, encryption), one sentence each.
    pub notes: Vec<String>,
}

/// One folder as listed in its parent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FolderInfo {
    /// Store key.
    pub key: Key,
    /// Display name.
    pub name: String,
    /// PR_CONTAINER_CLASS (`IPF.Note`, `IPF.Contact`, ...), if set.
    pub container_class: Option<String>,
    /// Live folder, or the synthetic "Recovered" folder of deleted items.
    pub status: ItemStatus,
}

/// A display name with an address (`SMTP` or Exchange `EX` distinguished name).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Address {
    /// Display name; may be empty.
    pub name: String,
    /// E-mail address as stored; may be empty.
    pub email: String,
    /// Address type (`SMTP`, `EX`, ...), empty when unknown.
    pub addr_type: String,
    /// The SMTP address when stored separately (PR_SMTP_ADDRESS,
    /// PR_SENDER_SMTP_ADDRESS): what an Exchange (`EX`) entry is reachable at.
    pub smtp: String,
}

impl Address {
    /// True when neither name nor address is known.
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.email.is_empty()
    }

    /// The address to put in an Internet header: the SMTP address when
    /// known, else the stored address.
    pub fn internet_email(&self) -> &str {
        if self.smtp.is_empty() {
            &self.email
        } else {
            &self.smtp
        }
    }

    /// `Name <email>`, or whichever part exists (the form pffexport's
    /// headers and most mail clients show).
    pub fn display(&self) -> String {
        match (self.name.is_empty(), self.email.is_empty()) {
            (false, false) if self.name != self.email => format!("{} <{}>", self.name, self.email),
            (false, _) => self.name.clone(),
            _ => self.email.clone(),
        }
    }
}

/// Which header a recipient belongs in (PR_RECIPIENT_TYPE 0x0C15).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    /// MAPI_TO (1).
    To,
    /// MAPI_CC (2).
    Cc,
    /// MAPI_BCC (3).
    Bcc,
}

impl RecipientKind {
    /// From PR_RECIPIENT_TYPE; unknown values (and the P1 resend bit) fall
    /// back to the low bits, then to `To`.
    pub fn from_mapi(value: u32) -> Self {
        match value & 0x0F {
            2 => RecipientKind::Cc,
            3 => RecipientKind::Bcc,
            _ => RecipientKind::To,
        }
    }
}

/// One recipient.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recipient {
    /// To, Cc or Bcc.
    pub kind: RecipientKind,
    /// Who.
    pub address: Address,
}

/// What an attachment holds.
#[derive(Debug, Clone, PartialEq)]
pub enum AttachmentContent {
    /// File bytes (ATTACH_BY_VALUE).
    Data(Vec<u8>),
    /// An embedded message (ATTACH_EMBEDDED_MSG).
    Message(Box<Message>),
    /// An embedded message kept in its RFC 5322 form (as an Exchange
    /// database may store it): exported byte for byte as message/rfc822.
    Rfc822(Vec<u8>),
    /// A link to a file outside the store (ATTACH_BY_REFERENCE...): the path.
    Reference(String),
    /// The content could not be read; the reason, naming file and place.
    Unreadable(String),
}

/// One attachment of a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    /// File name (PR_ATTACH_LONG_FILENAME, else PR_ATTACH_FILENAME, else
    /// PR_DISPLAY_NAME); may be empty.
    pub name: String,
    /// PR_ATTACH_MIME_TAG.
    pub mime_type: Option<String>,
    /// PR_ATTACH_CONTENT_ID: set for inline images an HTML body refers to
    /// as `cid:`.
    pub content_id: Option<String>,
    /// The content.
    pub content: AttachmentContent,
}

impl Attachment {
    /// Bytes of a file attachment, `None` for other kinds.
    pub fn data(&self) -> Option<&[u8]> {
        match &self.content {
            AttachmentContent::Data(d) => Some(d),
            _ => None,
        }
    }
}

/// The kind of item a message class denotes, for icons and text rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    /// `IPM.Note`, reports and everything not listed below.
    Mail,
    /// `IPM.Appointment`, `IPM.Schedule.Meeting.*`.
    Appointment,
    /// `IPM.Contact`, `IPM.DistList`.
    Contact,
    /// `IPM.Task*`.
    Task,
    /// `IPM.StickyNote`.
    Note,
}

impl MessageKind {
    /// From PR_MESSAGE_CLASS (case-insensitive, per [MS-OXCMSG]).
    pub fn from_class(class: &str) -> Self {
        let c = class.to_ascii_lowercase();
        if c.starts_with("ipm.appointment") || c.starts_with("ipm.schedule.meeting") {
            MessageKind::Appointment
        } else if c.starts_with("ipm.contact") || c.starts_with("ipm.distlist") {
            MessageKind::Contact
        } else if c.starts_with("ipm.task") {
            MessageKind::Task
        } else if c.starts_with("ipm.stickynote") {
            MessageKind::Note
        } else {
            MessageKind::Mail
        }
    }
}

/// What a folder listing shows of a message, without reading its bodies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageSummary {
    /// Store key (stable; goes into the item path).
    pub key: Key,
    /// Subject with the subject-prefix marker removed.
    pub subject: String,
    /// Sender (PR_SENDER_NAME / PR_SENDER_EMAIL_ADDRESS).
    pub sender: Address,
    /// Delivery time, else submit time, else creation time.
    pub date: Option<Timestamp>,
    /// PR_MESSAGE_CLASS.
    pub class: String,
    /// Number of attachments.
    pub attachment_count: usize,
    /// Live, or Recovered for items found in deleted space.
    pub status: ItemStatus,
}

/// A whole message: headers, bodies, recipients and attachments.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Store key (empty for an embedded message).
    pub key: Key,
    /// Live or Recovered.
    pub status: ItemStatus,
    /// PR_MESSAGE_CLASS.
    pub class: String,
    /// Subject with the subject-prefix marker removed (see [`clean_subject`]).
    pub subject: String,
    /// PR_SENDER_NAME / PR_SENDER_EMAIL_ADDRESS (SMTP address preferred).
    pub sender: Address,
    /// PR_SENT_REPRESENTING_* ("on behalf of"), when different data is stored.
    pub sent_representing: Address,
    /// To/Cc/Bcc, in table order.
    pub recipients: Vec<Recipient>,
    /// PR_CLIENT_SUBMIT_TIME.
    pub submit_time: Option<Timestamp>,
    /// PR_MESSAGE_DELIVERY_TIME.
    pub delivery_time: Option<Timestamp>,
    /// PR_CREATION_TIME.
    pub creation_time: Option<Timestamp>,
    /// PR_LAST_MODIFICATION_TIME.
    pub modification_time: Option<Timestamp>,
    /// PR_INTERNET_MESSAGE_ID.
    pub message_id: Option<String>,
    /// PR_IN_REPLY_TO_ID.
    pub in_reply_to: Option<String>,
    /// PR_INTERNET_REFERENCES.
    pub references: Option<String>,
    /// PR_TRANSPORT_MESSAGE_HEADERS: the original Internet headers, when the
    /// message arrived over SMTP.
    pub transport_headers: Option<String>,
    /// PR_BODY.
    pub body_text: Option<String>,
    /// PR_HTML, bytes as stored.
    pub body_html: Option<Vec<u8>>,
    /// PR_RTF_COMPRESSED, decompressed ([MS-OXRTFCP]).
    pub body_rtf: Option<Vec<u8>>,
    /// Contact and calendar fields rendered as text (label, value), in
    /// display order; empty for mail.
    pub details: Vec<(String, String)>,
    /// Attachments, in attachment-table order.
    pub attachments: Vec<Attachment>,
}

impl Message {
    /// What kind of item the class denotes.
    pub fn kind(&self) -> MessageKind {
        MessageKind::from_class(&self.class)
    }

    /// The date a mail client shows: delivery, else submit, else creation.
    pub fn date(&self) -> Option<Timestamp> {
        self.delivery_time
            .or(self.submit_time)
            .or(self.creation_time)
    }

    /// The summary a folder listing shows.
    pub fn summary(&self) -> MessageSummary {
        MessageSummary {
            key: self.key.clone(),
            subject: self.subject.clone(),
            sender: self.sender.clone(),
            date: self.date(),
            class: self.class.clone(),
            attachment_count: self.attachments.len(),
            status: self.status.clone(),
        }
    }
}

/// Removes the subject-prefix marker: PR_SUBJECT may start with U+0001 and
/// one character whose code is the prefix length (`"\u{1}\u{5}RE: Hi"`);
/// both control characters are dropped ([MS-PST] note in formats/pst.md §3.1).
pub fn clean_subject(raw: &str) -> String {
    let mut chars = raw.chars();
    match chars.next() {
        Some(c) if u32::from(c) < 0x20 => {
            chars.next();
            chars.as_str().to_owned()
        }
        _ => raw.to_owned(),
    }
}

/// Converts a Windows FILETIME (100 ns ticks since 1601-01-01 UTC) to a
/// timestamp; 0 and values outside jiff's range are "not set".
pub fn timestamp_from_filetime(filetime: u64) -> Option<Timestamp> {
    const UNIX_EPOCH_TICKS: i128 = 116_444_736_000_000_000;
    if filetime == 0 {
        return None;
    }
    let nanos = (i128::from(filetime) - UNIX_EPOCH_TICKS) * 100;
    Timestamp::from_nanosecond(nanos).ok()
}

/// A source of mailboxes, folders and messages: what a mail reader (PST/OST,
/// Exchange EDB) implements so the item tree and EML export work on it.
///
/// Keys are the store's own; the tree never invents them. Listing calls must
/// stay cheap (no bodies, no attachment data); [`MailStore::message`] reads
/// the whole message.
pub trait MailStore {
    /// Human name of the underlying source (for errors).
    fn source_name(&self) -> &str;
    /// The mailboxes in the store (a PST/OST has exactly one).
    fn mailboxes(&self) -> Result<Vec<MailboxInfo>>;
    /// The top-level folders of a mailbox (for a PST: the root folder's
    /// children, plus the synthetic "Recovered" folder, always listed and
    /// scanned only when opened).
    fn top_folders(&self, mailbox: &Key) -> Result<Vec<FolderInfo>>;
    /// The sub-folders of a folder.
    fn sub_folders(&self, folder: &Key) -> Result<Vec<FolderInfo>>;
    /// The messages of a folder.
    fn messages(&self, folder: &Key) -> Result<Vec<MessageSummary>>;
    /// One message with bodies, recipients and attachments.
    fn message(&self, key: &Key) -> Result<Message>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_prefix_marker_is_stripped() {
        assert_eq!(clean_subject("\u{1}\u{4}RE: Hello"), "RE: Hello");
        assert_eq!(clean_subject("Hello"), "Hello");
        assert_eq!(clean_subject(""), "");
        assert_eq!(clean_subject("\u{1}"), "");
    }

    #[test]
    fn filetime_converts_to_utc() {
        // 2010-03-15T17:12:05Z as FILETIME: (1268673125 s + 11644473600 s) * 10^7.
        let ft = (1_268_673_125u64 + 11_644_473_600) * 10_000_000;
        assert_eq!(
            timestamp_from_filetime(ft).map(|t| t.to_string()),
            Some("2010-03-15T17:12:05Z".into())
        );
        assert_eq!(timestamp_from_filetime(0), None);
    }

    #[test]
    fn classes_map_to_kinds() {
        assert_eq!(MessageKind::from_class("IPM.Note"), MessageKind::Mail);
        assert_eq!(
            MessageKind::from_class("IPM.Schedule.Meeting.Request"),
            MessageKind::Appointment
        );
        assert_eq!(MessageKind::from_class("ipm.contact"), MessageKind::Contact);
        assert_eq!(RecipientKind::from_mapi(0x1000_0002), RecipientKind::Cc);
    }

    #[test]
    fn address_display_forms() {
        let a = Address {
            name: "Ann".into(),
            email: "ann@x.org".into(),
            addr_type: "SMTP".into(),
            smtp: String::new(),
        };
        assert_eq!(a.display(), "Ann <ann@x.org>");
        let b = Address {
            email: "b@x.org".into(),
            ..Address::default()
        };
        assert_eq!(b.display(), "b@x.org");
    }
}
