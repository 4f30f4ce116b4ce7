//! kairos-engine: the continuous-data-protection block store.
//!
//! See `engine/DESIGN.md` for the on-disk format byte by byte, the
//! durability argument and the crash-recovery rules, and
//! `../shared/docs/ARCHITECTURE.md` ("The engine") for the contract.
//!
//! What it does: records timestamped block writes of protected files
//! (streams), stores each distinct block once (BLAKE3-addressed; runs of
//! consecutive new blocks zstd-compressed together as one frame, with a
//! per-store dictionary: first one trained by zstd and retrained when the
//! data drifts, then a 16 MiB *content* dictionary of the store's own
//! sampled pages; in append-only pack files; the versions of a stored run
//! are one `Run` entry), and answers "what did stream S look like at
//! instant T" — as a [`View`] that implements [`kairos_parsers::Source`], or
//! as a restored file. A stream can be removed (unlinked): it is absent
//! from that instant until written again, with its earlier history kept
//! ([`Store::streams_at`], [`StoreError::Removed`]). Retention prunes
//! instants; gc reclaims their chunks and, through a checkpoint batch,
//! their metadata.
//!
//! Not yet: packs on object storage.
//!
//! In one process, several `Store` values of one store share its index
//! environment (libmdbx opens it once per process): readers beside the
//! writer, a writer reopened while views of the last one live. Threads may
//! share one writing `Store`: [`Store::ingest`] takes `&self`.
//!
//! Modules:
//! - [`store`]: directory layout, writer lock, open/recovery, [`Batch`] (the one write path);
//! - [`ingest`]: write events (shim / NBD / network path; concurrent calls
//!   share a batch and its fsync), [`capture`]: scan capture;
//! - [`view`]: point-in-time views and restore;
//! - [`pack`], [`chunk`], [`entry`]: the authoritative on-disk format;
//! - [`index`]: the libmdbx index (a cache rebuilt from packs by [`replay`]);
//! - [`retention`]: prune and gc; [`verify`]: integrity check;
//! - [`timespec`]: how users name an instant (`--at`).
//!
//! # Durability
//!
//! A batch's chunk, entries and commit records are appended to the active
//! pack and fdatasynced — the one durable write, the acknowledgement point;
//! then its index transaction commits without a sync (the index is synced in
//! the background, and is rebuilt from the packs past its watermark on
//! open); only then is the [`Ack`] returned. Concurrent [`Store::ingest`]
//! calls share one batch and one fsync (group commit). On open, committed
//! batches found in the packs after the index's replay position are
//! applied; bytes after the last commit record (an interrupted batch) are
//! cut off with a log line.
//!
//! # Concurrency (who may run at once)
//!
//! Writers (capture, ingest, mark, prune, gc, rebuild) take the store's
//! exclusive `lock` file (flock, pid inside); a second writer gets "store is
//! locked by pid N". Readers (views, restore, cat, streams, timeline,
//! verify) take no lock: libmdbx gives each read transaction a consistent
//! snapshot, and packs are append-only.
//!
//! | running | with capture/ingest | with view/restore | with prune | with gc | with verify |
//! |---|---|---|---|---|---|
//! | capture/ingest | lock: one at a time | safe: reader sees committed batches only | lock | lock | safe: verify reads committed index and packs; bytes past the last commit are ignored |
//! | view/restore | — | safe | safe: a view keeps its resolved instant; versions it needs disappear only with the commit, then reads resolve again | safe: gc commits new chunk locations before deleting old packs; a reader whose location vanished looks it up once more | safe |
//! | prune | — | — | lock | lock | safe (may report counts of either side of the commit) |
//! | gc | — | — | — | lock | verify may report a pack deleted under it; rerun |
//! | serve (next issue) | serve is the single writer and holds the lock; agents never open the store | | | | |

pub mod cache;
pub mod capture;
pub mod catalog;
pub mod chunk;
pub mod entry;
pub mod error;
#[doc(hidden)]
pub mod fault;
mod group;
pub mod index;
pub mod ingest;
mod mdbx_ffi;
pub mod pack;
pub mod replay;
pub mod retention;
pub mod store;
pub mod timespec;
pub mod verify;
pub mod view;

pub use capture::CaptureReport;
pub use catalog::{Mark, StreamInfo, Timeline};
pub use error::{Result, StoreError};
pub use ingest::{Change, WriteEvent};
pub use retention::{GcReport, Policy, PruneReport};
pub use store::{Ack, Batch, Store, StoreOptions};
pub use timespec::{TimeSpec, TimeSpecError};
pub use verify::{Affected, Problem, VerifyReport};
pub use view::{BadBlock, RestoreOptions, RestoreReport, View};

/// BLAKE3 digest of a block's plain bytes.
pub type Hash = [u8; 32];
/// Marker hash of an all-zero block (never stored).
pub const ZERO_HASH: Hash = [0; 32];

/// Now, in ns since the Unix epoch.
pub fn now_ns() -> i64 {
    jiff::Timestamp::now().as_nanosecond() as i64
}

/// An instant as RFC 3339 UTC.
pub fn format_ns(ns: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(ns))
        .map_or_else(|_| format!("{ns}ns"), |t| t.to_string())
}
