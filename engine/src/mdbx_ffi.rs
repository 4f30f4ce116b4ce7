//! The libmdbx call the `libmdbx` crate does not wrap.
//!
//! `unsafe` is allowed here only: each call passes the environment pointer
//! of a live [`Db`] (borrowed for the call, so it cannot be closed under
//! it) and plain integers; libmdbx checks the rest
//! and reports errors by return code.
#![allow(unsafe_code)]

use crate::index::Db;

fn rc(code: std::ffi::c_int) -> Result<(), libmdbx::Error> {
    if code == mdbx_sys::MDBX_SUCCESS {
        Ok(())
    } else {
        Err(libmdbx::Error::from_err_code(code))
    }
}

/// Sets the unsynced-bytes threshold at which a commit makes the index
/// durable (`MDBX_opt_sync_bytes`). With a threshold set, libmdbx in
/// `SAFE_NOSYNC` grows the file instead of syncing inside every commit to
/// reuse freed pages.
pub(crate) fn set_sync_bytes(db: &Db, bytes: u64) -> Result<(), libmdbx::Error> {
    // SAFETY: `db` is open for the duration of the call (see module doc).
    rc(unsafe { mdbx_sys::mdbx_env_set_option(db.ptr().0, mdbx_sys::MDBX_opt_sync_bytes, bytes) })
}
