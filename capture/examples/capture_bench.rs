//! Capture benchmarks (numbers for docs/PERFORMANCE.md, section "Capture").
//!
//! `cargo run --release -p kairos-capture --example capture_bench [rpo|shim|agents|all] [SPOOL_RESERVE_BYTES]`
//!
//! - rpo: an agent ships 4 KiB writes (paced, 500/s, no application fsync)
//!   over loopback to an in-process server with a real store; RPO is the
//!   time from the write returning to the server's ack that it is durable
//!   in the store (the engine's ingest acknowledged). p50/p99/max, beside
//!   the disk's fdatasync latency and one engine ingest in the same run.
//! - shim: the same writes (8 KiB / 128 KiB / 1 MiB, 128 MiB, fsync at the
//!   end) into a plain directory and through the FUSE shim capturing into a
//!   store, into a spool journal, into an agent shipping its spool to a
//!   server over loopback, into nothing (the FUSE path alone), and
//!   the first two with the kernel's writeback cache; interleaved rounds,
//!   medians, ratios to plain, each with its fsync's share. Beside them the
//!   engine alone ingesting the same events: the store path's ceiling.
//!   The spools keep the agent's default reserve of pre-written space
//!   unless a byte count is given (0: none, to measure what it brings).
//! - agents: 4 agents submit events as fast as they can; events per
//!   second the server ingests (until every agent is fully acknowledged).
#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kairos_capture::event::WriteEvent;
use kairos_capture::journal::JournalOptions;
use kairos_capture::net::agent::{Agent, AgentConfig};
use kairos_capture::net::server::{Server, ServerConfig};
use kairos_capture::net::tokens::Tokens;
use kairos_capture::shim::{self, Shim};
use kairos_capture::{EventSink, Journal, JournalSink, StoreSink, now_ns};
use kairos_engine::{Store, StoreOptions};

fn new_store(dir: &std::path::Path) -> Store {
    Store::init(dir, StoreOptions::default()).unwrap();
    Store::open(dir).unwrap()
}

/// Starts a server on a runtime of its own; returns its address.
fn start_server(store: Store, agents: &[(&str, &str)]) -> (String, tokio::runtime::Runtime) {
    let text: String = agents
        .iter()
        .map(|(n, t)| [*n, " ", *t, "\n"].concat())
        .collect();
    let tokens = Tokens::parse(std::path::Path::new("bench"), &text).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = Server::new(store, tokens, ServerConfig::default());
    rt.spawn(async move { server.run(listener, None).await });
    (addr, rt)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// The engine's share of the RPO: one ingest of a single 4 KiB event
/// (pack fsync + index commit), on a store of its own.
fn ingest_latency() {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir.path().join("store"));
    let mut ms = Vec::new();
    for i in 0..300u64 {
        let mut data = vec![0x5au8; 4096];
        data[..8].copy_from_slice(&i.to_le_bytes());
        let ev = kairos_capture::store_sink::to_engine(WriteEvent::write(
            "db",
            now_ns(),
            (i % 64) * 4096,
            data,
        ));
        let start = Instant::now();
        store.ingest(&[ev]).unwrap();
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "rpo floor: engine ingest of one 4 KiB event (acknowledged once durable): p50 {:.2} ms, p99 {:.2} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99)
    );
}

/// The disk's own share: fdatasync after appending 4 KiB to a file.
fn disk_latency() {
    let dir = tempfile::tempdir().unwrap();
    let mut f = std::fs::File::create(dir.path().join("f")).unwrap();
    let block = vec![0x5au8; 4096];
    let mut ms = Vec::new();
    for _ in 0..300 {
        f.write_all(&block).unwrap();
        let start = Instant::now();
        f.sync_data().unwrap();
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "disk: fdatasync after a 4 KiB append: p50 {:.2} ms, p99 {:.2} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99)
    );
}

fn rpo() {
    disk_latency();
    ingest_latency();
    let dir = tempfile::tempdir().unwrap();
    let token = "0123456789abcdef0123456789abcdef";
    let (addr, _rt) = start_server(new_store(&dir.path().join("store")), &[("db1", token)]);
    let sink = Arc::new(JournalSink::new(
        Journal::open(&dir.path().join("spool")).unwrap(),
    ));
    let agent = Agent::start(
        AgentConfig::new(&addr, "db1", token.as_bytes()),
        Arc::clone(&sink),
    );
    let n = 3000u64;
    let mut rpo_ms = Vec::with_capacity(n as usize);
    let block = vec![0x5au8; 4096];
    for i in 0..n {
        let mut data = block.clone();
        data[..8].copy_from_slice(&i.to_le_bytes());
        let seq = sink
            .submit(WriteEvent::write(
                "db1/db",
                now_ns(),
                (i % 4096) * 4096,
                data,
            ))
            .unwrap();
        let returned = Instant::now();
        // Poll without starving the sender of the journal lock.
        while sink.with(|j| j.acked()) < seq {
            std::thread::sleep(Duration::from_micros(50));
        }
        rpo_ms.push(returned.elapsed().as_secs_f64() * 1e3);
        std::thread::sleep(Duration::from_millis(2));
    }
    agent.stop();
    rpo_ms.sort_by(f64::total_cmp);
    println!(
        "rpo: {n} writes of 4 KiB over loopback: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&rpo_ms, 0.5),
        percentile(&rpo_ms, 0.99),
        rpo_ms.last().unwrap()
    );
}

/// Writes `total` bytes in `size`-byte writes, then fsyncs; returns the
/// whole time and the fsync's share of it.
fn write_file(path: &std::path::Path, total: usize, size: usize) -> (Duration, Duration) {
    let buf = vec![0xa5u8; size];
    let start = Instant::now();
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(path)
        .unwrap();
    for i in 0..total / size {
        // Vary content so blocks are not all identical (the store dedups).
        let mut b = buf.clone();
        b[..8].copy_from_slice(&(i as u64).to_le_bytes());
        f.write_all(&b).unwrap();
    }
    let synced = Instant::now();
    f.sync_all().unwrap();
    (start.elapsed(), synced.elapsed())
}

/// The engine alone: the events the shim makes of `total` bytes in
/// `size`-byte writes (same contents as [`write_file`]), ingested in
/// batches of the store sink's size; returns the seconds it took.
fn engine_alone(total: usize, size: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = new_store(&dir.path().join("store"));
    let buf = vec![0xa5u8; size];
    let ts = now_ns();
    let events: Vec<_> = (0..total / size)
        .map(|i| {
            let mut b = buf.clone();
            b[..8].copy_from_slice(&(i as u64).to_le_bytes());
            kairos_capture::store_sink::to_engine(WriteEvent::write("f", ts, (i * size) as u64, b))
        })
        .collect();
    let per_batch = (kairos_capture::store_sink::BATCH_BYTES / size).max(1);
    let start = Instant::now();
    for batch in events.chunks(per_batch) {
        store.ingest(batch).unwrap();
    }
    start.elapsed().as_secs_f64()
}

/// A sink that drops every event: what the FUSE path alone costs.
#[derive(Default)]
struct Discard(std::sync::atomic::AtomicU64);

impl EventSink for Discard {
    fn submit(&self, _event: WriteEvent) -> kairos_capture::Result<u64> {
        Ok(self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1)
    }

    fn sync(&self) -> kairos_capture::Result<()> {
        Ok(())
    }
}

fn shim_ratio(spool_options: JournalOptions) {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::create_dir_all(&plain).unwrap();
    // The shim into a store (capture beside the store) and into a spool
    // journal (the agent's configuration).
    let store = || -> Arc<dyn EventSink> {
        Arc::new(StoreSink::new(new_store(
            &tempfile::tempdir_in(&dir).unwrap().keep(),
        )))
    };
    let spool = || -> Arc<dyn EventSink> {
        Arc::new(JournalSink::new(
            Journal::open_with(&tempfile::tempdir_in(&dir).unwrap().keep(), spool_options).unwrap(),
        ))
    };
    let discard: Arc<dyn EventSink> = Arc::new(Discard::default());
    // The whole agent configuration: the spool shipped over loopback to a
    // server ingesting into its store on the same two cores (the journal
    // wraps as the server acknowledges, as in production). Spools keep the
    // agent's default reserve of pre-written space.
    let token = "0123456789abcdef0123456789abcdef";
    let (addr, _rt) = start_server(new_store(&dir.path().join("server")), &[("b1", token)]);
    let agent_spool = Arc::new(JournalSink::new(
        Journal::open_with(&dir.path().join("agent-spool"), spool_options).unwrap(),
    ));
    let agent = Agent::start(
        AgentConfig::new(&addr, "b1", token.as_bytes()),
        Arc::clone(&agent_spool),
    );
    let agent_sink: Arc<dyn EventSink> = agent_spool;
    let mut sessions = Vec::new();
    let mut targets = vec![("plain", plain)];
    for (name, sink, writeback, prefix) in [
        ("shim into a store", store(), false, None),
        ("shim into a spool", spool(), false, None),
        (
            "shim into an agent shipping to a server",
            agent_sink,
            false,
            Some("b1"),
        ),
        ("shim, events discarded", discard, false, None),
        ("shim into a store, writeback cache", store(), true, None),
        ("shim into a spool, writeback cache", spool(), true, None),
    ] {
        let src = dir.path().join(format!("src-{}", sessions.len()));
        let mnt = dir.path().join(format!("mnt-{}", sessions.len()));
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&mnt).unwrap();
        let shim = Shim::new(&src, prefix.map(str::to_owned), sink)
            .unwrap()
            .writeback_cache(writeback);
        sessions.push(shim::spawn(shim, &mnt).unwrap());
        targets.push((name, mnt));
    }
    std::thread::sleep(Duration::from_millis(200));
    let total = 128 << 20;
    let rounds = 5;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mib = (total >> 20) as f64;
    for size in [8 << 10, 128 << 10, 1 << 20] {
        // Interleaved rounds, median of each: the disk is shared and noisy.
        let mut times = vec![(Vec::new(), Vec::new()); targets.len()];
        for _ in 0..rounds {
            for ((_, d), (whole, sync)) in targets.iter().zip(times.iter_mut()) {
                let (w, s) = write_file(&d.join("f"), total, size);
                whole.push(w.as_secs_f64());
                sync.push(s.as_secs_f64());
            }
        }
        let medians: Vec<(f64, f64)> = times
            .into_iter()
            .map(|(w, s)| (median(w), median(s)))
            .collect();
        let plain_s = medians[0].0;
        let engine_s = engine_alone(total, size);
        let line: Vec<String> = targets
            .iter()
            .zip(&medians)
            .map(|((name, _), (w, s))| {
                format!(
                    "{name} {:.0} MiB/s = {:.0}% (fsync {:.0} ms)",
                    mib / w,
                    100.0 * plain_s / w,
                    s * 1e3
                )
            })
            .collect();
        println!(
            "shim: {} MiB in {} KiB writes + fsync, median of {rounds}: {}; engine alone (ingest of the same events) {:.0} MiB/s = {:.0}%",
            total >> 20,
            size >> 10,
            line.join("; "),
            mib / engine_s,
            100.0 * plain_s / engine_s
        );
    }
    drop(sessions);
    agent.stop();
}

fn agents() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["a1", "a2", "a3", "a4"];
    let token = "0123456789abcdef0123456789abcdef";
    let creds: Vec<(&str, &str)> = names.iter().map(|n| (*n, token)).collect();
    let (addr, _rt) = start_server(new_store(&dir.path().join("store")), &creds);
    let per_agent = 20_000u64;
    let start = Instant::now();
    let handles: Vec<_> = names
        .iter()
        .map(|name| {
            let spool = dir.path().join(format!("spool-{name}"));
            let addr = addr.clone();
            let name = (*name).to_owned();
            std::thread::spawn(move || {
                let sink = Arc::new(JournalSink::new(Journal::open(&spool).unwrap()));
                let agent = Agent::start(
                    AgentConfig::new(&addr, &name, token.as_bytes()),
                    Arc::clone(&sink),
                );
                let stream = format!("{name}/db");
                for i in 0..per_agent {
                    let mut data = vec![0u8; 4096];
                    data[..8].copy_from_slice(&i.to_le_bytes());
                    sink.submit(WriteEvent::write(
                        stream.clone(),
                        now_ns(),
                        (i % 8192) * 4096,
                        data,
                    ))
                    .unwrap();
                }
                sink.sync().unwrap();
                assert!(agent.wait_drained(Duration::from_mins(10)));
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    let total = per_agent * names.len() as u64;
    println!(
        "agents: 4 agents x {per_agent} events of 4 KiB: {total} events acknowledged in {secs:.2} s = {:.0} events/s ({:.0} MiB/s)",
        total as f64 / secs,
        (total * 4096) as f64 / secs / f64::from(1 << 20)
    );
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let mut spool_options = JournalOptions::default();
    if let Some(reserve) = std::env::args().nth(2) {
        spool_options.reserve = reserve.parse().unwrap();
    }
    if what == "rpo" || what == "all" {
        rpo();
    }
    if what == "shim" || what == "all" {
        println!("spool reserve: {} bytes", spool_options.reserve);
        shim_ratio(spool_options);
    }
    if what == "agents" || what == "all" {
        agents();
    }
}
