//! `kairos mount`: the store as a read-only file system, served from the
//! engine's point-in-time views (no restore).
//!
//! Layout:
//! - `latest/<stream>`: every stream at its latest instant;
//! - `at/<TIME>/<stream>`: every stream that existed at TIME, as of TIME.
//!   TIME is anything `--at` accepts (RFC 3339, local `YYYY-MM-DD HH:MM:SS`,
//!   relative `-15m`, `mark:NAME`); the directory is created when it is
//!   looked up (`ls at/` lists the ones used so far).
//!
//! Stream names with `/` appear as directories. Reads go straight to
//! [`View::read_at`](kairos_parsers::Source::read_at), one view per open
//! file, so a `cat` costs what the bytes read cost.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use fuser::{
    BackgroundSession, FileAttr, FileType, Filesystem, MountOption, ReplyAttr, ReplyData,
    ReplyDirectory, ReplyEntry, ReplyOpen, Request,
};
use kairos_engine::{Store, TimeSpec, View};
use kairos_parsers::Source;

const TTL: Duration = Duration::from_secs(1);
const ROOT: u64 = 1;

/// What an inode is: a directory (stream-name prefix, possibly empty) or a
/// file (a whole stream name), under `latest` (`at` = None) or an instant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Node {
    Root,
    LatestDir,
    AtDir,
    Dir { at: Option<i64>, prefix: String },
    File { at: Option<i64>, stream: String },
}

/// The read-only file system over a store.
pub struct StoreFs {
    store: Store,
    nodes: Vec<Node>,
    by_node: HashMap<Node, u64>,
    /// `at/` entries looked up so far: name → instant.
    times: HashMap<String, i64>,
    open: HashMap<u64, View>,
    next_fh: u64,
    mounted_at: std::time::SystemTime,
}

impl std::fmt::Debug for StoreFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFs")
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

impl StoreFs {
    /// A file system over `store` (opened read-only; capture may go on in
    /// another process).
    pub fn new(store: Store) -> Self {
        let mut fs = Self {
            store,
            nodes: Vec::new(),
            by_node: HashMap::new(),
            times: HashMap::new(),
            open: HashMap::new(),
            next_fh: 1,
            mounted_at: std::time::SystemTime::now(),
        };
        fs.ino(Node::Root);
        fs
    }

    fn ino(&mut self, node: Node) -> u64 {
        if let Some(&i) = self.by_node.get(&node) {
            return i;
        }
        self.nodes.push(node.clone());
        let i = self.nodes.len() as u64; // ROOT is 1
        self.by_node.insert(node, i);
        i
    }

    fn node(&self, ino: u64) -> Option<&Node> {
        self.nodes.get(usize::try_from(ino.checked_sub(1)?).ok()?)
    }

    /// Streams that exist at `at` (`None`: now): with a version at or
    /// before it and not removed at it.
    fn streams_at(&self, at: Option<i64>) -> Vec<String> {
        let Ok(live) = self.store.streams_at(at.unwrap_or(i64::MAX)) else {
            return Vec::new();
        };
        live.into_iter()
            .filter(|s| s.first.is_some())
            .map(|s| s.name)
            .collect()
    }

    /// Entries directly below `prefix` ("" = top): (name, is_dir).
    fn children(&self, at: Option<i64>, prefix: &str) -> BTreeSet<(String, bool)> {
        let mut out = BTreeSet::new();
        for s in self.streams_at(at) {
            let rest = if prefix.is_empty() {
                Some(s.as_str())
            } else {
                s.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
            };
            if let Some(rest) = rest {
                match rest.split_once('/') {
                    Some((dir, _)) => out.insert((dir.to_owned(), true)),
                    None => out.insert((rest.to_owned(), false)),
                };
            }
        }
        out
    }

    fn attr(&self, ino: u64, node: &Node) -> Option<FileAttr> {
        let (kind, size, perm) = match node {
            Node::File { at, stream } => {
                let view = self.store.view(stream, *at).ok()?;
                (FileType::RegularFile, view.len(), 0o444)
            }
            _ => (FileType::Directory, 0, 0o555),
        };
        let mtime = match node {
            Node::File { at: Some(t), .. } | Node::Dir { at: Some(t), .. } => {
                UNIX_EPOCH + Duration::from_nanos(u64::try_from(*t).unwrap_or(0))
            }
            _ => self.mounted_at,
        };
        Some(FileAttr {
            ino,
            size,
            blocks: size.div_ceil(512),
            atime: mtime,
            mtime,
            ctime: mtime,
            crtime: mtime,
            kind,
            perm,
            nlink: if kind == FileType::Directory { 2 } else { 1 },
            uid: 0,
            gid: 0,
            rdev: 0,
            blksize: 4096,
            flags: 0,
        })
    }

    fn resolve_time(&mut self, name: &str) -> Option<i64> {
        if let Some(&t) = self.times.get(name) {
            return Some(t);
        }
        let spec = TimeSpec::parse(name).ok()?;
        let t = self.store.resolve_time(&spec).ok()?;
        self.times.insert(name.to_owned(), t);
        Some(t)
    }

    fn child_node(&mut self, parent: &Node, name: &str) -> Option<Node> {
        let join = |prefix: &str| {
            if prefix.is_empty() {
                name.to_owned()
            } else {
                format!("{prefix}/{name}")
            }
        };
        let (at, prefix) = match parent {
            Node::Root => {
                return match name {
                    "latest" => Some(Node::LatestDir),
                    "at" => Some(Node::AtDir),
                    _ => None,
                };
            }
            Node::AtDir => {
                let t = self.resolve_time(name)?;
                return Some(Node::Dir {
                    at: Some(t),
                    prefix: String::new(),
                });
            }
            Node::LatestDir => (None, String::new()),
            Node::Dir { at, prefix } => (*at, prefix.clone()),
            Node::File { .. } => return None,
        };
        let path = join(&prefix);
        let (_, is_dir) = self
            .children(at, &prefix)
            .into_iter()
            .find(|(n, _)| n == name)?;
        Some(if is_dir {
            Node::Dir { at, prefix: path }
        } else {
            Node::File { at, stream: path }
        })
    }
}

impl Filesystem for StoreFs {
    fn lookup(&mut self, _req: &Request<'_>, parent: u64, name: &OsStr, reply: ReplyEntry) {
        let (Some(parent), Some(name)) = (self.node(parent).cloned(), name.to_str()) else {
            return reply.error(libc::ENOENT);
        };
        let Some(node) = self.child_node(&parent, name) else {
            return reply.error(libc::ENOENT);
        };
        let ino = self.ino(node.clone());
        match self.attr(ino, &node) {
            Some(a) => reply.entry(&TTL, &a, 0),
            None => reply.error(libc::ENOENT),
        }
    }

    fn getattr(&mut self, _req: &Request<'_>, ino: u64, _fh: Option<u64>, reply: ReplyAttr) {
        let Some(node) = self.node(ino).cloned() else {
            return reply.error(libc::ENOENT);
        };
        match self.attr(ino, &node) {
            Some(a) => reply.attr(&TTL, &a),
            None => reply.error(libc::ENOENT),
        }
    }

    fn open(&mut self, _req: &Request<'_>, ino: u64, flags: i32, reply: ReplyOpen) {
        if flags & libc::O_ACCMODE != libc::O_RDONLY {
            return reply.error(libc::EROFS);
        }
        let Some(Node::File { at, stream }) = self.node(ino).cloned() else {
            return reply.error(libc::EISDIR);
        };
        match self.store.view(&stream, at) {
            Ok(view) => {
                let fh = self.next_fh;
                self.next_fh += 1;
                self.open.insert(fh, view);
                reply.opened(fh, 0);
            }
            Err(e) => {
                tracing::warn!("mount: {stream}: {e}");
                reply.error(libc::EIO);
            }
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
        let Some(view) = self.open.get(&fh) else {
            return reply.error(libc::EBADF);
        };
        let Ok(offset) = u64::try_from(offset) else {
            return reply.error(libc::EINVAL);
        };
        let mut buf = vec![0u8; size as usize];
        let mut got = 0;
        while got < buf.len() {
            match view.read_at(offset + got as u64, &mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) => {
                    // Damaged chunk: the error names pack and offset.
                    tracing::warn!("mount: {e}");
                    return reply.error(libc::EIO);
                }
            }
        }
        reply.data(&buf[..got]);
    }

    fn release(
        &mut self,
        _req: &Request<'_>,
        _ino: u64,
        fh: u64,
        _flags: i32,
        _lock_owner: Option<u64>,
        _flush: bool,
        reply: fuser::ReplyEmpty,
    ) {
        self.open.remove(&fh);
        reply.ok();
    }

    fn readdir(
        &mut self,
        _req: &Request<'_>,
        ino: u64,
        _fh: u64,
        offset: i64,
        mut reply: ReplyDirectory,
    ) {
        let Some(node) = self.node(ino).cloned() else {
            return reply.error(libc::ENOENT);
        };
        let mut entries: Vec<(u64, FileType, String)> = vec![
            (ino, FileType::Directory, ".".into()),
            (ROOT, FileType::Directory, "..".into()),
        ];
        let listed: Vec<(String, bool)> = match &node {
            Node::Root => vec![("latest".into(), true), ("at".into(), true)],
            Node::AtDir => {
                let mut t: Vec<String> = self.times.keys().cloned().collect();
                t.sort();
                t.into_iter().map(|n| (n, true)).collect()
            }
            Node::LatestDir => self.children(None, "").into_iter().collect(),
            Node::Dir { at, prefix } => self.children(*at, prefix).into_iter().collect(),
            Node::File { .. } => return reply.error(libc::ENOTDIR),
        };
        for (name, is_dir) in listed {
            let Some(child) = self.child_node(&node, &name) else {
                continue;
            };
            let kind = if is_dir {
                FileType::Directory
            } else {
                FileType::RegularFile
            };
            entries.push((self.ino(child), kind, name));
        }
        for (i, (ino, kind, name)) in entries
            .iter()
            .enumerate()
            .skip(usize::try_from(offset).unwrap_or(0))
        {
            if reply.add(*ino, (i + 1) as i64, *kind, name) {
                break;
            }
        }
        reply.ok();
    }
}

fn options() -> Vec<MountOption> {
    vec![
        MountOption::FSName("kairos-store".into()),
        MountOption::Subtype("kairos".into()),
        MountOption::RO,
        MountOption::AllowOther,
        MountOption::DefaultPermissions,
    ]
}

/// Mounts the store read-only at `mountpoint` on a background thread;
/// dropping the session unmounts.
pub fn spawn(fs: StoreFs, mountpoint: &Path) -> std::io::Result<BackgroundSession> {
    fuser::spawn_mount2(fs, mountpoint, &options())
}
