//! A libbfio handle whose reads go to a [`Source`], so libpff can read a PST
//! straight out of an engine view (a point-in-time stream) without the file
//! being restored to disk first.
//!
//! libbfio calls back into the functions below with the `intptr_t *` we gave
//! it, which is a leaked `Box<IoState>`. The handle is created with
//! `LIBBFIO_FLAG_IO_HANDLE_MANAGED`, so libbfio calls [`free_io`] (and
//! [`clone_io`] for clones) itself; every clone shares the source and the
//! [`IoShared`] record but keeps its own position.
//!
//! A failing `Source::read_at` (I/O error, a damaged chunk in the store) is
//! kept in [`IoShared::read_error`] and libbfio sees -1; the safe wrapper then
//! reports the Source's own error instead of libpff's generic "unable to read".

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kairos_parsers::{Error, Source};
use libc::{c_int, size_t, ssize_t};

use super::sys::BfioError;

/// What all clones of one handle share with the safe wrapper.
#[derive(Default)]
pub struct IoShared {
    /// Offset of the most recent read libpff asked for: the best available
    /// "where" when libpff reports an error without an offset.
    pub last_offset: AtomicU64,
    /// The first error the source returned since it was last taken.
    pub read_error: Mutex<Option<Error>>,
}

/// The state behind one libbfio io handle.
pub struct IoState {
    source: Arc<dyn Source>,
    position: u64,
    shared: Arc<IoShared>,
}

impl IoState {
    /// A fresh state at position 0.
    pub fn new(source: Arc<dyn Source>, shared: Arc<IoShared>) -> Self {
        IoState {
            source,
            position: 0,
            shared,
        }
    }
}

/// Runs `f` on the state behind `io`, or returns `fail` if it is null or `f`
/// panics (a panic must never unwind into C).
fn with_state<T>(io: *mut isize, fail: T, f: impl FnOnce(&mut IoState) -> T) -> T {
    if io.is_null() {
        return fail;
    }
    // SAFETY: `io` is a pointer we created with `Box::into_raw` in
    // `into_raw`/`clone_io` and that libbfio has not yet passed to `free_io`;
    // libbfio serialises calls on one handle (libpff holds its file lock).
    let state = unsafe { &mut *io.cast::<IoState>() };
    catch_unwind(AssertUnwindSafe(|| f(state))).unwrap_or(fail)
}

/// Leaks `state` as the `intptr_t *` libbfio stores.
pub fn into_raw(state: IoState) -> *mut isize {
    Box::into_raw(Box::new(state)).cast::<isize>()
}

/// Frees a state that was never handed to libbfio (initialisation failed).
pub fn free_raw(io: *mut isize) {
    if !io.is_null() {
        // SAFETY: created by `into_raw` and not owned by libbfio.
        drop(unsafe { Box::from_raw(io.cast::<IoState>()) });
    }
}

pub unsafe extern "C" fn free_io(io: *mut *mut isize, _error: *mut *mut BfioError) -> c_int {
    if io.is_null() {
        return -1;
    }
    // SAFETY: libbfio passes the address of its stored pointer; we own the box.
    unsafe {
        free_raw(*io);
        *io = std::ptr::null_mut();
    }
    1
}

pub unsafe extern "C" fn clone_io(
    destination: *mut *mut isize,
    source: *mut isize,
    _error: *mut *mut BfioError,
) -> c_int {
    if destination.is_null() {
        return -1;
    }
    let cloned = with_state(source, None, |s| {
        Some(IoState::new(Arc::clone(&s.source), Arc::clone(&s.shared)))
    });
    match cloned {
        Some(state) => {
            // SAFETY: `destination` is a valid out-pointer from libbfio.
            unsafe { *destination = into_raw(state) };
            1
        }
        None => -1,
    }
}

pub unsafe extern "C" fn open_io(io: *mut isize, flags: c_int, _e: *mut *mut BfioError) -> c_int {
    // Read-only: any write access request is refused.
    with_state(io, -1, |_| if flags & 0x02 == 0 { 1 } else { -1 })
}

pub unsafe extern "C" fn close_io(io: *mut isize, _e: *mut *mut BfioError) -> c_int {
    with_state(io, -1, |_| 0)
}

pub unsafe extern "C" fn read_io(
    io: *mut isize,
    buffer: *mut u8,
    size: size_t,
    _e: *mut *mut BfioError,
) -> ssize_t {
    if buffer.is_null() || size > isize::MAX as usize {
        return -1;
    }
    // SAFETY: libbfio passes a writable buffer of `size` bytes.
    let buf = unsafe { std::slice::from_raw_parts_mut(buffer, size) };
    with_state(io, -1, |s| {
        s.shared.last_offset.store(s.position, Ordering::Relaxed);
        match s.source.read_at(s.position, buf) {
            Ok(n) => {
                s.position += n as u64;
                n as ssize_t
            }
            Err(e) => {
                if let Ok(mut slot) = s.shared.read_error.lock() {
                    slot.get_or_insert(e);
                }
                -1
            }
        }
    })
}

pub unsafe extern "C" fn write_io(
    _io: *mut isize,
    _buffer: *const u8,
    _size: size_t,
    _e: *mut *mut BfioError,
) -> ssize_t {
    -1
}

pub unsafe extern "C" fn seek_io(
    io: *mut isize,
    offset: i64,
    whence: c_int,
    _e: *mut *mut BfioError,
) -> i64 {
    with_state(io, -1, |s| {
        let base = match whence {
            libc::SEEK_SET => 0,
            libc::SEEK_CUR => s.position as i64,
            libc::SEEK_END => s.source.len() as i64,
            _ => return -1,
        };
        match base.checked_add(offset) {
            Some(p) if p >= 0 => {
                s.position = p as u64;
                p
            }
            _ => -1,
        }
    })
}

pub unsafe extern "C" fn exists_io(io: *mut isize, _e: *mut *mut BfioError) -> c_int {
    with_state(io, -1, |_| 1)
}

pub unsafe extern "C" fn size_io(io: *mut isize, size: *mut u64, _e: *mut *mut BfioError) -> c_int {
    if size.is_null() {
        return -1;
    }
    with_state(io, -1, |s| {
        // SAFETY: `size` is a valid out-pointer from libbfio.
        unsafe { *size = s.source.len() };
        1
    })
}
