//! The NBD server against a hand-written client: out-of-range requests get
//! error replies and the connection goes on; an oversized write or garbage
//! ends only that connection; the server keeps serving others. With
//! structured replies negotiated, every reply is one chunk of the right
//! type, built here from the protocol document's layout.
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

/// Sends option `option` with `data` during the handshake.
fn option(s: &mut TcpStream, option: u32, data: &[u8]) {
    let mut opt = 0x4948_4156_454F_5054u64.to_be_bytes().to_vec();
    opt.extend_from_slice(&option.to_be_bytes());
    opt.extend_from_slice(&(data.len() as u32).to_be_bytes());
    opt.extend_from_slice(data);
    s.write_all(&opt).unwrap();
}

/// (option, reply type, data) of one option reply.
fn option_reply(s: &mut TcpStream) -> (u32, u32, Vec<u8>) {
    let mut h = [0u8; 20];
    s.read_exact(&mut h).unwrap();
    assert_eq!(
        u64::from_be_bytes(h[..8].try_into().unwrap()),
        0x0003_e889_0455_65a9
    );
    let len = u32::from_be_bytes(h[16..20].try_into().unwrap()) as usize;
    let mut data = vec![0u8; len];
    s.read_exact(&mut data).unwrap();
    (
        u32::from_be_bytes(h[8..12].try_into().unwrap()),
        u32::from_be_bytes(h[12..16].try_into().unwrap()),
        data,
    )
}

/// Fixed newstyle handshake with NBD_OPT_GO on the default export.
fn connect(port: u16) -> TcpStream {
    connect_with(port, false)
}

/// The same, first negotiating structured replies when `structured`.
fn connect_with(port: u16, structured: bool) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = [0u8; 18];
    s.read_exact(&mut hello).unwrap();
    assert_eq!(&hello[..8], b"NBDMAGIC");
    s.write_all(&3u32.to_be_bytes()).unwrap(); // fixed newstyle, no zeroes
    if structured {
        option(&mut s, 8, b"junk"); // STRUCTURED_REPLY takes no data
        assert_eq!(option_reply(&mut s), (8, (1 << 31) + 3, Vec::new()));
        option(&mut s, 8, &[]);
        assert_eq!(option_reply(&mut s), (8, 1, Vec::new()));
    }
    // GO: name "", no info requests.
    option(&mut s, 7, &[0, 0, 0, 0, 0, 0]);
    loop {
        let (opt, reply, _) = option_reply(&mut s);
        assert_eq!(opt, 7);
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

/// (flags, type, handle, payload) of one structured reply chunk.
fn chunk(s: &mut TcpStream) -> (u16, u16, u64, Vec<u8>) {
    let mut h = [0u8; 20];
    s.read_exact(&mut h).unwrap();
    assert_eq!(u32::from_be_bytes(h[..4].try_into().unwrap()), 0x668e_33ef);
    let len = u32::from_be_bytes(h[16..20].try_into().unwrap()) as usize;
    let mut payload = vec![0u8; len];
    s.read_exact(&mut payload).unwrap();
    (
        u16::from_be_bytes(h[4..6].try_into().unwrap()),
        u16::from_be_bytes(h[6..8].try_into().unwrap()),
        u64::from_be_bytes(h[8..16].try_into().unwrap()),
        payload,
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

#[test]
fn structured_replies_carry_data_holes_and_errors() {
    const DONE: u16 = 1;
    let (port, _dir) = start();
    let mut s = connect_with(port, true);
    let written: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8 + 1).collect();
    request(&mut s, 1, 1, 3000, written.len() as u32, &written);
    assert_eq!(chunk(&mut s), (DONE, 0, 1, Vec::new()), "write: NONE");

    // Read over the written bytes: one OFFSET_DATA chunk, offset first.
    request(&mut s, 0, 2, 3000, written.len() as u32, &[]);
    let (flags, kind, handle, payload) = chunk(&mut s);
    assert_eq!((flags, kind, handle), (DONE, 1, 2));
    assert_eq!(u64::from_be_bytes(payload[..8].try_into().unwrap()), 3000);
    assert_eq!(&payload[8..], &written[..]);

    // Read of never-written bytes: one OFFSET_HOLE chunk (offset, length).
    request(&mut s, 0, 3, 65536, 8192, &[]);
    let (flags, kind, handle, payload) = chunk(&mut s);
    assert_eq!((flags, kind, handle), (DONE, 2, 3));
    assert_eq!(u64::from_be_bytes(payload[..8].try_into().unwrap()), 65536);
    assert_eq!(u32::from_be_bytes(payload[8..12].try_into().unwrap()), 8192);
    assert_eq!(payload.len(), 12);

    // Read past the end: an ERROR chunk with EINVAL and a message.
    request(&mut s, 0, 4, SIZE - 10, 20, &[]);
    let (flags, kind, handle, payload) = chunk(&mut s);
    assert_eq!((flags, kind, handle), (DONE, (1 << 15) + 1, 4));
    assert_eq!(u32::from_be_bytes(payload[..4].try_into().unwrap()), 22);
    let msg_len = u16::from_be_bytes(payload[4..6].try_into().unwrap()) as usize;
    assert_eq!(payload.len(), 6 + msg_len);
    let msg = std::str::from_utf8(&payload[6..]).unwrap();
    assert!(msg.contains("past the end"), "{msg}");

    // Flush, then an unknown command: NONE, then ERROR with ENOTSUP.
    request(&mut s, 3, 5, 0, 0, &[]);
    assert_eq!(chunk(&mut s), (DONE, 0, 5, Vec::new()));
    request(&mut s, 9, 6, 0, 0, &[]);
    let (flags, kind, handle, payload) = chunk(&mut s);
    assert_eq!((flags, kind, handle), (DONE, (1 << 15) + 1, 6));
    assert_eq!(u32::from_be_bytes(payload[..4].try_into().unwrap()), 95);

    // A client that did not negotiate them still gets simple replies.
    let mut plain = connect(port);
    request(&mut plain, 0, 7, 3000, 4, &[]);
    assert_eq!(reply(&mut plain), (0, 7));
    let mut back = [0u8; 4];
    plain.read_exact(&mut back).unwrap();
    assert_eq!(&back, &written[..4]);
}
