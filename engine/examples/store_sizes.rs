//! Where a store's bytes go: per record kind in the packs, per table in
//! the libmdbx index (entries, leaf/branch/overflow pages). Used to decide
//! what to shrink (docs/PERFORMANCE.md, "First-ingest size").
//!
//! `cargo run -p kairos-engine --example store_sizes -- STORE`

use std::collections::BTreeMap;
use std::path::Path;

use kairos_engine::{index, pack};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: store_sizes STORE")?;
    let dir = Path::new(&dir);
    let packs = dir.join("packs");
    let mut kinds: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut total = 0;
    for id in pack::list_packs(&packs)? {
        let path = pack::pack_path(&packs, id);
        let (file, len) = pack::open_pack(&path, id)?;
        total += len;
        for r in pack::scan(&file, &path, len).records {
            let e = kinds.entry(format!("{:?}", r.kind)).or_default();
            e.0 += 1;
            e.1 += r.end() - r.offset;
        }
    }
    println!("packs: {total} B");
    for (k, (n, b)) in &kinds {
        println!("  {k:<8} {n:>9} records {b:>12} B");
    }
    let ix = dir.join("index");
    let file: u64 = std::fs::read_dir(&ix)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    println!("index files: {file} B");
    let db = index::open(&ix, false).map_err(|e| format!("{e:?}"))?;
    let txn = db.begin_ro_txn()?;
    for name in index::TABLES {
        let t = txn.open_table(Some(name))?;
        let s = txn.table_stat(&t)?;
        let ps = s.page_size() as usize;
        println!(
            "  {name:<10} {:>9} rows  depth {}  leaf {:>6}  branch {:>5}  overflow {:>5}  = {:>11} B",
            s.entries(),
            s.depth(),
            s.leaf_pages(),
            s.branch_pages(),
            s.overflow_pages(),
            (s.leaf_pages() + s.branch_pages() + s.overflow_pages()) * ps
        );
    }
    Ok(())
}
