//! `kairos verify`: every pack's structure, every chunk's hash, every
//! index entry. Problems name the pack and offset and the stream blocks and
//! instants they affect.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::error::Result;
use crate::index::{self, Loc};
use crate::pack::{self, RecordKind};
use crate::store::{Store, hex, pick};
use crate::view::Progress;
use crate::{Hash, ZERO_HASH};

/// A block version that a problem makes unreadable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// Stream name.
    pub stream: String,
    /// Block number.
    pub block: u64,
    /// Instant the version was written (it is visible from then until the
    /// block's next version).
    pub instant: i64,
}

/// One thing wrong with the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The pack concerned, if any.
    pub pack: Option<PathBuf>,
    /// Byte offset in the pack, if known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub detail: String,
    /// Block versions that cannot be read because of it.
    pub affected: Vec<Affected>,
}

/// What verify checked and found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Packs checked.
    pub packs: u64,
    /// Chunks decompressed and hash-checked.
    pub chunks: u64,
    /// Block versions checked against the chunk table.
    pub versions: u64,
    /// Problems found (empty: the store is clean).
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    /// Checks the whole store. Read-only; safe alongside a writer.
    pub fn verify(&self, progress: Progress<'_>) -> Result<VerifyReport> {
        let inner = &self.inner;
        let mut report = VerifyReport::default();
        let (chunks, streams, scan) = self.read(|txn, t| {
            let streams: HashMap<u32, String> = index::streams(txn, t)?
                .into_iter()
                .map(|r| (r.id, r.name))
                .collect();
            Ok((
                index::all_chunks(txn, t)?,
                streams,
                index::scan_pos(txn, t)?,
            ))
        })?;
        let chunk_at: HashSet<(u32, u64)> =
            chunks.iter().map(|(_, l)| (l.pack, l.offset)).collect();
        // 1. pack structure
        let ids = pack::list_packs(&inner.packs_dir())?;
        for (i, &id) in ids.iter().enumerate() {
            report.packs += 1;
            let path = inner.pack_path(id);
            let (file, len) = match pack::open_pack(&path, id) {
                Ok(f) => f,
                Err(e) => {
                    report.problems.push(Problem {
                        pack: Some(path),
                        offset: Some(0),
                        detail: e.to_string(),
                        affected: Vec::new(),
                    });
                    continue;
                }
            };
            let s = pack::scan(&file, &path, len);
            let last = i + 1 == ids.len();
            if let Some(e) = s.stopped {
                // Past the index's replay position in the newest pack: an
                // interrupted batch that the next writer open discards.
                let torn = last && scan.is_some_and(|(p, o)| p == id && s.valid_end >= o);
                if !torn && !chunk_at.contains(&(id, s.valid_end)) {
                    report.problems.push(Problem {
                        pack: Some(path.clone()),
                        offset: Some(s.valid_end),
                        detail: format!("pack structure: {e}"),
                        affected: Vec::new(),
                    });
                }
            } else if !s.sealed && !last {
                report.problems.push(Problem {
                    pack: Some(path.clone()),
                    offset: Some(s.valid_end),
                    detail: "pack is not sealed but is not the newest pack".into(),
                    affected: Vec::new(),
                });
            }
            // Metadata records are authoritative too: check their crc.
            for r in s
                .records
                .iter()
                .filter(|r| matches!(r.kind, RecordKind::Entries | RecordKind::Commit))
            {
                if let Err(e) = pack::read_record(&file, &path, r.offset, len) {
                    report.problems.push(Problem {
                        pack: Some(path.clone()),
                        offset: Some(r.offset),
                        detail: format!(
                            "{e} (the index still holds this batch; an index rebuild would lose it)"
                        ),
                        affected: Vec::new(),
                    });
                }
            }
        }
        // 2. every chunk, one decompression per record (a group holds many)
        let total = chunks.len() as u64;
        let done = AtomicU64::new(0);
        let mut sorted = chunks.clone();
        sorted.sort_unstable_by_key(|(_, l)| (l.pack, l.offset, l.member));
        let records: Vec<&[(Hash, Loc)]> = sorted
            .chunk_by(|(_, a), (_, b)| (a.pack, a.offset) == (b.pack, b.offset))
            .collect();
        // One problem per damaged record: (its bad chunks, location, detail).
        let bad: Vec<(Vec<Hash>, Loc, String)> = records
            .par_iter()
            .filter_map(|rec| {
                let loc = rec.first()?.1;
                let r = inner.decode_record(loc);
                progress(
                    done.fetch_add(rec.len() as u64, Ordering::Relaxed) + rec.len() as u64,
                    total,
                );
                let mut detail = None;
                let mut hashes = Vec::new();
                for (h, l) in *rec {
                    let e = match &r {
                        Err(e) => Some(e.clone()),
                        Ok(m) => pick(m, h, *l, || inner.chunk_at(h, *l)).err(),
                    };
                    if let Some(e) = e {
                        detail.get_or_insert(e);
                        hashes.push(*h);
                    }
                }
                detail.map(|d| (hashes, loc, d))
            })
            .collect();
        report.chunks = total;
        // 3. index entries: every version's chunk exists, refcounts match
        let known: HashSet<Hash> = chunks.iter().map(|(h, _)| *h).collect();
        let bad_set: HashMap<Hash, usize> = bad
            .iter()
            .enumerate()
            .flat_map(|(i, (hs, _, _))| hs.iter().map(move |h| (*h, i)))
            .collect();
        let mut affected: Vec<Vec<Affected>> = vec![Vec::new(); bad.len()];
        let mut counts: HashMap<Hash, u64> = HashMap::new();
        let mut missing: HashMap<Hash, Vec<Affected>> = HashMap::new();
        let mut versions = 0;
        let mut ref_mismatch = Vec::new();
        self.read(|txn, t| {
            index::for_each_version(txn, t, |v| {
                versions += 1;
                if v.hash == ZERO_HASH {
                    return Ok(());
                }
                *counts.entry(v.hash).or_default() += 1;
                let a = || Affected {
                    stream: streams
                        .get(&v.stream)
                        .cloned()
                        .unwrap_or_else(|| format!("#{}", v.stream)),
                    block: v.block,
                    instant: v.ts,
                };
                if let Some(&i) = bad_set.get(&v.hash) {
                    affected[i].push(a());
                } else if !known.contains(&v.hash) {
                    missing.entry(v.hash).or_default().push(a());
                }
                Ok(())
            })?;
            for (h, n) in &counts {
                let r = index::refs(txn, t, h)?;
                if r != *n {
                    ref_mismatch.push((*h, r, *n));
                }
            }
            Ok(())
        })?;
        report.versions = versions;
        for ((_, loc, detail), affected) in bad.into_iter().zip(affected) {
            report.problems.push(Problem {
                pack: Some(inner.pack_path(loc.pack)),
                offset: Some(loc.offset),
                detail,
                affected,
            });
        }
        for (h, affected) in missing {
            report.problems.push(Problem {
                pack: None,
                offset: None,
                detail: format!("chunk {} is referenced but stored nowhere", hex(&h)),
                affected,
            });
        }
        for (h, r, n) in ref_mismatch {
            report.problems.push(Problem {
                pack: None,
                offset: None,
                detail: format!(
                    "index: chunk {} has refcount {r} but {n} versions use it (rebuild the index)",
                    hex(&h)
                ),
                affected: Vec::new(),
            });
        }
        Ok(report)
    }
}
