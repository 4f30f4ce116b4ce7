//! Large values stored off-row: legacy text/ntext/image (16-byte text
//! pointer to a LOB root), (max) types (in-row root, complex id 4) and
//! row-overflow columns (complex id 2). Format notes §4.1–§4.3.

use kairos_parsers::{Result, Source};

use crate::bytes::{u8_at, u16_at};
use crate::page::Rid;
use crate::pages::Pages;

/// Complex column id of a row-overflow pointer.
const ROW_OVERFLOW: u8 = 2;
/// Complex column id of an in-row BLOB root.
const BLOB_INLINE_ROOT: u8 = 4;
/// Complex column id of a sparse vector.
const SPARSE_VECTOR: u8 = 5;
/// Bytes of the in-row root header before its 12-byte entries.
const INLINE_ROOT_HEADER: usize = 12;

/// LOB record types (the `u16` after the blob id).
const SMALL_ROOT: u16 = 0;
const INTERNAL: u16 = 2;
const DATA: u16 = 3;
/// SQL Server 2000's large root; same link layout as the 2005 one
/// (checked on a file created by SQL Server 2000).
const LARGE_ROOT_SHILOH: u16 = 4;
const LARGE_ROOT_YUKON: u16 = 5;

/// Deepest LOB tree followed (real trees are 2–3 levels).
const MAX_DEPTH: u32 = 16;

/// Reassembles one off-row value.
pub struct LobReader<'a, S> {
    pages: &'a Pages<S>,
    /// Records still allowed to be visited: a damaged tree with cycles
    /// cannot make the reader loop or grow without bound.
    budget: u64,
}

impl<'a, S: Source> LobReader<'a, S> {
    /// A reader over `pages`; the visit budget is one record per 16 bytes
    /// of the file, more than any real value needs.
    pub fn new(pages: &'a Pages<S>) -> Self {
        LobReader {
            pages,
            budget: pages.source().len() / 16 + 64,
        }
    }

    /// The value behind a 16-byte text pointer (text/ntext/image):
    /// `u32 timestamp, u32 ?, RID` of the LOB root.
    pub fn text_pointer(&mut self, ptr: &[u8]) -> Result<Vec<u8>> {
        let rid = Rid::parse(ptr, 8)
            .ok_or_else(|| self.err(0, "text pointer", "shorter than 16 bytes"))?;
        let mut out = Vec::new();
        self.record(rid, &mut out, 0)?;
        Ok(out)
    }

    /// The value behind a complex in-row column (row-overflow or BLOB root).
    pub fn complex(&mut self, bytes: &[u8]) -> Result<Vec<u8>> {
        match u8_at(bytes, 0) {
            Some(ROW_OVERFLOW | BLOB_INLINE_ROOT) => {
                let mut out = Vec::new();
                let entries = bytes.get(INLINE_ROOT_HEADER..).unwrap_or_default();
                for e in entries.chunks_exact(12) {
                    let rid = Rid::parse(e, 4)
                        .ok_or_else(|| self.err(0, "in-row root", "entry cut short"))?;
                    self.record(rid, &mut out, 1)?;
                }
                Ok(out)
            }
            Some(SPARSE_VECTOR) => Err(kairos_parsers::Error::Unsupported {
                source_name: self.pages.name().to_owned(),
                feature: "sparse column sets".into(),
            }),
            other => Err(self.err(
                0,
                "complex column id",
                format!("{other:?} is not a known off-row pointer"),
            )),
        }
    }

    fn err(&self, page: u32, field: &str, detail: impl Into<String>) -> kairos_parsers::Error {
        self.pages.corrupt(page, field, detail)
    }

    /// Appends the data under the LOB record at `rid` to `out`.
    fn record(&mut self, rid: Rid, out: &mut Vec<u8>, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH || self.budget == 0 {
            return Err(self.err(rid.page.page, "LOB tree", "too deep or loops"));
        }
        self.budget -= 1;
        let page = self.pages.get(rid.page)?;
        let p = rid.page.page;
        let rec = page
            .record_bytes(rid.slot)
            .ok_or_else(|| self.err(p, "LOB slot", format!("slot {} is missing", rid.slot)))?;
        let fixed_end = usize::from(u16_at(rec, 2).unwrap_or(0));
        let body = rec
            .get(..fixed_end)
            .filter(|b| b.len() >= 14)
            .ok_or_else(|| {
                self.err(
                    p,
                    "LOB record length",
                    format!("{fixed_end} bytes in slot {}", rid.slot),
                )
            })?;
        let kind = u16_at(body, 12).unwrap_or(u16::MAX);
        match kind {
            DATA => out.extend_from_slice(&body[14..]),
            SMALL_ROOT => {
                let len = usize::from(u16_at(body, 14).unwrap_or(0));
                let data = body.get(20..20 + len).ok_or_else(|| {
                    self.err(
                        p,
                        "SMALL_ROOT length",
                        format!("{len} bytes past the record"),
                    )
                })?;
                out.extend_from_slice(data);
            }
            LARGE_ROOT_SHILOH | LARGE_ROOT_YUKON | INTERNAL => {
                let count = usize::from(u16_at(body, 16).unwrap_or(0));
                let (start, width, rid_at) = if kind == INTERNAL {
                    (20, 16, 8)
                } else {
                    (24, 12, 4)
                };
                for i in 0..count {
                    let e = start + i * width;
                    let child = body
                        .get(e..e + width)
                        .and_then(|b| Rid::parse(b, rid_at))
                        .ok_or_else(|| {
                            self.err(
                                p,
                                "LOB link",
                                format!("link {i} of {count} past the record"),
                            )
                        })?;
                    self.record(child, out, depth + 1)?;
                }
            }
            other => {
                return Err(self.err(
                    p,
                    "LOB record type",
                    format!("{other} is not supported yet"),
                ));
            }
        }
        Ok(())
    }
}
