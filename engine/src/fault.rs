//! Fault injection for the crash test: makes the process abort at a chosen
//! point of a batch commit, so the test can land a crash exactly between
//! the pack fsync (the acknowledgement point) and the index commit, which a
//! random SIGKILL hits only by luck. Costs one atomic load per commit.

use std::sync::atomic::{AtomicU8, Ordering};

/// Where in [`crate::Batch::commit`] the process may be made to abort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Point {
    /// The batch is durable in its pack; the index does not have it yet.
    AfterPackSync = 1,
    /// The index transaction committed (not synced); not yet acknowledged.
    AfterIndexCommit = 2,
}

static ARMED: AtomicU8 = AtomicU8::new(0);

/// The next commit that reaches `point` aborts the process (SIGABRT: no
/// destructor runs, like a kill). For crash tests only.
pub fn arm(point: Point) {
    ARMED.store(point as u8, Ordering::SeqCst);
}

pub(crate) fn hit(point: Point) {
    if ARMED.load(Ordering::Relaxed) == point as u8 {
        std::process::abort();
    }
}
