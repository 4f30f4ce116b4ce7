//! NBD export driven by a real client (qemu-io from Debian qemu-utils):
//! writes, flushes and reads through the protocol, then every instant
//! recorded after a flush is reconstructed from the captured events and
//! compared with what the client wrote.
#![allow(clippy::unwrap_used)]

use std::net::TcpListener;
use std::process::Command;
use std::sync::Arc;

use kairos_capture::nbd::{Volume, serve};
use kairos_capture::{EventSink, Journal, JournalSink, Replay, StoreSink, now_ns};
use kairos_engine::{Store, StoreOptions};

const SIZE: u64 = 8 << 20;

fn qemu_io(port: u16, cmds: &[String]) -> String {
    let mut c = Command::new("qemu-io");
    c.arg("-f").arg("raw");
    for cmd in cmds {
        c.arg("-c").arg(cmd);
    }
    c.arg(format!("nbd://127.0.0.1:{port}/vol0"));
    let out = c
        .output()
        .expect("qemu-io must be installed (Debian qemu-utils)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "qemu-io {cmds:?} failed: {text}");
    assert!(
        !text.contains("Pattern verification failed") && !text.contains("failed:"),
        "qemu-io {cmds:?}: {text}"
    );
    text
}

/// Runs the qemu-io scenario against a volume capturing into `sink`;
/// returns (instant after each flush, expected volume bytes at it) and the
/// final image.
fn scenario(sink: Arc<dyn EventSink>) -> (Vec<(i64, Vec<u8>)>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let volume = Arc::new(Volume::open(&dir.path().join("vol0.img"), SIZE, "vol0", sink).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    {
        let volume = Arc::clone(&volume);
        std::thread::spawn(move || serve(&listener, &volume));
    }

    // Each step: qemu-io writes a pattern and flushes; the wall time after it
    // returns is an instant at which the expected image must be in the store.
    let mut expected = vec![0u8; SIZE as usize];
    let mut checkpoints = Vec::new();
    let steps: [(u64, u64, u8); 8] = [
        (0, 65536, 0x11),
        (4096, 512, 0x22),
        (1 << 20, 3 << 20, 0x33), // larger than one event: split
        (SIZE - 4096, 4096, 0x44),
        (12_345, 7_777, 0x55),    // unaligned
        (2 << 20, 1 << 20, 0x00), // zeros over data
        (0, 65536, 0x66),
        (5 << 20, 1, 0x77),
    ];
    for (i, (off, len, pat)) in steps.iter().enumerate() {
        let write = if i == 5 {
            format!("write -z {off} {len}")
        } else {
            format!("write -P {pat:#x} {off} {len}")
        };
        qemu_io(port, &[write, "flush".to_owned()]);
        expected[*off as usize..(*off + *len) as usize].fill(*pat);
        checkpoints.push((now_ns(), expected.clone()));
        // Reading back through NBD returns what was written.
        qemu_io(port, &[format!("read -P {pat:#x} {off} {len}")]);
    }
    // Discard (TRIM) zeroes the range in the captured history too.
    qemu_io(port, &["discard 0 4096".to_owned(), "flush".to_owned()]);
    expected[..4096].fill(0);
    checkpoints.push((now_ns(), expected.clone()));
    let image = std::fs::read(dir.path().join("vol0.img")).unwrap();
    assert!(
        image == expected,
        "the live image holds what the client wrote"
    );
    (checkpoints, image)
}

#[test]
fn qemu_io_flushed_writes_are_in_the_spool_journal_at_their_instants() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(JournalSink::new(
        Journal::open(&dir.path().join("spool")).unwrap(),
    ));
    let (checkpoints, _) = scenario(sink.clone());
    let records = sink.with(|j| j.read_from(0, usize::MAX)).unwrap();
    let events: Vec<_> = records.iter().map(|r| r.event.clone()).collect();
    assert!(events.iter().all(|e| e.stream == "vol0"));
    for (n, (at, want)) in checkpoints.iter().enumerate() {
        let state = Replay::at(&events, *at, SIZE);
        let mut got = state.streams.get("vol0").cloned().unwrap_or_default();
        got.resize(SIZE as usize, 0);
        assert!(
            got == *want,
            "instant {n}: reconstructed volume differs from what was flushed"
        );
    }
    // Before the first write the volume held nothing.
    let first = events.first().unwrap().ts_ns;
    assert!(Replay::at(&events, first - 1, SIZE).streams.is_empty());
}

#[test]
fn qemu_io_flushed_writes_are_in_the_store_at_their_instants() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    Store::init(&store_dir, StoreOptions::default()).unwrap();
    let sink = Arc::new(StoreSink::new(Store::open(&store_dir).unwrap()));
    let (checkpoints, _) = scenario(sink.clone());
    for (n, (at, want)) in checkpoints.iter().enumerate() {
        let mut got = Vec::new();
        sink.with_store(|s| s.view("vol0", Some(*at)).unwrap().write_to(&mut got))
            .unwrap();
        got.resize(SIZE as usize, 0);
        assert!(
            got == *want,
            "instant {n}: the store's view differs from what was flushed"
        );
    }
}

#[test]
fn unknown_export_is_refused_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(JournalSink::new(
        Journal::open(&dir.path().join("s")).unwrap(),
    ));
    let volume = Arc::new(Volume::open(&dir.path().join("v.img"), 1 << 20, "vol0", sink).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(&listener, &volume));
    let out = Command::new("qemu-io")
        .args(["-f", "raw", "-c", "read 0 512"])
        .arg(format!("nbd://127.0.0.1:{port}/nosuch"))
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an unknown export name must be refused"
    );
    // Garbage instead of a handshake: dropped, others unaffected.
    {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut hello = [0u8; 18];
        s.read_exact(&mut hello).unwrap();
        s.write_all(&[0xff; 64]).unwrap();
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
    }
    qemu_io(
        port,
        &[
            "write -P 0x5a 0 4096".to_owned(),
            "read -P 0x5a 0 4096".to_owned(),
        ],
    );
}
