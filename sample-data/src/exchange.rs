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

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::ese_writer::{
    ColumnSpec, ColumnType, DatabaseSpec, TableSpec, Value, WriteError, write_database,
};
use crate::rtf;

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

// ---------------------------------------------------------------------------
// Deterministic content.

/// SplitMix64: small, seedable, good enough for fixture content.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    fn guid(&mut self) -> [u8; 16] {
        let mut g = [0u8; 16];
        g[..8].copy_from_slice(&self.next().to_le_bytes());
        g[8..].copy_from_slice(&self.next().to_le_bytes());
        g
    }
}

/// 2026-10-05T09:00:00Z: instants of generated mail are after it.
const BASE_UNIX: i64 = 1_791_190_800;
/// Seconds between 1601-01-01 and 1970-01-01.
const FILETIME_EPOCH_OFFSET: i64 = 11_644_473_600;

fn filetime(unix: i64) -> i64 {
    (unix + FILETIME_EPOCH_OFFSET) * 10_000_000
}

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix).map_or_else(|_| unix.to_string(), |t| t.to_string())
}

const OWNERS: [(&str, &str); 4] = [
    ("Alice Müller", "alice.mueller@contoso.example"),
    ("Bob Tanaka (田中)", "bob.tanaka@contoso.example"),
    ("Carol Ivanova", "carol.ivanova@contoso.example"),
    ("Dmitri Øster", "dmitri.oster@contoso.example"),
];
const EXTERNAL: [(&str, &str); 3] = [
    ("Zoë Fabrikam", "zoe@fabrikam.example"),
    ("Ōta Kenji", "kenji.ota@northwind.example"),
    ("Support Desk", "support@tailspin.example"),
];
const SENTENCES: [&str; 6] = [
    "Please find the details below.",
    "Die Zahlen für das dritte Quartal sind überraschend gut.",
    "議事録を添付しました。ご確認ください。",
    "Спасибо за быстрый ответ!",
    "Let us meet on Thursday at 10:00 to go through the open points.",
    "Ça marche — à bientôt.",
];

fn person(p: (&str, &str)) -> Person {
    Person {
        name: p.0.to_owned(),
        email: p.1.to_owned(),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// RTF for a plain-text body: 7-bit text, non-ASCII as `\uN?` escapes.
fn rtf_of(text: &str) -> String {
    let mut out = String::from(
        "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0\\fswiss Calibri;}}\\f0\\fs22 ",
    );
    for c in text.chars() {
        match c {
            '\\' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\par\n"),
            c if c.is_ascii() => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{}?", *u as i16);
                }
            }
        }
    }
    out.push('}');
    out
}

struct Draft {
    subject_prefix: &'static str,
    topic: String,
    from: Person,
    to: Vec<Person>,
    cc: Vec<Person>,
    unix: i64,
    rtf: bool,
    is_read: bool,
    attachments: Vec<DraftAttachment>,
}

struct DraftAttachment {
    name: String,
    content_type: String,
    content_id: Option<String>,
    bytes: Vec<u8>,
    embedded: Option<Box<MessageManifest>>,
}

fn make_message(
    rng: &mut Rng,
    d: Draft,
    document_id: i32,
    deleted: bool,
    inid: &mut i64,
    store: &mut AttachmentBytes,
) -> MessageManifest {
    let subject = format!("{}{}", d.subject_prefix, d.topic);
    let first = rng.below(SENTENCES.len());
    let s1 = SENTENCES[first];
    let s2 = SENTENCES[(first + 1 + rng.below(SENTENCES.len() - 1)) % SENTENCES.len()];
    let body_text = format!(
        "Hello,\n\n{s1}\n{s2}\n\nSubject: {subject}\n-- \n{}\n",
        d.from.name
    );
    let mut inline_img = String::new();
    for cid in d.attachments.iter().filter_map(|a| a.content_id.as_ref()) {
        let _ = write!(inline_img, "<p><img src=\"cid:{cid}\" alt=\"logo\"></p>");
    }
    let body_html = format!(
        "<html><head><meta charset=\"utf-8\"></head><body><p>Hello,</p><p>{}</p><p>{}</p>{inline_img}<p>-- <br>{}</p></body></html>",
        html_escape(s1),
        html_escape(s2),
        html_escape(&d.from.name)
    );
    let attachments = d
        .attachments
        .into_iter()
        .map(|a| {
            *inid += 1;
            let manifest = AttachmentManifest {
                inid: *inid,
                method: if a.embedded.is_some() { 5 } else { 1 },
                name: a.name,
                content_type: a.content_type,
                content_id: a.content_id,
                size: a.bytes.len(),
                blake3: blake3::hash(&a.bytes).to_hex().to_string(),
                embedded: a.embedded,
            };
            store.0.push((*inid, a.bytes));
            manifest
        })
        .collect();
    MessageManifest {
        document_id,
        message_class: "IPM.Note".into(),
        subject,
        subject_prefix: d.subject_prefix.into(),
        internet_message_id: format!(
            "<{:016x}@{}>",
            rng.next(),
            d.from.email.split('@').nth(1).unwrap_or("example")
        ),
        from: d.from,
        to: d.to,
        cc: d.cc,
        date_sent: rfc3339(d.unix),
        date_received: rfc3339(d.unix + 42),
        date_sent_filetime: filetime(d.unix),
        body_rtf: d.rtf.then(|| rtf_of(&body_text)),
        body_text,
        body_html,
        is_read: d.is_read,
        deleted,
        attachments,
    }
}

/// RFC 5322 form of an embedded message.
fn rfc822(m: &MessageManifest) -> Vec<u8> {
    let to: Vec<String> =
        m.to.iter()
            .map(|p| format!("\"{}\" <{}>", p.name, p.email))
            .collect();
    let date =
        jiff::Timestamp::from_second(m.date_sent_filetime / 10_000_000 - FILETIME_EPOCH_OFFSET)
            .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
            .unwrap_or_default();
    format!(
        "From: \"{}\" <{}>\r\nTo: {}\r\nSubject: =?UTF-8?B?{}?=\r\nDate: {date}\r\nMessage-ID: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        m.from.name,
        m.from.email,
        to.join(", "),
        base64_encode(m.subject.as_bytes()),
        m.internet_message_id,
        m.body_text.replace('\n', "\r\n")
    )
    .into_bytes()
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn special_folders() -> Vec<(&'static str, Option<usize>, Option<i32>)> {
    // (name, parent index, SpecialFolderNumber)
    vec![
        ("", None, Some(1)),
        ("Top of Information Store", Some(0), Some(9)),
        ("Inbox", Some(1), Some(10)),
        ("Projects", Some(2), None),
        ("2026", Some(3), None),
        ("Sent Items", Some(1), Some(12)),
        ("Deleted Items", Some(1), Some(13)),
        ("Drafts", Some(1), Some(16)),
        ("Recoverable Items", Some(0), Some(20)),
        ("Deletions", Some(8), Some(21)),
    ]
}
const INBOX: usize = 2;
const PROJECTS: usize = 3;
const YEAR: usize = 4;
const SENT: usize = 5;
const DRAFTS: usize = 7;
const DELETIONS: usize = 9;

fn id26(guid: &[u8; 16], counter: u64) -> Vec<u8> {
    let mut v = guid.to_vec();
    v.extend_from_slice(&counter.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// Builds the content model: mailboxes, folders, messages.
fn build_manifest(opts: &ExchangeOptions) -> (Manifest, AttachmentBytes) {
    let mut rng = Rng(opts.seed);
    let mut store = AttachmentBytes(Vec::new());
    let mut mailboxes = Vec::new();
    let count = opts.mailboxes.clamp(1, OWNERS.len());
    for mi in 0..count {
        let number = 101 + mi as i32;
        let guid = rng.guid();
        let owner = person(OWNERS[mi]);
        let colleague = person(OWNERS[(mi + 1) % OWNERS.len()]);
        let mut folders: Vec<FolderManifest> = Vec::new();
        let mut defs = special_folders();
        if mi == 0 && opts.bulk_messages > 0 {
            defs.push(("Bulk", Some(1), None));
        }
        for (i, (name, parent, special)) in defs.iter().enumerate() {
            let id = id26(&guid, 0x100 + i as u64);
            let (parent_id, path) = match parent {
                None => (vec![0u8; 26], "/".to_owned()),
                Some(p) => {
                    let pf = &folders[*p];
                    let path = if pf.path == "/" {
                        format!("/{name}")
                    } else {
                        format!("{}/{name}", pf.path)
                    };
                    (id26(&guid, 0x100 + *p as u64), path)
                }
            };
            folders.push(FolderManifest {
                id: hex(&id),
                parent_id: hex(&parent_id),
                name: (*name).to_owned(),
                path,
                special_number: *special,
                messages: Vec::new(),
            });
        }
        let mut doc = 0;
        let mut inid = i64::from(number) * 1000;
        let mut when = BASE_UNIX + mi as i64 * 86_400;
        let mut next_time = |rng: &mut Rng| {
            when += 600 + rng.below(7200) as i64;
            when
        };
        let ext = |i: usize| person(EXTERNAL[i % EXTERNAL.len()]);
        let mut file = |folders: &mut Vec<FolderManifest>,
                        rng: &mut Rng,
                        f: usize,
                        d: Draft,
                        deleted: bool,
                        inid: &mut i64| {
            doc += 1;
            let m = make_message(rng, d, doc, deleted, inid, &mut store);
            folders[f].messages.push(m);
        };
        // Inbox: a report with a file attachment large enough to be a
        // separated long value.
        let t = next_time(&mut rng);
        let pdf = {
            let mut b = b"%PDF-1.7\n".to_vec();
            b.extend(rng.bytes(20_000 + mi * 1000));
            b
        };
        file(
            &mut folders,
            &mut rng,
            INBOX,
            Draft {
                subject_prefix: "",
                topic: format!("Quarterly report — Überblick Q3 ({})", owner.name),
                from: ext(mi),
                to: vec![owner.clone()],
                cc: vec![colleague.clone()],
                unix: t,
                rtf: true,
                is_read: true,
                attachments: vec![DraftAttachment {
                    name: "report-q3.pdf".into(),
                    content_type: "application/pdf".into(),
                    content_id: None,
                    bytes: pdf,
                    embedded: None,
                }],
            },
            false,
            &mut inid,
        );
        // Inbox: minutes with an inline image and an embedded message.
        let t = next_time(&mut rng);
        let embedded = make_message(
            &mut rng,
            Draft {
                subject_prefix: "",
                topic: "Original announcement 🚀".into(),
                from: colleague.clone(),
                to: vec![ext(mi + 1)],
                cc: Vec::new(),
                unix: t - 3600,
                rtf: false,
                is_read: true,
                attachments: Vec::new(),
            },
            0,
            false,
            &mut 0,
            &mut AttachmentBytes(Vec::new()),
        );
        let png = {
            let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
            b.extend(rng.bytes(1500));
            b
        };
        file(
            &mut folders,
            &mut rng,
            INBOX,
            Draft {
                subject_prefix: "FW: ",
                topic: "会議の議事録 (meeting minutes)".into(),
                from: colleague.clone(),
                to: vec![owner.clone()],
                cc: Vec::new(),
                unix: t,
                rtf: true,
                is_read: false,
                attachments: vec![
                    DraftAttachment {
                        name: "logo.png".into(),
                        content_type: "image/png".into(),
                        content_id: Some(format!("logo{number}@kairos.example")),
                        bytes: png,
                        embedded: None,
                    },
                    DraftAttachment {
                        name: format!("{}.eml", embedded.subject),
                        content_type: "message/rfc822".into(),
                        content_id: None,
                        bytes: rfc822(&embedded),
                        embedded: Some(Box::new(embedded)),
                    },
                ],
            },
            false,
            &mut inid,
        );
        let t = next_time(&mut rng);
        file(
            &mut folders,
            &mut rng,
            PROJECTS,
            Draft {
                subject_prefix: "RE: ",
                topic: "Budget 2026 – Привет".into(),
                from: ext(mi + 2),
                to: vec![owner.clone(), colleague.clone()],
                cc: Vec::new(),
                unix: t,
                rtf: false,
                is_read: true,
                attachments: Vec::new(),
            },
            false,
            &mut inid,
        );
        let t = next_time(&mut rng);
        file(
            &mut folders,
            &mut rng,
            YEAR,
            Draft {
                subject_prefix: "",
                topic: "Kick-off ✓ agenda".into(),
                from: colleague.clone(),
                to: vec![owner.clone()],
                cc: vec![ext(mi)],
                unix: t,
                rtf: true,
                is_read: false,
                attachments: Vec::new(),
            },
            false,
            &mut inid,
        );
        let t = next_time(&mut rng);
        file(
            &mut folders,
            &mut rng,
            SENT,
            Draft {
                subject_prefix: "RE: ",
                topic: format!("Quarterly report — Überblick Q3 ({})", owner.name),
                from: owner.clone(),
                to: vec![ext(mi)],
                cc: vec![colleague.clone()],
                unix: t,
                rtf: false,
                is_read: true,
                attachments: Vec::new(),
            },
            false,
            &mut inid,
        );
        let t = next_time(&mut rng);
        file(
            &mut folders,
            &mut rng,
            DRAFTS,
            Draft {
                subject_prefix: "",
                topic: "Entwurf: Straße & Gebühren".into(),
                from: owner.clone(),
                to: vec![colleague.clone()],
                cc: Vec::new(),
                unix: t,
                rtf: false,
                is_read: true,
                attachments: Vec::new(),
            },
            false,
            &mut inid,
        );
        let t = next_time(&mut rng);
        file(
            &mut folders,
            &mut rng,
            DELETIONS,
            Draft {
                subject_prefix: "",
                topic: "Old newsletter — deleted".into(),
                from: ext(mi + 2),
                to: vec![owner.clone()],
                cc: Vec::new(),
                unix: t,
                rtf: false,
                is_read: true,
                attachments: Vec::new(),
            },
            true,
            &mut inid,
        );
        if mi == 0 {
            let bulk = folders.len() - 1;
            for b in 0..opts.bulk_messages {
                let t = next_time(&mut rng);
                file(
                    &mut folders,
                    &mut rng,
                    bulk,
                    Draft {
                        subject_prefix: "",
                        topic: format!("Bulk message #{b} ▶ {}", SENTENCES[b % SENTENCES.len()]),
                        from: ext(b),
                        to: vec![owner.clone()],
                        cc: Vec::new(),
                        unix: t,
                        rtf: false,
                        is_read: b % 2 == 0,
                        attachments: Vec::new(),
                    },
                    false,
                    &mut inid,
                );
            }
        }
        mailboxes.push(MailboxManifest {
            number,
            guid: hex(&guid),
            owner,
            folders,
        });
    }
    let manifest = Manifest {
        seed: opts.seed,
        page_size: opts.page_size,
        tables: Vec::new(),
        conventions: vec![
            "FolderId/MessageId: 16-byte mailbox GUID + u64 big-endian counter + 2 zero bytes".into(),
            "PropertyBlob: 'ProP', u16 0x0400, u16 count, (u8 type, u16 id) directory, gromox value encodings; strings 0x4d/0x4e with UTF-8 bytes".into(),
            "Bodies: PR_BODY, PR_HTML, PR_RTF_COMPRESSED inline in Message_N.PropertyBlob; NativeBody = HTML (UTF-8), BodyType 3".into(),
            "RecipientList: multi-valued, one ProP blob per recipient (0x0C15 type 1 To / 2 Cc, 0x3001, 0x3002, 0x3003, 0x39FE)".into(),
            "SubobjectsBlob: 0x21 + Inid (u64 LE) per attachment; Attachment_N.MessageDocumentId names the message".into(),
            "Embedded message (method 5): RFC 5322 bytes in Attachment_N.Content, ContentType message/rfc822".into(),
            "Dates: FILETIME (100 ns since 1601) in LongLong columns".into(),
        ],
        mailboxes,
    };
    (manifest, store)
}

// ---------------------------------------------------------------------------
// Property blobs.

/// MAPI property ids used (with [MS-OXPROPS] names).
mod prop {
    pub const MESSAGE_CLASS: u16 = 0x001A;
    pub const IMPORTANCE: u16 = 0x0017;
    pub const SUBJECT: u16 = 0x0037;
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    pub const SUBJECT_PREFIX: u16 = 0x003D;
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
    pub const SENDER_NAME: u16 = 0x0C1A;
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    pub const DISPLAY_CC: u16 = 0x0E03;
    pub const DISPLAY_TO: u16 = 0x0E04;
    pub const DELIVERY_TIME: u16 = 0x0E06;
    pub const MESSAGE_FLAGS: u16 = 0x0E07;
    pub const HASATTACH: u16 = 0x0E1B;
    pub const NORMALIZED_SUBJECT: u16 = 0x0E1D;
    pub const ATTACH_SIZE: u16 = 0x0E20;
    pub const BODY: u16 = 0x1000;
    pub const RTF_COMPRESSED: u16 = 0x1009;
    pub const HTML: u16 = 0x1013;
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    pub const DISPLAY_NAME: u16 = 0x3001;
    pub const ADDRTYPE: u16 = 0x3002;
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    pub const CONTENT_COUNT: u16 = 0x3602;
    pub const CONTENT_UNREAD: u16 = 0x3603;
    pub const CONTAINER_CLASS: u16 = 0x3613;
    pub const ATTACH_FILENAME: u16 = 0x3704;
    pub const ATTACH_METHOD: u16 = 0x3705;
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    pub const ATTACH_CONTENT_ID: u16 = 0x3712;
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
    pub const ATTACHMENT_HIDDEN: u16 = 0x7FFE;
}

enum PropValue<'a> {
    Long(i32),
    Bool(bool),
    Time(i64),
    Str(&'a str),
    Bin(&'a [u8]),
}

/// Encodes a "ProP" blob (exchange-store.md §4).
fn prop_blob(props: &[(u16, PropValue<'_>)]) -> Vec<u8> {
    let mut out = b"ProP".to_vec();
    out.extend_from_slice(&0x0400u16.to_le_bytes());
    out.extend_from_slice(&(props.len() as u16).to_le_bytes());
    for (id, v) in props {
        let ptype = match v {
            PropValue::Long(_) => 0x18,
            PropValue::Bool(_) => 0x08,
            PropValue::Time(_) => 0x38,
            PropValue::Str(_) => 0x48,
            PropValue::Bin(_) => 0x50,
        };
        out.push(ptype);
        out.extend_from_slice(&id.to_le_bytes());
    }
    for (_, v) in props {
        match v {
            PropValue::Long(0) => out.push(0x18),
            PropValue::Long(x) => {
                if let Ok(b) = i8::try_from(*x) {
                    out.push(0x19);
                    out.push(b as u8);
                } else if let Ok(s) = i16::try_from(*x) {
                    out.push(0x1a);
                    out.extend_from_slice(&s.to_le_bytes());
                } else {
                    out.push(0x1b);
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            PropValue::Bool(b) => out.push(if *b { 0x09 } else { 0x08 }),
            PropValue::Time(t) => {
                out.push(0x38);
                out.extend_from_slice(&t.to_le_bytes());
            }
            PropValue::Str(s) => len_prefixed(&mut out, 0x48, s.as_bytes()),
            PropValue::Bin(b) => len_prefixed(&mut out, 0x50, b),
        }
    }
    out
}

/// Empty / u8-length / u16-length forms (base, base+5/+1, base+6/+2).
fn len_prefixed(out: &mut Vec<u8>, base: u8, b: &[u8]) {
    let (one, two) = if base == 0x48 {
        (0x4d, 0x4e)
    } else {
        (0x51, 0x52)
    };
    if b.is_empty() {
        out.push(base);
    } else if let Ok(n) = u8::try_from(b.len()) {
        out.push(one);
        out.push(n);
        out.extend_from_slice(b);
    } else {
        out.push(two);
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(b);
    }
}

// ---------------------------------------------------------------------------
// Tables.

fn col(name: &str, t: ColumnType) -> ColumnSpec {
    ColumnSpec::new(name, t)
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

fn guid_of(s: &str) -> [u8; 16] {
    let mut g = [0u8; 16];
    g.copy_from_slice(&unhex(s)[..16]);
    g
}

fn message_row(
    n: i32,
    folder_id: &[u8],
    guid: &[u8; 16],
    m: &MessageManifest,
    attachments: &[(i64, usize)],
) -> Vec<Value> {
    let to_names: Vec<&str> = m.to.iter().map(|p| p.name.as_str()).collect();
    let cc_names: Vec<&str> = m.cc.iter().map(|p| p.name.as_str()).collect();
    let normalized = m
        .subject
        .strip_prefix(&m.subject_prefix)
        .unwrap_or(&m.subject);
    let rtf_c = m.body_rtf.as_ref().map(|r| rtf::compress(r.as_bytes()));
    let received = m.date_sent_filetime + 42 * 10_000_000;
    let mut props = vec![
        (prop::MESSAGE_CLASS, PropValue::Str(&m.message_class)),
        (prop::IMPORTANCE, PropValue::Long(1)),
        (prop::SUBJECT, PropValue::Str(&m.subject)),
        (
            prop::CLIENT_SUBMIT_TIME,
            PropValue::Time(m.date_sent_filetime),
        ),
        (prop::SUBJECT_PREFIX, PropValue::Str(&m.subject_prefix)),
        (prop::SENT_REPRESENTING_NAME, PropValue::Str(&m.from.name)),
        (prop::SENT_REPRESENTING_EMAIL, PropValue::Str(&m.from.email)),
        (prop::SENDER_NAME, PropValue::Str(&m.from.name)),
        (prop::SENDER_EMAIL, PropValue::Str(&m.from.email)),
        (prop::DELIVERY_TIME, PropValue::Time(received)),
        (
            prop::MESSAGE_FLAGS,
            PropValue::Long(i32::from(m.is_read) | if attachments.is_empty() { 0 } else { 0x10 }),
        ),
        (prop::HASATTACH, PropValue::Bool(!attachments.is_empty())),
        (prop::NORMALIZED_SUBJECT, PropValue::Str(normalized)),
        (prop::BODY, PropValue::Str(&m.body_text)),
        (prop::HTML, PropValue::Bin(m.body_html.as_bytes())),
        (
            prop::INTERNET_MESSAGE_ID,
            PropValue::Str(&m.internet_message_id),
        ),
        (prop::SENDER_SMTP_ADDRESS, PropValue::Str(&m.from.email)),
    ];
    let display_to = to_names.join("; ");
    let display_cc = cc_names.join("; ");
    props.push((prop::DISPLAY_TO, PropValue::Str(&display_to)));
    props.push((prop::DISPLAY_CC, PropValue::Str(&display_cc)));
    if let Some(r) = &rtf_c {
        props.push((prop::RTF_COMPRESSED, PropValue::Bin(r)));
    }
    props.sort_by_key(|p| p.0);
    let recipients: Vec<Value> =
        m.to.iter()
            .map(|p| (1, p))
            .chain(m.cc.iter().map(|p| (2, p)))
            .map(|(kind, p)| {
                Value::Bytes(prop_blob(&[
                    (prop::RECIPIENT_TYPE, PropValue::Long(kind)),
                    (prop::DISPLAY_NAME, PropValue::Str(&p.name)),
                    (prop::ADDRTYPE, PropValue::Str("SMTP")),
                    (prop::EMAIL_ADDRESS, PropValue::Str(&p.email)),
                    (prop::SMTP_ADDRESS, PropValue::Str(&p.email)),
                ]))
            })
            .collect();
    let subobjects: Vec<u8> = attachments
        .iter()
        .flat_map(|(inid, _)| std::iter::once(0x21).chain(inid.to_le_bytes()))
        .collect();
    let size =
        m.body_text.len() + m.body_html.len() + attachments.iter().map(|a| a.1).sum::<usize>();
    vec![
        Value::I32(n),
        Value::I32(m.document_id),
        Value::Bytes(id26(guid, 0x10_0000 + m.document_id as u64)),
        Value::Bytes(folder_id.to_vec()),
        text(&m.message_class),
        Value::I64(m.date_sent_filetime),
        Value::I64(received),
        Value::I64(m.date_sent_filetime),
        Value::Bit(m.is_read),
        Value::Bit(false),
        Value::Bit(!attachments.is_empty()),
        Value::I32(1),
        Value::I64(size as i64),
        text(&m.subject_prefix),
        text(&display_to),
        Value::I32(3),
        Value::Bytes(m.body_html.as_bytes().to_vec()),
        Value::Bytes(prop_blob(&props)),
        if recipients.is_empty() {
            Value::Null
        } else {
            Value::Multi(recipients)
        },
        if subobjects.is_empty() {
            Value::Null
        } else {
            Value::Bytes(subobjects)
        },
    ]
}

fn message_columns() -> Vec<ColumnSpec> {
    use ColumnType as T;
    vec![
        col("MailboxPartitionNumber", T::Long),
        col("MessageDocumentId", T::Long),
        col("MessageId", T::Binary),
        col("FolderId", T::Binary),
        col("MessageClass", T::Text),
        col("DateCreated", T::LongLong),
        col("DateReceived", T::LongLong),
        col("DateSent", T::LongLong),
        col("IsRead", T::Bit),
        col("IsHidden", T::Bit),
        col("HasAttachments", T::Bit),
        col("Importance", T::Long),
        col("Size", T::LongLong),
        col("SubjectPrefix", T::Text),
        col("DisplayTo", T::LongText),
        col("BodyType", T::Long),
        col("NativeBody", T::LongBinary),
        col("PropertyBlob", T::LongBinary),
        col("RecipientList", T::LongBinary).multi(),
        col("SubobjectsBlob", T::LongBinary),
    ]
}

/// The tables of the database, in write order.
fn tables(manifest: &Manifest, attachment_bytes: &AttachmentBytes) -> Vec<TableSpec> {
    use ColumnType as T;
    let mut out = Vec::new();
    let mut rng = Rng(manifest.seed ^ 0x5eed);
    out.push(TableSpec {
        name: "Mailbox".into(),
        columns: vec![
            col("MailboxNumber", T::Long),
            col("MailboxGuid", T::Guid),
            col("OwnerADGuid", T::Guid),
            col("MailboxInstanceGuid", T::Guid),
            col("MappingSignatureGuid", T::Guid),
            col("MailboxOwnerDisplayName", T::Text),
            col("DisplayName", T::Text),
            col("MessageCount", T::LongLong),
            col("LastLogonTime", T::LongLong),
        ],
        primary_key: vec!["MailboxNumber".into()],
        rows: manifest
            .mailboxes
            .iter()
            .map(|mb| {
                let count: usize = mb.folders.iter().map(|f| f.messages.len()).sum();
                vec![
                    Value::I32(mb.number),
                    Value::Guid(guid_of(&mb.guid)),
                    Value::Guid(rng.guid()),
                    Value::Guid(rng.guid()),
                    Value::Guid(rng.guid()),
                    text(&mb.owner.name),
                    text(&mb.owner.name),
                    Value::I64(count as i64),
                    Value::I64(filetime(BASE_UNIX + 30 * 86_400)),
                ]
            })
            .collect(),
    });
    out.push(TableSpec {
        name: "MailboxIdentity".into(),
        columns: vec![col("MailboxNumber", T::Long), col("LocalIdGuid", T::Guid)],
        primary_key: vec!["MailboxNumber".into()],
        rows: manifest
            .mailboxes
            .iter()
            .map(|mb| vec![Value::I32(mb.number), Value::Guid(rng.guid())])
            .collect(),
    });
    for mb in &manifest.mailboxes {
        let n = mb.number;
        let guid = guid_of(&mb.guid);
        let folder_rows = mb
            .folders
            .iter()
            .map(|f| {
                let unread = f.messages.iter().filter(|m| !m.is_read).count();
                let children = mb
                    .folders
                    .iter()
                    .filter(|c| c.parent_id == f.id && c.id != f.id)
                    .count();
                let class = if f.special_number == Some(1) {
                    ""
                } else {
                    "IPF.Note"
                };
                let blob = prop_blob(&[
                    (prop::DISPLAY_NAME, PropValue::Str(&f.name)),
                    (
                        prop::CONTENT_COUNT,
                        PropValue::Long(f.messages.len() as i32),
                    ),
                    (prop::CONTENT_UNREAD, PropValue::Long(unread as i32)),
                    (prop::CONTAINER_CLASS, PropValue::Str(class)),
                ]);
                vec![
                    Value::I32(n),
                    Value::Bytes(unhex(&f.id)),
                    Value::Bytes(unhex(&f.parent_id)),
                    text(&f.name),
                    f.special_number.map_or(Value::Null, Value::I32),
                    text(class),
                    Value::I64(f.messages.len() as i64),
                    Value::I64(unread as i64),
                    Value::I32(children as i32),
                    Value::I64(filetime(BASE_UNIX)),
                    Value::Bytes(blob),
                ]
            })
            .collect();
        out.push(TableSpec {
            name: format!("Folder_{n}"),
            columns: vec![
                col("MailboxPartitionNumber", T::Long),
                col("FolderId", T::Binary),
                col("ParentFolderId", T::Binary),
                col("DisplayName", T::Text),
                col("SpecialFolderNumber", T::Long).tagged(),
                col("ContainerClass", T::Text),
                col("MessageCount", T::LongLong),
                col("UnreadMessageCount", T::LongLong),
                col("FolderCount", T::Long),
                col("LastModificationTime", T::LongLong),
                col("PropertyBlob", T::LongBinary),
            ],
            primary_key: vec!["MailboxPartitionNumber".into(), "FolderId".into()],
            rows: folder_rows,
        });
        let mut message_rows = Vec::new();
        let mut attachment_rows = Vec::new();
        for f in &mb.folders {
            let folder_id = unhex(&f.id);
            for m in &f.messages {
                let atts: Vec<(i64, usize)> =
                    m.attachments.iter().map(|a| (a.inid, a.size)).collect();
                message_rows.push(message_row(n, &folder_id, &guid, m, &atts));
                for (i, a) in m.attachments.iter().enumerate() {
                    let bytes = attachment_bytes.get(a.inid);
                    let mut props = vec![
                        (prop::ATTACH_SIZE, PropValue::Long(a.size as i32)),
                        (prop::ATTACH_FILENAME, PropValue::Str(&a.name)),
                        (prop::ATTACH_METHOD, PropValue::Long(a.method)),
                        (prop::ATTACH_LONG_FILENAME, PropValue::Str(&a.name)),
                        (prop::ATTACH_MIME_TAG, PropValue::Str(&a.content_type)),
                        (
                            prop::ATTACHMENT_HIDDEN,
                            PropValue::Bool(a.content_id.is_some()),
                        ),
                    ];
                    if let Some(cid) = &a.content_id {
                        props.push((prop::ATTACH_CONTENT_ID, PropValue::Str(cid)));
                    }
                    props.sort_by_key(|p| p.0);
                    attachment_rows.push(vec![
                        Value::I64(a.inid),
                        Value::I32(n),
                        Value::I32(m.document_id),
                        Value::I32(i as i32),
                        text(&a.name),
                        text(&a.content_type),
                        Value::I64(a.size as i64),
                        Value::Bytes(bytes.to_vec()),
                        Value::Bytes(prop_blob(&props)),
                    ]);
                }
            }
        }
        out.push(TableSpec {
            name: format!("Message_{n}"),
            columns: message_columns(),
            primary_key: vec!["MailboxPartitionNumber".into(), "MessageDocumentId".into()],
            rows: message_rows,
        });
        out.push(TableSpec {
            name: format!("Attachment_{n}"),
            columns: vec![
                col("Inid", T::LongLong),
                col("MailboxPartitionNumber", T::Long),
                col("MessageDocumentId", T::Long),
                col("AttachmentId", T::Long),
                col("Name", T::Text),
                col("ContentType", T::Text).ansi(),
                col("Size", T::LongLong),
                col("Content", T::LongBinary),
                col("PropertyBlob", T::LongBinary),
            ],
            primary_key: vec!["Inid".into()],
            rows: attachment_rows,
        });
    }
    out
}

/// Attachment contents by `Inid` (the manifest only keeps their hashes).
struct AttachmentBytes(Vec<(i64, Vec<u8>)>);

impl AttachmentBytes {
    fn get(&self, inid: i64) -> &[u8] {
        self.0
            .iter()
            .find(|(i, _)| *i == inid)
            .map_or(&[], |(_, b)| b.as_slice())
    }
}

/// Generates the database and its manifest.
pub fn generate_exchange_edb(opts: &ExchangeOptions) -> Result<(Vec<u8>, Manifest), WriteError> {
    let (mut manifest, bytes) = build_manifest(opts);
    for mb in &mut manifest.mailboxes {
        for f in &mut mb.folders {
            f.messages
                .retain(|m| !opts.omit_messages.contains(&(mb.number, m.document_id)));
        }
    }
    let mut tables = tables(&manifest, &bytes);
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
        created_unix: BASE_UNIX - 86_400,
        tables,
    };
    Ok((write_database(&spec)?, manifest))
}
