//! The EDB reader on layouts other than the generator's, built with the
//! ESE writer: no `Mailbox` table, folder names only in the property blob
//! (one as a UTF-16 0x49 string), Recoverable Items without a special
//! number, the subject split into `SubjectPrefix` + PR_NORMALIZED_SUBJECT,
//! an OLE `DateTime` date column, no `RecipientList` (PR_DISPLAY_TO names),
//! a UTF-16 plain `NativeBody`, an HTML `NativeBody` several pages long
//! (a separated long value), an unknown property type byte, an
//! undecodable blob value, attachments linked only by `MessageDocumentId`,
//! a by-reference attachment, messages in the root folder or in a folder
//! with no row (the unfiled folder), rarely used properties in
//! `OffPagePropertyBlob`; and a dirty-shutdown header.

mod edb_support;

use std::sync::Arc;

use kairos_exchange::edb::store::UNFILED;
use kairos_exchange::model::{AttachmentContent, RecipientKind};
use kairos_exchange::{EdbStore, MailStore};
use kairos_parsers::{ItemStatus, MemSource, Source};
use kairos_sample_data::ese_writer::{
    ColumnSpec, ColumnType as T, DatabaseSpec, TableSpec, Value, write_database,
};

/// A "ProP" blob from `(directory type, id, encoded value)` triples.
fn blob(props: &[(u8, u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = b"ProP".to_vec();
    b.extend_from_slice(&0x0400u16.to_le_bytes());
    b.extend_from_slice(&(props.len() as u16).to_le_bytes());
    for (t, id, _) in props {
        b.push(*t);
        b.extend_from_slice(&id.to_le_bytes());
    }
    for (_, _, v) in props {
        b.extend_from_slice(v);
    }
    b
}

fn s8(id: u16, s: &str) -> (u8, u16, Vec<u8>) {
    let mut v = vec![0x4d, s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    (0x48, id, v)
}

fn s16(id: u16, s: &str) -> (u8, u16, Vec<u8>) {
    let units: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let mut v = vec![0x49, units.len() as u8];
    v.extend_from_slice(&units);
    (0x48, id, v)
}

fn long(id: u16, x: i8) -> (u8, u16, Vec<u8>) {
    (0x18, id, vec![0x19, x as u8])
}

fn id26(n: u8) -> Vec<u8> {
    let mut v = vec![0x11; 16];
    v.extend_from_slice(&u64::from(n).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v
}

/// 2026-10-05T09:00:00Z as an OLE Automation date: days since 1899-12-30
/// (25569 days before the Unix epoch).
const OLE_DATE: f64 = 1_791_190_800.0 / 86_400.0 + 25_569.0;

/// An HTML body far larger than a page: stored as a separated long value.
fn big_html() -> Vec<u8> {
    use std::fmt::Write as _;
    let mut h = String::from("<html><body>");
    for i in 0..6000 {
        let _ = write!(h, "<p>Zeile {i}: Grüße</p>");
    }
    h.push_str("</body></html>");
    h.into_bytes()
}

fn database(page_size: u32) -> Vec<u8> {
    let col = ColumnSpec::new;
    let folder =
        |id: u8, parent: Option<u8>, props: &[(u8, u16, Vec<u8>)], special: Option<i32>| {
            vec![
                Value::I32(7),
                Value::Bytes(id26(id)),
                Value::Bytes(parent.map_or(vec![0; 26], id26)),
                Value::Bytes(blob(props)),
                special.map_or(Value::Null, Value::I32),
            ]
        };
    let folders = TableSpec {
        name: "Folder_7".into(),
        columns: vec![
            col("MailboxPartitionNumber", T::Long),
            col("FolderId", T::Binary),
            col("ParentFolderId", T::Binary),
            col("PropertyBlob", T::LongBinary),
            col("SpecialFolderNumber", T::Long).tagged(),
        ],
        primary_key: vec!["MailboxPartitionNumber".into(), "FolderId".into()],
        rows: vec![
            folder(1, None, &[s8(0x3001, "")], Some(1)),
            folder(2, Some(1), &[s8(0x3001, "Top of Information Store")], None),
            folder(
                3,
                Some(2),
                &[s16(0x3001, "受信トレイ"), s8(0x3613, "IPF.Note")],
                None,
            ),
            folder(4, Some(1), &[s8(0x3001, "Recoverable Items")], None),
            folder(5, Some(4), &[s8(0x3001, "Purges")], None),
        ],
    };
    let body16: Vec<u8> = "Grüße aus Köln"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let m1 = blob(&[
        s8(0x0E1D, "Hello"),
        s8(0x0042, "Delegate Dora"),
        s8(0x0065, "dora@example.org"),
        s8(0x0E04, "Ann; Bob"),
        s8(0x0E03, "Cy"),
        (0x5c, 0x6001, vec![0x19, 3]),
    ]);
    let mut m2 = blob(&[s8(0x0037, "Purged one"), long(0x0017, 1)]);
    // Replace the second value's encoding by one no decoder knows.
    let at = m2.len() - 2;
    m2[at] = 0x77;
    let m3 = blob(&[
        s8(0x0037, "With files"),
        s8(0x0C1A, "Eve"),
        s8(0x0C1F, "eve@example.org"),
    ]);
    let messages = TableSpec {
        name: "Message_7".into(),
        columns: vec![
            col("MailboxPartitionNumber", T::Long),
            col("MessageDocumentId", T::Long),
            col("FolderId", T::Binary),
            col("SubjectPrefix", T::Text),
            col("DateReceived", T::DateTime),
            col("BodyType", T::Long),
            col("NativeBody", T::LongBinary),
            col("PropertyBlob", T::LongBinary),
            col("OffPagePropertyBlob", T::LongBinary),
        ],
        primary_key: vec!["MailboxPartitionNumber".into(), "MessageDocumentId".into()],
        rows: vec![
            vec![
                Value::I32(7),
                Value::I32(1),
                Value::Bytes(id26(3)),
                Value::Text("RE: ".into()),
                Value::F64(OLE_DATE),
                Value::I32(1),
                Value::Bytes(body16),
                Value::Bytes(m1),
                Value::Bytes(blob(&[
                    s8(0x007D, "Received: from mx by store\r\nX-Mailer: Test\r\n"),
                    s8(0x1035, "<off@page.example>"),
                    s8(0x0E1D, "not this one"),
                ])),
            ],
            vec![
                Value::I32(7),
                Value::I32(2),
                Value::Bytes(id26(5)),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Bytes(m2),
                Value::Null,
            ],
            vec![
                Value::I32(7),
                Value::I32(5),
                Value::Bytes(id26(1)),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Bytes(blob(&[s8(0x0037, "In the root")])),
                Value::Null,
            ],
            vec![
                Value::I32(7),
                Value::I32(6),
                Value::Bytes(id26(9)),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Bytes(blob(&[s8(0x0037, "Folder row lost")])),
                Value::Null,
            ],
            vec![
                Value::I32(7),
                Value::I32(4),
                Value::Bytes(id26(5)),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Bytes(blob(&[s8(0x0037, "Purged clean")])),
                Value::Null,
            ],
            vec![
                Value::I32(7),
                Value::I32(3),
                Value::Bytes(id26(3)),
                Value::Null,
                Value::Null,
                Value::I32(3),
                Value::Bytes(big_html()),
                Value::Bytes(m3),
                Value::Null,
            ],
        ],
    };
    let attachments = TableSpec {
        name: "Attachment_7".into(),
        columns: vec![
            col("Inid", T::LongLong),
            col("MessageDocumentId", T::Long),
            col("Content", T::LongBinary),
            col("PropertyBlob", T::LongBinary),
        ],
        primary_key: vec!["Inid".into()],
        rows: vec![
            vec![
                Value::I64(70),
                Value::I32(3),
                Value::Bytes(b"plain notes\r\n".to_vec()),
                Value::Bytes(blob(&[s8(0x3707, "notes.txt"), long(0x3705, 1)])),
            ],
            vec![
                Value::I64(71),
                Value::I32(3),
                Value::Null,
                Value::Bytes(blob(&[
                    s8(0x3707, "plan.xlsx"),
                    long(0x3705, 4),
                    s8(0x370D, r"\\files\share\plan.xlsx"),
                ])),
            ],
            vec![
                Value::I64(72),
                Value::I32(3),
                Value::Bytes(b"still here".to_vec()),
                Value::Bytes(b"JUNK, not a property blob".to_vec()),
            ],
        ],
    };
    write_database(&DatabaseSpec {
        page_size,
        signature: 0x1234,
        created_unix: 1_791_190_800,
        tables: vec![folders, messages, attachments],
    })
    .expect("ESE writer")
}

fn open(bytes: Vec<u8>) -> EdbStore {
    let src: Arc<dyn Source> = Arc::new(MemSource::new("layout.edb", bytes));
    EdbStore::open(src).expect("an Exchange database")
}

fn folder_key(parent: &[kairos_exchange::model::FolderInfo], name: &str) -> String {
    parent
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("folder {name} missing from {parent:?}"))
        .key
        .clone()
}

#[test]
fn other_layout_reads_by_the_format_rules() {
    for page_size in [8192, 32768] {
        let store = open(database(page_size));
        let boxes = store.mailboxes().expect("mailboxes");
        assert_eq!(boxes.len(), 1);
        assert_eq!(boxes[0].name, "Mailbox 7");
        assert!(
            boxes[0]
                .notes
                .iter()
                .any(|n| n.contains("no row in the Mailbox table"))
        );
        let top = store.top_folders(&boxes[0].key).expect("top");
        let names: Vec<&str> = top.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["Top of Information Store", "Recoverable Items", UNFILED]
        );
        let unfiled = store.messages(&folder_key(&top, UNFILED)).expect("unfiled");
        let subjects: Vec<&str> = unfiled.iter().map(|m| m.subject.as_str()).collect();
        assert_eq!(subjects, ["In the root", "Folder row lost"]);
        let tois = store
            .sub_folders(&folder_key(&top, "Top of Information Store"))
            .expect("sub");
        assert_eq!(tois.len(), 1);
        assert_eq!(tois[0].name, "受信トレイ");
        assert_eq!(tois[0].container_class.as_deref(), Some("IPF.Note"));

        let listed = store.messages(&tois[0].key).expect("messages");
        assert_eq!(listed.len(), 2);
        let m1 = &listed[0];
        assert_eq!(m1.subject, "RE: Hello");
        assert_eq!(m1.sender.name, "Delegate Dora");
        assert_eq!(m1.sender.email, "dora@example.org");
        assert_eq!(
            m1.date.map(|t| t.to_string()),
            Some("2026-10-05T09:00:00Z".into())
        );
        assert_eq!(m1.status, ItemStatus::Live);
        assert_eq!(listed[1].attachment_count, 3);

        let full = store.message(&m1.key).expect("message 1");
        assert_eq!(full.body_text.as_deref(), Some("Grüße aus Köln"));
        assert_eq!(full.subject, "RE: Hello", "the main blob wins");
        assert_eq!(full.message_id.as_deref(), Some("<off@page.example>"));
        assert!(
            full.transport_headers
                .as_deref()
                .is_some_and(|h| h.contains("X-Mailer: Test")),
            "{:?}",
            full.transport_headers
        );
        let rcpt: Vec<(RecipientKind, &str)> = full
            .recipients
            .iter()
            .map(|r| (r.kind, r.address.name.as_str()))
            .collect();
        assert_eq!(
            rcpt,
            [
                (RecipientKind::To, "Ann"),
                (RecipientKind::To, "Bob"),
                (RecipientKind::Cc, "Cy")
            ]
        );
        assert!(
            store
                .notes()
                .iter()
                .any(|n| n.contains("0x5c") && n.contains("Message_7")),
            "{:?}",
            store.notes()
        );

        let m3 = store.message(&listed[1].key).expect("message 3");
        assert_eq!(m3.sender.email, "eve@example.org");
        assert_eq!(m3.body_html.as_deref(), Some(big_html().as_slice()));
        assert!(big_html().len() > 4 * page_size as usize);
        assert_eq!(m3.attachments.len(), 3);
        // A broken attachment blob loses its properties, not its bytes,
        // and marks the message damaged naming the attachment row.
        assert_eq!(m3.attachments[2].data(), Some(&b"still here"[..]));
        match &m3.status {
            ItemStatus::Damaged(why) => {
                assert!(
                    why.contains("Attachment_7") && why.contains("ProP"),
                    "{why}"
                );
            }
            other => panic!("expected damaged, got {other:?}"),
        }
        assert_eq!(m3.attachments[0].name, "notes.txt");
        assert_eq!(m3.attachments[0].data(), Some(&b"plain notes\r\n"[..]));
        assert_eq!(
            m3.attachments[1].content,
            AttachmentContent::Reference(r"\\files\share\plan.xlsx".into())
        );

        let ri = store
            .sub_folders(&folder_key(&top, "Recoverable Items"))
            .expect("RI");
        let purged = store.messages(&ri[0].key).expect("purges");
        assert_eq!(purged.len(), 2);
        let bad = purged
            .iter()
            .find(|m| m.subject == "Purged one")
            .expect("listed");
        match &bad.status {
            ItemStatus::Damaged(why) => {
                assert!(why.contains("Message_7") && why.contains("0x77"), "{why}");
                assert!(why.contains("page "), "{why}");
            }
            other => panic!("expected damaged, got {other:?}"),
        }
    }
}

#[test]
fn deleted_area_without_damage_is_deleted() {
    // The generator's Deletions folder has a special number; here the
    // Recoverable Items folder is found by name: its messages are deleted.
    let store = open(database(8192));
    let boxes = store.mailboxes().expect("mailboxes");
    let top = store.top_folders(&boxes[0].key).expect("top");
    let ri = store
        .sub_folders(&folder_key(&top, "Recoverable Items"))
        .expect("RI");
    assert_eq!(ri[0].name, "Purges");
    let purged = store.messages(&ri[0].key).expect("purges");
    let clean = purged
        .iter()
        .find(|m| m.subject == "Purged clean")
        .expect("listed");
    assert_eq!(clean.status, ItemStatus::Deleted);
    let full = store.message(&clean.key).expect("message");
    assert_eq!(full.status, ItemStatus::Deleted);
}

#[test]
fn dirty_shutdown_is_a_mailbox_note() {
    let (mut bytes, _) = edb_support::generate(&edb_support::small(8192, false));
    let page = 8192;
    for p in 0..2 {
        let h = &mut bytes[p * page..(p + 1) * page];
        h[52..56].copy_from_slice(&2u32.to_le_bytes());
        let c = kairos_ese::checksum::old_format(h);
        h[0..4].copy_from_slice(&c.to_le_bytes());
    }
    let store = open(bytes);
    let boxes = store.mailboxes().expect("mailboxes of a dirty database");
    assert!(!boxes.is_empty());
    for b in &boxes {
        assert!(
            b.notes
                .iter()
                .any(|n| n.contains("dirty shutdown") && n.contains("data as on disk")),
            "{:?}",
            b.notes
        );
    }
}
