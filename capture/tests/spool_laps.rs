//! The agent's spool reusing its file in laps, end to end: an agent whose
//! journal wraps every few KiB ships to a server that is stopped and
//! restarted, and is itself stopped and reopened from its spool, while a
//! writer submits bursts (a lap starts only when everything is
//! acknowledged, so in the pauses between them); the store must end with exactly the written
//! bytes (nothing lost, nothing doubled) and the spool file must have been
//! reused instead of growing with the data.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kairos_capture::event::WriteEvent;
use kairos_capture::journal::JournalOptions;
use kairos_capture::net::agent::{Agent, AgentConfig};
use kairos_capture::net::server::{Server, ServerConfig};
use kairos_capture::net::tokens::Tokens;
use kairos_capture::{EventSink, Journal, JournalSink, now_ns};
use kairos_engine::{Store, StoreOptions};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// A server on `addr` ("127.0.0.1:0" for any port) over the store in
/// `store_dir`; returns it, its runtime and its address.
fn serve(store_dir: &Path, addr: &str) -> (Arc<Server>, tokio::runtime::Runtime, String) {
    let tokens = Tokens::parse(Path::new("t"), &format!("db1 {TOKEN}\n")).unwrap();
    let server = Server::new(
        Store::open(store_dir).unwrap(),
        tokens,
        ServerConfig::default(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    {
        let server = Arc::clone(&server);
        rt.spawn(async move { server.run(listener, None).await });
    }
    (server, rt, addr)
}

fn start_agent(spool: &Path, addr: &str, options: JournalOptions) -> (Arc<JournalSink>, Agent) {
    let sink = Arc::new(JournalSink::new(
        Journal::open_with(spool, options).unwrap(),
    ));
    let mut config = AgentConfig::new(addr, "db1", TOKEN.as_bytes());
    config.retry_delay = Duration::from_millis(50);
    let agent = Agent::start(config, Arc::clone(&sink));
    (sink, agent)
}

#[test]
fn a_wrapping_spool_survives_server_and_agent_restarts_without_loss_or_doubles() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    Store::init(&store_dir, StoreOptions::default()).unwrap();
    let spool = dir.path().join("spool");
    let options = JournalOptions {
        reserve: 256 << 10,
        wrap_at: 16 << 10,
    };
    let (first, first_rt, addr) = serve(&store_dir, "127.0.0.1:0");
    let (mut server, mut rt) = (Some(first), Some(first_rt));
    let (mut sink, mut agent) = start_agent(&spool, &addr, options);
    // Event i writes `size(i)` bytes of value i at an offset that later
    // events overwrite again and again: the stream's final contents are the
    // writes applied once each, in order, so a lost event or a stale one
    // ingested again after newer ones (a double) changes them.
    let size = |i: u64| 1 + (i * 37 % 4000) as usize;
    let mut want = Vec::new();
    let total = 3000u64;
    for i in 0..total {
        let data = vec![(i % 251) as u8; size(i)];
        let offset = (i % 97) as usize * 4096;
        sink.submit(WriteEvent::write(
            "db1/f",
            now_ns(),
            offset as u64,
            data.clone(),
        ))
        .unwrap();
        if want.len() < offset + data.len() {
            want.resize(offset + data.len(), 0);
        }
        want[offset..offset + data.len()].copy_from_slice(&data);
        if i % 50 == 49 {
            sink.sync().unwrap();
        }
        if i % 250 == 249 && server.is_some() {
            // A pause between bursts: the server catches up, the spool is
            // fully acknowledged and starts a new lap.
            assert!(agent.wait_drained(Duration::from_mins(1)));
        }
        if i == 1000 {
            // The server goes away while the writer goes on; the spool
            // holds the events and wraps once they are acknowledged.
            server = None;
            rt = None;
            std::thread::sleep(Duration::from_millis(100));
        }
        if i == 1500 {
            let (again, again_rt, _) = serve(&store_dir, &addr);
            (server, rt) = (Some(again), Some(again_rt));
        }
        if i == 2200 {
            // The agent stops and starts again from its spool.
            sink.sync().unwrap();
            agent.stop();
            drop(sink);
            (sink, agent) = start_agent(&spool, &addr, options);
        }
    }
    sink.sync().unwrap();
    assert!(
        agent.wait_drained(Duration::from_mins(2)),
        "everything acknowledged"
    );
    assert_eq!(sink.with(|j| j.acked()), total, "one sequence per event");
    agent.stop();
    let mut got = Vec::new();
    server
        .unwrap()
        .with_store(|s| s.view("db1/f", None).unwrap().write_to(&mut got))
        .unwrap();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the store holds exactly the written bytes");
    // The spool was reused: without laps it would hold every event plus
    // the reserve; with them, about the outage's backlog plus the reserve.
    let shipped: u64 = (0..total).map(|i| size(i) as u64).sum();
    let spool_len = std::fs::metadata(spool.join("journal")).unwrap().len();
    assert!(
        spool_len < shipped * 3 / 4,
        "spool of {spool_len} bytes for {shipped} bytes of events"
    );
    drop(rt);
}
