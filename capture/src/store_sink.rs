//! Capture straight into the engine's store (capture running beside the
//! store), and reconstructing a captured data directory from it.
//!
//! [`StoreSink`] queues submitted events and ingests them on a thread of
//! its own, off the application's write path: a batch starts once
//! [`BATCH_BYTES`] are queued, once the oldest queued event waited
//! [`FLUSH_AFTER`], or at once when someone calls `sync`. `sync` returns
//! after every event submitted before it is in an ingest the engine
//! acknowledged (pack durable, index committed); concurrent syncs share
//! one ingest (group commit). The queue is bounded ([`MAX_QUEUED_BYTES`]):
//! past it, `submit` waits for the ingest, so an application that never
//! fsyncs cannot grow memory without bound. Batches are ingested one at a
//! time in submission order, so the store sees events in the order the
//! capture path submitted them.
//!
//! A failed ingest stops the capture: its events are not in the store, so
//! every later `submit` and `sync` fails ([`CaptureError::Stopped`]) and the
//! application sees its fsync fail instead of succeeding over a gap.
//!
//! The engine has no "stream removed" record yet: a removal is stored as
//! length 0, so a directory restored after an unlink holds an empty file
//! where the removed one was (databases treat an empty journal or WAL as
//! absent).

use std::fs;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kairos_engine::{Store, StoreError};

use crate::event::{Change, WriteEvent};
use crate::sink::{CaptureError, EventSink, Result};

/// Queued bytes at which the ingest thread starts a batch without waiting
/// for `sync`: large enough that the engine's per-batch fsync is amortised,
/// small enough that the store keeps pace with the writer.
pub const BATCH_BYTES: usize = 8 << 20;

/// Queued bytes at which `submit` waits for the ingest thread.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// Longest an event waits in the queue before it is ingested when nobody
/// calls `sync`: bounds what a crash of the capturing process can lose of
/// writes the application never fsynced.
pub const FLUSH_AFTER: Duration = Duration::from_millis(20);

#[derive(Debug, Default)]
struct Queue {
    events: Vec<kairos_engine::WriteEvent>,
    bytes: usize,
    /// When the oldest queued event arrived.
    since: Option<Instant>,
    /// Sequence number of the last submitted event.
    submitted: u64,
    /// Every event up to this sequence number is ingested.
    durable: u64,
    /// The highest sequence number a `sync` waits for.
    wanted: u64,
    /// The ingest that stopped the capture.
    failed: Option<Arc<CaptureError>>,
    closing: bool,
}

impl Queue {
    fn check(&self) -> Result<()> {
        match &self.failed {
            Some(e) => Err(CaptureError::Stopped(Arc::clone(e))),
            None => Ok(()),
        }
    }

    /// Whether the ingest thread should take a batch now (it has events).
    fn due(&self, now: Instant) -> bool {
        self.closing
            || self.wanted > self.durable
            || self.bytes >= BATCH_BYTES
            || self.since.is_some_and(|t| now >= t + FLUSH_AFTER)
    }
}

#[derive(Debug)]
struct Shared {
    store: Mutex<Store>,
    queue: Mutex<Queue>,
    /// Wakes the ingest thread.
    work: Condvar,
    /// Wakes `sync` callers and `submit` callers held back by a full queue.
    done: Condvar,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The ingest thread: takes batches in order and ingests them.
    fn run(&self) {
        let _stop = StopOnPanic(self);
        let mut q = self.queue();
        loop {
            if q.events.is_empty() {
                if q.closing {
                    return;
                }
                q = self.work.wait(q).unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let now = Instant::now();
            if !q.due(now) {
                let deadline = q.since.map_or(FLUSH_AFTER, |t| {
                    (t + FLUSH_AFTER).saturating_duration_since(now)
                });
                q = self
                    .work
                    .wait_timeout(q, deadline)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                continue;
            }
            let events = std::mem::take(&mut q.events);
            let upto = q.submitted;
            q.bytes = 0;
            q.since = None;
            // Submitters held back by a full queue may go on.
            self.done.notify_all();
            drop(q);
            let result = self
                .store
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .ingest(&events);
            drop(events);
            q = self.queue();
            match result {
                Ok(_) => q.durable = upto,
                Err(e) => {
                    tracing::error!("capture: ingest failed, capture stopped: {e}");
                    q.failed = Some(Arc::new(e.into()));
                    q.events.clear();
                    q.bytes = 0;
                    q.since = None;
                }
            }
            self.done.notify_all();
        }
    }
}

/// Should the ingest thread ever panic, waiters get an error instead of
/// waiting forever.
struct StopOnPanic<'a>(&'a Shared);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let mut q = self.0.queue();
            q.failed = Some(Arc::new(CaptureError::Io {
                path: "kairos-ingest".into(),
                op: "ingest",
                source: std::io::Error::other("the ingest thread panicked"),
            }));
            q.events.clear();
            self.0.done.notify_all();
        }
    }
}

/// The engine store as an [`EventSink`], ingesting on a thread of its own.
#[derive(Debug)]
pub struct StoreSink {
    shared: Arc<Shared>,
    worker: Option<JoinHandle<()>>,
}

/// Converts a capture event to the engine's form.
pub fn to_engine(event: WriteEvent) -> kairos_engine::WriteEvent {
    let change = match event.change {
        Change::Write { offset, data } => kairos_engine::Change::Write { offset, data },
        Change::SetLen(len) => kairos_engine::Change::SetLen(len),
        Change::Remove => kairos_engine::Change::Remove,
    };
    kairos_engine::WriteEvent {
        stream: event.stream,
        timestamp_ns: event.ts_ns,
        change,
    }
}

impl StoreSink {
    /// Wraps a store opened for writing and starts its ingest thread.
    pub fn new(store: Store) -> Self {
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            done: Condvar::new(),
        });
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("kairos-ingest".into())
                .spawn(move || shared.run())
        };
        let worker = match worker {
            Ok(h) => Some(h),
            Err(e) => {
                // No thread: nothing could ever become durable; say so on
                // the first submit or sync rather than hanging there.
                let mut q = shared.queue();
                q.failed = Some(Arc::new(CaptureError::Io {
                    path: "kairos-ingest".into(),
                    op: "start ingest thread",
                    source: e,
                }));
                drop(q);
                None
            }
        };
        Self { shared, worker }
    }

    /// Runs `f` with the store locked (nothing is ingested meanwhile).
    /// Events still queued are not in the store yet: call `sync` first to
    /// see everything submitted.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        f(&mut self
            .shared
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner))
    }
}

impl Drop for StoreSink {
    /// Ingests what is still queued, then stops the ingest thread.
    fn drop(&mut self) {
        self.shared.queue().closing = true;
        self.shared.work.notify_all();
        if let Some(h) = self.worker.take()
            && h.join().is_err()
        {
            tracing::error!("capture: the ingest thread panicked");
        }
    }
}

impl EventSink for StoreSink {
    fn submit(&self, event: WriteEvent) -> Result<u64> {
        event.validate()?;
        let size = match &event.change {
            Change::Write { data, .. } => data.len(),
            _ => 0,
        } + event.stream.len();
        let mut q = self.shared.queue();
        while q.bytes >= MAX_QUEUED_BYTES && q.failed.is_none() {
            self.shared.work.notify_one();
            q = self
                .shared
                .done
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        }
        q.check()?;
        q.submitted += 1;
        let before = q.bytes;
        q.bytes += size;
        q.events.push(to_engine(event));
        if q.since.is_none() {
            // The ingest thread sleeps until there is something to time.
            q.since = Some(Instant::now());
            self.shared.work.notify_one();
        } else if before < BATCH_BYTES && q.bytes >= BATCH_BYTES {
            self.shared.work.notify_one();
        }
        Ok(q.submitted)
    }

    fn sync(&self) -> Result<()> {
        let mut q = self.shared.queue();
        let target = q.submitted;
        if q.durable < target {
            q.wanted = q.wanted.max(target);
            self.shared.work.notify_one();
        }
        while q.durable < target && q.failed.is_none() {
            q = self
                .shared
                .done
                .wait(q)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if q.durable >= target {
            return Ok(());
        }
        q.check()
    }
}

/// Writes every stream named `prefix/...` (every stream when `prefix` is
/// empty) as of instant `at` (ns; `None` = latest) into `out`, as files at
/// their relative paths. Only streams that exist at `at` are written: those
/// with no version at or before it did not exist yet, and those removed
/// (unlinked) at it are gone. Returns the number of files written.
pub fn restore_dir(store: &Store, prefix: &str, at: Option<i64>, out: &Path) -> Result<usize> {
    let mut n = 0;
    for info in store.streams_at(at.unwrap_or(i64::MAX))? {
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
            Err(StoreError::NoVersion { .. } | StoreError::Removed { .. }) => continue,
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
        file.sync_all().map_err(CaptureError::io(&path, "sync"))?;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos_engine::StoreOptions;
    use kairos_parsers::SourceExt;

    use crate::event::now_ns;

    fn sink(dir: &Path) -> StoreSink {
        let path = dir.join("store");
        Store::init(&path, StoreOptions::default()).unwrap();
        StoreSink::new(Store::open(&path).unwrap())
    }

    fn stored(sink: &StoreSink, stream: &str) -> Option<Vec<u8>> {
        sink.with_store(|s| {
            let view = s.view(stream, None).ok()?;
            let mut out = vec![0; usize::try_from(kairos_parsers::Source::len(&view)).unwrap()];
            view.read_exact_at(0, &mut out).unwrap();
            Some(out)
        })
    }

    #[test]
    fn sync_returns_after_every_submitted_event_is_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink(dir.path());
        let mut want = vec![0u8; 3 * 65536];
        for i in 0..300u64 {
            let at = (i * 7919) % (want.len() as u64 - 100);
            let data = vec![(i % 251) as u8 + 1; 100];
            want[at as usize..at as usize + 100].copy_from_slice(&data);
            sink.submit(WriteEvent::write("f", i as i64 + 1, at, data))
                .unwrap();
        }
        sink.sync().unwrap();
        let mut got = stored(&sink, "f").unwrap();
        got.resize(want.len(), 0);
        assert_eq!(got, want);
    }

    #[test]
    fn events_become_durable_without_sync() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink(dir.path());
        sink.submit(WriteEvent::write("f", 1, 0, b"unsynced".to_vec()))
            .unwrap();
        // The ingest thread flushes after FLUSH_AFTER; allow a slow machine
        // far more than that before calling it lost.
        let deadline = Instant::now() + Duration::from_secs(30);
        while stored(&sink, "f").is_none() {
            assert!(Instant::now() < deadline, "never ingested without sync");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(stored(&sink, "f").unwrap(), b"unsynced");
    }

    #[test]
    fn a_failed_ingest_stops_the_capture_and_every_later_sync_fails() {
        let dir = tempfile::tempdir().unwrap();
        let sink = sink(dir.path());
        sink.submit(WriteEvent::write("f", 100, 0, b"first".to_vec()))
            .unwrap();
        sink.sync().unwrap();
        // Back in time for the stream: the engine refuses the batch.
        sink.submit(WriteEvent::write("f", 50, 0, b"older".to_vec()))
            .unwrap();
        let err = sink.sync().unwrap_err();
        assert!(
            matches!(&err, CaptureError::Stopped(e) if matches!(**e, CaptureError::Store(StoreError::BackInTime { .. }))),
            "{err}"
        );
        assert!(matches!(
            sink.submit(WriteEvent::write("f", 200, 0, b"later".to_vec())),
            Err(CaptureError::Stopped(_))
        ));
        assert!(matches!(sink.sync(), Err(CaptureError::Stopped(_))));
        assert_eq!(stored(&sink, "f").unwrap(), b"first");
    }

    #[test]
    fn concurrent_writers_and_syncs_lose_nothing_past_the_queue_bound() {
        let dir = tempfile::tempdir().unwrap();
        let sink = Arc::new(sink(dir.path()));
        // Four writers, each past MAX_QUEUED_BYTES / 4, syncing now and then.
        let per = MAX_QUEUED_BYTES / 4 / 65536 + 8;
        let writers: Vec<_> = (0..4u8)
            .map(|w| {
                let sink = Arc::clone(&sink);
                std::thread::spawn(move || {
                    for i in 0..per {
                        let data = vec![w + 1; 65536];
                        sink.submit(WriteEvent::write(
                            format!("w{w}"),
                            now_ns(),
                            (i * 65536) as u64,
                            data,
                        ))
                        .unwrap();
                        if i % 97 == 0 {
                            sink.sync().unwrap();
                        }
                    }
                    sink.sync().unwrap();
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        for w in 0..4u8 {
            let got = stored(&sink, &format!("w{w}")).unwrap();
            assert_eq!(got.len(), per * 65536);
            assert!(got.iter().all(|&b| b == w + 1), "stream w{w}");
        }
    }
}
