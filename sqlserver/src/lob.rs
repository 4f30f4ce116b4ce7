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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::PAGE_SIZE;
    use kairos_parsers::MemSource;

    /// A LOB record: status 0x08 (blob fragment), fixed length, blob id,
    /// type, body.
    fn lob_record(kind: u16, body: &[u8]) -> Vec<u8> {
        let len = (14 + body.len()) as u16;
        let mut r = vec![0x08, 0];
        r.extend_from_slice(&len.to_le_bytes());
        r.extend_from_slice(&7u64.to_le_bytes());
        r.extend_from_slice(&kind.to_le_bytes());
        r.extend_from_slice(body);
        r
    }

    fn rid(page: u32, slot: u16) -> Vec<u8> {
        let mut b = page.to_le_bytes().to_vec();
        b.extend_from_slice(&1u16.to_le_bytes());
        b.extend_from_slice(&slot.to_le_bytes());
        b
    }

    /// Page 1 of a two-page file, a text-mix page holding `records`.
    fn file(records: &[Vec<u8>]) -> Pages<MemSource> {
        let mut page = vec![0u8; PAGE_SIZE];
        page[0] = 1;
        page[1] = 3;
        page[22..24].copy_from_slice(&(records.len() as u16).to_le_bytes());
        page[32..36].copy_from_slice(&1u32.to_le_bytes());
        page[36..38].copy_from_slice(&1u16.to_le_bytes());
        let mut off = 96;
        for (i, r) in records.iter().enumerate() {
            page[off..off + r.len()].copy_from_slice(r);
            let slot = PAGE_SIZE - 2 - 2 * i;
            page[slot..slot + 2].copy_from_slice(&(off as u16).to_le_bytes());
            off += r.len();
        }
        let mut data = vec![0u8; PAGE_SIZE];
        data.extend_from_slice(&page);
        Pages::new(MemSource::new("lob.mdf", data))
    }

    fn links(entries: &[(u32, u16)], wide: bool) -> Vec<u8> {
        let mut b = Vec::new();
        let mut total = 0u64;
        for &(size, slot) in entries {
            total += u64::from(size);
            if wide {
                b.extend_from_slice(&total.to_le_bytes());
            } else {
                b.extend_from_slice(&(total as u32).to_le_bytes());
            }
            b.extend_from_slice(&rid(1, slot));
        }
        b
    }

    #[test]
    fn every_pointer_kind_reassembles_the_value() {
        // slot 0, 1: DATA; 2: LARGE_ROOT_YUKON over both; 3: INTERNAL over
        // both; 4: SMALL_ROOT; 5: a root linking to itself.
        let mut yukon = vec![5, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        yukon.extend(links(&[(5, 0), (6, 1)], false));
        let mut internal = vec![5, 0, 2, 0, 1, 0];
        internal.extend(links(&[(5, 0), (6, 1)], true));
        let mut small = 3u16.to_le_bytes().to_vec();
        small.extend_from_slice(&[0, 0, 0, 0]);
        small.extend_from_slice(b"abc");
        let mut looping = vec![5, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        looping.extend(links(&[(1, 5)], false));
        let pages = file(&[
            lob_record(DATA, b"hello"),
            lob_record(DATA, b" world"),
            lob_record(LARGE_ROOT_YUKON, &yukon),
            lob_record(INTERNAL, &internal),
            lob_record(SMALL_ROOT, &small),
            lob_record(LARGE_ROOT_YUKON, &looping),
        ]);
        let mut r = LobReader::new(&pages);
        let ptr = |slot| {
            let mut p = vec![0u8; 8];
            p.extend(rid(1, slot));
            p
        };
        assert_eq!(r.text_pointer(&ptr(2)).expect("yukon root"), b"hello world");
        assert_eq!(r.text_pointer(&ptr(3)).expect("internal"), b"hello world");
        assert_eq!(r.text_pointer(&ptr(4)).expect("small root"), b"abc");
        // (max) in-row root: type 4, level 0, 12-byte header, then links.
        let mut root = vec![BLOB_INLINE_ROOT, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        root.extend(links(&[(5, 0), (6, 1)], false));
        assert_eq!(r.complex(&root).expect("inline root"), b"hello world");
        let mut overflow = vec![ROW_OVERFLOW, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        overflow.extend(links(&[(6, 1)], false));
        assert_eq!(r.complex(&overflow).expect("row overflow"), b" world");
        // Damage: a loop, a missing slot, a page past the end.
        let e = r.text_pointer(&ptr(5)).expect_err("loop");
        assert!(e.to_string().contains("LOB tree"), "{e}");
        assert!(r.text_pointer(&ptr(9)).is_err());
        let mut far = vec![0u8; 8];
        far.extend(rid(1000, 0));
        far[8..12].copy_from_slice(&1000u32.to_le_bytes());
        assert!(r.text_pointer(&far).is_err());
        assert!(r.complex(&[SPARSE_VECTOR, 0]).is_err());
        assert!(r.complex(&[]).is_err());
    }
}
