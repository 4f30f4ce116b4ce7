//! Measures what docs/PERFORMANCE.md reports for PST/OST reading:
//! `cargo run --release -p kairos-exchange --example mail_bench -- FILE...`
//!
//! Per file: time and fraction of 4 KiB pages read to open and list the top
//! folders, to list the whole tree (live items), to scan for recovered
//! items, and to export every live message as EML.

use std::sync::Arc;
use std::time::Instant;

use kairos_exchange::{MailboxTree, PstStore};
use kairos_parsers::{
    CountingSource, ExportKind, FileSource, ItemKind, ItemPath, ItemTree, Source,
};

fn walk(tree: &dyn ItemTree, path: &ItemPath, skip_recovered: bool, messages: &mut Vec<ItemPath>) {
    let Ok(children) = tree.children(path) else {
        return;
    };
    for item in children {
        if skip_recovered && item.kind == ItemKind::Folder && item.name == "Recovered" {
            continue;
        }
        match item.kind {
            ItemKind::Message | ItemKind::Contact | ItemKind::Appointment => {
                messages.push(item.path);
            }
            _ if item.has_children => walk(tree, &item.path, skip_recovered, messages),
            _ => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("file\tbytes\tstep\tms\tpages_read\tpages_total\titems");
    for path in std::env::args().skip(1) {
        let src = Arc::new(CountingSource::new(FileSource::open(&path)?, 4096));
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
        let tree = MailboxTree::new(PstStore::open(src.clone())?);
        let boxes = tree.children(&ItemPath::root())?;
        let top = tree.children(&boxes[0].path)?;
        report("open+top", t, top.len());

        let t = Instant::now();
        let mut live = Vec::new();
        walk(&tree, &ItemPath::root(), true, &mut live);
        report("list_live_tree", t, live.len());

        let t = Instant::now();
        let recovered = tree.children(&boxes[0].path.child("Recovered"))?;
        report("recovery_scan", t, recovered.len());

        let t = Instant::now();
        let mut bytes = 0;
        for m in &live {
            let mut out = Vec::new();
            if tree.export(m, ExportKind::Eml, &mut out).is_ok() {
                bytes += out.len();
            }
        }
        report("export_all_eml", t, bytes);
    }
    Ok(())
}
