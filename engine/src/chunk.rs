//! Chunks: one distinct block content, BLAKE3-addressed, zstd-compressed.
//!
//! New chunks are stored in *groups*: each run of consecutive new blocks of
//! one stream in a batch, up to [`GROUP_BYTES`] of plain bytes, compressed
//! as one zstd frame (a scattered block is a group of one). A `Group` record's payload is `dict_no u32 | count u32 |
//! (blake3 [32] | raw_len u32) × count | zstd frame of the concatenation`.
//! Each chunk stays addressed by its own BLAKE3 (the index points at the
//! record and the member number); reading one decompresses the group, and
//! the chunk cache keeps every member. One frame for a run of pages
//! compresses about 5 % smaller than a frame per 8 KiB page, and saves
//! the per-record header.
//!
//! The older `Chunk` record (still read) holds one chunk: `blake3 [32] |
//! raw_len u32 | dict_no u32 | zstd frame`. `dict_no` 0 means no
//! dictionary; otherwise it names a `Dict` record of the store (per-block
//! zstd without a dictionary loses about a quarter of the ratio on 8 KiB
//! database pages).

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use zstd::zstd_safe::{CCtx, CDict, DCtx, DDict};

use crate::Hash;

/// zstd level for chunks: level 3 with a dictionary is as small as
/// whole-file zstd -1 on database pages and compresses >300 MB/s per core.
pub const LEVEL: i32 = 3;
/// Bytes of a trained dictionary.
pub const DICT_SIZE: usize = 64 << 10;
/// Fewest new blocks in one flush before a dictionary is trained.
pub const DICT_MIN_SAMPLES: usize = 256;
/// Most blocks sampled to train a dictionary.
pub const DICT_MAX_SAMPLES: usize = 2048;
/// Length of the chunk payload header (hash, raw_len, dict_no).
pub const CHUNK_HEADER: usize = 40;
/// Plain bytes gathered into one group (one zstd frame).
pub const GROUP_BYTES: usize = 128 << 10;
/// Largest plain size of a group a reader accepts (bounds allocations).
pub const MAX_GROUP_RAW: usize = 16 << 20;

/// BLAKE3 of `data`, with all-zero blocks mapped to the zero hash (they are
/// never stored).
pub fn block_hash(data: &[u8]) -> Hash {
    if is_zero(data) {
        crate::ZERO_HASH
    } else {
        *blake3::hash(data).as_bytes()
    }
}

/// True when every byte is zero.
pub fn is_zero(data: &[u8]) -> bool {
    let mut words = data.chunks_exact(16);
    words
        .by_ref()
        .all(|w| w.iter().fold(0u8, |acc, &b| acc | b) == 0)
        && words.remainder().iter().all(|&b| b == 0)
}

/// A store's dictionaries, prepared for both directions.
#[derive(Default)]
pub struct Dicts {
    by_no: HashMap<u32, Arc<Prepared>>,
    /// The dictionary new chunks are compressed with (0: none yet).
    pub current: u32,
}

/// One dictionary, digested for compression and decompression.
pub struct Prepared {
    cdict: CDict<'static>,
    ddict: DDict<'static>,
}

impl std::fmt::Debug for Dicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dicts")
            .field("count", &self.by_no.len())
            .field("current", &self.current)
            .finish()
    }
}

impl Dicts {
    /// Adds dictionary `no` (its raw bytes as stored in a `Dict` record).
    /// Returns false when zstd cannot load it.
    pub fn insert(&mut self, no: u32, bytes: &[u8]) -> bool {
        let (Some(cdict), Some(ddict)) =
            (CDict::try_create(bytes, LEVEL), DDict::try_create(bytes))
        else {
            return false;
        };
        self.by_no.insert(no, Arc::new(Prepared { cdict, ddict }));
        self.current = self.current.max(no);
        true
    }

    /// Forgets dictionary `no` (its batch was aborted).
    pub fn remove(&mut self, no: u32) {
        self.by_no.remove(&no);
        self.current = self.by_no.keys().copied().max().unwrap_or(0);
    }

    /// The prepared dictionary `no`.
    pub fn get(&self, no: u32) -> Option<Arc<Prepared>> {
        self.by_no.get(&no).cloned()
    }
}

thread_local! {
    static CCTX: RefCell<CCtx<'static>> = RefCell::new(CCtx::create());
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// Compresses a block with `dict` (or none). Returns the zstd frame.
pub fn compress(raw: &[u8], dict: Option<&Prepared>) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
    CCTX.with(|c| {
        let mut c = c.borrow_mut();
        let r = match dict {
            Some(d) => c.compress_using_cdict(&mut out, raw, &d.cdict),
            None => c.compress(&mut out, raw, LEVEL),
        };
        r.map_err(|code| zstd::zstd_safe::get_error_name(code).to_owned())
    })?;
    Ok(out)
}

/// Decompresses a frame that must expand to exactly `raw_len` bytes.
pub fn decompress(
    frame: &[u8],
    raw_len: usize,
    dict: Option<&Prepared>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(raw_len);
    let n = DCTX.with(|c| {
        let mut c = c.borrow_mut();
        let r = match dict {
            Some(d) => c.decompress_using_ddict(&mut out, frame, &d.ddict),
            None => c.decompress(&mut out, frame),
        };
        r.map_err(|code| zstd::zstd_safe::get_error_name(code).to_owned())
    })?;
    if n != raw_len {
        return Err(format!("decompressed to {n} bytes, expected {raw_len}"));
    }
    Ok(out)
}

/// Trains a dictionary from sample blocks (evenly spaced over `blocks`).
pub fn train(blocks: &[&[u8]]) -> Option<Vec<u8>> {
    let step = blocks.len().div_ceil(DICT_MAX_SAMPLES).max(1);
    let samples: Vec<&[u8]> = blocks.iter().step_by(step).copied().collect();
    zstd::dict::from_samples(&samples, DICT_SIZE).ok()
}

/// Blocks of a batch compressed with both dictionaries by [`retrain`].
const DRIFT_SAMPLES: usize = 256;
/// A candidate dictionary must save this share (percent) of the current
/// one's output on the batch's blocks to replace it.
pub const DRIFT_GAIN_PERCENT: usize = 5;

/// The drift check: trains a candidate dictionary on half of `blocks`
/// (every other block) and compresses up to 256 blocks of the other half,
/// one frame each, with it and with `current`. Returns the candidate if it
/// saves at least [`DRIFT_GAIN_PERCENT`] %, else `None` (the data still
/// looks like what `current` was trained on).
pub fn retrain(blocks: &[&[u8]], current: &Prepared) -> Option<Vec<u8>> {
    let train_half: Vec<&[u8]> = blocks.iter().step_by(2).copied().collect();
    let test_half: Vec<&[u8]> = blocks.iter().skip(1).step_by(2).copied().collect();
    let candidate = train(&train_half)?;
    let mut d = Dicts::default();
    if !d.insert(1, &candidate) {
        return None;
    }
    let cand = d.get(1)?;
    let step = test_half.len().div_ceil(DRIFT_SAMPLES).max(1);
    let (mut old, mut new) = (0usize, 0usize);
    for b in test_half.iter().step_by(step) {
        old += compress(b, Some(current)).ok()?.len();
        new += compress(b, Some(&cand)).ok()?.len();
    }
    (new * 100 <= old * (100 - DRIFT_GAIN_PERCENT)).then_some(candidate)
}

/// The payload header of a `Chunk` record (the single-chunk layout that
/// packs written before groups hold; kept so that layout is documented and
/// tested).
pub fn encode_header(hash: &Hash, raw_len: u32, dict_no: u32) -> [u8; CHUNK_HEADER] {
    let mut h = [0u8; CHUNK_HEADER];
    h[..32].copy_from_slice(hash);
    h[32..36].copy_from_slice(&raw_len.to_le_bytes());
    h[36..40].copy_from_slice(&dict_no.to_le_bytes());
    h
}

/// Splits a chunk payload into (hash, raw_len, dict_no, frame).
pub fn decode(payload: &[u8]) -> Option<(Hash, u32, u32, &[u8])> {
    let hash: Hash = payload.get(..32)?.try_into().ok()?;
    let raw_len = u32::from_le_bytes(payload.get(32..36)?.try_into().ok()?);
    let dict_no = u32::from_le_bytes(payload.get(36..40)?.try_into().ok()?);
    Some((hash, raw_len, dict_no, payload.get(40..)?))
}

/// One member of a group: its hash and plain length.
pub type Member = (Hash, u32);

/// The `Group` record payload header (everything before the frame).
pub fn encode_group_header(dict_no: u32, members: &[Member]) -> Vec<u8> {
    let mut h = Vec::with_capacity(8 + members.len() * 36);
    h.extend_from_slice(&dict_no.to_le_bytes());
    h.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for (hash, len) in members {
        h.extend_from_slice(hash);
        h.extend_from_slice(&len.to_le_bytes());
    }
    h
}

/// Splits a `Group` payload into (dict_no, members, frame). `None` if the
/// header is cut short or its plain size exceeds [`MAX_GROUP_RAW`].
pub fn decode_group(payload: &[u8]) -> Option<(u32, Vec<Member>, &[u8])> {
    let dict_no = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
    let count = u32::from_le_bytes(payload.get(4..8)?.try_into().ok()?) as usize;
    let table = payload.get(8..8 + count.checked_mul(36)?)?;
    let members: Vec<Member> = table
        .chunks_exact(36)
        .map(|m| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&m[..32]);
            (h, u32::from_le_bytes([m[32], m[33], m[34], m[35]]))
        })
        .collect();
    let raw: usize = members.iter().map(|(_, l)| *l as usize).sum();
    if raw > MAX_GROUP_RAW {
        return None;
    }
    Some((dict_no, members, payload.get(8 + count * 36..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compress_round_trip_with_and_without_dictionary() {
        let blocks: Vec<Vec<u8>> = (0..400u32)
            .map(|i| {
                (0..8192u32)
                    .map(|j| (((i * 7 + j * 13) % 251) ^ (j % 64)) as u8)
                    .collect()
            })
            .collect();
        let refs: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
        let dict = train(&refs).expect("train");
        let mut d = Dicts::default();
        assert!(d.insert(1, &dict));
        let p = d.get(1).expect("dict 1");
        for b in &blocks[..20] {
            let with = compress(b, Some(&p)).expect("compress");
            let without = compress(b, None).expect("compress");
            assert_eq!(
                decompress(&with, b.len(), Some(&p)).expect("decompress"),
                *b
            );
            assert_eq!(decompress(&without, b.len(), None).expect("decompress"), *b);
            assert!(decompress(&with, b.len() + 1, Some(&p)).is_err());
        }
        assert_eq!(block_hash(&[0u8; 8192]), crate::ZERO_HASH);
        assert_ne!(block_hash(&blocks[0]), crate::ZERO_HASH);
        assert!(!is_zero(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1]));
    }

    #[test]
    fn group_header_round_trip_and_bounds() {
        let members: Vec<Member> = (0..5u8).map(|i| ([i; 32], 8192)).collect();
        let mut payload = encode_group_header(7, &members);
        payload.extend_from_slice(b"frame");
        let (dict, got, frame) = decode_group(&payload).expect("decode");
        assert_eq!((dict, got, frame), (7, members.clone(), &b"frame"[..]));
        // A count larger than the payload, or a plain size past the cap, is refused.
        let mut big = payload.clone();
        big[4..8].copy_from_slice(&1000u32.to_le_bytes());
        assert!(decode_group(&big).is_none());
        let huge: Vec<Member> = vec![([1; 32], u32::MAX); 2];
        assert!(decode_group(&encode_group_header(0, &huge)).is_none());
    }

    proptest::proptest! {
        #[test]
        fn group_decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = decode_group(&bytes);
            let _ = decode(&bytes);
        }
    }
}
