//! The store: directory layout, writer lock, opening with recovery, and
//! batches — the one write path every capture method goes through.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rayon::prelude::*;

use crate::cache::ChunkCache;
use crate::chunk::{self, Dicts};
use crate::entry::Entry;
use crate::error::{Result, StoreError};
use crate::fault;
use crate::index::{self, Db, IxError, Loc, RwTxn, StreamRow, Tables};
use crate::pack::{self, PackWriter, RecordKind};
use crate::{Hash, ZERO_HASH};

/// Name of the store's configuration file.
pub const CONFIG_FILE: &str = "kairos-store";
/// Store format written by this version.
pub const FORMAT: u32 = 1;
/// Default block size of new streams.
pub const DEFAULT_BLOCK_SIZE: u32 = 8192;
/// Default size at which the active pack is sealed.
pub const DEFAULT_PACK_TARGET: u64 = 256 << 20;
/// Bytes of decompressed chunks kept per open store.
const CACHE_BYTES: usize = 64 << 20;
/// New chunk bytes between checks of the dictionary against the data.
const DICT_CHECK_BYTES: u64 = 256 << 20;
/// An `Entries` record is written when this many bytes of entries are pending.
pub(crate) const ENTRIES_FLUSH: usize = 1 << 20;

/// Settings chosen at `kairos init`, stored in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Block size of new streams (power of two, 4–64 KiB).
    pub block_size: u32,
    /// Size at which the active pack is sealed and a new one started.
    pub pack_target: u64,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            block_size: DEFAULT_BLOCK_SIZE,
            pack_target: DEFAULT_PACK_TARGET,
        }
    }
}

impl StoreOptions {
    fn encode(&self) -> String {
        format!(
            "kairos-store-format {FORMAT}\nblock-size {}\npack-target-bytes {}\n",
            self.block_size, self.pack_target
        )
    }

    fn decode(dir: &Path, text: &str) -> Result<Self> {
        let bad = |detail: String| StoreError::NotAStore {
            dir: dir.to_path_buf(),
            detail,
        };
        let mut opts = StoreOptions::default();
        let mut format = None;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (k, v) = line
                .split_once(' ')
                .ok_or_else(|| bad(format!("config line {line:?} is not 'key value'")))?;
            let num = || {
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| bad(format!("config {k} = {v:?} is not a number")))
            };
            match k {
                "kairos-store-format" => format = Some(num()?),
                "block-size" => opts.block_size = u32::try_from(num()?).unwrap_or(0),
                "pack-target-bytes" => opts.pack_target = num()?,
                _ => return Err(bad(format!("unknown config key {k:?}"))),
            }
        }
        match format {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => {
                return Err(bad(format!(
                    "store format {f} is not supported (this kairos reads {FORMAT})"
                )));
            }
            None => {
                return Err(bad(format!(
                    "{CONFIG_FILE} has no kairos-store-format line"
                )));
            }
        }
        opts.validate().map_err(|e| bad(e.to_string()))?;
        Ok(opts)
    }

    fn validate(&self) -> Result<()> {
        if !self.block_size.is_power_of_two() || !(4096..=65536).contains(&self.block_size) {
            return Err(StoreError::Invalid(format!(
                "block size {} is not a power of two between 4 KiB and 64 KiB",
                self.block_size
            )));
        }
        if self.pack_target < 4096 {
            return Err(StoreError::Invalid(
                "pack target must be at least 4096 bytes".into(),
            ));
        }
        Ok(())
    }
}

/// The shared, read-side state of an open store (also held by views).
pub(crate) struct Inner {
    pub dir: PathBuf,
    /// The index environment was opened read-write.
    writable: bool,
    pub opts: StoreOptions,
    pub db: Db,
    packs: RwLock<HashMap<u32, Arc<(File, u64)>>>,
    pub dicts: RwLock<Dicts>,
    pub cache: ChunkCache,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl Inner {
    pub fn packs_dir(&self) -> PathBuf {
        self.dir.join("packs")
    }

    pub fn index_dir(&self) -> PathBuf {
        self.dir.join("index")
    }

    pub fn pack_path(&self, id: u32) -> PathBuf {
        pack::pack_path(&self.packs_dir(), id)
    }

    /// Maps an index error to a store error naming the index directory.
    pub fn ix(&self, e: IxError) -> StoreError {
        ix_err(&self.index_dir(), e)
    }

    /// Opens pack `id` for reading (cached). `refresh` reopens it (a writer
    /// appended to it since).
    fn pack_file(&self, id: u32, refresh: bool) -> Result<Arc<(File, u64)>> {
        if !refresh
            && let Some(f) = self
                .packs
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(&id)
        {
            return Ok(f.clone());
        }
        let path = self.pack_path(id);
        let f = Arc::new(pack::open_pack(&path, id)?);
        self.packs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, f.clone());
        Ok(f)
    }

    /// Drops cached handles of deleted packs.
    pub fn forget_packs(&self, ids: &HashSet<u32>) {
        self.packs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|id, _| !ids.contains(id));
    }

    /// Reads and checks one record at `loc`.
    pub fn read_record(&self, loc: Loc) -> Result<(RecordKind, Vec<u8>)> {
        let path = self.pack_path(loc.pack);
        let mut f = self.pack_file(loc.pack, false)?;
        if loc.offset + pack::RECORD_OVERHEAD + u64::from(loc.payload_len) > f.1 {
            f = self.pack_file(loc.pack, true)?;
        }
        pack::read_record(&f.0, &path, loc.offset, f.1)
    }

    /// The content of chunk `hash` stored at `loc`: read, crc-checked,
    /// decompressed, BLAKE3-checked, cached (with the other members of its
    /// group). The error text names the pack, the offset and what failed.
    pub fn load_chunk(&self, hash: &Hash, loc: Loc) -> std::result::Result<Arc<[u8]>, String> {
        if let Some(d) = self.cache.get(hash) {
            return Ok(d);
        }
        let members = self.decode_record(loc)?;
        for (h, data) in &members {
            self.cache.insert(*h, data.clone());
        }
        pick(&members, hash, loc, || self.chunk_at(hash, loc))
    }

    pub(crate) fn chunk_at(&self, hash: &Hash, loc: Loc) -> String {
        format!(
            "chunk {} in {} at offset {}",
            hex(hash),
            self.pack_path(loc.pack).display(),
            loc.offset
        )
    }

    /// Every chunk the record at `loc` holds (one for a `Chunk` record, all
    /// members for a `Group`), decompressed and BLAKE3-checked. The error
    /// names the pack and offset.
    pub fn decode_record(&self, loc: Loc) -> std::result::Result<Members, String> {
        let path = self.pack_path(loc.pack);
        let at = || format!("record in {} at offset {}", path.display(), loc.offset);
        let (kind, payload) = self
            .read_record(loc)
            .map_err(|e| format!("{}: {e}", at()))?;
        let (dict_no, members, frame) = match kind {
            RecordKind::Chunk => {
                let (hash, raw_len, dict_no, frame) = chunk::decode(&payload)
                    .ok_or_else(|| format!("{}: chunk header is cut short", at()))?;
                if raw_len as usize > 1 << 20 {
                    return Err(format!("{}: raw length {raw_len} is implausible", at()));
                }
                (dict_no, vec![(hash, raw_len)], frame)
            }
            RecordKind::Group => chunk::decode_group(&payload)
                .ok_or_else(|| format!("{}: group header is malformed", at()))?,
            other => return Err(format!("{}: record is a {other:?}, not a chunk", at())),
        };
        let dict = if dict_no == 0 {
            None
        } else {
            Some(self.dict(dict_no).map_err(|e| format!("{}: {e}", at()))?)
        };
        let raw: usize = members.iter().map(|(_, l)| *l as usize).sum();
        let data = chunk::decompress(frame, raw, dict.as_deref())
            .map_err(|e| format!("{}: zstd: {e}", at()))?;
        let mut out = Vec::with_capacity(members.len());
        let mut off = 0;
        for (hash, len) in members {
            let part = &data[off..off + len as usize];
            off += len as usize;
            if blake3::hash(part).as_bytes() != &hash {
                return Err(format!(
                    "{}: chunk {} fails its BLAKE3 check",
                    at(),
                    hex(&hash)
                ));
            }
            out.push((hash, Arc::from(part)));
        }
        Ok(out)
    }

    /// Dictionary `no`, loaded from its `Dict` record if it is not in
    /// memory (a writer may also have added it after this store was
    /// opened). The error names the record and what is wrong with it.
    pub(crate) fn dict(&self, no: u32) -> std::result::Result<Arc<chunk::Prepared>, String> {
        if let Some(d) = self.dicts_read().get(no) {
            return Ok(d);
        }
        let loc = read_with(self, |txn, t| index::dict(txn, t, no))
            .map_err(|e| format!("dictionary {no}: {e}"))?
            .ok_or_else(|| format!("dictionary {no} is missing"))?;
        let at = || {
            format!(
                "dictionary {no} in {} at offset {}",
                self.pack_path(loc.pack).display(),
                loc.offset
            )
        };
        let (_, payload) = self
            .read_record(loc)
            .map_err(|e| format!("{}: {e}", at()))?;
        let (_, d) = chunk::decode_dict(&payload).map_err(|e| format!("{}: {e}", at()))?;
        let mut dicts = self.dicts_write();
        if let Some(d) = dicts.get(no) {
            return Ok(d);
        }
        Ok(dicts.insert(no, d))
    }

    fn dicts_read(&self) -> std::sync::RwLockReadGuard<'_, Dicts> {
        self.dicts.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn dicts_write(&self) -> std::sync::RwLockWriteGuard<'_, Dicts> {
        self.dicts.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes every committed index transaction durable. Batch commits do
    /// not sync the index (the packs are; see [`Batch::commit`]); this is
    /// called where the index must not fall back behind the packs on a
    /// power cut: before gc deletes packs, after a pack is sealed.
    pub fn sync_index(&self) -> Result<()> {
        self.db
            .sync(true)
            .map(|_| ())
            .map_err(|e| self.ix(IxError::Mdbx("sync", e)))
    }

    /// Learns which dictionary is the newest (new chunks are compressed
    /// with it); dictionaries themselves load when first needed.
    pub fn load_dicts(&self) -> Result<()> {
        let newest = read_with(self, index::dicts)?
            .iter()
            .map(|(no, _)| *no)
            .max()
            .unwrap_or(0);
        let mut d = self.dicts_write();
        d.current = d.current.max(newest);
        Ok(())
    }
}

/// Stores open in this process, by canonical directory: libmdbx opens an
/// environment once per process, so further `Store`s of the same store
/// share it (views keep it alive).
static OPEN: Mutex<Vec<(PathBuf, std::sync::Weak<Inner>)>> = Mutex::new(Vec::new());

fn canonical(dir: &Path) -> PathBuf {
    std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf())
}

/// The open index environment of `dir` in this process, if any.
fn opened(dir: &Path) -> Option<Arc<Inner>> {
    let dir = canonical(dir);
    let open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    open.iter()
        .find(|(d, _)| *d == dir)
        .and_then(|(_, w)| w.upgrade())
}

fn register(inner: &Arc<Inner>) {
    let mut open = OPEN.lock().unwrap_or_else(PoisonError::into_inner);
    open.retain(|(_, w)| w.strong_count() > 0);
    open.push((canonical(&inner.dir), Arc::downgrade(inner)));
}

fn in_use(dir: &Path, how: &str) -> StoreError {
    StoreError::Invalid(format!(
        "{}: the store is {how} elsewhere in this process; drop those handles first",
        dir.display()
    ))
}

/// The chunks of one record, in record order.
pub type Members = Vec<(Hash, Arc<[u8]>)>;

/// Chunk `hash`, member `loc.member` of `members`.
pub(crate) fn pick(
    members: &[(Hash, Arc<[u8]>)],
    hash: &Hash,
    loc: Loc,
    at: impl Fn() -> String,
) -> std::result::Result<Arc<[u8]>, String> {
    match members.get(loc.member as usize) {
        Some((h, d)) if h == hash => Ok(d.clone()),
        Some((h, _)) => Err(format!("{}: record holds chunk {} instead", at(), hex(h))),
        None => Err(format!("{}: the record has no member {}", at(), loc.member)),
    }
}

pub(crate) fn ix_err(dir: &Path, e: IxError) -> StoreError {
    match e {
        IxError::Mdbx(op, error) => StoreError::Index {
            dir: dir.to_path_buf(),
            op,
            error,
        },
        IxError::Value(table, detail) => StoreError::IndexValue {
            dir: dir.to_path_buf(),
            table,
            detail,
        },
    }
}

/// Lower-case hex of a hash.
pub fn hex(h: &[u8]) -> String {
    use std::fmt::Write as _;
    h.iter()
        .fold(String::with_capacity(h.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The writer's state: the lock and the active pack.
#[derive(Debug)]
pub(crate) struct Writer {
    _lock: File,
    pub active: Option<PackWriter>,
    pub next_pack: u32,
    broken: bool,
    /// New chunk bytes since the dictionary was last checked for drift.
    dict_bytes: u64,
    /// How many new chunk bytes between drift checks.
    dict_check: u64,
    /// Pages gathered for the store's first content dictionary.
    sample: chunk::ContentSample,
}

/// An open store. Open it with [`Store::open`] to write (takes the writer
/// lock, recovers after a crash) or [`Store::open_read`] to read alongside
/// a writer.
#[derive(Debug)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
    /// The writer state; locked only by the group-commit leader (methods
    /// taking `&mut self` reach it without locking).
    pub(crate) writer: Option<Mutex<Writer>>,
    /// Concurrent [`Store::ingest`] calls waiting to share a batch.
    pub(crate) group: crate::group::Group,
    /// Syncs the index in the background (writers only).
    _syncer: Option<IndexSyncer>,
}

/// How often the index is made durable in the background: batch commits
/// do not sync it (see [`Batch::commit`]), this bounds how many batches a
/// power cut makes replay redo from the packs.
const INDEX_SYNC_PERIOD: std::time::Duration = std::time::Duration::from_secs(1);

/// A thread that syncs the index every [`INDEX_SYNC_PERIOD`] until dropped.
#[derive(Debug)]
struct IndexSyncer {
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl IndexSyncer {
    fn start(inner: Arc<Inner>) -> Result<Self> {
        let stop = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("kairos-index-sync".into())
            .spawn(move || {
                let (lock, cv) = &*flag;
                let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                while !*stopped {
                    stopped = cv
                        .wait_timeout(stopped, INDEX_SYNC_PERIOD)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    if let Err(e) = inner.sync_index() {
                        tracing::warn!("background index sync failed: {e}");
                    }
                }
            })
            .map_err(StoreError::io("kairos-index-sync", "start thread"))?;
        Ok(IndexSyncer {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for IndexSyncer {
    fn drop(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What a committed batch did. Returned only once the batch is durable:
/// its pack bytes fsynced and its index transaction committed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ack {
    /// The batch's sequence number (strictly increasing per store).
    pub seq: u64,
    /// Block versions recorded.
    pub blocks: u64,
    /// Chunks newly stored (the rest were already in the store or zero).
    pub new_chunks: u64,
    /// Compressed bytes of the new chunks.
    pub stored_bytes: u64,
}

impl Store {
    /// Creates a store in `dir` (which must be empty or absent).
    pub fn init(dir: &Path, opts: StoreOptions) -> Result<()> {
        opts.validate()?;
        if dir.exists()
            && std::fs::read_dir(dir)
                .map_err(StoreError::io(dir, "read directory"))?
                .next()
                .is_some()
        {
            return Err(StoreError::Invalid(format!(
                "{}: directory is not empty; a store needs a new or empty directory",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir.join("packs"))
            .map_err(StoreError::io(dir, "create store directory"))?;
        let cfg = dir.join(CONFIG_FILE);
        let tmp = dir.join(format!("{CONFIG_FILE}.tmp"));
        let mut f = File::create(&tmp).map_err(StoreError::io(&tmp, "create config"))?;
        f.write_all(opts.encode().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(StoreError::io(&tmp, "write config"))?;
        std::fs::rename(&tmp, &cfg).map_err(StoreError::io(&cfg, "rename config"))?;
        let idx = dir.join("index");
        std::fs::create_dir_all(&idx).map_err(StoreError::io(&idx, "create index directory"))?;
        index::open(&idx, true).map_err(|e| ix_err(&idx, e))?;
        pack::sync_dir(dir)
    }

    fn read_config(dir: &Path) -> Result<StoreOptions> {
        let cfg = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&cfg).map_err(|e| StoreError::NotAStore {
            dir: dir.to_path_buf(),
            detail: format!(
                "cannot read {CONFIG_FILE}: {e} (create a store with `kairos init DIR`)"
            ),
        })?;
        StoreOptions::decode(dir, &text)
    }

    fn lock(dir: &Path) -> Result<File> {
        let path = dir.join("lock");
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(StoreError::io(&path, "open lock file"))?;
        match f.try_lock() {
            Ok(()) => {
                f.set_len(0)
                    .map_err(StoreError::io(&path, "write lock file"))?;
                f.write_all(std::process::id().to_string().as_bytes())
                    .map_err(StoreError::io(&path, "write lock file"))?;
                Ok(f)
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = f.read_to_string(&mut s);
                Err(StoreError::Locked {
                    pid: s.trim().parse().unwrap_or(0),
                    lock: path,
                })
            }
            Err(std::fs::TryLockError::Error(e)) => Err(StoreError::io(&path, "lock store")(e)),
        }
    }

    fn open_inner(dir: &Path, write: bool) -> Result<Inner> {
        let opts = Self::read_config(dir)?;
        let idx = dir.join("index");
        let db = index::open(&idx, write).map_err(|e| ix_err(&idx, e))?;
        Ok(Inner {
            dir: dir.to_path_buf(),
            writable: write,
            opts,
            db,
            packs: RwLock::new(HashMap::new()),
            dicts: RwLock::new(Dicts::default()),
            cache: ChunkCache::new(CACHE_BYTES),
        })
    }

    /// Opens for writing: takes the writer lock ("store is locked by pid N"
    /// if another process has it), then brings the index up to date with
    /// the packs — replaying batches that were durable in a pack but not
    /// yet committed to the index, and cutting off a torn tail of the
    /// active pack (logged with `tracing::warn!`).
    pub fn open(dir: &Path) -> Result<Store> {
        Self::read_config(dir)?;
        let lock = Self::lock(dir)?;
        match opened(dir) {
            // Views of an earlier writer of this process keep its index open.
            Some(inner) if inner.writable => Self::start_writer(inner, lock),
            Some(_) => Err(in_use(dir, "open for reading")),
            None => Self::open_locked(dir, lock),
        }
    }

    /// Recreates the index from the pack files alone (`kairos verify
    /// --rebuild-index`): the packs are authoritative, the index a cache.
    pub fn rebuild_index(dir: &Path) -> Result<Store> {
        Self::read_config(dir)?;
        let lock = Self::lock(dir)?;
        if opened(dir).is_some() {
            return Err(in_use(dir, "open (views, readers)"));
        }
        let idx = dir.join("index");
        if idx.exists() {
            std::fs::remove_dir_all(&idx).map_err(StoreError::io(&idx, "remove old index"))?;
        }
        Self::open_locked(dir, lock)
    }

    fn open_locked(dir: &Path, lock: File) -> Result<Store> {
        let idx = dir.join("index");
        if !idx.join("mdbx.dat").exists() {
            tracing::warn!(
                "{}: index missing, rebuilding it from the packs",
                idx.display()
            );
            std::fs::create_dir_all(&idx)
                .map_err(StoreError::io(&idx, "create index directory"))?;
        }
        let mut inner = Self::open_inner(dir, true)?;
        if let Some(old) = Self::stale_index(&inner)? {
            tracing::warn!(
                "{}: index format {old} is not {}; rebuilding it from the packs",
                idx.display(),
                index::FORMAT
            );
            drop(inner);
            std::fs::remove_dir_all(&idx).map_err(StoreError::io(&idx, "remove old index"))?;
            std::fs::create_dir_all(&idx)
                .map_err(StoreError::io(&idx, "create index directory"))?;
            inner = Self::open_inner(dir, true)?;
        }
        let inner = Arc::new(inner);
        register(&inner);
        Self::start_writer(inner, lock)
    }

    /// Recovers (replays the packs past the index's watermark) and starts
    /// the writer on an open read-write index.
    fn start_writer(inner: Arc<Inner>, lock: File) -> Result<Store> {
        let mut writer = Writer {
            _lock: lock,
            active: None,
            next_pack: 1,
            broken: false,
            dict_bytes: 0,
            dict_check: DICT_CHECK_BYTES,
            sample: chunk::ContentSample::new(chunk::CONTENT_DICT_BYTES),
        };
        crate::replay::recover(&inner, &mut writer)?;
        inner.load_dicts()?;
        Ok(Store {
            _syncer: Some(IndexSyncer::start(inner.clone())?),
            inner,
            writer: Some(Mutex::new(writer)),
            group: crate::group::Group::default(),
        })
    }

    /// The format of a non-empty index written by another layout version.
    fn stale_index(inner: &Inner) -> Result<Option<u64>> {
        read_with(inner, |txn, t| {
            let used = index::meta_u64(txn, t, "next_seq")?.is_some();
            let format = index::meta_u64(txn, t, "format")?.unwrap_or(1);
            Ok((used && format != index::FORMAT).then_some(format))
        })
    }

    /// Opens for reading only: no lock, never modifies the store. Sees every
    /// batch committed before each read transaction starts. In a process
    /// that already has the store open (a writer, or other readers), the
    /// new `Store` shares that index environment.
    pub fn open_read(dir: &Path) -> Result<Store> {
        if let Some(inner) = opened(dir) {
            return Ok(Store {
                inner,
                writer: None,
                group: crate::group::Group::default(),
                _syncer: None,
            });
        }
        let inner = match Self::open_inner(dir, false) {
            Err(StoreError::Index {
                error: libmdbx::Error::WannaRecovery,
                ..
            }) => Self::recover_then_open_inner(dir)?,
            other => other?,
        };
        if let Some(old) = Self::stale_index(&inner)? {
            return Err(StoreError::Invalid(format!(
                "{}: the index has format {old}, this kairos reads {}; open the store for \
                 writing once (or run `kairos verify --rebuild-index`) to rebuild it",
                inner.index_dir().display(),
                index::FORMAT
            )));
        }
        inner.load_dicts()?;
        let inner = Arc::new(inner);
        register(&inner);
        Ok(Store {
            inner,
            writer: None,
            group: crate::group::Group::default(),
            _syncer: None,
        })
    }

    /// The index was left by a writer that stopped without a clean close
    /// (killed, power cut): its newest commits are not synced and libmdbx
    /// cannot roll them back or sync them read-only. If no writer holds the
    /// store, open it for writing once — that replays the acknowledged
    /// batches the index lacks and closes cleanly — then open it for
    /// reading. With a live writer (or no write permission) the reader gets
    /// the lock error, which names the writer.
    fn recover_then_open_inner(dir: &Path) -> Result<Inner> {
        tracing::info!(
            "{}: the index was not closed cleanly; bringing it up to date before reading",
            dir.display()
        );
        drop(Self::open(dir)?);
        Self::open_inner(dir, false)
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The options the store was created with.
    pub fn options(&self) -> StoreOptions {
        self.inner.opts
    }

    /// Sets how many new chunk bytes pass between dictionary drift checks
    /// (default 256 MiB). For tests, which cannot write that much.
    #[doc(hidden)]
    pub fn set_dict_check_bytes(&mut self, bytes: u64) {
        if let Some(w) = self.writer.as_mut() {
            w.get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .dict_check = bytes;
        }
    }

    /// Sets the size of the content dictionary the writer gathers (default
    /// [`chunk::CONTENT_DICT_BYTES`]). For tests, which cannot write that much.
    #[doc(hidden)]
    pub fn set_content_dict_bytes(&mut self, bytes: usize) {
        if let Some(w) = self.writer.as_mut() {
            w.get_mut().unwrap_or_else(PoisonError::into_inner).sample =
                chunk::ContentSample::new(bytes);
        }
    }

    /// Starts a batch. Everything added to it becomes durable and visible
    /// atomically at [`Batch::commit`]; dropping it uncommitted discards it.
    pub fn begin(&mut self) -> Result<Batch<'_>> {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("store was opened read-only".into()))?
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        Batch::start(&self.inner, writer)
    }

    /// Runs `f` with a read transaction and the table handles.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&index::RoTxn<'_>, &Tables<'_>) -> index::IxResult<T>,
    ) -> Result<T> {
        read_with(&self.inner, f)
    }
}

/// Runs `f` in a read transaction of `inner`'s index.
pub(crate) fn read_with<T>(
    inner: &Inner,
    f: impl FnOnce(&index::RoTxn<'_>, &Tables<'_>) -> index::IxResult<T>,
) -> Result<T> {
    let txn = inner
        .db
        .begin_ro_txn()
        .map_err(|e| inner.ix(IxError::Mdbx("begin", e)))?;
    let t = Tables::open(&txn).map_err(|e| inner.ix(e))?;
    f(&txn, &t).map_err(|e| inner.ix(e))
}

/// One atomic, durable group of changes (see [`Store::begin`]).
pub struct Batch<'s> {
    inner: &'s Inner,
    writer: &'s mut Writer,
    txn: Option<RwTxn<'s>>,
    seq: u64,
    start: u64,
    entries: Vec<u8>,
    entry_count: u64,
    new_dicts: Vec<u32>,
    /// Groups stored by this batch, by (stream, first block): their record
    /// offset and member hashes, so the blocks' entries become one `Run`.
    runs: HashMap<(u32, u64), (u64, Vec<Hash>)>,
    ack: Ack,
    done: bool,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// A block to record: number, hash (zero hash for an all-zero block), content.
pub type BlockIn<'a> = (u64, Hash, &'a [u8]);
/// A block version to record: stream, block number, instant, hash.
pub type BlockAt = (u32, u64, i64, Hash);
/// A chunk to store: the stream and block it comes from (runs of
/// consecutive blocks share a zstd frame), its hash, its content.
pub type ChunkIn<'a> = (u32, u64, Hash, &'a [u8]);

impl<'s> Batch<'s> {
    /// Starts a batch on the writer state (see [`Store::begin`]).
    pub(crate) fn start(inner: &'s Inner, writer: &'s mut Writer) -> Result<Batch<'s>> {
        if writer.broken {
            return Err(StoreError::Invalid(
                "an earlier batch could not be rolled back; reopen the store".into(),
            ));
        }
        if writer.active.is_none() {
            writer.active = Some(PackWriter::create(&inner.packs_dir(), writer.next_pack)?);
            writer.next_pack += 1;
        }
        let start = writer.active.as_ref().map_or(0, PackWriter::len);
        let txn = inner
            .db
            .begin_rw_txn()
            .map_err(|e| inner.ix(IxError::Mdbx("begin", e)))?;
        let seq = {
            let t = Tables::open(&txn).map_err(|e| inner.ix(e))?;
            index::meta_u64(&txn, &t, "next_seq")
                .map_err(|e| inner.ix(e))?
                .unwrap_or(1)
        };
        Ok(Batch {
            inner,
            writer,
            txn: Some(txn),
            seq,
            start,
            entries: Vec::new(),
            entry_count: 0,
            new_dicts: Vec::new(),
            runs: HashMap::new(),
            ack: Ack {
                seq,
                ..Ack::default()
            },
            done: false,
        })
    }

    /// What the batch has recorded so far (its sequence number and counts).
    pub(crate) fn ack_so_far(&self) -> Ack {
        self.ack
    }

    fn txn(&self) -> &RwTxn<'s> {
        // Only `commit` takes the transaction, and it consumes the batch.
        self.txn
            .as_ref()
            .unwrap_or_else(|| unreachable!("batch used after commit"))
    }

    /// Runs an index read or update in the batch's transaction.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&RwTxn<'s>, &Tables<'_>) -> index::IxResult<T>,
    ) -> Result<T> {
        let txn = self.txn();
        let t = Tables::open(txn).map_err(|e| self.inner.ix(e))?;
        f(txn, &t).map_err(|e| self.inner.ix(e))
    }

    fn active(&mut self) -> &mut PackWriter {
        self.writer
            .active
            .as_mut()
            .unwrap_or_else(|| unreachable!("begin() opened the active pack"))
    }

    /// The batch's sequence number.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Records `e` in the index transaction and the pack's entry log.
    pub(crate) fn push(&mut self, e: &Entry) -> Result<()> {
        let seq = self.seq;
        self.with(|txn, t| index::apply(txn, t, seq, e))?;
        self.record(e)?;
        if let Entry::Block { .. } = e {
            self.ack.blocks += 1;
        }
        Ok(())
    }

    /// Appends `e` to the pack's entry log (already applied to the index).
    fn record(&mut self, e: &Entry) -> Result<()> {
        if self.entries.is_empty() {
            self.entries.extend_from_slice(&self.seq.to_le_bytes());
        }
        e.encode(&mut self.entries);
        self.entry_count += 1;
        if self.entries.len() >= ENTRIES_FLUSH {
            self.flush_entries()?;
        }
        Ok(())
    }

    fn flush_entries(&mut self) -> Result<()> {
        if self.entries.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.entries);
        self.active().append(RecordKind::Entries, &[&buf])?;
        Ok(())
    }

    /// The stream named `name`, created (with the store's block size) if new.
    pub fn stream(&mut self, name: &str) -> Result<StreamRow> {
        if let Some(s) = self.with(|txn, t| index::stream_by_name(txn, t, name))? {
            return Ok(s);
        }
        if name.is_empty() {
            return Err(StoreError::Invalid("stream name is empty".into()));
        }
        let id = self
            .with(|txn, t| index::meta_u64(txn, t, "next_stream"))?
            .unwrap_or(1);
        let id = u32::try_from(id).map_err(|_| StoreError::Invalid("too many streams".into()))?;
        let row = StreamRow {
            id,
            block_size: self.inner.opts.block_size,
            name: name.to_owned(),
        };
        self.push(&Entry::Stream {
            id,
            block_size: row.block_size,
            name: row.name.clone(),
        })?;
        Ok(row)
    }

    /// The stream's latest instant (including this batch so far).
    pub fn last_instant(&self, stream: u32) -> Result<Option<i64>> {
        self.with(|txn, t| index::instant_at(txn, t, stream, i64::MAX))
    }

    /// The stream's current length.
    pub fn size(&self, stream: u32) -> Result<u64> {
        self.with(|txn, t| index::size_at(txn, t, stream, i64::MAX))
    }

    /// The latest hashes of blocks `first..first + out.len()`.
    pub fn head_hashes(&self, stream: u32, first: u64, out: &mut [Hash]) -> Result<()> {
        self.with(|txn, t| index::head_range(txn, t, stream, first, out))
    }

    /// The current content of a block (zeros if never written).
    pub fn current_block(&mut self, stream: &StreamRow, block: u64) -> Result<Vec<u8>> {
        let head = self.with(|txn, t| index::head(txn, t, stream.id, block))?;
        let Some((_, hash)) = head.filter(|(_, h)| *h != ZERO_HASH) else {
            return Ok(vec![0; stream.block_size as usize]);
        };
        let loc = self
            .with(|txn, t| index::chunk(txn, t, &hash))?
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "chunk {} is referenced but not in the index; run `kairos verify`",
                    hex(&hash)
                ))
            })?;
        // The chunk may still sit in the active pack's write buffer.
        self.active().flush()?;
        self.inner
            .load_chunk(&hash, loc)
            .map(|d| d.to_vec())
            .map_err(|detail| StoreError::Pack {
                pack: self.inner.pack_path(loc.pack),
                offset: loc.offset,
                detail,
            })
    }

    /// Records versions of blocks of `stream` at instant `ts`. Stores each
    /// chunk not yet in the store (compressed in parallel), then the entries.
    pub fn put_blocks(&mut self, stream: u32, ts: i64, blocks: &[BlockIn<'_>]) -> Result<()> {
        let fresh: Vec<ChunkIn<'_>> = blocks.iter().map(|&(b, h, d)| (stream, b, h, d)).collect();
        self.store_new_chunks(&fresh)?;
        let versions: Vec<BlockAt> = blocks.iter().map(|&(b, h, _)| (stream, b, ts, h)).collect();
        self.push_blocks(&versions)
    }

    /// Records block versions, in order: where they are the members of a
    /// group this batch stored, in member order at one instant, as one
    /// `Run` entry; otherwise one `Block` entry each.
    pub fn push_blocks(&mut self, versions: &[BlockAt]) -> Result<()> {
        let mut rest = versions;
        while let Some(&(stream, block, ts, hash)) = rest.first() {
            let run =
                self.runs.get(&(stream, block)).filter(|(_, members)| {
                    rest.len() >= members.len()
                        && rest.iter().zip(members).zip(block..).all(
                            |((&(s, b, t, h), m), want)| {
                                s == stream && b == want && t == ts && h == *m
                            },
                        )
                });
            let Some((group, members)) = run.cloned() else {
                self.push_block(stream, block, ts, hash)?;
                rest = &rest[1..];
                continue;
            };
            self.runs.remove(&(stream, block));
            let seq = self.seq;
            self.with(|txn, t| index::apply_run(txn, t, seq, (stream, block, ts), &members))?;
            self.record(&Entry::Run {
                stream,
                block,
                ts,
                group,
            })?;
            self.ack.blocks += members.len() as u64;
            rest = &rest[members.len()..];
        }
        Ok(())
    }

    /// Records one block version whose chunk is already stored (or zero).
    pub fn push_block(&mut self, stream: u32, block: u64, ts: i64, hash: Hash) -> Result<()> {
        self.push(&Entry::Block {
            stream,
            block,
            ts,
            hash,
        })
    }

    /// Stores the chunks among `chunks` that the store does not hold yet
    /// (zero blocks are never stored; duplicates are stored once).
    pub fn store_new_chunks(&mut self, chunks: &[ChunkIn<'_>]) -> Result<()> {
        let mut fresh: Vec<ChunkIn<'_>> = Vec::new();
        {
            let mut seen = HashSet::new();
            let txn = self.txn();
            let t = Tables::open(txn).map_err(|e| self.inner.ix(e))?;
            for &(stream, block, hash, data) in chunks {
                if hash != ZERO_HASH
                    && seen.insert(hash)
                    && index::chunk(txn, &t, &hash)
                        .map_err(|e| self.inner.ix(e))?
                        .is_none()
                {
                    fresh.push((stream, block, hash, data));
                }
            }
        }
        self.store_chunks(&fresh)
    }

    fn store_chunks(&mut self, fresh: &[ChunkIn<'_>]) -> Result<()> {
        if fresh.is_empty() {
            return Ok(());
        }
        self.maybe_train(fresh)?;
        let dict_no = self.inner.dicts_read().current;
        let dict = self.current_dict(dict_no)?;
        // Runs of consecutive blocks of one stream, up to GROUP_BYTES each: a
        // group is read back together (a restore, a scan of the file), so
        // scattered blocks get frames of their own.
        let mut groups: Vec<&[ChunkIn<'_>]> = Vec::new();
        let mut rest = fresh;
        while !rest.is_empty() {
            let mut n = 0;
            let mut bytes = 0;
            while let Some(&(s, b, _, d)) = rest.get(n)
                && (n == 0
                    || (bytes + d.len() <= chunk::GROUP_BYTES
                        && rest
                            .get(n - 1)
                            .is_some_and(|&(ps, pb, _, _)| ps == s && pb + 1 == b)))
            {
                bytes += d.len();
                n += 1;
            }
            let (g, r) = rest.split_at(n);
            groups.push(g);
            rest = r;
        }
        let frames: Vec<std::result::Result<Vec<u8>, String>> = groups
            .par_iter()
            .map(|g| {
                let plain: Vec<u8> = g
                    .iter()
                    .flat_map(|(_, _, _, d)| d.iter().copied())
                    .collect();
                chunk::compress(&plain, dict.as_deref())
            })
            .collect();
        for (g, frame) in groups.iter().zip(frames) {
            let frame = frame.map_err(|e| StoreError::Invalid(format!("zstd failed: {e}")))?;
            let members: Vec<chunk::Member> =
                g.iter().map(|(_, _, h, d)| (*h, d.len() as u32)).collect();
            let head = chunk::encode_group_header(dict_no, &members);
            let pack_id = self.active().id();
            let offset = self.active().append(RecordKind::Group, &[&head, &frame])?;
            let payload_len = (head.len() + frame.len()) as u32;
            if let Some(&(stream, first, _, _)) = g.first() {
                let hashes = members.iter().map(|(h, _)| *h).collect();
                self.runs.insert((stream, first), (offset, hashes));
            }
            for (i, (_, _, hash, _)) in g.iter().enumerate() {
                let loc = Loc {
                    member: i as u32,
                    ..Loc::record(pack_id, offset, payload_len)
                };
                self.with(|txn, t| index::put_chunk(txn, t, hash, loc, false))?;
            }
            self.ack.new_chunks += g.len() as u64;
            self.ack.stored_bytes += u64::from(payload_len) + pack::RECORD_OVERHEAD;
        }
        Ok(())
    }

    /// Dictionary `no` (loaded if needed), `None` for 0.
    fn current_dict(&self, no: u32) -> Result<Option<Arc<chunk::Prepared>>> {
        if no == 0 {
            return Ok(None);
        }
        self.inner
            .dict(no)
            .map(Some)
            .map_err(|e| StoreError::Invalid(format!("cannot compress new chunks: {e}")))
    }

    /// Chooses the dictionary for new chunks. The store's content
    /// dictionary is made once from the writer's sample of new chunks
    /// ([`chunk::ContentSample`]) as soon as the sample is full, and is then
    /// used for every new chunk; stores keep it for good (no drift checks).
    /// Until then, a trained dictionary: the first from the first batch
    /// that stores at least [`chunk::DICT_MIN_SAMPLES`] new blocks; then,
    /// every `dict_check` bytes of new chunks, a drift check (see
    /// [`chunk::retrain`]) may make a dictionary trained on this batch the
    /// current one. Older dictionaries stay: chunks name theirs.
    fn maybe_train(&mut self, fresh: &[ChunkIn<'_>]) -> Result<()> {
        let current = self.inner.dicts_read().current;
        let cur = self.current_dict(current)?;
        if cur.as_ref().is_some_and(|d| d.is_content()) {
            return Ok(());
        }
        for (_, _, _, d) in fresh {
            self.writer.sample.offer(d);
        }
        if self.writer.sample.is_full() {
            let (raw, trial) = self.writer.sample.finish();
            let Some(d) = chunk::Prepared::content(raw) else {
                self.writer.sample.stop();
                return Ok(());
            };
            let trial: Vec<&[u8]> = trial.iter().map(Vec::as_slice).collect();
            if !chunk::content_wins(&d, cur.as_deref(), &trial) {
                tracing::info!(
                    "{}: a content dictionary of sampled pages saves less than {} % over dictionary {current} on held-out new chunks; not used",
                    self.inner.dir.display(),
                    chunk::CONTENT_GAIN_PERCENT
                );
                self.writer.sample.stop();
                return Ok(());
            }
            let no = current + 1;
            let payload = chunk::encode_content_dict(no, d.content_bytes().unwrap_or_default())
                .map_err(|e| StoreError::Invalid(format!("zstd failed: {e}")))?;
            tracing::info!(
                "{}: content dictionary {no} ({} bytes of sampled pages) takes over",
                self.inner.dir.display(),
                d.raw_len()
            );
            return self.add_dict(no, d, &[&payload]);
        }
        let bytes: u64 = fresh.iter().map(|(_, _, _, d)| d.len() as u64).sum();
        if current != 0 {
            self.writer.dict_bytes += bytes;
            if self.writer.dict_bytes < self.writer.dict_check {
                return Ok(());
            }
        }
        if fresh.len() < chunk::DICT_MIN_SAMPLES {
            return Ok(());
        }
        let samples: Vec<&[u8]> = fresh.iter().map(|(_, _, _, d)| *d).collect();
        let dict = match &cur {
            None => chunk::train(&samples),
            Some(old) => {
                self.writer.dict_bytes = 0;
                chunk::retrain(&samples, old)
            }
        };
        let Some(dict) = dict else {
            return Ok(());
        };
        let Some(d) = chunk::Prepared::trained(&dict) else {
            return Ok(());
        };
        let no = current + 1;
        if current != 0 {
            tracing::info!(
                "{}: new chunks drifted from dictionary {current}; dictionary {no} takes over",
                self.inner.dir.display()
            );
        }
        self.add_dict(no, d, &[&no.to_le_bytes(), &dict])
    }

    /// Makes `d` dictionary `no`, the current one: in memory, in a `Dict`
    /// record (`payload` parts), in the index.
    fn add_dict(&mut self, no: u32, d: chunk::Prepared, payload: &[&[u8]]) -> Result<()> {
        {
            let mut dicts = self.inner.dicts_write();
            dicts.current = no;
            dicts.insert(no, d);
        }
        self.new_dicts.push(no);
        let pack_id = self.active().id();
        let offset = self.active().append(RecordKind::Dict, payload)?;
        let len: usize = payload.iter().map(|p| p.len()).sum();
        let loc = Loc::record(pack_id, offset, len as u32);
        self.with(|txn, t| index::put_dict(txn, t, no, loc))
    }

    /// Records that the stream is `size` bytes long from `ts` on. The
    /// caller has already written the partly cut last block (tail zeroed).
    pub fn set_size(&mut self, stream: u32, ts: i64, size: u64) -> Result<()> {
        self.push(&Entry::Size { stream, ts, size })
    }

    /// Records that the stream was removed at `ts` (every block reads as
    /// zeros if it is recreated).
    pub fn remove(&mut self, stream: u32, ts: i64) -> Result<()> {
        self.push(&Entry::Remove { stream, ts })
    }

    /// Whether the stream is removed now (including this batch so far).
    pub fn is_removed(&self, stream: u32) -> Result<bool> {
        self.with(|txn, t| Ok(index::removed_at(txn, t, stream, i64::MAX)?.is_some()))
    }

    /// Records an instant of the stream with no block change.
    pub fn instant(&mut self, stream: u32, ts: i64) -> Result<()> {
        self.push(&Entry::Instant { stream, ts })
    }

    /// Makes the batch durable and visible, in this order: entries and
    /// commit record appended, pack fdatasynced — the one durable write,
    /// the acknowledgement point — then the index transaction committed
    /// without a sync of its own (the packs are authoritative; on open,
    /// batches past the index's replay position are replayed from them).
    /// Only then is the [`Ack`] returned. When the active pack is sealed,
    /// the index is synced too, so replay after a power cut never reads more
    /// than about one pack.
    pub fn commit(mut self) -> Result<Ack> {
        self.flush_entries()?;
        let mut commit = Vec::with_capacity(24);
        commit.extend_from_slice(&self.seq.to_le_bytes());
        commit.extend_from_slice(&crate::now_ns().to_le_bytes());
        commit.extend_from_slice(&self.entry_count.to_le_bytes());
        self.active().append(RecordKind::Commit, &[&commit])?;
        self.active().sync()?;
        fault::hit(fault::Point::AfterPackSync);
        let (pack_id, end) = (self.active().id(), self.active().len());
        let seq = self.seq;
        self.with(|txn, t| {
            index::set_scan_pos(txn, t, pack_id, end)?;
            index::set_meta_u64(txn, t, "next_seq", seq + 1)
        })?;
        let txn = self
            .txn
            .take()
            .unwrap_or_else(|| unreachable!("commit consumes the batch"));
        txn.commit()
            .map_err(|e| self.inner.ix(IxError::Mdbx("commit", e)))?;
        self.done = true;
        fault::hit(fault::Point::AfterIndexCommit);
        if end >= self.inner.opts.pack_target
            && let Some(w) = self.writer.active.take()
        {
            w.seal()?;
            self.inner.sync_index()?;
        }
        Ok(self.ack)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        drop(self.txn.take());
        let mut d = self
            .inner
            .dicts
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for no in self.new_dicts.drain(..) {
            d.remove(no);
        }
        drop(d);
        // The sample may hold chunks of this batch, which are not stored.
        self.writer.sample.clear();
        let start = self.start;
        if let Some(w) = self.writer.active.as_mut()
            && let Err(e) = w.rollback_to(start)
        {
            tracing::error!("cannot roll back an aborted batch: {e}");
            self.writer.broken = true;
        }
    }
}
