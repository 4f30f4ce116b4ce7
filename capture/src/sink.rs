//! Where captured events go, and the errors of the capture paths.
//!
//! Every capture path (shim, NBD, agent) talks to an [`EventSink`]: the
//! engine's store when capture runs beside the store, the agent's spool
//! journal when the store is remote. The contract is the one the
//! application relies on: an event is *submitted* as the write returns, and
//! [`EventSink::sync`] returns only once every event submitted before it is
//! durable (pack fsynced and indexed, or fsynced into the spool journal).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::event::{Change, DecodeError, MAX_WRITE_DATA, WriteEvent};

/// Errors of the capture paths. Each names the file or peer it concerns.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// An I/O operation on a named file failed.
    #[error("{path}: {op}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done ("append", "fsync", ...).
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A journal record is damaged (not a torn tail, which is repaired).
    #[error("{path}: journal record at byte {offset}: {detail}")]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// An event violates the encoding bounds.
    #[error("invalid event: {0}")]
    Event(#[from] DecodeError),
    /// The store refused or failed an operation.
    #[error(transparent)]
    Store(#[from] kairos_engine::StoreError),
    /// A background step (ingest, journal write) failed earlier; the
    /// capture stopped there and every later write and sync fails with it,
    /// so the application never sees an fsync succeed over a gap.
    #[error("capture stopped: {0}")]
    Stopped(Arc<CaptureError>),
    /// A peer broke the network protocol or refused us.
    #[error("{peer}: {detail}")]
    Protocol {
        /// Address or agent name of the peer.
        peer: String,
        /// What happened.
        detail: String,
    },
}

impl CaptureError {
    /// Wraps an I/O error with the file and operation.
    pub fn io(path: impl Into<PathBuf>, op: &'static str) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| CaptureError::Io { path, op, source }
    }
}

/// Result of the capture paths.
pub type Result<T, E = CaptureError> = std::result::Result<T, E>;

/// Receives captured events.
///
/// Implementations must be usable from several threads at once (FUSE and
/// NBD serve requests concurrently). `submit` is on the write path of the
/// protected application, so it should only buffer; the cost of durability
/// is paid in `sync`, which callers invoke where the application asks for
/// durability (fsync, NBD FLUSH or FUA). Events of one stream are applied in
/// the order they are submitted.
pub trait EventSink: Send + Sync {
    /// Accepts an event; it is not durable yet. Returns the sequence number
    /// the sink assigned to it. Writes larger than
    /// [`MAX_WRITE_DATA`] must be split by the
    /// caller ([`WriteEvent::split_writes`]).
    fn submit(&self, event: WriteEvent) -> Result<u64>;

    /// Returns once every event submitted before this call is durable.
    fn sync(&self) -> Result<()>;
}

impl<S: EventSink + ?Sized> EventSink for Arc<S> {
    fn submit(&self, event: WriteEvent) -> Result<u64> {
        (**self).submit(event)
    }

    fn sync(&self) -> Result<()> {
        (**self).sync()
    }
}

/// Submits the whole current contents of the file at `path` as stream
/// `stream` at instant `ts`: length 0, the final length, then every non-zero
/// piece (zeros are implied by the length). Used for the shim's baseline and
/// renames, and by the agent's one-shot `capture`.
pub fn submit_file(sink: &dyn EventSink, path: &Path, stream: &str, ts: i64) -> Result<()> {
    let file = File::open(path).map_err(CaptureError::io(path, "open"))?;
    let len = file
        .metadata()
        .map_err(CaptureError::io(path, "stat"))?
        .len();
    let set_len = |len| WriteEvent {
        stream: stream.to_owned(),
        ts_ns: ts,
        change: Change::SetLen(len),
    };
    sink.submit(set_len(0))?;
    sink.submit(set_len(len))?;
    let mut buf = vec![0u8; MAX_WRITE_DATA];
    let mut at = 0u64;
    while at < len {
        let n = file
            .read_at(&mut buf, at)
            .map_err(CaptureError::io(path, "read"))?;
        if n == 0 {
            break;
        }
        let piece = &buf[..n];
        if piece.iter().any(|&b| b != 0) {
            sink.submit(WriteEvent::write(stream, ts, at, piece.to_vec()))?;
        }
        at += n as u64;
    }
    Ok(())
}
