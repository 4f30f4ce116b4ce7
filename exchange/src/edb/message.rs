//! A `Message_N` row → model summary or whole [`Message`]: promoted
//! columns first (their real names per exchange-store.md §5), the property
//! blob for the rest; recipients from `RecipientList`; bodies from the blob
//! (PR_BODY, PR_HTML, PR_RTF_COMPRESSED) and `NativeBody`/`BodyType`;
//! attachments from `Attachment_N`.
//!
//! Attachment rows are found by the `Inid`s of the message's
//! `SubobjectsBlob` (`0x21` + u64 LE per attachment, as reported for real
//! databases in §8.1) and by their `MessageDocumentId` column; either link
//! alone is enough. An embedded message (PR_ATTACH_METHOD 5, or content type
//! `message/rfc822`) whose content is its Internet form is passed through
//! unchanged ([`AttachmentContent::Rfc822`]).

use kairos_ese::Value;
use kairos_parsers::{ItemStatus, Result};

use super::prop_blob::{self, PropSet};
use super::row::Row;
use super::store::{EdbStore, time};
use super::tags;
use crate::model::{
    Address, Attachment, AttachmentContent, Message, MessageSummary, Recipient, RecipientKind,
    clean_subject,
};
use crate::rtf;

/// PR_HASATTACH.
const HASATTACH: u16 = 0x0E1B;
/// PR_ATTACH_METHOD values that point outside the store.
const BY_REFERENCE: [i64; 4] = [2, 3, 4, 7];
/// PR_ATTACH_METHOD of an embedded message.
const EMBEDDED: i64 = 5;

/// The fields a listing and a whole message share.
struct Head {
    doc: i64,
    class: String,
    subject: String,
    sender: Address,
    delivery: Option<u64>,
    submit: Option<u64>,
    created: Option<u64>,
}

fn prop_string(props: &PropSet, id: u16) -> String {
    props.str(id).unwrap_or_default().to_owned()
}

impl Head {
    fn read(store: &EdbStore, row: &mut Row<'_, '_>, props: &PropSet) -> Result<Self> {
        let doc = row.int(&["MessageDocumentId"]).ok_or_else(|| {
            store.row_error(row, "MessageDocumentId", "missing or unreadable".into())
        })?;
        let class = row
            .text(&["MessageClass"])
            .or_else(|| props.str(tags::MESSAGE_CLASS).map(str::to_owned))
            .unwrap_or_else(|| "IPM.Note".into());
        let subject = if let Some(s) = props.str(tags::SUBJECT) {
            clean_subject(s)
        } else {
            let prefix = row
                .text(&["SubjectPrefix"])
                .or_else(|| props.str(tags::SUBJECT_PREFIX).map(str::to_owned))
                .unwrap_or_default();
            let normalized = props
                .str(tags::NORMALIZED_SUBJECT)
                .map(str::to_owned)
                .or_else(|| row.text(&["NormalizedSubject", "Subject"]))
                .unwrap_or_default();
            clean_subject(&format!("{prefix}{normalized}"))
        };
        let mut sender = Address {
            name: prop_string(props, tags::SENDER_NAME),
            email: prop_string(props, tags::SENDER_EMAIL),
            addr_type: prop_string(props, tags::SENDER_ADDRTYPE),
            smtp: prop_string(props, tags::SENDER_SMTP_ADDRESS),
        };
        if sender.is_empty() {
            sender = representing(props);
        }
        Ok(Head {
            doc,
            class,
            subject,
            sender,
            delivery: row
                .filetime(&["DateReceived"])
                .or_else(|| props.filetime(tags::DELIVERY_TIME)),
            submit: row
                .filetime(&["DateSent"])
                .or_else(|| props.filetime(tags::CLIENT_SUBMIT_TIME)),
            created: row
                .filetime(&["DateCreated"])
                .or_else(|| props.filetime(tags::CREATION_TIME)),
        })
    }
}

fn representing(props: &PropSet) -> Address {
    Address {
        name: prop_string(props, tags::SENT_REPRESENTING_NAME),
        email: prop_string(props, tags::SENT_REPRESENTING_EMAIL),
        addr_type: prop_string(props, tags::SENT_REPRESENTING_ADDRTYPE),
        smtp: prop_string(props, tags::SENT_REPRESENTING_SMTP_ADDRESS),
    }
}

/// The `Inid`s listed in `SubobjectsBlob`; `None` when the column is absent
/// or holds something else than `0x21` + u64 entries.
fn subobjects(row: &mut Row<'_, '_>) -> Option<Vec<i64>> {
    let b = row.bytes(&["SubobjectsBlob"])?;
    let mut out = Vec::new();
    let mut rest = b.as_slice();
    while let Some((&tag, tail)) = rest.split_first() {
        let id: [u8; 8] = tail.get(..8)?.try_into().ok()?;
        if tag != 0x21 {
            return None;
        }
        out.push(i64::from_le_bytes(id));
        rest = tail.get(8..)?;
    }
    Some(out)
}

/// Status from the row's problems and the folder.
fn status(store: &EdbStore, n: i32, row: &mut Row<'_, '_>) -> ItemStatus {
    let folder = row.bytes(&["FolderId"]).unwrap_or_default();
    if !row.problems.is_empty() {
        ItemStatus::Damaged(row.problems.join("; "))
    } else if store.in_deleted_area(n, &folder) {
        ItemStatus::Deleted
    } else {
        ItemStatus::Live
    }
}

/// The listing entry of a message row (reads no bodies, no attachment
/// content; counts attachments from `SubobjectsBlob`, else from
/// `Attachment_N` rows when the message says it has any).
pub(super) fn summary(store: &EdbStore, n: i32, row: &mut Row<'_, '_>) -> Result<MessageSummary> {
    let props = row.props();
    store.blob_notes(&props, row);
    let head = Head::read(store, row, &props)?;
    let attachment_count = if let Some(ids) = subobjects(row) {
        ids.len()
    } else {
        let has = row
            .int(&["HasAttachments"])
            .or_else(|| props.int(HASATTACH))
            .unwrap_or(1);
        if has == 0 {
            0
        } else {
            attachment_rows(store, n, head.doc, None).map_or(0, |a| a.0.len())
        }
    };
    Ok(MessageSummary {
        key: format!("{n}.{}", head.doc),
        subject: head.subject,
        sender: head.sender,
        date: time(head.delivery.or(head.submit).or(head.created)),
        class: head.class,
        attachment_count,
        status: status(store, n, row),
    })
}

/// Reads a recipient blob: a "ProP" blob, possibly after a small header.
fn recipient(element: &[u8]) -> Option<Recipient> {
    let start = element
        .windows(prop_blob::MAGIC.len())
        .position(|w| w == prop_blob::MAGIC)?;
    let (props, _) = prop_blob::decode(element.get(start..)?).ok()?;
    let kind = props
        .int(tags::RECIPIENT_TYPE)
        .and_then(|t| u32::try_from(t).ok())
        .map_or(RecipientKind::To, RecipientKind::from_mapi);
    Some(Recipient {
        kind,
        address: Address {
            name: prop_string(&props, tags::DISPLAY_NAME),
            email: prop_string(&props, tags::EMAIL_ADDRESS),
            addr_type: prop_string(&props, tags::ADDRTYPE),
            smtp: prop_string(&props, tags::SMTP_ADDRESS),
        },
    })
}

/// The pieces of `b` that each start with the blob magic (bytes before the
/// first magic belong to the first piece's header).
fn split_blobs(b: &[u8]) -> Vec<Vec<u8>> {
    let starts: Vec<usize> = b
        .windows(prop_blob::MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == prop_blob::MAGIC)
        .map(|(i, _)| i)
        .collect();
    if starts.is_empty() {
        return vec![b.to_vec()];
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let from = if k == 0 { 0 } else { s };
            let to = starts.get(k + 1).copied().unwrap_or(b.len());
            b.get(from..to).unwrap_or_default().to_vec()
        })
        .collect()
}

/// Recipients from `RecipientList`, else the display names of
/// PR_DISPLAY_TO/CC/BCC (names only).
fn recipients(row: &mut Row<'_, '_>, props: &PropSet) -> Vec<Recipient> {
    let elements: Vec<Vec<u8>> = match row.value(&["RecipientList"]) {
        Some(Value::Multi(vs)) => vs
            .into_iter()
            .filter_map(|v| match v {
                Value::Binary(b) => Some(b),
                _ => None,
            })
            .collect(),
        // One long value holding a block per recipient (as reported for
        // real databases, exchange-store.md §8.1): split at each blob magic.
        Some(Value::Binary(b)) => split_blobs(&b),
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for (i, e) in elements.iter().enumerate() {
        if let Some(r) = recipient(e) {
            out.push(r);
        } else {
            let place = row.place();
            row.problems.push(format!(
                "{place}, RecipientList element {i}: not a property blob"
            ));
        }
    }
    if elements.is_empty() {
        for (id, kind) in [
            (tags::DISPLAY_TO, RecipientKind::To),
            (tags::DISPLAY_CC, RecipientKind::Cc),
            (tags::DISPLAY_BCC, RecipientKind::Bcc),
        ] {
            for name in props.str(id).unwrap_or_default().split(';') {
                let name = name.trim();
                if !name.is_empty() {
                    out.push(Recipient {
                        kind,
                        address: Address {
                            name: name.to_owned(),
                            ..Address::default()
                        },
                    });
                }
            }
        }
    }
    out
}

/// Text of unknown encoding: UTF-16LE when it looks like it, else UTF-8.
fn guess_text(b: &[u8]) -> String {
    let odd_zeros = b.iter().skip(1).step_by(2).filter(|&&x| x == 0).count();
    if b.len() >= 2 && b.len().is_multiple_of(2) && odd_zeros * 4 >= b.len() / 2 {
        kairos_ese::value::decode_text(b, 1200)
    } else {
        String::from_utf8_lossy(b).trim_end_matches('\0').to_owned()
    }
}

/// Compressed RTF ([MS-OXRTFCP]) is recognised by its header magic.
fn is_compressed_rtf(b: &[u8]) -> bool {
    matches!(b.get(8..12), Some(b"LZFu" | b"MELA"))
}

/// The bodies: blob properties first, `NativeBody` for what they lack.
/// `BodyType` (PR_NATIVE_BODY_INFO: 1 plain, 2 RTF, 3 HTML) says what the
/// native body is; without it the bytes are sniffed.
fn bodies(row: &mut Row<'_, '_>, props: &PropSet, msg: &mut Message) {
    msg.body_text = props.str(tags::BODY).map(str::to_owned);
    msg.body_html = props.bytes(tags::HTML).map(<[u8]>::to_vec);
    let mut rtf_compressed = props.bytes(tags::RTF_COMPRESSED).map(<[u8]>::to_vec);
    if let Some(native) = row.bytes(&["NativeBody"]) {
        let kind = row.int(&["BodyType", "NativeBodyInfo"]).unwrap_or_else(|| {
            if is_compressed_rtf(&native) || native.starts_with(b"{\\rtf") {
                2
            } else if String::from_utf8_lossy(native.get(..512).unwrap_or(&native))
                .to_ascii_lowercase()
                .contains("<html")
            {
                3
            } else {
                1
            }
        });
        match kind {
            2 if rtf_compressed.is_none() && msg.body_rtf.is_none() => {
                if is_compressed_rtf(&native) {
                    rtf_compressed = Some(native);
                } else {
                    msg.body_rtf = Some(native);
                }
            }
            3 if msg.body_html.is_none() => msg.body_html = Some(native),
            1 if msg.body_text.is_none() => msg.body_text = Some(guess_text(&native)),
            _ => {}
        }
    }
    if let Some(c) = rtf_compressed {
        match rtf::decompress(&c) {
            Ok(r) => msg.body_rtf = Some(r),
            Err(e) => {
                let place = row.place();
                row.problems
                    .push(format!("{place}, PR_RTF_COMPRESSED: {e}"));
            }
        }
    }
    for (id, name) in [
        (tags::BODY, "PR_BODY"),
        (tags::HTML, "PR_HTML"),
        (tags::RTF_COMPRESSED, "PR_RTF_COMPRESSED"),
    ] {
        let missing = match id {
            tags::BODY => msg.body_text.is_none(),
            tags::HTML => msg.body_html.is_none(),
            _ => msg.body_rtf.is_none(),
        };
        if missing && matches!(props.get(id), Some(prop_blob::PropValue::OutOfLine { .. })) {
            let place = row.place();
            row.problems.push(format!(
                "{place}, {name}: stored out of line (separated property), not read yet"
            ));
        }
    }
}

/// The whole message of a row.
pub(super) fn build(store: &EdbStore, n: i32, row: &mut Row<'_, '_>) -> Result<Message> {
    let mut props = row.props();
    // Rarely used properties (PR_TRANSPORT_MESSAGE_HEADERS ...) may sit in
    // `OffPagePropertyBlob` (exchange-store.md §5); read when it is a ProP
    // blob, noted otherwise. Not read for listings: it is a long value.
    if let Some(b) = row.bytes(&["OffPagePropertyBlob"]) {
        match prop_blob::decode(&b) {
            Ok((extra, _)) => props.fill_from(extra),
            Err(e) => store.note(format!(
                "{}, OffPagePropertyBlob not read: {e}",
                row.place()
            )),
        }
    }
    store.blob_notes(&props, row);
    let head = Head::read(store, row, &props)?;
    let mut msg = Message {
        key: format!("{n}.{}", head.doc),
        status: ItemStatus::Live,
        class: head.class,
        subject: head.subject,
        sender: head.sender,
        sent_representing: representing(&props),
        recipients: recipients(row, &props),
        submit_time: time(head.submit),
        delivery_time: time(head.delivery),
        creation_time: time(head.created),
        modification_time: time(
            row.filetime(&["LastModificationTime"])
                .or_else(|| props.filetime(tags::LAST_MODIFICATION_TIME)),
        ),
        message_id: props.str(tags::INTERNET_MESSAGE_ID).map(str::to_owned),
        in_reply_to: props.str(tags::IN_REPLY_TO_ID).map(str::to_owned),
        references: props.str(tags::INTERNET_REFERENCES).map(str::to_owned),
        transport_headers: props
            .str(tags::TRANSPORT_MESSAGE_HEADERS)
            .map(str::to_owned),
        body_text: None,
        body_html: None,
        body_rtf: None,
        details: Vec::new(),
        attachments: Vec::new(),
    };
    bodies(row, &props, &mut msg);
    let ids = subobjects(row);
    match attachment_rows(store, n, head.doc, ids.as_deref()) {
        Ok((a, problems)) => {
            msg.attachments = a;
            row.problems.extend(problems);
        }
        Err(e) => row.problems.push(format!("attachments: {e}")),
    }
    msg.status = status(store, n, row);
    Ok(msg)
}

/// The attachments of message `doc`: rows of `Attachment_N` whose `Inid` is
/// in `ids` or whose `MessageDocumentId` is `doc`; in `ids` order, else in
/// `AttachmentId` order.
fn attachment_rows(
    store: &EdbStore,
    n: i32,
    doc: i64,
    ids: Option<&[i64]>,
) -> Result<(Vec<Attachment>, Vec<String>)> {
    if ids.is_some_and(<[i64]>::is_empty) {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut problems = Vec::new();
    let table = store.table("Attachment", n)?;
    // Listed Inids: one keyed seek each (`Attachment_N` is keyed by Inid),
    // each listed row once as the scan would; any miss (another schema,
    // damage) falls back to the scan below. Rows linked only by
    // `MessageDocumentId` while the blob lists others are not looked for.
    if let Some(ids) = ids {
        let mut unique: Vec<i64> = Vec::with_capacity(ids.len());
        for id in ids {
            if !unique.contains(id) {
                unique.push(*id);
            }
        }
        let mut keyed = Vec::with_capacity(unique.len());
        for &id in &unique {
            match store.seek(table, &[("Inid", id)], |row| attachment(store, row))? {
                Some(a) => keyed.push(a),
                None => break,
            }
        }
        if keyed.len() == unique.len() {
            let (atts, p): (Vec<Attachment>, Vec<Vec<String>>) = keyed.into_iter().unzip();
            return Ok((atts, p.into_iter().flatten().collect()));
        }
    }
    let mut found: Vec<(i64, i64, Attachment)> = Vec::new();
    store.scan::<()>(table, |row| {
        let inid = row.int(&["Inid", "AttachmentInid"]);
        let linked = inid.is_some_and(|i| ids.is_some_and(|ids| ids.contains(&i)))
            || row.int(&["MessageDocumentId"]) == Some(doc);
        if linked {
            let order = match (ids, inid) {
                (Some(ids), Some(i)) => {
                    ids.iter().position(|x| *x == i).unwrap_or(usize::MAX) as i64
                }
                _ => row
                    .int(&["AttachmentId", "AttachmentNumber"])
                    .unwrap_or(i64::MAX),
            };
            let (att, p) = attachment(store, row);
            problems.extend(p);
            found.push((order, inid.unwrap_or(0), att));
        }
        None
    })?;
    found.sort_by_key(|f| (f.0, f.1));
    Ok((found.into_iter().map(|f| f.2).collect(), problems))
}

/// One attachment row, and the problems met outside its content (a name
/// or property that could not be read), for the message's status.
fn attachment(store: &EdbStore, row: &mut Row<'_, '_>) -> (Attachment, Vec<String>) {
    let props = row.props();
    store.blob_notes(&props, row);
    let name = row
        .text(&["Name", "DisplayName"])
        .filter(|s| !s.is_empty())
        .or_else(|| {
            [
                tags::ATTACH_LONG_FILENAME,
                tags::ATTACH_FILENAME,
                tags::DISPLAY_NAME,
            ]
            .iter()
            .find_map(|&id| props.str(id).filter(|s| !s.is_empty()))
            .map(str::to_owned)
        })
        .unwrap_or_default();
    let mime_type = row
        .text(&["ContentType", "MimeTag"])
        .filter(|s| !s.is_empty())
        .or_else(|| props.str(tags::ATTACH_MIME_TAG).map(str::to_owned));
    let content_id = props
        .str(tags::ATTACH_CONTENT_ID)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let method = props.int(tags::ATTACH_METHOD).unwrap_or(1);
    let before = row.problems.len();
    let data = row
        .bytes(&["Content", "AttachmentContent"])
        .or_else(|| props.bytes(tags::ATTACH_DATA_BIN).map(<[u8]>::to_vec));
    let content_problems = row.problems.split_off(before);
    let rfc822 = method == EMBEDDED
        || mime_type
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case("message/rfc822"));
    let content = if BY_REFERENCE.contains(&method) {
        AttachmentContent::Reference(
            props
                .str(tags::ATTACH_LONG_PATHNAME)
                .or_else(|| props.str(tags::ATTACH_PATHNAME))
                .unwrap_or_default()
                .to_owned(),
        )
    } else if data.is_none() && !content_problems.is_empty() {
        AttachmentContent::Unreadable(content_problems.join("; "))
    } else {
        match data {
            Some(d) if rfc822 => AttachmentContent::Rfc822(d),
            Some(d) => AttachmentContent::Data(d),
            None if matches!(
                props.get(tags::ATTACH_DATA_BIN),
                Some(prop_blob::PropValue::OutOfLine { .. })
            ) =>
            {
                AttachmentContent::Unreadable(format!(
                    "{}: content stored out of line (separated property), not read yet",
                    row.place()
                ))
            }
            None => AttachmentContent::Data(Vec::new()),
        }
    };
    let att = Attachment {
        name,
        mime_type,
        content_id,
        content,
    };
    (att, std::mem::take(&mut row.problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_encoding_is_guessed() {
        assert_eq!(guess_text(b"h\0i\0"), "hi");
        assert_eq!(guess_text("grüße".as_bytes()), "grüße");
    }

    #[test]
    fn one_long_value_with_several_recipient_blocks() {
        let one = b"ProP\x00\x04\x01\x00\x48\x01\x30\x4d\x01A".to_vec();
        let two = b"ProP\x00\x04\x01\x00\x48\x01\x30\x4d\x01B".to_vec();
        let mut b = vec![9, 9];
        b.extend_from_slice(&one);
        b.extend_from_slice(&two);
        let names: Vec<String> = split_blobs(&b)
            .iter()
            .filter_map(|e| recipient(e))
            .map(|r| r.address.name)
            .collect();
        assert_eq!(names, ["A", "B"]);
        assert_eq!(split_blobs(b"none"), vec![b"none".to_vec()]);
    }

    #[test]
    fn recipient_blob_after_a_header() {
        let mut e = vec![1, 2, 3];
        e.extend_from_slice(b"ProP\x00\x04\x02\x00\x18\x15\x0c\x48\x01\x30\x19\x02\x4d\x03Ann");
        let r = recipient(&e).expect("recipient");
        assert_eq!(r.kind, RecipientKind::Cc);
        assert_eq!(r.address.name, "Ann");
        assert!(recipient(b"nothing here").is_none());
    }
}
