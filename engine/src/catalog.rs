//! What the store holds: streams, their instants (timeline) and markers.

use crate::entry::Entry;
use crate::error::{Result, StoreError};
use crate::index::{self, InstantRow};
use crate::store::{Ack, Store};

/// A stream as `kairos streams` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Name.
    pub name: String,
    /// Block size in bytes.
    pub block_size: u32,
    /// Length at the latest instant.
    pub size: u64,
    /// First instant (ns), if any.
    pub first: Option<i64>,
    /// Latest instant (ns), if any.
    pub last: Option<i64>,
    /// Number of retained instants.
    pub versions: u64,
    /// When the stream was removed, if it is removed at the instant listed
    /// (only [`Store::streams_all`] lists removed streams).
    pub removed: Option<i64>,
}

/// A named point in time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// Marker name.
    pub name: String,
    /// The stream it belongs to, or `None` for a store-wide marker.
    pub stream: Option<String>,
    /// The instant (ns).
    pub ts: i64,
}

/// Activity of a stream over a time range.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Instants in the range, ascending (with blocks written at each).
    pub instants: Vec<InstantRow>,
    /// Instants in the range at which the stream was removed (each is also
    /// one of `instants`).
    pub removals: Vec<i64>,
    /// Markers in the range that apply to the stream (its own and store-wide).
    pub marks: Vec<Mark>,
}

impl Store {
    /// Every live stream (not removed), by creation order.
    pub fn streams(&self) -> Result<Vec<StreamInfo>> {
        self.list_streams(i64::MAX, false)
    }

    /// Every stream, by creation order, removed ones too (with `removed` set).
    pub fn streams_all(&self) -> Result<Vec<StreamInfo>> {
        self.list_streams(i64::MAX, true)
    }

    /// The streams that exist at instant `at` (created before it and not
    /// removed at it), as they stood then: what a directory restored or
    /// mounted at `at` holds.
    pub fn streams_at(&self, at: i64) -> Result<Vec<StreamInfo>> {
        self.list_streams(at, false)
    }

    fn list_streams(&self, at: i64, with_removed: bool) -> Result<Vec<StreamInfo>> {
        self.read(|txn, t| {
            let mut out = Vec::new();
            for row in index::streams(txn, t)? {
                let inst = index::instants(txn, t, row.id, i64::MIN, at)?;
                let removed = index::removed_at(txn, t, row.id, at)?;
                if (removed.is_some() && !with_removed) || (inst.is_empty() && at != i64::MAX) {
                    continue;
                }
                out.push(StreamInfo {
                    size: index::size_at(txn, t, row.id, at)?,
                    first: inst.first().map(|r| r.ts),
                    last: inst.last().map(|r| r.ts),
                    versions: inst.len() as u64,
                    removed,
                    name: row.name,
                    block_size: row.block_size,
                });
            }
            Ok(out)
        })
    }

    /// Instants and markers of `stream` within `[from, to]`.
    pub fn timeline(&self, stream: &str, from: i64, to: i64) -> Result<Timeline> {
        let tl = self.read(|txn, t| {
            let Some(row) = index::stream_by_name(txn, t, stream)? else {
                return Ok(None);
            };
            let instants = index::instants(txn, t, row.id, from, to)?;
            let removals = index::removals(txn, t, row.id, from, to)?;
            let marks = index::marks(txn, t)?
                .into_iter()
                .filter(|m| (m.stream == 0 || m.stream == row.id) && (from..=to).contains(&m.ts))
                .map(|m| Mark {
                    name: m.name,
                    stream: (m.stream != 0).then(|| row.name.clone()),
                    ts: m.ts,
                })
                .collect();
            Ok(Some(Timeline {
                instants,
                removals,
                marks,
            }))
        })?;
        tl.ok_or_else(|| StoreError::NoStream(stream.to_owned()))
    }

    /// Every row of the index except the replay position and chunk
    /// locations, in key order: two stores that give the same answers have
    /// the same rows (used to check `verify --rebuild-index`).
    pub fn index_rows(&self) -> Result<Vec<index::DumpRow>> {
        self.read(index::dump)
    }

    /// Total bytes of the store's pack files.
    pub fn pack_bytes(&self) -> Result<u64> {
        let dir = self.inner.packs_dir();
        let mut total = 0;
        for id in crate::pack::list_packs(&dir)? {
            let p = self.inner.pack_path(id);
            total += std::fs::metadata(&p)
                .map_err(crate::error::StoreError::io(&p, "stat pack"))?
                .len();
        }
        Ok(total)
    }

    /// Every marker, by name.
    pub fn marks(&self) -> Result<Vec<Mark>> {
        self.read(|txn, t| {
            let mut out = Vec::new();
            for m in index::marks(txn, t)? {
                let stream = if m.stream == 0 {
                    None
                } else {
                    index::stream_by_id(txn, t, m.stream)?.map(|r| r.name)
                };
                out.push(Mark {
                    name: m.name,
                    stream,
                    ts: m.ts,
                });
            }
            Ok(out)
        })
    }

    /// The instant of marker `name` (for `--at mark:NAME`).
    pub fn mark_instant(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .marks()?
            .into_iter()
            .find(|m| m.name == name)
            .map(|m| m.ts))
    }

    /// Records marker `name` at `ts` (default now), for one stream or the
    /// whole store. A marker of the same name is replaced.
    pub fn mark(&mut self, name: &str, stream: Option<&str>, ts: Option<i64>) -> Result<Ack> {
        if name.is_empty() {
            return Err(StoreError::Invalid("marker name is empty".into()));
        }
        let ts = ts.unwrap_or_else(crate::now_ns);
        let mut batch = self.begin()?;
        let sid = match stream {
            Some(s) => {
                batch
                    .with(|txn, t| index::stream_by_name(txn, t, s))?
                    .ok_or_else(|| StoreError::NoStream(s.to_owned()))?
                    .id
            }
            None => 0,
        };
        batch.push(&Entry::Mark {
            stream: sid,
            ts,
            name: name.to_owned(),
        })?;
        batch.commit()
    }
}

impl Store {
    /// Resolves an operator's `--at` (including `mark:NAME`) to ns since the
    /// epoch, against the system clock and time zone and this store's markers.
    pub fn resolve_time(&self, spec: &crate::TimeSpec) -> Result<i64> {
        let marks = self.marks()?;
        let t = spec
            .resolve_now(|name| {
                marks
                    .iter()
                    .find(|m| m.name == name)
                    .and_then(|m| jiff::Timestamp::from_nanosecond(i128::from(m.ts)).ok())
            })
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        i64::try_from(t.as_nanosecond())
            .map_err(|_| StoreError::Invalid(format!("time {t} is out of range")))
    }
}
