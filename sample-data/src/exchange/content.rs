//! The generated content: mailboxes, folder trees, messages with bodies and
//! attachments, deterministic from the seed.

use std::fmt::Write as _;

use super::{
    AttachmentManifest, ExchangeOptions, FolderManifest, MailboxManifest, Manifest,
    MessageManifest, Person,
};

/// SplitMix64: small, seedable, good enough for fixture content.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
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
    pub(super) fn guid(&mut self) -> [u8; 16] {
        let mut g = [0u8; 16];
        g[..8].copy_from_slice(&self.next().to_le_bytes());
        g[8..].copy_from_slice(&self.next().to_le_bytes());
        g
    }
}

/// 2026-10-05T09:00:00Z: instants of generated mail are after it.
pub(super) const BASE_UNIX: i64 = 1_791_190_800;
/// Seconds between 1601-01-01 and 1970-01-01.
const FILETIME_EPOCH_OFFSET: i64 = 11_644_473_600;

pub(super) fn filetime(unix: i64) -> i64 {
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
    let to: Vec<String> = m.to.iter().map(mailbox).collect();
    let date =
        jiff::Timestamp::from_second(m.date_sent_filetime / 10_000_000 - FILETIME_EPOCH_OFFSET)
            .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string())
            .unwrap_or_default();
    format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: {}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        mailbox(&m.from),
        to.join(", "),
        encoded_word(&m.subject),
        m.internet_message_id,
        m.body_text.replace('\n', "\r\n")
    )
    .into_bytes()
}

/// `"Name" <addr>`, the name as an RFC 2047 encoded word when not ASCII.
fn mailbox(p: &Person) -> String {
    if p.name.is_ascii() {
        format!("\"{}\" <{}>", p.name, p.email)
    } else {
        format!("{} <{}>", encoded_word(&p.name), p.email)
    }
}

/// RFC 2047 `=?UTF-8?B?...?=` (headers stay 7-bit).
fn encoded_word(s: &str) -> String {
    format!("=?UTF-8?B?{}?=", base64_encode(s.as_bytes()))
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

pub(super) fn id26(guid: &[u8; 16], counter: u64) -> Vec<u8> {
    let mut v = guid.to_vec();
    v.extend_from_slice(&counter.to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}

fn hex(b: &[u8]) -> String {
    hex::encode(b)
}

/// Builds the content model: mailboxes, folders, messages.
pub(super) fn build_manifest(opts: &ExchangeOptions) -> (Manifest, AttachmentBytes) {
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

/// Attachment contents by `Inid` (the manifest only keeps their hashes).
pub(super) struct AttachmentBytes(pub(super) Vec<(i64, Vec<u8>)>);

impl AttachmentBytes {
    pub(super) fn get(&self, inid: i64) -> &[u8] {
        self.0
            .iter()
            .find(|(i, _)| *i == inid)
            .map_or(&[], |(_, b)| b.as_slice())
    }
}
