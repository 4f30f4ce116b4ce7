//! 8 KiB pages: the 96-byte header, the slot array and page verification
//! (checksum / torn-page bits). Format notes §1–§3.

use kairos_parsers::{Error, Location, Result, Source, SourceExt};

use crate::bytes::{u16_at, u32_at};

/// Size of every SQL Server page.
pub const PAGE_SIZE: usize = 8192;
/// Length of the page header; records start right after it.
pub const HEADER_LEN: usize = 96;

/// `m_flagBits` bit: the page carries torn-page bits in `m_tornBits`.
const FLAG_TORN_BITS: u16 = 0x0100;
/// `m_flagBits` bit: `m_tornBits` holds a checksum.
const FLAG_CHECKSUM: u16 = 0x0200;

/// Page types (`m_type`), from the format notes §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageType {
    /// Data page (heap or clustered-index leaf).
    Data,
    /// Index page (non-leaf levels, non-clustered indexes).
    Index,
    /// LOB fragments of several rows.
    TextMix,
    /// LOB tree page of one value.
    TextTree,
    /// Index Allocation Map.
    Iam,
    /// Page Free Space.
    Pfs,
    /// Boot page (page 9 of the primary file).
    Boot,
    /// File header (page 0).
    FileHeader,
    /// Any other value (GAM, SGAM, DCM, BCM, sort, unknown).
    Other(u8),
}

impl PageType {
    fn from_byte(b: u8) -> Self {
        match b {
            1 => PageType::Data,
            2 => PageType::Index,
            3 => PageType::TextMix,
            4 => PageType::TextTree,
            10 => PageType::Iam,
            11 => PageType::Pfs,
            13 => PageType::Boot,
            15 => PageType::FileHeader,
            other => PageType::Other(other),
        }
    }
}

/// A page address as stored on disk: `u32 page, u16 file` (6 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PageId {
    /// File id (1 = primary data file).
    pub file: u16,
    /// Page number inside the file.
    pub page: u32,
}

impl PageId {
    /// Decodes the 6-byte on-disk form; `None` if `b` is too short.
    pub fn parse(b: &[u8], off: usize) -> Option<PageId> {
        Some(PageId {
            page: u32_at(b, off)?,
            file: u16_at(b, off + 4)?,
        })
    }

    /// The 0:0 pointer ends page chains.
    pub fn is_null(self) -> bool {
        self.page == 0 && self.file == 0
    }
}

impl std::fmt::Display for PageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.page)
    }
}

/// A record address (RID): page plus slot, 8 bytes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rid {
    /// The page.
    pub page: PageId,
    /// The slot on that page.
    pub slot: u16,
}

impl Rid {
    /// Decodes `u32 page, u16 file, u16 slot`.
    pub fn parse(b: &[u8], off: usize) -> Option<Rid> {
        Some(Rid {
            page: PageId::parse(b, off)?,
            slot: u16_at(b, off + 6)?,
        })
    }
}

/// The fields of the 96-byte header the reader uses (`DBCC PAGE` names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageHeader {
    /// `m_type`.
    pub page_type: PageType,
    /// `m_level`: B-tree level, 0 = leaf.
    pub level: u8,
    /// `m_flagBits`: which verification the page carries.
    pub flag_bits: u16,
    /// `m_indexId` (high part of the allocation-unit id).
    pub index_id: u16,
    /// `m_prevPage`.
    pub prev: PageId,
    /// `pminlen`: fixed length of the records.
    pub pminlen: u16,
    /// `m_nextPage`.
    pub next: PageId,
    /// `m_slotCnt`.
    pub slot_count: u16,
    /// `m_objId` (low part of the allocation-unit id).
    pub obj_id: u32,
    /// `m_freeData`: offset of the first free byte.
    pub free_data: u16,
    /// `m_pageId`: the page's own address.
    pub this: PageId,
    /// `m_ghostRecCnt`.
    pub ghost_count: u16,
    /// `m_tornBits`: checksum or torn-bit vector.
    pub torn_bits: u32,
}

impl PageHeader {
    /// Allocation unit the page belongs to: `(m_indexId << 48) | (m_objId << 16)`.
    pub fn alloc_unit(&self) -> i64 {
        ((i64::from(self.index_id)) << 48) | (i64::from(self.obj_id) << 16)
    }
}

/// Result of page verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCheck {
    /// Checksum or torn bits present and consistent.
    Ok,
    /// The page carries neither checksum nor torn bits (PAGE_VERIFY NONE).
    NotVerifiable,
    /// Stored and computed checksum differ.
    BadChecksum {
        /// `m_tornBits` as stored.
        stored: u32,
        /// What the page bytes hash to.
        computed: u32,
    },
    /// The 512-byte sectors carry different torn-bit patterns: a partial write.
    TornPage,
}

/// One page read from a source, with its parsed header.
#[derive(Debug, Clone)]
pub struct Page {
    number: u32,
    bytes: Vec<u8>,
    header: PageHeader,
    /// Torn-page bits were present and some sector lacked the pattern.
    torn: bool,
}

impl Page {
    /// Parses the page `number` from its 8192 `bytes`; fails when the
    /// header is not a formatted page or names another page.
    pub fn parse(source_name: &str, number: u32, mut bytes: Vec<u8>) -> Result<Page> {
        let corrupt = |field: &str, detail: String| {
            Error::corrupt(
                source_name,
                Location::page(u64::from(number)),
                field,
                detail,
            )
        };
        if bytes.len() != PAGE_SIZE {
            return Err(corrupt(
                "page",
                format!("{} bytes, expected {PAGE_SIZE}", bytes.len()),
            ));
        }
        if bytes[0] != 1 {
            let detail = if bytes.iter().all(|&b| b == 0) {
                "the page is all zeros (never written or wiped)".to_owned()
            } else {
                format!("{} (expected 1)", bytes[0])
            };
            return Err(corrupt("m_headerVersion", detail));
        }
        let h = &bytes[..];
        let header = PageHeader {
            page_type: PageType::from_byte(h[1]),
            level: h[3],
            flag_bits: u16_at(h, 4).unwrap_or(0),
            index_id: u16_at(h, 6).unwrap_or(0),
            prev: PageId::parse(h, 8).unwrap_or_default(),
            pminlen: u16_at(h, 14).unwrap_or(0),
            next: PageId::parse(h, 16).unwrap_or_default(),
            slot_count: u16_at(h, 22).unwrap_or(0),
            obj_id: u32_at(h, 24).unwrap_or(0),
            free_data: u16_at(h, 30).unwrap_or(0),
            this: PageId::parse(h, 32).unwrap_or_default(),
            ghost_count: u16_at(h, 58).unwrap_or(0),
            torn_bits: u32_at(h, 60).unwrap_or(0),
        };
        if header.this.page != number {
            return Err(corrupt(
                "m_pageId",
                format!(
                    "the header says page {} (misplaced or stale page)",
                    header.this
                ),
            ));
        }
        if usize::from(header.slot_count) * 2 > PAGE_SIZE - HEADER_LEN {
            return Err(corrupt(
                "m_slotCnt",
                format!("{} slots do not fit in a page", header.slot_count),
            ));
        }
        let mut torn = false;
        if header.flag_bits & FLAG_TORN_BITS != 0 && header.flag_bits & FLAG_CHECKSUM == 0 {
            torn = !torn_bits_consistent(&bytes, header.torn_bits);
            restore_torn_bits(&mut bytes, header.torn_bits);
        }
        Ok(Page {
            number,
            bytes,
            header,
            torn,
        })
    }

    /// Reads and parses page `number` of `src`.
    pub fn read(src: &(impl Source + ?Sized), number: u32) -> Result<Page> {
        let bytes = src.read_page(u64::from(number), PAGE_SIZE as u32)?;
        Page::parse(src.name(), number, bytes)
    }

    /// The page number in its file.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The parsed header.
    pub fn header(&self) -> &PageHeader {
        &self.header
    }

    /// The raw 8192 bytes (torn bits already restored).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Offset of the record in slot `slot`; `None` past the slot count, and
    /// `Some(0)` for a freed slot.
    pub fn slot_offset(&self, slot: u16) -> Option<u16> {
        if slot >= self.header.slot_count {
            return None;
        }
        u16_at(&self.bytes, PAGE_SIZE - 2 - 2 * usize::from(slot))
    }

    /// First byte of the slot array (records end before it).
    pub fn slot_array_start(&self) -> usize {
        PAGE_SIZE - 2 * usize::from(self.header.slot_count)
    }

    /// The bytes from the record in `slot` to the slot array, or `None` for
    /// a freed slot or an offset outside the record area.
    pub fn record_bytes(&self, slot: u16) -> Option<&[u8]> {
        let off = usize::from(self.slot_offset(slot)?);
        self.record_bytes_at(off)
    }

    /// The bytes from `off` to the slot array, when `off` is in the record area.
    pub fn record_bytes_at(&self, off: usize) -> Option<&[u8]> {
        let end = self.slot_array_start();
        if off < HEADER_LEN || off >= end {
            return None;
        }
        self.bytes.get(off..end)
    }

    /// Verifies the checksum or torn bits the page carries.
    pub fn verify(&self) -> PageCheck {
        let flags = self.header.flag_bits;
        if flags & FLAG_CHECKSUM != 0 {
            let computed = checksum(&self.bytes);
            if computed == self.header.torn_bits {
                PageCheck::Ok
            } else {
                PageCheck::BadChecksum {
                    stored: self.header.torn_bits,
                    computed,
                }
            }
        } else if flags & FLAG_TORN_BITS != 0 {
            self.torn_check()
        } else {
            PageCheck::NotVerifiable
        }
    }

    fn torn_check(&self) -> PageCheck {
        if self.torn {
            PageCheck::TornPage
        } else {
            PageCheck::Ok
        }
    }
}

/// SQL Server's page checksum (format notes §3): the page as 16 sectors of
/// 128 u32 words, each sector XOR-folded and rotated left by `15 - sector`,
/// with the checksum field itself counted as zero.
pub fn checksum(page: &[u8]) -> u32 {
    let mut csum = 0u32;
    for (s, sector) in page.chunks_exact(512).take(16).enumerate() {
        let mut x = 0u32;
        for (w, word) in sector.chunks_exact(4).enumerate() {
            if s == 0 && w == 15 {
                continue; // bytes 60..64: m_tornBits
            }
            x ^= u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        }
        csum ^= x.rotate_left(15 - s as u32);
    }
    csum
}

/// Torn-page detection (format notes §3, checked on files written with
/// PAGE_VERIFY TORN_PAGE_DETECTION): the low two bits of `m_tornBits` are
/// the write's pattern, and the last byte of every sector 1..16 must carry
/// it; sector 0's pattern is `m_tornBits` itself.
fn torn_bits_consistent(bytes: &[u8], torn_bits: u32) -> bool {
    let pattern = (torn_bits & 0b11) as u8;
    (1..16usize).all(|s| {
        bytes
            .get(s * 512 + 511)
            .is_some_and(|b| b & 0b11 == pattern)
    })
}

/// Puts back the two low bits of the last byte of sectors 1..16, kept in
/// bits `2s..2s+2` of `m_tornBits`.
fn restore_torn_bits(bytes: &mut [u8], torn_bits: u32) {
    for s in 1..16usize {
        let original = ((torn_bits >> (2 * s)) & 0b11) as u8;
        if let Some(b) = bytes.get_mut(s * 512 + 511) {
            *b = (*b & !0b11) | original;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank_page(number: u32) -> Vec<u8> {
        let mut b = vec![0u8; PAGE_SIZE];
        b[0] = 1;
        b[1] = 1;
        b[32..36].copy_from_slice(&number.to_le_bytes());
        b[36..38].copy_from_slice(&1u16.to_le_bytes());
        b
    }

    #[test]
    fn checksum_detects_a_flipped_bit() {
        let mut b = blank_page(5);
        b[4..6].copy_from_slice(&FLAG_CHECKSUM.to_le_bytes());
        b[200] = 0x5A;
        let c = checksum(&b);
        b[60..64].copy_from_slice(&c.to_le_bytes());
        let p = Page::parse("t", 5, b.clone()).expect("page");
        assert_eq!(p.verify(), PageCheck::Ok);
        b[4000] ^= 0x10;
        let p = Page::parse("t", 5, b).expect("page");
        assert!(matches!(p.verify(), PageCheck::BadChecksum { .. }));
    }

    #[test]
    fn torn_bits_are_checked_and_restored() {
        let mut b = blank_page(3);
        b[4..6].copy_from_slice(&FLAG_TORN_BITS.to_le_bytes());
        // Pattern 01; sector 1's original low bits were 11.
        let torn_bits: u32 = 0b01 | (0b11 << 2);
        b[60..64].copy_from_slice(&torn_bits.to_le_bytes());
        for s in 1..16 {
            b[s * 512 + 511] = 0xA0 | 0b01;
        }
        let p = Page::parse("t", 3, b.clone()).expect("page");
        assert_eq!(p.verify(), PageCheck::Ok);
        assert_eq!(p.bytes()[1023], 0xA3, "original bits put back");
        assert_eq!(p.bytes()[1535], 0xA0);
        b[7 * 512 + 511] = 0xA0 | 0b10; // sector 7 from another write
        let p = Page::parse("t", 3, b).expect("page");
        assert_eq!(p.verify(), PageCheck::TornPage);
    }

    #[test]
    fn zeroed_and_misplaced_pages_are_named_errors() {
        let e = Page::parse("db.mdf", 7, vec![0; PAGE_SIZE]).expect_err("zero page");
        assert!(e.to_string().contains("page 7"), "{e}");
        assert!(e.to_string().contains("all zeros"), "{e}");
        let e = Page::parse("db.mdf", 8, blank_page(9)).expect_err("misplaced");
        assert!(e.to_string().contains("m_pageId"), "{e}");
        let e = Page::parse("db.mdf", 8, vec![1; 100]).expect_err("short");
        assert!(e.is_damage());
    }
}
