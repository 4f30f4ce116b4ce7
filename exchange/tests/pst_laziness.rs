//! Opening a PST and listing its folders reads only what that needs: the
//! header, the B-tree pages on the way and the folders' own nodes, not the
//! message bodies, attachments or unallocated space.

mod common;

use std::sync::Arc;

use kairos_exchange::{MailboxTree, PstStore};
use kairos_parsers::{CountingSource, FileSource, ItemPath, ItemTree};

#[test]
fn listing_reads_a_small_part_of_the_file() {
    let file = common::samples().join("aspose_Outlook.pst");
    let src = Arc::new(CountingSource::new(
        FileSource::open(&file).expect("sample"),
        4096,
    ));
    let tree = MailboxTree::new(PstStore::open(src.clone()).expect("open"));
    let boxes = tree.children(&ItemPath::root()).expect("mailbox");
    let top = tree.children(&boxes[0].path).expect("top folders");
    assert!(top.iter().any(|i| i.name == "Top of Personal Folders"));
    let total = src.total_pages();
    let opened = src.pages_read();
    assert!(
        opened * 10 < total,
        "open + top folders read {opened} of {total} pages"
    );

    // One folder's message list: still no bodies or attachment data (the
    // 12 inline images and the 3 attachments alone are most of the file).
    let inbox = boxes[0]
        .path
        .child("Top of Personal Folders")
        .child("Inbox");
    let messages = tree.children(&inbox).expect("inbox");
    assert_eq!(messages.iter().filter(|m| m.exports.len() == 1).count(), 8);
    let listed = src.pages_read();
    assert!(
        listed * 4 < total,
        "inbox listing read {listed} of {total} pages"
    );

    // The recovery scan is what reads the unallocated space, and only when
    // the Recovered folder is opened.
    let recovered = tree
        .children(&boxes[0].path.child("Recovered"))
        .expect("recovered");
    assert_eq!(recovered.len(), 2);
    assert!(src.pages_read() > listed * 2);
}
