//! The NBD server against a hand-written client: out-of-range requests get
//! error replies and the connection goes on; an oversized write or garbage
//! ends only that connection; the server keeps serving others.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use kairos_capture::nbd::{MAX_PAYLOAD, Volume, serve};
use kairos_capture::{Journal, JournalSink};
use rand::Rng;

const SIZE: u64 = 1 << 20;

fn start() -> (u16, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let sink = Arc::new(JournalSink::new(
        Journal::open(&dir.path().join("s")).unwrap(),
    ));
    let volume = Arc::new(Volume::open(&dir.path().join("v.img"), SIZE, "vol0", sink).unwrap());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(&listener, &volume));
    (port, dir)
}

/// Fixed newstyle handshake with NBD_OPT_GO on the default export.
fn connect(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = [0u8; 18];
    s.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..8], b"NBDMAGIC");
    s.write_all(&3u32.to_be_bytes()).unwrap(); // fixed newstyle, no zeroes
    let mut opt = 0x4948_4156_454F_5054u64.to_be_bytes().to_vec();
    opt.extend_from_slice(&7u32.to_be_bytes()); // GO
    opt.extend_from_slice(&6u32.to_be_bytes());
    opt.extend_from_slice(&0u32.to_be_bytes()); // name ""
    opt.extend_from_slice(&0u16.to_be_bytes()); // no info requests
    s.write_all(&opt).unwrap();
    loop {
        let mut h = [0u8; 20];
        s.read_exact(&mut h).unwrap();
        let reply = u32::from_be_bytes(h[12..16].try_into().unwrap());
        let len = u32::from_be_bytes(h[16..20].try_into().unwrap()) as usize;
        let mut data = vec![0u8; len];
        s.read_exact(&mut data).unwrap();
        if reply == 1 {
            return s; // ACK: transmission phase
        }
        assert_eq!(reply, 3, "INFO reply expected");
    }
}

fn request(s: &mut TcpStream, cmd: u16, handle: u64, offset: u64, len: u32, data: &[u8]) {
    let mut r = 0x2560_9513u32.to_be_bytes().to_vec();
    r.extend_from_slice(&0u16.to_be_bytes());
    r.extend_from_slice(&cmd.to_be_bytes());
    r.extend_from_slice(&handle.to_be_bytes());
    r.extend_from_slice(&offset.to_be_bytes());
    r.extend_from_slice(&len.to_be_bytes());
    r.extend_from_slice(data);
    s.write_all(&r).unwrap();
}

/// (error, handle) of a simple reply; the caller reads any data.
fn reply(s: &mut TcpStream) -> (u32, u64) {
    let mut h = [0u8; 16];
    s.read_exact(&mut h).unwrap();
    assert_eq!(u32::from_be_bytes(h[..4].try_into().unwrap()), 0x6744_6698);
    (
        u32::from_be_bytes(h[4..8].try_into().unwrap()),
        u64::from_be_bytes(h[8..16].try_into().unwrap()),
    )
}

fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

#[test]
fn bad_requests_get_errors_and_bad_connections_do_not_hurt_others() {
    let (port, _dir) = start();
    let mut s = connect(port);
    request(&mut s, 0, 1, SIZE - 10, 20, &[]); // read past the end
    assert_eq!(reply(&mut s), (22, 1));
    request(&mut s, 1, 2, SIZE, 4, b"abcd"); // write past the end
    assert_eq!(reply(&mut s), (28, 2));
    request(&mut s, 9, 3, 0, 0, &[]); // unknown command
    assert_eq!(reply(&mut s), (95, 3));
    request(&mut s, 1, 4, 100, 4, b"wxyz"); // the connection still works
    assert_eq!(reply(&mut s), (0, 4));
    request(&mut s, 0, 5, 100, 4, &[]);
    assert_eq!(reply(&mut s), (0, 5));
    let mut back = [0u8; 4];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"wxyz");
    // A write announcing more than the maximum payload ends the connection.
    request(&mut s, 1, 6, 0, MAX_PAYLOAD + 1, &[]);
    assert!(closed(&mut s));

    // Garbage after the handshake, many times: only that connection ends.
    let mut rng = rand::rng();
    for _ in 0..30 {
        let mut g = connect(port);
        let junk: Vec<u8> = (0..rng.random_range(1..200))
            .map(|_| rng.random())
            .collect();
        g.write_all(&junk).unwrap();
        g.shutdown(std::net::Shutdown::Write).unwrap();
        let mut sink = Vec::new();
        let _ = g.read_to_end(&mut sink);
    }
    let mut ok = connect(port);
    request(&mut ok, 0, 7, 100, 4, &[]);
    assert_eq!(reply(&mut ok), (0, 7));
    ok.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"wxyz", "server alive and data intact after garbage");
}
