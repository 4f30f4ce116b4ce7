//! Pack files: the authoritative, append-only storage of a store.
//!
//! Layout (all integers little-endian; byte-exact description in
//! `engine/DESIGN.md`):
//!
//! ```text
//! header   "KAIROSPK" | version u32 = 1 | pack_id u32                 16 bytes
//! record   kind u8 | 0u8 0u8 0u8 | payload_len u32 | payload | crc32 u32
//!          (crc32 over kind..payload, i.e. everything but itself)
//! ...
//! sealed:  TRAILER record (entry table) | trailer_offset u64 | "KPACKEND"
//! ```
//!
//! A pack is *sealed* when it ends with the footer; only the newest pack may
//! be unsealed (the active pack). Records are never modified in place.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// First 8 bytes of every pack file.
pub const PACK_MAGIC: &[u8; 8] = b"KAIROSPK";
/// Last 8 bytes of a sealed pack file.
pub const FOOTER_MAGIC: &[u8; 8] = b"KPACKEND";
/// Pack format version written in the header: 2 since packs may hold
/// `Group` records and checkpoint entries (tags 7–10). Version 1 packs
/// (single `Chunk` records only) are read too; a kairos that knows only
/// version 1 refuses version 2 packs by their header instead of taking
/// a group for damage. Version 3 adds the `Remove` entry (tag 11), so a
/// kairos that cannot show a stream's removal refuses the pack instead.
/// Version 4 adds the `Run` entry (tag 12) and content dictionaries
/// (`Dict` records with kind byte 2).
pub const PACK_VERSION: u32 = 4;
/// Size of the pack header.
pub const HEADER_LEN: u64 = 16;
/// Bytes a record adds around its payload: kind, padding, length, crc32.
pub const RECORD_OVERHEAD: u64 = 12;
/// Size of the footer of a sealed pack.
pub const FOOTER_LEN: u64 = 16;
/// Largest payload a record may carry. Bounds every allocation made from
/// an on-disk length field.
pub const MAX_PAYLOAD: u32 = 256 << 20;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RecordKind {
    /// A zstd dictionary: `dict_no u32 | dictionary bytes`.
    Dict = 1,
    /// A block's content: `blake3 [32] | raw_len u32 | dict_no u32 | zstd frame`.
    Chunk = 2,
    /// Metadata entries of one batch: `seq u64 | entries...` (see `entry`).
    Entries = 3,
    /// The end of a batch: `seq u64 | committed_at_ns i64 | entry_count u64`.
    Commit = 4,
    /// The entry table of a sealed pack: `count u32`, then per record `kind u8 | offset u64 | payload_len u32`.
    Trailer = 5,
    /// Several chunks compressed as one zstd frame (see `chunk::Group`).
    Group = 6,
}

impl RecordKind {
    fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => RecordKind::Dict,
            2 => RecordKind::Chunk,
            3 => RecordKind::Entries,
            4 => RecordKind::Commit,
            5 => RecordKind::Trailer,
            6 => RecordKind::Group,
            _ => return None,
        })
    }
}

/// One record of a pack, as listed by a scan or a trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordInfo {
    /// The record's kind.
    pub kind: RecordKind,
    /// Offset of the record's first byte (its kind byte) in the pack.
    pub offset: u64,
    /// Payload length.
    pub payload_len: u32,
}

impl RecordInfo {
    /// Offset just past the record.
    pub fn end(&self) -> u64 {
        self.offset + RECORD_OVERHEAD + u64::from(self.payload_len)
    }
}

/// `packs/00000001.pack` for id 1.
pub fn pack_path(packs_dir: &Path, id: u32) -> PathBuf {
    packs_dir.join(format!("{id:08}.pack"))
}

/// Pack ids present in `packs_dir`, ascending.
pub fn list_packs(packs_dir: &Path) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let rd = std::fs::read_dir(packs_dir).map_err(StoreError::io(packs_dir, "list packs"))?;
    for e in rd {
        let e = e.map_err(StoreError::io(packs_dir, "list packs"))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".pack")
            && stem.len() == 8
            && let Ok(id) = stem.parse::<u32>()
        {
            ids.push(id);
        }
    }
    ids.sort_unstable();
    Ok(ids)
}

fn damaged(pack: &Path, offset: u64, detail: impl Into<String>) -> StoreError {
    StoreError::Pack {
        pack: pack.to_path_buf(),
        offset,
        detail: detail.into(),
    }
}

/// Reads and checks the record at `offset`: header, bounds, crc32. Returns
/// its kind and payload.
pub fn read_record(
    file: &File,
    path: &Path,
    offset: u64,
    file_len: u64,
) -> Result<(RecordKind, Vec<u8>)> {
    let mut head = [0u8; 8];
    if offset
        .checked_add(RECORD_OVERHEAD)
        .is_none_or(|e| e > file_len)
    {
        return Err(damaged(
            path,
            offset,
            "record header runs past the end of the pack",
        ));
    }
    file.read_exact_at(&mut head, offset)
        .map_err(StoreError::io(path, "read pack record"))?;
    let kind = RecordKind::from_u8(head[0])
        .ok_or_else(|| damaged(path, offset, format!("unknown record kind {}", head[0])))?;
    if head[1..4] != [0, 0, 0] {
        return Err(damaged(path, offset, "record padding bytes are not zero"));
    }
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len > MAX_PAYLOAD {
        return Err(damaged(
            path,
            offset,
            format!("record length {len} exceeds the maximum {MAX_PAYLOAD}"),
        ));
    }
    let end = offset + RECORD_OVERHEAD + u64::from(len);
    if end > file_len {
        return Err(damaged(
            path,
            offset,
            format!("record of {len} bytes runs past the end of the pack ({file_len} bytes)"),
        ));
    }
    let mut rest = vec![0u8; len as usize + 4];
    file.read_exact_at(&mut rest, offset + 8)
        .map_err(StoreError::io(path, "read pack record"))?;
    let (payload, crc) = rest.split_at(len as usize);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let mut h = crc32fast::Hasher::new();
    h.update(&head);
    h.update(payload);
    if h.finalize() != want {
        return Err(damaged(
            path,
            offset,
            format!("{kind:?} record fails its crc32 check"),
        ));
    }
    rest.truncate(len as usize);
    Ok((kind, rest))
}

/// What a scan of a pack found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Records in file order, up to the first that does not read.
    pub records: Vec<RecordInfo>,
    /// True when the pack ends with a valid trailer and footer.
    pub sealed: bool,
    /// Offset just past the last good record (the trailer's end when sealed).
    pub valid_end: u64,
    /// The file's length.
    pub file_len: u64,
    /// The first problem met, if the scan stopped before the end of the file.
    pub stopped: Option<StoreError>,
}

/// Opens a pack and checks its header.
pub fn open_pack(path: &Path, id: u32) -> Result<(File, u64)> {
    let file = File::open(path).map_err(StoreError::io(path, "open pack"))?;
    let len = file
        .metadata()
        .map_err(StoreError::io(path, "stat pack"))?
        .len();
    let mut head = [0u8; HEADER_LEN as usize];
    if len < HEADER_LEN {
        return Err(damaged(path, 0, "pack is shorter than its 16-byte header"));
    }
    file.read_exact_at(&mut head, 0)
        .map_err(StoreError::io(path, "read pack header"))?;
    if &head[..8] != PACK_MAGIC {
        return Err(damaged(path, 0, "not a kairos pack (bad magic)"));
    }
    let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if !(1..=PACK_VERSION).contains(&version) {
        return Err(damaged(
            path,
            8,
            format!("pack format version {version} is not supported"),
        ));
    }
    let pid = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
    if pid != id {
        return Err(damaged(
            path,
            12,
            format!("header says pack {pid}, file name says {id}"),
        ));
    }
    Ok((file, len))
}

/// Lists the records of a pack. A sealed pack is listed from its trailer
/// (no need to read every record); an unsealed one — or one whose trailer
/// is damaged — record by record, stopping at the first bad record.
pub fn scan(file: &File, path: &Path, file_len: u64) -> Scan {
    if let Some(s) = scan_trailer(file, path, file_len) {
        return s;
    }
    scan_from(file, path, file_len, HEADER_LEN)
}

/// Scans record by record from `start` (a record boundary).
pub fn scan_from(file: &File, path: &Path, file_len: u64, start: u64) -> Scan {
    let mut s = Scan {
        valid_end: start,
        file_len,
        ..Scan::default()
    };
    let mut off = start;
    while off < file_len {
        let mut head = [0u8; 8];
        if off + RECORD_OVERHEAD > file_len {
            s.stopped = Some(damaged(
                path,
                off,
                "torn record header at the end of the pack",
            ));
            break;
        }
        // Reading the whole record checks its crc; payloads are bounded by MAX_PAYLOAD.
        match read_record(file, path, off, file_len) {
            Ok((kind, payload)) => {
                let info = RecordInfo {
                    kind,
                    offset: off,
                    payload_len: payload.len() as u32,
                };
                off = info.end();
                s.valid_end = off;
                if kind == RecordKind::Trailer {
                    s.records.push(info);
                    if file_len == off + FOOTER_LEN
                        && file.read_exact_at(&mut head, off + 8).is_ok()
                        && &head == FOOTER_MAGIC
                    {
                        s.sealed = true;
                        s.valid_end = file_len;
                    } else {
                        s.stopped = Some(damaged(
                            path,
                            off,
                            "trailer record is not followed by a valid footer",
                        ));
                    }
                    break;
                }
                s.records.push(info);
            }
            Err(e) => {
                s.stopped = Some(e);
                break;
            }
        }
    }
    s
}

fn scan_trailer(file: &File, path: &Path, file_len: u64) -> Option<Scan> {
    if file_len < HEADER_LEN + RECORD_OVERHEAD + FOOTER_LEN {
        return None;
    }
    let mut foot = [0u8; FOOTER_LEN as usize];
    file.read_exact_at(&mut foot, file_len - FOOTER_LEN).ok()?;
    if &foot[8..] != FOOTER_MAGIC {
        return None;
    }
    let toff = u64::from_le_bytes(foot[..8].try_into().ok()?);
    let (kind, payload) = read_record(file, path, toff, file_len).ok()?;
    if kind != RecordKind::Trailer
        || toff + RECORD_OVERHEAD + payload.len() as u64 + FOOTER_LEN != file_len
    {
        return None;
    }
    let mut records = decode_trailer(&payload)?;
    records.push(RecordInfo {
        kind: RecordKind::Trailer,
        offset: toff,
        payload_len: payload.len() as u32,
    });
    Some(Scan {
        records,
        sealed: true,
        valid_end: file_len,
        file_len,
        stopped: None,
    })
}

/// Trailer entry table: `count u32`, then per record `kind u8 | offset u64 | payload_len u32`.
fn encode_trailer(records: &[RecordInfo]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + records.len() * 13);
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    for r in records {
        out.push(r.kind as u8);
        out.extend_from_slice(&r.offset.to_le_bytes());
        out.extend_from_slice(&r.payload_len.to_le_bytes());
    }
    out
}

fn decode_trailer(p: &[u8]) -> Option<Vec<RecordInfo>> {
    let count = u32::from_le_bytes(p.get(..4)?.try_into().ok()?) as usize;
    let body = p.get(4..)?;
    if body.len() != count.checked_mul(13)? {
        return None;
    }
    let mut out = Vec::with_capacity(count);
    let mut prev_end = HEADER_LEN;
    for e in body.chunks_exact(13) {
        let info = RecordInfo {
            kind: RecordKind::from_u8(e[0])?,
            offset: u64::from_le_bytes(e[1..9].try_into().ok()?),
            payload_len: u32::from_le_bytes(e[9..13].try_into().ok()?),
        };
        // Records tile the pack: each starts where the previous ended.
        if info.offset != prev_end || info.payload_len > MAX_PAYLOAD {
            return None;
        }
        prev_end = info.end();
        out.push(info);
    }
    Some(out)
}

/// Appends records to the active pack. Writes are buffered; [`PackWriter::sync`]
/// flushes and fdatasyncs — nothing is durable before it returns.
#[derive(Debug)]
pub struct PackWriter {
    file: File,
    path: PathBuf,
    id: u32,
    /// Logical length including the buffer.
    len: u64,
    /// Length already written to the file.
    written: u64,
    buf: Vec<u8>,
    /// Records appended by this writer.
    records: Vec<RecordInfo>,
    /// For a reopened pack: where this writer started appending (records
    /// before it are listed by scanning when the pack is sealed).
    base: Option<u64>,
}

const WRITE_BUFFER: usize = 4 << 20;

impl PackWriter {
    /// Creates pack `id` in `packs_dir` and makes its directory entry durable.
    pub fn create(packs_dir: &Path, id: u32) -> Result<Self> {
        let path = pack_path(packs_dir, id);
        // The header is written under a temporary name and the pack appears
        // under its own only whole: a process killed in between leaves a
        // `.pack.tmp` (ignored, overwritten next time), never a pack too
        // short for its header, which would stop the next open.
        let tmp = path.with_extension("pack.tmp");
        let mut file = OpenOptions::new()
            .write(true)
            .read(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(StoreError::io(&tmp, "create pack"))?;
        let mut head = Vec::with_capacity(16);
        head.extend_from_slice(PACK_MAGIC);
        head.extend_from_slice(&PACK_VERSION.to_le_bytes());
        head.extend_from_slice(&id.to_le_bytes());
        file.write_all(&head)
            .map_err(StoreError::io(&tmp, "write pack header"))?;
        file.sync_all()
            .map_err(StoreError::io(&tmp, "fsync pack"))?;
        // A link fails if the pack exists: packs are never overwritten.
        std::fs::hard_link(&tmp, &path).map_err(StoreError::io(&path, "create pack"))?;
        std::fs::remove_file(&tmp).map_err(StoreError::io(&tmp, "remove"))?;
        sync_dir(packs_dir)?;
        Ok(PackWriter {
            file,
            path,
            id,
            len: HEADER_LEN,
            written: HEADER_LEN,
            buf: Vec::new(),
            records: Vec::new(),
            base: None,
        })
    }

    /// Reopens the unsealed pack `id` for appending after `valid_end`
    /// (everything past it is a torn tail and is cut off). Its record list
    /// is read back only when the pack is sealed.
    pub fn reopen(path: &Path, id: u32, valid_end: u64) -> Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .open(path)
            .map_err(StoreError::io(path, "open pack for append"))?;
        let len = file
            .metadata()
            .map_err(StoreError::io(path, "stat pack"))?
            .len();
        if len > valid_end {
            file.set_len(valid_end)
                .map_err(StoreError::io(path, "truncate torn pack tail"))?;
            file.sync_all()
                .map_err(StoreError::io(path, "fsync pack"))?;
        }
        Ok(PackWriter {
            file,
            path: path.to_path_buf(),
            id,
            len: valid_end,
            written: valid_end,
            buf: Vec::new(),
            records: Vec::new(),
            base: Some(valid_end),
        })
    }

    /// The pack's id.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The pack's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Current logical length (what the file will be after the next flush).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the pack holds no record.
    pub fn is_empty(&self) -> bool {
        self.len == HEADER_LEN
    }

    /// Appends one record made of `parts` (concatenated payload). Returns its offset.
    pub fn append(&mut self, kind: RecordKind, parts: &[&[u8]]) -> Result<u64> {
        let payload_len: usize = parts.iter().map(|p| p.len()).sum();
        let Ok(len32) = u32::try_from(payload_len) else {
            return Err(StoreError::Invalid(format!(
                "record of {payload_len} bytes is too large"
            )));
        };
        if len32 > MAX_PAYLOAD {
            return Err(StoreError::Invalid(format!(
                "record of {payload_len} bytes is too large"
            )));
        }
        let offset = self.len;
        let mut head = [0u8; 8];
        head[0] = kind as u8;
        head[4..8].copy_from_slice(&len32.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&head);
        self.buf.extend_from_slice(&head);
        for p in parts {
            h.update(p);
            self.buf.extend_from_slice(p);
        }
        self.buf.extend_from_slice(&h.finalize().to_le_bytes());
        let info = RecordInfo {
            kind,
            offset,
            payload_len: len32,
        };
        self.len = info.end();
        self.records.push(info);
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(offset)
    }

    /// Appends a record already encoded (kind..crc), as read from another
    /// pack by garbage collection. Returns its offset.
    pub fn append_raw(&mut self, info: RecordInfo, raw: &[u8]) -> Result<u64> {
        let offset = self.len;
        self.buf.extend_from_slice(raw);
        let moved = RecordInfo { offset, ..info };
        self.len = moved.end();
        self.records.push(moved);
        if self.buf.len() >= WRITE_BUFFER {
            self.flush()?;
        }
        Ok(offset)
    }

    /// Writes the buffer to the file (no fsync).
    pub fn flush(&mut self) -> Result<()> {
        if !self.buf.is_empty() {
            self.file
                .write_all_at(&self.buf, self.written)
                .map_err(StoreError::io(&self.path, "write pack"))?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Flushes and fdatasyncs: after this returns the records are durable.
    pub fn sync(&mut self) -> Result<()> {
        self.flush()?;
        self.file
            .sync_data()
            .map_err(StoreError::io(&self.path, "fsync pack"))
    }

    /// Drops everything appended after `len` (an aborted batch).
    pub fn rollback_to(&mut self, len: u64) -> Result<()> {
        self.flush()?;
        self.records.retain(|r| r.offset < len);
        if self.written > len {
            self.file
                .set_len(len)
                .map_err(StoreError::io(&self.path, "truncate aborted batch"))?;
        }
        self.len = len;
        self.written = len;
        Ok(())
    }

    /// Writes the trailer and footer and fsyncs: the pack is sealed.
    pub fn seal(mut self) -> Result<()> {
        if let Some(base) = self.base.take() {
            self.flush()?;
            let s = scan_from(&self.file, &self.path, base, HEADER_LEN);
            if s.valid_end != base {
                return Err(s.stopped.unwrap_or_else(|| {
                    damaged(
                        &self.path,
                        s.valid_end,
                        "cannot list records to seal the pack",
                    )
                }));
            }
            let mut all = s.records;
            all.append(&mut self.records);
            self.records = all;
        }
        let table = encode_trailer(&self.records);
        let toff = self.append(RecordKind::Trailer, &[&table])?;
        self.buf.extend_from_slice(&toff.to_le_bytes());
        self.buf.extend_from_slice(FOOTER_MAGIC);
        self.len += FOOTER_LEN;
        self.sync()
    }
}

/// fsyncs a directory so a created, renamed or deleted entry is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(StoreError::io(dir, "fsync directory"))
}

/// Reads a record's raw bytes (kind..crc) for copying by gc.
pub fn read_raw(file: &File, path: &Path, info: RecordInfo) -> Result<Vec<u8>> {
    let mut raw = vec![0u8; (RECORD_OVERHEAD + u64::from(info.payload_len)) as usize];
    file.read_exact_at(&mut raw, info.offset)
        .map_err(StoreError::io(path, "read pack record"))?;
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::many_single_char_names)]
    fn records_round_trip_and_seal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = PackWriter::create(dir.path(), 7).expect("create");
        let a = w
            .append(RecordKind::Chunk, &[b"hello", b" world"])
            .expect("append");
        let b = w.append(RecordKind::Commit, &[&[1u8; 24]]).expect("append");
        w.sync().expect("sync");
        let path = pack_path(dir.path(), 7);
        let (f, len) = open_pack(&path, 7).expect("open");
        let s = scan(&f, &path, len);
        assert!(!s.sealed);
        assert_eq!(
            s.records.iter().map(|r| r.offset).collect::<Vec<_>>(),
            vec![a, b]
        );
        assert_eq!(
            read_record(&f, &path, a, len).expect("read").1,
            b"hello world"
        );
        w.seal().expect("seal");
        let (f, len) = open_pack(&path, 7).expect("open");
        let s = scan(&f, &path, len);
        assert!(s.sealed && s.stopped.is_none());
        assert_eq!(s.records.len(), 3);
        assert_eq!(s.records[1].kind, RecordKind::Commit);
        assert_eq!(list_packs(dir.path()).expect("list"), vec![7]);
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut w = PackWriter::create(dir.path(), 1).expect("create");
        w.append(RecordKind::Chunk, &[&[5u8; 100]]).expect("append");
        w.append(RecordKind::Commit, &[&[9u8; 24]]).expect("append");
        w.sync().expect("sync");
        let path = pack_path(dir.path(), 1);
        let good = std::fs::read(&path).expect("read");
        for i in HEADER_LEN as usize..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x40;
            std::fs::write(&path, &bad).expect("write");
            let (f, len) = open_pack(&path, 1).expect("header intact");
            let s = scan(&f, &path, len);
            assert!(
                s.stopped.is_some() || s.records.len() < 2,
                "flip at {i} not detected"
            );
        }
    }
}
