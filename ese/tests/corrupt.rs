//! Damaged input: truncations, bit flips and zeroed pages over every sample.
//! The reader must never panic, never hang and never allocate without bound;
//! it either refuses with an error naming the file, or reads what it can and
//! reports damaged pages.
//!
//! Each mutated file is opened and every table is walked (record counts, and
//! every column of the first rows decoded, long values included). Mutations
//! are deterministic (a fixed LCG), aimed at the header, the catalog pages
//! and pages spread over the file. The whole run happens on a worker thread
//! with a deadline, so a loop that does not end fails the test instead of
//! hanging it.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use kairos_ese::{Database, Value};
use kairos_parsers::{Error, MemSource};

/// Rows decoded per table and mutation (counting walks the whole tree).
const ROWS_DECODED: usize = 40;

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Opens and reads everything reachable; returns whether it opened.
fn exercise(name: &str, data: Vec<u8>) -> bool {
    let db = match Database::open(MemSource::new(name, data)) {
        Ok(db) => db,
        Err(e) => {
            // a refusal must name the file
            assert!(e.to_string().contains(name), "error without file name: {e}");
            assert!(
                e.is_damage() || matches!(e, Error::Unsupported { .. } | Error::NotFound { .. }),
                "{e}"
            );
            return false;
        }
    };
    for table in db.tables() {
        let _ = db.table_stats(table);
        for record in db.records(table).take(ROWS_DECODED) {
            let Ok(record) = record else { break };
            let values = record.values();
            // keyed lookups of what the scan found: damage is an error or
            // a miss, never a panic or a hang
            let key: Vec<Value> = table
                .primary_key
                .iter()
                .filter_map(|s| {
                    let i = table.columns.iter().position(|c| c.id == s.column)?;
                    values.get(i).cloned()
                })
                .collect();
            let _ = db.seek(table, &key);
            if let Some(first) = key.first()
                && let Ok(range) = db.records_from(table, std::slice::from_ref(first))
            {
                for r in range.take(ROWS_DECODED) {
                    let _ = r.map(|r| r.values());
                }
            }
        }
    }
    let _ = db.damage();
    true
}

fn page_size_of(data: &[u8]) -> u64 {
    data.get(236..240)
        .map_or(4096, |b| {
            u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        })
        .clamp(2048, 32768)
}

fn mutate_sample(file: &str, seed: u64) -> (usize, usize) {
    let original = common::load(file).bytes().to_vec();
    let len = original.len() as u64;
    let ps = page_size_of(&original);
    let big = len > 4 << 20;
    let mut rng = Lcg(seed);
    let (mut opened, mut total) = (0, 0);

    // truncations: inside the header, the catalog, and across the file
    let mut cuts = vec![0, 100, ps - 1, ps, 2 * ps + 17, 5 * ps, 6 * ps + 3];
    for _ in 0..if big { 3 } else { 8 } {
        cuts.push(rng.below(len));
    }
    for cut in cuts.into_iter().filter(|&c| c < len) {
        total += 1;
        opened += usize::from(exercise(file, original[..cut as usize].to_vec()));
    }

    // bit flips: header copies, catalog root and leaves (logical pages 4..12
    // are physical 5..13), and anywhere
    let flips = if big { 12 } else { 60 };
    for i in 0..flips {
        let at = match i % 3 {
            0 => rng.below(2 * ps),
            1 => 5 * ps + rng.below(8 * ps),
            _ => rng.below(len),
        }
        .min(len - 1);
        let mut data = original.clone();
        data[at as usize] ^= 1 << rng.below(8);
        // a second flip in the same page's tag area hits offsets and sizes
        let page_end = (at / ps + 1) * ps;
        let tag_at = page_end.saturating_sub(1 + rng.below(64)).min(len - 1);
        data[tag_at as usize] ^= 1 << rng.below(8);
        total += 1;
        opened += usize::from(exercise(file, data));
    }

    // zeroed and garbage pages: the catalog root, a catalog leaf, one random
    for pg in [5, 6, 2 + rng.below(len / ps)] {
        for garbage in [false, true] {
            let mut data = original.clone();
            let start = (pg * ps).min(len) as usize;
            let end = ((pg + 1) * ps).min(len) as usize;
            for b in &mut data[start..end] {
                *b = if garbage { rng.next() as u8 } else { 0 };
            }
            total += 1;
            opened += usize::from(exercise(file, data));
        }
    }
    (opened, total)
}

#[test]
fn truncations_bit_flips_and_zeroed_pages_never_panic_or_hang() {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut report = Vec::new();
        for (i, file) in common::manifest_files().into_iter().enumerate() {
            let (opened, total) = mutate_sample(&file, 0x5eed + i as u64);
            report.push(format!("{file}: {opened}/{total} mutated copies opened"));
        }
        let _ = tx.send(report);
    });
    // generous: the whole run takes seconds; a hang never ends
    let Ok(report) = rx.recv_timeout(Duration::from_mins(10)) else {
        assert!(
            worker.is_finished(),
            "corrupt-input run did not finish in 10 minutes: a loop does not terminate"
        );
        panic!("corrupt-input worker panicked (see its message above)");
    };
    assert!(report.len() >= 18);
    eprintln!("{}", report.join("\n"));
}

/// A flipped bit in a record page is reported as a checksum mismatch on that
/// page, and the rest of the database still reads.
#[test]
fn flipped_bit_is_reported_as_damaged_page_not_fatal() {
    for file in [
        "dissect_basic.edb",
        "dfirmuseum_winsearch-w10-clean_Windows.edb.gz",
    ] {
        let clean = Database::open(common::load(file)).expect("open");
        let table = clean.tables().last().expect("a table").clone();
        let first = clean
            .records(&table)
            .next()
            .expect("a record")
            .expect("readable");
        let (pgno, _) = first.location();
        let ps = u64::from(clean.header().page_size);
        assert!(!clean.damage().contains_key(&pgno));

        let mut data = common::load(file).bytes().to_vec();
        // a byte in the middle of the page's free space / data
        let at = ((u64::from(pgno) + 1) * ps + ps / 2) as usize;
        data[at] ^= 0x10;
        let db = Database::open(MemSource::new(file, data)).expect("still opens");
        let t = db.table(&table.name).expect("table");
        let n = db.records(t).count();
        assert!(n > 0);
        let damage = db.damage();
        let what = damage
            .get(&pgno)
            .unwrap_or_else(|| panic!("{file}: page {pgno} not reported: {damage:?}"));
        assert!(what.contains("checksum mismatch"), "{what}");
    }
}

/// A destroyed header page falls back to the shadow header; a destroyed
/// catalog root falls back to MSysObjectsShadow. Either way the same tables
/// come back, with the damage reported.
#[test]
fn header_and_catalog_shadows_take_over() {
    for file in [
        "dissect_basic.edb",
        "dfirmuseum_srum-w11-clean_SRUDB.dat",
        "sfese_decompress_test.edb",
    ] {
        let original = common::load(file).bytes().to_vec();
        let clean = Database::open(MemSource::new(file, original.clone())).expect("open");
        let names: Vec<String> = clean.tables().iter().map(|t| t.name.clone()).collect();
        let ps = clean.header().page_size as usize;

        let mut data = original.clone();
        data[..ps].fill(0);
        let db = Database::open(MemSource::new(file, data)).expect("shadow header");
        assert!(db.header().from_shadow, "{file}");
        assert!(
            db.warnings()
                .iter()
                .any(|w| matches!(w, kairos_ese::Warning::HeaderChecksum { used_shadow: true })),
            "{file}"
        );
        assert_eq!(db.tables().len(), names.len(), "{file}");

        // logical page 4 (physical 5) is the catalog root
        let mut data = original.clone();
        data[5 * ps..6 * ps].fill(0);
        let db = Database::open(MemSource::new(file, data)).expect("shadow catalog");
        let got: Vec<String> = db.tables().iter().map(|t| t.name.clone()).collect();
        assert_eq!(got, names, "{file}");
        assert!(db.damage().contains_key(&4), "{file}: {:?}", db.damage());
    }
}
