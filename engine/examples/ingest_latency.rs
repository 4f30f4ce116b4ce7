//! Ingest latency of small write events (run by `bench/engine-latency.sh`,
//! release build): the engine's share of the capture RPO.
//!
//! 1. serial: one 4 KiB write event per ingest (half an 8 KiB block, so
//!    each ingest also reads the block's current content), `--events`
//!    times into a 64 MiB stream; p50 / p99 / max of the ingest call, which
//!    returns once the event is durable;
//! 2. concurrent: `--threads` threads share one store and ingest the same
//!    kind of events into streams of their own, as fast as they can;
//!    p50 / p99 of each call and events per second — concurrent ingests
//!    share one fsync (group commit).
//!
//! Prints `metric<TAB>value` lines. The store lives under `$WORK` (default
//! the system temp dir, a real disk: fsync must cost what it costs).

use std::sync::Arc;
use std::time::Instant;

use kairos_engine::{Change, Store, StoreOptions, WriteEvent};

const STREAM_BYTES: u64 = 64 << 20;

fn arg(name: &str, default: u64) -> u64 {
    std::env::args()
        .skip_while(|a| a != name)
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn event(stream: &str, i: u64, ts: i64) -> WriteEvent {
    let mut x = (i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    let offset = (x % (STREAM_BYTES / 4096)) * 4096;
    let data: Vec<u8> = (0..4096u64)
        .map(|j| (j.wrapping_mul(x | 1) >> 7) as u8)
        .collect();
    WriteEvent {
        stream: stream.into(),
        timestamp_ns: ts,
        change: Change::Write { offset, data },
    }
}

fn percentiles(name: &str, lat: &mut [f64]) {
    lat.sort_by(f64::total_cmp);
    let at = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!("{name}_p50_ms\t{:.3}", at(0.5));
    println!("{name}_p99_ms\t{:.3}", at(0.99));
    println!("{name}_max_ms\t{:.3}", at(1.0));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let events = arg("--events", 2000);
    let threads = arg("--threads", 4);
    let work = std::env::var("WORK").map_or_else(|_| std::env::temp_dir(), Into::into);
    let dir = tempfile::tempdir_in(&work)?;
    let root = dir.path().join("store");
    Store::init(&root, StoreOptions::default())?;
    let store = Arc::new(Store::open(&root)?);
    let t0 = kairos_engine::now_ns();
    // Serial: one event per ingest.
    let mut lat = Vec::new();
    for i in 0..events {
        let ev = event("serial", i, t0 + i as i64);
        let s = Instant::now();
        store.ingest(std::slice::from_ref(&ev))?;
        lat.push(s.elapsed().as_secs_f64() * 1e3);
    }
    percentiles("serial_4k", &mut lat);
    // Concurrent: threads ingesting into streams of their own.
    let start = Instant::now();
    let per = events / threads.max(1);
    let lats: Vec<Vec<f64>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = store.clone();
                s.spawn(move || -> Result<Vec<f64>, kairos_engine::StoreError> {
                    let name = format!("t{t}");
                    let mut lat = Vec::new();
                    for i in 0..per {
                        let ev = event(&name, i * threads + t, t0 + i as i64);
                        let s = Instant::now();
                        store.ingest(std::slice::from_ref(&ev))?;
                        lat.push(s.elapsed().as_secs_f64() * 1e3);
                    }
                    Ok(lat)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Ok(Vec::new())))
            .collect::<Result<_, _>>()
    })?;
    let secs = start.elapsed().as_secs_f64();
    let mut all: Vec<f64> = lats.into_iter().flatten().collect();
    println!("concurrent_threads\t{threads}");
    println!(
        "concurrent_events_per_s\t{:.0}",
        all.len() as f64 / secs.max(1e-9)
    );
    percentiles("concurrent_4k", &mut all);
    Ok(())
}
