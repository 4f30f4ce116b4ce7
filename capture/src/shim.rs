//! The FUSE passthrough shim: applications use their files through a mount
//! point; every change lands in the real file under the source directory and
//! becomes a timestamped write event.
//!
//! Every regular file under the source directory is a stream named by its
//! relative path (`/`-separated, UTF-8; an optional prefix, e.g. the agent's
//! name, goes in front). What is captured:
//! - `write`: the bytes at their offset, stamped when the real write returned;
//! - truncate/extend (`setattr` size, `O_TRUNC` opens, `fallocate`): a length
//!   change, or zero writes for punched/zeroed ranges;
//! - `create`/`mknod`: the new stream with length 0;
//! - `unlink`: the stream's removal (its history stays in the store);
//! - `rename` (files or whole directories): the old names removed and the
//!   new names written in full, all at one instant, so a restore sees the
//!   rename atomically as the application did.
//!
//! `fsync`/`fdatasync` (and `fsync` on a directory) return only after the real
//! file is synced *and* the sink's `sync` returned: once the application's
//! fsync returns, its writes are in the store (or the spool journal).
//!
//! Requests are served by one thread, so events are submitted in exactly the
//! order the real file system saw the changes. The thread only hands events
//! to the sink, which makes them durable off the request path (the store
//! sink ingests on a thread of its own, the spool journal writes behind):
//! the request thread pays for the copy into the real file and into the
//! event, not for hashing, compressing or fsyncing the capture. A single
//! application thread writing without the writeback cache waits for each
//! request anyway, so more request threads would not make it faster.
//!
//! With [`Shim::writeback_cache`] (opt-in, `--writeback-cache`) the kernel
//! buffers writes and sends them in large requests when it writes its page
//! cache back. The capture contract then reads: every fsync and close is
//! exact (the kernel writes its dirty pages back before it sends them); an
//! instant between them shows only what the kernel had written back by
//! then, in the order it chose, which is a state a crash of a local disk at
//! that instant could have left — what databases are built to recover from,
//! and what the SQLite acceptance test checks in this mode too. Files that already exist at
//! mount time get a baseline (their full contents as writes) first, so the
//! store knows them before their first change. Names that are not UTF-8 are
//! passed through but not captured (with a warning).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    BackgroundSession, FileAttr, FileType, Filesystem, KernelConfig, MountOption, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow,
};

use crate::event::{Change, MAX_WRITE_DATA, WriteEvent, now_ns};
use crate::sink::{CaptureError, EventSink, Result};
use crate::sys;

/// How long the kernel may cache names and attributes. Every change goes
/// through the shim, so the kernel's own updates keep its cache right.
const TTL: Duration = Duration::from_secs(1);
const ROOT: u64 = 1;

/// The inode table: the shim's inode numbers and the relative path each
/// stands for (empty for the root).
#[derive(Debug, Default)]
struct Inodes {
    paths: HashMap<u64, PathBuf>,
    by_path: HashMap<PathBuf, u64>,
    next: u64,
}

impl Inodes {
    fn new() -> Self {
        let mut t = Self {
            next: ROOT + 1,
            ..Self::default()
        };
        t.paths.insert(ROOT, PathBuf::new());
        t.by_path.insert(PathBuf::new(), ROOT);
        t
    }

    fn path(&self, ino: u64) -> Option<&PathBuf> {
        self.paths.get(&ino)
    }

    fn ino_for(&mut self, rel: &Path) -> u64 {
        if let Some(&ino) = self.by_path.get(rel) {
            return ino;
        }
        let ino = self.next;
        self.next += 1;
        self.paths.insert(ino, rel.to_owned());
        self.by_path.insert(rel.to_owned(), ino);
        ino
    }

    /// The name is gone; an inode still open keeps working on its handle.
    fn forget_path(&mut self, rel: &Path) {
        if let Some(ino) = self.by_path.remove(rel) {
            self.paths.remove(&ino);
        }
    }

    /// Moves `from` (and everything below it) to `to`.
    fn rename(&mut self, from: &Path, to: &Path) {
        self.forget_path(to);
        let moved: Vec<(PathBuf, u64)> = self
            .by_path
            .iter()
            .filter(|(p, _)| p.starts_with(from))
            .map(|(p, &i)| (p.clone(), i))
            .collect();
        for (old, ino) in moved {
            let Ok(rest) = old.strip_prefix(from) else {
                continue;
            };
            let new = if rest.as_os_str().is_empty() {
                to.to_owned()
            } else {
                to.join(rest)
            };
            // Anything that already sat under the destination is replaced.
            self.forget_path(&new);
            self.by_path.remove(&old);
            self.paths.insert(ino, new.clone());
            self.by_path.insert(new, ino);
        }
    }
}

/// An open file: the real file and the inode it was opened through.
#[derive(Debug)]
struct Handle {
    file: File,
    ino: u64,
}

/// The passthrough file system. Build with [`Shim::new`], run with
/// [`mount`] or [`spawn`].
pub struct Shim {
    source: PathBuf,
    prefix: Option<String>,
    sink: Arc<dyn EventSink>,
    inodes: Inodes,
    handles: HashMap<u64, Handle>,
    next_fh: u64,
    writeback_cache: bool,
}

impl std::fmt::Debug for Shim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shim")
            .field("source", &self.source)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

fn capture_errno(e: &CaptureError) -> i32 {
    tracing::error!("shim: capture failed, the application sees EIO: {e}");
    libc::EIO
}

fn system_time(secs: i64, nsecs: i64) -> SystemTime {
    let d = Duration::new(secs.unsigned_abs(), nsecs.clamp(0, 999_999_999) as u32);
    if secs >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

fn attr_of(ino: u64, m: &fs::Metadata) -> FileAttr {
    let ft = m.file_type();
    let kind = if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else if ft.is_file() {
        FileType::RegularFile
    } else {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            FileType::NamedPipe
        } else if ft.is_socket() {
            FileType::Socket
        } else if ft.is_block_device() {
            FileType::BlockDevice
        } else {
            FileType::CharDevice
        }
    };
    FileAttr {
        ino,
        size: m.size(),
        blocks: m.blocks(),
        atime: system_time(m.atime(), m.atime_nsec()),
        mtime: system_time(m.mtime(), m.mtime_nsec()),
        ctime: system_time(m.ctime(), m.ctime_nsec()),
        crtime: UNIX_EPOCH,
        kind,
        perm: (m.mode() & 0o7777) as u16,
        nlink: m.nlink() as u32,
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev() as u32,
        blksize: m.blksize() as u32,
        flags: 0,
    }
}

impl Shim {
    /// A shim over `source` (a directory) sending events to `sink`; stream
    /// names get `prefix/` in front when given.
    pub fn new(source: &Path, prefix: Option<String>, sink: Arc<dyn EventSink>) -> Result<Self> {
        let source =
            fs::canonicalize(source).map_err(CaptureError::io(source, "open source directory"))?;
        if !source.is_dir() {
            return Err(CaptureError::Io {
                path: source,
                op: "open source directory",
                source: io::Error::from_raw_os_error(libc::ENOTDIR),
            });
        }
        if let Some(p) = &prefix {
            crate::event::validate_stream_name(p)?;
        }
        Ok(Self {
            source,
            prefix,
            sink,
            inodes: Inodes::new(),
            handles: HashMap::new(),
            next_fh: 1,
            writeback_cache: false,
        })
    }

    /// Opts in to the kernel's writeback cache (`FUSE_WRITEBACK_CACHE`):
    /// the kernel keeps the application's writes in its page cache and
    /// sends them to the shim in large requests when it writes them back
    /// (background writeback, close, fsync), instead of one request per
    /// `write` call: fewer requests for small writes, at the price of
    /// what an instant between fsyncs shows (see the module documentation):
    /// each fsync and close is still exact, but an instant between them
    /// shows what the kernel had written back by then, which may lag the
    /// application's writes (up to the kernel's dirty expiry, 30 s by
    /// default) and hold them in another order — a state a crash of a local
    /// disk at that instant could have left.
    #[must_use]
    pub fn writeback_cache(mut self, on: bool) -> Self {
        self.writeback_cache = on;
        self
    }

    /// Records the full contents of every regular file already under the
    /// source directory and syncs, so the store holds them before their
    /// first change. Returns the number of files.
    pub fn baseline(&self) -> Result<usize> {
        let mut count = 0;
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let dir = self.source.join(&rel);
            let entries = fs::read_dir(&dir).map_err(CaptureError::io(&dir, "list"))?;
            for entry in entries {
                let entry = entry.map_err(CaptureError::io(&dir, "list"))?;
                let child = rel.join(entry.file_name());
                let ft = entry
                    .file_type()
                    .map_err(CaptureError::io(entry.path(), "stat"))?;
                if ft.is_dir() {
                    stack.push(child);
                } else if ft.is_file() {
                    let ts = now_ns();
                    self.emit_contents(&child, ts)?;
                    count += 1;
                }
            }
        }
        self.sink.sync()?;
        Ok(count)
    }

    fn real(&self, rel: &Path) -> PathBuf {
        self.source.join(rel)
    }

    /// The stream name of a relative path, or `None` (with a warning) when
    /// it cannot be one.
    fn stream_of(&self, rel: &Path) -> Option<String> {
        let Some(s) = rel.to_str() else {
            tracing::warn!(
                "shim: {} is not UTF-8; its changes are not captured",
                rel.display()
            );
            return None;
        };
        let name = match &self.prefix {
            Some(p) => format!("{p}/{s}"),
            None => s.to_owned(),
        };
        match crate::event::validate_stream_name(&name) {
            Ok(()) => Some(name),
            Err(e) => {
                tracing::warn!("shim: {} cannot be captured: {e}", rel.display());
                None
            }
        }
    }

    fn emit(&self, rel: &Path, ts: i64, change: Change) -> Result<()> {
        if let Some(stream) = self.stream_of(rel) {
            self.sink.submit(WriteEvent {
                stream,
                ts_ns: ts,
                change,
            })?;
        }
        Ok(())
    }

    fn emit_write(&self, rel: &Path, ts: i64, offset: u64, data: &[u8]) -> Result<()> {
        let Some(stream) = self.stream_of(rel) else {
            return Ok(());
        };
        for (i, piece) in data.chunks(MAX_WRITE_DATA).enumerate() {
            self.sink.submit(WriteEvent::write(
                stream.clone(),
                ts,
                offset + (i * MAX_WRITE_DATA) as u64,
                piece.to_vec(),
            ))?;
        }
        Ok(())
    }

    /// Zero bytes over a range (hole punch, zero range) as zero writes.
    fn emit_zeros(&self, rel: &Path, ts: i64, offset: u64, len: u64) -> Result<()> {
        let zeros = vec![0u8; MAX_WRITE_DATA.min(len as usize)];
        let mut at = offset;
        let end = offset.saturating_add(len);
        while at < end {
            let n = ((end - at) as usize).min(zeros.len());
            self.emit_write(rel, ts, at, &zeros[..n])?;
            at += n as u64;
        }
        Ok(())
    }

    /// The whole current contents of the real file `rel` as events at `ts`.
    fn emit_contents(&self, rel: &Path, ts: i64) -> Result<()> {
        match self.stream_of(rel) {
            Some(stream) => {
                crate::sink::submit_file(self.sink.as_ref(), &self.real(rel), &stream, ts)
            }
            None => Ok(()),
        }
    }

    /// Every regular file at or below `rel` (itself if it is a file).
    fn files_below(&self, rel: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![rel.to_owned()];
        while let Some(p) = stack.pop() {
            let Ok(m) = fs::symlink_metadata(self.real(&p)) else {
                continue;
            };
            if m.is_file() {
                out.push(p);
            } else if m.is_dir()
                && let Ok(rd) = fs::read_dir(self.real(&p))
            {
                stack.extend(rd.flatten().map(|e| p.join(e.file_name())));
            }
        }
        out
    }

    fn child(&self, parent: u64, name: &OsStr) -> Option<PathBuf> {
        self.inodes.path(parent).map(|p| p.join(name))
    }

    fn stat_reply(&mut self, rel: &Path) -> io::Result<FileAttr> {
        let m = fs::symlink_metadata(self.real(rel))?;
        let ino = self.inodes.ino_for(rel);
        Ok(attr_of(ino, &m))
    }

    /// Gives a newly created node to the process that created it, as a
    /// kernel file system would (the shim itself may run as root, and
    /// applications such as PostgreSQL check who owns their files).
    fn own(&self, rel: &Path, req: &Request<'_>) {
        if let Err(e) = std::os::unix::fs::lchown(self.real(rel), Some(req.uid()), Some(req.gid()))
        {
            tracing::debug!(
                "shim: {}: chown to {}:{}: {e}",
                rel.display(),
                req.uid(),
                req.gid()
            );
        }
    }

    fn new_handle(&mut self, file: File, ino: u64) -> u64 {
        let fh = self.next_fh;
        self.next_fh += 1;
        self.handles.insert(fh, Handle { file, ino });
        fh
    }

    fn sync_all(&self) -> Result<()> {
        self.sink.sync()
    }

    /// Open flags for the real file: the kernel computes append offsets
    /// itself (and sends them), so `O_APPEND` must not move them again.
    fn real_flags(flags: i32) -> i32 {
        flags & !(libc::O_APPEND | libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_ACCMODE)
    }

    /// Opens the real file as the application asked. With the writeback
    /// cache, the kernel reads the rest of a partly written page through
    /// any handle, so write-only handles are opened for reading too.
    fn open_real(&self, path: &Path, flags: i32, create: Option<u32>) -> io::Result<File> {
        let mut acc = flags & libc::O_ACCMODE;
        if self.writeback_cache && acc == libc::O_WRONLY {
            acc = libc::O_RDWR;
        }
        let mut o = OpenOptions::new();
        o.read(acc == libc::O_RDONLY || acc == libc::O_RDWR)
            .write(acc == libc::O_WRONLY || acc == libc::O_RDWR)
            .custom_flags(Self::real_flags(flags));
        if flags & libc::O_TRUNC != 0 {
            o.truncate(true);
        }
        if let Some(mode) = create {
            o.mode(mode);
            if flags & libc::O_EXCL != 0 {
                o.create_new(true);
            } else {
                o.create(true);
            }
        }
        o.open(path)
    }
}

impl Filesystem for Shim {
    fn init(&mut self, _req: &Request<'_>, config: &mut KernelConfig) -> Result<(), libc::c_int> {
        // Larger writes mean fewer requests and fewer events.
        let _ = config.set_max_write(1 << 20);
        if self.writeback_cache
            && let Err(missing) = config.add_capabilities(fuser::consts::FUSE_WRITEBACK_CACHE)
        {
            tracing::warn!(
                "shim: the kernel does not offer the writeback cache (capabilities {missing:#x} missing); every write is a request"
            );
        }
        Ok(())
    }

    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let Some(rel) = self.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        match self.stat_reply(&rel) {
            Ok(attr) => reply.entry(&TTL, &attr, 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, fh: Option<u64>, reply: ReplyAttr) {
        let m = match fh.and_then(|fh| self.handles.get(&fh)) {
            Some(h) => h.file.metadata(),
            None => match self.inodes.path(ino) {
                Some(rel) => fs::symlink_metadata(self.real(rel)),
                None => return reply.error(libc::ENOENT),
            },
        };
        match m {
            Ok(m) => reply.attr(&TTL, &attr_of(ino, &m)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<u64>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<u32>,
        reply: ReplyAttr,
    ) {
        let Some(rel) = self.inodes.path(ino).cloned() else {
            return reply.error(libc::ENOENT);
        };
        let real = self.real(&rel);
        let result = (|| -> io::Result<()> {
            if let Some(mode) = mode {
                fs::set_permissions(&real, fs::Permissions::from_mode(mode & 0o7777))?;
            }
            if uid.is_some() || gid.is_some() {
                std::os::unix::fs::lchown(&real, uid, gid)?;
            }
            if let Some(size) = size {
                match fh.and_then(|fh| self.handles.get(&fh)) {
                    Some(h) => h.file.set_len(size)?,
                    None => OpenOptions::new().write(true).open(&real)?.set_len(size)?,
                }
                let ts = now_ns();
                self.emit(&rel, ts, Change::SetLen(size))
                    .map_err(|e| io::Error::from_raw_os_error(capture_errno(&e)))?;
            }
            if atime.is_some() || mtime.is_some() {
                let to_ft = |t: Option<TimeOrNow>| match t {
                    None => fs::FileTimes::new(),
                    Some(TimeOrNow::Now) => fs::FileTimes::new().set_accessed(SystemTime::now()),
                    Some(TimeOrNow::SpecificTime(t)) => fs::FileTimes::new().set_accessed(t),
                };
                let f = File::options()
                    .write(true)
                    .open(&real)
                    .or_else(|_| File::open(&real))?;
                let mut times = to_ft(atime);
                match mtime {
                    None => {}
                    Some(TimeOrNow::Now) => times = times.set_modified(SystemTime::now()),
                    Some(TimeOrNow::SpecificTime(t)) => times = times.set_modified(t),
                }
                f.set_times(times)?;
            }
            Ok(())
        })();
        match result.and_then(|()| fs::symlink_metadata(&real)) {
            Ok(m) => reply.attr(&TTL, &attr_of(ino, &m)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&mut self, _req: &Request<'_>, ino: u64, reply: ReplyData) {
        let Some(rel) = self.inodes.path(ino) else {
            return reply.error(libc::ENOENT);
        };
        match fs::read_link(self.real(rel)) {
            Ok(t) => reply.data(t.as_os_str().as_bytes()),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mknod(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        if mode & libc::S_IFMT != libc::S_IFREG {
            // Devices, fifos and sockets are not data a store can protect.
            return reply.error(libc::EPERM);
        }
        let Some(rel) = self.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        let made = self.open_real(
            &self.real(&rel),
            libc::O_WRONLY | libc::O_EXCL,
            Some(mode & !umask & 0o7777),
        );
        match made {
            Ok(_) => {
                self.own(&rel, req);
                let ts = now_ns();
                if let Err(e) = self.emit(&rel, ts, Change::SetLen(0)) {
                    return reply.error(capture_errno(&e));
                }
                match self.stat_reply(&rel) {
                    Ok(attr) => reply.entry(&TTL, &attr, 0),
                    Err(e) => reply.error(errno(&e)),
                }
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mkdir(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        let Some(rel) = self.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        let real = self.real(&rel);
        let r = fs::create_dir(&real)
            .map(|()| self.own(&rel, req))
            .and_then(|()| {
                fs::set_permissions(&real, fs::Permissions::from_mode(mode & !umask & 0o7777))
            })
            .and_then(|()| self.stat_reply(&rel));
        match r {
            Ok(attr) => reply.entry(&TTL, &attr, 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn unlink(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        let Some(rel) = self.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        let real = self.real(&rel);
        let was_file = fs::symlink_metadata(&real).is_ok_and(|m| m.is_file());
        if let Err(e) = fs::remove_file(&real) {
            return reply.error(errno(&e));
        }
        self.inodes.forget_path(&rel);
        if was_file {
            let ts = now_ns();
            if let Err(e) = self.emit(&rel, ts, Change::Remove) {
                return reply.error(capture_errno(&e));
            }
        }
        reply.ok();
    }

    fn rmdir(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEmpty) {
        let Some(rel) = self.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        match fs::remove_dir(self.real(&rel)) {
            Ok(()) => {
                self.inodes.forget_path(&rel);
                reply.ok();
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn symlink(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        let Some(rel) = self.child(parent, link_name) else {
            return reply.error(libc::ENOENT);
        };
        match std::os::unix::fs::symlink(target, self.real(&rel))
            .map(|()| self.own(&rel, req))
            .and_then(|()| self.stat_reply(&rel))
        {
            Ok(attr) => reply.entry(&TTL, &attr, 0),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn rename(
        &mut self,
        _req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        newparent: u64,
        newname: &OsStr,
        flags: u32,
        reply: ReplyEmpty,
    ) {
        let (Some(from), Some(to)) = (self.child(parent, name), self.child(newparent, newname))
        else {
            return reply.error(libc::ENOENT);
        };
        if flags != 0 {
            // RENAME_EXCHANGE / RENAME_NOREPLACE: not needed by the
            // databases we protect; refusing is safer than half-capturing.
            return reply.error(libc::EINVAL);
        }
        // Files that disappear: everything under the old name, and whatever
        // the new name held before (replaced by the rename).
        let old_files = self.files_below(&from);
        let replaced = self.files_below(&to);
        if let Err(e) = fs::rename(self.real(&from), self.real(&to)) {
            return reply.error(errno(&e));
        }
        self.inodes.rename(&from, &to);
        let ts = now_ns();
        let result = (|| -> Result<()> {
            for f in &replaced {
                self.emit(f, ts, Change::Remove)?;
            }
            for f in &old_files {
                self.emit(f, ts, Change::Remove)?;
                let Ok(rest) = f.strip_prefix(&from) else {
                    continue;
                };
                let new = if rest.as_os_str().is_empty() {
                    to.clone()
                } else {
                    to.join(rest)
                };
                self.emit_contents(&new, ts)?;
            }
            Ok(())
        })();
        match result {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(capture_errno(&e)),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        let Some(rel) = self.inodes.path(ino).cloned() else {
            return reply.error(libc::ENOENT);
        };
        match self.open_real(&self.real(&rel), flags, None) {
            Ok(file) => {
                if flags & libc::O_TRUNC != 0 && file.metadata().is_ok_and(|m| m.is_file()) {
                    let ts = now_ns();
                    if let Err(e) = self.emit(&rel, ts, Change::SetLen(0)) {
                        return reply.error(capture_errno(&e));
                    }
                }
                let fh = self.new_handle(file, ino);
                reply.opened(fh, 0);
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn create(
        &mut self,
        req: &Request<'_>,
        parent: u64,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let Some(rel) = self.child(parent, name) else {
            return reply.error(libc::ENOENT);
        };
        let real = self.real(&rel);
        let existed = real.exists();
        match self.open_real(&real, flags, Some(mode & !umask & 0o7777)) {
            Ok(file) => {
                if !existed {
                    self.own(&rel, req);
                }
                if !existed || flags & libc::O_TRUNC != 0 {
                    let ts = now_ns();
                    if let Err(e) = self.emit(&rel, ts, Change::SetLen(0)) {
                        return reply.error(capture_errno(&e));
                    }
                }
                let ino = self.inodes.ino_for(&rel);
                match file.metadata() {
                    Ok(m) => {
                        let attr = attr_of(ino, &m);
                        let fh = self.new_handle(file, ino);
                        reply.created(&TTL, &attr, 0, fh, 0);
                    }
                    Err(e) => reply.error(errno(&e)),
                }
            }
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        offset: i64,
        size: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyData,
    ) {
        let Some(h) = self.handles.get(&fh) else {
            return reply.error(libc::EBADF);
        };
        let mut buf = vec![0u8; size as usize];
        let mut got = 0usize;
        while got < buf.len() {
            match h.file.read_at(&mut buf[got..], offset as u64 + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return reply.error(errno(&e)),
            }
        }
        reply.data(&buf[..got]);
    }

    fn write(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        offset: i64,
        data: &[u8],
        _write_flags: u32,
        _flags: i32,
        _lock_owner: Option<u64>,
        reply: ReplyWrite,
    ) {
        let Some(h) = self.handles.get(&fh) else {
            return reply.error(libc::EBADF);
        };
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(libc::EINVAL);
        };
        if let Err(e) = h.file.write_all_at(data, offset) {
            return reply.error(errno(&e));
        }
        let ts = now_ns();
        // A handle whose name was unlinked has no stream any more.
        if let Some(rel) = self.inodes.path(h.ino)
            && let Err(e) = self.emit_write(rel, ts, offset, data)
        {
            return reply.error(capture_errno(&e));
        }
        reply.written(data.len() as u32);
    }

    fn flush(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        _fh: u64,
        _lock_owner: u64,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        _flags: i32,
        _lock_owner: Option<u64>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.handles.remove(&fh);
        reply.ok();
    }

    fn fsync(&mut self, _req: &Request<'_>, _ino: u64, fh: u64, datasync: bool, reply: ReplyEmpty) {
        let Some(h) = self.handles.get(&fh) else {
            return reply.error(libc::EBADF);
        };
        let r = if datasync {
            h.file.sync_data()
        } else {
            h.file.sync_all()
        };
        if let Err(e) = r {
            return reply.error(errno(&e));
        }
        match self.sync_all() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(capture_errno(&e)),
        }
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let Some(rel) = self.inodes.path(ino).cloned() else {
            return reply.error(libc::ENOENT);
        };
        let rd = match fs::read_dir(self.real(&rel)) {
            Ok(rd) => rd,
            Err(e) => return reply.error(errno(&e)),
        };
        let mut entries: Vec<(u64, FileType, OsString)> = vec![
            (ino, FileType::Directory, ".".into()),
            (ROOT, FileType::Directory, "..".into()),
        ];
        for e in rd.flatten() {
            let kind = match e.file_type() {
                Ok(t) if t.is_dir() => FileType::Directory,
                Ok(t) if t.is_symlink() => FileType::Symlink,
                _ => FileType::RegularFile,
            };
            let child = self.inodes.ino_for(&rel.join(e.file_name()));
            entries.push((child, kind, e.file_name()));
        }
        for (i, (ino, kind, name)) in entries.iter().enumerate().skip(offset.max(0) as usize) {
            if reply.add(*ino, (i + 1) as i64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }

    fn fsyncdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let Some(rel) = self.inodes.path(ino) else {
            return reply.error(libc::ENOENT);
        };
        if let Err(e) = File::open(self.real(rel)).and_then(|d| d.sync_all()) {
            return reply.error(errno(&e));
        }
        match self.sync_all() {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(capture_errno(&e)),
        }
    }

    fn statfs(&mut self, _req: &Request<'_>, _ino: u64, reply: ReplyStatfs) {
        match sys::statvfs(&self.source) {
            Ok(s) => reply.statfs(
                s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize,
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn fallocate(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        offset: i64,
        length: i64,
        mode: i32,
        reply: ReplyEmpty,
    ) {
        let Some(h) = self.handles.get(&fh) else {
            return reply.error(libc::EBADF);
        };
        let (Ok(off), Ok(len)) = (u64::try_from(offset), u64::try_from(length)) else {
            return reply.error(libc::EINVAL);
        };
        if let Err(e) = sys::fallocate(&h.file, mode, offset, length) {
            return reply.error(errno(&e));
        }
        let Some(rel) = self.inodes.path(h.ino).cloned() else {
            return reply.ok();
        };
        let ts = now_ns();
        let r = if mode & (libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_ZERO_RANGE) != 0 {
            // The range now reads as zeros (and may have extended the file).
            let size = self
                .handles
                .get(&fh)
                .and_then(|h| h.file.metadata().ok())
                .map_or(0, |m| m.len());
            self.emit(&rel, ts, Change::SetLen(size))
                .and_then(|()| self.emit_zeros(&rel, ts, off, len.min(size.saturating_sub(off))))
        } else if mode & libc::FALLOC_FL_KEEP_SIZE == 0 {
            let size = self
                .handles
                .get(&fh)
                .and_then(|h| h.file.metadata().ok())
                .map_or(0, |m| m.len());
            self.emit(&rel, ts, Change::SetLen(size))
        } else {
            Ok(())
        };
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(capture_errno(&e)),
        }
    }
}

/// Mounts the shim at `mountpoint` on a background thread; dropping the
/// returned session unmounts it.
pub fn spawn(shim: Shim, mountpoint: &Path) -> io::Result<BackgroundSession> {
    fuser::spawn_mount2(shim, mountpoint, &mount_options())
}

/// Mounts the shim at `mountpoint` and serves until it is unmounted.
pub fn mount(shim: Shim, mountpoint: &Path) -> io::Result<()> {
    fuser::mount2(shim, mountpoint, &mount_options())
}

fn mount_options() -> Vec<MountOption> {
    vec![
        MountOption::FSName("kairos-shim".into()),
        MountOption::Subtype("kairos".into()),
        MountOption::DefaultPermissions,
        MountOption::AllowOther,
    ]
}
