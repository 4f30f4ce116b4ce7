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
//!
//! Dictionaries ([`Dicts`], [`Prepared`]): a store first uses 64 KiB
//! dictionaries trained by zstd ([`train`], [`retrain`] on drift), then a
//! 16 MiB *content* dictionary of its own sampled pages
//! ([`ContentSample`]), once that wins its trial on held-out pages
//! ([`content_wins`]): pages far apart in a database file repeat rows and
//! strings beyond any frame, which raw content lets zstd match. See
//! `engine/DESIGN.md` §3 for the record layouts and measurements.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rayon::prelude::*;
use zstd::zstd_safe::{CCtx, CDict, CParameter, DCtx, DDict, DictAttachPref, ResetDirective};

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

/// A store's dictionaries, prepared for both directions. Trained
/// dictionaries (64 KiB) stay loaded; content dictionaries (up to
/// [`CONTENT_DICT_BYTES`] each) are loaded when a chunk needs one and at
/// most [`CONTENT_DICTS_LOADED`] are kept besides the current one, so a
/// store with many of them does not hold every one in memory.
#[derive(Default)]
pub struct Dicts {
    by_no: HashMap<u32, Arc<Prepared>>,
    /// Loaded content dictionaries, least recently used first.
    recent: Mutex<Vec<u32>>,
    /// The dictionary new chunks are compressed with (0: none yet).
    pub current: u32,
}

/// One dictionary, digested for compression and decompression.
pub struct Prepared {
    /// Process-unique number: a thread's compression context knows by it
    /// which content dictionary it has loaded.
    id: u64,
    kind: Kind,
}

enum Kind {
    /// A zstd-trained dictionary (entropy tables and a short content).
    Trained {
        cdict: CDict<'static>,
        ddict: DDict<'static>,
    },
    /// Raw content: pages of the store itself. A thread's compression
    /// context loads it with [`content_params`] (zstd builds its match
    /// tables once per context and attaches them to every frame).
    Content { raw: Vec<u8>, ddict: DDict<'static> },
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Prepared {
    /// Digests a trained dictionary. `None` when zstd cannot load it.
    pub fn trained(bytes: &[u8]) -> Option<Prepared> {
        let cdict = CDict::try_create(bytes, LEVEL)?;
        let ddict = DDict::try_create(bytes)?;
        Some(Prepared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind: Kind::Trained { cdict, ddict },
        })
    }

    /// Prepares a content dictionary (as [`ContentSample::finish`] made
    /// it: it begins with [`CONTENT_MAGIC`], so zstd never takes it for a
    /// trained one). `None` when it lacks the magic or zstd refuses it.
    pub fn content(raw: Vec<u8>) -> Option<Prepared> {
        if !raw.starts_with(CONTENT_MAGIC) {
            return None;
        }
        let ddict = DDict::try_create(&raw)?;
        Some(Prepared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            kind: Kind::Content { raw, ddict },
        })
    }

    /// The raw bytes of a content dictionary.
    pub fn content_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Content { raw, .. } => Some(raw),
            Kind::Trained { .. } => None,
        }
    }

    /// True for a content dictionary.
    pub fn is_content(&self) -> bool {
        matches!(self.kind, Kind::Content { .. })
    }

    /// Bytes held in memory (the dictionary and zstd's digest of it, roughly).
    pub fn raw_len(&self) -> usize {
        match &self.kind {
            Kind::Trained { .. } => DICT_SIZE,
            Kind::Content { raw, .. } => raw.len(),
        }
    }
}

impl std::fmt::Debug for Dicts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dicts")
            .field("loaded", &self.by_no.len())
            .field("recent", &self.recent)
            .field("current", &self.current)
            .finish()
    }
}

impl Dicts {
    /// Adds dictionary `no` and returns it; a content dictionary may evict
    /// the least recently used other content dictionary (never the current
    /// one, never itself).
    pub fn insert(&mut self, no: u32, dict: Prepared) -> Arc<Prepared> {
        let content = dict.is_content();
        let dict = Arc::new(dict);
        self.by_no.insert(no, dict.clone());
        if content {
            let recent = self
                .recent
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner);
            recent.retain(|&n| n != no);
            recent.push(no);
            while recent.len() > CONTENT_DICTS_LOADED + 1 {
                let Some(pos) = recent.iter().position(|&n| n != self.current && n != no) else {
                    break;
                };
                let old = recent.remove(pos);
                self.by_no.remove(&old);
            }
        }
        dict
    }

    /// Forgets dictionary `no` (its batch was aborted; dictionaries are
    /// numbered in order, so the one before it is current again).
    pub fn remove(&mut self, no: u32) {
        self.by_no.remove(&no);
        if self.current >= no {
            self.current = no.saturating_sub(1);
        }
        self.recent
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|&n| n != no);
    }

    /// The prepared dictionary `no`, if loaded.
    pub fn get(&self, no: u32) -> Option<Arc<Prepared>> {
        let d = self.by_no.get(&no)?.clone();
        if d.is_content() {
            let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(pos) = recent.iter().position(|&n| n == no) {
                recent.remove(pos);
                recent.push(no);
            }
        }
        Some(d)
    }
}

/// Content dictionaries kept loaded besides the current one.
pub const CONTENT_DICTS_LOADED: usize = 2;
/// Size of a content dictionary: 16 MiB of sampled pages. Measured on the
/// 1 GiB peer workload (frames of 16 pages, level 3): 8 MiB stores 383 MB
/// of pages, 16 MiB 373 MB, 32 MiB 367 MB at two thirds of the speed.
pub const CONTENT_DICT_BYTES: usize = 16 << 20;
/// Every this-many-th new chunk is a candidate for the content sample:
/// spread over 4× the dictionary's size of new data (every 8th measured
/// the same, every page of a contiguous prefix 2.5 % worse).
pub const CONTENT_SAMPLE_STEP: u64 = 4;
/// First bytes of a content dictionary (not zstd's dictionary magic, so
/// zstd loads it as raw content).
pub const CONTENT_MAGIC: &[u8; 8] = b"KAIROSCD";
/// zstd match-finder table sizes (log2) with a content dictionary: the
/// dictionary is 16 MiB, level 3's default 2^17 entries would find few
/// of its matches (hashLog 20: 387 MB on the workload, 22: 373 MB).
const CONTENT_HASH_LOG: u32 = 22;

/// The content sample a writer gathers from new chunks until it has
/// [`CONTENT_DICT_BYTES`]: every [`CONTENT_SAMPLE_STEP`]-th new chunk that
/// compresses to less than half (incompressible pages — random bytes,
/// compressed blobs — teach a dictionary nothing and would crowd out
/// pages that repeat).
#[derive(Debug)]
pub struct ContentSample {
    bytes: Vec<u8>,
    /// Held-out new chunks (every 4th, offset by two from the sampled
    /// ones, compressible or not; the latest [`CONTENT_TRIAL_CHUNKS`]):
    /// what the dictionary is tried on.
    trial: Vec<Vec<u8>>,
    seen: u64,
    target: usize,
    /// A dictionary from the sample lost its trial: sample no more.
    stopped: bool,
}

impl ContentSample {
    /// An empty sample that is full at `target` bytes.
    pub fn new(target: usize) -> Self {
        ContentSample {
            bytes: Vec::new(),
            trial: Vec::new(),
            seen: 0,
            target,
            stopped: false,
        }
    }

    /// Stops sampling for good (this writer's content dictionary lost its
    /// trial).
    pub fn stop(&mut self) {
        self.bytes = Vec::new();
        self.trial = Vec::new();
        self.stopped = true;
    }

    /// Offers one new chunk.
    pub fn offer(&mut self, chunk: &[u8]) {
        self.seen += 1;
        if self.stopped || self.is_full() {
            return;
        }
        if self.seen % CONTENT_SAMPLE_STEP == CONTENT_SAMPLE_STEP / 2 {
            let slot = (self.seen / CONTENT_SAMPLE_STEP) as usize % CONTENT_TRIAL_CHUNKS;
            match self.trial.get_mut(slot) {
                Some(t) => *t = chunk.to_vec(),
                None => self.trial.push(chunk.to_vec()),
            }
            return;
        }
        if !self.seen.is_multiple_of(CONTENT_SAMPLE_STEP) {
            return;
        }
        let small = CCTX.with(|c| {
            let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(chunk.len()));
            c.borrow_mut()
                .0
                .compress(&mut out, chunk, 1)
                .is_ok_and(|n| n * 2 < chunk.len())
        });
        if small {
            if self.bytes.is_empty() {
                self.bytes.extend_from_slice(CONTENT_MAGIC);
            }
            self.bytes.extend_from_slice(chunk);
        }
    }

    /// True once the sample holds enough for a dictionary and enough
    /// held-out chunks to try it on.
    pub fn is_full(&self) -> bool {
        !self.stopped && self.bytes.len() >= self.target && self.trial.len() >= CONTENT_TRIAL_MIN
    }

    /// Takes the sample (the dictionary's bytes) and the held-out chunks,
    /// and starts over.
    pub fn finish(&mut self) -> (Vec<u8>, Vec<Vec<u8>>) {
        self.seen = 0;
        (
            std::mem::take(&mut self.bytes),
            std::mem::take(&mut self.trial),
        )
    }

    /// Drops what was gathered (its chunks' batch was rolled back).
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.trial.clear();
        self.seen = 0;
    }
}

/// New chunks a content dictionary is tried on before it takes over.
pub const CONTENT_TRIAL_CHUNKS: usize = 128;
/// Fewest held-out chunks the trial needs (sampling goes on until then).
pub const CONTENT_TRIAL_MIN: usize = 4;
/// Share (percent) of the current dictionary's output the content
/// dictionary must save in its trial.
pub const CONTENT_GAIN_PERCENT: usize = 2;

/// The trial of a content dictionary: `chunks` (new ones, not in the
/// sample), compressed in frames of up to 16 as groups are, with `content` and with `current` (or none). True if
/// the content dictionary saves at least [`CONTENT_GAIN_PERCENT`] %. Data
/// without long-range repetition (a small vocabulary, say) compresses
/// better with a trained dictionary's entropy tables than with raw content.
pub fn content_wins(content: &Prepared, current: Option<&Prepared>, chunks: &[&[u8]]) -> bool {
    // On the pool threads that compress chunks (and will load the
    // dictionary anyway if it wins), not on the writer's thread.
    let sizes: Option<Vec<(usize, usize)>> = chunks
        .par_chunks(GROUP_BYTES / chunks.first().map_or(1, |c| c.len().max(1)))
        .map(|frame| {
            let plain = frame.concat();
            let old = compress(&plain, current).ok()?.len();
            let new = compress(&plain, Some(content)).ok()?.len();
            Some((old, new))
        })
        .collect();
    let Some(sizes) = sizes else {
        return false;
    };
    let (old, new) = sizes.iter().fold((0, 0), |(o, n), &(a, b)| (o + a, n + b));
    new * 100 <= old * (100 - CONTENT_GAIN_PERCENT)
}

/// Kind byte of a `Dict` record holding a content dictionary. A trained
/// dictionary's record has no kind byte: its bytes begin with zstd's
/// dictionary magic `37 A4 30 EC`, whose first byte is not a kind.
pub const DICT_KIND_CONTENT: u8 = 2;
/// Largest content dictionary a reader accepts (bounds the allocation a
/// corrupt length could ask for).
pub const MAX_CONTENT_DICT: usize = 64 << 20;

/// The payload of a `Dict` record for content dictionary `no`: `no u32 |
/// kind u8 = 2 | raw_len u32 | zstd frame of the dictionary` (level 9:
/// written once, 16 MiB of pages store as ~3.4 MB).
pub fn encode_content_dict(no: u32, raw: &[u8]) -> Result<Vec<u8>, String> {
    let raw_len = u32::try_from(raw.len()).map_err(|_| "dictionary too large".to_owned())?;
    let frame = zstd::bulk::compress(raw, 9).map_err(|e| e.to_string())?;
    let mut p = Vec::with_capacity(9 + frame.len());
    p.extend_from_slice(&no.to_le_bytes());
    p.push(DICT_KIND_CONTENT);
    p.extend_from_slice(&raw_len.to_le_bytes());
    p.extend_from_slice(&frame);
    Ok(p)
}

/// Decodes a `Dict` record payload into its number and prepared
/// dictionary (trained: the bytes as stored; content: decompressed, at
/// most [`MAX_CONTENT_DICT`] bytes). The error says what is wrong.
pub fn decode_dict(payload: &[u8]) -> Result<(u32, Prepared), String> {
    let no = payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or("dictionary record is cut short")?;
    let body = payload.get(4..).unwrap_or_default();
    if body.starts_with(&ZSTD_DICT_MAGIC) {
        let d = Prepared::trained(body).ok_or("trained dictionary does not load in zstd")?;
        return Ok((no, d));
    }
    match body.first() {
        Some(&DICT_KIND_CONTENT) => {
            let raw_len =
                body.get(1..5)
                    .and_then(|b| b.try_into().ok())
                    .map(u32::from_le_bytes)
                    .ok_or("content dictionary header is cut short")? as usize;
            if raw_len > MAX_CONTENT_DICT {
                return Err(format!(
                    "content dictionary of {raw_len} bytes is larger than the {MAX_CONTENT_DICT} a reader accepts"
                ));
            }
            let raw = decompress(body.get(5..).unwrap_or_default(), raw_len, None)
                .map_err(|e| format!("content dictionary: zstd: {e}"))?;
            let d = Prepared::content(raw)
                .ok_or("content dictionary lacks its magic or does not load in zstd")?;
            Ok((no, d))
        }
        Some(k) => Err(format!("unknown dictionary kind {k}")),
        None => Err("dictionary record is empty".into()),
    }
}

/// zstd's magic number at the start of a trained dictionary.
const ZSTD_DICT_MAGIC: [u8; 4] = [0x37, 0xA4, 0x30, 0xEC];

thread_local! {
    /// The thread's compression context and the id of the content
    /// dictionary loaded in it (0: none).
    static CCTX: RefCell<(CCtx<'static>, u64)> = RefCell::new((CCtx::create(), 0));
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// Loads `raw` into `c` as a content dictionary with its parameters:
/// level 3, larger match tables ([`CONTENT_HASH_LOG`]), and the
/// dictionary's tables *attached* to each frame (the default copies them
/// into every frame, 32 MB for a 16 MiB dictionary: 4× slower).
fn load_content(c: &mut CCtx<'static>, raw: &[u8]) -> Result<(), usize> {
    c.reset(ResetDirective::SessionAndParameters)?;
    c.set_parameter(CParameter::CompressionLevel(LEVEL))?;
    c.set_parameter(CParameter::HashLog(CONTENT_HASH_LOG))?;
    c.set_parameter(CParameter::ChainLog(CONTENT_HASH_LOG))?;
    c.set_parameter(CParameter::ForceAttachDict(DictAttachPref::ForceAttach))?;
    c.load_dictionary(raw).map(drop)
}

/// Compresses a block (or a group's concatenated blocks) with `dict` (or
/// none). Returns the zstd frame.
pub fn compress(raw: &[u8], dict: Option<&Prepared>) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
    CCTX.with(|c| {
        let (c, loaded) = &mut *c.borrow_mut();
        match dict.map(|d| (d.id, &d.kind)) {
            Some((_, Kind::Trained { cdict, .. })) => c.compress_using_cdict(&mut out, raw, cdict),
            Some((id, Kind::Content { raw: dict, .. })) => {
                if *loaded != id {
                    *loaded = 0;
                    load_content(c, dict)?;
                    *loaded = id;
                }
                c.compress2(&mut out, raw)
            }
            None => c.compress(&mut out, raw, LEVEL),
        }
    })
    .map_err(|code| zstd::zstd_safe::get_error_name(code).to_owned())?;
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
        let r = match dict.map(|d| &d.kind) {
            Some(Kind::Trained { ddict, .. } | Kind::Content { ddict, .. }) => {
                c.decompress_using_ddict(&mut out, frame, ddict)
            }
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
    let cand = Prepared::trained(&candidate)?;
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

/// The member table of a `Group` header (`(blake3 [32] | raw_len u32) ×
/// count`; a trailing partial member is ignored).
pub fn decode_members(table: &[u8]) -> Vec<Member> {
    table
        .chunks_exact(36)
        .map(|m| {
            let mut h = [0u8; 32];
            h.copy_from_slice(&m[..32]);
            (h, u32::from_le_bytes([m[32], m[33], m[34], m[35]]))
        })
        .collect()
}

/// Splits a `Group` payload into (dict_no, members, frame). `None` if the
/// header is cut short or its plain size exceeds [`MAX_GROUP_RAW`].
pub fn decode_group(payload: &[u8]) -> Option<(u32, Vec<Member>, &[u8])> {
    let dict_no = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
    let count = u32::from_le_bytes(payload.get(4..8)?.try_into().ok()?) as usize;
    let table = payload.get(8..8 + count.checked_mul(36)?)?;
    let members = decode_members(table);
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
        // Text pages: rows of words drawn by an LCG (compress to well under half).
        const WORDS: [&str; 12] = [
            "order",
            "invoice",
            "shipped",
            "Berlin",
            "Portland",
            "refund",
            "42.50",
            "NEW",
            "customer",
            "warehouse",
            "Smith",
            "Tanaka",
        ];
        let mut x = 7u64;
        let blocks: Vec<Vec<u8>> = (0..400)
            .map(|_| {
                let mut page = Vec::with_capacity(8192);
                while page.len() < 8192 {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    page.extend_from_slice(WORDS[(x >> 33) as usize % WORDS.len()].as_bytes());
                    page.push(if x.is_multiple_of(7) { b'\n' } else { b' ' });
                }
                page.truncate(8192);
                page
            })
            .collect();
        let refs: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
        let dict = train(&refs).expect("train");
        let mut d = Dicts::default();
        d.insert(1, Prepared::trained(&dict).expect("trained"));
        let mut sample = ContentSample::new(64 << 10);
        for b in &blocks {
            sample.offer(b);
        }
        assert!(sample.is_full(), "every 4th compressible page is sampled");
        d.insert(2, Prepared::content(sample.finish().0).expect("content"));
        let (p, c) = (d.get(1).expect("dict 1"), d.get(2).expect("dict 2"));
        assert!(!p.is_content() && c.is_content());
        // A sampled page (every 4th) is all one match in the content dictionary.
        let sampled = compress(&blocks[3], Some(&c)).expect("compress");
        let trained = compress(&blocks[3], Some(&p)).expect("compress");
        assert!(
            sampled.len() * 4 < trained.len(),
            "{} vs {}",
            sampled.len(),
            trained.len()
        );
        // One thread's context switches between none, trained and content
        // dictionaries (and two content dictionaries) frame by frame.
        let other = Prepared::content([&CONTENT_MAGIC[..], &blocks[1]].concat()).expect("other");
        for b in &blocks[..20] {
            let with = compress(b, Some(&p)).expect("compress");
            let content = compress(b, Some(&c)).expect("compress");
            let without = compress(b, None).expect("compress");
            let other_frame = compress(b, Some(&other)).expect("compress");
            assert_eq!(
                decompress(&with, b.len(), Some(&p)).expect("decompress"),
                *b
            );
            assert_eq!(
                decompress(&content, b.len(), Some(&c)).expect("decompress"),
                *b
            );
            assert_eq!(
                decompress(&other_frame, b.len(), Some(&other)).expect("decompress"),
                *b
            );
            assert!(decompress(&content, b.len(), Some(&other)).ok().as_ref() != Some(b));
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

    #[test]
    fn dict_records_round_trip_and_refuse_bad_sizes() {
        let raw = [&CONTENT_MAGIC[..], &[7u8; 5000][..], b"pages"].concat();
        let payload = encode_content_dict(3, &raw).expect("encode");
        let (no, d) = decode_dict(&payload).expect("decode");
        assert!(no == 3 && d.is_content() && d.raw_len() == raw.len());
        // A trained dictionary's record (no kind byte) still reads.
        let blocks: Vec<Vec<u8>> = (0..300u32)
            .map(|i| (0..4096u32).map(|j| ((i ^ j) % 97) as u8).collect())
            .collect();
        let refs: Vec<&[u8]> = blocks.iter().map(Vec::as_slice).collect();
        let trained = train(&refs).expect("train");
        let old = [&1u32.to_le_bytes()[..], &trained].concat();
        assert!(decode_dict(&old).is_ok_and(|(n, d)| n == 1 && !d.is_content()));
        // A corrupt length is refused before anything that size is allocated.
        let mut big = payload.clone();
        big[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = decode_dict(&big).err().expect("oversized");
        assert!(e.contains("larger than"), "{e}");
        let mut wrong = payload.clone();
        wrong[5..9].copy_from_slice(&((raw.len() - 1) as u32).to_le_bytes());
        assert!(decode_dict(&wrong).is_err());
        let mut kind = payload.clone();
        kind[4] = 9;
        assert!(
            decode_dict(&kind)
                .err()
                .expect("kind")
                .contains("unknown dictionary kind")
        );
        assert!(decode_dict(&payload[..6]).is_err());
        assert!(Prepared::content(b"no magic".to_vec()).is_none());
    }

    #[test]
    fn only_a_few_content_dictionaries_stay_loaded() {
        let mut d = Dicts::default();
        for no in 1..=6u32 {
            d.current = no;
            let raw = [&CONTENT_MAGIC[..], &no.to_le_bytes()].concat();
            d.insert(no, Prepared::content(raw).expect("content"));
            // Using dictionary 1 keeps it among the recent ones.
            assert!(d.get(1).is_some(), "after {no}");
        }
        let loaded: Vec<u32> = (1..=6).filter(|n| d.get(*n).is_some()).collect();
        assert_eq!(loaded.len(), CONTENT_DICTS_LOADED + 1, "{loaded:?}");
        assert!(loaded.contains(&6) && loaded.contains(&1), "{loaded:?}");
    }

    proptest::proptest! {
        #[test]
        fn group_decode_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = decode_group(&bytes);
            let _ = decode(&bytes);
            let _ = decode_dict(&bytes);
        }
    }
}
