//! The system calls the capture paths need that std does not wrap:
//! `statvfs` (so `df` on the shim's mount point shows the real file
//! system), `fallocate` (databases preallocate and punch holes) and
//! `sync_file_range` (the spool journal starts writing to the disk before
//! the fsync that will wait for it). This is the crate's only unsafe
//! code: each call gets a valid C string or an open descriptor and checks
//! the return value.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

/// File system capacity, as FUSE `statfs` wants it.
#[derive(Debug, Clone, Copy)]
pub struct FsStats {
    /// Total blocks (of `frsize`).
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Preferred block size.
    pub bsize: u32,
    /// Longest name.
    pub namelen: u32,
    /// Fragment size.
    pub frsize: u32,
}

/// `statvfs(2)` of the file system holding `path`.
pub fn statvfs(path: &Path) -> io::Result<FsStats> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut st = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path and `st` points to writable
    // memory of the right type; the struct is only read after success.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: statvfs returned 0, so it filled the struct.
    let st = unsafe { st.assume_init() };
    Ok(FsStats {
        blocks: st.f_blocks,
        bfree: st.f_bfree,
        bavail: st.f_bavail,
        files: st.f_files,
        ffree: st.f_ffree,
        bsize: st.f_bsize as u32,
        namelen: st.f_namemax as u32,
        frsize: st.f_frsize as u32,
    })
}

/// `fallocate(2)` on an open file.
pub fn fallocate(file: &File, mode: i32, offset: i64, length: i64) -> io::Result<()> {
    // SAFETY: the descriptor is open for the lifetime of `file`; fallocate
    // takes no pointers.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, offset, length) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Starts writing `len` bytes at `offset` of `file` to the disk without
/// waiting (`sync_file_range(SYNC_FILE_RANGE_WRITE)`): a hint that moves
/// disk work ahead of the fsync, never a durability guarantee.
pub fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    };
    // SAFETY: the descriptor is open for the lifetime of `file`;
    // sync_file_range takes no pointers.
    let rc = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
