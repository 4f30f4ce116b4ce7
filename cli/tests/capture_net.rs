//! `kairos serve` and the agent over loopback: security refusals, and
//! faults (server killed, agent killed, connection cut) with nothing
//! acknowledged lost and nothing doubled.
#![allow(clippy::unwrap_used)]

mod capture_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use capture_common::{Proc, Proxy, addr_of, init_store, kairos, serve, tokens};
use kairos_capture::event::WriteEvent;
use kairos_capture::net::agent::{Agent, AgentConfig};
use kairos_capture::net::frame::{Message, VERSION};
use kairos_capture::{EventSink, Journal, JournalSink, Replay, now_ns};
use kairos_engine::Store;

const DB1: &str = "0123456789abcdef0123456789abcdef";
const DB2: &str = "fedcba9876543210fedcba9876543210";

/// Sends `frames` raw and returns the server's reply (a Refused reason), or
/// "closed" if it just closed the connection.
fn attack(addr: &str, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    loop {
        let mut len = [0u8; 4];
        if s.read_exact(&mut len).is_err() {
            return "closed".into();
        }
        // Never trust the length: a TLS alert is not one of our frames.
        let n = (u32::from_be_bytes(len) as usize).min(1 << 16);
        let mut body = vec![0u8; n];
        if s.read_exact(&mut body).is_err() {
            return "closed".into();
        }
        let Ok(msg) = Message::decode(&body) else {
            return "closed".into();
        };
        match msg {
            Message::Refused(r) => return r,
            Message::Welcome { .. } => {}
            other => return format!("{other:?}"),
        }
    }
}

fn hello(agent: &str, token: &str) -> Vec<u8> {
    Message::Hello {
        version: VERSION,
        agent: agent.into(),
        token: token.as_bytes().to_vec(),
    }
    .encode()
}

/// Contents of every `prefix/` stream at the latest instant, read from the
/// store (the server must be stopped: the test opens it).
fn store_contents(
    store: &std::path::Path,
    prefix: &str,
) -> std::collections::BTreeMap<String, Vec<u8>> {
    let s = Store::open_read(store).unwrap();
    let mut out = std::collections::BTreeMap::new();
    for info in s.streams().unwrap() {
        if info.name.starts_with(prefix) {
            let mut bytes = Vec::new();
            s.view(&info.name, None)
                .unwrap()
                .write_to(&mut bytes)
                .unwrap();
            out.insert(info.name, bytes);
        }
    }
    out
}

#[test]
fn serve_refuses_bad_clients_with_a_log_line_and_keeps_serving_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    init_store(&store);
    let (tok, _) = tokens(dir.path(), &[("db1", DB1), ("db2", DB2)]);
    let (mut server, addr) = serve(&store, &tok, "127.0.0.1:0");

    // A good agent ships events the whole time.
    let sink = Arc::new(JournalSink::new(
        Journal::open(&dir.path().join("spool")).unwrap(),
    ));
    let agent = Agent::start(
        AgentConfig::new(&addr, "db1", DB1.as_bytes()),
        Arc::clone(&sink),
    );
    let app = {
        let sink = Arc::clone(&sink);
        std::thread::spawn(move || {
            for i in 0..400u64 {
                sink.submit(WriteEvent::write(
                    "db1/data",
                    now_ns(),
                    i * 100,
                    vec![(i % 251) as u8 + 1; 150],
                ))
                .unwrap();
                if i % 10 == 0 {
                    sink.sync().unwrap();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            sink.sync().unwrap();
        })
    };

    assert!(attack(&addr, &hello("db1", DB2)).contains("authentication failed"));
    assert!(attack(&addr, &hello("db1", "")).contains("missing token"));
    assert!(attack(&addr, &hello("intruder", DB1)).contains("authentication failed"));
    let mut other = hello("db2", DB2);
    other.extend(
        Message::Events(vec![(
            1,
            WriteEvent::write("db1/data", 1, 0, b"evil".to_vec()),
        )])
        .encode(),
    );
    assert!(attack(&addr, &other).contains("outside agent db2's namespace"));
    let mut garbage = hello("db2", DB2);
    garbage.extend([0, 0, 0, 3, 99, 1, 2]);
    assert_eq!(attack(&addr, &garbage), "closed");
    assert_eq!(attack(&addr, &[0xff, 0xff, 0xff, 0xff, 4, 0, 0]), "closed");
    let mut huge = hello("db2", DB2);
    huge.extend([0xff, 0xff, 0xff, 0xff]);
    assert_eq!(attack(&addr, &huge), "closed");
    let mut old = Message::Hello {
        version: VERSION + 1,
        agent: "db1".into(),
        token: DB1.as_bytes().to_vec(),
    }
    .encode();
    old.truncate(old.len());
    assert!(attack(&addr, &old).contains("protocol version"));

    app.join().unwrap();
    assert!(
        agent.wait_drained(Duration::from_secs(30)),
        "good agent served throughout"
    );
    agent.stop();
    for line in [
        "refused: agent \"db1\": authentication failed",
        "missing token",
        "refused: agent \"intruder\": authentication failed",
        "outside agent db2's namespace",
        "unknown message type 99",
        "frame length 4294967295 outside",
        "protocol version 2 not supported",
    ] {
        server.wait_log(line);
    }
    server.term();

    // Nothing of the intruders reached the store; the good agent's data did.
    let events: Vec<WriteEvent> = Journal::read_all(&dir.path().join("spool"))
        .unwrap()
        .into_iter()
        .map(|r| r.event)
        .collect();
    let want = Replay::at(&events, i64::MAX, 1 << 30).streams;
    let got = store_contents(&store, "db1/");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    assert!(
        got == want,
        "store holds exactly what the good agent captured"
    );
    assert!(store_contents(&store, "db2/").is_empty());
}

/// The agent as a process: an NBD export captured into its spool, shipped
/// through `proxy`. Returns it and the NBD address.
fn start_agent(dir: &std::path::Path, token: &std::path::Path, server: &str) -> (Proc, String) {
    let mut cmd = kairos();
    cmd.args(["-v", "agent", "--server", server, "--token"])
        .arg(token)
        .arg("--spool")
        .arg(dir.join("spool"))
        .args([
            "nbd",
            "--stream",
            "vol",
            "--size",
            "4M",
            "--listen",
            "127.0.0.1:0",
            "--image",
        ])
        .arg(dir.join("vol.img"));
    let (p, line) = Proc::start(cmd, "kairos: NBD export");
    (p, addr_of(&line))
}

const CHUNK: u64 = 64 << 10;

fn pattern(i: u64) -> u8 {
    (i % 250) as u8 + 1
}

/// qemu-io: write block `i`'s pattern and flush; true when both succeeded
/// (the write is then acknowledged to the application).
fn write_block(nbd: &str, i: u64) -> std::process::Child {
    std::process::Command::new("qemu-io")
        .args(["-f", "raw", "-c"])
        .arg(format!("write -P {} {} {CHUNK}", pattern(i), i * CHUNK))
        .args(["-c", "flush"])
        .arg(format!("nbd://{nbd}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("qemu-io must be installed (Debian qemu-utils)")
}

fn acknowledged(child: std::process::Child) -> bool {
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    out.status.success() && text.contains("wrote") && !text.contains("failed")
}

#[test]
fn server_killed_agent_killed_connection_cut_nothing_acknowledged_lost_nothing_doubled() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    init_store(&store);
    let (tok, each) = tokens(dir.path(), &[("db1", DB1)]);
    let (mut server, server_addr) = serve(&store, &tok, "127.0.0.1:0");
    let proxy = Proxy::start(server_addr.clone());
    let (mut agent, mut nbd) = start_agent(dir.path(), &each[0], &proxy.addr);

    let mut acked = Vec::new();
    for i in 0..40u64 {
        match i {
            8 => server.kill9(), // writes go on into the spool
            13 => server = serve(&store, &tok, &server_addr).0,
            17 => proxy.cut(),
            21 => {
                agent.kill9();
                (agent, nbd) = start_agent(dir.path(), &each[0], &proxy.addr);
            }
            29 => {
                server.kill9();
                server = serve(&store, &tok, &server_addr).0;
            }
            _ => {}
        }
        if i == 25 {
            // Kill the agent while a write is in flight: acknowledged or
            // not, the store must agree with the spool.
            let child = write_block(&nbd, i);
            std::thread::sleep(Duration::from_millis(3));
            agent.kill9();
            if acknowledged(child) {
                acked.push(i);
            }
            (agent, nbd) = start_agent(dir.path(), &each[0], &proxy.addr);
            continue;
        }
        assert!(
            acknowledged(write_block(&nbd, i)),
            "write {i} through a live agent"
        );
        acked.push(i);
    }
    agent.term(); // drains (bounded) before exiting
    // Whatever is still unacknowledged is in the spool: a restarted agent sends it.
    let (mut agent, _) = start_agent(dir.path(), &each[0], &proxy.addr);
    std::thread::sleep(Duration::from_millis(500));
    agent.term();
    server.term();
    server.wait_log("agent db1 connected");

    // Reference log: the agent's spool journal.
    let records = Journal::read_all(&dir.path().join("spool")).unwrap();
    let events: Vec<WriteEvent> = records.iter().map(|r| r.event.clone()).collect();
    let want = Replay::at(&events, i64::MAX, 1 << 30).streams;
    let got = store_contents(&store, "db1/");
    assert!(
        got.get("db1/vol") == want.get("db1/vol"),
        "store = spool, byte for byte"
    );
    let vol = &got["db1/vol"];
    for &i in &acked {
        let region = &vol[(i * CHUNK) as usize..((i + 1) * CHUNK) as usize];
        assert!(
            region.iter().all(|&b| b == pattern(i)),
            "acknowledged write {i} lost"
        );
    }
    // Nothing doubled: one instant per distinct captured instant, and the
    // server's sequence record is the spool's last sequence.
    let s = Store::open_read(&store).unwrap();
    let instants = s.timeline("db1/vol", i64::MIN, i64::MAX).unwrap().instants;
    let mut ts: Vec<i64> = events
        .iter()
        .filter(|e| e.stream == "db1/vol")
        .map(|e| e.ts_ns)
        .collect();
    ts.dedup();
    assert_eq!(
        instants.len(),
        ts.len(),
        "every captured instant stored exactly once"
    );
    assert_eq!(instants.iter().map(|r| r.ts).collect::<Vec<_>>(), ts);
    let mut seq = [0u8; 8];
    kairos_parsers::SourceExt::read_exact_at(
        &s.view(".kairos/agents/db1/seq", None).unwrap(),
        0,
        &mut seq,
    )
    .unwrap();
    assert_eq!(u64::from_le_bytes(seq), records.last().unwrap().seq);
}

#[test]
fn agent_ships_over_tls_to_a_server_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    init_store(&store);
    let (tok, each) = tokens(dir.path(), &[("db1", DB1)]);
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_pem, key_pem) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_pem, cert.cert.pem()).unwrap();
    std::fs::write(&key_pem, cert.key_pair.serialize_pem()).unwrap();
    let mut cmd = kairos();
    cmd.arg("--store")
        .arg(&store)
        .args(["-v", "serve", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(&tok);
    cmd.arg("--tls-cert")
        .arg(&cert_pem)
        .arg("--tls-key")
        .arg(&key_pem);
    let (mut server, line) = Proc::start(cmd, "kairos: serving store");
    assert!(line.contains("(TLS)"));
    let port = addr_of(&line).rsplit(':').next().unwrap().to_owned();

    // A client speaking the plain protocol to the TLS port is dropped.
    assert_eq!(
        attack(&format!("127.0.0.1:{port}"), &hello("db1", DB1)),
        "closed"
    );
    server.wait_log("TLS handshake failed");

    let file = dir.path().join("payload.bin");
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &payload).unwrap();
    let out = kairos()
        .args(["agent", "--server", &format!("localhost:{port}"), "--token"])
        .arg(&each[0])
        .arg("--spool")
        .arg(dir.path().join("spool"))
        .arg("--tls-ca")
        .arg(&cert_pem)
        .arg("capture")
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "agent: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.term();
    assert_eq!(store_contents(&store, "db1/")["db1/payload.bin"], payload);
}
