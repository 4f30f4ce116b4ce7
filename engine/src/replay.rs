//! Replaying packs into the index: crash recovery on open and full index
//! rebuild share this code, so both reach the same state as live ingest.
//!
//! A batch counts only if its `Commit` record is in a pack. Batches are
//! applied in sequence order, whatever pack holds them (garbage collection
//! copies old batches into new packs); when a sequence number appears in
//! several packs (a gc interrupted before deleting its sources), the copy
//! in the lowest-numbered pack is used — all copies are identical. A
//! committed checkpoint batch (written by gc) restates the whole index:
//! replay starts at the newest one and skips every batch before it.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;

use crate::Hash;
use crate::chunk;
use crate::entry::{CHECKPOINT_TAG, Entry};
use crate::error::{Result, StoreError};
use crate::index::{self, IxError, Loc, RwTxn, Tables};
use crate::pack::{self, HEADER_LEN, PackWriter, RecordInfo, RecordKind};
use crate::store::{Inner, Writer};

/// The newest pack as replay left it.
struct Last {
    id: u32,
    sealed: bool,
    valid_end: u64,
}

fn read_small(inner: &Inner, file: &std::fs::File, id: u32, at: u64, buf: &mut [u8]) -> Result<()> {
    file.read_exact_at(buf, at)
        .map_err(StoreError::io(inner.pack_path(id), "read pack record"))
}

/// The member hashes of the `Group` record at `offset` of pack `id` (what
/// a `Run` entry of that pack stands for), read from its header only.
fn group_hashes(
    inner: &Inner,
    (file, len): &(std::fs::File, u64),
    id: u32,
    offset: u64,
) -> Result<Vec<Hash>> {
    let (file, len) = (file, *len);
    let bad = |detail: String| StoreError::Pack {
        pack: inner.pack_path(id),
        offset,
        detail,
    };
    // kind u8 | 3 zero | payload_len u32 | dict_no u32 | count u32
    let mut head = [0u8; 16];
    if offset.checked_add(16).is_none_or(|end| end > len) {
        return Err(bad(
            "a Run entry names a group record past the pack's end".into()
        ));
    }
    read_small(inner, file, id, offset, &mut head)?;
    if head[0] != RecordKind::Group as u8 {
        return Err(bad(format!(
            "a Run entry names a record of kind {} here, not a group",
            head[0]
        )));
    }
    let payload_len = u64::from(u32::from_le_bytes([head[4], head[5], head[6], head[7]]));
    let count = u64::from(u32::from_le_bytes([head[12], head[13], head[14], head[15]]));
    if 8 + count * 36 > payload_len || offset + 8 + payload_len > len {
        return Err(bad(format!(
            "group of {count} chunks does not fit its record"
        )));
    }
    let mut table = vec![0u8; (count * 36) as usize];
    read_small(inner, file, id, offset + 16, &mut table)?;
    Ok(chunk::decode_members(&table)
        .into_iter()
        .map(|(h, _)| h)
        .collect())
}

/// Replays packs `todo` (id, first record offset) into `txn`, applying
/// committed batches with `seq >= min_seq`. Returns the next sequence
/// number and the state of the newest pack.
fn replay(
    inner: &Inner,
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    todo: &[(u32, u64)],
    min_seq: u64,
) -> Result<(u64, Option<Last>)> {
    let mut entries: BTreeMap<u64, Vec<(u32, RecordInfo)>> = BTreeMap::new();
    let mut commits: BTreeMap<u64, u32> = BTreeMap::new();
    let mut checkpoints: Vec<u64> = Vec::new();
    let mut last = None;
    let ix = |e: IxError| inner.ix(e);
    for (i, &(id, start)) in todo.iter().enumerate() {
        let path = inner.pack_path(id);
        let (file, len) = pack::open_pack(&path, id)?;
        let s = if start <= HEADER_LEN {
            pack::scan(&file, &path, len)
        } else {
            pack::scan_from(&file, &path, len, start)
        };
        let is_last = i + 1 == todo.len();
        let usable: &[RecordInfo] = if s.sealed {
            &s.records
        } else {
            let n = s
                .records
                .iter()
                .rposition(|r| r.kind == RecordKind::Commit)
                .map_or(0, |p| p + 1);
            &s.records[..n]
        };
        let valid_end = if s.sealed {
            len
        } else {
            usable.last().map_or(start.max(HEADER_LEN), RecordInfo::end)
        };
        if !s.sealed && len > valid_end {
            let why = s.stopped.as_ref().map_or_else(
                || "no commit record after it".to_owned(),
                ToString::to_string,
            );
            if is_last {
                tracing::warn!(
                    "{}: discarding torn tail of {} bytes at offset {valid_end} (an interrupted, unacknowledged batch: {why})",
                    path.display(),
                    len - valid_end
                );
            } else {
                tracing::error!(
                    "{}: unreadable from offset {valid_end} ({why}); run `kairos verify`",
                    path.display()
                );
            }
        }
        for r in usable {
            match r.kind {
                RecordKind::Chunk => {
                    let mut h: Hash = [0; 32];
                    read_small(inner, &file, id, r.offset + 8, &mut h)?;
                    let loc = Loc::record(id, r.offset, r.payload_len);
                    index::put_chunk(txn, t, &h, loc, false).map_err(ix)?;
                }
                RecordKind::Group => {
                    // dict_no u32 | count u32 | (hash [32] | raw_len u32) × count
                    let mut head = [0u8; 8];
                    read_small(inner, &file, id, r.offset + 8, &mut head)?;
                    let count = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
                    let table_len = u64::from(count) * 36;
                    if 8 + table_len > u64::from(r.payload_len) {
                        return Err(StoreError::Pack {
                            pack: path.clone(),
                            offset: r.offset,
                            detail: format!("group of {count} chunks does not fit its record"),
                        });
                    }
                    let mut table = vec![0u8; table_len as usize];
                    read_small(inner, &file, id, r.offset + 16, &mut table)?;
                    for (i, m) in table.chunks_exact(36).enumerate() {
                        let mut h: Hash = [0; 32];
                        h.copy_from_slice(&m[..32]);
                        let loc = Loc {
                            member: i as u32,
                            ..Loc::record(id, r.offset, r.payload_len)
                        };
                        index::put_chunk(txn, t, &h, loc, false).map_err(ix)?;
                    }
                }
                RecordKind::Dict => {
                    let mut no = [0u8; 4];
                    read_small(inner, &file, id, r.offset + 8, &mut no)?;
                    let loc = Loc::record(id, r.offset, r.payload_len);
                    index::put_dict(txn, t, u32::from_le_bytes(no), loc).map_err(ix)?;
                }
                RecordKind::Entries | RecordKind::Commit => {
                    // seq u64, then (Entries) the first entry's tag.
                    let mut head = [0u8; 9];
                    let n = if r.payload_len >= 9 { 9 } else { 8 };
                    read_small(inner, &file, id, r.offset + 8, &mut head[..n])?;
                    let seq = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
                    if seq < min_seq {
                        continue;
                    }
                    if r.kind == RecordKind::Entries {
                        if n == 9 && head[8] == CHECKPOINT_TAG {
                            checkpoints.push(seq);
                        }
                        entries.entry(seq).or_default().push((id, *r));
                    } else {
                        commits.entry(seq).or_insert(id);
                    }
                }
                RecordKind::Trailer => {}
            }
        }
        if is_last {
            last = Some(Last {
                id,
                sealed: s.sealed,
                valid_end,
            });
        }
    }
    // A committed checkpoint restates the index: batches before it are
    // superseded (gc dropped the metadata of some of them).
    let from = checkpoints
        .iter()
        .copied()
        .filter(|s| commits.contains_key(s))
        .max()
        .unwrap_or(min_seq);
    let mut next_seq = min_seq;
    for (&seq, &pack_id) in commits.range(from..) {
        let path = inner.pack_path(pack_id);
        let mut pack_file = None;
        for (_, r) in entries
            .get(&seq)
            .into_iter()
            .flatten()
            .filter(|(p, _)| *p == pack_id)
        {
            let (_, payload) = inner.read_record(Loc::record(pack_id, r.offset, r.payload_len))?;
            let list = payload
                .get(8..)
                .and_then(Entry::decode_all)
                .ok_or_else(|| StoreError::Pack {
                    pack: path.clone(),
                    offset: r.offset,
                    detail: format!("entries record of batch {seq} does not decode"),
                })?;
            for e in &list {
                if let &Entry::Run {
                    stream,
                    block,
                    ts,
                    group,
                } = e
                {
                    let f = match pack_file.take() {
                        Some(f) => f,
                        None => pack::open_pack(&path, pack_id)?,
                    };
                    let hashes = group_hashes(inner, &f, pack_id, group)?;
                    pack_file = Some(f);
                    index::apply_run(txn, t, seq, (stream, block, ts), &hashes).map_err(ix)?;
                } else {
                    index::apply(txn, t, seq, e).map_err(ix)?;
                }
            }
        }
        next_seq = seq + 1;
    }
    Ok((next_seq, last))
}

/// Brings the index up to date with the packs and reopens the active pack.
pub(crate) fn recover(inner: &Inner, writer: &mut Writer) -> Result<()> {
    let ids = pack::list_packs(&inner.packs_dir())?;
    let txn = inner
        .db
        .begin_rw_txn()
        .map_err(|e| inner.ix(IxError::Mdbx("begin", e)))?;
    let t = Tables::open(&txn).map_err(|e| inner.ix(e))?;
    let min_seq = index::meta_u64(&txn, &t, "next_seq")
        .map_err(|e| inner.ix(e))?
        .unwrap_or(1);
    let (scan_pack, scan_off) = index::scan_pos(&txn, &t)
        .map_err(|e| inner.ix(e))?
        .unwrap_or((0, HEADER_LEN));
    let todo: Vec<(u32, u64)> = ids
        .iter()
        .filter(|&&id| id >= scan_pack)
        .map(|&id| {
            (
                id,
                if id == scan_pack {
                    scan_off
                } else {
                    HEADER_LEN
                },
            )
        })
        .collect();
    let (next_seq, last) = replay(inner, &txn, &t, &todo, min_seq)?;
    let (scan_pack, scan_off) = match &last {
        Some(l) if !l.sealed => {
            writer.active = Some(PackWriter::reopen(
                &inner.pack_path(l.id),
                l.id,
                l.valid_end,
            )?);
            writer.next_pack = l.id + 1;
            (l.id, l.valid_end)
        }
        Some(l) => {
            writer.next_pack = l.id + 1;
            (l.id + 1, HEADER_LEN)
        }
        None => {
            writer.next_pack = ids.last().map_or(1, |l| l + 1);
            (scan_pack.max(writer.next_pack), HEADER_LEN)
        }
    };
    index::set_scan_pos(&txn, &t, scan_pack, scan_off).map_err(|e| inner.ix(e))?;
    index::set_meta_u64(&txn, &t, "format", index::FORMAT).map_err(|e| inner.ix(e))?;
    index::set_meta_u64(&txn, &t, "next_seq", next_seq.max(min_seq)).map_err(|e| inner.ix(e))?;
    txn.commit()
        .map_err(|e| inner.ix(IxError::Mdbx("commit", e)))?;
    Ok(())
}
