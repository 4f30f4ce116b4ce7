//! Write-event ingest: the path the FUSE shim, the NBD server and the
//! network server feed.
//!
//! A batch of events `(stream, timestamp, write or set-length)` is turned
//! into whole-block versions: a partial-block write is merged with the
//! block's current content (one chunk read), so the cost is proportional to
//! the bytes written, never to the stream's size. [`Store::ingest`] returns
//! only after the batch is durable (pack fsynced, index committed);
//! concurrent calls share a batch (see `group`).

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use crate::chunk::block_hash;
use crate::error::{Result, StoreError};
use crate::index::{REMOVED, StreamRow};
use crate::store::{Ack, Batch, BlockAt, ChunkIn, Store};
use crate::{Hash, format_ns};

/// What happened to a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `data` was written at byte `offset` (the stream grows if it ends past the end).
    Write {
        /// Byte offset.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// The stream was extended (zeros) or truncated to this length.
    SetLen(u64),
    /// The stream was removed (unlinked, or renamed away): it does not
    /// exist from this instant on. A later `Write` or `SetLen` recreates it
    /// with fresh content (zeros where not written).
    Remove,
}

/// One captured write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteEvent {
    /// Stream name (created on first use with the store's block size).
    pub stream: String,
    /// When it happened, ns since the Unix epoch (UTC). Per stream,
    /// timestamps must not decrease.
    pub timestamp_ns: i64,
    /// The change.
    pub change: Change,
}

enum Op {
    Block {
        stream: u32,
        block: u64,
        ts: i64,
        data: Arc<Vec<u8>>,
    },
    Size {
        stream: u32,
        ts: i64,
        size: u64,
    },
    Remove {
        stream: u32,
        ts: i64,
    },
}

struct StreamState {
    row: StreamRow,
    last: Option<i64>,
    size: u64,
    removed: bool,
}

impl Store {
    /// Ingests a batch of write events atomically and durably. Returns the
    /// acknowledgement once the events are durable (pack fdatasynced, index
    /// committed); on error none of `events` is kept.
    ///
    /// Takes `&self`: threads sharing one store (several agents, the shim)
    /// may call it at once, and calls that arrive while a batch is being
    /// made durable are put into one batch with one fsync (group commit;
    /// their acks then carry the same `seq`). Each call's events are applied
    /// in one piece, in the order the calls were queued.
    pub fn ingest(&self, events: &[WriteEvent]) -> Result<Ack> {
        crate::group::ingest(self, events)
    }
}

/// Applies one ingest call's events to `batch` (not yet committed).
pub(crate) fn apply_events(batch: &mut Batch<'_>, events: &[WriteEvent]) -> Result<()> {
    let mut streams: HashMap<String, StreamState> = HashMap::new();
    let mut overlay: HashMap<(u32, u64), Arc<Vec<u8>>> = HashMap::new();
    let mut ops = Vec::new();
    for ev in events {
        if ev.change == Change::Remove
            && !streams.contains_key(&ev.stream)
            && batch
                .with(|txn, t| crate::index::stream_by_name(txn, t, &ev.stream))?
                .is_none()
        {
            // Removing a stream the store never held records nothing.
            continue;
        }
        if !streams.contains_key(&ev.stream) {
            let row = batch.stream(&ev.stream)?;
            let last = batch.last_instant(row.id)?;
            let size = batch.size(row.id)?;
            let removed = batch.is_removed(row.id)?;
            streams.insert(
                ev.stream.clone(),
                StreamState {
                    row,
                    last,
                    size,
                    removed,
                },
            );
        }
        let st = streams
            .get_mut(&ev.stream)
            .unwrap_or_else(|| unreachable!("inserted above"));
        if let Some(last) = st.last
            && ev.timestamp_ns < last
        {
            return Err(StoreError::BackInTime {
                stream: ev.stream.clone(),
                at: format_ns(ev.timestamp_ns),
                last: format_ns(last),
            });
        }
        if ev.change == Change::Remove && (st.removed || st.last.is_none()) {
            // Already gone, or never had content: nothing to record.
            continue;
        }
        st.last = Some(ev.timestamp_ns);
        apply_event(batch, st, &mut overlay, &mut ops, ev)?;
    }
    write_ops(batch, &ops)
}

fn block_content(
    batch: &mut Batch<'_>,
    overlay: &HashMap<(u32, u64), Arc<Vec<u8>>>,
    row: &StreamRow,
    block: u64,
) -> Result<Vec<u8>> {
    match overlay.get(&(row.id, block)) {
        Some(d) => Ok(d.as_ref().clone()),
        None => batch.current_block(row, block),
    }
}

fn apply_event(
    batch: &mut Batch<'_>,
    st: &mut StreamState,
    overlay: &mut HashMap<(u32, u64), Arc<Vec<u8>>>,
    ops: &mut Vec<Op>,
    ev: &WriteEvent,
) -> Result<()> {
    let bs = u64::from(st.row.block_size);
    let (sid, ts) = (st.row.id, ev.timestamp_ns);
    match &ev.change {
        Change::Write { offset, data } => {
            if data.is_empty() {
                return Ok(());
            }
            let end = offset.checked_add(data.len() as u64).ok_or_else(|| {
                StoreError::Invalid(format!("write at offset {offset} overflows"))
            })?;
            if end == REMOVED {
                return Err(StoreError::Invalid(format!(
                    "write at offset {offset} ends at the largest length, which is reserved"
                )));
            }
            let mut pos = *offset;
            while pos < end {
                let block = pos / bs;
                let in_block = (pos % bs) as usize;
                let take = (bs as usize - in_block).min((end - pos) as usize);
                let src = &data[(pos - offset) as usize..(pos - offset) as usize + take];
                let content = if take == bs as usize {
                    src.to_vec()
                } else {
                    let mut c = if block * bs >= st.size {
                        vec![0; bs as usize]
                    } else {
                        block_content(batch, overlay, &st.row, block)?
                    };
                    c[in_block..in_block + take].copy_from_slice(src);
                    c
                };
                let content = Arc::new(content);
                overlay.insert((sid, block), content.clone());
                ops.push(Op::Block {
                    stream: sid,
                    block,
                    ts,
                    data: content,
                });
                pos += take as u64;
            }
            if end > st.size || st.removed {
                st.removed = false;
                st.size = end.max(st.size);
                ops.push(Op::Size {
                    stream: sid,
                    ts,
                    size: end,
                });
            }
        }
        Change::SetLen(new) => {
            let new = *new;
            if new == REMOVED {
                return Err(StoreError::Invalid(
                    "a length of 2^64-1 bytes is reserved".into(),
                ));
            }
            if new < st.size {
                let cut = new / bs;
                if new % bs != 0 {
                    let mut c = block_content(batch, overlay, &st.row, cut)?;
                    c[(new % bs) as usize..].fill(0);
                    let c = Arc::new(c);
                    overlay.insert((sid, cut), c.clone());
                    ops.push(Op::Block {
                        stream: sid,
                        block: cut,
                        ts,
                        data: c,
                    });
                }
                let zero = Arc::new(vec![0; bs as usize]);
                for b in new.div_ceil(bs)..st.size.div_ceil(bs) {
                    overlay.insert((sid, b), zero.clone());
                }
            }
            if new != st.size || st.removed {
                st.size = new;
                st.removed = false;
                ops.push(Op::Size {
                    stream: sid,
                    ts,
                    size: new,
                });
            }
        }
        Change::Remove => {
            // The index gives every non-zero block a zero version at the
            // removal, so a recreated stream never reads the old life.
            let zero = Arc::new(vec![0; bs as usize]);
            for b in 0..st.size.div_ceil(bs) {
                overlay.insert((sid, b), zero.clone());
            }
            st.size = 0;
            st.removed = true;
            ops.push(Op::Remove { stream: sid, ts });
        }
    }
    Ok(())
}

fn write_ops(batch: &mut Batch<'_>, ops: &[Op]) -> Result<()> {
    let hashes: Vec<Option<Hash>> = ops
        .par_iter()
        .map(|op| match op {
            Op::Block { data, .. } => Some(block_hash(data)),
            Op::Size { .. } | Op::Remove { .. } => None,
        })
        .collect();
    // All new chunks first, compressed in parallel; then the entries in order.
    let fresh: Vec<ChunkIn<'_>> = ops
        .iter()
        .zip(&hashes)
        .filter_map(|(op, h)| match (op, h) {
            (
                Op::Block {
                    stream,
                    block,
                    data,
                    ..
                },
                Some(h),
            ) => Some((*stream, *block, *h, data.as_slice())),
            _ => None,
        })
        .collect();
    batch.store_new_chunks(&fresh)?;
    // Consecutive block writes go through `push_blocks` (one `Run` entry
    // for the blocks of a group); sizes and removals keep their place.
    let mut versions: Vec<BlockAt> = Vec::new();
    for (op, h) in ops.iter().zip(&hashes) {
        if let (
            Op::Block {
                stream, block, ts, ..
            },
            Some(hash),
        ) = (op, h)
        {
            versions.push((*stream, *block, *ts, *hash));
            continue;
        }
        batch.push_blocks(&versions)?;
        versions.clear();
        match op {
            Op::Size { stream, ts, size } => batch.set_size(*stream, *ts, *size)?,
            Op::Remove { stream, ts } => batch.remove(*stream, *ts)?,
            Op::Block { .. } => {}
        }
    }
    batch.push_blocks(&versions)
}
