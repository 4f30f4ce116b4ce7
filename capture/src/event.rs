//! Write events: what every capture path produces and every sink consumes.
//!
//! An event is one change to one stream at one instant: bytes written at an
//! offset, a new length (extend or truncate), or the stream's removal (an
//! unlinked file keeps its history; at later instants it is absent). The
//! binary encoding here is shared by the spool journal and the network
//! protocol, so an event read back from either is bit-identical to the one
//! written.
//!
//! Encoding (little-endian):
//!
//! | field | size | meaning |
//! |---|---|---|
//! | seq | 8 | sequence number assigned by the producer (journal / agent) |
//! | ts_ns | 8 | instant of the change, nanoseconds since the Unix epoch (UTC), signed |
//! | kind | 1 | 0 write, 1 set length, 2 remove |
//! | name_len | 2 | length of the stream name in bytes (1..=[`MAX_STREAM_NAME`]) |
//! | name | name_len | stream name, UTF-8 |
//! | offset / length | 8 | write: byte offset; set length: the new length; remove: absent |
//! | data | rest | write only: the bytes (1..=[`MAX_WRITE_DATA`]) |

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Longest stream name accepted, in bytes. Relative paths of protected files
/// stay far below this; the bound keeps decoders from trusting a length field.
pub const MAX_STREAM_NAME: usize = 4096;

/// Most bytes one write event carries. Larger writes are split by
/// [`WriteEvent::split_writes`] so a frame or journal record stays bounded.
pub const MAX_WRITE_DATA: usize = 1 << 20;

/// Largest encoded event: header, name, offset and data.
pub const MAX_ENCODED_EVENT: usize = 8 + 8 + 1 + 2 + MAX_STREAM_NAME + 8 + MAX_WRITE_DATA;

/// What happened to the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `data` was written at byte `offset` (the stream grows if it ends past
    /// the current length).
    Write {
        /// Byte offset of the first written byte.
        offset: u64,
        /// The bytes written.
        data: Vec<u8>,
    },
    /// The stream's length became this (truncate or extend with zeros).
    SetLen(u64),
    /// The stream was removed (unlink, or the old name of a rename).
    Remove,
}

/// One change to one stream at one instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteEvent {
    /// The stream: a protected file's path relative to the protected
    /// directory, or a volume's name.
    pub stream: String,
    /// When the change happened, ns since the Unix epoch (UTC).
    pub ts_ns: i64,
    /// The change.
    pub change: Change,
}

/// Why bytes are not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the fields need.
    #[error("event truncated: {field} needs {need} bytes, {have} left")]
    Truncated {
        /// The field being read.
        field: &'static str,
        /// Bytes it needs.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A field holds a value the format does not allow.
    #[error("invalid event field {field}: {detail}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

impl WriteEvent {
    /// A write of `data` at `offset`.
    pub fn write(stream: impl Into<String>, ts_ns: i64, offset: u64, data: Vec<u8>) -> Self {
        Self {
            stream: stream.into(),
            ts_ns,
            change: Change::Write { offset, data },
        }
    }

    /// Splits a write larger than [`MAX_WRITE_DATA`] into consecutive writes
    /// with the same instant; other events come back unchanged.
    pub fn split_writes(self) -> Vec<WriteEvent> {
        match self.change {
            Change::Write { offset, data } if data.len() > MAX_WRITE_DATA => {
                let mut out = Vec::with_capacity(data.len().div_ceil(MAX_WRITE_DATA));
                let mut at = offset;
                for piece in data.chunks(MAX_WRITE_DATA) {
                    out.push(WriteEvent::write(
                        self.stream.clone(),
                        self.ts_ns,
                        at,
                        piece.to_vec(),
                    ));
                    at = at.saturating_add(piece.len() as u64);
                }
                out
            }
            change => vec![WriteEvent { change, ..self }],
        }
    }

    /// Appends the encoding of (`seq`, self) to `out`.
    ///
    /// Names longer than [`MAX_STREAM_NAME`] or writes larger than
    /// [`MAX_WRITE_DATA`] are rejected by [`validate`](Self::validate);
    /// producers call it before assigning a sequence number.
    pub fn encode(&self, seq: u64, out: &mut Vec<u8>) {
        self.encode_head(seq, out);
        if let Change::Write { data, .. } = &self.change {
            out.extend_from_slice(data);
        }
    }

    /// Appends the encoding of (`seq`, self) without a write's data, which
    /// follows it directly in the full encoding: a writer holding the data
    /// elsewhere can send both without copying the data first.
    pub fn encode_head(&self, seq: u64, out: &mut Vec<u8>) {
        out.extend_from_slice(&seq.to_le_bytes());
        out.extend_from_slice(&self.ts_ns.to_le_bytes());
        let (kind, arg) = match &self.change {
            Change::Write { offset, .. } => (0u8, Some(*offset)),
            Change::SetLen(len) => (1, Some(*len)),
            Change::Remove => (2, None),
        };
        out.push(kind);
        let name = self.stream.as_bytes();
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name);
        if let Some(arg) = arg {
            out.extend_from_slice(&arg.to_le_bytes());
        }
    }

    /// Checks the bounds the encoding relies on.
    pub fn validate(&self) -> Result<(), DecodeError> {
        validate_stream_name(&self.stream)?;
        if let Change::Write { offset, data } = &self.change {
            if data.is_empty() || data.len() > MAX_WRITE_DATA {
                return Err(DecodeError::Invalid {
                    field: "data",
                    detail: format!(
                        "write of {} bytes (allowed 1..={MAX_WRITE_DATA})",
                        data.len()
                    ),
                });
            }
            if offset.checked_add(data.len() as u64).is_none() {
                return Err(DecodeError::Invalid {
                    field: "offset",
                    detail: format!("write at {offset} overflows a 64-bit length"),
                });
            }
        }
        Ok(())
    }

    /// Decodes one event (and its sequence number) occupying all of `bytes`.
    pub fn decode(bytes: &[u8]) -> Result<(u64, WriteEvent), DecodeError> {
        let mut r = Reader { bytes };
        let seq = u64::from_le_bytes(r.array("seq")?);
        let ts_ns = i64::from_le_bytes(r.array("ts_ns")?);
        let [kind] = r.array::<1>("kind")?;
        let name_len = usize::from(u16::from_le_bytes(r.array("name_len")?));
        let name = r.take("name", name_len)?;
        let stream = std::str::from_utf8(name)
            .map_err(|e| DecodeError::Invalid {
                field: "name",
                detail: format!("not UTF-8: {e}"),
            })?
            .to_owned();
        let change = match kind {
            0 => {
                let offset = u64::from_le_bytes(r.array("offset")?);
                Change::Write {
                    offset,
                    data: r.bytes.to_vec(),
                }
            }
            1 => Change::SetLen(u64::from_le_bytes(r.array("length")?)),
            2 => Change::Remove,
            other => {
                return Err(DecodeError::Invalid {
                    field: "kind",
                    detail: format!("unknown event kind {other}"),
                });
            }
        };
        if !matches!(change, Change::Write { .. }) && !r.bytes.is_empty() {
            return Err(DecodeError::Invalid {
                field: "data",
                detail: format!("{} trailing bytes after a non-write event", r.bytes.len()),
            });
        }
        let event = WriteEvent {
            stream,
            ts_ns,
            change,
        };
        event.validate()?;
        Ok((seq, event))
    }
}

/// Checks a stream name: non-empty, bounded, no NUL, no `.`/`..` components
/// and no leading `/` (names become relative paths on restore).
pub fn validate_stream_name(name: &str) -> Result<(), DecodeError> {
    let bad = |detail: String| DecodeError::Invalid {
        field: "name",
        detail,
    };
    if name.is_empty() || name.len() > MAX_STREAM_NAME {
        return Err(bad(format!(
            "stream name of {} bytes (allowed 1..={MAX_STREAM_NAME})",
            name.len()
        )));
    }
    if name.contains('\0') {
        return Err(bad("stream name contains NUL".into()));
    }
    if name.starts_with('/')
        || name
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(bad(format!(
            "stream name {name:?} is not a clean relative path"
        )));
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Truncated {
                field,
                need: n,
                have: self.bytes.len(),
            });
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(field, N)?);
        Ok(a)
    }
}

/// Last instant handed out by [`now_ns`].
static LAST_NS: AtomicI64 = AtomicI64::new(0);

/// The capture clock: wall time in ns since the Unix epoch, strictly after
/// every earlier value in this process, so events have strictly increasing
/// instants even when the system clock steps back or two writes land in the
/// same nanosecond, and an instant taken after a write returned is after that
/// write's event.
pub fn now_ns() -> i64 {
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let mut prev = LAST_NS.load(Ordering::Relaxed);
    loop {
        let next = wall.max(prev.saturating_add(1));
        match LAST_NS.compare_exchange_weak(prev, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => prev = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_event() -> impl Strategy<Value = WriteEvent> {
        let name = "[a-z]{1,8}(/[a-z0-9._-]{1,8}){0,3}"
            .prop_filter("clean", |n| n.split('/').all(|c| c != "." && c != ".."));
        let change = prop_oneof![
            (any::<u32>(), proptest::collection::vec(any::<u8>(), 1..300)).prop_map(|(o, data)| {
                Change::Write {
                    offset: u64::from(o),
                    data,
                }
            }),
            any::<u64>().prop_map(Change::SetLen),
            Just(Change::Remove),
        ];
        (name, any::<i64>(), change).prop_map(|(stream, ts_ns, change)| WriteEvent {
            stream,
            ts_ns,
            change,
        })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(ev in arb_event(), seq in any::<u64>()) {
            let mut buf = Vec::new();
            ev.encode(seq, &mut buf);
            prop_assert_eq!(WriteEvent::decode(&buf), Ok((seq, ev)));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = WriteEvent::decode(&bytes);
        }

        #[test]
        fn truncated_encoding_is_an_error(ev in arb_event(), cut in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            ev.encode(7, &mut buf);
            // Any strict prefix either fails or (for writes) decodes a shorter write.
            let n = cut.index(buf.len());
            match WriteEvent::decode(&buf[..n]) {
                Err(_) => {}
                Ok((_, got)) => {
                    let Change::Write { data, .. } = &ev.change else {
                        return Err(TestCaseError::fail("prefix of a non-write decoded"));
                    };
                    let Change::Write { data: got_data, .. } = got.change else {
                        return Err(TestCaseError::fail("kind changed"));
                    };
                    prop_assert!(data.starts_with(&got_data) && got_data.len() < data.len());
                }
            }
        }
    }

    #[test]
    fn split_covers_the_write_exactly() {
        let data: Vec<u8> = (0..(MAX_WRITE_DATA * 2 + 17)).map(|i| i as u8).collect();
        let parts = WriteEvent::write("v", 5, 100, data.clone()).split_writes();
        assert_eq!(parts.len(), 3);
        let mut joined = Vec::new();
        let mut expect_off = 100u64;
        for p in parts {
            let Change::Write { offset, data } = p.change else {
                panic!("split produced a non-write")
            };
            assert_eq!(offset, expect_off);
            assert!(data.len() <= MAX_WRITE_DATA);
            expect_off += data.len() as u64;
            joined.extend(data);
        }
        assert_eq!(joined, data);
    }

    #[test]
    fn bad_names_are_rejected() {
        for n in ["", "/abs", "a//b", "a/../b", ".", "a/.", "nul\0"] {
            assert!(validate_stream_name(n).is_err(), "{n:?} accepted");
        }
        assert!(validate_stream_name("db/main.db-wal").is_ok());
    }

    #[test]
    fn clock_is_strictly_increasing() {
        let mut prev = now_ns();
        for _ in 0..10_000 {
            let t = now_ns();
            assert!(t > prev);
            prev = t;
        }
    }
}
