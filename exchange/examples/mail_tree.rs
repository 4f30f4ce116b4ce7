//! Prints the whole item tree of a PST/OST: `cargo run --example mail_tree -- FILE`.

use std::sync::Arc;

use kairos_exchange::{MailboxTree, PstStore};
use kairos_parsers::{FileSource, ItemPath, ItemTree};

fn walk(tree: &dyn ItemTree, path: &ItemPath, depth: usize) -> kairos_parsers::Result<()> {
    for item in tree.children(path)? {
        println!(
            "{:indent$}{} [{:?} {:?}] {}",
            "",
            item.name,
            item.kind,
            item.status,
            item.fields
                .iter()
                .map(|f| format!("{}={}", f.name, f.value))
                .collect::<Vec<_>>()
                .join(" | "),
            indent = depth * 2
        );
        if item.has_children
            && let Err(e) = walk(tree, &item.path, depth + 1)
        {
            println!("{:indent$}! {e}", "", indent = depth * 2 + 2);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: mail_tree FILE")?;
    let store = PstStore::open(Arc::new(FileSource::open(&path)?))?;
    let tree = MailboxTree::new(store);
    walk(&tree, &ItemPath::root(), 0)?;
    Ok(())
}
