//! Retention: `prune` drops instants a policy does not keep, `gc` rewrites
//! packs to reclaim the chunks nothing references any more.
//!
//! Prune only writes a `Prune` entry per stream (the dropped instants); the
//! index then drops every block version and size entry that no kept
//! instant can see. Nothing is deleted from packs until gc. Gc copies the
//! live chunks and every dictionary of the packs it rewrites into new
//! packs, adds a checkpoint batch that restates the index (so replay skips
//! every older batch, and the metadata of pruned versions is not copied),
//! commits the new locations, and only then deletes the old packs — so a
//! crash at any point leaves either the old or the new copy reachable.

use std::collections::{HashMap, HashSet};

use std::os::unix::fs::FileExt;

use crate::Hash;
use crate::chunk;
use crate::entry::Entry;
use crate::error::{Result, StoreError};
use crate::index::{self, IxError, Loc, Tables};
use crate::pack::{self, HEADER_LEN, PackWriter, RecordKind};
use crate::store::{Store, read_with};

const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 24 * HOUR_NS;

/// Which instants to keep: every instant newer than `keep_all`, the last
/// instant of each hour newer than `hourly`, the last of each UTC day newer
/// than `daily`. The latest instant of every stream, and the instants that
/// markers point at, are always kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// Keep everything this recent (ns).
    pub keep_all: i64,
    /// Keep hourly points this recent (ns).
    pub hourly: i64,
    /// Keep daily points this recent (ns).
    pub daily: i64,
}

/// What prune did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Instants before pruning, all streams.
    pub instants_before: u64,
    /// Instants dropped.
    pub instants_dropped: u64,
}

/// What gc did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Packs rewritten (and deleted).
    pub packs_rewritten: u64,
    /// Chunks no longer referenced, now gone.
    pub chunks_dropped: u64,
    /// Total pack bytes before.
    pub bytes_before: u64,
    /// Total pack bytes after.
    pub bytes_after: u64,
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Region {
    All,
    Hourly,
    Daily,
    Gone,
}

impl Policy {
    fn region(&self, now: i64, t: i64) -> Region {
        let age = now.saturating_sub(t);
        if age <= self.keep_all {
            Region::All
        } else if age <= self.hourly {
            Region::Hourly
        } else if age <= self.daily {
            Region::Daily
        } else {
            Region::Gone
        }
    }

    /// Instants of `all` (ascending) this policy drops at `now`; `pinned`
    /// instants are kept regardless.
    pub fn dropped(&self, now: i64, all: &[i64], pinned: &HashSet<i64>) -> Vec<i64> {
        let mut out = Vec::new();
        for (i, &t) in all.iter().enumerate() {
            let next = all.get(i + 1).copied();
            let r = self.region(now, t);
            let last_of = |bucket: i64| {
                next.is_none_or(|n| {
                    self.region(now, n) != r || n.div_euclid(bucket) != t.div_euclid(bucket)
                })
            };
            let keep = match r {
                Region::All => true,
                Region::Hourly => last_of(HOUR_NS),
                Region::Daily => last_of(DAY_NS),
                Region::Gone => false,
            } || next.is_none()
                || pinned.contains(&t);
            if !keep {
                out.push(t);
            }
        }
        out
    }
}

impl Store {
    /// Applies a retention policy as of `now` (ns). Refuses a policy that
    /// keeps nothing.
    pub fn prune(&mut self, policy: &Policy, now: i64) -> Result<PruneReport> {
        if policy.keep_all <= 0 && policy.hourly <= 0 && policy.daily <= 0 {
            return Err(StoreError::Invalid(
                "refusing to prune: this policy keeps nothing (give --keep-all, --hourly or --daily a positive duration)".into(),
            ));
        }
        let mut report = PruneReport::default();
        let mut batch = self.begin()?;
        let plan = batch.with(|txn, t| {
            let marks = index::marks(txn, t)?;
            let mut plan = Vec::new();
            for row in index::streams(txn, t)? {
                let all: Vec<i64> = index::instants(txn, t, row.id, i64::MIN, i64::MAX)?
                    .iter()
                    .map(|r| r.ts)
                    .collect();
                let mut pinned = HashSet::new();
                for m in marks.iter().filter(|m| m.stream == 0 || m.stream == row.id) {
                    if let Some(i) = index::instant_at(txn, t, row.id, m.ts)? {
                        pinned.insert(i);
                    }
                }
                plan.push((row.id, all.len() as u64, policy.dropped(now, &all, &pinned)));
            }
            Ok(plan)
        })?;
        for (stream, before, dropped) in plan {
            report.instants_before += before;
            report.instants_dropped += dropped.len() as u64;
            if !dropped.is_empty() {
                batch.push(&Entry::Prune { stream, dropped })?;
            }
        }
        batch.commit()?;
        Ok(report)
    }

    /// Reclaims space: rewrites every pack holding unreferenced chunks (or
    /// mostly metadata), keeping its live chunks and dictionaries, writes a
    /// checkpoint batch restating the index (so the metadata of pruned
    /// versions goes with the old packs), commits, then deletes the old packs.
    pub fn gc(&mut self) -> Result<GcReport> {
        let inner = self.inner.clone();
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| StoreError::Invalid("store was opened read-only".into()))?
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(w) = writer.active.take() {
            w.seal()?;
        }
        let packs_dir = inner.packs_dir();
        let ids = pack::list_packs(&packs_dir)?;
        let (chunks, live, seq) = read_with(&inner, |txn, t| {
            let chunks = index::all_chunks(txn, t)?;
            let mut live = HashSet::new();
            for (h, _) in &chunks {
                if index::refs(txn, t, h)? > 0 {
                    live.insert(*h);
                }
            }
            let seq = index::meta_u64(txn, t, "next_seq")?.unwrap_or(1);
            Ok((chunks, live, seq))
        })?;
        let by_loc: HashMap<(u32, u64, u32), Hash> = chunks
            .iter()
            .map(|(h, l)| ((l.pack, l.offset, l.member), *h))
            .collect();
        let is_live = |id: u32, offset: u64, member: u32, hash: Option<&Hash>| {
            by_loc
                .get(&(id, offset, member))
                .is_some_and(|h| live.contains(h) && hash.is_none_or(|want| want == h))
        };
        let mut report = GcReport::default();
        let mut rewrite = Vec::new();
        for &id in &ids {
            let path = inner.pack_path(id);
            let (file, len) = pack::open_pack(&path, id)?;
            report.bytes_before += len;
            let s = pack::scan(&file, &path, len);
            if let Some(e) = s.stopped {
                return Err(StoreError::Pack {
                    pack: path,
                    offset: s.valid_end,
                    detail: format!("gc cannot read this pack ({e}); run `kairos verify` first"),
                });
            }
            let mut dead = false;
            for r in &s.records {
                dead |= match r.kind {
                    RecordKind::Chunk => !is_live(id, r.offset, 0, None),
                    RecordKind::Group => {
                        let mut head = [0u8; 8];
                        file.read_exact_at(&mut head, r.offset + 8)
                            .map_err(StoreError::io(&path, "read group header"))?;
                        let count = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
                        (0..count).any(|m| !is_live(id, r.offset, m, None))
                    }
                    _ => false,
                };
            }
            // Every batch in the store is superseded by the checkpoint this
            // gc writes; a pack that is mostly metadata is worth rewriting.
            let meta: u64 = s
                .records
                .iter()
                .filter(|r| matches!(r.kind, RecordKind::Entries | RecordKind::Commit))
                .map(|r| r.end() - r.offset)
                .sum();
            if dead || s.records.len() <= 1 || meta * 4 >= len {
                rewrite.push((id, file, s.records));
            } else {
                report.bytes_after += len;
            }
        }
        if rewrite.is_empty() {
            return Ok(report);
        }
        let mut out = Output {
            dir: &packs_dir,
            next_pack: &mut writer.next_pack,
            target: inner.opts.pack_target,
            w: None,
            bytes: 0,
        };
        let mut moved: Vec<(Hash, Loc)> = Vec::new();
        let mut dicts: Vec<(u32, Loc)> = Vec::new();
        for (id, file, records) in &rewrite {
            let path = inner.pack_path(*id);
            for r in records {
                match r.kind {
                    RecordKind::Chunk | RecordKind::Dict => {}
                    RecordKind::Group => {
                        let kept = regroup(&inner, &mut out, *id, *r, &is_live, &mut moved)?;
                        report.chunks_dropped += kept;
                        out.roll()?;
                        continue;
                    }
                    // Superseded by the checkpoint below.
                    RecordKind::Entries | RecordKind::Commit | RecordKind::Trailer => continue,
                }
                let live_hash = by_loc
                    .get(&(*id, r.offset, 0))
                    .filter(|h| live.contains(*h));
                if r.kind == RecordKind::Chunk && live_hash.is_none() {
                    report.chunks_dropped += 1;
                    continue;
                }
                let raw = pack::read_raw(file, &path, *r)?;
                let w = out.pack()?;
                let loc = Loc::record(w.id(), w.append_raw(*r, &raw)?, r.payload_len);
                if r.kind == RecordKind::Dict {
                    let no = raw
                        .get(8..12)
                        .and_then(|b| b.try_into().ok())
                        .map_or(0, u32::from_le_bytes);
                    dicts.push((no, loc));
                } else {
                    moved.extend(live_hash.map(|h| (*h, loc)));
                }
                out.roll()?;
            }
        }
        write_checkpoint(&inner, out.pack()?, seq)?;
        out.finish()?;
        report.bytes_after += out.bytes;
        pack::sync_dir(&packs_dir)?;
        let rewritten: HashSet<u32> = rewrite.iter().map(|(id, _, _)| *id).collect();
        let next = writer.next_pack;
        let txn = inner
            .db
            .begin_rw_txn()
            .map_err(|e| inner.ix(IxError::Mdbx("begin", e)))?;
        {
            let t = Tables::open(&txn).map_err(|e| inner.ix(e))?;
            let ix = |e| inner.ix(e);
            for (h, loc) in &moved {
                index::put_chunk(&txn, &t, h, *loc, true).map_err(ix)?;
            }
            for (h, loc) in &chunks {
                if rewritten.contains(&loc.pack) && !live.contains(h) {
                    index::del_chunk(&txn, &t, h).map_err(ix)?;
                }
            }
            for (no, loc) in &dicts {
                index::put_dict(&txn, &t, *no, *loc).map_err(ix)?;
            }
            index::set_scan_pos(&txn, &t, next, HEADER_LEN).map_err(ix)?;
            index::set_meta_u64(&txn, &t, "next_seq", seq + 1).map_err(ix)?;
        }
        txn.commit()
            .map_err(|e| inner.ix(IxError::Mdbx("commit", e)))?;
        // The old packs go only once the index pointing past them is durable.
        inner.sync_index()?;
        for id in &rewritten {
            let p = inner.pack_path(*id);
            std::fs::remove_file(&p).map_err(StoreError::io(&p, "delete rewritten pack"))?;
        }
        pack::sync_dir(&packs_dir)?;
        inner.forget_packs(&rewritten);
        report.packs_rewritten = rewritten.len() as u64;
        Ok(report)
    }
}

/// The packs gc writes, rolled over at the pack target.
struct Output<'a> {
    dir: &'a std::path::Path,
    next_pack: &'a mut u32,
    target: u64,
    w: Option<PackWriter>,
    /// Bytes of the packs sealed so far.
    bytes: u64,
}

impl Output<'_> {
    /// The pack being written (created on first use).
    fn pack(&mut self) -> Result<&mut PackWriter> {
        if self.w.is_none() {
            self.w = Some(PackWriter::create(self.dir, *self.next_pack)?);
            *self.next_pack += 1;
        }
        Ok(self
            .w
            .as_mut()
            .unwrap_or_else(|| unreachable!("created above")))
    }

    /// Seals the current pack if it reached the target.
    fn roll(&mut self) -> Result<()> {
        if self.w.as_ref().is_some_and(|w| w.len() >= self.target) {
            self.finish()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(w) = self.w.take() {
            self.bytes += w.len() + pack::FOOTER_LEN;
            w.seal()?;
        }
        Ok(())
    }
}

/// Copies the live members of the group record `r` of pack `id` into
/// `out`: verbatim when all are live, recompressed as a smaller group when
/// some are dead, not at all when none is live. Records the new locations
/// in `moved`; returns how many members were dropped.
fn regroup(
    inner: &crate::store::Inner,
    out: &mut Output<'_>,
    id: u32,
    r: pack::RecordInfo,
    is_live: &impl Fn(u32, u64, u32, Option<&Hash>) -> bool,
    moved: &mut Vec<(Hash, Loc)>,
) -> Result<u64> {
    let path = inner.pack_path(id);
    let (_, payload) = inner.read_record(Loc::record(id, r.offset, r.payload_len))?;
    let (dict_no, members, _) = chunk::decode_group(&payload).ok_or_else(|| StoreError::Pack {
        pack: path.clone(),
        offset: r.offset,
        detail: "group header is malformed".into(),
    })?;
    let keep: Vec<bool> = (0..members.len())
        .map(|m| is_live(id, r.offset, m as u32, members.get(m).map(|(h, _)| h)))
        .collect();
    let dropped = keep.iter().filter(|k| !**k).count() as u64;
    if dropped == members.len() as u64 {
        return Ok(dropped);
    }
    let w = out.pack()?;
    let pack_id = w.id();
    if dropped == 0 {
        let raw = pack::read_raw(&pack::open_pack(&path, id)?.0, &path, r)?;
        let offset = w.append_raw(r, &raw)?;
        for (m, (h, _)) in members.iter().enumerate() {
            let loc = Loc {
                member: m as u32,
                ..Loc::record(pack_id, offset, r.payload_len)
            };
            moved.push((*h, loc));
        }
        return Ok(0);
    }
    let decoded = inner
        .decode_record(Loc::record(id, r.offset, r.payload_len))
        .map_err(|detail| StoreError::Pack {
            pack: path.clone(),
            offset: r.offset,
            detail,
        })?;
    let live: Vec<&(Hash, std::sync::Arc<[u8]>)> = decoded
        .iter()
        .zip(&keep)
        .filter_map(|(d, k)| k.then_some(d))
        .collect();
    let plain: Vec<u8> = live.iter().flat_map(|(_, d)| d.iter().copied()).collect();
    let dict = if dict_no == 0 {
        None
    } else {
        Some(inner.dict(dict_no).map_err(|detail| StoreError::Pack {
            pack: path.clone(),
            offset: r.offset,
            detail,
        })?)
    };
    let frame = chunk::compress(&plain, dict.as_deref())
        .map_err(|e| StoreError::Invalid(format!("zstd failed: {e}")))?;
    let members: Vec<chunk::Member> = live.iter().map(|(h, d)| (*h, d.len() as u32)).collect();
    let head = chunk::encode_group_header(dict_no, &members);
    let offset = w.append(RecordKind::Group, &[&head, &frame])?;
    let payload_len = (head.len() + frame.len()) as u32;
    for (m, (h, _)) in members.iter().enumerate() {
        let loc = Loc {
            member: m as u32,
            ..Loc::record(pack_id, offset, payload_len)
        };
        moved.push((*h, loc));
    }
    Ok(dropped)
}

/// Appends batch `seq` restating the whole index (see [`index::checkpoint`])
/// to `w`: its Entries records, flushed every 1 MiB, then its Commit.
fn write_checkpoint(inner: &crate::store::Inner, w: &mut PackWriter, seq: u64) -> Result<()> {
    let mut buf = seq.to_le_bytes().to_vec();
    let mut count = 0u64;
    let mut failed: Option<StoreError> = None;
    read_with(inner, |txn, t| {
        index::checkpoint(txn, t, |e| {
            e.encode(&mut buf);
            count += 1;
            if buf.len() >= crate::store::ENTRIES_FLUSH {
                if let Err(err) = w.append(RecordKind::Entries, &[&buf]) {
                    failed = Some(err);
                    return Err(IxError::Value("checkpoint", "pack write failed".into()));
                }
                buf.truncate(8);
            }
            Ok(())
        })
    })
    .map_err(|e| failed.take().unwrap_or(e))?;
    if buf.len() > 8 {
        w.append(RecordKind::Entries, &[&buf])?;
    }
    let mut commit = Vec::with_capacity(24);
    commit.extend_from_slice(&seq.to_le_bytes());
    commit.extend_from_slice(&crate::now_ns().to_le_bytes());
    commit.extend_from_slice(&count.to_le_bytes());
    w.append(RecordKind::Commit, &[&commit])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_thins_by_hour_and_day() {
        let now = 100 * DAY_NS;
        let p = Policy {
            keep_all: HOUR_NS,
            hourly: DAY_NS,
            daily: 10 * DAY_NS,
        };
        // every 20 minutes over 20 days
        let all: Vec<i64> = (0..20 * 72)
            .map(|i| now - 20 * DAY_NS + i * 20 * 60_000_000_000)
            .collect();
        let dropped: HashSet<i64> = p.dropped(now, &all, &HashSet::new()).into_iter().collect();
        let kept: Vec<i64> = all
            .iter()
            .copied()
            .filter(|t| !dropped.contains(t))
            .collect();
        for &t in &kept {
            let age = now - t;
            assert!(
                age <= 10 * DAY_NS || t == *all.last().unwrap_or(&0),
                "kept instant older than the daily window"
            );
        }
        // within the keep-all hour: everything
        assert!(
            all.iter()
                .filter(|&&t| now - t <= HOUR_NS)
                .all(|t| !dropped.contains(t))
        );
        // hourly region: at most one per hour
        let mut hours = HashSet::new();
        for &t in kept
            .iter()
            .filter(|&&t| now - t > HOUR_NS && now - t <= DAY_NS)
        {
            assert!(
                hours.insert(t.div_euclid(HOUR_NS)),
                "two kept instants in one hour"
            );
        }
        assert!(hours.len() >= 22);
        let mut days = HashSet::new();
        for &t in kept.iter().filter(|&&t| now - t > DAY_NS) {
            assert!(
                days.insert(t.div_euclid(DAY_NS)),
                "two kept instants in one day"
            );
        }
        assert!((9..=10).contains(&days.len()), "{} days", days.len());
        // pinned survives
        let pin: HashSet<i64> = [all[0]].into_iter().collect();
        assert!(!p.dropped(now, &all, &pin).contains(&all[0]));
    }
}
