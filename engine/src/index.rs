//! The libmdbx index: a cache of the packs, rebuilt by replaying them.
//!
//! Keys are big-endian so byte order is numeric order; instants are i64
//! nanoseconds stored with the sign bit flipped so they sort too. Tables:
//!
//! | table | key | value |
//! |---|---|---|
//! | `meta` | `next_seq`, `scan`, `next_stream`, `format` | u64; pack u32 + offset u64; u32; u64 |
//! | `streams` | name | id u32 |
//! | `stream_ids` | id u32 | block_size u32, name |
//! | `blocks` | stream u32, block u64, ts | blake3 (zero: zero block) |
//! | `sizes` | stream u32, ts | size u64 (`REMOVED` = `u64::MAX`: the stream is removed) |
//! | `instants` | stream u32, ts | seq u64, blocks written u64 |
//! | `chunks` | blake3 | pack u32, offset u64, payload_len u32, member u32, refs u64 (the `blocks` rows naming it) |
//! | `marks` | name | stream u32 (0: store-wide), ts |
//! | `dicts` | dict_no u32 | pack u32, offset u64, payload_len u32 |
//!
//! "Latest version of block b of stream s at or before T" is one cursor
//! seek in `blocks`: its cost depends on the tree depth, not on how many
//! versions the block has. The latest version of a block (what scan
//! capture compares with) is the same seek at T = ∞; there is no separate
//! table for it, and the refcount lives in the `chunks` row: the index costs
//! two rows per new block (format 2; format 1 had four).

// Keys are made of stream (s), block (b), instant (ts) and table handles (t):
// the short names mirror the key layout in the table above.
#![allow(clippy::many_single_char_names)]

use std::borrow::Cow;
use std::path::Path;

use libmdbx::{
    Database, DatabaseOptions, Mode, NoWriteMap, RO, RW, ReadWriteOptions, SyncMode, Table,
    TableFlags, Transaction, TransactionKind, WriteFlags,
};

use crate::entry::Entry;
use crate::{Hash, ZERO_HASH};

/// The index database.
pub type Db = Database<NoWriteMap>;
/// A read-write index transaction.
pub type RwTxn<'db> = Transaction<'db, RW, NoWriteMap>;
/// A read-only index transaction.
pub type RoTxn<'db> = Transaction<'db, RO, NoWriteMap>;

/// Errors of index operations (the store adds the directory).
#[derive(Debug)]
pub enum IxError {
    /// libmdbx failed.
    Mdbx(&'static str, libmdbx::Error),
    /// A value does not decode.
    Value(&'static str, String),
}

/// Result of index operations.
pub type IxResult<T> = Result<T, IxError>;

trait Ctx<T> {
    fn ctx(self, op: &'static str) -> IxResult<T>;
}
impl<T> Ctx<T> for Result<T, libmdbx::Error> {
    fn ctx(self, op: &'static str) -> IxResult<T> {
        self.map_err(|e| IxError::Mdbx(op, e))
    }
}

/// Names of the index tables.
pub const TABLES: [&str; 9] = [
    "meta",
    "streams",
    "stream_ids",
    "blocks",
    "sizes",
    "instants",
    "chunks",
    "marks",
    "dicts",
];

/// Version of the index layout, kept in `meta` as `format`. A writer that
/// opens an index of another version rebuilds it from the packs.
pub const FORMAT: u64 = 2;

/// Unsynced index bytes at which a commit syncs the index itself (besides
/// the store's periodic sync); bounds replay after a power cut.
const SYNC_BYTES: u64 = 64 << 20;

/// Opens (creating if `write`) the index in `dir`.
pub fn open(dir: &Path, write: bool) -> IxResult<Db> {
    let mut opts = DatabaseOptions {
        max_tables: Some(16),
        max_readers: Some(256),
        ..DatabaseOptions::default()
    };
    if write {
        // Commits do not sync: the packs are authoritative and fdatasynced
        // first; SAFE_NOSYNC keeps the last synced state intact, so a power
        // cut rolls the index back to it and replay on open redoes the rest.
        opts.mode = Mode::ReadWrite(ReadWriteOptions {
            sync_mode: SyncMode::SafeNoSync,
            max_size: Some(1 << 40),
            // The file grows in steps of this; its slack counts in the
            // store's size (4 MiB steps left 2.9 MB unused after a 1 GiB
            // first ingest), and growing is rare either way.
            growth_step: Some(1 << 20),
            ..ReadWriteOptions::default()
        });
    } else {
        opts.mode = Mode::ReadOnly;
    }
    let db = Db::open_with_options(dir, opts).ctx("open")?;
    if write {
        crate::mdbx_ffi::set_sync_bytes(&db, SYNC_BYTES).ctx("set sync threshold")?;
        let txn = db.begin_rw_txn().ctx("begin")?;
        for t in TABLES {
            txn.create_table(Some(t), TableFlags::empty())
                .ctx("create table")?;
        }
        txn.commit().ctx("commit")?;
    }
    Ok(db)
}

/// Handles of every table, opened in one transaction.
pub struct Tables<'t> {
    meta: Table<'t>,
    streams: Table<'t>,
    stream_ids: Table<'t>,
    blocks: Table<'t>,
    sizes: Table<'t>,
    instants: Table<'t>,
    chunks: Table<'t>,
    marks: Table<'t>,
    dicts: Table<'t>,
}

impl<'t> Tables<'t> {
    /// Opens the tables in `txn`.
    pub fn open<K: TransactionKind>(txn: &'t Transaction<'_, K, NoWriteMap>) -> IxResult<Self> {
        let o = |n| txn.open_table(Some(n)).ctx("open table");
        Ok(Tables {
            meta: o("meta")?,
            streams: o("streams")?,
            stream_ids: o("stream_ids")?,
            blocks: o("blocks")?,
            sizes: o("sizes")?,
            instants: o("instants")?,
            chunks: o("chunks")?,
            marks: o("marks")?,
            dicts: o("dicts")?,
        })
    }
}

/// Instant as a sortable 8-byte key.
pub fn ts_key(ts: i64) -> [u8; 8] {
    ((ts as u64) ^ (1 << 63)).to_be_bytes()
}

fn ts_from(b: &[u8]) -> i64 {
    (u64_from(b) ^ (1 << 63)) as i64
}

fn u64_from(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(..8) {
        a.copy_from_slice(s);
    }
    u64::from_be_bytes(a)
}

fn u32_from(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(..4) {
        a.copy_from_slice(s);
    }
    u32::from_be_bytes(a)
}

fn block_key(s: u32, b: u64, ts: i64) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..4].copy_from_slice(&s.to_be_bytes());
    k[4..12].copy_from_slice(&b.to_be_bytes());
    k[12..].copy_from_slice(&ts_key(ts));
    k
}

fn sts_key(s: u32, ts: i64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&s.to_be_bytes());
    k[4..].copy_from_slice(&ts_key(ts));
    k
}

fn hash_from(v: &[u8], table: &'static str) -> IxResult<Hash> {
    v.get(..32).and_then(|h| h.try_into().ok()).ok_or_else(|| {
        IxError::Value(
            table,
            format!("{} bytes where a 32-byte hash was expected", v.len()),
        )
    })
}

/// Where a chunk (or dictionary) record lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// Pack id.
    pub pack: u32,
    /// Offset of the record in the pack.
    pub offset: u64,
    /// Payload length of the record.
    pub payload_len: u32,
    /// The chunk's position in a `Group` record (0 for a `Chunk` record).
    pub member: u32,
}

impl Loc {
    /// A whole record (a `Chunk` or `Dict` record, or a group's first member).
    pub fn record(pack: u32, offset: u64, payload_len: u32) -> Self {
        Loc {
            pack,
            offset,
            payload_len,
            member: 0,
        }
    }

    fn encode(self) -> [u8; 20] {
        let mut v = [0u8; 20];
        v[..4].copy_from_slice(&self.pack.to_be_bytes());
        v[4..12].copy_from_slice(&self.offset.to_be_bytes());
        v[12..16].copy_from_slice(&self.payload_len.to_be_bytes());
        v[16..].copy_from_slice(&self.member.to_be_bytes());
        v
    }
    fn decode(v: &[u8], table: &'static str) -> IxResult<Self> {
        // 16 bytes: written before groups existed (no member field).
        if v.len() != 20 && v.len() != 16 {
            return Err(IxError::Value(
                table,
                format!("location of {} bytes", v.len()),
            ));
        }
        Ok(Loc {
            pack: u32_from(v),
            offset: u64_from(&v[4..]),
            payload_len: u32_from(&v[12..]),
            member: u32_from(v.get(16..).unwrap_or_default()),
        })
    }
}

/// A stream as the catalog knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRow {
    /// Id.
    pub id: u32,
    /// Block size.
    pub block_size: u32,
    /// Name.
    pub name: String,
}

/// A key/value pair borrowed from a transaction.
type Row<'a> = (Cow<'a, [u8]>, Cow<'a, [u8]>);
/// A table row copied out: table name, key, value.
pub type DumpRow = (&'static str, Vec<u8>, Vec<u8>);

/// Seeks the last row whose key is `<= key` and shares its first `prefix` bytes.
fn seek_le<'t, K: TransactionKind>(
    txn: &'t Transaction<'_, K, NoWriteMap>,
    table: &Table<'t>,
    key: &[u8],
    prefix: usize,
) -> IxResult<Option<(Vec<u8>, Vec<u8>)>> {
    let mut cur = txn.cursor(table).ctx("cursor")?;
    let found: Option<Row<'_>> = match cur
        .set_range::<Cow<'_, [u8]>, Cow<'_, [u8]>>(key)
        .ctx("seek")?
    {
        Some((k, v)) if k.as_ref() == key => Some((k, v)),
        Some(_) => cur.prev().ctx("seek")?,
        None => cur.last().ctx("seek")?,
    };
    Ok(found.and_then(|(k, v)| {
        (k.get(..prefix) == key.get(..prefix)).then(|| (k.into_owned(), v.into_owned()))
    }))
}

// ---------------------------------------------------------------- queries

/// Reads a u64 meta value.
pub fn meta_u64<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    key: &str,
) -> IxResult<Option<u64>> {
    Ok(txn
        .get::<Vec<u8>>(&t.meta, key.as_bytes())
        .ctx("get meta")?
        .map(|v| u64_from(&v)))
}

/// Where replay on open starts: (pack id, offset).
pub fn scan_pos<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
) -> IxResult<Option<(u32, u64)>> {
    Ok(txn
        .get::<Vec<u8>>(&t.meta, b"scan")
        .ctx("get meta")?
        .map(|v| (u32_from(&v), u64_from(v.get(4..).unwrap_or_default()))))
}

/// Stream by name.
pub fn stream_by_name<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    name: &str,
) -> IxResult<Option<StreamRow>> {
    let Some(v) = txn
        .get::<Vec<u8>>(&t.streams, name.as_bytes())
        .ctx("get stream")?
    else {
        return Ok(None);
    };
    stream_by_id(txn, t, u32_from(&v))
}

/// Stream by id.
pub fn stream_by_id<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    id: u32,
) -> IxResult<Option<StreamRow>> {
    let Some(v) = txn
        .get::<Vec<u8>>(&t.stream_ids, &id.to_be_bytes())
        .ctx("get stream")?
    else {
        return Ok(None);
    };
    let name = String::from_utf8(v.get(4..).unwrap_or_default().to_vec())
        .map_err(|_| IxError::Value("stream_ids", "name is not UTF-8".into()))?;
    Ok(Some(StreamRow {
        id,
        block_size: u32_from(&v),
        name,
    }))
}

/// All streams, by id.
pub fn streams<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
) -> IxResult<Vec<StreamRow>> {
    let mut out = Vec::new();
    let mut cur = txn.cursor(&t.stream_ids).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, _) = row.ctx("iterate streams")?;
        if let Some(s) = stream_by_id(txn, t, u32_from(&k))? {
            out.push(s);
        }
    }
    Ok(out)
}

/// The latest version of a block at or before `ts`: its instant and hash.
pub fn block_at<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    b: u64,
    ts: i64,
) -> IxResult<Option<(i64, Hash)>> {
    match seek_le(txn, &t.blocks, &block_key(s, b, ts), 12)? {
        Some((k, v)) => Ok(Some((ts_from(&k[12..]), hash_from(&v, "blocks")?))),
        None => Ok(None),
    }
}

/// The latest version of a block.
pub fn head<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    b: u64,
) -> IxResult<Option<(i64, Hash)>> {
    block_at(txn, t, s, b, i64::MAX)
}

/// Latest hashes of blocks `first..first+out.len()` into `out` (zero hash
/// where none): one pass over the range's versions in `blocks`.
pub fn head_range<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    first: u64,
    out: &mut [Hash],
) -> IxResult<()> {
    out.fill(ZERO_HASH);
    let mut cur = txn.cursor(&t.blocks).ctx("cursor")?;
    let end = first + out.len() as u64;
    for row in cur.iter_from::<Cow<'_, [u8]>, Cow<'_, [u8]>>(&block_key(s, first, i64::MIN)) {
        let (k, v) = row.ctx("iterate blocks")?;
        let b = u64_from(&k[4..]);
        if u32_from(&k) != s || b >= end {
            break;
        }
        // Versions come in instant order: the last one of a block wins.
        if let Some(slot) = out.get_mut((b - first) as usize) {
            *slot = hash_from(&v, "blocks")?;
        }
    }
    Ok(())
}

/// The `sizes` value that records a removal: the stream does not exist
/// from that row's instant until the next row (a write or length that
/// recreates it). No real length reaches it: ingest refuses it.
pub const REMOVED: u64 = u64::MAX;

/// The `sizes` row in effect at `ts`: its instant and raw value.
fn size_row_at<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    ts: i64,
) -> IxResult<Option<(i64, u64)>> {
    Ok(seek_le(txn, &t.sizes, &sts_key(s, ts), 4)?.map(|(k, v)| (ts_from(&k[4..]), u64_from(&v))))
}

/// Stream length at `ts` (0 before the first size entry and while removed).
pub fn size_at<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    ts: i64,
) -> IxResult<u64> {
    Ok(match size_row_at(txn, t, s, ts)? {
        Some((_, REMOVED)) | None => 0,
        Some((_, len)) => len,
    })
}

/// When the stream was removed, if it is removed at `ts`.
pub fn removed_at<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    ts: i64,
) -> IxResult<Option<i64>> {
    Ok(match size_row_at(txn, t, s, ts)? {
        Some((at, REMOVED)) => Some(at),
        _ => None,
    })
}

/// Instants in `[from, to]` at which the stream was removed, ascending.
pub fn removals<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    from: i64,
    to: i64,
) -> IxResult<Vec<i64>> {
    let mut out = Vec::new();
    for_stream_rows(txn, &t.sizes, s, (from, to), "iterate sizes", |ts, v| {
        if u64_from(v) == REMOVED {
            out.push(ts);
        }
    })?;
    Ok(out)
}

/// Visits, in ascending order, the rows of a `(stream, ts)`-keyed table
/// (sizes, instants) of stream `s` with `from <= ts <= to`.
fn for_stream_rows<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    table: &Table<'_>,
    s: u32,
    (from, to): (i64, i64),
    what: &'static str,
    mut visit: impl FnMut(i64, &[u8]),
) -> IxResult<()> {
    let mut cur = txn.cursor(table).ctx("cursor")?;
    for row in cur.iter_from::<Cow<'_, [u8]>, Cow<'_, [u8]>>(&sts_key(s, from)) {
        let (k, v) = row.ctx(what)?;
        let ts = ts_from(&k[4..]);
        if u32_from(&k) != s || ts > to {
            break;
        }
        visit(ts, &v);
    }
    Ok(())
}

/// The latest instant of the stream at or before `ts`.
pub fn instant_at<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    ts: i64,
) -> IxResult<Option<i64>> {
    Ok(seek_le(txn, &t.instants, &sts_key(s, ts), 4)?.map(|(k, _)| ts_from(&k[4..])))
}

/// One instant of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstantRow {
    /// Instant, ns since the epoch.
    pub ts: i64,
    /// Sequence number of the batch that created it.
    pub seq: u64,
    /// Blocks written at this instant.
    pub blocks: u64,
}

/// Instants of a stream in `[from, to]`, ascending.
pub fn instants<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    s: u32,
    from: i64,
    to: i64,
) -> IxResult<Vec<InstantRow>> {
    let mut out = Vec::new();
    for_stream_rows(
        txn,
        &t.instants,
        s,
        (from, to),
        "iterate instants",
        |ts, v| {
            out.push(InstantRow {
                ts,
                seq: u64_from(v),
                blocks: u64_from(v.get(8..).unwrap_or_default()),
            });
        },
    )?;
    Ok(out)
}

/// A `chunks` value: location, then the number of `blocks` rows naming
/// the chunk (u64; absent in values written before format 2).
fn chunk_value(loc: Loc, refs: u64) -> [u8; 28] {
    let mut v = [0u8; 28];
    v[..20].copy_from_slice(&loc.encode());
    v[20..].copy_from_slice(&refs.to_be_bytes());
    v
}

fn chunk_row(v: &[u8]) -> IxResult<(Loc, u64)> {
    let loc = Loc::decode(v.get(..20).unwrap_or(v), "chunks")?;
    Ok((loc, v.get(20..).map_or(0, u64_from)))
}

/// Where chunk `hash` is stored.
pub fn chunk<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    hash: &Hash,
) -> IxResult<Option<Loc>> {
    txn.get::<Vec<u8>>(&t.chunks, hash)
        .ctx("get chunk")?
        .map(|v| chunk_row(&v).map(|(l, _)| l))
        .transpose()
}

/// Every chunk and its location.
pub fn all_chunks<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
) -> IxResult<Vec<(Hash, Loc)>> {
    let mut out = Vec::new();
    let mut cur = txn.cursor(&t.chunks).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, v) = row.ctx("iterate chunks")?;
        out.push((hash_from(&k, "chunks")?, chunk_row(&v)?.0));
    }
    Ok(out)
}

/// Reference count of a chunk: the `blocks` rows naming it.
pub fn refs<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    hash: &Hash,
) -> IxResult<u64> {
    Ok(
        match txn.get::<Vec<u8>>(&t.chunks, hash).ctx("get chunk")? {
            Some(v) => chunk_row(&v)?.1,
            None => 0,
        },
    )
}

/// Where dictionary `no` is stored.
pub fn dict<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    no: u32,
) -> IxResult<Option<Loc>> {
    txn.get::<Vec<u8>>(&t.dicts, &no.to_be_bytes())
        .ctx("get dict")?
        .map(|v| Loc::decode(&v, "dicts"))
        .transpose()
}

/// Every dictionary's location.
pub fn dicts<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
) -> IxResult<Vec<(u32, Loc)>> {
    let mut out = Vec::new();
    let mut cur = txn.cursor(&t.dicts).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, v) = row.ctx("iterate dicts")?;
        out.push((u32_from(&k), Loc::decode(&v, "dicts")?));
    }
    Ok(out)
}

/// A named marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkRow {
    /// Name.
    pub name: String,
    /// Stream id, 0 when store-wide.
    pub stream: u32,
    /// Instant.
    pub ts: i64,
}

/// Every marker, by name.
pub fn marks<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
) -> IxResult<Vec<MarkRow>> {
    let mut out = Vec::new();
    let mut cur = txn.cursor(&t.marks).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, v) = row.ctx("iterate marks")?;
        out.push(MarkRow {
            name: String::from_utf8_lossy(&k).into_owned(),
            stream: u32_from(&v),
            ts: ts_from(v.get(4..).unwrap_or_default()),
        });
    }
    Ok(out)
}

/// One block version, as listed by [`for_each_version`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionRow {
    /// Stream id.
    pub stream: u32,
    /// Block number.
    pub block: u64,
    /// Instant.
    pub ts: i64,
    /// Chunk hash (zero: zero block).
    pub hash: Hash,
}

/// Calls `f` for every block version in key order (stream, block, instant).
pub fn for_each_version<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    mut f: impl FnMut(VersionRow) -> IxResult<()>,
) -> IxResult<()> {
    let mut cur = txn.cursor(&t.blocks).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, v) = row.ctx("iterate blocks")?;
        f(VersionRow {
            stream: u32_from(&k),
            block: u64_from(&k[4..]),
            ts: ts_from(&k[12..]),
            hash: hash_from(&v, "blocks")?,
        })?;
    }
    Ok(())
}

/// Every row of every table except the replay position: what "identical
/// answers" after an index rebuild means.
pub fn dump<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
) -> IxResult<Vec<DumpRow>> {
    let mut out = Vec::new();
    for (name, table) in [
        ("streams", &t.streams),
        ("stream_ids", &t.stream_ids),
        ("blocks", &t.blocks),
        ("sizes", &t.sizes),
        ("instants", &t.instants),
        ("marks", &t.marks),
    ] {
        let mut cur = txn.cursor(table).ctx("cursor")?;
        for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
            let (k, v) = row.ctx("dump")?;
            out.push((name, k.into_owned(), v.into_owned()));
        }
    }
    // Which chunks exist and how often each is used (not where: gc moves them).
    let mut cur = txn.cursor(&t.chunks).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, v) = row.ctx("dump")?;
        let refs = chunk_row(&v)?.1;
        out.push(("chunks", k.into_owned(), refs.to_be_bytes().to_vec()));
    }
    Ok(out)
}

// ---------------------------------------------------------------- updates

/// Sets a u64 meta value.
pub fn set_meta_u64(txn: &RwTxn<'_>, t: &Tables<'_>, key: &str, v: u64) -> IxResult<()> {
    txn.put(
        &t.meta,
        key.as_bytes(),
        v.to_be_bytes(),
        WriteFlags::empty(),
    )
    .ctx("put meta")
}

/// Sets where replay on open starts.
pub fn set_scan_pos(txn: &RwTxn<'_>, t: &Tables<'_>, pack: u32, offset: u64) -> IxResult<()> {
    let mut v = [0u8; 12];
    v[..4].copy_from_slice(&pack.to_be_bytes());
    v[4..].copy_from_slice(&offset.to_be_bytes());
    txn.put(&t.meta, b"scan", v, WriteFlags::empty())
        .ctx("put meta")
}

/// Records where chunk `hash` is stored (keeps an existing location unless `replace`).
pub fn put_chunk(
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    hash: &Hash,
    loc: Loc,
    replace: bool,
) -> IxResult<()> {
    let refs = match txn.get::<Vec<u8>>(&t.chunks, hash).ctx("get chunk")? {
        Some(_) if !replace => return Ok(()),
        Some(v) => chunk_row(&v)?.1,
        None => 0,
    };
    txn.put(&t.chunks, hash, chunk_value(loc, refs), WriteFlags::empty())
        .ctx("put chunk")
}

/// Forgets a chunk (garbage collected).
pub fn del_chunk(txn: &RwTxn<'_>, t: &Tables<'_>, hash: &Hash) -> IxResult<()> {
    txn.del(&t.chunks, hash, None).ctx("del chunk").map(|_| ())
}

/// Records where dictionary `no` is stored.
pub fn put_dict(txn: &RwTxn<'_>, t: &Tables<'_>, no: u32, loc: Loc) -> IxResult<()> {
    txn.put(
        &t.dicts,
        no.to_be_bytes(),
        loc.encode(),
        WriteFlags::empty(),
    )
    .ctx("put dict")
}

fn add_ref(txn: &RwTxn<'_>, t: &Tables<'_>, hash: &Hash, delta: i64) -> IxResult<()> {
    if *hash == ZERO_HASH {
        return Ok(());
    }
    // A version whose chunk is stored nowhere (a damaged store) has no
    // row to count in; verify reports it.
    let Some(v) = txn.get::<Vec<u8>>(&t.chunks, hash).ctx("get chunk")? else {
        return Ok(());
    };
    let (loc, n) = chunk_row(&v)?;
    txn.put(
        &t.chunks,
        hash,
        chunk_value(loc, n.saturating_add_signed(delta)),
        WriteFlags::empty(),
    )
    .ctx("put chunk")
}

fn bump_instant(
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    s: u32,
    ts: i64,
    seq: u64,
    blocks: u64,
) -> IxResult<()> {
    let k = sts_key(s, ts);
    let prev = txn
        .get::<Vec<u8>>(&t.instants, &k)
        .ctx("get instant")?
        .map_or(0, |v| u64_from(v.get(8..).unwrap_or_default()));
    put_instant_row(txn, t, s, ts, seq, prev + blocks)
}

/// Puts one `blocks` row (and counts the reference in its chunk's row).
fn put_version(
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    s: u32,
    b: u64,
    ts: i64,
    hash: &Hash,
) -> IxResult<()> {
    let k = block_key(s, b, ts);
    if let Some(old) = txn.get::<Vec<u8>>(&t.blocks, &k).ctx("get block")? {
        add_ref(txn, t, &hash_from(&old, "blocks")?, -1)?;
    }
    txn.put(&t.blocks, k, hash, WriteFlags::empty())
        .ctx("put block")?;
    add_ref(txn, t, hash, 1)
}

fn put_block(
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    s: u32,
    b: u64,
    ts: i64,
    hash: &Hash,
    seq: u64,
) -> IxResult<()> {
    put_version(txn, t, s, b, ts, hash)?;
    bump_instant(txn, t, s, ts, seq, 1)
}

fn put_instant_row(
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    s: u32,
    ts: i64,
    seq: u64,
    blocks: u64,
) -> IxResult<()> {
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&seq.to_be_bytes());
    v[8..].copy_from_slice(&blocks.to_be_bytes());
    txn.put(&t.instants, sts_key(s, ts), v, WriteFlags::empty())
        .ctx("put instant")
}

/// Calls `f` with the entries of a checkpoint of the whole index, in the
/// order they must be applied: `Checkpoint`, streams, block versions,
/// sizes, instants, marks. Applied to an empty index they recreate every
/// row [`dump`] lists (chunk and dictionary locations come from the packs).
pub fn checkpoint<K: TransactionKind>(
    txn: &Transaction<'_, K, NoWriteMap>,
    t: &Tables<'_>,
    mut f: impl FnMut(&Entry) -> IxResult<()>,
) -> IxResult<()> {
    f(&Entry::Checkpoint)?;
    for row in streams(txn, t)? {
        f(&Entry::Stream {
            id: row.id,
            block_size: row.block_size,
            name: row.name,
        })?;
    }
    for_each_version(txn, t, |v| {
        f(&Entry::Version {
            stream: v.stream,
            block: v.block,
            ts: v.ts,
            hash: v.hash,
        })
    })?;
    let mut cur = txn.cursor(&t.sizes).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, v) = row.ctx("iterate sizes")?;
        f(&Entry::SizeRow {
            stream: u32_from(&k),
            ts: ts_from(k.get(4..).unwrap_or_default()),
            size: u64_from(&v),
        })?;
    }
    let mut cur = txn.cursor(&t.instants).ctx("cursor")?;
    for row in cur.iter_start::<Cow<'_, [u8]>, Cow<'_, [u8]>>() {
        let (k, v) = row.ctx("iterate instants")?;
        f(&Entry::InstantRow {
            stream: u32_from(&k),
            ts: ts_from(k.get(4..).unwrap_or_default()),
            seq: u64_from(&v),
            blocks: u64_from(v.get(8..).unwrap_or_default()),
        })?;
    }
    for m in marks(txn, t)? {
        f(&Entry::Mark {
            stream: m.stream,
            ts: m.ts,
            name: m.name,
        })?;
    }
    Ok(())
}

/// Applies a `Run` entry of batch `seq` whose group record holds
/// `members` (in member order): block `block + i` of the stream has the
/// hash of member `i` from `ts` on. Shared by ingest and replay.
pub fn apply_run(
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    seq: u64,
    (stream, block, ts): (u32, u64, i64),
    members: &[Hash],
) -> IxResult<()> {
    members
        .iter()
        .zip(block..)
        .try_for_each(|(hash, b)| put_block(txn, t, stream, b, ts, hash, seq))
}

/// Applies one metadata entry of batch `seq`. Shared by ingest, replay on
/// open and index rebuild, so all three produce the same index. A `Run`
/// entry needs its group's member hashes: [`apply_run`].
pub fn apply(txn: &RwTxn<'_>, t: &Tables<'_>, seq: u64, e: &Entry) -> IxResult<()> {
    match e {
        Entry::Stream {
            id,
            block_size,
            name,
        } => {
            txn.put(
                &t.streams,
                name.as_bytes(),
                id.to_be_bytes(),
                WriteFlags::empty(),
            )
            .ctx("put stream")?;
            let mut v = block_size.to_be_bytes().to_vec();
            v.extend_from_slice(name.as_bytes());
            txn.put(&t.stream_ids, id.to_be_bytes(), v, WriteFlags::empty())
                .ctx("put stream")?;
            let next = meta_u64(txn, t, "next_stream")?
                .unwrap_or(1)
                .max(u64::from(*id) + 1);
            set_meta_u64(txn, t, "next_stream", next)
        }
        Entry::Block {
            stream,
            block,
            ts,
            hash,
        } => put_block(txn, t, *stream, *block, *ts, hash, seq),
        Entry::Run { .. } => Err(IxError::Value(
            "blocks",
            "a Run entry must be applied with its group's members (apply_run)".into(),
        )),
        Entry::Size { stream, ts, size } => set_size(txn, t, seq, *stream, *ts, *size),
        Entry::Remove { stream, ts } => set_size(txn, t, seq, *stream, *ts, REMOVED),
        Entry::Mark { stream, ts, name } => {
            let mut v = stream.to_be_bytes().to_vec();
            v.extend_from_slice(&ts_key(*ts));
            txn.put(&t.marks, name.as_bytes(), v, WriteFlags::empty())
                .ctx("put mark")
        }
        Entry::Instant { stream, ts } => bump_instant(txn, t, *stream, *ts, seq, 0),
        Entry::Prune { stream, dropped } => prune(txn, t, *stream, dropped),
        // Replay skips every batch before a checkpoint; applied to the
        // index it restated (a gc that did not reach its commit), its rows
        // are already there.
        Entry::Checkpoint => Ok(()),
        Entry::Version {
            stream,
            block,
            ts,
            hash,
        } => put_version(txn, t, *stream, *block, *ts, hash),
        Entry::SizeRow { stream, ts, size } => txn
            .put(
                &t.sizes,
                sts_key(*stream, *ts),
                size.to_be_bytes(),
                WriteFlags::empty(),
            )
            .ctx("put size"),
        Entry::InstantRow {
            stream,
            ts,
            seq,
            blocks,
        } => put_instant_row(txn, t, *stream, *ts, *seq, *blocks),
    }
}

/// Puts a `sizes` row (a length, or [`REMOVED`]) at instant `ts`.
fn set_size(
    txn: &RwTxn<'_>,
    t: &Tables<'_>,
    seq: u64,
    stream: u32,
    ts: i64,
    raw: u64,
) -> IxResult<()> {
    let size = if raw == REMOVED { 0 } else { raw };
    let old = size_at(txn, t, stream, ts)?;
    txn.put(
        &t.sizes,
        sts_key(stream, ts),
        raw.to_be_bytes(),
        WriteFlags::empty(),
    )
    .ctx("put size")?;
    bump_instant(txn, t, stream, ts, seq, 0)?;
    if size < old {
        // Blocks wholly past the new end read as zeros if the stream grows
        // again (or, after a removal, is recreated): give them a zero version
        // now. The partly cut block was written explicitly by the writer
        // (its tail zeroed).
        let bs = u64::from(
            stream_by_id(txn, t, stream)?
                .map_or(8192, |r| r.block_size)
                .max(1),
        );
        for b in size.div_ceil(bs)..old.div_ceil(bs) {
            if head(txn, t, stream, b)?.is_some_and(|(_, h)| h != ZERO_HASH) {
                put_block(txn, t, stream, b, ts, &ZERO_HASH, seq)?;
            }
        }
    }
    Ok(())
}

/// Drops instants of a stream, then every block version and size entry
/// that no remaining instant can see. The latest instant is never dropped.
fn prune(txn: &RwTxn<'_>, t: &Tables<'_>, s: u32, dropped: &[i64]) -> IxResult<()> {
    let last = instant_at(txn, t, s, i64::MAX)?;
    for &ts in dropped {
        if Some(ts) != last {
            txn.del(&t.instants, sts_key(s, ts), None)
                .ctx("del instant")?;
        }
    }
    let kept: Vec<i64> = instants(txn, t, s, i64::MIN, i64::MAX)?
        .iter()
        .map(|r| r.ts)
        .collect();
    // A version living over [ts, next) is needed iff a kept instant falls in it.
    let needed = |ts: i64, next: i64| {
        let i = kept.partition_point(|&k| k < ts);
        kept.get(i).is_some_and(|&k| k < next)
    };
    let mut doomed_blocks: Vec<([u8; 20], Hash)> = Vec::new();
    {
        let mut cur = txn.cursor(&t.blocks).ctx("cursor")?;
        let mut prev: Option<(Vec<u8>, Hash)> = None;
        for row in cur.iter_from::<Cow<'_, [u8]>, Cow<'_, [u8]>>(&s.to_be_bytes()) {
            let (k, v) = row.ctx("iterate blocks")?;
            if u32_from(&k) != s {
                break;
            }
            let hash = hash_from(&v, "blocks")?;
            if let Some((pk, ph)) = prev.take() {
                let next = if pk[..12] == k[..12] {
                    ts_from(&k[12..])
                } else {
                    i64::MAX
                };
                if !needed(ts_from(&pk[12..]), next) && next != i64::MAX {
                    doomed_blocks.push((pk.as_slice().try_into().unwrap_or([0; 20]), ph));
                }
            }
            prev = Some((k.into_owned(), hash));
        }
    }
    for (k, h) in doomed_blocks {
        txn.del(&t.blocks, k, None).ctx("del block")?;
        add_ref(txn, t, &h, -1)?;
    }
    let mut doomed_sizes: Vec<Vec<u8>> = Vec::new();
    {
        let mut cur = txn.cursor(&t.sizes).ctx("cursor")?;
        let mut prev: Option<Vec<u8>> = None;
        for row in cur.iter_from::<Cow<'_, [u8]>, Cow<'_, [u8]>>(&s.to_be_bytes()) {
            let (k, _) = row.ctx("iterate sizes")?;
            if u32_from(&k) != s {
                break;
            }
            if let Some(pk) = prev.take()
                && !needed(ts_from(&pk[4..]), ts_from(&k[4..]))
            {
                doomed_sizes.push(pk);
            }
            prev = Some(k.into_owned());
        }
    }
    for k in doomed_sizes {
        txn.del(&t.sizes, k, None).ctx("del size")?;
    }
    Ok(())
}
