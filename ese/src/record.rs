//! The record format: fixed, variable and tagged columns.
//!
//! Notes: `../shared/docs/formats/ese.md` §6 (MS engine `rec.hxx` RECHDR,
//! `tagfld.hxx` TAGFLD / TAGFLD_HEADER / MULTIVALUES). This module finds where
//! a column's bytes are; [`crate::database`] turns them into values (long
//! values, decompression, types).

use crate::column::{Column, Storage};

/// `TAGFLD_HEADER` bits (first byte of a tagged value that has one).
pub mod tagfld {
    /// Column is a long-value type.
    pub const LONG_VALUE: u8 = 0x01;
    /// Value is compressed.
    pub const COMPRESSED: u8 = 0x02;
    /// Value is a LID into the long-value tree.
    pub const SEPARATED: u8 = 0x04;
    /// Multi-valued, offset table follows.
    pub const MULTI_VALUES: u8 = 0x08;
    /// Exactly two values: `u8 len(first)`, first, second.
    pub const TWO_VALUES: u8 = 0x10;
    /// Explicit NULL (16/32 KiB pages).
    pub const NULL: u8 = 0x20;
    /// Encrypted long value.
    pub const ENCRYPTED: u8 = 0x40;
}

/// Where a column's value is found in one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue<'a> {
    /// The record does not hold the column: use the catalog default.
    Absent,
    /// Explicitly NULL.
    Null,
    /// Fixed or variable column bytes.
    Plain(&'a [u8]),
    /// Tagged column: `TAGFLD_HEADER` (0 when there is none) and the bytes
    /// after it.
    Tagged {
        /// Header flags.
        header: u8,
        /// Value bytes.
        bytes: &'a [u8],
    },
    /// The record's structure is broken where this column should be.
    Broken(String),
}

/// A parsed record header plus the positions of its areas.
pub struct RecordLayout<'a> {
    data: &'a [u8],
    large: bool,
    fixed_last: usize,
    var_last: usize,
    end_fixed: usize,
    var_data_start: usize,
    tagged_start: usize,
    tagged_count: usize,
    /// Tagged entries use the pre-revision-9 format (not decoded).
    old_tagged: bool,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

impl<'a> RecordLayout<'a> {
    /// Parses the record header. `new_format` is the page's
    /// "new record format" flag; `large` is true for 16/32 KiB pages.
    pub fn parse(data: &'a [u8], large: bool, new_format: bool) -> Result<Self, String> {
        if data.len() < 4 {
            return Err(format!("record of {} bytes has no header", data.len()));
        }
        let fixed_last = usize::from(data[0]);
        let var_last = usize::from(data[1]);
        let end_fixed = usize::from(u16_at(data, 2).unwrap_or(0));
        if end_fixed < 4 || end_fixed > data.len() {
            return Err(format!(
                "end of fixed data {end_fixed} outside record of {} bytes",
                data.len()
            ));
        }
        let var_count = var_last.saturating_sub(127);
        let var_data_start = end_fixed + 2 * var_count;
        if var_data_start > data.len() {
            return Err(format!(
                "{var_count} variable offsets do not fit in record of {} bytes",
                data.len()
            ));
        }
        let var_len = if var_count > 0 {
            usize::from(u16_at(data, var_data_start - 2).unwrap_or(0) & 0x7fff)
        } else {
            0
        };
        let tagged_start = var_data_start + var_len;
        if tagged_start > data.len() {
            return Err(format!(
                "variable data ends at {tagged_start}, past record of {} bytes",
                data.len()
            ));
        }
        let mut layout = RecordLayout {
            data,
            large,
            fixed_last,
            var_last,
            end_fixed,
            var_data_start,
            tagged_start,
            tagged_count: 0,
            old_tagged: !new_format,
        };
        if tagged_start + 4 <= data.len() && new_format {
            let first_ib =
                usize::from(u16_at(data, tagged_start + 2).unwrap_or(0) & layout.ib_mask());
            layout.tagged_count = (first_ib / 4).min((data.len() - tagged_start) / 4);
        }
        Ok(layout)
    }

    fn ib_mask(&self) -> u16 {
        if self.large { 0x7fff } else { 0x1fff }
    }

    /// Column ids of the tagged entries present, with their derived flag.
    pub fn tagged_ids(&self) -> impl Iterator<Item = (u32, bool)> + '_ {
        (0..self.tagged_count).filter_map(|i| {
            let at = self.tagged_start + 4 * i;
            let fid = u16_at(self.data, at)?;
            let ib = u16_at(self.data, at + 2)?;
            Some((u32::from(fid), ib & 0x8000 != 0))
        })
    }

    /// Locates `column` in the record.
    pub fn raw(&self, column: &Column) -> RawValue<'a> {
        match column.storage() {
            Storage::Fixed => self.fixed(column),
            Storage::Variable => self.variable(column),
            Storage::Tagged => self.tagged(column),
        }
    }

    fn fixed(&self, column: &Column) -> RawValue<'a> {
        let id = column.id as usize;
        if id == 0 || id > self.fixed_last {
            return RawValue::Absent;
        }
        let bitmap_len = self.fixed_last.div_ceil(8);
        let Some(bitmap_at) = self.end_fixed.checked_sub(bitmap_len) else {
            return RawValue::Broken("null bitmap before record start".into());
        };
        let bit = id - 1;
        match self.data.get(bitmap_at + bit / 8) {
            Some(b) if b & (1 << (bit % 8)) != 0 => return RawValue::Null,
            Some(_) => {}
            None => return RawValue::Broken("null bitmap outside record".into()),
        }
        let at = column.record_offset as usize;
        let len = column.fixed_len();
        match self.data.get(at..at + len) {
            Some(b) if at >= 4 && at + len <= bitmap_at => RawValue::Plain(b),
            _ => RawValue::Broken(format!(
                "fixed column {} at {at}+{len} outside the fixed area (ends {bitmap_at})",
                column.id
            )),
        }
    }

    fn variable(&self, column: &Column) -> RawValue<'a> {
        let id = column.id as usize;
        if id > self.var_last {
            return RawValue::Absent;
        }
        let idx = id - 128;
        let end_raw = u16_at(self.data, self.end_fixed + 2 * idx).unwrap_or(0);
        if end_raw & 0x8000 != 0 {
            return RawValue::Null;
        }
        let start = if idx == 0 {
            0
        } else {
            usize::from(u16_at(self.data, self.end_fixed + 2 * (idx - 1)).unwrap_or(0) & 0x7fff)
        };
        let end = usize::from(end_raw & 0x7fff);
        match self
            .data
            .get(self.var_data_start + start..self.var_data_start + end)
        {
            Some(b) if start <= end => RawValue::Plain(b),
            _ => RawValue::Broken(format!(
                "variable column {} at {start}..{end} outside the record",
                column.id
            )),
        }
    }

    fn tagged(&self, column: &Column) -> RawValue<'a> {
        if self.old_tagged {
            return RawValue::Broken(
                "tagged columns in the pre-revision-9 record format are not supported yet".into(),
            );
        }
        let mask = self.ib_mask();
        // Entries are sorted with derived (template) columns first, then by
        // column id (engine `TAGFLD::CmpTagfld2`): binary search, so a row of
        // a table with thousands of tagged columns is not scanned per column.
        let entry = |i: usize| -> Option<(u16, u16)> {
            let at = self.tagged_start + 4 * i;
            Some((u16_at(self.data, at)?, u16_at(self.data, at + 2)?))
        };
        let sort_key = |fid: u32, derived: bool| (u32::from(!derived) << 16) | fid;
        let want = sort_key(column.id, column.derived);
        let (mut lo, mut hi) = (0, self.tagged_count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let k = entry(mid).map_or(u32::MAX, |(f, ib)| sort_key(u32::from(f), ib & 0x8000 != 0));
            if k < want {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        if let Some(i) = Some(lo).filter(|&i| i < self.tagged_count) {
            let Some((fid, ib_raw)) = entry(i) else {
                return RawValue::Absent;
            };
            if sort_key(u32::from(fid), ib_raw & 0x8000 != 0) != want {
                return RawValue::Absent;
            }
            let start = usize::from(ib_raw & mask);
            let end = if i + 1 < self.tagged_count {
                entry(i + 1).map_or(0, |(_, ib)| usize::from(ib & mask))
            } else {
                self.data.len() - self.tagged_start
            };
            let Some(bytes) = self
                .data
                .get(self.tagged_start + start..self.tagged_start + end)
                .filter(|_| start <= end)
            else {
                return RawValue::Broken(format!(
                    "tagged column {} at {start}..{end} outside the record",
                    column.id
                ));
            };
            if !self.large {
                if ib_raw & 0x2000 != 0 {
                    return RawValue::Null;
                }
                if ib_raw & 0x4000 == 0 {
                    return RawValue::Tagged { header: 0, bytes };
                }
            }
            let Some((&header, rest)) = bytes.split_first() else {
                return RawValue::Broken(format!("tagged column {} has no header byte", column.id));
            };
            if header & tagfld::NULL != 0 {
                return RawValue::Null;
            }
            return RawValue::Tagged {
                header,
                bytes: rest,
            };
        }
        RawValue::Absent
    }
}

/// One element of a multi-valued column: inline bytes or a LID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiElement<'a> {
    /// Stored in the record.
    Inline(&'a [u8]),
    /// Separated into the long-value tree.
    Separated(&'a [u8]),
}

/// Splits a multi-valued body (`TWO_VALUES` or the offset-table form).
pub fn split_multi(header: u8, bytes: &[u8]) -> Result<Vec<MultiElement<'_>>, String> {
    if header & tagfld::TWO_VALUES != 0 {
        let first_len = usize::from(*bytes.first().ok_or("empty two-value body")?);
        let first = bytes
            .get(1..1 + first_len)
            .ok_or("two-value first element outside the value")?;
        let second = &bytes[1 + first_len..];
        return Ok(vec![
            MultiElement::Inline(first),
            MultiElement::Inline(second),
        ]);
    }
    let first = usize::from(u16_at(bytes, 0).ok_or("multi-value body without offsets")? & 0x7fff);
    let count = first / 2;
    if count == 0 || first > bytes.len() {
        return Err(format!(
            "multi-value offset table of {first} bytes is invalid"
        ));
    }
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let raw = u16_at(bytes, 2 * i).unwrap_or(0);
        let start = usize::from(raw & 0x7fff);
        let end = if i + 1 < count {
            usize::from(u16_at(bytes, 2 * (i + 1)).unwrap_or(0) & 0x7fff)
        } else {
            bytes.len()
        };
        let b = bytes
            .get(start..end)
            .filter(|_| start <= end)
            .ok_or_else(|| {
                format!("multi-value element {i} at {start}..{end} outside the value")
            })?;
        out.push(if raw & 0x8000 != 0 {
            MultiElement::Separated(b)
        } else {
            MultiElement::Inline(b)
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::ColumnType;

    fn col(id: u32, coltyp: ColumnType, record_offset: u32) -> Column {
        Column {
            id,
            name: format!("c{id}"),
            coltyp,
            space_usage: 0,
            flags: 0,
            codepage: 1252,
            record_offset,
            default: None,
            derived: false,
        }
    }

    #[test]
    fn fixed_variable_and_tagged_areas() {
        // fixed: col1 Long at 4, col2 Short at 8 (NULL); bitmap 1 byte at 10
        // variable: col128 "ab", col129 NULL; tagged: col256 "xyz" (no header)
        let mut r = vec![2u8, 129, 11, 0];
        r.extend(7i32.to_le_bytes());
        r.extend([0, 0]);
        r.push(0b10); // col2 null
        r.extend(2u16.to_le_bytes());
        r.extend((2u16 | 0x8000).to_le_bytes());
        r.extend(b"ab");
        r.extend(256u16.to_le_bytes());
        r.extend(4u16.to_le_bytes());
        r.extend(b"xyz");
        let l = RecordLayout::parse(&r, false, true).expect("layout");
        assert_eq!(
            l.raw(&col(1, ColumnType::Long, 4)),
            RawValue::Plain(&7i32.to_le_bytes())
        );
        assert_eq!(l.raw(&col(2, ColumnType::Short, 8)), RawValue::Null);
        assert_eq!(l.raw(&col(3, ColumnType::Short, 10)), RawValue::Absent);
        assert_eq!(
            l.raw(&col(128, ColumnType::Binary, 0)),
            RawValue::Plain(b"ab")
        );
        assert_eq!(l.raw(&col(129, ColumnType::Binary, 0)), RawValue::Null);
        assert_eq!(l.raw(&col(130, ColumnType::Binary, 0)), RawValue::Absent);
        assert_eq!(
            l.raw(&col(256, ColumnType::LongBinary, 0)),
            RawValue::Tagged {
                header: 0,
                bytes: b"xyz"
            }
        );
        assert_eq!(
            l.raw(&col(257, ColumnType::LongBinary, 0)),
            RawValue::Absent
        );
    }

    proptest::proptest! {
        /// Any bytes, any column: locating a value never panics and never
        /// returns bytes outside the record.
        #[test]
        fn arbitrary_records_never_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
            large: bool,
            id in 1u32..400,
        ) {
            if let Ok(l) = RecordLayout::parse(&data, large, true) {
                let mut c = col(id, ColumnType::LongBinary, 4 + id % 50);
                c.space_usage = 8;
                for derived in [false, true] {
                    c.derived = derived;
                    if let RawValue::Plain(b) | RawValue::Tagged { bytes: b, .. } = l.raw(&c) {
                        proptest::prop_assert!(b.len() <= data.len());
                    }
                }
                let _ = l.tagged_ids().count();
            }
            let _ = split_multi(tagfld::MULTI_VALUES, &data);
            let _ = split_multi(tagfld::TWO_VALUES, &data);
        }
    }

    #[test]
    fn multi_values() {
        let body = [4u8, 0, 6, 0x80, b'a', b'b', 1, 2, 3, 4];
        let v = split_multi(tagfld::MULTI_VALUES, &body).expect("mv");
        assert_eq!(
            v,
            vec![
                MultiElement::Inline(b"ab"),
                MultiElement::Separated(&[1, 2, 3, 4])
            ]
        );
        let two = [1u8, b'x', b'y', b'z'];
        let v = split_multi(tagfld::TWO_VALUES, &two).expect("two");
        assert_eq!(
            v,
            vec![MultiElement::Inline(b"x"), MultiElement::Inline(b"yz")]
        );
        assert!(split_multi(tagfld::MULTI_VALUES, &[200, 0]).is_err());
    }
}
