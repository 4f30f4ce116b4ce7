//! Corrupt input: every MDF sample truncated and bit-flipped at many
//! offsets must open or fail with an error — never panic, never hang — and
//! whatever opens must list, count and export without panicking.

use std::path::Path;

use kairos_parsers::MemSource;
use kairos_sqlserver::export::{Format, export_table};
use kairos_sqlserver::page::PAGE_SIZE;
use kairos_sqlserver::{Database, ScanOptions};

/// Deterministic xorshift so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Opens and reads everything; returns how many tables were read.
fn exercise(name: &str, data: Vec<u8>) -> usize {
    let Ok(db) = Database::open(MemSource::new(name, data)) else {
        return 0;
    };
    let _ = db.summaries();
    let _ = db.warnings();
    for t in db.tables() {
        let _ = db.count_rows(t);
        let _ = t.create_table_sql(None);
        let opts = ScanOptions {
            include_deleted: true,
            count_only: false,
        };
        for row in db.rows(t, opts).take(2_000).flatten() {
            assert_eq!(row.values.len(), t.columns.len());
        }
        let _ = export_table(&db, t, Format::Jsonl, true, &mut std::io::sink());
    }
    db.tables().len()
}

#[test]
fn truncated_and_bit_flipped_samples_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/mdf");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("samples present")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "mdf"))
        .collect();
    files.sort();
    assert!(files.len() >= 16);
    let mut cases = 0;
    let mut opened = 0;
    for (i, path) in files.iter().enumerate() {
        let clean = std::fs::read(path).expect("read sample");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("sample")
            .to_owned();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
        // Truncations: inside the header page, the boot page, the catalog,
        // and through the data.
        let len = clean.len();
        for cut in [
            0,
            95,
            PAGE_SIZE * 9 + 100,
            PAGE_SIZE * 10,
            PAGE_SIZE * 20 + 4000,
            len / 3,
            len / 2,
            len - 1,
        ] {
            let cut = cut.min(len);
            exercise(&format!("{name}[..{cut}]"), clean[..cut].to_vec());
            cases += 1;
        }
        // Bit flips: header fields, slot arrays and records of the boot and
        // catalog pages (which everything depends on), and of random pages.
        for k in 0..40 {
            let page = if k < 24 {
                9 + rng.below(40)
            } else {
                rng.below(len / PAGE_SIZE)
            };
            let within = match k % 4 {
                0 => [1, 3, 6, 16, 22, 23, 24, 30, 32][rng.below(9)],
                1 => PAGE_SIZE - 1 - rng.below(64),
                _ => 96 + rng.below(PAGE_SIZE - 96),
            };
            let off = page * PAGE_SIZE + within;
            if off >= len {
                continue;
            }
            let mut data = clean.clone();
            data[off] ^= 1 << rng.below(8);
            if k % 5 == 0 {
                // and sometimes a whole byte run
                let end = (off + 16).min(len);
                data[off..end].fill(0xFF);
            }
            opened += usize::from(exercise(&format!("{name} flip@{off}"), data) > 0);
            cases += 1;
        }
    }
    assert!(cases > 600, "cases run: {cases}");
    assert!(opened > 300, "most flips still open: {opened}");
}
