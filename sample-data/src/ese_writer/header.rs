//! The database file header (physical page 0) and its shadow copy (page 1),
//! ese.md §1.

use kairos_ese::checksum::old_format;

/// ESE file format version of every modern database.
pub(crate) const FORMAT_VERSION: u32 = 0x620;
/// Format revision 0x14 (Exchange 2013 / AD 2016): large pages with the
/// extended page header and flags in the node's first word are allowed.
pub(crate) const FORMAT_REVISION: u32 = 0x14;
/// "Clean shutdown": the file is consistent without any log.
const STATE_CLEAN_SHUTDOWN: u32 = 3;

/// Values of the header that vary per generated file.
pub(crate) struct HeaderInfo {
    pub page_size: u32,
    /// Database time; must be at least every page's `dbtimeDirtied`.
    pub dbtime: u64,
    /// Random part of the database signature (deterministic from the seed).
    pub signature_random: u32,
    /// Creation / consistent instant as a JET log time
    /// (`sec, min, hour, day, month, year-1900, 0, 0`).
    pub log_time: [u8; 8],
    /// Highest object id in use.
    pub last_objid: u32,
}

/// Builds the header page (checksum included).
pub(crate) fn header_page(info: &HeaderInfo) -> Vec<u8> {
    let mut p = vec![0u8; info.page_size as usize];
    let put32 =
        |p: &mut Vec<u8>, at: usize, v: u32| p[at..at + 4].copy_from_slice(&v.to_le_bytes());
    put32(&mut p, 4, 0x89ab_cdef);
    put32(&mut p, 8, FORMAT_VERSION);
    put32(&mut p, 12, 0); // file type: database
    p[16..24].copy_from_slice(&info.dbtime.to_le_bytes());
    // Database signature: random u32, creation log time, NetBIOS name (empty).
    put32(&mut p, 24, info.signature_random);
    p[28..36].copy_from_slice(&info.log_time);
    put32(&mut p, 52, STATE_CLEAN_SHUTDOWN);
    // Consistent position (generation 1, first sector) and time.
    p[56..64].copy_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
    p[64..72].copy_from_slice(&info.log_time);
    // Attach time/position, detach time/position.
    p[72..80].copy_from_slice(&info.log_time);
    p[80..88].copy_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
    p[88..96].copy_from_slice(&info.log_time);
    p[96..104].copy_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
    // Log signature: same random + time, so a log set would match.
    put32(&mut p, 108, info.signature_random ^ 0x5a5a_5a5a);
    p[112..120].copy_from_slice(&info.log_time);
    put32(&mut p, 212, info.last_objid);
    // Windows 10.0 build 14393 (Server 2016) updated the indexes last.
    put32(&mut p, 216, 10);
    put32(&mut p, 220, 0);
    put32(&mut p, 224, 14393);
    put32(&mut p, 228, 0);
    put32(&mut p, 232, FORMAT_REVISION);
    put32(&mut p, 236, info.page_size);
    put32(&mut p, 340, FORMAT_VERSION);
    put32(&mut p, 344, FORMAT_REVISION);
    let ck = old_format(&p);
    put32(&mut p, 0, ck);
    p
}
