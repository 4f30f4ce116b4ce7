//! One message of a large mailbox is found by a keyed seek on `Message_N`
//! (and its attachments by seeks on `Attachment_N`): fetching it reads a
//! small fraction of the pages a scan of `Message_N` would, and returns
//! what the generator wrote.

mod edb_support;

use std::sync::Arc;

use kairos_exchange::{EdbStore, MailStore};
use kairos_parsers::{CountingSource, MemSource, Source};
use kairos_sample_data::exchange::ExchangeOptions;

#[test]
fn one_message_is_fetched_without_scanning_its_table() {
    let opts = ExchangeOptions {
        page_size: 8192,
        bulk_messages: 1500,
        ..ExchangeOptions::default()
    };
    let (bytes, manifest) = edb_support::generate(&opts);
    let plain = edb_support::store(bytes.clone());

    let mut checked = 0;
    for mb in &manifest.mailboxes {
        let table = plain
            .database()
            .table(&format!("Message_{}", mb.number))
            .expect("Message_N");
        let leaves = plain
            .database()
            .table_stats(table)
            .expect("stats")
            .leaf_pages;
        let messages: Vec<_> = mb.folders.iter().flat_map(|f| &f.messages).collect();
        // the last message (a scan would read every leaf before it), and
        // every message with attachments
        let last = messages.iter().max_by_key(|m| m.document_id);
        let picks = last
            .into_iter()
            .chain(messages.iter().filter(|m| !m.attachments.is_empty()));
        for m in picks {
            let counting = Arc::new(CountingSource::new(
                MemSource::new("generated.edb", bytes.clone()),
                opts.page_size,
            ));
            let src: Arc<dyn Source> = counting.clone();
            let store = EdbStore::open(src).expect("open");
            let before = counting.pages_read();
            let key = edb_support::message_key(mb.number, m.document_id);
            let got = store.message(&key).expect("message");
            let read = counting.pages_read() - before;
            assert_eq!(got.subject, m.subject, "{key}");
            assert_eq!(got.attachments.len(), m.attachments.len(), "{key}");
            if leaves >= 40 {
                assert!(
                    read * 4 < leaves,
                    "{key}: read {read} pages; Message_{} has {leaves} leaf pages",
                    mb.number
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 0, "no mailbox large enough to measure");
}
