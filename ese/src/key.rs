//! Normalized keys: the byte strings B+ trees are sorted by, built from
//! column values so a caller can seek a record by its primary key.
//!
//! Notes: `../shared/docs/formats/ese.md` §4; the reference is the MIT
//! engine's `FLDNormalizeFixedSegment` (`dev/ese/src/ese/fldnorm.cxx`,
//! `key.cxx`). Each segment starts with a prefix byte — 0x7F for a value,
//! 0x00 for NULL — followed by the value big-endian; signed integers have
//! their sign bit flipped so bytewise order equals numeric order. A
//! descending segment is the bitwise complement of its ascending form.
//! Concatenated segments form the key; fixed-size segments are
//! self-delimiting, so the key of a leading subset of segments is a byte
//! prefix of every full key that starts with those values.
//!
//! Normalized here: Bit, UnsignedByte, Short, UnsignedShort, Long,
//! UnsignedLong, LongLong, UnsignedLongLong, Currency (checked against the
//! stored keys of real engine-written files, see `tests/seek.rs`). Not yet:
//! floating-point, DateTime, GUID, text (locale-dependent `LCMapString`
//! sort keys) and binary segments — they are reported as not supported.
//! NULL segments use the default "nulls sort low" prefix; indexes created
//! with `JET_bitIndexSortNullsHigh` (index flags are not read yet) and the
//! NULL prefix itself are not checked against engine-written keys (no
//! sample has a NULL key column).

use crate::column::{Column, ColumnType};
use crate::value::Value;

/// Prefix byte of a present value.
const PREFIX_DATA: u8 = 0x7f;
/// Prefix byte of a NULL value (sorting low, the engine's default).
const PREFIX_NULL: u8 = 0x00;

/// One column of an index key, as the catalog's `KeyFldIDs` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct KeySegment {
    /// Column id.
    pub column: u32,
    /// Sorted in descending order (the segment's bytes are complemented).
    pub descending: bool,
}

/// `IDXSEG` flag: the segment sorts descending (engine `daedef.hxx`).
const IDXSEG_DESCENDING: u8 = 0x02;

/// Decodes a `KeyFldIDs` catalog value. Current files store one 4-byte
/// `IDXSEG` per segment (`u8 flags, u8 reserved, u16 column id`); files of
/// format revisions before `IDXSEG` store one signed `i16` column id per
/// segment, negative for descending. `None` when the bytes fit neither.
pub(crate) fn parse_key_fld_ids(bytes: &[u8], new_format: bool) -> Option<Vec<KeySegment>> {
    if bytes.is_empty() {
        return None;
    }
    if new_format {
        if !bytes.len().is_multiple_of(4) {
            return None;
        }
        Some(
            bytes
                .chunks_exact(4)
                .map(|c| KeySegment {
                    column: u32::from(u16::from_le_bytes([c[2], c[3]])),
                    descending: c[0] & IDXSEG_DESCENDING != 0,
                })
                .collect(),
        )
    } else {
        if !bytes.len().is_multiple_of(2) {
            return None;
        }
        Some(
            bytes
                .chunks_exact(2)
                .map(|c| {
                    let id = i16::from_le_bytes([c[0], c[1]]);
                    KeySegment {
                        column: u32::from(id.unsigned_abs()),
                        descending: id < 0,
                    }
                })
                .collect(),
        )
    }
}

/// Why a value cannot be normalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The column type's normalization is not implemented yet.
    #[error("key segments of {0} columns are not supported yet")]
    Unsupported(String),
    /// The value's type does not match the column's.
    #[error("column {column}: a {coltyp} key segment cannot take the value {value}")]
    Mismatch {
        /// Column name.
        column: String,
        /// Column type name.
        coltyp: String,
        /// The offending value (debug form).
        value: String,
    },
}

/// Appends the normalized segment of `value` for `column`.
pub fn push_segment(
    out: &mut Vec<u8>,
    column: &Column,
    descending: bool,
    value: &Value,
) -> Result<(), KeyError> {
    let start = out.len();
    if let Value::Null = value {
        if !is_supported(column.coltyp) {
            return Err(KeyError::Unsupported(column.coltyp.name()));
        }
        out.push(PREFIX_NULL);
    } else {
        let bytes: Vec<u8> = match (column.coltyp, value) {
            (ColumnType::Bit, Value::Bit(b)) => vec![if *b { 0xff } else { 0x00 }],
            (ColumnType::UnsignedByte, Value::UnsignedByte(v)) => vec![*v],
            (ColumnType::Short, Value::Short(v)) => {
                (v.cast_unsigned() ^ 0x8000).to_be_bytes().to_vec()
            }
            (ColumnType::UnsignedShort, Value::UnsignedShort(v)) => v.to_be_bytes().to_vec(),
            (ColumnType::Long, Value::Long(v)) => {
                (v.cast_unsigned() ^ 0x8000_0000).to_be_bytes().to_vec()
            }
            (ColumnType::UnsignedLong, Value::UnsignedLong(v)) => v.to_be_bytes().to_vec(),
            (ColumnType::LongLong, Value::LongLong(v))
            | (ColumnType::Currency, Value::Currency(v)) => {
                (v.cast_unsigned() ^ (1 << 63)).to_be_bytes().to_vec()
            }
            (ColumnType::UnsignedLongLong, Value::UnsignedLongLong(v)) => v.to_be_bytes().to_vec(),
            (t, _) if !is_supported(t) => return Err(KeyError::Unsupported(t.name())),
            (t, v) => {
                return Err(KeyError::Mismatch {
                    column: column.name.clone(),
                    coltyp: t.name(),
                    value: format!("{v:?}"),
                });
            }
        };
        out.push(PREFIX_DATA);
        out.extend_from_slice(&bytes);
    }
    if descending && let Some(seg) = out.get_mut(start..) {
        for b in seg.iter_mut() {
            *b = !*b;
        }
    }
    Ok(())
}

/// `v` as a value of an integer column type, for building keys from
/// integers whose column width varies between applications' schemas;
/// `None` when the type is not an integer type or `v` does not fit.
pub fn int_value(coltyp: ColumnType, v: i64) -> Option<Value> {
    Some(match coltyp {
        ColumnType::UnsignedByte => Value::UnsignedByte(u8::try_from(v).ok()?),
        ColumnType::Short => Value::Short(i16::try_from(v).ok()?),
        ColumnType::UnsignedShort => Value::UnsignedShort(u16::try_from(v).ok()?),
        ColumnType::Long => Value::Long(i32::try_from(v).ok()?),
        ColumnType::UnsignedLong => Value::UnsignedLong(u32::try_from(v).ok()?),
        ColumnType::LongLong => Value::LongLong(v),
        ColumnType::Currency => Value::Currency(v),
        ColumnType::UnsignedLongLong => Value::UnsignedLongLong(u64::try_from(v).ok()?),
        _ => return None,
    })
}

/// Whether [`push_segment`] normalizes values of this column type.
pub fn is_supported(coltyp: ColumnType) -> bool {
    matches!(
        coltyp,
        ColumnType::Bit
            | ColumnType::UnsignedByte
            | ColumnType::Short
            | ColumnType::UnsignedShort
            | ColumnType::Long
            | ColumnType::UnsignedLong
            | ColumnType::LongLong
            | ColumnType::UnsignedLongLong
            | ColumnType::Currency
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(coltyp: ColumnType) -> Column {
        Column {
            id: 1,
            name: "c".into(),
            coltyp,
            space_usage: 0,
            flags: 0,
            codepage: 0,
            record_offset: 0,
            default: None,
            derived: false,
        }
    }

    fn seg(t: ColumnType, descending: bool, v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        push_segment(&mut out, &col(t), descending, v).expect("segment");
        out
    }

    #[test]
    fn integer_segments_sort_like_their_values() {
        let longs = [i32::MIN, -2, -1, 0, 1, 255, 256, i32::MAX];
        for w in longs.windows(2) {
            let (a, b) = (
                seg(ColumnType::Long, false, &Value::Long(w[0])),
                seg(ColumnType::Long, false, &Value::Long(w[1])),
            );
            assert!(a < b, "{} vs {}", w[0], w[1]);
            let (a, b) = (
                seg(ColumnType::Long, true, &Value::Long(w[0])),
                seg(ColumnType::Long, true, &Value::Long(w[1])),
            );
            assert!(a > b, "descending {} vs {}", w[0], w[1]);
        }
        assert!(
            seg(ColumnType::Long, false, &Value::Null)
                < seg(ColumnType::Long, false, &Value::Long(i32::MIN))
        );
    }

    #[test]
    fn unsupported_and_mismatched_values_are_errors() {
        let mut out = Vec::new();
        assert_eq!(
            push_segment(
                &mut out,
                &col(ColumnType::Text),
                false,
                &Value::Text("a".into())
            ),
            Err(KeyError::Unsupported("Text".into()))
        );
        assert!(matches!(
            push_segment(&mut out, &col(ColumnType::Long), false, &Value::Short(1)),
            Err(KeyError::Mismatch { .. })
        ));
    }

    #[test]
    fn int_values_fit_their_column_type() {
        assert_eq!(int_value(ColumnType::Long, 7), Some(Value::Long(7)));
        assert_eq!(int_value(ColumnType::Long, i64::from(i32::MAX) + 1), None);
        assert_eq!(int_value(ColumnType::UnsignedShort, -1), None);
        assert_eq!(
            int_value(ColumnType::LongLong, -1),
            Some(Value::LongLong(-1))
        );
        assert_eq!(int_value(ColumnType::Text, 1), None);
    }

    #[test]
    fn key_fld_ids_both_formats() {
        assert_eq!(
            parse_key_fld_ids(&[0, 0, 1, 0, 2, 0, 0x81, 0], true),
            Some(vec![
                KeySegment {
                    column: 1,
                    descending: false
                },
                KeySegment {
                    column: 0x81,
                    descending: true
                },
            ])
        );
        assert_eq!(
            parse_key_fld_ids(&(-3i16).to_le_bytes(), false),
            Some(vec![KeySegment {
                column: 3,
                descending: true
            }])
        );
        assert_eq!(parse_key_fld_ids(&[1, 2, 3], true), None);
    }
}
