//! Shared test helpers: a reference model of stream histories.

#![allow(dead_code)]

use std::collections::BTreeMap;

use kairos_engine::{Change, WriteEvent};

/// The simplest possible CDP store: every stream's full content after
/// every instant, kept in memory.
#[derive(Debug, Default, Clone)]
pub struct Model {
    pub streams: BTreeMap<String, Vec<(i64, Vec<u8>)>>,
}

impl Model {
    pub fn current(&self, stream: &str) -> Vec<u8> {
        self.streams
            .get(stream)
            .and_then(|v| v.last())
            .map(|(_, c)| c.clone())
            .unwrap_or_default()
    }

    fn record(&mut self, stream: &str, ts: i64, content: Vec<u8>) {
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
        }
        self.record(&ev.stream, ev.timestamp_ns, c);
    }

    pub fn capture(&mut self, stream: &str, ts: i64, content: Vec<u8>) {
        self.record(stream, ts, content);
    }

    /// Content at `t`, or None before the stream's first instant.
    pub fn at(&self, stream: &str, t: i64) -> Option<&[u8]> {
        let h = self.streams.get(stream)?;
        let i = h.partition_point(|(ts, _)| *ts <= t);
        i.checked_sub(1).map(|i| h[i].1.as_slice())
    }
}
