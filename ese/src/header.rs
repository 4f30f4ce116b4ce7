//! The database file header (physical page 0) and its shadow copy (page 1).
//!
//! Layout: `../shared/docs/formats/ese.md` §1 (libesedb's "(Database) file
//! header", cross-checked with `DBFILEHDR` in the MS engine source). The
//! header's checksum is the old-format XOR over the header page; when it does
//! not match (a torn write while the database was running), the shadow copy
//! one page further is used if it is intact.

use kairos_parsers::{Error, Location, Result, Source, SourceExt};

use crate::checksum;

/// `EF CD AB 89` at offset 4.
const SIGNATURE: u32 = 0x89ab_cdef;
/// Bytes of the header we decode (all fields we use lie below this).
const HEADER_PREFIX: usize = 668;

/// Database state (header offset 52).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbState {
    /// 1: created, never attached cleanly.
    JustCreated,
    /// 2: not shut down cleanly; committed transactions may be only in the logs.
    DirtyShutdown,
    /// 3: clean shutdown; readable without logs.
    CleanShutdown,
    /// 4: being converted.
    BeingConverted,
    /// 5: force-detached.
    ForceDetach,
    /// Any other value.
    Unknown(u32),
}

impl DbState {
    fn from_u32(v: u32) -> Self {
        match v {
            1 => DbState::JustCreated,
            2 => DbState::DirtyShutdown,
            3 => DbState::CleanShutdown,
            4 => DbState::BeingConverted,
            5 => DbState::ForceDetach,
            other => DbState::Unknown(other),
        }
    }
}

impl std::fmt::Display for DbState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbState::JustCreated => f.write_str("just created"),
            DbState::DirtyShutdown => f.write_str("dirty shutdown"),
            DbState::CleanShutdown => f.write_str("clean shutdown"),
            DbState::BeingConverted => f.write_str("being converted"),
            DbState::ForceDetach => f.write_str("force detach"),
            DbState::Unknown(v) => write!(f, "unknown ({v})"),
        }
    }
}

/// The decoded database header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// File format version (0x620 for all modern files).
    pub format_version: u32,
    /// File format revision (0x11+ allows 16/32 KiB pages and compression).
    pub format_revision: u32,
    /// 0 database, 1 streaming file.
    pub file_type: u32,
    /// Database time at the last header update.
    pub db_time: u64,
    /// Shutdown state.
    pub state: DbState,
    /// Page size in bytes.
    pub page_size: u32,
    /// Highest object id allocated.
    pub last_object_id: u32,
    /// Repair count.
    pub repair_count: u32,
    /// The header (page 0) checksum matched.
    pub checksum_ok: bool,
    /// The values come from the shadow copy because page 0 was damaged.
    pub from_shadow: bool,
}

impl Header {
    /// True for 16/32 KiB pages (80-byte page header, 15-bit tags).
    pub fn large_pages(&self) -> bool {
        self.page_size > 8192
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Decodes a header copy found at `offset` of `source`; `page_size_hint` is
/// how many bytes the checksum covers when the copy is readable.
fn parse_copy<S: Source + ?Sized>(source: &S, offset: u64) -> Result<Header> {
    let name = source.name();
    let prefix = source.read_vec_at(offset, HEADER_PREFIX as u64)?;
    let signature = u32_at(&prefix, 4);
    if signature != SIGNATURE {
        return Err(Error::corrupt(
            name,
            Location::Offset(offset + 4),
            "header signature",
            format!("{signature:#010x}, expected 0x89abcdef"),
        ));
    }
    let page_size = u32_at(&prefix, 236);
    if !matches!(page_size, 2048 | 4096 | 8192 | 16384 | 32768) {
        return Err(Error::corrupt(
            name,
            Location::Offset(offset + 236),
            "page size",
            format!("{page_size} is not 2, 4, 8, 16 or 32 KiB"),
        ));
    }
    let page = source.read_vec_at(offset, u64::from(page_size))?;
    let stored = u32_at(&page, 0);
    let checksum_ok = checksum::old_format(&page) == stored;
    let db_time = u64::from(u32_at(&page, 16)) | (u64::from(u32_at(&page, 20)) << 32);
    Ok(Header {
        format_version: u32_at(&page, 8),
        format_revision: u32_at(&page, 232),
        file_type: u32_at(&page, 12),
        db_time,
        state: DbState::from_u32(u32_at(&page, 52)),
        page_size,
        last_object_id: u32_at(&page, 212),
        repair_count: u32_at(&page, 240),
        checksum_ok,
        from_shadow: false,
    })
}

/// Reads the header: page 0, or its shadow copy when page 0 is unreadable or
/// fails its checksum and the shadow is intact. When both fail their checksum
/// the primary copy is returned with `checksum_ok == false` (best effort:
/// dirty copies of live databases often have a header being rewritten).
pub fn read_header<S: Source + ?Sized>(source: &S) -> Result<Header> {
    let primary = parse_copy(source, 0);
    if let Ok(h) = &primary
        && h.checksum_ok
    {
        return Ok(h.clone());
    }
    // The shadow lives one page further; its page size is its own field
    // when page 0 is unreadable.
    let shadow_offsets: Vec<u64> = match &primary {
        Ok(h) => vec![u64::from(h.page_size)],
        Err(_) => vec![4096, 8192, 16384, 32768, 2048],
    };
    for off in shadow_offsets {
        if let Ok(mut s) = parse_copy(source, off)
            && s.checksum_ok
            && u64::from(s.page_size) == off
        {
            s.from_shadow = true;
            return Ok(s);
        }
    }
    primary
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos_parsers::MemSource;

    fn header_page(page_size: u32, state: u32) -> Vec<u8> {
        let mut p = vec![0u8; page_size as usize];
        p[4..8].copy_from_slice(&SIGNATURE.to_le_bytes());
        p[8..12].copy_from_slice(&0x620u32.to_le_bytes());
        p[52..56].copy_from_slice(&state.to_le_bytes());
        p[232..236].copy_from_slice(&0x14u32.to_le_bytes());
        p[236..240].copy_from_slice(&page_size.to_le_bytes());
        let c = checksum::old_format(&p);
        p[0..4].copy_from_slice(&c.to_le_bytes());
        p
    }

    #[test]
    fn damaged_primary_falls_back_to_shadow() {
        let mut file = header_page(4096, 3);
        file.extend(header_page(4096, 2));
        // damage the primary: its checksum no longer matches
        file[100] ^= 1;
        let h = read_header(&MemSource::new("t.edb", file.clone())).expect("shadow");
        assert!(h.from_shadow && h.checksum_ok);
        assert_eq!(h.state, DbState::DirtyShutdown);
        // destroy the primary's signature: still the shadow
        file[4] = 0;
        let h = read_header(&MemSource::new("t.edb", file)).expect("shadow");
        assert!(h.from_shadow);
    }

    #[test]
    fn no_valid_copy_is_an_error_naming_the_field() {
        let err = read_header(&MemSource::new("x.edb", vec![0u8; 16384])).expect_err("garbage");
        assert!(err.to_string().contains("header signature"), "{err}");
    }
}
