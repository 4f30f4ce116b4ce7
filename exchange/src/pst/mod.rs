//! Outlook PST/OST/PAB files read through libpff, as a [`MailStore`].
//!
//! libpff decodes the NDB/LTP/messaging layers (ANSI, Unicode and 4 KiB-page
//! OST files, both encryption methods); this module turns its items into the
//! [`crate::model`] types: folders from the hierarchy tables, messages from
//! their property contexts (format notes: `formats/pst.md` §3), recipients,
//! attachments (file, embedded message, reference) and, through libpff's
//! recovery scan, deleted items still present in unallocated space (§4),
//! shown in a synthetic "Recovered" folder.
//!
//! Keys: folders and messages are keyed by their node id (NID) in decimal,
//! which is stable for the life of the item; recovered items by `r<index>`
//! and orphan items (allocated nodes no folder refers to) by `o<index>` in
//! libpff's lists, which are stable for the same bytes. Both are shown in
//! the "Recovered" folder with status Recovered.

mod ffi;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use kairos_parsers::{Error, ItemStatus, PstClient, Result, Sniffed, Source, sniff};

use crate::model::{
    Address, Attachment, AttachmentContent, FolderInfo, Key, MailStore, MailboxInfo, Message,
    MessageSummary, Recipient, RecipientKind, clean_subject, timestamp_from_filetime,
};
use crate::rtf;

pub use ffi::PffFile;
use ffi::{PffItem, RecordSet};

/// Key of the synthetic folder holding recovered (deleted) items.
pub const RECOVERED_KEY: &str = "recovered";
/// Display name of that folder.
pub const RECOVERED_NAME: &str = "Recovered";
/// Key of the single mailbox of a PST.
const STORE_KEY: &str = "store";
/// Embedded messages nest at most this deep (a hostile file could loop).
const MAX_EMBEDDING_DEPTH: usize = 8;

/// libpff `LIBPFF_ITEM_TYPE_*` values that are not messages
/// (`/usr/include/libpff/definitions.h`, enum order).
mod item_type {
    pub const UNDEFINED: u8 = 0;
    pub const ATTACHMENT: u8 = 3;
    pub const ATTACHMENTS: u8 = 4;
    pub const FOLDER: u8 = 14;
    pub const RECIPIENTS: u8 = 19;
    pub const SUB_ASSOCIATED_CONTENTS: u8 = 23;
    pub const SUB_FOLDERS: u8 = 24;
    pub const SUB_MESSAGES: u8 = 25;
    pub const UNKNOWN: u8 = 30;
}

/// MAPI property ids used here ([MS-OXPROPS]; formats/pst.md §3.1).
use crate::mapi as prop;

/// Contact properties rendered as text, in display order ([MS-OXOCNTC];
/// the 0x80xx ones are named properties that libpff maps by LID).
const CONTACT_FIELDS: &[(u16, &str)] = &[
    (0x3001, "Display name"),
    (0x8005, "File under"),
    (0x3A06, "Given name"),
    (0x3A44, "Middle name"),
    (0x3A11, "Surname"),
    (0x3A16, "Company"),
    (0x3A18, "Department"),
    (0x3A17, "Job title"),
    (0x8083, "E-mail"),
    (0x8093, "E-mail 2"),
    (0x80A3, "E-mail 3"),
    (0x3A08, "Business phone"),
    (0x3A09, "Home phone"),
    (0x3A1C, "Mobile phone"),
    (0x3A24, "Business fax"),
    (0x801B, "Business address"),
    (0x801A, "Home address"),
    (0x3A4F, "Nickname"),
];

/// A PST/OST/PAB file opened through libpff.
pub struct PstStore {
    file: Mutex<PffFile>,
    name: String,
    client: PstClient,
    /// Keys (`r<i>` recovered, `o<i>` orphan) of libpff's recovered and
    /// orphan items that are messages (scanned once,
    /// when the "Recovered" folder is first opened: the scan reads all
    /// unallocated space).
    recovered: OnceLock<Vec<Key>>,
}

/// A folder's or message's properties, read from record set 0.
struct Props<'a>(Option<RecordSet<'a>>);

impl Props<'_> {
    fn string(&self, id: u16) -> Result<Option<String>> {
        let Some(set) = &self.0 else { return Ok(None) };
        match set.entry(id)? {
            Some(e) => Ok(Some(e.utf8()?)),
            None => Ok(None),
        }
    }

    fn text(&self, id: u16) -> Result<String> {
        Ok(self.string(id)?.unwrap_or_default())
    }

    fn bytes(&self, id: u16) -> Result<Option<Vec<u8>>> {
        let Some(set) = &self.0 else { return Ok(None) };
        match set.entry(id)? {
            Some(e) => Ok(Some(e.data()?)),
            None => Ok(None),
        }
    }

    fn u32(&self, id: u16) -> Result<Option<u32>> {
        Ok(self
            .bytes(id)?
            .and_then(|b| b.get(..4).and_then(|b| b.try_into().ok()))
            .map(u32::from_le_bytes))
    }

    fn filetime(&self, id: u16) -> Result<Option<jiff::Timestamp>> {
        Ok(self
            .bytes(id)?
            .and_then(|b| b.get(..8).and_then(|b| b.try_into().ok()))
            .map(u64::from_le_bytes)
            .and_then(timestamp_from_filetime))
    }
}

fn props<'a>(item: &'a PffItem<'_>) -> Result<Props<'a>> {
    Ok(Props(item.record_set(0)?))
}

fn is_message_type(t: u8) -> bool {
    !matches!(
        t,
        item_type::UNDEFINED
            | item_type::ATTACHMENT
            | item_type::ATTACHMENTS
            | item_type::FOLDER
            | item_type::RECIPIENTS
            | item_type::SUB_ASSOCIATED_CONTENTS
            | item_type::SUB_FOLDERS
            | item_type::SUB_MESSAGES
            | item_type::UNKNOWN
    )
}

impl PstStore {
    /// Opens a PST/OST/PAB from any source (a file, or an engine view read
    /// in place). Fails with a clear error when the source is not one.
    pub fn open(source: Arc<dyn Source>) -> Result<Self> {
        let name = source.name().to_owned();
        let Sniffed::Pst { client, .. } = sniff(&source)? else {
            return Err(Error::corrupt(
                name,
                kairos_parsers::Location::Offset(0),
                "dwMagic",
                "not a PST/OST file (no \"!BDN\" signature)",
            ));
        };
        let file = PffFile::open(source)?;
        Ok(PstStore {
            file: Mutex::new(file),
            name,
            client,
            recovered: OnceLock::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PffFile> {
        // A panic while holding the lock leaves libpff's state as it was
        // (all calls are reads), so a poisoned lock is still usable.
        self.file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn not_found(&self, what: impl Into<String>) -> Error {
        Error::NotFound {
            source_name: self.name.clone(),
            what: what.into(),
        }
    }

    fn parse_nid(&self, key: &str, what: &str) -> Result<u32> {
        key.parse::<u32>()
            .map_err(|_| self.not_found(format!("{what} [{key}]")))
    }

    /// Keys of recovered and orphan messages; runs libpff's scan the first
    /// time.
    fn recovered(&self, file: &PffFile) -> Result<&[Key]> {
        if let Some(r) = self.recovered.get() {
            return Ok(r);
        }
        file.recover_items()?;
        let mut found = Vec::new();
        for (prefix, count) in [('r', file.recovered_count()?), ('o', file.orphan_count()?)] {
            for i in 0..count {
                let key = format!("{prefix}{i}");
                // An unreadable recovered item is ordinary (its blocks were
                // partly overwritten); it is skipped, as pffexport does.
                let Ok(Some(item)) = Self::deleted_item(file, &key) else {
                    continue;
                };
                if item.item_type().is_ok_and(is_message_type) {
                    found.push(key);
                }
            }
        }
        Ok(self.recovered.get_or_init(|| found))
    }

    /// The recovered (`r<i>`) or orphan (`o<i>`) item of a key; `Ok(None)`
    /// for any other key.
    fn deleted_item<'f>(file: &'f PffFile, key: &str) -> Result<Option<PffItem<'f>>> {
        let index = |rest: &str| rest.parse::<usize>().ok();
        if let Some(i) = key.strip_prefix('r').and_then(index) {
            file.recovered_item(i)
        } else if let Some(i) = key.strip_prefix('o').and_then(index) {
            file.orphan_item(i)
        } else {
            Ok(None)
        }
    }

    fn mailbox_info(&self, file: &PffFile) -> Result<MailboxInfo> {
        let mut notes = Vec::new();
        let mut name = None;
        if let Some(store) = file.message_store()? {
            let p = props(&store)?;
            name = p.string(prop::DISPLAY_NAME)?.filter(|n| !n.is_empty());
            // PR_PST_PASSWORD is a PST property; an OST stores 0xFFFFFFFF
            // there, which is not a password (pffinfo shows N/A for it).
            if self.client == PstClient::Pst
                && let Some(crc) = p.u32(prop::PST_PASSWORD)?.filter(|c| *c != 0)
            {
                notes.push(format!(
                    "password-protected (password CRC 0x{crc:08x}); the password is not encryption, so kairos reads the data without it"
                ));
            }
        }
        let kind = match self.client {
            PstClient::Ost => "OST",
            PstClient::Pab => "PAB",
            PstClient::Pst => "PST",
        };
        let layout = match file.file_type()? {
            Some(32) => "32-bit ANSI",
            Some(65) => "64-bit Unicode, 4 KiB pages",
            _ => "64-bit Unicode",
        };
        let crypt = match file.encryption_type()? {
            Some(1) => "compressible encoding",
            Some(2) => "high encoding",
            _ => "no encoding",
        };
        notes.insert(0, format!("{kind}, {layout}, {crypt}"));
        Ok(MailboxInfo {
            key: STORE_KEY.into(),
            // Without a display name the mailbox is called "Mailbox", not
            // after the source: item paths must be the same for a file and
            // for an engine view of it at any instant.
            name: name.unwrap_or_else(|| "Mailbox".to_owned()),
            notes,
        })
    }

    fn folder_list(parent: &PffItem<'_>) -> Result<Vec<FolderInfo>> {
        let mut out = Vec::new();
        for i in 0..parent.sub_folder_count()? {
            let Some(f) = parent.sub_folder(i)? else {
                continue;
            };
            let p = props(&f)?;
            out.push(FolderInfo {
                key: f.identifier()?.to_string(),
                name: f.folder_name()?.unwrap_or_default(),
                container_class: p.string(prop::CONTAINER_CLASS)?,
                status: ItemStatus::Live,
            });
        }
        Ok(out)
    }

    fn message_item<'f>(&self, file: &'f PffFile, key: &str) -> Result<PffItem<'f>> {
        if Self::status_of(key) == ItemStatus::Recovered {
            if !self.recovered(file)?.iter().any(|k| k == key) {
                return Err(self.not_found(format!("recovered message [{key}]")));
            }
            return Self::deleted_item(file, key)?
                .ok_or_else(|| self.not_found(format!("recovered message [{key}]")));
        }
        let nid = self.parse_nid(key, "message")?;
        file.item_by_id(nid)?
            .ok_or_else(|| self.not_found(format!("message [{key}]")))
    }

    fn status_of(key: &str) -> ItemStatus {
        if key.starts_with(['r', 'o']) {
            ItemStatus::Recovered
        } else {
            ItemStatus::Live
        }
    }

    fn summary(item: &PffItem<'_>, key: Key) -> Result<MessageSummary> {
        let p = props(item)?;
        let mut status = Self::status_of(&key);
        // A recovered item often lost its attachment table; that is not
        // damage of the file, so it counts as zero attachments.
        let attachment_count = match item.attachment_count() {
            Ok(n) => n,
            Err(_) if status == ItemStatus::Recovered => 0,
            Err(e) => {
                status = ItemStatus::Damaged(e.to_string());
                0
            }
        };
        Ok(MessageSummary {
            key,
            subject: clean_subject(&p.text(prop::SUBJECT)?),
            sender: sender(&p)?,
            date: p
                .filetime(prop::DELIVERY_TIME)?
                .or(p.filetime(prop::CLIENT_SUBMIT_TIME)?)
                .or(p.filetime(prop::CREATION_TIME)?),
            class: p.text(prop::MESSAGE_CLASS)?,
            attachment_count,
            status,
        })
    }
}

fn sender(p: &Props<'_>) -> Result<Address> {
    Ok(Address {
        name: p.text(prop::SENDER_NAME)?,
        email: p.text(prop::SENDER_EMAIL)?,
        addr_type: p.text(prop::SENDER_ADDRTYPE)?,
        smtp: p.text(prop::SENDER_SMTP_ADDRESS)?,
    })
}

/// Reads a whole message (bodies, recipients, attachments, embedded
/// messages). A part that fails is recorded in the status instead of failing
/// the message, so one bad attachment does not hide the rest.
fn read_message(item: &PffItem<'_>, key: Key, status: ItemStatus, depth: usize) -> Result<Message> {
    let p = props(item)?;
    let mut problems: Vec<String> = Vec::new();
    let mut note = |what: &str, e: Error| problems.push(format!("{what}: {e}"));

    let body_text = item.plain_text_body().unwrap_or_else(|e| {
        note("plain-text body", e);
        None
    });
    let body_html = item.html_body().unwrap_or_else(|e| {
        note("HTML body", e);
        None
    });
    let body_rtf = match p.bytes(prop::RTF_COMPRESSED) {
        Ok(Some(raw)) => match rtf::decompress(&raw) {
            Ok(r) => Some(r),
            Err(e) => {
                problems.push(format!("RTF body: {e}"));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            note("RTF body", e);
            None
        }
    };
    let recipients = read_recipients(item).unwrap_or_else(|e| {
        problems.push(format!("recipients: {e}"));
        Vec::new()
    });
    let attachments = read_attachments(item, depth).unwrap_or_else(|e| {
        problems.push(format!("attachments: {e}"));
        Vec::new()
    });
    let class = p.text(prop::MESSAGE_CLASS)?;
    let details = read_details(&p, &class)?;
    let status = if problems.is_empty() || status == ItemStatus::Recovered {
        status
    } else {
        ItemStatus::Damaged(problems.join("; "))
    };
    Ok(Message {
        key,
        status,
        class,
        subject: clean_subject(&p.text(prop::SUBJECT)?),
        sender: sender(&p)?,
        sent_representing: Address {
            name: p.text(prop::SENT_REPRESENTING_NAME)?,
            email: p.text(prop::SENT_REPRESENTING_EMAIL)?,
            addr_type: p.text(prop::SENT_REPRESENTING_ADDRTYPE)?,
            smtp: String::new(),
        },
        recipients,
        submit_time: p.filetime(prop::CLIENT_SUBMIT_TIME)?,
        delivery_time: p.filetime(prop::DELIVERY_TIME)?,
        creation_time: p.filetime(prop::CREATION_TIME)?,
        modification_time: p.filetime(prop::LAST_MODIFICATION_TIME)?,
        message_id: p.string(prop::INTERNET_MESSAGE_ID)?,
        in_reply_to: p.string(prop::IN_REPLY_TO_ID)?,
        references: p.string(prop::INTERNET_REFERENCES)?,
        transport_headers: p
            .string(prop::TRANSPORT_MESSAGE_HEADERS)?
            .filter(|h| !h.trim().is_empty()),
        body_text,
        body_html,
        body_rtf,
        details,
        attachments,
    })
}

fn read_details(p: &Props<'_>, class: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    match crate::model::MessageKind::from_class(class) {
        crate::model::MessageKind::Contact => {
            for (id, label) in CONTACT_FIELDS {
                if let Some(v) = p.string(*id)?.filter(|v| !v.is_empty()) {
                    out.push(((*label).to_owned(), v));
                }
            }
        }
        crate::model::MessageKind::Appointment => {
            for (id, label) in [(prop::START_DATE, "Start"), (prop::END_DATE, "End")] {
                if let Some(t) = p.filetime(id)? {
                    out.push((label.to_owned(), t.to_string()));
                }
            }
            if let Some(v) = p.string(prop::LOCATION)?.filter(|v| !v.is_empty()) {
                out.push(("Location".to_owned(), v));
            }
        }
        _ => {}
    }
    Ok(out)
}

fn read_recipients(item: &PffItem<'_>) -> Result<Vec<Recipient>> {
    let Some(table) = item.recipients()? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for i in 0..table.record_set_count()? {
        let p = Props(table.record_set(i)?);
        out.push(Recipient {
            kind: RecipientKind::from_mapi(p.u32(prop::RECIPIENT_TYPE)?.unwrap_or(1)),
            address: Address {
                name: p.text(prop::DISPLAY_NAME)?,
                email: p.text(prop::EMAIL_ADDRESS)?,
                addr_type: p.text(prop::ADDRTYPE)?,
                smtp: p.text(prop::SMTP_ADDRESS)?,
            },
        });
    }
    Ok(out)
}

fn read_attachments(item: &PffItem<'_>, depth: usize) -> Result<Vec<Attachment>> {
    let mut out = Vec::new();
    for i in 0..item.attachment_count()? {
        let Some(att) = item.attachment(i)? else {
            continue;
        };
        let p = props(&att)?;
        let name = [
            prop::ATTACH_LONG_FILENAME,
            prop::ATTACH_FILENAME,
            prop::DISPLAY_NAME,
        ]
        .into_iter()
        .find_map(|id| p.string(id).ok().flatten().filter(|s| !s.is_empty()))
        .unwrap_or_default();
        let content = match att.attachment_type() {
            Ok(b'i') if depth < MAX_EMBEDDING_DEPTH => match att.attached_item() {
                Ok(Some(m)) => match read_message(&m, Key::new(), ItemStatus::Live, depth + 1) {
                    Ok(msg) => AttachmentContent::Message(Box::new(msg)),
                    Err(e) => AttachmentContent::Unreadable(e.to_string()),
                },
                Ok(None) => AttachmentContent::Unreadable("embedded message is missing".into()),
                Err(e) => AttachmentContent::Unreadable(e.to_string()),
            },
            Ok(b'i') => AttachmentContent::Unreadable(format!(
                "embedded messages nested deeper than {MAX_EMBEDDING_DEPTH}"
            )),
            Ok(b'r') => AttachmentContent::Reference(
                [prop::ATTACH_LONG_PATHNAME, prop::ATTACH_PATHNAME]
                    .into_iter()
                    .find_map(|id| p.string(id).ok().flatten())
                    .unwrap_or_default(),
            ),
            Ok(_) => match att.attachment_data() {
                Ok(d) => AttachmentContent::Data(d.unwrap_or_default()),
                Err(e) => AttachmentContent::Unreadable(e.to_string()),
            },
            Err(e) => AttachmentContent::Unreadable(e.to_string()),
        };
        out.push(Attachment {
            name,
            mime_type: p.string(prop::ATTACH_MIME_TAG)?.filter(|s| !s.is_empty()),
            content_id: p.string(prop::ATTACH_CONTENT_ID)?.filter(|s| !s.is_empty()),
            content,
        });
    }
    Ok(out)
}

impl MailStore for PstStore {
    fn source_name(&self) -> &str {
        &self.name
    }

    fn mailboxes(&self) -> Result<Vec<MailboxInfo>> {
        let file = self.lock();
        Ok(vec![self.mailbox_info(&file)?])
    }

    fn top_folders(&self, mailbox: &Key) -> Result<Vec<FolderInfo>> {
        if mailbox != STORE_KEY {
            return Err(self.not_found(format!("mailbox {mailbox}")));
        }
        let file = self.lock();
        let mut out = match file.root_folder()? {
            Some(root) => Self::folder_list(&root)?,
            None => Vec::new(),
        };
        // Always listed, so listing the top reads no unallocated space; the
        // recovery scan runs when the folder is opened.
        out.push(FolderInfo {
            key: RECOVERED_KEY.into(),
            name: RECOVERED_NAME.into(),
            container_class: None,
            status: ItemStatus::Recovered,
        });
        Ok(out)
    }

    fn sub_folders(&self, folder: &Key) -> Result<Vec<FolderInfo>> {
        if folder == RECOVERED_KEY {
            return Ok(Vec::new());
        }
        let nid = self.parse_nid(folder, "folder")?;
        let file = self.lock();
        let item = file
            .item_by_id(nid)?
            .ok_or_else(|| self.not_found(format!("folder [{folder}]")))?;
        Self::folder_list(&item)
    }

    fn messages(&self, folder: &Key) -> Result<Vec<MessageSummary>> {
        let file = self.lock();
        if folder == RECOVERED_KEY {
            let mut out = Vec::new();
            for key in self.recovered(&file)? {
                if let Some(item) = Self::deleted_item(&file, key)? {
                    out.push(Self::summary(&item, key.clone())?);
                }
            }
            return Ok(out);
        }
        let nid = self.parse_nid(folder, "folder")?;
        let item = file
            .item_by_id(nid)?
            .ok_or_else(|| self.not_found(format!("folder [{folder}]")))?;
        let mut out = Vec::new();
        for i in 0..item.sub_message_count()? {
            let Some(m) = item.sub_message(i)? else {
                continue;
            };
            let key = m.identifier()?.to_string();
            out.push(Self::summary(&m, key)?);
        }
        Ok(out)
    }

    fn message(&self, key: &Key) -> Result<Message> {
        let file = self.lock();
        let item = self.message_item(&file, key)?;
        read_message(&item, key.clone(), Self::status_of(key), 0)
    }
}
