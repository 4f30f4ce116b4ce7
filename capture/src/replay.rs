//! Replaying a log of events into file contents: the reference answer to
//! "what did every stream hold at instant T".
//!
//! The store answers the same question from its index; tests compare the two
//! (and the capture paths' own journals are such logs), so this is kept as
//! simple as possible to be obviously right: events applied in sequence
//! order, whole contents in memory.

use std::collections::BTreeMap;

use crate::event::{Change, WriteEvent};

/// Contents of every live stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replay {
    /// Stream name → contents.
    pub streams: BTreeMap<String, Vec<u8>>,
}

impl Replay {
    /// Applies one event. Lengths beyond `max_len` are refused (returns
    /// false) so a hostile log cannot make the model allocate without bound.
    pub fn apply(&mut self, event: &WriteEvent, max_len: u64) -> bool {
        match &event.change {
            Change::Write { offset, data } => {
                let Some(end) = offset.checked_add(data.len() as u64) else {
                    return false;
                };
                if end > max_len {
                    return false;
                }
                let buf = self.streams.entry(event.stream.clone()).or_default();
                let (start, end) = (*offset as usize, end as usize);
                if buf.len() < end {
                    buf.resize(end, 0);
                }
                buf[start..end].copy_from_slice(data);
            }
            Change::SetLen(len) => {
                if *len > max_len {
                    return false;
                }
                self.streams
                    .entry(event.stream.clone())
                    .or_default()
                    .resize(*len as usize, 0);
            }
            Change::Remove => {
                self.streams.remove(&event.stream);
            }
        }
        true
    }

    /// Contents at instant `at_ns`: every event with `ts_ns <= at_ns`, in
    /// the given (sequence) order.
    pub fn at<'a>(
        events: impl IntoIterator<Item = &'a WriteEvent>,
        at_ns: i64,
        max_len: u64,
    ) -> Self {
        let mut r = Self::default();
        for e in events {
            if e.ts_ns <= at_ns {
                r.apply(e, max_len);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_truncates_and_removes() {
        let evs = [
            WriteEvent::write("a", 1, 2, b"xy".to_vec()),
            WriteEvent {
                stream: "a".into(),
                ts_ns: 2,
                change: Change::SetLen(3),
            },
            WriteEvent::write("b", 3, 0, b"q".to_vec()),
            WriteEvent {
                stream: "a".into(),
                ts_ns: 4,
                change: Change::Remove,
            },
        ];
        let at = |t| Replay::at(&evs, t, 1 << 20).streams;
        assert_eq!(at(0), BTreeMap::new());
        assert_eq!(at(1)["a"], b"\0\0xy");
        assert_eq!(at(2)["a"], b"\0\0x");
        assert_eq!(at(3).len(), 2);
        assert!(!at(4).contains_key("a"));
        assert_eq!(at(4)["b"], b"q");
        let mut r = Replay::default();
        assert!(!r.apply(
            &WriteEvent::write("a", 1, u64::MAX - 1, b"xy".to_vec()),
            u64::MAX
        ));
        assert!(!r.apply(
            &WriteEvent {
                stream: "a".into(),
                ts_ns: 1,
                change: Change::SetLen(1 << 40)
            },
            1 << 20
        ));
    }
}
