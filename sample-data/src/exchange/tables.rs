//! The Exchange tables (`Mailbox`, `MailboxIdentity`, `Folder_N`,
//! `Message_N`, `Attachment_N`) built from the content model.

use super::content::{AttachmentBytes, BASE_UNIX, Rng, filetime, id26};
use super::prop_blob::{PropValue, prop, prop_blob};
use super::{Manifest, MessageManifest};
use crate::ese_writer::{ColumnSpec, ColumnType, TableSpec, Value};
use crate::rtf;

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
pub(super) fn tables(manifest: &Manifest, attachment_bytes: &AttachmentBytes) -> Vec<TableSpec> {
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
