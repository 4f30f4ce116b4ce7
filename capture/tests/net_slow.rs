//! Slow and silent clients are dropped on the server's timeouts while a good
//! agent keeps being served (server in process, short timeouts).
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kairos_capture::event::WriteEvent;
use kairos_capture::net::agent::{Agent, AgentConfig};
use kairos_capture::net::frame::{Message, VERSION};
use kairos_capture::net::server::{Server, ServerConfig};
use kairos_capture::net::tokens::Tokens;
use kairos_capture::{EventSink, Journal, JournalSink, now_ns};
use kairos_engine::{Store, StoreOptions};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";

/// True when the server closes `s` within `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed() <= limit,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}

#[test]
fn silent_and_slow_clients_time_out_good_agents_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    Store::init(&store_dir, StoreOptions::default()).unwrap();
    let tokens = Tokens::parse(std::path::Path::new("t"), &format!("db1 {TOKEN}\n")).unwrap();
    let config = ServerConfig {
        hello_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(600),
        frame_timeout: Duration::from_millis(300),
    };
    let server = Server::new(Store::open(&store_dir).unwrap(), tokens, config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    {
        let server = Arc::clone(&server);
        rt.spawn(async move { server.run(listener, None).await });
    }

    // A good agent writing throughout.
    let sink = Arc::new(JournalSink::new(
        Journal::open(&dir.path().join("spool")).unwrap(),
    ));
    let agent = Agent::start(
        AgentConfig::new(&addr, "db1", TOKEN.as_bytes()),
        Arc::clone(&sink),
    );
    let writer = {
        let sink = Arc::clone(&sink);
        std::thread::spawn(move || {
            for i in 0..300u64 {
                sink.submit(WriteEvent::write(
                    "db1/f",
                    now_ns(),
                    i * 8,
                    i.to_le_bytes().to_vec(),
                ))
                .unwrap();
                std::thread::sleep(Duration::from_millis(5));
            }
            sink.sync().unwrap();
        })
    };

    // Silent: never says hello.
    let mut silent = TcpStream::connect(&addr).unwrap();
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)),
        "silent client dropped"
    );
    // Slow: half a length prefix, then nothing.
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(&[0, 0]).unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)),
        "slow hello dropped"
    );
    // Slow body: authenticated, announces a 1000-byte frame, sends 10 bytes.
    let mut loris = TcpStream::connect(&addr).unwrap();
    loris
        .write_all(
            &Message::Hello {
                version: VERSION,
                agent: "db1".into(),
                token: TOKEN.as_bytes().to_vec(),
            }
            .encode(),
        )
        .unwrap();
    loris.write_all(&1000u32.to_be_bytes()).unwrap();
    loris.write_all(&[4; 10]).unwrap();
    assert!(
        closed_within(&mut loris, Duration::from_secs(5)),
        "slow frame body dropped"
    );

    writer.join().unwrap();
    assert!(
        agent.wait_drained(Duration::from_secs(30)),
        "the good agent was served throughout"
    );
    agent.stop();
    let mut got = Vec::new();
    server
        .with_store(|s| s.view("db1/f", None).unwrap().write_to(&mut got))
        .unwrap();
    let want: Vec<u8> = (0..300u64).flat_map(u64::to_le_bytes).collect();
    assert!(got == want);
}
