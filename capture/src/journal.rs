//! The spool journal: a checksummed log of write events that reuses its
//! file space.
//!
//! An agent appends every captured event here and fsyncs on the
//! application's fsync, so a write the application saw as durable survives
//! the server being away, the network being cut, or the agent being killed.
//! A sender replays the journal to the server from the last acknowledged
//! sequence number; the server deduplicates by (agent, sequence), so a
//! replay after a crash between "server stored" and "agent recorded the ack"
//! does not double anything.
//!
//! Layout of a journal directory:
//! - `journal`: records back to back from offset 0. A record is `u32 len`
//!   (LE), `u32 crc32` (LE, of the payload), then `len` bytes of payload:
//!   one event in the encoding of [`crate::event`], whose first field is
//!   its sequence number.
//! - `acked`: the highest sequence number the server has made durable and
//!   the *lap base* (the lowest sequence number the record at offset 0 may
//!   carry), as two `u64` LE followed by the `u32` crc32 of both; replaced
//!   atomically (write temp, fsync, rename, fsync directory). The older
//!   12-byte form (no base) is read as base 1.
//!
//! Laps. When every record is acknowledged and the live records reach
//! [`JournalOptions::wrap_at`] bytes, the writer records the next sequence
//! number as the new lap base in `acked` and starts again at offset 0,
//! overwriting the blocks of the previous lap instead of truncating the file
//! and appending to newly allocated ones (like a database recycling its
//! write-ahead-log segments; see docs/PERFORMANCE.md, "Capture"). The file
//! therefore holds, after the live records: records of earlier laps (their
//! sequence numbers are all below the base), zeros (the pre-written
//! [`JournalOptions::reserve`], see `journal/reserve.rs`), or a torn record.
//!
//! Finding the end without the file's length: the log starts at offset 0
//! with a record whose sequence is at least the base, and ends at the first
//! record that is all-zero, torn or fails its checksum, or whose sequence
//! does not exceed its predecessor's (a previous lap's). Sequence numbers
//! strictly increase but may skip (the server acknowledged more than a crash
//! left here), so "follows" means "is larger"; a record of the current lap
//! (at least the base) whose sequence does not increase cannot come from a
//! torn write and is reported as damage.
//!
//! Assumptions about the disk: fsync makes written bytes durable; a crash may
//! leave any prefix of the unsynced tail. On open, a torn or corrupt tail is
//! found by that scan and ignored with a warning (the next records overwrite
//! it): only bytes that were never fsynced (never acknowledged) can be lost
//! that way. A damaged record with a valid current-lap record after it is
//! not a torn tail, and opening refuses.
//!
//! Residual risk, stated: a record is recognised by its checksum and
//! sequence alone, so bytes inside a previous lap's record (captured user
//! data) that happen to form a valid record with a larger sequence number
//! would be read as live if they sit exactly at the live end, or make
//! opening refuse as "damage" if they sit within 64 MiB after a
//! torn record (a journal file copied through the shim into its own
//! spool). Random data passes the length, sequence and CRC-32 filters with
//! negligible probability.
//!
//! A lap starts only when everything is acknowledged, so a writer that
//! never pauses keeps appending; a ring with a separate acknowledged tail
//! would reuse space under continuous load (not done).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::event::{Change, MAX_ENCODED_EVENT, WriteEvent};
use crate::sink::{CaptureError, EventSink, Result};

mod reserve;

use reserve::Reserve;

/// Default [`JournalOptions::wrap_at`]: a lap of at least this size starts
/// again at offset 0 once fully acknowledged. Each wrap costs a durable
/// `acked` replacement (three fsyncs) with the journal locked, so laps are
/// not made much shorter than a burst.
pub const WRAP_AT: u64 = 64 << 20;

/// Default [`JournalOptions::reserve`]: zero-filled space kept ahead of the
/// live end.
pub const RESERVE: u64 = 64 << 20;

/// Buffered bytes at which [`Journal::append`] writes them to the file and
/// asks the kernel to start writing them to the disk, so a writer that
/// fsyncs rarely finds most of its bytes already on the disk at its fsync
/// instead of all of them still to write.
pub const WRITE_BEHIND: usize = 1 << 20;

/// Writes of at least this many bytes are appended straight from the
/// caller's buffer (behind what is buffered, before `append` returns)
/// instead of being copied into the buffer first.
pub const DIRECT_APPEND: usize = 64 << 10;

const RECORD_HEADER: usize = 8;

/// How a journal manages its file space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalOptions {
    /// Bytes of zero-filled file space a background thread keeps written
    /// ahead of the live end, so that bursts up to this size overwrite
    /// existing blocks instead of appending (0: none, no thread).
    pub reserve: u64,
    /// Live size from which a fully acknowledged journal starts again at
    /// offset 0.
    pub wrap_at: u64,
}

impl Default for JournalOptions {
    /// What an agent's spool uses: [`RESERVE`] and [`WRAP_AT`].
    fn default() -> Self {
        Self {
            reserve: RESERVE,
            wrap_at: WRAP_AT,
        }
    }
}

/// An open journal (single writer: the process holding it).
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Encoded records not yet written to the file.
    pending: Vec<u8>,
    /// End of the live records: everything before it is written (and, after
    /// `sync`, durable); after it lie zeros, older laps or a torn record.
    end: u64,
    /// The kernel was asked to start writing the file up to here.
    hinted: u64,
    next_seq: u64,
    acked: u64,
    /// The current lap's base: its first record's sequence is at least this.
    base: u64,
    wrap_at: u64,
    /// The zero-filling thread, when [`JournalOptions::reserve`] is set.
    reserve: Option<Reserve>,
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// The event.
    pub event: WriteEvent,
    /// Byte offset just past the record, to continue reading from.
    pub next_offset: u64,
}

impl Journal {
    /// Opens (creating if needed) the journal in `dir` without a reserve
    /// and with the default wrap size: for inspection and tests; an agent's
    /// spool uses [`open_with`](Self::open_with).
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(
            dir,
            JournalOptions {
                reserve: 0,
                wrap_at: WRAP_AT,
            },
        )
    }

    /// Opens (creating if needed) the journal in `dir`, finding the live
    /// end past which any torn tail is ignored, and starts the reserve.
    pub fn open_with(dir: &Path, options: JournalOptions) -> Result<Self> {
        fs::create_dir_all(dir).map_err(CaptureError::io(dir, "create journal directory"))?;
        let path = dir.join("journal");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(CaptureError::io(&path, "open"))?;
        let (acked, base) = read_acked(dir)?;
        let len = file
            .metadata()
            .map_err(CaptureError::io(&path, "stat"))?
            .len();
        let (end, last_seq) = scan(&file, &path, len, base)?;
        if end < len {
            tracing::info!(
                "{}: the log ends at byte {end} of {len} (sequence {last_seq}); zeros, an older lap or a torn record follow and are overwritten by the next records",
                path.display()
            );
        }
        let reserve = if options.reserve > 0 {
            Some(
                Reserve::start(&file, &path, len, end, options.reserve)
                    .map_err(CaptureError::io(&path, "start the journal reserve"))?,
            )
        } else {
            None
        };
        Ok(Self {
            dir: dir.to_owned(),
            path,
            file,
            pending: Vec::new(),
            end,
            hinted: end,
            next_seq: last_seq.max(acked) + 1,
            acked,
            base,
            wrap_at: options.wrap_at,
            reserve,
        })
    }

    /// The journal file's path (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Buffers an event (or, for a write of [`DIRECT_APPEND`] bytes or
    /// more, writes it to the file) and returns its sequence number.
    pub fn append(&mut self, event: &WriteEvent) -> Result<u64> {
        event.validate()?;
        let seq = self.next_seq;
        let start = self.pending.len();
        self.pending.extend_from_slice(&[0; RECORD_HEADER]);
        let direct = match &event.change {
            Change::Write { data, .. } if data.len() >= DIRECT_APPEND => Some(data.as_slice()),
            _ => None,
        };
        if direct.is_some() {
            event.encode_head(seq, &mut self.pending);
        } else {
            event.encode(seq, &mut self.pending);
        }
        let tail = direct.unwrap_or_default();
        let mut crc = crc32fast::Hasher::new();
        crc.update(&self.pending[start + RECORD_HEADER..]);
        crc.update(tail);
        // Bounded by validate: name and data limits keep it far below 4 GiB.
        let len = (self.pending.len() - start - RECORD_HEADER + tail.len()) as u32;
        self.pending[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.pending[start + 4..start + 8].copy_from_slice(&crc.finalize().to_le_bytes());
        if !tail.is_empty() {
            // What is buffered, this record's head, then its data from the
            // caller's buffer: records stay in order, the data is not copied.
            let head_at = self.end + self.pending.len() as u64;
            self.claim(head_at + tail.len() as u64);
            let written = self
                .file
                .write_all_at(&self.pending, self.end)
                .and_then(|()| self.file.write_all_at(tail, head_at));
            if let Err(e) = written {
                // Nothing advanced: the earlier records stay buffered.
                self.pending.truncate(start);
                return Err(CaptureError::io(&self.path, "append")(e));
            }
            self.end = head_at + tail.len() as u64;
            self.pending.clear();
        }
        self.next_seq += 1;
        self.write_behind();
        Ok(seq)
    }

    /// Past [`WRITE_BEHIND`] buffered bytes, writes them to the file; past
    /// as many bytes written since the last hint, asks the kernel to start
    /// writing them to the disk. Only an optimisation: a failure leaves the
    /// records buffered, and the next `sync` retries and reports it.
    fn write_behind(&mut self) {
        if self.pending.len() >= WRITE_BEHIND
            && let Err(e) = self.write_pending()
        {
            tracing::warn!("journal write-behind failed, retried at sync: {e}");
        }
        let unhinted = self.end.saturating_sub(self.hinted);
        if unhinted >= WRITE_BEHIND as u64 {
            if let Err(e) = crate::sys::start_writeback(&self.file, self.hinted, unhinted) {
                tracing::debug!("{}: sync_file_range: {e}", self.path.display());
            }
            self.hinted = self.end;
        }
    }

    /// Writes buffered records to the file without fsync: readers (the
    /// sender) see them; a crash may still lose them (they were never
    /// acknowledged to the application).
    pub fn write_pending(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.claim(self.end + self.pending.len() as u64);
            self.file
                .write_all_at(&self.pending, self.end)
                .map_err(CaptureError::io(&self.path, "append"))?;
            self.end += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }

    /// Tells the reserve thread that the writer is about to write up to
    /// `end`, so it zero-fills only past it.
    fn claim(&self, end: u64) {
        if let Some(r) = &self.reserve {
            r.claim(end);
        }
    }

    /// Bytes of file space written so far, records and pre-written zeros
    /// (the file's length when there is no reserve).
    pub fn written_space(&self) -> Result<u64> {
        match &self.reserve {
            Some(r) => Ok(r.written()),
            None => Ok(self
                .file
                .metadata()
                .map_err(CaptureError::io(&self.path, "stat"))?
                .len()),
        }
    }

    /// Writes buffered records and fsyncs: every appended event is durable.
    pub fn sync(&mut self) -> Result<()> {
        self.write_pending()?;
        if let Some(r) = &self.reserve {
            r.syncing(true);
        }
        let synced = self
            .file
            .sync_data()
            .map_err(CaptureError::io(&self.path, "fsync"));
        if let Some(r) = &self.reserve {
            r.syncing(false);
        }
        synced
    }

    /// True when appended events wait for [`sync`](Self::sync).
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Highest sequence number acknowledged by the server.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Highest sequence number appended so far (0 if none ever).
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// Bytes of records written to the file (durable after [`sync`](Self::sync)).
    pub fn durable_end(&self) -> u64 {
        self.end
    }

    /// Reads written records starting at byte `offset` (a record boundary),
    /// stopping after about `max_bytes` of payload.
    pub fn read_from(&self, offset: u64, max_bytes: usize) -> Result<Vec<Record>> {
        let mut out = Vec::new();
        let mut at = offset;
        let mut taken = 0usize;
        while at < self.end && taken < max_bytes {
            let (seq, event, next) = read_record(&self.file, &self.path, at, self.end)?
                .ok_or_else(|| CaptureError::Journal {
                    path: self.path.clone(),
                    offset: at,
                    detail: "record damaged after it was written".into(),
                })?;
            taken += (next - at) as usize;
            out.push(Record {
                seq,
                event,
                next_offset: next,
            });
            at = next;
        }
        Ok(out)
    }

    /// Records that the server has made every event up to `seq` durable.
    /// Starts a new lap at offset 0 when everything is acknowledged and the
    /// lap reached [`JournalOptions::wrap_at`]; returns true when it did
    /// (readers restart at offset 0).
    ///
    /// The watermark is kept in memory and written to `acked` only when a
    /// lap starts (the new base must be durable before any record
    /// overwrites the old lap): on reconnect the server's Welcome says what
    /// it holds anyway, so a stale file costs at most a deduplicated resend,
    /// and no ack pays two fsyncs.
    pub fn set_acked(&mut self, seq: u64) -> Result<bool> {
        if seq <= self.acked {
            return Ok(false);
        }
        self.acked = seq;
        // Records the server got before a crash cut them from this file must
        // not have their sequence numbers reused.
        self.next_seq = self.next_seq.max(seq + 1);
        if self.acked == self.last_seq() && self.pending.is_empty() && self.end >= self.wrap_at {
            write_acked(&self.dir, seq, self.next_seq)?;
            self.base = self.next_seq;
            self.end = 0;
            self.hinted = 0;
            self.claim(0);
            return Ok(true);
        }
        Ok(false)
    }

    /// Writes the acknowledged watermark to disk (at a clean stop).
    pub fn persist_acked(&self) -> Result<()> {
        write_acked(&self.dir, self.acked, self.base)
    }

    /// Reads every durable record of the journal in `dir` (for inspection
    /// and tests: the journal is the reference log of what was captured).
    pub fn read_all(dir: &Path) -> Result<Vec<Record>> {
        let j = Self::open(dir)?;
        j.read_from(0, usize::MAX)
    }
}

/// Scans records from the start of a file of `len` bytes whose lap base is
/// `base`; returns the end of the live log and its last sequence number
/// (`base - 1` when the lap is empty).
fn scan(file: &File, path: &Path, len: u64, base: u64) -> Result<(u64, u64)> {
    let mut at = 0u64;
    let mut last_seq = base - 1;
    while let Some((seq, _, next)) = read_record(file, path, at, len)? {
        if seq <= last_seq {
            if seq >= base {
                // A current-lap number going backwards cannot come from a
                // torn write.
                return Err(CaptureError::Journal {
                    path: path.to_owned(),
                    offset: at,
                    detail: format!("sequence {seq} after {last_seq}"),
                });
            }
            // An older lap's record: the live log ends here.
            return Ok((at, last_seq));
        }
        last_seq = seq;
        at = next;
    }
    if at < len
        && let Some(found) = valid_record_after(file, path, at, len, last_seq)?
    {
        // A torn append leaves garbage only at the very end; a bad record
        // with good ones of this lap after it is damage, and stopping there
        // would drop events the application was told are durable.
        return Err(CaptureError::Journal {
            path: path.to_owned(),
            offset: at,
            detail: format!(
                "damaged record, but a valid record (sequence after {last_seq}) follows at byte {found}: not a torn tail; move the journal aside and investigate"
            ),
        });
    }
    Ok((at, last_seq))
}

/// How far past a bad record the scan looks for records of the current
/// lap: a torn append spans at most the records written since the last
/// fsync, which the writer hands to the disk every [`WRITE_BEHIND`] bytes.
const MAX_TORN_TAIL: u64 = 64 << 20;

/// Looks for a valid record with a sequence number above `last_seq`
/// anywhere in `(bad, bad + MAX_TORN_TAIL)` (zeros, older laps and torn
/// bytes have none).
fn valid_record_after(
    file: &File,
    path: &Path,
    bad: u64,
    len: u64,
    last_seq: u64,
) -> Result<Option<u64>> {
    let tail_len = (len - bad).min(MAX_TORN_TAIL);
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact_at(&mut tail, bad)
        .map_err(CaptureError::io(path, "read journal tail"))?;
    let word = |b: &[u8], at: usize| -> Option<u64> {
        let mut a = [0u8; 8];
        a.copy_from_slice(b.get(at..at + 8)?);
        Some(u64::from_le_bytes(a))
    };
    for p in 1..tail.len() {
        let Some(header) = tail.get(p..p + RECORD_HEADER) else {
            break;
        };
        let rec_len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
        // Cheap filters before the checksum: plausible length and sequence.
        let Some(seq) = word(&tail, p + RECORD_HEADER) else {
            break;
        };
        if rec_len > MAX_ENCODED_EVENT || seq <= last_seq || seq - last_seq > 1 << 32 {
            continue;
        }
        let Some(payload) = tail.get(p + RECORD_HEADER..p + RECORD_HEADER + rec_len) else {
            continue;
        };
        let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if crc32fast::hash(payload) == crc && WriteEvent::decode(payload).is_ok() {
            return Ok(Some(bad + p as u64));
        }
    }
    Ok(None)
}

/// Reads one record at `at`; `None` when it is missing, all-zero (reserve
/// space), torn or fails its checksum (the caller decides whether that is a
/// tail or damage).
fn read_record(
    file: &File,
    path: &Path,
    at: u64,
    end: u64,
) -> Result<Option<(u64, WriteEvent, u64)>> {
    let Some(body_start) = at.checked_add(RECORD_HEADER as u64) else {
        return Ok(None);
    };
    if body_start > end {
        return Ok(None);
    }
    let mut header = [0u8; RECORD_HEADER];
    file.read_exact_at(&mut header, at)
        .map_err(CaptureError::io(path, "read record header"))?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    // Bound the allocation before trusting the length field; an all-zero
    // header (whose empty payload would match its zero checksum) is
    // pre-written space.
    if len == 0 || len > MAX_ENCODED_EVENT || body_start + len as u64 > end {
        return Ok(None);
    }
    let mut payload = vec![0u8; len];
    file.read_exact_at(&mut payload, body_start)
        .map_err(CaptureError::io(path, "read record"))?;
    if crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    match WriteEvent::decode(&payload) {
        Ok((seq, event)) => Ok(Some((seq, event, body_start + len as u64))),
        Err(e) => Err(CaptureError::Journal {
            path: path.to_owned(),
            offset: at,
            detail: format!("checksum matches but the event is invalid: {e}"),
        }),
    }
}

/// Reads `acked`: the acknowledged watermark and the lap base ((0, 1)
/// when the file does not exist; the 12-byte form of older versions, whose
/// journals were truncated instead of wrapped, has base 1).
fn read_acked(dir: &Path) -> Result<(u64, u64)> {
    let path = dir.join("acked");
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .map_err(CaptureError::io(&path, "read"))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((0, 1)),
        Err(e) => return Err(CaptureError::io(&path, "open")(e)),
    }
    let body_len = match bytes.len() {
        12 => 8,
        20 => 16,
        n => {
            return Err(CaptureError::Journal {
                path,
                offset: 0,
                detail: format!("acknowledgement file of {n} bytes, expected 20 (or 12)"),
            });
        }
    };
    let (body, crc) = bytes.split_at(body_len);
    let word = |at: usize| -> u64 {
        let mut a = [0u8; 8];
        if let Some(b) = body.get(at..at + 8) {
            a.copy_from_slice(b);
        }
        u64::from_le_bytes(a)
    };
    let mut c = [0u8; 4];
    c.copy_from_slice(crc);
    if crc32fast::hash(body) != u32::from_le_bytes(c) {
        return Err(CaptureError::Journal {
            path,
            offset: 0,
            detail: "acknowledgement checksum mismatch".into(),
        });
    }
    let acked = word(0);
    let base = if body_len == 16 { word(8) } else { 1 };
    if base == 0 || base > acked.saturating_add(1) {
        return Err(CaptureError::Journal {
            path,
            offset: 8,
            detail: format!("lap base {base} with acknowledged sequence {acked}"),
        });
    }
    Ok((acked, base))
}

/// Replaces `acked` durably with the watermark `seq` and the lap base.
fn write_acked(dir: &Path, seq: u64, base: u64) -> Result<()> {
    let tmp = dir.join("acked.tmp");
    let path = dir.join("acked");
    let mut bytes = seq.to_le_bytes().to_vec();
    bytes.extend_from_slice(&base.to_le_bytes());
    bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
    let mut f = File::create(&tmp).map_err(CaptureError::io(&tmp, "create"))?;
    f.write_all(&bytes)
        .map_err(CaptureError::io(&tmp, "write"))?;
    f.sync_all().map_err(CaptureError::io(&tmp, "fsync"))?;
    fs::rename(&tmp, &path).map_err(CaptureError::io(&path, "rename"))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(CaptureError::io(dir, "fsync directory"))
}

/// A journal used directly as the sink (the agent's spool, or a local
/// capture log): `sync` is the journal fsync.
#[derive(Debug)]
pub struct JournalSink {
    journal: Mutex<Journal>,
    /// Signalled on every append: the agent's sender sleeps on it.
    appended: Condvar,
}

impl JournalSink {
    /// Wraps an open journal.
    pub fn new(journal: Journal) -> Self {
        Self {
            journal: Mutex::new(journal),
            appended: Condvar::new(),
        }
    }

    /// Waits until an event with a sequence number above `seq` is
    /// appended, or `timeout` passed: the sender ships a write as soon as
    /// it is captured instead of at its next polling tick.
    pub fn wait_appended(&self, seq: u64, timeout: Duration) {
        let guard = self
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        drop(
            self.appended
                .wait_timeout_while(guard, timeout, |j| j.last_seq() <= seq)
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }

    /// Runs `f` with the journal locked (the sender reads and acknowledges
    /// through this).
    pub fn with<T>(&self, f: impl FnOnce(&mut Journal) -> T) -> T {
        let mut guard = self
            .journal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut guard)
    }
}

impl EventSink for JournalSink {
    fn submit(&self, event: WriteEvent) -> Result<u64> {
        let seq = self.with(|j| j.append(&event))?;
        self.appended.notify_all();
        Ok(seq)
    }

    fn sync(&self) -> Result<()> {
        self.with(Journal::sync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(i: u64) -> WriteEvent {
        WriteEvent::write(
            format!("s{}", i % 3),
            i as i64,
            i * 10,
            vec![i as u8; 1 + (i as usize % 50)],
        )
    }

    #[test]
    fn large_appends_reach_the_file_before_any_sync() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let events: Vec<WriteEvent> = (0..40u8)
            .map(|i| WriteEvent::write("big", i64::from(i), u64::from(i) << 16, vec![i; 65536]))
            .collect();
        for e in &events {
            j.append(e).unwrap();
        }
        // Writes of DIRECT_APPEND bytes went to the file without a sync
        // (the sender reads them from there), in order.
        assert!(j.durable_end() >= WRITE_BEHIND as u64);
        let written = j.read_from(0, usize::MAX).unwrap();
        assert!(!written.is_empty());
        assert!(written.iter().zip(&events).all(|(r, e)| r.event == *e));
        j.sync().unwrap();
        let good_end = j.durable_end();
        drop(j);
        let all: Vec<WriteEvent> = Journal::read_all(dir.path())
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(all, events);

        // A large record torn anywhere (in its head, in its data) is cut on
        // open and the earlier records stay.
        let mut j = Journal::open(dir.path()).unwrap();
        j.append(&WriteEvent::write(
            "big",
            99,
            0,
            vec![0xee; DIRECT_APPEND * 2],
        ))
        .unwrap();
        let torn_end = j.durable_end();
        assert!(
            torn_end > good_end,
            "a direct append is in the file at once"
        );
        drop(j);
        let path = dir.path().join("journal");
        let full = fs::read(&path).unwrap();
        for cut in [
            1,
            8,
            20,
            40,
            1000,
            DIRECT_APPEND,
            full.len() - good_end as usize - 1,
        ] {
            fs::write(&path, &full[..good_end as usize + cut]).unwrap();
            let j = Journal::open(dir.path()).unwrap();
            assert_eq!(j.durable_end(), good_end, "cut at {cut}");
            assert_eq!(j.last_seq(), events.len() as u64);
        }
    }

    #[test]
    fn append_sync_reopen_reads_everything_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        for i in 0..100 {
            assert_eq!(j.append(&ev(i)).unwrap(), i + 1);
        }
        j.sync().unwrap();
        drop(j);
        let recs = Journal::read_all(dir.path()).unwrap();
        assert_eq!(recs.len(), 100);
        for (i, r) in recs.iter().enumerate() {
            assert_eq!(r.seq, i as u64 + 1);
            assert_eq!(r.event, ev(i as u64));
        }
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.last_seq(), 100);
    }

    #[test]
    fn unsynced_events_are_not_visible_and_torn_tails_are_cut_at_every_length() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        for i in 0..5 {
            j.append(&ev(i)).unwrap();
        }
        j.sync().unwrap();
        let good_end = j.durable_end();
        j.append(&ev(5)).unwrap();
        drop(j); // never synced: gone
        assert_eq!(Journal::read_all(dir.path()).unwrap().len(), 5);

        // Simulate a torn append of a sixth record at every cut point, and a
        // bit flip in its body: reopening keeps exactly the 5 durable ones.
        let mut rec = Vec::new();
        {
            let mut j2 = Journal::open(tempfile::tempdir().unwrap().path()).unwrap();
            j2.append(&ev(5)).unwrap();
            rec.extend_from_slice(&j2.pending);
        }
        let path = dir.path().join("journal");
        let base = fs::read(&path).unwrap();
        assert_eq!(base.len() as u64, good_end);
        for cut in 1..rec.len() {
            let mut bytes = base.clone();
            bytes.extend_from_slice(&rec[..cut]);
            fs::write(&path, &bytes).unwrap();
            let j = Journal::open(dir.path()).unwrap();
            assert_eq!(j.durable_end(), good_end, "cut at {cut}");
            assert_eq!(j.last_seq(), 5);
        }
        for flip in 0..rec.len() {
            let mut bytes = base.clone();
            let mut r = rec.clone();
            r[flip] ^= 0x40;
            bytes.extend_from_slice(&r);
            fs::write(&path, &bytes).unwrap();
            let j = Journal::open(dir.path()).unwrap();
            assert_eq!(j.durable_end(), good_end, "flip at {flip}");
        }
    }

    #[test]
    fn damage_before_valid_records_is_an_error_not_a_cut_at_every_offset() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        for i in 0..6 {
            j.append(&ev(i)).unwrap();
        }
        j.sync().unwrap();
        let first_end = j.read_from(0, 1).unwrap()[0].next_offset as usize;
        drop(j);
        let path = dir.path().join("journal");
        let good = fs::read(&path).unwrap();
        // Flip one bit anywhere in the first five records: five valid ones
        // would follow, so opening must refuse and name the offset.
        let last_start = Journal::read_all(dir.path()).unwrap()[4].next_offset as usize;
        for flip in 0..last_start {
            let mut bytes = good.clone();
            bytes[flip] ^= 0x10;
            fs::write(&path, &bytes).unwrap();
            match Journal::open(dir.path()) {
                Err(CaptureError::Journal { offset, detail, .. }) => {
                    assert!(offset as usize <= flip, "flip {flip}: reported at {offset}");
                    assert!(!detail.is_empty());
                }
                Ok(j) => panic!(
                    "flip at {flip} (first record ends {first_end}): opened with {} records",
                    j.last_seq()
                ),
                Err(e) => panic!("flip at {flip}: unexpected error {e}"),
            }
        }
        fs::write(&path, &good).unwrap();
        assert_eq!(Journal::read_all(dir.path()).unwrap().len(), 6);
    }

    /// Options with laps of `wrap_at` bytes and no reserve thread.
    fn laps(wrap_at: u64) -> JournalOptions {
        JournalOptions {
            reserve: 0,
            wrap_at,
        }
    }

    /// The bytes of the record `(seq, event)` as the journal writes it.
    fn record_bytes(seq: u64, event: &WriteEvent) -> Vec<u8> {
        let mut payload = Vec::new();
        event.encode(seq, &mut payload);
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    fn file_len(dir: &Path) -> u64 {
        fs::metadata(dir.join("journal")).unwrap().len()
    }

    #[test]
    fn acked_survives_reopen_and_a_wrap_reuses_the_file_and_keeps_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open_with(dir.path(), laps(4096)).unwrap();
        let mut n = 0;
        while j.durable_end() < 4096 {
            n = j.append(&ev(n)).unwrap();
            j.write_pending().unwrap();
        }
        j.sync().unwrap();
        let lap_len = j.durable_end();
        assert!(!j.set_acked(n - 1).unwrap(), "not everything acknowledged");
        assert_eq!(j.read_from(0, usize::MAX).unwrap().len() as u64, n);
        assert!(j.set_acked(n).unwrap(), "a fully acknowledged lap wraps");
        assert_eq!(j.durable_end(), 0);
        assert_eq!(file_len(dir.path()), lap_len, "space kept, not truncated");
        drop(j);
        let mut j = Journal::open_with(dir.path(), laps(4096)).unwrap();
        assert_eq!(j.acked(), n);
        assert_eq!(j.last_seq(), n, "the old lap is not live");
        assert!(j.read_from(0, usize::MAX).unwrap().is_empty());
        let removal = WriteEvent {
            stream: "v".into(),
            ts_ns: 1,
            change: Change::Remove,
        };
        assert_eq!(j.append(&removal).unwrap(), n + 1);
        for i in 0..5 {
            assert_eq!(j.append(&ev(i)).unwrap(), n + 2 + i);
        }
        j.sync().unwrap();
        assert!(j.durable_end() < lap_len);
        drop(j);
        // The new lap overwrote the old one in place.
        assert_eq!(file_len(dir.path()), lap_len);
        let recs = Journal::read_all(dir.path()).unwrap();
        assert_eq!(recs.len(), 6);
        assert_eq!(recs[0].event, removal);
        assert_eq!(
            recs.iter().map(|r| r.seq).collect::<Vec<_>>(),
            (n + 1..=n + 6).collect::<Vec<_>>()
        );
    }

    /// Lap 1: `n` records of equal size, wrapped; lap 2: `k` records of the
    /// same size, synced. Returns (n, end of lap 2, lap 2's events).
    fn two_laps(dir: &Path, n: u64, k: u64) -> (u64, u64, Vec<WriteEvent>) {
        let same = |i: u64| WriteEvent::write("same", i as i64, i, vec![i as u8; 100]);
        let mut j = Journal::open_with(dir, laps(1)).unwrap();
        for i in 0..n {
            j.append(&same(i)).unwrap();
        }
        j.sync().unwrap();
        assert!(j.set_acked(n).unwrap());
        let lap2: Vec<WriteEvent> = (0..k).map(|i| same(1000 + i)).collect();
        for e in &lap2 {
            j.append(e).unwrap();
        }
        j.sync().unwrap();
        let end = j.durable_end();
        (n, end, lap2)
    }

    #[test]
    fn a_stale_previous_lap_record_right_after_the_live_end_is_not_live() {
        for k in [0, 1, 3] {
            let dir = tempfile::tempdir().unwrap();
            let (n, end, lap2) = two_laps(dir.path(), 6, k);
            // What follows the live end is a whole, valid record of lap 1.
            let file = File::open(dir.path().join("journal")).unwrap();
            let len = file_len(dir.path());
            let (stale, _, _) = read_record(&file, dir.path(), end, len).unwrap().unwrap();
            assert_eq!(
                stale,
                k + 1,
                "lap 1's record {} lies at the live end",
                k + 1
            );
            let j = Journal::open(dir.path()).unwrap();
            assert_eq!(j.durable_end(), end, "{k} live records");
            assert_eq!(j.last_seq(), n + k);
            let recs = j.read_from(0, usize::MAX).unwrap();
            assert_eq!(
                recs.iter().map(|r| r.event.clone()).collect::<Vec<_>>(),
                lap2
            );
            assert_eq!(
                recs.iter().map(|r| r.seq).collect::<Vec<_>>(),
                (n + 1..=n + k).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn torn_tails_and_bit_flips_after_a_wrap_are_cut_at_every_length() {
        let dir = tempfile::tempdir().unwrap();
        let (n, end, lap2) = two_laps(dir.path(), 8, 3);
        let path = dir.path().join("journal");
        let good = fs::read(&path).unwrap();
        // The next record, torn at every length, over the old lap's bytes.
        let next = record_bytes(n + 4, &WriteEvent::write("same", 9, 9, vec![0x33; 150]));
        let at = end as usize;
        let check = |bytes: &[u8], what: &str| {
            fs::write(&path, bytes).unwrap();
            let j = Journal::open(dir.path()).unwrap();
            assert_eq!(j.durable_end(), end, "{what}");
            assert_eq!(j.last_seq(), n + 3, "{what}");
            let events: Vec<_> = j
                .read_from(0, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|r| r.event)
                .collect();
            assert_eq!(events, lap2, "{what}");
        };
        for cut in 1..next.len() {
            let mut bytes = good.clone();
            let stop = (at + cut).max(bytes.len());
            bytes.resize(stop, 0);
            bytes[at..at + cut].copy_from_slice(&next[..cut]);
            check(&bytes, &format!("torn at {cut}"));
        }
        for flip in 0..next.len() {
            let mut bytes = good.clone();
            let mut rec = next.clone();
            rec[flip] ^= 0x08;
            bytes.resize((at + rec.len()).max(bytes.len()), 0);
            bytes[at..at + rec.len()].copy_from_slice(&rec);
            check(&bytes, &format!("flip at {flip}"));
        }
        // Whole, the record is live: the scan really reads past the end.
        let mut bytes = good.clone();
        bytes.resize((at + next.len()).max(bytes.len()), 0);
        bytes[at..at + next.len()].copy_from_slice(&next);
        fs::write(&path, &bytes).unwrap();
        assert_eq!(Journal::open(dir.path()).unwrap().last_seq(), n + 4);
        // A lap-2 record damaged before a valid lap-2 record is damage.
        let mut bytes = good.clone();
        bytes[10] ^= 0x01;
        fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            Journal::open(dir.path()),
            Err(CaptureError::Journal { offset: 0, .. })
        ));
    }

    #[test]
    fn the_acked_file_reads_both_forms_and_rejects_damage() {
        let dir = tempfile::tempdir().unwrap();
        write_acked(dir.path(), 41, 30).unwrap();
        assert_eq!(read_acked(dir.path()).unwrap(), (41, 30));
        // The 12-byte form of journals that were truncated: base 1.
        let mut old = 77u64.to_le_bytes().to_vec();
        old.extend_from_slice(&crc32fast::hash(&old).to_le_bytes());
        fs::write(dir.path().join("acked"), &old).unwrap();
        assert_eq!(read_acked(dir.path()).unwrap(), (77, 1));
        write_acked(dir.path(), 5, 6).unwrap();
        let good = fs::read(dir.path().join("acked")).unwrap();
        for flip in 0..good.len() {
            let mut bytes = good.clone();
            bytes[flip] ^= 0x02;
            fs::write(dir.path().join("acked"), &bytes).unwrap();
            assert!(read_acked(dir.path()).is_err(), "flip at {flip}");
        }
        for cut in 0..good.len() {
            fs::write(dir.path().join("acked"), &good[..cut]).unwrap();
            assert!(read_acked(dir.path()).is_err(), "cut at {cut}");
        }
        // A base beyond the watermark + 1 would hide acknowledged records.
        write_acked(dir.path(), 5, 9).unwrap();
        assert!(read_acked(dir.path()).is_err());
    }

    /// Waits until the reserve thread has written at least `bytes`.
    fn wait_written(j: &Journal, bytes: u64) -> u64 {
        let deadline = std::time::Instant::now() + Duration::from_mins(1);
        loop {
            let w = j.written_space().unwrap();
            if w >= bytes {
                return w;
            }
            assert!(std::time::Instant::now() < deadline, "reserve stuck at {w}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn a_burst_within_the_reserve_overwrites_pre_written_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let reserve = 4 * reserve::FILL_CHUNK;
        let options = JournalOptions {
            reserve,
            wrap_at: WRAP_AT,
        };
        let j = Journal::open_with(dir.path(), options).unwrap();
        let ready = wait_written(&j, reserve);
        assert!(file_len(dir.path()) >= ready);
        // Zero-filled space reads as the end of the log.
        drop(j);
        assert!(Journal::read_all(dir.path()).unwrap().is_empty());
        let mut j = Journal::open_with(dir.path(), options).unwrap();
        let ready = wait_written(&j, reserve);
        let events: Vec<WriteEvent> = (0..40u64)
            .map(|i| WriteEvent::write("b", i as i64, i << 16, vec![i as u8 + 1; 40_000]))
            .collect();
        for e in &events {
            j.append(e).unwrap();
        }
        j.sync().unwrap();
        let end = j.durable_end();
        assert!(
            end > reserve / 4 && end < reserve / 2,
            "burst of {end} bytes"
        );
        assert!(end <= ready, "the burst stayed inside pre-written space");
        drop(j);
        let all = fs::read(dir.path().join("journal")).unwrap();
        assert!(all.len() as u64 >= ready);
        let after = all.get(end as usize..ready as usize).unwrap();
        assert!(after.iter().all(|&b| b == 0), "the rest is zeros");
        let back: Vec<_> = Journal::read_all(dir.path())
            .unwrap()
            .into_iter()
            .map(|r| r.event)
            .collect();
        assert_eq!(back, events);
    }

    #[test]
    fn a_writer_outrunning_the_reserve_loses_nothing_to_its_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let options = JournalOptions {
            reserve: reserve::FILL_CHUNK,
            wrap_at: 1 << 20,
        };
        let mut j = Journal::open_with(dir.path(), options).unwrap();
        let mut events = Vec::new();
        for lap in 0..3u64 {
            // 6 MiB per lap against a 1 MiB reserve, with pauses long
            // enough for the thread to start filling: the writer resumes
            // into the chunk being filled.
            for i in 0..96u64 {
                if i % 16 == 15 {
                    std::thread::sleep(reserve::QUIET + Duration::from_micros(i * 97 % 3000));
                }
                let e = WriteEvent::write(
                    "r",
                    i as i64,
                    i << 16,
                    vec![(lap * 7 + i) as u8 | 1; 65_536],
                );
                let seq = j.append(&e).unwrap();
                events.push((seq, e));
                if i % 8 == 0 {
                    j.append(&ev(i)).map(|s| events.push((s, ev(i)))).unwrap();
                }
            }
            j.sync().unwrap();
            let live: Vec<_> = j
                .read_from(0, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|r| (r.seq, r.event))
                .collect();
            assert_eq!(live, events, "lap {lap}");
            let last = j.last_seq();
            assert!(j.set_acked(last).unwrap());
            events.clear();
        }
        drop(j);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.last_seq(), j.acked());
        assert!(j.read_from(0, usize::MAX).unwrap().is_empty());
    }

    mod model {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Op {
            /// Append a write of this many bytes.
            Append(usize),
            Sync,
            /// Acknowledge the last sequence minus this much (0: all;
            /// acknowledging more than was appended is the `Beyond` case).
            Ack(u64),
            /// The server holds more than the journal (lost unsynced tail).
            Beyond(u64),
            Persist,
            /// The process dies: buffered records are lost.
            Crash,
            /// The process dies in the middle of writing the next record,
            /// leaving this many of its bytes at the live end.
            Torn(usize),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                8 => prop_oneof![1usize..300, 65_536usize..70_000].prop_map(Op::Append),
                3 => Just(Op::Sync),
                3 => (0u64..3).prop_map(Op::Ack),
                1 => (1u64..4).prop_map(Op::Beyond),
                1 => Just(Op::Persist),
                2 => Just(Op::Crash),
                1 => (1usize..400).prop_map(Op::Torn),
            ]
        }

        /// What the journal must hold: the live records appended since the
        /// last wrap, how many of them are fsynced, the numbering.
        struct Model {
            live: Vec<(u64, WriteEvent)>,
            synced: usize,
            next: u64,
            acked: u64,
            disk_acked: u64,
            base: u64,
        }

        fn check_live(j: &Journal, m: &Model) -> std::result::Result<(), TestCaseError> {
            let got: Vec<_> = j
                .read_from(0, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|r| (r.seq, r.event))
                .collect();
            prop_assert!(got.len() <= m.live.len());
            prop_assert_eq!(&got[..], &m.live[..got.len()]);
            Ok(())
        }

        fn reopen(
            dir: &Path,
            opts: JournalOptions,
            m: &mut Model,
        ) -> std::result::Result<Journal, TestCaseError> {
            let j = Journal::open_with(dir, opts).unwrap();
            let got: Vec<_> = j
                .read_from(0, usize::MAX)
                .unwrap()
                .into_iter()
                .map(|r| (r.seq, r.event))
                .collect();
            // Everything fsynced is there, nothing else but what was
            // written in order after it, no older lap, nothing doubled.
            prop_assert!(got.len() >= m.synced, "lost fsynced records");
            prop_assert!(got.len() <= m.live.len());
            prop_assert_eq!(&got[..], &m.live[..got.len()]);
            m.live.truncate(got.len());
            m.synced = got.len();
            m.acked = m.disk_acked;
            prop_assert_eq!(j.acked(), m.disk_acked);
            let last = m.live.last().map_or(m.base - 1, |r| r.0);
            m.next = last.max(m.disk_acked) + 1;
            prop_assert_eq!(j.last_seq(), m.next - 1);
            Ok(j)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            #[test]
            fn random_appends_acks_and_crashes_match_the_model(
                ops in proptest::collection::vec(op(), 1..60),
                reserve in prop_oneof![Just(0u64), Just(reserve::FILL_CHUNK)],
            ) {
                let dir = tempfile::tempdir().unwrap();
                let opts = JournalOptions { reserve, wrap_at: 2048 };
                let mut j = Journal::open_with(dir.path(), opts).unwrap();
                let mut m = Model { live: Vec::new(), synced: 0, next: 1, acked: 0, disk_acked: 0, base: 1 };
                for (i, op) in ops.into_iter().enumerate() {
                    match op {
                        Op::Append(len) => {
                            let e = WriteEvent::write("m", i as i64, i as u64, vec![i as u8 ^ 0x5a; len]);
                            prop_assert_eq!(j.append(&e).unwrap(), m.next);
                            m.live.push((m.next, e));
                            m.next += 1;
                        }
                        Op::Sync => {
                            j.sync().unwrap();
                            m.synced = m.live.len();
                        }
                        Op::Ack(back) | Op::Beyond(back) => {
                            let last = m.next - 1;
                            let seq = if matches!(op, Op::Beyond(_)) { last + back } else { last.saturating_sub(back) };
                            let wraps = seq > m.acked
                                && seq >= last
                                && !j.has_pending()
                                && j.durable_end() >= opts.wrap_at;
                            prop_assert_eq!(j.set_acked(seq).unwrap(), wraps);
                            if seq > m.acked {
                                m.acked = seq;
                                m.next = m.next.max(seq + 1);
                            }
                            if wraps {
                                m.live.clear();
                                m.synced = 0;
                                m.base = m.next;
                                m.disk_acked = seq;
                            }
                        }
                        Op::Persist => {
                            j.persist_acked().unwrap();
                            m.disk_acked = m.acked;
                        }
                        Op::Crash => {
                            drop(j);
                            j = reopen(dir.path(), opts, &mut m)?;
                        }
                        Op::Torn(cut) => {
                            j.write_pending().unwrap();
                            let end = j.durable_end();
                            drop(j);
                            let next = record_bytes(m.next, &WriteEvent::write("m", -1, 0, vec![0xc3; 390]));
                            let cut = cut.min(next.len() - 1);
                            let f = OpenOptions::new().write(true).open(dir.path().join("journal")).unwrap();
                            f.write_all_at(&next[..cut], end).unwrap();
                            drop(f);
                            j = reopen(dir.path(), opts, &mut m)?;
                        }
                    }
                    check_live(&j, &m)?;
                }
                j.sync().unwrap();
                m.synced = m.live.len();
                drop(j);
                let j = reopen(dir.path(), opts, &mut m)?;
                prop_assert_eq!(j.read_from(0, usize::MAX).unwrap().len(), m.live.len());
            }
        }
    }
}
