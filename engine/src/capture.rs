//! Scan capture: record a file's changed blocks as one new version.
//!
//! Every block is hashed with BLAKE3 (in parallel) and compared with the
//! latest version's hash from the index's `head` table; only blocks that
//! differ are stored. Reading and hashing is the whole cost for an
//! unchanged block, so an incremental capture runs close to the hashing floor.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use rayon::prelude::*;

use crate::chunk::block_hash;
use crate::error::{Result, StoreError};
use crate::store::{Ack, Store};
use crate::view::Progress;
use crate::{Hash, format_ns};

/// Blocks read and hashed per step (8 MiB at 8 KiB blocks).
const SEGMENT_BLOCKS: u64 = 1024;

/// What a capture recorded.
#[derive(Debug, Clone, Default)]
pub struct CaptureReport {
    /// Stream name.
    pub stream: String,
    /// The new version's instant.
    pub instant: i64,
    /// File length.
    pub size: u64,
    /// Blocks read and hashed.
    pub blocks_scanned: u64,
    /// Blocks that differed from the previous version.
    pub blocks_changed: u64,
    /// The batch acknowledgement.
    pub ack: Ack,
}

impl Store {
    /// Records `path`'s current content as a version of `stream` at `at`
    /// (default: now). Fails if the stream already has a version at or
    /// after `at` — versions never go back in time.
    pub fn capture_file(
        &mut self,
        path: &Path,
        stream: &str,
        at: Option<i64>,
        progress: Progress<'_>,
    ) -> Result<CaptureReport> {
        let file = File::open(path).map_err(StoreError::io(path, "open"))?;
        let meta = file.metadata().map_err(StoreError::io(path, "stat"))?;
        if !meta.is_file() {
            return Err(StoreError::Invalid(format!(
                "{}: not a regular file",
                path.display()
            )));
        }
        let len = meta.len();
        let ts = at.unwrap_or_else(crate::now_ns);
        let mut batch = self.begin()?;
        let s = batch.stream(stream)?;
        if let Some(last) = batch.last_instant(s.id)?
            && last >= ts
        {
            return Err(StoreError::BackInTime {
                stream: stream.to_owned(),
                at: format_ns(ts),
                last: format_ns(last),
            });
        }
        let old_size = batch.size(s.id)?;
        let bs = u64::from(s.block_size);
        let nblocks = len.div_ceil(bs);
        let mut buf = vec![0u8; (SEGMENT_BLOCKS * bs) as usize];
        let mut heads: Vec<Hash> = vec![[0; 32]; SEGMENT_BLOCKS as usize];
        let mut changed_total = 0;
        for first in (0..nblocks).step_by(SEGMENT_BLOCKS as usize) {
            let n = SEGMENT_BLOCKS.min(nblocks - first);
            let off = first * bs;
            let bytes = (n * bs).min(len - off) as usize;
            let seg = &mut buf[..(n * bs) as usize];
            file.read_exact_at(&mut seg[..bytes], off)
                .map_err(StoreError::io(
                    path,
                    "read (did the file shrink during capture?)",
                ))?;
            seg[bytes..].fill(0);
            let heads = &mut heads[..n as usize];
            batch.head_hashes(s.id, first, heads)?;
            let hashes: Vec<Hash> = seg.par_chunks(bs as usize).map(block_hash).collect();
            let changed: Vec<(u64, Hash, &[u8])> = hashes
                .iter()
                .zip(heads.iter())
                .enumerate()
                .filter(|(_, (h, old))| h != old)
                .map(|(i, (h, _))| {
                    (
                        first + i as u64,
                        *h,
                        &seg[i * bs as usize..(i + 1) * bs as usize],
                    )
                })
                .collect();
            changed_total += changed.len() as u64;
            batch.put_blocks(s.id, ts, &changed)?;
            progress(off + bytes as u64, len);
        }
        // A capture of a removed stream recreates it, even empty.
        if len != old_size || batch.is_removed(s.id)? {
            batch.set_size(s.id, ts, len)?;
        }
        batch.instant(s.id, ts)?;
        let ack = batch.commit()?;
        Ok(CaptureReport {
            stream: stream.to_owned(),
            instant: ts,
            size: len,
            blocks_scanned: nblocks,
            blocks_changed: changed_total,
            ack,
        })
    }
}
