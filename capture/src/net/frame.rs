//! The agent ↔ server wire format: length-prefixed frames, bounded.
//!
//! A frame is `u32 length` (big-endian, counting the type byte and the
//! payload), `u8 type`, payload. Lengths of 0 or above [`MAX_FRAME`] are
//! refused before anything is allocated, so a hostile 4 GiB prefix costs the
//! server nothing but the log line.
//!
//! | type | direction | payload |
//! |---|---|---|
//! | 1 Hello | agent → server | `u16 version`, `u16 name_len`, name, `u16 token_len`, token |
//! | 2 Welcome | server → agent | `u16 version`, `u64` highest sequence the server holds durably for this agent |
//! | 3 Refused | server → agent | UTF-8 reason; the server closes the connection |
//! | 4 Events | agent → server | repeated: `u32 len` (BE), one event in the [`crate::event`] encoding (sequence numbers strictly increasing) |
//! | 5 Ack | server → agent | `u64`: every event of this agent up to this sequence is durable in the store |

use std::io::{self, Read, Write};

use crate::event::{DecodeError, MAX_ENCODED_EVENT, WriteEvent};

/// Protocol version spoken by this build.
pub const VERSION: u16 = 1;
/// Largest frame accepted (type byte + payload).
pub const MAX_FRAME: usize = 8 << 20;
/// Payload size at which an agent stops adding events to a batch.
pub const BATCH_BYTES: usize = 4 << 20;
/// Longest agent name / token accepted in a Hello.
pub const MAX_CREDENTIAL: usize = 256;

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Agent introduces itself.
    Hello {
        /// Protocol version.
        version: u16,
        /// Agent name.
        agent: String,
        /// Secret token.
        token: Vec<u8>,
    },
    /// Server accepts; tells the agent where to resume.
    Welcome {
        /// Protocol version.
        version: u16,
        /// Highest sequence the server holds durably for this agent.
        durable: u64,
    },
    /// Server refuses and closes.
    Refused(String),
    /// A batch of events with their sequence numbers.
    Events(Vec<(u64, WriteEvent)>),
    /// Everything up to this sequence is durable.
    Ack(u64),
}

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or closed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The length prefix is 0 or too large.
    #[error("frame length {0} outside 1..={MAX_FRAME} bytes")]
    Length(u64),
    /// Unknown message type.
    #[error("unknown message type {0}")]
    Type(u8),
    /// A payload field is malformed.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which message.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// An event inside a batch is malformed.
    #[error("malformed event: {0}")]
    Event(#[from] DecodeError),
}

fn malformed(what: &'static str, detail: impl Into<String>) -> FrameError {
    FrameError::Malformed {
        what,
        detail: detail.into(),
    }
}

impl Message {
    /// Encodes the message as one frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0u8; 4];
        match self {
            Message::Hello {
                version,
                agent,
                token,
            } => {
                out.push(1);
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&(agent.len() as u16).to_be_bytes());
                out.extend_from_slice(agent.as_bytes());
                out.extend_from_slice(&(token.len() as u16).to_be_bytes());
                out.extend_from_slice(token);
            }
            Message::Welcome { version, durable } => {
                out.push(2);
                out.extend_from_slice(&version.to_be_bytes());
                out.extend_from_slice(&durable.to_be_bytes());
            }
            Message::Refused(reason) => {
                out.push(3);
                out.extend_from_slice(reason.as_bytes());
            }
            Message::Events(events) => {
                out.push(4);
                let mut buf = Vec::new();
                for (seq, ev) in events {
                    buf.clear();
                    ev.encode(*seq, &mut buf);
                    out.extend_from_slice(&(buf.len() as u32).to_be_bytes());
                    out.extend_from_slice(&buf);
                }
            }
            Message::Ack(seq) => {
                out.push(5);
                out.extend_from_slice(&seq.to_be_bytes());
            }
        }
        let len = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// Decodes a frame body (type byte + payload).
    pub fn decode(body: &[u8]) -> Result<Message, FrameError> {
        let (&kind, p) = body.split_first().ok_or(FrameError::Length(0))?;
        match kind {
            1 => {
                let mut r = p;
                let version = take_u16(&mut r, "hello")?;
                let n = usize::from(take_u16(&mut r, "hello")?);
                if n > MAX_CREDENTIAL {
                    return Err(malformed("hello", format!("agent name of {n} bytes")));
                }
                let agent = take(&mut r, n, "hello")?;
                let agent = std::str::from_utf8(agent)
                    .map_err(|_| malformed("hello", "agent name is not UTF-8"))?
                    .to_owned();
                let t = usize::from(take_u16(&mut r, "hello")?);
                if t > MAX_CREDENTIAL {
                    return Err(malformed("hello", format!("token of {t} bytes")));
                }
                let token = take(&mut r, t, "hello")?.to_vec();
                if !r.is_empty() {
                    return Err(malformed("hello", "trailing bytes"));
                }
                Ok(Message::Hello {
                    version,
                    agent,
                    token,
                })
            }
            2 => {
                let mut r = p;
                let version = take_u16(&mut r, "welcome")?;
                let durable = take_u64(&mut r, "welcome")?;
                Ok(Message::Welcome { version, durable })
            }
            3 => Ok(Message::Refused(String::from_utf8_lossy(p).into_owned())),
            4 => {
                let mut r = p;
                let mut events = Vec::new();
                let mut last = 0u64;
                while !r.is_empty() {
                    let n = take_u32(&mut r, "events")? as usize;
                    if n > MAX_ENCODED_EVENT {
                        return Err(malformed("events", format!("event of {n} bytes")));
                    }
                    let (seq, ev) = WriteEvent::decode(take(&mut r, n, "events")?)?;
                    if seq <= last {
                        return Err(malformed(
                            "events",
                            format!("sequence {seq} after {last}: must increase"),
                        ));
                    }
                    last = seq;
                    events.push((seq, ev));
                }
                Ok(Message::Events(events))
            }
            5 => {
                let mut r = p;
                let seq = take_u64(&mut r, "ack")?;
                Ok(Message::Ack(seq))
            }
            other => Err(FrameError::Type(other)),
        }
    }
}

fn take<'a>(r: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8], FrameError> {
    if r.len() < n {
        return Err(malformed(
            what,
            format!("needs {n} more bytes, {} left", r.len()),
        ));
    }
    let (a, b) = r.split_at(n);
    *r = b;
    Ok(a)
}

fn take_u16(r: &mut &[u8], what: &'static str) -> Result<u16, FrameError> {
    let b = take(r, 2, what)?;
    Ok(u16::from_be_bytes([b[0], b[1]]))
}

fn take_u32(r: &mut &[u8], what: &'static str) -> Result<u32, FrameError> {
    let b = take(r, 4, what)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn take_u64(r: &mut &[u8], what: &'static str) -> Result<u64, FrameError> {
    let b = take(r, 8, what)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Ok(u64::from_be_bytes(a))
}

/// Checks a length prefix before anything is allocated for it.
pub fn check_length(len: u32) -> Result<usize, FrameError> {
    let n = len as usize;
    if n == 0 || n > MAX_FRAME {
        return Err(FrameError::Length(u64::from(len)));
    }
    Ok(n)
}

/// Reads one frame from a blocking stream (the agent side).
pub fn read_blocking(r: &mut impl Read) -> Result<Message, FrameError> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let n = check_length(u32::from_be_bytes(len))?;
    let mut body = vec![0u8; n];
    r.read_exact(&mut body)?;
    Message::decode(&body)
}

/// Writes one frame to a blocking stream.
pub fn write_blocking(w: &mut impl Write, m: &Message) -> io::Result<()> {
    w.write_all(&m.encode())?;
    w.flush()
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(secret: &[u8], given: &[u8]) -> bool {
    // The length is not secret (tokens have a fixed format); the contents are.
    let mut diff = u8::from(secret.len() != given.len());
    for i in 0..secret.len().max(given.len()) {
        let x = secret.get(i).copied().unwrap_or(0);
        let y = given.get(i).copied().unwrap_or(0);
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips() {
        let msgs = [
            Message::Hello {
                version: 1,
                agent: "db1".into(),
                token: b"s3cret".to_vec(),
            },
            Message::Welcome {
                version: 1,
                durable: 42,
            },
            Message::Refused("no".into()),
            Message::Events(vec![
                (1, WriteEvent::write("db1/a", 5, 0, b"x".to_vec())),
                (
                    3,
                    WriteEvent {
                        stream: "db1/b".into(),
                        ts_ns: 6,
                        change: crate::event::Change::Remove,
                    },
                ),
            ]),
            Message::Ack(9),
        ];
        for m in msgs {
            let f = m.encode();
            let n = check_length(u32::from_be_bytes([f[0], f[1], f[2], f[3]])).unwrap();
            assert_eq!(n, f.len() - 4);
            assert_eq!(Message::decode(&f[4..]).unwrap(), m);
        }
    }

    #[test]
    fn hostile_lengths_are_refused_before_allocation() {
        assert!(matches!(check_length(u32::MAX), Err(FrameError::Length(_))));
        assert!(matches!(check_length(0), Err(FrameError::Length(0))));
        let mut frame = &[0xffu8, 0xff, 0xff, 0xff, 4][..];
        assert!(matches!(
            read_blocking(&mut frame),
            Err(FrameError::Length(_))
        ));
    }

    #[test]
    fn non_increasing_sequences_are_malformed() {
        let m = Message::Events(vec![
            (2, WriteEvent::write("a/x", 1, 0, b"x".to_vec())),
            (2, WriteEvent::write("a/x", 1, 0, b"y".to_vec())),
        ]);
        assert!(Message::decode(&m.encode()[4..]).is_err());
    }

    #[test]
    fn constant_time_eq_is_equality() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
        assert!(constant_time_eq(b"", b""));
    }

    proptest! {
        #[test]
        fn decode_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Message::decode(&body);
        }
    }
}
