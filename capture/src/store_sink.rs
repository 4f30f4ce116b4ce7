//! Capture straight into the engine's store (capture running beside the
//! store), and reconstructing a captured data directory from it.
//!
//! [`StoreSink`] buffers submitted events and hands them to
//! [`Store::ingest`] on `sync` (group commit: every event submitted before
//! the call is in the batch, and the call returns after the engine's ack —
//! pack fsynced, index committed). A buffer past [`AUTO_INGEST_BYTES`] is
//! ingested on submit, so an application that never fsyncs cannot grow it
//! without bound.
//!
//! The engine has no "stream removed" record yet: a removal is stored as
//! length 0, so a directory restored after an unlink holds an empty file
//! where the removed one was (databases treat an empty journal or WAL as
//! absent).

use std::fs;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use kairos_engine::{Store, StoreError};

use crate::event::{Change, WriteEvent};
use crate::sink::{CaptureError, EventSink, Result};

/// Pending bytes at which `submit` ingests without waiting for `sync`.
pub const AUTO_INGEST_BYTES: usize = 64 << 20;

#[derive(Debug, Default)]
struct Pending {
    events: Vec<kairos_engine::WriteEvent>,
    bytes: usize,
    next_seq: u64,
}

/// The engine store as an [`EventSink`].
#[derive(Debug)]
pub struct StoreSink {
    store: Mutex<Store>,
    pending: Mutex<Pending>,
}

/// Converts a capture event to the engine's form.
pub fn to_engine(event: WriteEvent) -> kairos_engine::WriteEvent {
    let change = match event.change {
        Change::Write { offset, data } => kairos_engine::Change::Write { offset, data },
        Change::SetLen(len) => kairos_engine::Change::SetLen(len),
        Change::Remove => kairos_engine::Change::SetLen(0),
    };
    kairos_engine::WriteEvent {
        stream: event.stream,
        timestamp_ns: event.ts_ns,
        change,
    }
}

impl StoreSink {
    /// Wraps a store opened for writing.
    pub fn new(store: Store) -> Self {
        Self {
            store: Mutex::new(store),
            pending: Mutex::new(Pending::default()),
        }
    }

    /// Runs `f` with the store locked (nothing is ingested meanwhile).
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self.store.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Ingests every pending event. Holding the store lock while taking the
    /// pending events keeps batches in submission order.
    fn ingest_pending(&self) -> Result<()> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let events = {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            p.bytes = 0;
            std::mem::take(&mut p.events)
        };
        if events.is_empty() {
            return Ok(());
        }
        store.ingest(&events)?;
        Ok(())
    }
}

impl EventSink for StoreSink {
    fn submit(&self, event: WriteEvent) -> Result<u64> {
        event.validate()?;
        let size = match &event.change {
            Change::Write { data, .. } => data.len(),
            _ => 0,
        } + event.stream.len();
        let (seq, full) = {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            p.next_seq += 1;
            p.bytes += size;
            p.events.push(to_engine(event));
            (p.next_seq, p.bytes >= AUTO_INGEST_BYTES)
        };
        if full {
            self.ingest_pending()?;
        }
        Ok(seq)
    }

    fn sync(&self) -> Result<()> {
        self.ingest_pending()
    }
}

/// Writes every stream named `prefix/...` (every stream when `prefix` is
/// empty) as of instant `at` (ns; `None` = latest) into `out`, as files at
/// their relative paths. Streams with no version at or before `at` did not
/// exist yet and are skipped. Returns the number of files written.
pub fn restore_dir(store: &Store, prefix: &str, at: Option<i64>, out: &Path) -> Result<usize> {
    let mut n = 0;
    for info in store.streams()? {
        let rel = if prefix.is_empty() {
            info.name.as_str()
        } else {
            match info
                .name
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('/'))
            {
                Some(r) => r,
                None => continue,
            }
        };
        let view = match store.view(&info.name, at) {
            Ok(v) => v,
            Err(StoreError::NoVersion { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        // Stream names are validated clean relative paths at capture; check
        // again so a store written by anything else cannot escape `out`.
        crate::event::validate_stream_name(rel)?;
        let path = out.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(CaptureError::io(parent, "create directory"))?;
        }
        let mut file = fs::File::create(&path).map_err(CaptureError::io(&path, "create"))?;
        view.write_to(&mut file)?;
        n += 1;
    }
    Ok(n)
}
