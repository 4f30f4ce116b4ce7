//! The generated Exchange database, read back by two independent ESE
//! readers: libesedb (`esedbinfo`/`esedbexport`) and dissect.esedb, compared
//! with the generator's manifest.
//!
//! libesedb 20181229 (Debian) returns nothing for separated long values —
//! it does the same on engine-written samples (`sfese_test.edb`'s 64 KiB
//! LongBinary, `sfese_decompress_test2.edb`'s `usual_text`, see
//! `../shared/samples/ese/MANIFEST.tsv`) — and skips multi-valued columns;
//! those values are checked through dissect.esedb, which reads them.
//! libesedb also decodes UTF-16 surrogate pairs wrongly (🚀 U+1F680 comes
//! out as U+1F281), so text compared with its output is normalized by
//! [`same_text`]: equal except that a non-BMP character may come out as a
//! different non-BMP character; dissect.esedb checks those exactly.

mod common;

use std::collections::HashMap;

use kairos_sample_data::exchange::{
    ExchangeOptions, Manifest, MessageManifest, generate_exchange_edb,
};
use serde_json::Value as J;

fn generate(page_size: u32) -> (tempfile::TempDir, std::path::PathBuf, Manifest) {
    generate_with(page_size, false)
}

fn generate_with(
    page_size: u32,
    compress_columns: bool,
) -> (tempfile::TempDir, std::path::PathBuf, Manifest) {
    let opts = ExchangeOptions {
        seed: 11,
        page_size,
        mailboxes: 3,
        bulk_messages: 300,
        omit_messages: Vec::new(),
        compress_columns,
    };
    let (bytes, manifest) = generate_exchange_edb(&opts).expect("generate");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mailbox.edb");
    std::fs::write(&path, bytes).expect("write edb");
    (dir, path, manifest)
}

/// Text equality modulo libesedb's surrogate-pair decoding (module doc).
fn same_text(got: &str, want: &str) -> bool {
    got.chars().count() == want.chars().count()
        && got
            .chars()
            .zip(want.chars())
            .all(|(g, w)| g == w || (u32::from(g) > 0xFFFF && u32::from(w) > 0xFFFF))
}

fn messages(m: &Manifest, number: i32) -> Vec<(&str, &MessageManifest)> {
    let mb = m
        .mailboxes
        .iter()
        .find(|mb| mb.number == number)
        .expect("mailbox");
    mb.folders
        .iter()
        .flat_map(|f| f.messages.iter().map(move |msg| (f.id.as_str(), msg)))
        .collect()
}

/// Intrinsic long values stay in the record up to a quarter page.
fn separated(size: usize, page_size: u32) -> bool {
    size > page_size as usize / 4
}

fn check_libesedb(page_size: u32) {
    let (dir, path, manifest) = generate(page_size);
    let mut expected: Vec<String> = ["MSysObjects", "MSysObjectsShadow", "MSysObjids"]
        .map(String::from)
        .to_vec();
    expected.extend(manifest.tables.iter().map(|t| t.name.clone()));
    assert_eq!(common::esedbinfo_tables(&path), expected);

    let export = common::esedbexport(&path, dir.path());
    for t in &manifest.tables {
        assert_eq!(
            export[&t.name].rows.len(),
            t.records,
            "records of {}",
            t.name
        );
    }
    assert_eq!(
        export["MSysObjects"].rows, export["MSysObjectsShadow"].rows,
        "shadow catalog is a copy"
    );

    for mb in &manifest.mailboxes {
        let folders = &export[&format!("Folder_{}", mb.number)];
        let (id, name, special) = (
            folders.col("FolderId"),
            folders.col("DisplayName"),
            folders.col("SpecialFolderNumber"),
        );
        for f in &mb.folders {
            let row = folders
                .rows
                .iter()
                .find(|r| r[id] == f.id)
                .unwrap_or_else(|| panic!("folder {}", f.path));
            assert!(same_text(&row[name], &f.name));
            assert_eq!(
                row[special],
                f.special_number.map(|n| n.to_string()).unwrap_or_default()
            );
        }
        let msgs = &export[&format!("Message_{}", mb.number)];
        let c = |n: &str| msgs.col(n);
        for (folder_id, m) in messages(&manifest, mb.number) {
            let row = msgs
                .rows
                .iter()
                .find(|r| r[c("MessageDocumentId")] == m.document_id.to_string())
                .unwrap_or_else(|| panic!("message {}", m.subject));
            assert_eq!(row[c("FolderId")], folder_id);
            assert_eq!(row[c("DateSent")], m.date_sent_filetime.to_string());
            assert!(same_text(&row[c("SubjectPrefix")], &m.subject_prefix));
            assert_eq!(row[c("IsRead")], m.is_read.to_string());
            let to: Vec<&str> = m.to.iter().map(|p| p.name.as_str()).collect();
            assert!(same_text(&row[c("DisplayTo")], &to.join("; ")));
            assert_eq!(row[c("NativeBody")], hex::encode(m.body_html.as_bytes()));
        }
        let atts = &export[&format!("Attachment_{}", mb.number)];
        for (_, m) in messages(&manifest, mb.number) {
            for a in &m.attachments {
                let row = atts
                    .rows
                    .iter()
                    .find(|r| r[atts.col("Inid")] == a.inid.to_string())
                    .expect("attachment row");
                assert!(
                    same_text(&row[atts.col("Name")], &a.name),
                    "{} vs {}",
                    row[atts.col("Name")],
                    a.name
                );
                assert_eq!(row[atts.col("ContentType")], a.content_type);
                assert_eq!(row[atts.col("Size")], a.size.to_string());
                if !separated(a.size, page_size) {
                    let bytes = hex::decode(&row[atts.col("Content")]).expect("hex content");
                    assert_eq!(
                        blake3::hash(&bytes).to_hex().to_string(),
                        a.blake3,
                        "{}",
                        a.name
                    );
                }
            }
        }
    }
    // The message table is large enough to need branch pages.
    let bytes = std::fs::read(&path).expect("read back");
    let ps = page_size as usize;
    let table_branch_roots = (2..bytes.len() / ps)
        .map(|i| u32::from_le_bytes(bytes[i * ps + 36..i * ps + 40].try_into().expect("4 bytes")))
        .filter(|f| f & 0x1 != 0 && f & 0x2 == 0 && f & 0xe0 == 0)
        .count();
    assert!(table_branch_roots >= 1, "no multi-level table tree");
}

#[test]
fn libesedb_reads_generated_edb_8k() {
    check_libesedb(8192);
}

#[test]
fn libesedb_reads_generated_edb_32k() {
    check_libesedb(32768);
}

/// A minimal "ProP" blob decoder for the test (exchange-store.md §4).
fn prop_blob(b: &[u8]) -> HashMap<u16, J> {
    assert_eq!(&b[..6], b"ProP\x00\x04", "blob header");
    let count = usize::from(u16::from_le_bytes([b[6], b[7]]));
    let ids: Vec<u16> = (0..count)
        .map(|i| u16::from_le_bytes([b[9 + 3 * i], b[10 + 3 * i]]))
        .collect();
    let mut at = 8 + 3 * count;
    let mut out = HashMap::new();
    for id in ids {
        let enc = b[at];
        at += 1;
        let (v, len) = match enc {
            0x08 | 0x09 => (J::Bool(enc == 0x09), 0),
            0x18 => (J::from(0), 0),
            0x19 => (J::from(i64::from(b[at] as i8)), 1),
            0x1a => (
                J::from(i64::from(i16::from_le_bytes([b[at], b[at + 1]]))),
                2,
            ),
            0x1b => (
                J::from(i64::from(i32::from_le_bytes(
                    b[at..at + 4].try_into().expect("4"),
                ))),
                4,
            ),
            0x38 => (
                J::from(i64::from_le_bytes(b[at..at + 8].try_into().expect("8"))),
                8,
            ),
            0x48 | 0x50 => (J::from(""), 0),
            0x4d | 0x51 | 0x4e | 0x52 => {
                let (n, skip) = if enc & 0x3 == 1 {
                    (usize::from(b[at]), 1)
                } else {
                    (usize::from(u16::from_le_bytes([b[at], b[at + 1]])), 2)
                };
                let data = &b[at + skip..at + skip + n];
                let v = if enc < 0x50 {
                    J::from(String::from_utf8(data.to_vec()).expect("utf-8"))
                } else {
                    J::from(hex::encode(data))
                };
                (v, skip + n)
            }
            other => panic!("unexpected value encoding {other:#x}"),
        };
        at += len;
        out.insert(id, v);
    }
    assert_eq!(at, b.len(), "blob fully consumed");
    out
}

fn bytes_of(v: &J) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

fn check_dissect(page_size: u32, compress_columns: bool) {
    let (_dir, path, manifest) = generate_with(page_size, compress_columns);
    let dump = common::dissect_dump(&path);
    for t in &manifest.tables {
        assert_eq!(dump[&t.name].len(), t.records, "records of {}", t.name);
    }
    let mut rtf_blobs = Vec::new();
    let mut rtf_expected = Vec::new();
    for mb in &manifest.mailboxes {
        let folder_rows = &dump[&format!("Folder_{}", mb.number)];
        let msg_rows = &dump[&format!("Message_{}", mb.number)];
        let att_rows = &dump[&format!("Attachment_{}", mb.number)];
        for f in &mb.folders {
            let row = folder_rows
                .iter()
                .find(|r| r["FolderId"] == f.id.as_str())
                .expect("folder");
            let parent = folder_rows
                .iter()
                .find(|r| r["FolderId"] == row["ParentFolderId"]);
            assert_eq!(
                parent.is_none(),
                f.path == "/",
                "only the root has no parent: {}",
                f.path
            );
            // The path rebuilt from the stored parent links and names.
            let mut names = Vec::new();
            let mut at = row;
            while let Some(p) = folder_rows
                .iter()
                .find(|r| r["FolderId"] == at["ParentFolderId"])
            {
                names.push(at["DisplayName"].as_str().expect("name").to_owned());
                at = p;
                assert!(names.len() < 16, "parent cycle at {}", f.path);
            }
            names.reverse();
            assert_eq!(format!("/{}", names.join("/")), f.path);
            for m in &f.messages {
                let row = msg_rows
                    .iter()
                    .find(|r| r["MessageDocumentId"] == m.document_id)
                    .expect("message");
                assert_eq!(row["FolderId"], J::from(f.id.clone()));
                let props = prop_blob(&bytes_of(&row["PropertyBlob"]));
                assert_eq!(props[&0x0037], J::from(m.subject.clone()));
                assert_eq!(props[&0x0C1A], J::from(m.from.name.clone()));
                assert_eq!(props[&0x0C1F], J::from(m.from.email.clone()));
                assert_eq!(props[&0x0039], J::from(m.date_sent_filetime));
                assert_eq!(props[&0x1000], J::from(m.body_text.clone()));
                assert_eq!(props[&0x1035], J::from(m.internet_message_id.clone()));
                assert_eq!(props[&0x1013], J::from(hex::encode(m.body_html.as_bytes())));
                if let Some(rtf) = &m.body_rtf {
                    rtf_blobs.push(bytes_of(&props[&0x1009]));
                    rtf_expected.push(rtf.clone());
                }
                let recips: Vec<(i64, String, String)> = row["RecipientList"]
                    .as_array()
                    .expect("recipient list")
                    .iter()
                    .map(|r| {
                        let p = prop_blob(&bytes_of(r));
                        (
                            p[&0x0C15].as_i64().expect("type"),
                            p[&0x3001].as_str().expect("name").to_owned(),
                            p[&0x39FE].as_str().expect("smtp").to_owned(),
                        )
                    })
                    .collect();
                let expected: Vec<(i64, String, String)> =
                    m.to.iter()
                        .map(|p| (1, p.name.clone(), p.email.clone()))
                        .chain(m.cc.iter().map(|p| (2, p.name.clone(), p.email.clone())))
                        .collect();
                assert_eq!(recips, expected, "recipients of {}", m.subject);
                for a in &m.attachments {
                    let arow = att_rows
                        .iter()
                        .find(|r| r["Inid"] == a.inid)
                        .expect("attachment");
                    assert_eq!(arow["MessageDocumentId"], J::from(m.document_id));
                    assert_eq!(arow["Name"], J::from(a.name.clone()));
                    let content = bytes_of(&arow["Content"]);
                    assert_eq!(
                        blake3::hash(&content).to_hex().to_string(),
                        a.blake3,
                        "{}",
                        a.name
                    );
                    let ap = prop_blob(&bytes_of(&arow["PropertyBlob"]));
                    assert_eq!(ap[&0x3705], J::from(i64::from(a.method)));
                    assert_eq!(ap.get(&0x3712).and_then(J::as_str), a.content_id.as_deref());
                    if let Some(cid) = &a.content_id {
                        let html =
                            String::from_utf8(bytes_of(&row["NativeBody"])).expect("utf-8 html");
                        assert!(
                            html.contains(&format!("cid:{cid}")),
                            "inline image not referenced"
                        );
                    }
                }
            }
        }
        // The deleted message is filed under Recoverable Items/Deletions.
        let deletions = mb
            .folders
            .iter()
            .find(|f| f.special_number == Some(21))
            .expect("Deletions folder");
        assert_eq!(deletions.path, "/Recoverable Items/Deletions");
        assert!(deletions.messages.iter().all(|m| m.deleted) && !deletions.messages.is_empty());
    }
    // Some attachment was separated into the long-value tree.
    assert!(manifest.mailboxes.iter().any(|mb| {
        messages(&manifest, mb.number)
            .iter()
            .any(|(_, m)| m.attachments.iter().any(|a| separated(a.size, page_size)))
    }));
    assert_eq!(common::decompress_rtf(&rtf_blobs), rtf_expected);
    // Embedded messages re-parse (Python's email package) to what the
    // manifest says.
    let embedded: Vec<(&MessageManifest, Vec<u8>)> = manifest
        .mailboxes
        .iter()
        .flat_map(|mb| {
            let rows = &dump[&format!("Attachment_{}", mb.number)];
            messages(&manifest, mb.number)
                .into_iter()
                .flat_map(|(_, m)| m.attachments.iter())
                .filter_map(move |a| {
                    let row = rows.iter().find(|r| r["Inid"] == a.inid)?;
                    Some((a.embedded.as_deref()?, bytes_of(&row["Content"])))
                })
        })
        .collect();
    assert!(!embedded.is_empty());
    let parsed = common::parse_eml(&embedded.iter().map(|e| e.1.clone()).collect::<Vec<_>>());
    for ((m, _), p) in embedded.iter().zip(&parsed) {
        assert_eq!(p["subject"], J::from(m.subject.clone()));
        assert_eq!(p["from"], J::from(vec![m.from.email.clone()]));
        assert_eq!(p["from_name"], J::from(vec![m.from.name.clone()]));
        let to: Vec<String> = m.to.iter().map(|t| t.email.clone()).collect();
        assert_eq!(p["to"], J::from(to));
        assert_eq!(p["message_id"], J::from(m.internet_message_id.clone()));
        assert_eq!(
            p["body"].as_str().map(|b| b.replace("\r\n", "\n")),
            Some(m.body_text.clone())
        );
        let date = p["date"].as_str().expect("date");
        assert_eq!(date.replace("+00:00", "Z"), m.date_sent);
    }
}

#[test]
fn dissect_reads_every_value_8k() {
    check_dissect(8192, false);
}

#[test]
fn dissect_reads_every_value_32k() {
    check_dissect(32768, false);
}

#[test]
fn dissect_reads_compressed_columns_8k() {
    check_dissect(8192, true);
}

#[test]
fn dissect_reads_compressed_columns_32k() {
    check_dissect(32768, true);
}

/// With compressed columns libesedb still opens and exports every table
/// cleanly with the right record counts (its 7-bit decoding is unreliable,
/// see `ese_writer_roundtrip.rs`, so values are checked through dissect).
#[test]
fn libesedb_reads_compressed_generated_edb() {
    for page_size in [8192, 32768] {
        let (dir, path, manifest) = generate_with(page_size, true);
        let (_plain_dir, plain, _) = generate_with(page_size, false);
        let size = |p: &std::path::Path| std::fs::metadata(p).expect("size").len();
        assert!(
            size(&path) < size(&plain),
            "compression saved no page at {page_size}"
        );
        assert_eq!(
            common::esedbinfo_tables(&path).len(),
            manifest.tables.len() + 3
        );
        let export = common::esedbexport(&path, dir.path());
        for t in &manifest.tables {
            assert_eq!(
                export[&t.name].rows.len(),
                t.records,
                "records of {}",
                t.name
            );
        }
        // The compressed flag is in the catalog: 0x1000 on PropertyBlob.
        let cat = &export["MSysObjects"];
        let flags = cat.col("Flags");
        let name = cat.col("Name");
        assert!(
            cat.rows.iter().any(|r| r[name] == "PropertyBlob"
                && r[flags].parse::<i32>().expect("flags") & 0x1000 != 0)
        );
    }
}

#[test]
fn generation_is_deterministic() {
    let opts = ExchangeOptions {
        bulk_messages: 20,
        ..ExchangeOptions::default()
    };
    let a = generate_exchange_edb(&opts).expect("a");
    let b = generate_exchange_edb(&opts).expect("b");
    assert!(a.0 == b.0 && a.1 == b.1);
    let c = generate_exchange_edb(&ExchangeOptions { seed: 8, ..opts }).expect("c");
    assert_ne!(a.1, c.1);
    let json = serde_json::to_string(&a.1).expect("serialize");
    let back: Manifest = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, a.1);
}

/// A later version without one message: that message is gone from the
/// manifest and from what libesedb exports; everything else is unchanged.
#[test]
fn omitting_a_message_gives_a_later_version() {
    let opts = ExchangeOptions {
        seed: 5,
        page_size: 8192,
        mailboxes: 2,
        bulk_messages: 10,
        omit_messages: Vec::new(),
        compress_columns: false,
    };
    let (v1, m1) = generate_exchange_edb(&opts).expect("v1");
    let victim = m1.mailboxes[1]
        .folders
        .iter()
        .find(|f| f.name == "Inbox")
        .expect("inbox")
        .messages[0]
        .clone();
    let (v2, m2) = generate_exchange_edb(&ExchangeOptions {
        omit_messages: vec![(102, victim.document_id)],
        ..opts
    })
    .expect("v2");
    let count = |m: &Manifest| {
        m.mailboxes
            .iter()
            .flat_map(|mb| &mb.folders)
            .map(|f| f.messages.len())
            .sum::<usize>()
    };
    assert_eq!(count(&m1), count(&m2) + 1);
    assert!(
        !m2.mailboxes[1]
            .folders
            .iter()
            .flat_map(|f| &f.messages)
            .any(|m| m.subject == victim.subject && m.document_id == victim.document_id)
    );
    assert_eq!(
        m1.mailboxes[0], m2.mailboxes[0],
        "other mailboxes unchanged"
    );
    assert_eq!(v1.len() % 8192, 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v2.edb");
    std::fs::write(&path, v2).expect("write");
    let export = common::esedbexport(&path, dir.path());
    let msgs = &export["Message_102"];
    let doc = msgs.col("MessageDocumentId");
    assert!(
        msgs.rows
            .iter()
            .all(|r| r[doc] != victim.document_id.to_string())
    );
    assert_eq!(msgs.rows.len(), messages(&m2, 102).len());
}

/// kairos' own format sniffer (kairos-parsers, written independently of
/// the writer) recognizes the header: ESE 0x620 rev 0x14, page size, clean.
#[test]
fn kairos_sniff_recognizes_generated_edb() {
    use kairos_parsers::{EseState, MemSource, Sniffed, sniff};
    for page_size in [8192, 32768] {
        let opts = ExchangeOptions {
            page_size,
            bulk_messages: 0,
            ..ExchangeOptions::default()
        };
        let (bytes, _) = generate_exchange_edb(&opts).expect("generate");
        let found = sniff(&MemSource::new("generated.edb", bytes)).expect("sniff");
        assert!(
            matches!(
                found,
                Sniffed::Ese { format_version: 0x620, format_revision: 0x14, page_size: p, state: EseState::CleanShutdown }
                    if p == page_size
            ),
            "{found:?}"
        );
    }
}
