//! Pre-written space ahead of the journal's end.
//!
//! Appending to a file makes the file system allocate blocks (and, on a
//! thin-provisioned or discard-mounted virtual disk, the host allocate its
//! own) on the application's fsync path: on the machine of
//! docs/PERFORMANCE.md such appends run at a fifth of the speed of
//! rewriting blocks that were written before. So, as write-ahead logs do
//! (PostgreSQL zero-fills WAL segments before use), a background thread
//! keeps `bytes` of zero-filled, fdatasynced file space past the journal's
//! end; a burst of records up to that size overwrites blocks that already
//! exist instead of appending. Zeros read as the end of the log (an
//! all-zero record header is never a record), so the space needs no
//! bookkeeping on disk and a crash at any point leaves a readable journal.
//!
//! The thread fills only while the writer is quiet (no record and no fsync
//! for [`QUIET`]) and stops within a chunk when it resumes: zero-filling while
//! the writer appends would write every fresh block twice at the moment the
//! disk is busiest (measured: the spool's burst throughput fell by a third
//! when the thread raced the writer). A burst longer than the reserve
//! therefore appends past it, as without a reserve, and the space is
//! refilled in the next pause.
//!
//! Coordination with the writer: the thread writes zeros only at or past
//! the file's length, and only past everything the writer has claimed; the
//! writer claims the range of each write before making it, and a claim that
//! crosses a chunk being zero-filled waits for that chunk (at most one
//! [`FILL_CHUNK`] write to the page cache). The thread is only an
//! optimisation: if it fails, it logs and retries later, and the writer
//! simply appends.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Zeros written per step (then handed to the disk at once).
pub const FILL_CHUNK: u64 = 1 << 20;

/// How long the writer must have made no claim before the thread fills.
pub const QUIET: Duration = Duration::from_millis(20);

/// Wait after a failed fill before trying again.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct State {
    /// Bytes of the file written so far (records or zeros).
    len: u64,
    /// End of the writer's latest claimed write.
    claimed: u64,
    /// A chunk at `len` is being zero-filled.
    filling: bool,
    /// Claims and fsyncs made so far: the thread fills only while this
    /// stands still.
    claims: u64,
    /// The writer is in an fsync.
    syncing: bool,
    stop: bool,
}

#[derive(Debug)]
struct Shared {
    file: File,
    path: PathBuf,
    bytes: u64,
    state: Mutex<State>,
    /// Wakes the thread (space needed, stop) and writers waiting for a
    /// chunk being filled.
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether less than the whole reserve lies written past the writer.
    fn short(&self, s: &State) -> bool {
        s.len < s.claimed.saturating_add(self.bytes)
    }

    /// Sleeps up to `d` (woken early only to stop).
    fn nap<'a>(&self, s: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
        self.wake
            .wait_timeout_while(s, d, |s| !s.stop)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }
}

/// The running zero-filler of one journal file.
#[derive(Debug)]
pub struct Reserve {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Reserve {
    /// Starts keeping `bytes` of zero-filled space past the writer's end
    /// in `file` (whose current length is `len`; the writer's live end is
    /// `end`).
    pub fn start(
        file: &File,
        path: &Path,
        len: u64,
        end: u64,
        bytes: u64,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            file: file.try_clone()?,
            path: path.to_owned(),
            bytes,
            state: Mutex::new(State {
                len,
                claimed: end,
                filling: false,
                claims: 0,
                syncing: false,
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("journal-reserve".into())
                .spawn(move || fill(&shared))?
        };
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Called before the writer writes bytes up to `end` (after a wrap,
    /// `end` goes back down): the thread never zero-fills below it.
    pub fn claim(&self, end: u64) {
        let mut s = self.shared.lock();
        while s.filling && end > s.len {
            s = self
                .shared
                .wake
                .wait(s)
                .unwrap_or_else(PoisonError::into_inner);
        }
        s.claimed = end;
        s.len = s.len.max(end);
        s.claims += 1;
    }

    /// Called before (`true`) and after (`false`) the writer's fsync:
    /// filling during it would make the application's fsync wait for the
    /// zeros too.
    pub fn syncing(&self, on: bool) {
        let mut s = self.shared.lock();
        s.syncing = on;
        s.claims += 1;
    }

    /// Bytes of the file written so far (records and zeros).
    pub fn written(&self) -> u64 {
        self.shared.lock().len
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        self.shared.lock().stop = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The thread: once the writer has been quiet for [`QUIET`] and less than
/// the reserve lies ahead of it, fills the space back to the whole reserve
/// chunk by chunk (yielding as soon as the writer claims or fsyncs again),
/// then, if the writer is still quiet, fdatasyncs so the blocks and the
/// file's length are on the disk before the writer reaches them.
fn fill(shared: &Shared) {
    let zeros = vec![0u8; usize::try_from(FILL_CHUNK).unwrap_or(1 << 20)];
    // Zeros written but not yet fdatasynced: synced in the next quiet
    // moment, never while the writer is active (its fsync would wait).
    let mut unsynced = false;
    loop {
        let mut s = shared.lock();
        let seen = s.claims;
        s = shared.nap(s, QUIET);
        if s.stop {
            return;
        }
        let quiet = |s: &State| s.claims == seen && !s.syncing;
        if !quiet(&s) || !(unsynced || shared.short(&s)) {
            continue;
        }
        let mut failed = None;
        while !s.stop && quiet(&s) && shared.short(&s) {
            let at = s.len;
            s.filling = true;
            drop(s);
            let written = shared.file.write_all_at(&zeros, at);
            if written.is_ok()
                && let Err(e) = crate::sys::start_writeback(&shared.file, at, FILL_CHUNK)
            {
                tracing::debug!("{}: sync_file_range: {e}", shared.path.display());
            }
            s = shared.lock();
            s.filling = false;
            shared.wake.notify_all();
            if let Err(e) = written {
                failed = Some(e);
                break;
            }
            s.len = s.len.max(at + FILL_CHUNK);
            unsynced = true;
        }
        let still_quiet = quiet(&s);
        drop(s);
        let synced = match failed {
            Some(e) => Err(e),
            None if unsynced && still_quiet => shared.file.sync_data().map(|()| unsynced = false),
            None => Ok(()),
        };
        if let Err(e) = synced {
            tracing::warn!(
                "{}: pre-writing journal space: {e}; records append to new space until it works again",
                shared.path.display()
            );
            drop(shared.nap(shared.lock(), RETRY));
        }
    }
}
