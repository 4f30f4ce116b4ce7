//! Shared fixture for the shim tests: a source directory mounted through
//! the shim, its events captured into a spool journal, and reconstruction of
//! the data directory at an instant.
#![allow(clippy::unwrap_used, dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kairos_capture::event::WriteEvent;
use kairos_capture::shim::{self, Shim};
use kairos_capture::{EventSink, Journal, JournalSink, Replay, StoreSink};
use kairos_engine::{Store, StoreOptions};

/// A mounted shim over a fresh source directory.
pub struct ShimFixture {
    pub root: tempfile::TempDir,
    pub src: PathBuf,
    pub mnt: PathBuf,
    /// The spool journal (the reference log) when mounted with [`Self::mount`].
    pub sink: Option<Arc<JournalSink>>,
    /// The store sink when mounted with [`Self::mount_store`].
    pub store: Option<Arc<StoreSink>>,
    session: Option<fuser::BackgroundSession>,
}

/// FUSE is expected to work on the project's machines (root, /dev/fuse,
/// fusermount3 from Debian fuse3): if it does not, the test fails here with
/// the reason rather than skipping.
pub fn require_fuse() {
    assert!(
        Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: FUSE tests need the fuse kernel module (and Debian fuse3)"
    );
}

impl ShimFixture {
    /// Captures into a spool journal (the reference log).
    pub fn mount() -> Self {
        let root = tempfile::tempdir().unwrap();
        let sink = Arc::new(JournalSink::new(
            Journal::open(&root.path().join("spool")).unwrap(),
        ));
        let mut fx = Self::mount_with(root, sink.clone(), false);
        fx.sink = Some(sink);
        fx
    }

    /// Captures into an engine store.
    pub fn mount_store() -> Self {
        Self::mount_store_with(false)
    }

    /// Captures into an engine store, with the kernel's writeback cache
    /// when `writeback_cache` is set.
    pub fn mount_store_with(writeback_cache: bool) -> Self {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("store");
        Store::init(&dir, StoreOptions::default()).unwrap();
        let sink = Arc::new(StoreSink::new(Store::open(&dir).unwrap()));
        let mut fx = Self::mount_with(root, sink.clone(), writeback_cache);
        fx.store = Some(sink);
        fx
    }

    fn mount_with(
        root: tempfile::TempDir,
        sink: Arc<dyn EventSink>,
        writeback_cache: bool,
    ) -> Self {
        require_fuse();
        // Let applications running as other users (PostgreSQL) reach the mount.
        std::fs::set_permissions(
            root.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let src = root.path().join("src");
        let mnt = root.path().join("mnt");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::create_dir_all(&mnt).unwrap();
        let shim = Shim::new(&src, None, sink)
            .unwrap()
            .writeback_cache(writeback_cache);
        let session = shim::spawn(shim, &mnt)
            .unwrap_or_else(|e| panic!("mounting the shim at {} failed: {e}", mnt.display()));
        wait_mounted(&mnt);
        Self {
            root,
            src,
            mnt,
            sink: None,
            store: None,
            session: Some(session),
        }
    }

    /// The data directory as of `at`, from the engine store (every event
    /// submitted so far ingested first).
    pub fn restore_store_at(&self, at: i64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let store = self.store.as_ref().unwrap();
        store.sync().unwrap();
        store
            .with_store(|s| kairos_capture::restore_dir(s, "", Some(at), dir.path()))
            .unwrap();
        dir
    }

    /// The names of the live streams in the engine store (every event
    /// submitted so far ingested first).
    pub fn store_streams(&self) -> Vec<String> {
        self.list_streams(Store::streams)
    }

    /// The names of every stream the engine store holds, removed ones too.
    pub fn store_streams_all(&self) -> Vec<String> {
        self.list_streams(Store::streams_all)
    }

    fn list_streams(
        &self,
        list: fn(&Store) -> kairos_engine::Result<Vec<kairos_engine::StreamInfo>>,
    ) -> Vec<String> {
        let store = self.store.as_ref().unwrap();
        store.sync().unwrap();
        store
            .with_store(|s| list(s))
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect()
    }

    /// Every captured event so far, in sequence order.
    pub fn events(&self) -> Vec<WriteEvent> {
        self.sink
            .as_ref()
            .unwrap()
            .with(|j| {
                j.sync()?;
                j.read_from(0, usize::MAX)
            })
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect()
    }
}

impl Drop for ShimFixture {
    fn drop(&mut self) {
        // Unmount before the directories go away.
        drop(self.session.take());
    }
}

fn wait_mounted(mnt: &Path) {
    for _ in 0..200 {
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        if mounts
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(mnt.to_str().unwrap()))
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("{} did not appear in /proc/self/mounts", mnt.display());
}

/// Writes the data directory as of `at` into a new temporary directory.
pub fn restore_at(events: &[WriteEvent], at: i64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in Replay::at(events, at, 1 << 34).streams {
        let p = dir.path().join(&name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    dir
}
