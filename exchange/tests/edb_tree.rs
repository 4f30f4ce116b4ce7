//! `mail ls`-level checks of Exchange EDB reading against the generator's
//! manifest: mailboxes → folder paths → message subjects, at both page
//! sizes, with and without compressed columns; deleted items under
//! Recoverable Items; non-Exchange ESE files refused.

mod edb_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use edb_support::{expected_paths, folder_path, generate, message_key, small, tree, walk};
use kairos_exchange::tree::message_segment;
use kairos_parsers::{FieldValue, FileSource, ItemKind, ItemStatus, ItemTree, Source};

fn check_tree(page_size: u32, compress: bool) {
    let (bytes, manifest) = generate(&small(page_size, compress));
    let t = tree(bytes);
    let items = walk(&t);
    let shown: BTreeSet<String> = items
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                ItemKind::Mailbox | ItemKind::Folder | ItemKind::Message
            )
        })
        .map(|i| i.path.to_string())
        .collect();
    let expected = expected_paths(&manifest);
    assert_eq!(
        shown.difference(&expected).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "shown but not generated (page {page_size}, compress {compress})"
    );
    assert_eq!(
        expected.difference(&shown).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "generated but not shown (page {page_size}, compress {compress})"
    );
    // Fields of every message summary agree with the manifest.
    for mb in &manifest.mailboxes {
        for f in &mb.folders {
            for m in &f.messages {
                let p = folder_path(&mb.owner.name, &f.path).child(&message_segment(
                    &m.subject,
                    &message_key(mb.number, m.document_id),
                ));
                let item = items.iter().find(|i| i.path == p).expect("listed");
                assert_eq!(
                    item.field("subject"),
                    Some(&FieldValue::Text(m.subject.clone()))
                );
                let from = item
                    .field("from")
                    .map(ToString::to_string)
                    .unwrap_or_default();
                assert!(from.contains(&m.from.email), "{from} vs {:?}", m.from);
                assert_eq!(
                    item.field("attachments"),
                    Some(&FieldValue::Int(m.attachments.len() as i64))
                );
                let date = item
                    .field("date")
                    .map(ToString::to_string)
                    .unwrap_or_default();
                assert!(
                    m.date_received.starts_with(&date.replace(' ', "T")[..19]),
                    "date {date} vs received {}",
                    m.date_received
                );
                let want = if m.deleted {
                    ItemStatus::Deleted
                } else {
                    ItemStatus::Live
                };
                assert_eq!(item.status, want, "{p}");
            }
        }
    }
}

#[test]
fn tree_matches_manifest_32k() {
    check_tree(32768, false);
}

#[test]
fn tree_matches_manifest_8k() {
    check_tree(8192, false);
}

#[test]
fn tree_matches_manifest_32k_compressed() {
    check_tree(32768, true);
}

#[test]
fn tree_matches_manifest_8k_compressed() {
    check_tree(8192, true);
}

#[test]
fn deleted_message_is_under_recoverable_items() {
    let (bytes, manifest) = generate(&small(32768, false));
    let t = tree(bytes);
    let mut deleted_seen = 0;
    for mb in &manifest.mailboxes {
        for f in &mb.folders {
            for m in f.messages.iter().filter(|m| m.deleted) {
                assert!(f.path.starts_with("/Recoverable Items/"), "{}", f.path);
                let folder = folder_path(&mb.owner.name, &f.path);
                let listed = t.children(&folder).expect("folder lists");
                let item = listed
                    .iter()
                    .find(|i| i.name.contains(&message_key(mb.number, m.document_id)))
                    .expect("deleted message listed under Recoverable Items");
                assert_eq!(item.status, ItemStatus::Deleted);
                deleted_seen += 1;
            }
        }
        let top = t
            .children(&kairos_parsers::ItemPath::root().child(&mb.owner.name))
            .expect("top folders");
        let names: Vec<&str> = top.iter().map(|i| i.name.as_str()).collect();
        assert!(names.contains(&"Recoverable Items"), "{names:?}");
        assert!(names.contains(&"Top of Information Store"), "{names:?}");
    }
    assert_eq!(deleted_seen, manifest.mailboxes.len());
}

#[test]
fn mailbox_names_and_folder_classes() {
    let (bytes, manifest) = generate(&small(32768, false));
    let t = tree(bytes);
    let boxes = t
        .children(&kairos_parsers::ItemPath::root())
        .expect("mailboxes");
    let names: Vec<&str> = boxes.iter().map(|i| i.name.as_str()).collect();
    let want: Vec<&str> = manifest
        .mailboxes
        .iter()
        .map(|m| m.owner.name.as_str())
        .collect();
    assert_eq!(names, want);
    let inbox = folder_path(
        &manifest.mailboxes[0].owner.name,
        "/Top of Information Store/Inbox",
    );
    let item = t.item(&inbox).expect("inbox");
    assert_eq!(
        item.field("class"),
        Some(&FieldValue::Text("IPF.Note".into()))
    );
}

#[test]
fn other_ese_databases_are_refused_with_a_pointer() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/ese");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("ESE samples folder must exist")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("edb") || e.eq_ignore_ascii_case("dat"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no ESE samples in {}", dir.display());
    let mut refused = 0;
    for f in files {
        let src: Arc<dyn Source> = Arc::new(FileSource::open(&f).expect("open sample"));
        match kairos_exchange::open_tree(src) {
            Ok(_) => panic!("{} is not an Exchange database", f.display()),
            Err(e) => {
                let msg = e.to_string();
                if msg.contains("kairos ese tables") {
                    refused += 1;
                }
            }
        }
    }
    assert!(
        refused > 0,
        "no sample refused with the pointer to `kairos ese tables`"
    );
}
