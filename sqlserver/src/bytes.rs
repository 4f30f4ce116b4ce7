//! Bounds-checked little-endian reads from byte slices.
//!
//! Every field of an MDF page is read through these helpers, so a damaged
//! length or offset yields `None` (turned into a `Corrupt` error by the
//! caller) instead of an out-of-bounds panic.

/// `n` bytes at `off`, or `None` when they are not all inside `b`.
pub(crate) fn slice(b: &[u8], off: usize, n: usize) -> Option<&[u8]> {
    b.get(off..off.checked_add(n)?)
}

/// A fixed-size array at `off`.
pub(crate) fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    slice(b, off, N)?.try_into().ok()
}

pub(crate) fn u8_at(b: &[u8], off: usize) -> Option<u8> {
    b.get(off).copied()
}

pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    array(b, off).map(u16::from_le_bytes)
}

pub(crate) fn i16_at(b: &[u8], off: usize) -> Option<i16> {
    array(b, off).map(i16::from_le_bytes)
}

pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    array(b, off).map(u32::from_le_bytes)
}

pub(crate) fn i32_at(b: &[u8], off: usize) -> Option<i32> {
    array(b, off).map(i32::from_le_bytes)
}

pub(crate) fn i64_at(b: &[u8], off: usize) -> Option<i64> {
    array(b, off).map(i64::from_le_bytes)
}

/// Unsigned little-endian integer of 1–8 bytes (time/date fields are 3–5
/// bytes wide).
pub(crate) fn uint_le(b: &[u8]) -> u64 {
    b.iter()
        .take(8)
        .rev()
        .fold(0u64, |acc, &x| (acc << 8) | u64::from(x))
}

/// Decodes UTF-16LE, replacing unpaired surrogates (names and nchar data).
pub(crate) fn utf16le(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_bounds_is_none_not_panic() {
        let b = [1u8, 2, 3];
        assert_eq!(u16_at(&b, 1), Some(0x0302));
        assert_eq!(u16_at(&b, 2), None);
        assert_eq!(u32_at(&b, usize::MAX), None);
        assert_eq!(slice(&b, usize::MAX, 2), None);
        assert_eq!(uint_le(&[0x01, 0x02, 0x03]), 0x0003_0201);
        assert_eq!(utf16le(&[b'A', 0, b'B', 0, 0xFF]), "AB");
    }
}
