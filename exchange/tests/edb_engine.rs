//! Exchange EDB read in place from the CDP engine: capture a generated
//! database at T1 and the version without one message at T2; the message
//! exports from the view at T1 and is gone at T2; listing the mailboxes and
//! their top folders at T1 reads only a few percent of the file's pages.

mod edb_support;

use std::sync::Arc;

use edb_support::{folder_path, generate, message_key};
use kairos_engine::{Store, StoreOptions};
use kairos_exchange::tree::message_segment;
use kairos_exchange::{EdbStore, MailboxTree};
use kairos_parsers::{CountingSource, ExportKind, ItemPath, ItemTree, Source};
use kairos_sample_data::exchange::ExchangeOptions;

const T1: i64 = 1_800_000_000_000_000_000;
const T2: i64 = T1 + 60_000_000_000;

#[test]
fn message_present_at_t1_gone_at_t2_and_listing_is_lazy() {
    let opts = ExchangeOptions {
        page_size: 8192,
        bulk_messages: 3000,
        ..ExchangeOptions::default()
    };
    let (v1, manifest) = generate(&opts);
    let mb = &manifest.mailboxes[0];
    let inbox = mb
        .folders
        .iter()
        .find(|f| f.path == "/Top of Information Store/Inbox")
        .expect("inbox");
    let msg = inbox.messages.first().expect("an inbox message");
    let (v2, manifest2) = generate(&ExchangeOptions {
        omit_messages: vec![(mb.number, msg.document_id)],
        ..opts.clone()
    });
    assert_ne!(manifest, manifest2);

    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join("store");
    Store::init(&store_dir, StoreOptions::default()).expect("init");
    let mut store = Store::open(&store_dir).expect("open");
    let scratch = dir.path().join("mailboxes.edb");
    std::fs::write(&scratch, &v1).expect("write v1");
    store
        .capture_file(&scratch, "exchange/mailboxes.edb", Some(T1), &|_, _| {})
        .expect("capture T1");
    std::fs::write(&scratch, &v2).expect("write v2");
    store
        .capture_file(&scratch, "exchange/mailboxes.edb", Some(T2), &|_, _| {})
        .expect("capture T2");

    let path = folder_path(&mb.owner.name, &inbox.path).child(&message_segment(
        &msg.subject,
        &message_key(mb.number, msg.document_id),
    ));
    let open = |at: i64| {
        let view: Arc<dyn Source> = Arc::new(
            store
                .view("exchange/mailboxes.edb", Some(at))
                .expect("view"),
        );
        kairos_exchange::open_tree(view).expect("open tree")
    };
    let mut eml = Vec::new();
    open(T1)
        .export(&path, ExportKind::Eml, &mut eml)
        .expect("message exports at T1");
    let parsed = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("EML parses");
    assert_eq!(parsed.subject(), Some(msg.subject.as_str()));
    let err = open(T2)
        .export(&path, ExportKind::Eml, &mut Vec::new())
        .expect_err("message is gone at T2");
    assert!(err.to_string().contains("not found"), "{err}");
    // The rest of the inbox is still there at T2.
    let left = open(T2)
        .children(&folder_path(&mb.owner.name, &inbox.path))
        .expect("inbox at T2");
    assert_eq!(
        left.iter()
            .filter(|i| i.kind == kairos_parsers::ItemKind::Message)
            .count(),
        inbox.messages.len() - 1
    );

    // Lazy listing through a page counter.
    let view = store
        .view("exchange/mailboxes.edb", Some(T1))
        .expect("view");
    let counting = Arc::new(CountingSource::new(view, opts.page_size));
    let src: Arc<dyn Source> = counting.clone();
    let tree = MailboxTree::new(EdbStore::open(src).expect("open"));
    let boxes = tree.children(&ItemPath::root()).expect("mailboxes");
    assert_eq!(boxes.len(), manifest.mailboxes.len());
    for b in &boxes {
        let top = tree.children(&b.path).expect("top folders");
        assert!(top.iter().any(|f| f.name == "Top of Information Store"));
    }
    let read = counting.pages_read();
    let total = counting.total_pages();
    assert!(
        total > 400,
        "the file should be big enough to measure: {total} pages"
    );
    assert!(
        read * 100 <= total * 3,
        "listing read {read} of {total} pages (more than 3%)"
    );
    eprintln!("listing mailboxes and top folders read {read} of {total} pages");
}
