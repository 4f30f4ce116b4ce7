//! kairos-engine: the continuous-data-protection block store.
//!
//! See `../shared/docs/ARCHITECTURE.md`, "The engine". This crate records
//! timestamped block writes of protected files (streams), stores each distinct
//! block once, and answers "what did stream S look like at instant T".
//!
//! Modules:
//! - [`timespec`]: how users name an instant (`--at`): RFC 3339, local time,
//!   relative (`-15m`), or a marker (`mark:NAME`).

pub mod timespec;

pub use timespec::{TimeSpec, TimeSpecError};
