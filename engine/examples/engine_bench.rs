//! Engine micro-benchmarks (run by `bench/engine-micro.sh`, release build):
//!
//! 1. write-event ingest of a 1 % version (the shim path): a stream of
//!    `--pages` 8 KiB pages is ingested, then 10 versions each rewriting 1 %
//!    of the pages as one batch of page writes; median seconds per version;
//! 2. point reads: one block with 10 versions vs one with 100 000 versions
//!    (same 10 contents, so the chunk cache is equal): median µs of
//!    open-view + read of that block at a random instant;
//! 3. restore of the stream's middle version to a file.
//!
//! Prints `metric<TAB>value` lines. Scratch goes to `$WORK` (default /dev/shm).

use std::time::Instant;

use kairos_engine::{Change, RestoreOptions, Store, StoreOptions, WriteEvent};
use kairos_parsers::Source;

const PAGE: usize = 8192;

/// A database-like page: a header, some text rows, zero free space.
#[allow(clippy::many_single_char_names)] // page bytes, state, cursor, word
fn page(seed: u64, n: u64) -> Vec<u8> {
    let mut p = vec![0u8; PAGE];
    p[..8].copy_from_slice(&n.to_le_bytes());
    p[8..16].copy_from_slice(&seed.to_le_bytes());
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ n;
    let fill = 2000 + (x % 5000) as usize;
    let words = [
        "alpha ",
        "street ",
        "order ",
        "paid ",
        "42 ",
        "2026-11-24 ",
        "customer ",
        "total ",
    ];
    let mut i = 96;
    while i < fill {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let w = words[(x % 8) as usize].as_bytes();
        let end = (i + w.len()).min(PAGE);
        p[i..end].copy_from_slice(&w[..end - i]);
        p[end.min(PAGE - 1)] = (x >> 8) as u8;
        i = end + 1;
    }
    p
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pages: u64 = std::env::args()
        .skip_while(|a| a != "--pages")
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(131_072);
    let work = std::env::var("WORK").unwrap_or_else(|_| "/dev/shm".into());
    let dir = tempfile::tempdir_in(&work)?;
    let root = dir.path().join("store");
    Store::init(&root, StoreOptions::default())?;
    let store = Store::open(&root)?;
    let t0 = 1_760_000_000_000_000_000i64;
    // base version, 8 MiB batches
    let start = Instant::now();
    for first in (0..pages).step_by(1024) {
        let evs: Vec<WriteEvent> = (first..(first + 1024).min(pages))
            .map(|n| WriteEvent {
                stream: "db".into(),
                timestamp_ns: t0,
                change: Change::Write {
                    offset: n * PAGE as u64,
                    data: page(0, n),
                },
            })
            .collect();
        store.ingest(&evs)?;
    }
    println!("first_ingest_s\t{:.3}", start.elapsed().as_secs_f64());
    println!("first_store_bytes\t{}", store.pack_bytes()?);
    let changed = (pages / 100).max(1);
    let mut times = Vec::new();
    let mut added = Vec::new();
    for v in 1..=10u64 {
        let before = store.pack_bytes()?;
        let evs: Vec<WriteEvent> = (0..changed)
            .map(|i| {
                let n = (i * 7919 + v * 104_729) % pages;
                WriteEvent {
                    stream: "db".into(),
                    timestamp_ns: t0 + v as i64 * 1_000_000_000,
                    change: Change::Write {
                        offset: n * PAGE as u64,
                        data: page(v, n),
                    },
                }
            })
            .collect();
        let s = Instant::now();
        store.ingest(&evs)?;
        times.push(s.elapsed().as_secs_f64());
        added.push(store.pack_bytes()? as f64 - before as f64);
    }
    println!("ingest_1pct_version_median_s\t{:.4}", median(&mut times));
    println!("ingest_1pct_added_bytes_median\t{:.0}", median(&mut added));
    // restore of the middle version
    let out = dir.path().join("restored");
    let view = store.view("db", Some(t0 + 5_000_000_000))?;
    let s = Instant::now();
    view.restore_to(&out, RestoreOptions::default(), &|_, _| {})?;
    println!(
        "restore_middle_s\t{:.3}\t{}",
        s.elapsed().as_secs_f64(),
        view.len()
    );
    // point reads: 10 vs 100 000 versions of one block, same 10 contents
    for (name, versions) in [("few", 10u64), ("many", 100_000u64)] {
        for chunk in (0..versions).step_by(5000) {
            let evs: Vec<WriteEvent> = (chunk..(chunk + 5000).min(versions))
                .map(|i| WriteEvent {
                    stream: name.into(),
                    timestamp_ns: t0 + i as i64 * 1000,
                    change: Change::Write {
                        offset: 0,
                        data: page(i % 10, 0),
                    },
                })
                .collect();
            store.ingest(&evs)?;
        }
    }
    let mut buf = vec![0u8; PAGE];
    for (name, versions) in [("few", 10u64), ("many", 100_000u64)] {
        let mut lat = Vec::new();
        let mut x = 12345u64;
        for _ in 0..20_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let at = t0 + ((x >> 11) % versions) as i64 * 1000;
            let s = Instant::now();
            let v = store.view(name, Some(at))?;
            v.read_at(0, &mut buf)?;
            lat.push(s.elapsed().as_secs_f64() * 1e6);
        }
        println!(
            "point_read_{name}_{versions}_versions_median_us\t{:.2}",
            median(&mut lat)
        );
    }
    Ok(())
}
