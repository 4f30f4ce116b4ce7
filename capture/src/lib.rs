//! kairos-capture: the paths that capture every write as it happens and feed
//! the engine's write-event pipeline (see `docs/ARCHITECTURE.md`, "Capture
//! paths" and "Network").
//!
//! - [`event`]: the write event (write / set length / remove) and its binary
//!   encoding, shared by the spool journal and the network protocol.
//! - [`sink`]: the [`EventSink`] contract every capture path writes to:
//!   `submit` on the write path, `sync` where the application asks for
//!   durability.
//! - [`journal`]: the agent's spool journal (checksummed, sequence-numbered
//!   records reusing the file in laps once acknowledged, a zero-filled
//!   reserve written ahead, torn tails cut on open, acknowledged watermark).
//! - [`replay`]: reconstructing stream contents from a log of events; the
//!   reference model tests compare the store against.
//! - [`store_sink`]: the engine store as a sink (group commit on `sync`),
//!   and restoring a captured data directory at an instant.
//! - [`nbd`]: an NBD server (fixed newstyle handshake, simple or structured
//!   replies) exporting a volume whose writes are captured.
//! - [`net`]: the agent → server protocol, `kairos serve` and the agent's
//!   spool sender.
//! - [`mount`]: the store as a read-only FUSE file system
//!   (`latest/<stream>`, `at/<TIME>/<stream>`) served from views.
//! - [`shim`]: the FUSE passthrough file system capturing every write made
//!   through its mount point.
//!
//! Contract in one line: an event is submitted as the application's write
//! returns, and the application's fsync (NBD FLUSH/FUA) returns only after
//! `EventSink::sync` did: the events are in the store (local capture) or
//! fsynced in the agent's spool (remote capture), from where the server's
//! acknowledgement (store ingest committed) moves the watermark.
//!
//! Not yet (see the project's issue 5 report):
//! - the engine has no "stream removed" record: an unlinked file is stored
//!   as length 0 ([`store_sink`]), and restored directories hold an empty
//!   file where a removed one was; empty directories are not captured;
//! - the shim serves requests on one thread (simple ordering argument; the
//!   capture's durable writes run off it, see docs/PERFORMANCE.md
//!   "Capture" for what small writes still cost); hard links,
//!   `RENAME_EXCHANGE`/`RENAME_NOREPLACE`, xattrs and locks are passed to the
//!   kernel's defaults or refused, not captured;
//! - NBD: no metadata contexts (block status), no TLS, no extended headers;
//!   structured replies are one chunk per reply.
// Tests state their expectations with unwrap: a failure there is the test failing.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod event;
pub mod journal;
pub mod mount;
pub mod nbd;
pub mod net;
pub mod replay;
pub mod shim;
pub mod sink;
pub mod store_sink;
mod sys;

pub use event::{Change, WriteEvent, now_ns};
pub use journal::{Journal, JournalSink};
pub use replay::Replay;
pub use sink::{CaptureError, EventSink, Result};
pub use store_sink::{StoreSink, restore_dir};
