//! Shared helpers of the Exchange EDB tests: generate a database with the
//! sample-data generator, open it as an item tree, walk the tree, and the
//! paths the generator's manifest says the tree must show.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::collections::BTreeSet;
use std::sync::Arc;

use kairos_exchange::tree::message_segment;
use kairos_exchange::{EdbStore, MailboxTree};
use kairos_parsers::{Item, ItemPath, ItemTree, MemSource, Source};
use kairos_sample_data::exchange::{ExchangeOptions, Manifest, generate_exchange_edb};

/// Generates a database.
pub fn generate(opts: &ExchangeOptions) -> (Vec<u8>, Manifest) {
    generate_exchange_edb(opts).expect("generator writes the database")
}

/// Small options: few bulk messages, all mailboxes.
pub fn small(page_size: u32, compress: bool) -> ExchangeOptions {
    ExchangeOptions {
        page_size,
        bulk_messages: 12,
        compress_columns: compress,
        ..ExchangeOptions::default()
    }
}

/// Opens bytes as a store.
pub fn store(bytes: Vec<u8>) -> EdbStore {
    let src: Arc<dyn Source> = Arc::new(MemSource::new("generated.edb", bytes));
    EdbStore::open(src).expect("opens as an Exchange database")
}

/// Opens bytes as a tree.
pub fn tree(bytes: Vec<u8>) -> MailboxTree<EdbStore> {
    MailboxTree::new(store(bytes))
}

/// Every item under the root, depth first (messages' attachments included).
pub fn walk(tree: &dyn ItemTree) -> Vec<Item> {
    let mut out = Vec::new();
    let mut stack = vec![ItemPath::root()];
    while let Some(p) = stack.pop() {
        for item in tree.children(&p).expect("children list") {
            if item.has_children {
                stack.push(item.path.clone());
            }
            out.push(item);
        }
    }
    out
}

/// Mailbox key in item paths: the `MailboxNumber`, message keys
/// `N.MessageDocumentId` (the keys documented in kairos_exchange::edb::store).
pub fn message_key(mailbox: i32, document_id: i32) -> String {
    format!("{mailbox}.{document_id}")
}

/// The path of a folder of the manifest (root excluded).
pub fn folder_path(owner: &str, manifest_path: &str) -> ItemPath {
    manifest_path
        .split('/')
        .filter(|s| !s.is_empty())
        .fold(ItemPath::root().child(owner), |p, s| p.child(s))
}

/// Every mailbox, folder and message path the manifest implies.
pub fn expected_paths(m: &Manifest) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for mb in &m.mailboxes {
        out.insert(ItemPath::root().child(&mb.owner.name).to_string());
        // The reader's synthetic folder for messages of no listed folder
        // (empty for generated databases: every message has its folder).
        out.insert(
            ItemPath::root()
                .child(&mb.owner.name)
                .child(kairos_exchange::edb::store::UNFILED)
                .to_string(),
        );
        for f in &mb.folders {
            if f.path == "/" {
                continue;
            }
            let fp = folder_path(&mb.owner.name, &f.path);
            out.insert(fp.to_string());
            for msg in &f.messages {
                out.insert(
                    fp.child(&message_segment(
                        &msg.subject,
                        &message_key(mb.number, msg.document_id),
                    ))
                    .to_string(),
                );
            }
        }
    }
    out
}
