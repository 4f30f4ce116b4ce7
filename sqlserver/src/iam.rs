//! IAM chains (which extents and single pages an allocation unit owns) and
//! PFS bytes (whether a page is allocated). Format notes §5.3.

use kairos_parsers::{Error, Location, Result};

use crate::bytes::u8_at;
use crate::page::{Page, PageId, PageType};

/// Record offset of the IAM header's start page (checked on real files:
/// the eight 6-byte single-page slots end the 94-byte header record).
const IAM_START_PAGE: usize = 40;
/// Record offset of the eight single-page slots (mixed-extent pages).
const IAM_SINGLE_PAGES: usize = 46;
/// Pages covered by one PFS page.
pub const PFS_INTERVAL: u32 = 8088;
/// Offset of the first PFS byte in a PFS page.
const PFS_DATA: usize = 100;
/// PFS bit: the page is allocated.
const PFS_ALLOCATED: u8 = 0x40;

/// What one IAM page says an allocation unit owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IamPage {
    /// Pages of mixed extents (up to eight, on the first IAM page only).
    pub single_pages: Vec<PageId>,
    /// First page of every uniform extent the bitmap marks.
    pub extents: Vec<PageId>,
    /// Next IAM page of the chain.
    pub next: PageId,
}

impl IamPage {
    /// Every page this IAM page allocates: its mixed-extent pages, then the
    /// eight pages of each uniform extent. Scans and the catalog walk the
    /// chain with this so both see the same page set.
    pub fn allocated_pages(&self) -> impl Iterator<Item = PageId> + '_ {
        let uniform = self.extents.iter().flat_map(|e| {
            (0..8).map(move |i| PageId {
                file: e.file,
                page: e.page.saturating_add(i),
            })
        });
        self.single_pages.iter().copied().chain(uniform)
    }

    /// Decodes an IAM page.
    pub fn parse(source_name: &str, page: &Page) -> Result<IamPage> {
        let corrupt = |field: &str, detail: &str| {
            Error::corrupt(
                source_name,
                Location::page(u64::from(page.number())),
                field,
                detail,
            )
        };
        if page.header().page_type != PageType::Iam {
            return Err(corrupt("m_type", "expected an IAM page"));
        }
        let header = page
            .record_bytes(0)
            .ok_or_else(|| corrupt("IAM header", "slot 0 is missing"))?;
        let start = PageId::parse(header, IAM_START_PAGE)
            .ok_or_else(|| corrupt("IAM start page", "header record too short"))?;
        let single_pages = (0..8)
            .filter_map(|i| PageId::parse(header, IAM_SINGLE_PAGES + 6 * i))
            .filter(|p| !p.is_null())
            .collect();
        let bitmap_rec = page
            .record_bytes(1)
            .ok_or_else(|| corrupt("IAM bitmap", "slot 1 is missing"))?;
        let end = usize::from(crate::bytes::u16_at(bitmap_rec, 2).unwrap_or(4))
            .clamp(4, bitmap_rec.len());
        let bitmap = bitmap_rec.get(4..end).unwrap_or_default();
        let mut extents = Vec::new();
        for (i, &byte) in bitmap.iter().enumerate() {
            for bit in 0..8 {
                if byte & (1 << bit) != 0 {
                    let ext = (i * 8 + bit) as u32;
                    if let Some(first) = start.page.checked_add(ext * 8) {
                        extents.push(PageId {
                            file: start.file,
                            page: first,
                        });
                    }
                }
            }
        }
        Ok(IamPage {
            single_pages,
            extents,
            next: page.header().next,
        })
    }
}

/// The PFS page that describes `page`.
pub fn pfs_page_for(page: u32) -> u32 {
    (page / PFS_INTERVAL * PFS_INTERVAL).max(1)
}

/// Whether the PFS page `pfs` marks `page` allocated.
pub fn pfs_allocated(pfs: &Page, page: u32) -> bool {
    let index = (page % PFS_INTERVAL) as usize;
    u8_at(pfs.bytes(), PFS_DATA + index).is_some_and(|b| b & PFS_ALLOCATED != 0)
}
