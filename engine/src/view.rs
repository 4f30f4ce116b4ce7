//! Point-in-time views and restore.
//!
//! A [`View`] is stream S as of instant T: it implements
//! [`kairos_parsers::Source`], so every parser reads a past instant in place.
//! Opening one costs two index seeks; each `read_at` costs one index seek
//! per block touched plus, on a cache miss, one pack read and one zstd
//! decompression per chunk.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kairos_parsers::{Error as SourceError, Source};
use rayon::prelude::*;

use crate::error::{Result, StoreError};
use crate::index::{self, Loc, StreamRow};
use crate::store::{Inner, Members, Store, pick, read_with};
use crate::{Hash, ZERO_HASH, format_ns};

/// Decoded records a restore worker keeps (see `View::load`).
const RECENT_RECORDS: usize = 4;

/// Stream `stream` as of one instant. Cheap to open, `Send + Sync`, immutable.
#[derive(Debug, Clone)]
pub struct View {
    inner: Arc<Inner>,
    stream: StreamRow,
    instant: i64,
    len: u64,
    name: String,
}

impl Store {
    /// The view of `stream` at the latest instant at or before `at`
    /// (`None`: the latest instant).
    pub fn view(&self, stream: &str, at: Option<i64>) -> Result<View> {
        let at = at.unwrap_or(i64::MAX);
        let (row, instant, len, removed) = self
            .read(|txn, t| {
                let Some(row) = index::stream_by_name(txn, t, stream)? else {
                    return Ok(None);
                };
                let instant = index::instant_at(txn, t, row.id, at)?;
                let (len, removed) = match instant {
                    Some(i) => (
                        index::size_at(txn, t, row.id, i)?,
                        index::removed_at(txn, t, row.id, i)?,
                    ),
                    None => (0, None),
                };
                Ok(Some((row, instant, len, removed)))
            })?
            .ok_or_else(|| StoreError::NoStream(stream.to_owned()))?;
        let instant = instant.ok_or_else(|| StoreError::NoVersion {
            stream: stream.to_owned(),
            at: format_ns(at),
        })?;
        if let Some(removed) = removed {
            return Err(StoreError::Removed {
                stream: stream.to_owned(),
                removed: format_ns(removed),
                at: format_ns(at),
            });
        }
        Ok(View {
            inner: self.inner.clone(),
            name: format!("{}@{}", row.name, format_ns(instant)),
            stream: row,
            instant,
            len,
        })
    }
}

/// A block that could not be restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBlock {
    /// Block number.
    pub block: u64,
    /// Byte offset of the block in the stream.
    pub offset: u64,
    /// What the store reported (pack, offset, failure).
    pub detail: String,
}

/// What a restore wrote.
#[derive(Debug, Clone, Default)]
pub struct RestoreReport {
    /// Bytes written.
    pub bytes: u64,
    /// The instant restored.
    pub instant: i64,
    /// Blocks written as zeros because their chunk is damaged
    /// (only with `allow_damaged`).
    pub bad_blocks: Vec<BadBlock>,
}

/// How to restore.
#[derive(Debug, Clone, Copy, Default)]
pub struct RestoreOptions {
    /// Overwrite an existing output file.
    pub force: bool,
    /// Write damaged blocks as zeros and list them instead of failing.
    pub allow_damaged: bool,
}

/// Progress callback: `(done, total)` in bytes. Called from worker threads.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

impl View {
    /// The instant this view shows (ns since the epoch).
    pub fn instant(&self) -> i64 {
        self.instant
    }

    /// The stream's block size.
    pub fn block_size(&self) -> u32 {
        self.stream.block_size
    }

    /// The stream's name.
    pub fn stream(&self) -> &str {
        &self.stream.name
    }

    fn bs(&self) -> u64 {
        u64::from(self.stream.block_size)
    }

    /// Resolves blocks `first..first+n` to their chunk (None: zero block).
    fn resolve(&self, first: u64, n: u64) -> Result<Vec<Option<(Hash, Loc)>>> {
        let (s, at) = (self.stream.id, self.instant);
        read_with(&self.inner, |txn, t| {
            let mut out = Vec::with_capacity(n as usize);
            for b in first..first + n {
                let hash = index::block_at(txn, t, s, b, at)?.map_or(ZERO_HASH, |(_, h)| h);
                if hash == ZERO_HASH {
                    out.push(None);
                    continue;
                }
                match index::chunk(txn, t, &hash)? {
                    Some(loc) => out.push(Some((hash, loc))),
                    None => {
                        return Err(index::IxError::Value(
                            "chunks",
                            format!(
                                "chunk {} of block {b} is not in the index",
                                crate::store::hex(&hash)
                            ),
                        ));
                    }
                }
            }
            Ok(out)
        })
    }

    /// Loads a chunk; if it fails, looks its location up again once (a
    /// concurrent gc may have moved it) before reporting damage. With
    /// `recent` (a restore worker's last few decoded records: a group holds
    /// consecutive blocks, interrupted by blocks of later versions) the
    /// shared cache is bypassed.
    fn load(
        &self,
        hash: &Hash,
        loc: Loc,
        mut recent: Option<&mut Vec<(Loc, Members)>>,
    ) -> std::result::Result<Arc<[u8]>, String> {
        let mut get = |l: Loc| match recent.as_deref_mut() {
            None => self.inner.load_chunk(hash, l),
            Some(recent) => {
                let found = recent
                    .iter()
                    .position(|(k, _)| (k.pack, k.offset) == (l.pack, l.offset));
                let i = if let Some(i) = found {
                    i
                } else {
                    if recent.len() >= RECENT_RECORDS {
                        recent.remove(0);
                    }
                    recent.push((l, self.inner.decode_record(l)?));
                    recent.len() - 1
                };
                let members = recent.get(i).map(|(_, m)| m.as_slice()).unwrap_or_default();
                pick(members, hash, l, || self.inner.chunk_at(hash, l))
            }
        };
        get(loc).or_else(|first| {
            match read_with(&self.inner, |txn, t| index::chunk(txn, t, hash)) {
                Ok(Some(moved)) if moved != loc => get(moved),
                _ => Err(first),
            }
        })
    }

    fn damaged(&self, offset: u64, len: u64, detail: &str) -> SourceError {
        SourceError::Damaged {
            source_name: self.name.clone(),
            offset,
            len,
            detail: format!("{detail}; run `kairos verify`, or restore with --allow-damaged"),
        }
    }

    /// Restores the view into `out` atomically: a temporary file in the
    /// same directory, fsynced, then renamed over `out`.
    pub fn restore_to(
        &self,
        out: &Path,
        opts: RestoreOptions,
        progress: Progress<'_>,
    ) -> Result<RestoreReport> {
        if !opts.force && out.exists() {
            return Err(StoreError::Invalid(format!(
                "{}: file exists; use --force to overwrite it",
                out.display()
            )));
        }
        let dir = out
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let fname = out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp: PathBuf = dir.join(format!(".{fname}.kairos-tmp.{}", std::process::id()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(StoreError::io(&tmp, "create restore file"))?;
        let result = self.write_blocks(&file, &tmp, opts, progress);
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        file.sync_all()
            .map_err(StoreError::io(&tmp, "fsync restore file"))?;
        std::fs::rename(&tmp, out)
            .map_err(StoreError::io(out, "rename restored file into place"))?;
        crate::pack::sync_dir(dir)?;
        Ok(report)
    }

    /// Blocks resolved and written per group (bounds memory on huge streams).
    const GROUP: u64 = 4096;

    fn write_blocks(
        &self,
        file: &std::fs::File,
        path: &Path,
        opts: RestoreOptions,
        progress: Progress<'_>,
    ) -> Result<RestoreReport> {
        file.set_len(self.len)
            .map_err(StoreError::io(path, "size restore file"))?;
        let bs = self.bs();
        let nblocks = self.len.div_ceil(bs);
        let done = AtomicU64::new(0);
        let mut bad = Vec::new();
        for g in (0..nblocks).step_by(Self::GROUP as usize) {
            let n = Self::GROUP.min(nblocks - g);
            let locs = self.resolve(g, n)?;
            let res: Vec<Result<Vec<BadBlock>>> = locs
                .par_chunks(64)
                .enumerate()
                .map(|(ci, part)| {
                    let mut bad = Vec::new();
                    let mut recent = Vec::with_capacity(RECENT_RECORDS);
                    for (i, l) in part.iter().enumerate() {
                        let b = g + (ci * 64 + i) as u64;
                        let off = b * bs;
                        let want = bs.min(self.len - off) as usize;
                        if let Some((hash, loc)) = l {
                            match self.load(hash, *loc, Some(&mut recent)) {
                                Ok(data) => file
                                    .write_all_at(&data[..want.min(data.len())], off)
                                    .map_err(StoreError::io(path, "write restore file"))?,
                                Err(detail) if opts.allow_damaged => bad.push(BadBlock {
                                    block: b,
                                    offset: off,
                                    detail,
                                }),
                                Err(detail) => {
                                    return Err(self.damaged(off, want as u64, &detail).into());
                                }
                            }
                        }
                        progress(
                            done.fetch_add(want as u64, Ordering::Relaxed) + want as u64,
                            self.len,
                        );
                    }
                    Ok(bad)
                })
                .collect();
            for r in res {
                bad.extend(r?);
            }
        }
        Ok(RestoreReport {
            bytes: self.len,
            instant: self.instant,
            bad_blocks: bad,
        })
    }

    /// Writes the view's bytes to `w` in order (`kairos cat`).
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> Result<u64> {
        let mut buf = vec![0u8; 1 << 20];
        let mut off = 0;
        while off < self.len {
            let n = self.read_at(off, &mut buf)?;
            w.write_all(&buf[..n])
                .map_err(StoreError::io("<output>", "write"))?;
            off += n as u64;
        }
        Ok(off)
    }
}

impl Source for View {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> kairos_parsers::Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.len - offset) as usize;
        let bs = self.bs();
        let first = offset / bs;
        let last = (offset + n as u64 - 1) / bs;
        let locs = self
            .resolve(first, last - first + 1)
            .map_err(|e| SourceError::Io {
                source_name: self.name.clone(),
                offset,
                error: std::io::Error::other(e.to_string()),
            })?;
        let mut done = 0usize;
        for (i, l) in locs.iter().enumerate() {
            let b = first + i as u64;
            let bstart = b * bs;
            let from = (offset + done as u64 - bstart) as usize;
            let take = (bs as usize - from).min(n - done);
            let dst = &mut buf[done..done + take];
            match l {
                None => dst.fill(0),
                Some((hash, loc)) => {
                    let data = self
                        .load(hash, *loc, None)
                        .map_err(|d| self.damaged(bstart, bs, &d))?;
                    let src = data
                        .get(from..from + take)
                        .ok_or_else(|| self.damaged(bstart, bs, "chunk is shorter than a block"))?;
                    dst.copy_from_slice(src);
                }
            }
            done += take;
        }
        Ok(n)
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn name(&self) -> &str {
        &self.name
    }
}
