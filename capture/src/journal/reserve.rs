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

/// How long the thread sleeps between checks when nobody wakes it.
const IDLE: Duration = Duration::from_millis(200);

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

    /// Whether the space ahead of the writer fell below half the reserve
    /// (the thread then fills it back to the whole reserve).
    fn low(&self, s: &State) -> bool {
        s.len < s.claimed.saturating_add(self.bytes / 2)
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
        if self.shared.low(&s) {
            self.shared.wake.notify_all();
        }
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

/// The thread: sleeps while the space ahead is at least half the reserve,
/// then fills it back to the whole reserve, chunk by chunk, and fdatasyncs
/// so the blocks and the file's length are on the disk before the writer
/// reaches them.
fn fill(shared: &Shared) {
    let zeros = vec![0u8; usize::try_from(FILL_CHUNK).unwrap_or(1 << 20)];
    loop {
        let mut s = shared.lock();
        while !s.stop && !shared.low(&s) {
            s = shared
                .wake
                .wait_timeout(s, IDLE)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        if s.stop {
            return;
        }
        let mut failed = None;
        while !s.stop && s.len < s.claimed.saturating_add(shared.bytes) {
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
            if let Err(e) = written {
                failed = Some(e);
                shared.wake.notify_all();
                break;
            }
            s.len = s.len.max(at + FILL_CHUNK);
            shared.wake.notify_all();
        }
        drop(s);
        let synced = match failed {
            Some(e) => Err(e),
            None => shared.file.sync_data(),
        };
        if let Err(e) = synced {
            tracing::warn!(
                "{}: pre-writing journal space: {e}; records append to new space until it works again",
                shared.path.display()
            );
            let s = shared.lock();
            if s.stop {
                return;
            }
            drop(
                shared
                    .wake
                    .wait_timeout_while(s, RETRY, |s| !s.stop)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }
}
