//! The engine's error type.
//!
//! Every variant names the thing an operator can look at: the store
//! directory, the pack file and byte offset, the stream, the instant.

use std::path::PathBuf;

/// Shorthand for engine results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Errors of the block store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The operating system failed a file operation.
    #[error("{}: {op}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (open, read, write, fsync, rename, ...).
        op: &'static str,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
    /// The libmdbx index failed. The index is a cache of the packs:
    /// `kairos verify --rebuild-index` recreates it.
    #[error("{}: index error while {op}: {error} (the index can be rebuilt with `kairos verify --rebuild-index`)", dir.display())]
    Index {
        /// The index directory.
        dir: PathBuf,
        /// What was being done.
        op: &'static str,
        /// The libmdbx error.
        #[source]
        error: libmdbx::Error,
    },
    /// An index value does not decode: the index is damaged.
    #[error("{}: index table {table} holds a malformed value ({detail}); run `kairos verify --rebuild-index`", dir.display())]
    IndexValue {
        /// The index directory.
        dir: PathBuf,
        /// The table.
        table: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// A pack file is damaged or not a pack file.
    #[error("{} offset {offset}: {detail}", pack.display())]
    Pack {
        /// The pack file.
        pack: PathBuf,
        /// Byte offset of the bad record or field.
        offset: u64,
        /// What is wrong, and what to do.
        detail: String,
    },
    /// The directory is not a kairos store (or a newer format).
    #[error("{}: not a kairos store: {detail}", dir.display())]
    NotAStore {
        /// The directory.
        dir: PathBuf,
        /// Why.
        detail: String,
    },
    /// Another process holds the store's writer lock.
    #[error("store is locked by pid {pid} ({})", lock.display())]
    Locked {
        /// Pid written in the lock file by the holder (0 if unreadable).
        pid: u32,
        /// The lock file.
        lock: PathBuf,
    },
    /// No stream of that name.
    #[error("no stream named {0:?} in the store (list them with `kairos streams`)")]
    NoStream(String),
    /// The stream has no version at or before the instant asked for.
    #[error("stream {stream:?} has no version at or before {at}")]
    NoVersion {
        /// The stream.
        stream: String,
        /// The instant asked for.
        at: String,
    },
    /// The stream does not exist at the instant asked for: it was removed
    /// (unlinked) before it and not recreated.
    #[error("stream {stream:?} was removed at {removed} (asked for {at})")]
    Removed {
        /// The stream.
        stream: String,
        /// When it was removed.
        removed: String,
        /// The instant asked for.
        at: String,
    },
    /// A write would go back in time on a stream.
    #[error(
        "stream {stream:?}: cannot record a version at {at}: the stream already has one at {last}, and versions cannot go back in time"
    )]
    BackInTime {
        /// The stream.
        stream: String,
        /// The refused instant.
        at: String,
        /// The stream's latest instant.
        last: String,
    },
    /// An argument that cannot be honoured (bad policy, bad block size, ...).
    #[error("{0}")]
    Invalid(String),
    /// Bytes of a view could not be produced (damaged chunk).
    #[error(transparent)]
    Source(#[from] kairos_parsers::Error),
}

impl StoreError {
    /// Wraps an I/O error with the path and operation.
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        op: &'static str,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| StoreError::Io { path, op, error }
    }
}
