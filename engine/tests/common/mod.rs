//! Shared test helpers: a reference model of stream histories.

#![allow(dead_code)]

use std::collections::BTreeMap;

use kairos_engine::{Change, WriteEvent};

/// One instant of a stream: its content then, or `None` if removed.
pub type Version = (i64, Option<Vec<u8>>);

/// The simplest possible CDP store: every stream's full content after
/// every instant (`None`: removed), kept in memory.
#[derive(Debug, Default, Clone)]
pub struct Model {
    pub streams: BTreeMap<String, Vec<Version>>,
}

impl Model {
    pub fn current(&self, stream: &str) -> Vec<u8> {
        self.streams
            .get(stream)
            .and_then(|v| v.last())
            .and_then(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    fn record(&mut self, stream: &str, ts: i64, content: Option<Vec<u8>>) {
        let h = self.streams.entry(stream.to_owned()).or_default();
        match h.last_mut() {
            Some((t, c)) if *t == ts => *c = content,
            _ => h.push((ts, content)),
        }
    }

    pub fn apply(&mut self, ev: &WriteEvent) {
        let mut c = self.current(&ev.stream);
        match &ev.change {
            Change::Write { offset, data } => {
                if data.is_empty() && !self.streams.contains_key(&ev.stream) {
                    // An empty write creates the stream but no instant.
                    return;
                }
                if data.is_empty() {
                    return;
                }
                let end = *offset as usize + data.len();
                if c.len() < end {
                    c.resize(end, 0);
                }
                c[*offset as usize..end].copy_from_slice(data);
            }
            Change::SetLen(n) => c.resize(*n as usize, 0),
            Change::Remove => {
                // Removing a stream that does not exist (or no longer does)
                // changes nothing.
                if self.exists(&ev.stream) {
                    self.record(&ev.stream, ev.timestamp_ns, None);
                }
                return;
            }
        }
        // A write after a removal recreates the stream from zeros: `c` is
        // empty then (see `current`).
        self.record(&ev.stream, ev.timestamp_ns, Some(c));
    }

    pub fn capture(&mut self, stream: &str, ts: i64, content: Vec<u8>) {
        self.record(stream, ts, Some(content));
    }

    fn exists(&self, stream: &str) -> bool {
        self.streams
            .get(stream)
            .and_then(|v| v.last())
            .is_some_and(|(_, c)| c.is_some())
    }

    /// Whether the stream is removed at `t` (it existed before and was removed).
    pub fn removed(&self, stream: &str, t: i64) -> bool {
        self.entry_at(stream, t).is_some_and(|(_, c)| c.is_none())
    }

    fn entry_at(&self, stream: &str, t: i64) -> Option<&Version> {
        let h = self.streams.get(stream)?;
        let i = h.partition_point(|(ts, _)| *ts <= t);
        h.get(i.checked_sub(1)?)
    }

    /// Content at `t`, or None before the stream's first instant and while
    /// it is removed.
    pub fn at(&self, stream: &str, t: i64) -> Option<&[u8]> {
        self.entry_at(stream, t)?.1.as_deref()
    }
}
