//! Page checksums: the old XOR format and the new XOR+ECC ("XE") format.
//!
//! Ported from the description and reference implementation in
//! `microsoft/Extensible-Storage-Engine` `dev/ese/src/checksum/checksum.cxx`
//! (`ChecksumOldFormatSlowly`) and `checksum_amd64.cxx`
//! (`ChecksumNewFormatBasic`, `MakeChecksumFromECCXORAndPgno`), and
//! `_osu/checksumu.cxx` (`ComputePageChecksum`: how a 16/32 KiB page is split
//! into blocks). Notes: `../shared/docs/formats/ese.md` §9.
//!
//! We verify, we do not correct: a mismatch is reported to the caller, which
//! records the page as damaged and keeps reading ("data as on disk").

/// Seed of the old-format XOR checksum (also the header signature).
const XOR_SEED: u32 = 0x89ab_cdef;

/// Result of checking one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumStatus {
    /// Every stored checksum matches.
    Ok,
    /// A stored checksum differs from the computed one.
    Mismatch {
        /// Block of the page (0 for small pages; 0–3 for 16/32 KiB pages).
        block: u8,
        /// Stored 64-bit value.
        stored: u64,
        /// Computed 64-bit value.
        computed: u64,
    },
}

fn word(data: &[u8], i: usize) -> u32 {
    data.get(i * 4..i * 4 + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn qword(data: &[u8], at: usize) -> u64 {
    data.get(at..at + 8).map_or(0, |b| {
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    })
}

/// Old-format checksum: XOR of every u32 after the first, seeded with
/// 0x89abcdef. Used by the database header (4-byte checksum) and by pages
/// written before format revision 0x0b.
pub fn old_format(data: &[u8]) -> u32 {
    let words = data.len() / 4;
    (1..words).fold(XOR_SEED, |acc, i| acc ^ word(data, i))
}

fn parity_mask(x: u32) -> u32 {
    if x.count_ones() % 2 == 1 { u32::MAX } else { 0 }
}

/// New-format checksum of one block (1–8 KiB): low u32 = XOR of the block's
/// u32 words (the first 8 bytes count as zero in a header block) ^ pgno,
/// high u32 = the ECC that can locate a single flipped bit.
pub fn new_format(block: &[u8], pgno: u32, header_block: bool) -> u64 {
    let cdw = block.len() / 4;
    let start = if header_block { 2 } else { 0 };
    let xor = (start..cdw).fold(0u32, |acc, i| acc ^ word(block, i));

    // ECC, as ChecksumNewFormatBasic: rows of 4 u32 (128 bits); row parity
    // accumulated under a double index, column parities reduced afterwards.
    let mut p: u32 = 0;
    let (mut p0, mut p1, mut p2, mut p3) = (0u32, 0u32, 0u32, 0u32);
    let mut idxp: u32 = 0xff80_0000;
    let mut row = 0;
    while row + 4 <= cdw {
        let mut t = [
            word(block, row),
            word(block, row + 1),
            word(block, row + 2),
            word(block, row + 3),
        ];
        if header_block && row == 0 {
            t[0] = 0;
            t[1] = 0;
        }
        p0 ^= t[0];
        p1 ^= t[1];
        p2 ^= t[2];
        p3 ^= t[3];
        p ^= idxp & parity_mask(t[0] ^ t[1] ^ t[2] ^ t[3]);
        idxp = idxp.wrapping_add(0xff80_0080);
        row += 4;
    }
    p |= 0x0040_0000 & parity_mask(p0 ^ p1);
    p |= 0x0000_0040 & parity_mask(p2 ^ p3);
    let r0 = p0 ^ p2;
    let r1 = p1 ^ p3;
    p |= 0x0020_0000 & parity_mask(r0);
    p |= 0x0000_0020 & parity_mask(r1);
    let r2 = r0 ^ r1;
    let mut r: u32 = 0;
    let mut idxr: u32 = 0xffff_0000;
    let mut bit: u32 = 1;
    while bit != 0 {
        if r2 & bit != 0 {
            r ^= idxr;
        }
        idxr = idxr.wrapping_add(0xffff_0001);
        bit = bit.wrapping_add(bit);
    }
    let mask = ((block.len() as u32) << 19).wrapping_sub(1);
    let ecc = (p & 0xffe0_ffe0 & mask) | (r & 0x001f_001f);
    (u64::from(ecc) << 32) | u64::from(xor ^ pgno)
}

/// Page flag: the page uses the new (XOR+ECC) checksum format.
pub const FLAG_NEW_CHECKSUM: u32 = 0x2000;

/// Verifies a database page (logical number `pgno`). Large pages (16/32 KiB)
/// always use the new format, in blocks of 4 KiB (16 KiB pages) or 8 KiB
/// (32 KiB pages): block 0 at bytes 0..8, blocks 1–3 in the header's
/// `rgChecksum` at 40..64.
pub fn verify_page(data: &[u8], pgno: u32, large: bool, flags: u32) -> ChecksumStatus {
    if large {
        let block = if data.len() <= 16 * 1024 { 4096 } else { 8192 };
        for (i, chunk) in data.chunks(block).enumerate().take(4) {
            let stored = if i == 0 {
                qword(data, 0)
            } else {
                qword(data, 40 + (i - 1) * 8)
            };
            let computed = new_format(chunk, pgno, i == 0);
            if stored != computed {
                return ChecksumStatus::Mismatch {
                    block: i as u8,
                    stored,
                    computed,
                };
            }
        }
        return ChecksumStatus::Ok;
    }
    let stored = qword(data, 0);
    let computed = if flags & FLAG_NEW_CHECKSUM != 0 {
        new_format(data, pgno, true)
    } else {
        // old format: u32 XOR, then the page number
        (u64::from(pgno) << 32) | u64::from(old_format(data))
    };
    if stored == computed {
        ChecksumStatus::Ok
    } else {
        ChecksumStatus::Mismatch {
            block: 0,
            stored,
            computed,
        }
    }
}

/// Writes the new-format checksum(s) of a page in place, as the engine
/// does before a page goes to disk. Writers of ESE files (the test-database
/// generator in `kairos-sample-data`) use this so that one implementation
/// both seals and verifies pages.
///
/// Pages of 8 KiB and less get one checksum at offset 0. 16/32 KiB pages are
/// summed in 4 KiB / 8 KiB blocks; blocks 1–3 get theirs at offsets 40, 48,
/// 56, inside block 0, before block 0 is summed, so block 0's checksum covers
/// them. Pages shorter than 1 KiB or not a power of two are left unchanged.
pub fn seal_page(page: &mut [u8], pgno: u32) {
    let size = page.len();
    if size < 1024 || !size.is_power_of_two() {
        return;
    }
    let store = |page: &mut [u8], at: usize, ck: u64| {
        if let Some(slot) = page.get_mut(at..at + 8) {
            slot.copy_from_slice(&ck.to_le_bytes());
        }
    };
    if size <= 8192 {
        let ck = new_format(page, pgno, true);
        store(page, 0, ck);
        return;
    }
    let block = if size <= 16384 { 4096 } else { 8192 };
    for i in 1..4 {
        let ck = new_format(&page[i * block..(i + 1) * block], pgno, false);
        store(page, 40 + 8 * (i - 1), ck);
    }
    let ck = new_format(&page[..block], pgno, true);
    store(page, 0, ck);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Vec<u8> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/samples/ese")
            .join(name);
        std::fs::read(&p).unwrap_or_else(|e| panic!("sample {}: {e}", p.display()))
    }

    /// The engine-written samples' stored checksums are the independent
    /// oracle: sealing a copy of every used page must reproduce the page,
    /// and the header's stored checksum is `old_format` of the header page.
    fn reproduces_engine_checksums(file: &[u8], page_size: usize) {
        assert_eq!(old_format(&file[..page_size]).to_le_bytes(), file[..4]);
        let mut checked = 0;
        for pgno in 1..(file.len() / page_size - 1) {
            let page = &file[(pgno + 1) * page_size..(pgno + 2) * page_size];
            if page[36..40] == [0; 4] {
                continue; // never-used page
            }
            let pgno = u32::try_from(pgno).expect("page number fits");
            let mut copy = page.to_vec();
            seal_page(&mut copy, pgno);
            assert_eq!(copy, page, "page {pgno}");
            assert_eq!(
                verify_page(page, pgno, page_size > 8192, FLAG_NEW_CHECKSUM),
                ChecksumStatus::Ok
            );
            checked += 1;
        }
        assert!(checked > 20, "only {checked} pages checked");
    }

    #[test]
    fn seal_reproduces_engine_checksums_on_8k_sample() {
        reproduces_engine_checksums(&sample("sfese_decompress_test2.edb"), 8192);
    }

    #[test]
    fn seal_reproduces_engine_checksums_on_32k_sample() {
        let gz = sample("dissect_large.edb.gz");
        let mut f = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut f)
            .expect("gunzip sample");
        reproduces_engine_checksums(&f, 32768);
    }

    #[test]
    fn old_format_is_seeded_xor_of_all_but_the_first_word() {
        let mut page = vec![0u8; 64];
        page[4..8].copy_from_slice(&0x1234_5678u32.to_le_bytes());
        page[60..64].copy_from_slice(&0x0000_00ffu32.to_le_bytes());
        assert_eq!(old_format(&page), 0x89ab_cdef ^ 0x1234_5678 ^ 0xff);
        // the stored checksum itself does not take part
        page[0..4].copy_from_slice(&0xdead_beefu32.to_le_bytes());
        assert_eq!(old_format(&page), 0x89ab_cdef ^ 0x1234_5678 ^ 0xff);
    }

    #[test]
    fn a_single_flipped_bit_changes_the_ecc_and_xor() {
        let page: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let good = new_format(&page, 9, true);
        for bit in [64 * 8, 1000 * 8 + 3, 4095 * 8 + 7] {
            let mut bad = page.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let c = new_format(&bad, 9, true);
            assert_ne!(c as u32, good as u32, "xor part must change for bit {bit}");
            assert_ne!(c >> 32, good >> 32, "ecc part must change for bit {bit}");
        }
        // bytes 0..8 of a header block do not count
        let mut other = page.clone();
        other[3] ^= 0xff;
        assert_eq!(new_format(&other, 9, true), good);
        // the page number is mixed in
        assert_ne!(new_format(&page, 10, true), good);
    }
}
