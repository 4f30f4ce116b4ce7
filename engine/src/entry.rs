//! Metadata entries: what an `Entries` pack record holds.
//!
//! Each batch (one sequence number) is a list of entries applied to the
//! index in order. Replaying every committed batch of every pack in
//! sequence order rebuilds the index exactly. Encoding (little-endian), a
//! tag byte then the fields:
//!
//! | tag | entry | fields |
//! |---|---|---|
//! | 1 | [`Entry::Stream`] | id u32, block_size u32, name_len u16, name (UTF-8) |
//! | 2 | [`Entry::Block`] | stream u32, block u64, ts i64, blake3 \[32\] (all zero: zero block) |
//! | 3 | [`Entry::Size`] | stream u32, ts i64, size u64 |
//! | 4 | [`Entry::Mark`] | stream u32 (0: store-wide), ts i64, name_len u16, name |
//! | 5 | [`Entry::Instant`] | stream u32, ts i64 |
//! | 6 | [`Entry::Prune`] | stream u32, count u32, ts i64 × count |
//! | 7 | [`Entry::Checkpoint`] | (none) |
//! | 8 | [`Entry::Version`] | stream u32, block u64, ts i64, blake3 \[32\] |
//! | 9 | [`Entry::SizeRow`] | stream u32, ts i64, size u64 |
//! | 10 | [`Entry::InstantRow`] | stream u32, ts i64, seq u64, blocks u64 |
//! | 11 | [`Entry::Remove`] | stream u32, ts i64 |
//! | 12 | [`Entry::Run`] | stream u32, first block u64, ts i64, group record offset u64 |
//!
//! A `Run` stands for one `Block` entry per member of a `Group` record of
//! the same batch (so of the same pack): block `first + i` holds member
//! `i`, whose BLAKE3 the group header already names. The hash of a new
//! page is thus written once in the pack (29 bytes per group instead of
//! 53 per page); replay reads the group header to expand it. gc never
//! copies `Entries` records (it writes a checkpoint), so the offset always
//! refers to the pack that holds the entry.
//!
//! Tags 7–10 appear only in a *checkpoint* batch, which garbage collection
//! writes: it starts with `Checkpoint` and states the whole index as rows
//! (streams, marks, and the block versions, sizes and instants that
//! retention kept), so replay may skip every batch before it — this is how
//! the metadata of pruned versions leaves the store.

use crate::Hash;

/// Tag of [`Entry::Checkpoint`]: replay looks for it as the first entry of
/// a batch without decoding the rest.
pub const CHECKPOINT_TAG: u8 = 7;
/// Tag of [`Entry::Run`].
pub const RUN_TAG: u8 = 12;

/// One metadata change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A stream is created.
    Stream {
        /// Stream id (from 1).
        id: u32,
        /// Block size in bytes.
        block_size: u32,
        /// Stream name.
        name: String,
    },
    /// Block `block` of `stream` holds the chunk `hash` from instant `ts` on.
    Block {
        /// Stream id.
        stream: u32,
        /// Block number.
        block: u64,
        /// Instant, ns since the Unix epoch (UTC).
        ts: i64,
        /// BLAKE3 of the block, or all zero for an all-zero block.
        hash: Hash,
    },
    /// Blocks `block..` of `stream` hold, from `ts` on, the members of the
    /// `Group` record at offset `group` of this entry's pack, in order.
    /// Replay resolves it into `Block` entries (see the module doc).
    Run {
        /// Stream id.
        stream: u32,
        /// First block number.
        block: u64,
        /// Instant.
        ts: i64,
        /// Offset of the `Group` record in the pack holding this entry.
        group: u64,
    },
    /// The stream is `size` bytes long from `ts` on (extend or truncate).
    Size {
        /// Stream id.
        stream: u32,
        /// Instant.
        ts: i64,
        /// New length in bytes.
        size: u64,
    },
    /// The stream was removed (unlinked, or renamed away) at `ts`: it does
    /// not exist from then on until a later write or length recreates it
    /// from zeros. Its `sizes` row holds [`crate::index::REMOVED`].
    Remove {
        /// Stream id.
        stream: u32,
        /// Instant.
        ts: i64,
    },
    /// A named point in time.
    Mark {
        /// Stream id, 0 for a store-wide marker.
        stream: u32,
        /// Instant.
        ts: i64,
        /// Marker name.
        name: String,
    },
    /// An instant of a stream exists (a capture with no changed block).
    Instant {
        /// Stream id.
        stream: u32,
        /// Instant.
        ts: i64,
    },
    /// Retention dropped these instants of the stream.
    Prune {
        /// Stream id.
        stream: u32,
        /// Dropped instants, ascending.
        dropped: Vec<i64>,
    },
    /// This batch restates the whole index; every earlier batch is superseded.
    Checkpoint,
    /// A `blocks` row as it stands (no instant is touched).
    Version {
        /// Stream id.
        stream: u32,
        /// Block number.
        block: u64,
        /// Instant.
        ts: i64,
        /// BLAKE3 of the block, or all zero for an all-zero block.
        hash: Hash,
    },
    /// A `sizes` row as it stands (no truncation is applied).
    SizeRow {
        /// Stream id.
        stream: u32,
        /// Instant.
        ts: i64,
        /// Length in bytes.
        size: u64,
    },
    /// An `instants` row as it stands.
    InstantRow {
        /// Stream id.
        stream: u32,
        /// Instant.
        ts: i64,
        /// Sequence number of the batch that recorded the instant.
        seq: u64,
        /// Blocks written at the instant.
        blocks: u64,
    },
}

impl Entry {
    /// Appends the encoding to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Entry::Stream {
                id,
                block_size,
                name,
            } => {
                out.push(1);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&block_size.to_le_bytes());
                put_str(out, name);
            }
            Entry::Block {
                stream,
                block,
                ts,
                hash,
            } => {
                out.push(2);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&block.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                out.extend_from_slice(hash);
            }
            Entry::Run {
                stream,
                block,
                ts,
                group,
            } => {
                out.push(RUN_TAG);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&block.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                out.extend_from_slice(&group.to_le_bytes());
            }
            Entry::Size { stream, ts, size } => {
                out.push(3);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                out.extend_from_slice(&size.to_le_bytes());
            }
            Entry::Remove { stream, ts } => {
                out.push(11);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
            }
            Entry::Mark { stream, ts, name } => {
                out.push(4);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                put_str(out, name);
            }
            Entry::Instant { stream, ts } => {
                out.push(5);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
            }
            Entry::Prune { stream, dropped } => {
                out.push(6);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&(dropped.len() as u32).to_le_bytes());
                for t in dropped {
                    out.extend_from_slice(&t.to_le_bytes());
                }
            }
            Entry::Checkpoint => out.push(CHECKPOINT_TAG),
            Entry::Version {
                stream,
                block,
                ts,
                hash,
            } => {
                out.push(8);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&block.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                out.extend_from_slice(hash);
            }
            Entry::SizeRow { stream, ts, size } => {
                out.push(9);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                out.extend_from_slice(&size.to_le_bytes());
            }
            Entry::InstantRow {
                stream,
                ts,
                seq,
                blocks,
            } => {
                out.push(10);
                out.extend_from_slice(&stream.to_le_bytes());
                out.extend_from_slice(&ts.to_le_bytes());
                out.extend_from_slice(&seq.to_le_bytes());
                out.extend_from_slice(&blocks.to_le_bytes());
            }
        }
    }

    /// Decodes all entries of a payload (after its `seq`). `None` if malformed.
    pub fn decode_all(mut p: &[u8]) -> Option<Vec<Entry>> {
        let mut out = Vec::new();
        while !p.is_empty() {
            let mut r = Reader(&p[1..]);
            let e = match p[0] {
                1 => Entry::Stream {
                    id: r.u32()?,
                    block_size: r.u32()?,
                    name: r.string()?,
                },
                2 => Entry::Block {
                    stream: r.u32()?,
                    block: r.u64()?,
                    ts: r.i64()?,
                    hash: r.take(32)?.try_into().ok()?,
                },
                RUN_TAG => Entry::Run {
                    stream: r.u32()?,
                    block: r.u64()?,
                    ts: r.i64()?,
                    group: r.u64()?,
                },
                3 => Entry::Size {
                    stream: r.u32()?,
                    ts: r.i64()?,
                    size: r.u64()?,
                },
                4 => Entry::Mark {
                    stream: r.u32()?,
                    ts: r.i64()?,
                    name: r.string()?,
                },
                5 => Entry::Instant {
                    stream: r.u32()?,
                    ts: r.i64()?,
                },
                6 => {
                    let stream = r.u32()?;
                    let n = r.u32()? as usize;
                    // Bound the allocation by what the payload can hold.
                    if n > r.0.len() / 8 {
                        return None;
                    }
                    let mut dropped = Vec::with_capacity(n);
                    for _ in 0..n {
                        dropped.push(r.i64()?);
                    }
                    Entry::Prune { stream, dropped }
                }
                CHECKPOINT_TAG => Entry::Checkpoint,
                8 => Entry::Version {
                    stream: r.u32()?,
                    block: r.u64()?,
                    ts: r.i64()?,
                    hash: r.take(32)?.try_into().ok()?,
                },
                9 => Entry::SizeRow {
                    stream: r.u32()?,
                    ts: r.i64()?,
                    size: r.u64()?,
                },
                10 => Entry::InstantRow {
                    stream: r.u32()?,
                    ts: r.i64()?,
                    seq: r.u64()?,
                    blocks: r.u64()?,
                },
                11 => Entry::Remove {
                    stream: r.u32()?,
                    ts: r.i64()?,
                },
                _ => return None,
            };
            out.push(e);
            p = r.0;
        }
        Some(out)
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(usize::from(u16::MAX))];
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (a, b) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = b;
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn string(&mut self) -> Option<String> {
        let n = usize::from(u16::from_le_bytes(self.take(2)?.try_into().ok()?));
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_every_kind() {
        let all = vec![
            Entry::Stream {
                id: 3,
                block_size: 8192,
                name: "db.mdf".into(),
            },
            Entry::Block {
                stream: 3,
                block: 9,
                ts: -5,
                hash: [7; 32],
            },
            Entry::Size {
                stream: 3,
                ts: 1,
                size: 123_456,
            },
            Entry::Mark {
                stream: 0,
                ts: 2,
                name: "checkpoint".into(),
            },
            Entry::Instant { stream: 3, ts: 4 },
            Entry::Remove { stream: 3, ts: 5 },
            Entry::Run {
                stream: 3,
                block: 1 << 40,
                ts: -6,
                group: 4096,
            },
            Entry::Prune {
                stream: 3,
                dropped: vec![1, 2, 3],
            },
            Entry::Checkpoint,
            Entry::Version {
                stream: 3,
                block: 4,
                ts: 5,
                hash: [6; 32],
            },
            Entry::SizeRow {
                stream: 3,
                ts: 7,
                size: 8,
            },
            Entry::InstantRow {
                stream: 3,
                ts: 9,
                seq: 10,
                blocks: 11,
            },
        ];
        let mut buf = Vec::new();
        for e in &all {
            e.encode(&mut buf);
        }
        assert_eq!(Entry::decode_all(&buf), Some(all));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Entry::decode_all(&bytes);
        }
    }
}
