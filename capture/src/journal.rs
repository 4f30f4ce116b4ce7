//! The spool journal: an append-only, checksummed log of write events.
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
//! - `journal`: records back to back. A record is `u32 len` (LE), `u32
//!   crc32` (LE, of the payload), then `len` bytes of payload: one event in
//!   the encoding of [`crate::event`]. Sequence numbers strictly increase.
//! - `acked`: the highest sequence number the server has made durable, as
//!   `u64` LE followed by its `u32` crc32; replaced atomically (write temp,
//!   fsync, rename, fsync directory).
//!
//! Assumptions about the disk: fsync makes written bytes durable; a crash may
//! leave any prefix of the unsynced tail. On open, a torn or corrupt tail is
//! found by the length/checksum scan and cut off with a warning: only bytes
//! that were never fsynced (never acknowledged) can be lost that way.
//! When every record is acknowledged and the file has grown past
//! [`COMPACT_AT`] bytes, the sender truncates it to zero; `acked` keeps the
//! sequence numbering going.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::event::{Change, MAX_ENCODED_EVENT, WriteEvent};
use crate::sink::{CaptureError, EventSink, Result};

/// Size past which a fully acknowledged journal is truncated.
pub const COMPACT_AT: u64 = 64 << 20;

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

/// An open journal (single writer: the process holding it).
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    /// Encoded records not yet written to the file.
    pending: Vec<u8>,
    /// Length of the file: everything before it is written (and, after
    /// `sync`, durable).
    end: u64,
    /// The kernel was asked to start writing the file up to here.
    hinted: u64,
    next_seq: u64,
    acked: u64,
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
    /// Opens (creating if needed) the journal in `dir`, cutting a torn tail.
    pub fn open(dir: &Path) -> Result<Self> {
        fs::create_dir_all(dir).map_err(CaptureError::io(dir, "create journal directory"))?;
        let path = dir.join("journal");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(CaptureError::io(&path, "open"))?;
        let acked = read_acked(dir)?;
        let (valid_end, last_seq) = scan(&file, &path)?;
        let len = file
            .metadata()
            .map_err(CaptureError::io(&path, "stat"))?
            .len();
        if valid_end < len {
            tracing::warn!(
                "{}: cutting {} bytes of torn or corrupt journal tail at byte {valid_end} (never fsynced, never acknowledged)",
                path.display(),
                len - valid_end
            );
            file.set_len(valid_end)
                .map_err(CaptureError::io(&path, "truncate torn tail"))?;
            file.sync_all().map_err(CaptureError::io(&path, "fsync"))?;
        }
        Ok(Self {
            dir: dir.to_owned(),
            path,
            file,
            pending: Vec::new(),
            end: valid_end,
            hinted: valid_end,
            next_seq: last_seq.max(acked) + 1,
            acked,
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
            self.file
                .write_all_at(&self.pending, self.end)
                .map_err(CaptureError::io(&self.path, "append"))?;
            self.end += self.pending.len() as u64;
            self.pending.clear();
        }
        Ok(())
    }

    /// Writes buffered records and fsyncs: every appended event is durable.
    pub fn sync(&mut self) -> Result<()> {
        self.write_pending()?;
        self.file
            .sync_data()
            .map_err(CaptureError::io(&self.path, "fsync"))
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
    /// Truncates the journal when everything is acknowledged and it is
    /// large; returns true when it did (readers restart at offset 0).
    ///
    /// The watermark is kept in memory and written to `acked` only before a
    /// truncation (which needs it to continue the numbering): on reconnect
    /// the server's Welcome says what it holds anyway, so a stale file costs
    /// at most a deduplicated resend, and no ack pays two fsyncs.
    pub fn set_acked(&mut self, seq: u64) -> Result<bool> {
        if seq <= self.acked {
            return Ok(false);
        }
        self.acked = seq;
        // Records the server got before a crash cut them from this file must
        // not have their sequence numbers reused.
        self.next_seq = self.next_seq.max(seq + 1);
        if self.acked == self.last_seq() && self.pending.is_empty() && self.end >= COMPACT_AT {
            write_acked(&self.dir, seq)?;
            self.file.set_len(0).map_err(CaptureError::io(
                &self.path,
                "truncate acknowledged journal",
            ))?;
            self.file
                .sync_all()
                .map_err(CaptureError::io(&self.path, "fsync"))?;
            self.end = 0;
            self.hinted = 0;
            return Ok(true);
        }
        Ok(false)
    }

    /// Writes the acknowledged watermark to disk (at a clean stop).
    pub fn persist_acked(&self) -> Result<()> {
        write_acked(&self.dir, self.acked)
    }

    /// Reads every durable record of the journal in `dir` (for inspection
    /// and tests: the journal is the reference log of what was captured).
    pub fn read_all(dir: &Path) -> Result<Vec<Record>> {
        let j = Self::open(dir)?;
        j.read_from(0, usize::MAX)
    }
}

/// Scans records from the start; returns the end of the last valid record
/// and its sequence number.
fn scan(file: &File, path: &Path) -> Result<(u64, u64)> {
    let len = file
        .metadata()
        .map_err(CaptureError::io(path, "stat"))?
        .len();
    let mut at = 0u64;
    let mut last_seq = 0u64;
    while let Some((seq, _, next)) = read_record(file, path, at, len)? {
        if seq <= last_seq {
            // Out-of-order sequence numbers cannot come from a torn write.
            return Err(CaptureError::Journal {
                path: path.to_owned(),
                offset: at,
                detail: format!("sequence {seq} after {last_seq}"),
            });
        }
        last_seq = seq;
        at = next;
    }
    if at < len
        && let Some(found) = valid_record_after(file, path, at, len, last_seq)?
    {
        // A torn append leaves garbage only at the very end; a bad record
        // with good ones after it is damage, and cutting there would drop
        // events the application was told are durable.
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

/// Largest tail searched for records after a bad one; a longer unreadable
/// tail is damage in any case (the sender writes the buffer every few ms).
const MAX_TORN_TAIL: u64 = 64 << 20;

/// Looks for a valid record with a sequence number above `last_seq`
/// anywhere in `(bad, len)`.
fn valid_record_after(
    file: &File,
    path: &Path,
    bad: u64,
    len: u64,
    last_seq: u64,
) -> Result<Option<u64>> {
    let tail_len = len - bad;
    if tail_len > MAX_TORN_TAIL {
        return Ok(Some(bad));
    }
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

/// Reads one record at `at`; `None` when it is missing, torn or fails its
/// checksum (the caller decides whether that is a tail or damage).
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
    // Bound the allocation before trusting the length field.
    if len > MAX_ENCODED_EVENT || body_start + len as u64 > end {
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

fn read_acked(dir: &Path) -> Result<u64> {
    let path = dir.join("acked");
    let mut bytes = Vec::new();
    match File::open(&path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes)
                .map_err(CaptureError::io(&path, "read"))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(CaptureError::io(&path, "open")(e)),
    }
    let (Some(v), Some(c)) = (bytes.get(0..8), bytes.get(8..12)) else {
        return Err(CaptureError::Journal {
            path,
            offset: 0,
            detail: format!("acknowledgement file of {} bytes, expected 12", bytes.len()),
        });
    };
    let mut seq = [0u8; 8];
    seq.copy_from_slice(v);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(c);
    if crc32fast::hash(v) != u32::from_le_bytes(crc) {
        return Err(CaptureError::Journal {
            path,
            offset: 0,
            detail: "acknowledgement checksum mismatch".into(),
        });
    }
    Ok(u64::from_le_bytes(seq))
}

fn write_acked(dir: &Path, seq: u64) -> Result<()> {
    let tmp = dir.join("acked.tmp");
    let path = dir.join("acked");
    let mut bytes = seq.to_le_bytes().to_vec();
    bytes.extend_from_slice(&crc32fast::hash(&seq.to_le_bytes()).to_le_bytes());
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

    #[test]
    fn acked_survives_reopen_and_compaction_keeps_numbering() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(dir.path()).unwrap();
        let big = vec![7u8; crate::event::MAX_WRITE_DATA];
        let n = (COMPACT_AT as usize / big.len()) as u64 + 1;
        for i in 0..n {
            j.append(&WriteEvent::write("v", i as i64, 0, big.clone()))
                .unwrap();
        }
        j.sync().unwrap();
        assert!(!j.set_acked(n - 1).unwrap());
        assert_eq!(j.read_from(0, usize::MAX).unwrap().len() as u64, n);
        assert!(
            j.set_acked(n).unwrap(),
            "fully acked large journal compacts"
        );
        assert_eq!(j.durable_end(), 0);
        drop(j);
        let mut j = Journal::open(dir.path()).unwrap();
        assert_eq!(j.acked(), n);
        assert_eq!(
            j.append(&WriteEvent {
                stream: "v".into(),
                ts_ns: 1,
                change: Change::Remove
            })
            .unwrap(),
            n + 1
        );
    }
}
