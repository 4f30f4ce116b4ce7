//! Measures what docs/PERFORMANCE.md reports for Exchange EDB reading:
//! `cargo run --release -p kairos-exchange --example edb_bench -- PAGE_SIZE FILE...`
//!
//! Per file: time and pages read (counted in the database's page size) to
//! open and list the mailboxes and their top folders, to list the whole
//! tree down to messages, and to export 200 messages spread over the tree
//! as EML (each export finds its record by a keyed seek on `Message_N`, so
//! one export costs O(tree depth) pages plus the message's own values).

use std::sync::Arc;
use std::time::Instant;

use kairos_exchange::{EdbStore, MailboxTree};
use kairos_parsers::{
    CountingSource, ExportKind, FileSource, ItemKind, ItemPath, ItemTree, Source,
};

fn walk(tree: &dyn ItemTree, path: &ItemPath, messages: &mut Vec<ItemPath>) {
    let Ok(children) = tree.children(path) else {
        return;
    };
    for item in children {
        match item.kind {
            ItemKind::Message | ItemKind::Contact | ItemKind::Appointment => {
                messages.push(item.path);
            }
            _ if item.has_children => walk(tree, &item.path, messages),
            _ => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let page_size: u32 = args
        .next()
        .ok_or("usage: edb_bench PAGE_SIZE FILE...")?
        .parse()?;
    println!("file\tbytes\tstep\tms\tpages_read\tpages_total\titems");
    for path in args {
        let src = Arc::new(CountingSource::new(FileSource::open(&path)?, page_size));
        let name = std::path::Path::new(&path)
            .file_name()
            .map_or(path.clone(), |n| n.to_string_lossy().into_owned());
        let report = |step: &str, t: Instant, items: usize| {
            println!(
                "{name}\t{}\t{step}\t{:.1}\t{}\t{}\t{items}",
                src.len(),
                t.elapsed().as_secs_f64() * 1000.0,
                src.pages_read(),
                src.total_pages()
            );
        };
        let t = Instant::now();
        let dyn_src: Arc<dyn Source> = src.clone();
        let tree = MailboxTree::new(EdbStore::open(dyn_src)?);
        let mut top = 0;
        for b in tree.children(&ItemPath::root())? {
            top += tree.children(&b.path)?.len();
        }
        report("open+top", t, top);

        let t = Instant::now();
        let mut messages = Vec::new();
        walk(&tree, &ItemPath::root(), &mut messages);
        report("list_tree", t, messages.len());

        let t = Instant::now();
        let mut bytes = 0;
        let step = (messages.len() / 200).max(1);
        for m in messages.iter().step_by(step).take(200) {
            let mut out = Vec::new();
            if tree.export(m, ExportKind::Eml, &mut out).is_ok() {
                bytes += out.len();
            }
        }
        report("export_200_eml", t, bytes);
    }
    Ok(())
}
