//! Random-access byte sources: the one interface between storage and parsers.
//!
//! # Contract
//!
//! - [`Source::read_at`] reads up to `buf.len()` bytes starting at `offset`
//!   and returns how many it read. It returns fewer than `buf.len()` **only at
//!   the end of the data**, and `0` when `offset >= len()`. It never reads
//!   ahead of what was asked, so a [`CountingSource`] sees exactly what a
//!   parser needed.
//! - [`Source::len`] is the length of the data as of when the source was
//!   opened. A file source does not follow later growth; an engine view is
//!   immutable by construction (it is one instant).
//! - [`Source::name`] is a human name used in every error message: a path for
//!   files, `stream@instant` for engine views.
//! - Errors are [`crate::Error`]: `Io` for OS failures, `Damaged` when the
//!   storage below cannot produce the bytes (an engine chunk failed its hash).
//! - Sources are `Send + Sync` and `read_at` takes `&self`, so one source can be
//!   shared by threads (a GUI reading a table while listing another).
//! - Cost: a file read is a `pread`. An engine view read may decompress one or
//!   more chunks (served from a cache afterwards); parsers should read whole
//!   pages rather than many tiny pieces of one page.
//!
//! Extension methods that check bounds before allocating live in
//! [`SourceExt`], implemented for every source.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Random-access, read-only bytes with a human name. See the module docs for
/// the full contract.
pub trait Source: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; short only at end of data.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize>;
    /// Length of the data in bytes.
    fn len(&self) -> u64;
    /// Human name for error messages (path, `stream@instant`, ...).
    fn name(&self) -> &str;
    /// True when the source holds no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Bounds-checked helpers every parser uses; implemented for all sources.
pub trait SourceExt: Source {
    /// Fills `buf` completely from `offset`, or fails with
    /// [`Error::Truncated`] naming the source, offset and lengths.
    fn read_exact_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let wanted = buf.len() as u64;
        let len = self.len();
        if offset.checked_add(wanted).is_none_or(|end| end > len) {
            return Err(Error::Truncated {
                source_name: self.name().to_owned(),
                offset,
                wanted,
                len,
            });
        }
        let mut done = 0;
        while done < buf.len() {
            let n = self.read_at(offset + done as u64, &mut buf[done..])?;
            if n == 0 {
                return Err(Error::Truncated {
                    source_name: self.name().to_owned(),
                    offset,
                    wanted,
                    len: offset + done as u64,
                });
            }
            done += n;
        }
        Ok(())
    }

    /// Reads exactly `len` bytes at `offset` into a new vector. The length is
    /// checked against the source before anything is allocated, so a hostile
    /// length field cannot make a parser allocate more than the file holds.
    fn read_vec_at(&self, offset: u64, len: u64) -> Result<Vec<u8>> {
        let total = self.len();
        if offset.checked_add(len).is_none_or(|end| end > total) {
            return Err(Error::Truncated {
                source_name: self.name().to_owned(),
                offset,
                wanted: len,
                len: total,
            });
        }
        let mut buf = vec![0; usize::try_from(len).unwrap_or(usize::MAX)];
        self.read_exact_at(offset, &mut buf)?;
        Ok(buf)
    }

    /// Reads page `page` of `page_size` bytes (pages numbered from 0).
    fn read_page(&self, page: u64, page_size: u32) -> Result<Vec<u8>> {
        let offset = page
            .checked_mul(u64::from(page_size))
            .ok_or_else(|| Error::Truncated {
                source_name: self.name().to_owned(),
                offset: u64::MAX,
                wanted: u64::from(page_size),
                len: self.len(),
            })?;
        self.read_vec_at(offset, u64::from(page_size))
    }
}

impl<S: Source + ?Sized> SourceExt for S {}

/// Forwards `Source` through a pointer type, so `&S`, `Box<S>` and `Arc<S>`
/// (including `Arc<dyn Source>`) are sources wherever `S` is.
macro_rules! forward_source {
    ($($ptr:ty),+) => {$(
        impl<S: Source + ?Sized> Source for $ptr {
            fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
                (**self).read_at(offset, buf)
            }
            fn len(&self) -> u64 {
                (**self).len()
            }
            fn name(&self) -> &str {
                (**self).name()
            }
        }
    )+};
}

forward_source!(&S, Box<S>, Arc<S>);

/// Copies the part of `data` at `offset` into `buf`: the shared body of every
/// in-memory `read_at`.
fn read_from_slice(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let Ok(start) = usize::try_from(offset) else {
        return 0;
    };
    if start >= data.len() {
        return 0;
    }
    let n = buf.len().min(data.len() - start);
    buf[..n].copy_from_slice(&data[start..start + n]);
    n
}

/// A plain file, read with `pread` (no shared cursor, so it is thread-safe).
#[derive(Debug)]
pub struct FileSource {
    file: File,
    len: u64,
    name: String,
}

impl FileSource {
    /// Opens `path` read-only; the length is fixed at open time.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let io = |error| Error::Io {
            source_name: name.clone(),
            offset: 0,
            error,
        };
        let file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_dir() {
            return Err(Error::Io {
                source_name: name.clone(),
                offset: 0,
                error: std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
            });
        }
        Ok(FileSource {
            file,
            len: meta.len(),
            name,
        })
    }
}

impl Source for FileSource {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        if offset >= self.len {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.len - offset).unwrap_or(usize::MAX));
        let mut done = 0;
        while done < want {
            match self
                .file
                .read_at(&mut buf[done..want], offset + done as u64)
            {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => {
                    return Err(Error::Io {
                        source_name: self.name.clone(),
                        offset: offset + done as u64,
                        error,
                    });
                }
            }
        }
        Ok(done)
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Bytes in memory: test fixtures, generated databases, decompressed samples.
#[derive(Debug, Clone)]
pub struct MemSource {
    data: Arc<[u8]>,
    name: String,
}

impl MemSource {
    /// Wraps `data` under the human name `name`.
    pub fn new(name: impl Into<String>, data: impl Into<Arc<[u8]>>) -> Self {
        MemSource {
            data: data.into(),
            name: name.into(),
        }
    }

    /// The bytes themselves.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }
}

impl Source for MemSource {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        Ok(read_from_slice(&self.data, offset, buf))
    }
    fn len(&self) -> u64 {
        self.data.len() as u64
    }
    fn name(&self) -> &str {
        &self.name
    }
}

/// Wraps a source and counts what is read through it: calls, bytes, and the
/// distinct pages touched. This is how tests assert that a parser is lazy
/// ("listing tables read at most the boot, catalog and allocation pages") and
/// how the CLI reports the fraction of a file an operation needed.
#[derive(Debug)]
pub struct CountingSource<S> {
    inner: S,
    page_size: u64,
    reads: AtomicU64,
    bytes: AtomicU64,
    pages: Mutex<BTreeSet<u64>>,
}

impl<S: Source> CountingSource<S> {
    /// Counts reads of `inner` in pages of `page_size` bytes (must be > 0;
    /// 0 is treated as 1).
    pub fn new(inner: S, page_size: u32) -> Self {
        CountingSource {
            inner,
            page_size: u64::from(page_size.max(1)),
            reads: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            pages: Mutex::new(BTreeSet::new()),
        }
    }

    /// Number of `read_at` calls so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    /// Bytes returned so far.
    pub fn bytes_read(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Distinct pages touched so far.
    pub fn pages_read(&self) -> u64 {
        self.pages.lock().map_or(0, |p| p.len() as u64)
    }

    /// The distinct page numbers touched so far, ascending.
    pub fn page_numbers(&self) -> Vec<u64> {
        self.pages
            .lock()
            .map(|p| p.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Total pages in the source (rounded up).
    pub fn total_pages(&self) -> u64 {
        self.inner.len().div_ceil(self.page_size)
    }

    /// Forgets everything counted so far.
    pub fn reset(&self) {
        self.reads.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
        if let Ok(mut p) = self.pages.lock() {
            p.clear();
        }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: Source> Source for CountingSource<S> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let n = self.inner.read_at(offset, buf)?;
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        if n > 0 {
            let first = offset / self.page_size;
            let last = (offset + n as u64 - 1) / self.page_size;
            if let Ok(mut pages) = self.pages.lock() {
                pages.extend(first..=last);
            }
        }
        Ok(n)
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn name(&self) -> &str {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn file_and_memory_sources_agree() {
        let data = sample(50_000);
        let mut tmp = tempfile::NamedTempFile::new().expect("temp file");
        tmp.write_all(&data).expect("write");
        let file = FileSource::open(tmp.path()).expect("open");
        let mem = MemSource::new("mem", data.clone());
        assert_eq!(file.len(), 50_000);
        for (off, len) in [
            (0u64, 10usize),
            (8192, 8192),
            (49_990, 100),
            (50_000, 5),
            (1 << 40, 3),
        ] {
            let mut a = vec![0; len];
            let mut b = vec![0; len];
            let na = file.read_at(off, &mut a).expect("file read");
            let nb = mem.read_at(off, &mut b).expect("mem read");
            assert_eq!(na, nb, "short-read length at {off}");
            assert_eq!(a[..na], b[..nb]);
            let start = usize::try_from(off).unwrap_or(usize::MAX).min(data.len());
            assert_eq!(&a[..na], &data[start..start + na]);
        }
    }

    #[test]
    fn read_exact_past_end_is_truncated_error_naming_source() {
        let mem = MemSource::new("cut.mdf", vec![1u8; 100]);
        let mut buf = [0u8; 50];
        let err = mem.read_exact_at(80, &mut buf).expect_err("must fail");
        assert_eq!(
            err.to_string(),
            "cut.mdf: truncated: needed 50 bytes at offset 80, but the data is only 100 bytes long"
        );
        // a hostile length never allocates
        let err = mem.read_vec_at(0, u64::MAX).expect_err("must fail");
        assert!(matches!(err, Error::Truncated { .. }));
        let err = mem.read_page(u64::MAX / 2, 8192).expect_err("must fail");
        assert!(matches!(err, Error::Truncated { .. }));
    }

    #[test]
    fn missing_file_names_the_path() {
        let err = FileSource::open("/nonexistent/kairos/x.mdf").expect_err("must fail");
        assert!(
            err.to_string()
                .starts_with("/nonexistent/kairos/x.mdf: I/O error")
        );
        let dir = tempfile::tempdir().expect("dir");
        let err = FileSource::open(dir.path()).expect_err("dir must fail");
        assert!(err.to_string().contains("directory"), "{err}");
    }

    #[test]
    fn counting_source_counts_distinct_pages() {
        let mem = MemSource::new("m", sample(8192 * 10));
        let c = CountingSource::new(&mem, 8192);
        c.read_page(3, 8192).expect("page 3");
        c.read_page(3, 8192).expect("page 3 again");
        let mut buf = [0u8; 100];
        c.read_exact_at(8192 * 5 - 50, &mut buf)
            .expect("straddle 4/5");
        assert_eq!(c.pages_read(), 3);
        assert_eq!(c.page_numbers(), vec![3, 4, 5]);
        assert_eq!(c.reads(), 3);
        assert_eq!(c.bytes_read(), 8192 * 2 + 100);
        assert_eq!(c.total_pages(), 10);
        c.reset();
        assert_eq!(c.pages_read(), 0);
    }

    proptest! {
        #[test]
        fn read_exact_round_trips(data in proptest::collection::vec(any::<u8>(), 0..4096),
                                  off in 0u64..5000, len in 0usize..5000) {
            let mem = MemSource::new("p", data.clone());
            let arc: Arc<dyn Source> = Arc::new(mem);
            let mut buf = vec![0; len];
            let res = arc.read_exact_at(off, &mut buf);
            let end = off as usize + len;
            if end <= data.len() {
                prop_assert!(res.is_ok());
                prop_assert_eq!(&buf[..], &data[off as usize..end]);
            } else {
                let is_truncated = matches!(res, Err(Error::Truncated { .. }));
                prop_assert!(is_truncated);
            }
        }
    }
}
