//! FixedVar records: status bits, fixed part, null bitmap, variable-length
//! column offsets (format notes §4). Decoding of column *values* is in
//! `row`; this module only splits a record into its parts.

use crate::bytes::{u8_at, u16_at};
use crate::page::Rid;

/// Status A bits 1–3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordType {
    /// A live data row.
    Primary,
    /// A row moved off its home page (reached through a forwarding stub).
    Forwarded,
    /// The 9-byte stub left at the home RID of a forwarded row.
    ForwardingStub,
    /// An index record.
    Index,
    /// A LOB fragment (text-mix/text-tree pages).
    BlobFragment,
    /// A deleted index record not yet cleaned up.
    GhostIndex,
    /// A deleted data row not yet cleaned up.
    GhostData,
    /// A deleted row version.
    GhostVersion,
}

impl RecordType {
    fn from_status(a: u8) -> Self {
        match (a >> 1) & 7 {
            0 => RecordType::Primary,
            1 => RecordType::Forwarded,
            2 => RecordType::ForwardingStub,
            3 => RecordType::Index,
            4 => RecordType::BlobFragment,
            5 => RecordType::GhostIndex,
            6 => RecordType::GhostData,
            _ => RecordType::GhostVersion,
        }
    }
}

const HAS_NULL_BITMAP: u8 = 0x10;
const HAS_VAR_COLUMNS: u8 = 0x20;
const HAS_VERSION_TAG: u8 = 0x40;
/// Status A bit 0 marks a compressed ("CD" format) record (notes §7).
const CD_FORMAT: u8 = 0x01;
/// Bit of a variable column's end offset marking a complex (off-row) value.
const COMPLEX: u16 = 0x8000;
/// Length of the row-versioning tag appended to versioned records.
const VERSION_TAG_LEN: usize = 14;

/// A record split into its parts. Borrowed from the page.
#[derive(Debug, Clone)]
pub struct Record<'a> {
    bytes: &'a [u8],
    kind: RecordType,
    status_a: u8,
    fixed_end: usize,
    column_count: u16,
    null_bitmap: &'a [u8],
    var_ends: Vec<u16>,
    var_data_start: usize,
    len: usize,
}

impl<'a> Record<'a> {
    /// Splits the record starting at `bytes[0]` (`bytes` runs to the slot
    /// array). Errors describe the field that does not fit.
    pub fn parse(bytes: &'a [u8]) -> Result<Record<'a>, String> {
        let status_a = u8_at(bytes, 0).ok_or("record is empty")?;
        if status_a & CD_FORMAT != 0 {
            return Err("compressed (CD format) record".into());
        }
        let kind = RecordType::from_status(status_a);
        if kind == RecordType::ForwardingStub {
            if bytes.len() < 9 {
                return Err("forwarding stub shorter than 9 bytes".into());
            }
            return Ok(Record {
                bytes,
                kind,
                status_a,
                fixed_end: 9,
                column_count: 0,
                null_bitmap: &[],
                var_ends: Vec::new(),
                var_data_start: 9,
                len: 9,
            });
        }
        let fixed_end = usize::from(u16_at(bytes, 2).ok_or("record header cut short")?);
        if fixed_end < 4 || fixed_end > bytes.len() {
            return Err(format!(
                "fixed-length end {fixed_end} is outside the record"
            ));
        }
        let mut pos = fixed_end;
        let mut column_count = 0;
        let mut null_bitmap: &[u8] = &[];
        if status_a & HAS_NULL_BITMAP != 0 {
            column_count = u16_at(bytes, pos).ok_or("column count past the record end")?;
            pos += 2;
            let n = usize::from(column_count).div_ceil(8);
            null_bitmap = bytes
                .get(pos..pos + n)
                .ok_or("null bitmap past the record end")?;
            pos += n;
        }
        let mut var_ends = Vec::new();
        let mut len = pos;
        if status_a & HAS_VAR_COLUMNS != 0 {
            let count =
                usize::from(u16_at(bytes, pos).ok_or("variable column count past the record end")?);
            pos += 2;
            var_ends.reserve(count.min(bytes.len() / 2));
            for i in 0..count {
                let end = u16_at(bytes, pos + 2 * i)
                    .ok_or("variable column offsets past the record end")?;
                var_ends.push(end);
            }
            pos += 2 * count;
            let mut start = pos;
            for (i, &raw) in var_ends.iter().enumerate() {
                let end = usize::from(raw & !COMPLEX);
                if end < start || end > bytes.len() {
                    return Err(format!(
                        "variable column {i} ends at {end}, outside {start}..{}",
                        bytes.len()
                    ));
                }
                start = end;
            }
            len = start;
        }
        let var_data_start = pos;
        if status_a & HAS_VERSION_TAG != 0 {
            len += VERSION_TAG_LEN;
        }
        Ok(Record {
            bytes,
            kind,
            status_a,
            fixed_end,
            column_count,
            null_bitmap,
            var_ends,
            var_data_start,
            len: len.min(bytes.len()),
        })
    }

    /// The record type.
    pub fn kind(&self) -> RecordType {
        self.kind
    }

    /// Length of the whole record in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a record of no bytes (never produced by `parse`).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The record's bytes, from the status byte to its last byte.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes.get(..self.len).unwrap_or(self.bytes)
    }

    /// End of the fixed part (4 + fixed data length).
    pub fn fixed_end(&self) -> usize {
        self.fixed_end
    }

    /// `n` bytes of the fixed part at record offset `off`, if inside it.
    pub fn fixed(&self, off: usize, n: usize) -> Option<&'a [u8]> {
        let end = off.checked_add(n)?;
        if off < 4 || end > self.fixed_end {
            return None;
        }
        self.bytes.get(off..end)
    }

    /// Number of columns the record was written with (null bitmap width).
    pub fn column_count(&self) -> u16 {
        self.column_count
    }

    /// Whether the record carries a null bitmap.
    pub fn has_null_bitmap(&self) -> bool {
        self.status_a & HAS_NULL_BITMAP != 0
    }

    /// Null-bitmap bit `index` (0-based); `None` when the record has no
    /// bitmap or was written with fewer columns.
    pub fn is_null(&self, index: usize) -> Option<bool> {
        if !self.has_null_bitmap() || index >= usize::from(self.column_count) {
            return None;
        }
        let byte = self.null_bitmap.get(index / 8)?;
        Some(byte & (1 << (index % 8)) != 0)
    }

    /// Number of variable-length columns stored.
    pub fn var_count(&self) -> usize {
        self.var_ends.len()
    }

    /// Variable column `index` (0-based): its bytes and whether it is
    /// complex (an off-row pointer); `None` when not stored.
    pub fn var(&self, index: usize) -> Option<(&'a [u8], bool)> {
        let raw = *self.var_ends.get(index)?;
        let start = if index == 0 {
            self.var_data_start
        } else {
            usize::from(*self.var_ends.get(index - 1)? & !COMPLEX)
        };
        let end = usize::from(raw & !COMPLEX);
        Some((self.bytes.get(start..end)?, raw & COMPLEX != 0))
    }

    /// For a forwarding stub: the RID of the real row.
    pub fn forwarded_to(&self) -> Option<Rid> {
        if self.kind != RecordType::ForwardingStub {
            return None;
        }
        Rid::parse(self.bytes, 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a record: int fixed column, 2 columns, one var column "ab".
    fn sample() -> Vec<u8> {
        let mut r = vec![0x30, 0x00, 0x08, 0x00];
        r.extend_from_slice(&42i32.to_le_bytes());
        r.extend_from_slice(&2u16.to_le_bytes()); // column count
        r.push(0b0000_0000); // null bitmap
        r.extend_from_slice(&1u16.to_le_bytes()); // var count
        let end = (r.len() + 2 + 2) as u16;
        r.extend_from_slice(&end.to_le_bytes());
        r.extend_from_slice(b"ab");
        r
    }

    #[test]
    fn splits_fixed_bitmap_and_var_parts() {
        let mut b = sample();
        let len = b.len();
        b.extend_from_slice(&[0xEE; 10]); // bytes of the next record
        let r = Record::parse(&b).expect("record");
        assert_eq!(r.kind(), RecordType::Primary);
        assert_eq!(r.len(), len);
        assert_eq!(r.fixed(4, 4), Some(&42i32.to_le_bytes()[..]));
        assert_eq!(r.fixed(6, 4), None);
        assert_eq!(r.column_count(), 2);
        assert_eq!(r.is_null(1), Some(false));
        assert_eq!(r.is_null(2), None);
        assert_eq!(r.var(0), Some((&b"ab"[..], false)));
        assert_eq!(r.var(1), None);
    }

    proptest::proptest! {
        /// Any bytes split into parts stay inside the record.
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Ok(r) = Record::parse(&b) {
                proptest::prop_assert!(r.len() <= b.len());
                for i in 0..r.var_count() + 2 {
                    let _ = r.var(i);
                }
                for i in 0..usize::from(r.column_count()) + 2 {
                    let _ = r.is_null(i);
                }
                let _ = r.fixed(4, 8);
            }
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let b = sample();
        for cut in 0..b.len() {
            let _ = Record::parse(&b[..cut]);
        }
        let mut bad = sample();
        let n = bad.len();
        bad[n - 4] = 0xFF; // var end offset far past the record
        assert!(Record::parse(&bad).is_err());
        let mut cd = sample();
        cd[0] |= 0x01; // ROW/PAGE compressed "CD" record
        assert_eq!(
            Record::parse(&cd).err().as_deref(),
            Some("compressed (CD format) record")
        );
    }
}
