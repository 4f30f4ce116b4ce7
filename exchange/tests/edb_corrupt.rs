//! Damaged Exchange databases: truncations and byte flips of a generated
//! EDB at a few hundred offsets. Opening, listing the whole tree and
//! exporting every message must return errors or partial results — never
//! panic, never hang.

mod edb_support;

use std::sync::Arc;

use edb_support::{generate, small};
use kairos_exchange::open_tree;
use kairos_parsers::{ExportKind, ItemKind, ItemPath, MemSource, Source};

/// Opens, walks and exports everything it can; returns how many messages
/// exported.
fn exercise(bytes: Vec<u8>) -> usize {
    let src: Arc<dyn Source> = Arc::new(MemSource::new("damaged.edb", bytes));
    let Ok(tree) = open_tree(src) else {
        return 0;
    };
    let mut exported = 0;
    let mut stack = vec![ItemPath::root()];
    let mut visited = 0;
    while let Some(p) = stack.pop() {
        visited += 1;
        assert!(visited < 10_000, "tree walk does not end");
        let Ok(children) = tree.children(&p) else {
            continue;
        };
        for item in children {
            if item.kind == ItemKind::Message
                && tree
                    .export(&item.path, ExportKind::Eml, &mut Vec::new())
                    .is_ok()
            {
                exported += 1;
            }
            if item.has_children && item.kind != ItemKind::Message {
                stack.push(item.path);
            }
        }
    }
    exported
}

#[test]
fn truncations_never_panic() {
    let (bytes, _) = generate(&small(8192, true));
    let clean = exercise(bytes.clone());
    assert!(clean > 20, "the clean file exports {clean} messages");
    let n = 60;
    for i in 0..n {
        let cut = bytes.len() * i / n + (i * 37) % 4096;
        exercise(
            bytes
                .get(..cut.min(bytes.len() - 1))
                .unwrap_or_default()
                .to_vec(),
        );
    }
}

#[test]
fn byte_flips_never_panic() {
    let (bytes, _) = generate(&small(8192, false));
    let page = 8192;
    let pages = bytes.len() / page;
    let mut damaged_exports = 0;
    // Per page: one flip in the page header area and one in the data area,
    // at varying positions, for up to 120 pages.
    for p in 0..pages.min(120) {
        for at in [
            p * page + 8 + (p * 13) % 72,
            p * page + 200 + (p * 977) % (page - 400),
        ] {
            let mut b = bytes.clone();
            b[at] ^= 0xA5;
            damaged_exports += exercise(b);
        }
    }
    assert!(damaged_exports > 0, "no message survived any single flip");
}

#[test]
fn zeroed_pages_never_panic() {
    let (bytes, _) = generate(&small(32768, true));
    let page = 32768;
    for p in 0..bytes.len() / page {
        let mut b = bytes.clone();
        b[p * page..(p + 1) * page].fill(0);
        exercise(b);
    }
}
