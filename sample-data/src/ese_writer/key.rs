//! Normalized keys: the byte strings B+ trees are sorted by (ese.md §4,
//! engine `fldnorm.cxx`). Each key segment starts with 0x7f (data present);
//! integers are big-endian with the sign bit flipped for signed types so
//! that bytewise order equals numeric order.

use super::WriteError;
use super::schema::{ColumnType, Value};

/// Segment prefix byte of a non-NULL value.
const PREFIX_DATA: u8 = 0x7f;
/// Variable binary values are normalized in chunks of 8 bytes, each followed
/// by a count byte (9 = "more follows").
const BINARY_CHUNK: usize = 8;

/// Appends the normalized segment of `value` (of a column of type `coltyp`).
pub(crate) fn push_segment(
    out: &mut Vec<u8>,
    coltyp: ColumnType,
    value: &Value,
    column: &str,
) -> Result<(), WriteError> {
    out.push(PREFIX_DATA);
    match (coltyp, value) {
        (ColumnType::Bit, Value::Bit(b)) => out.push(if *b { 0xff } else { 0x00 }),
        (ColumnType::UnsignedByte, Value::U8(v)) => out.push(*v),
        (ColumnType::Short, Value::I16(v)) => {
            out.extend_from_slice(&((*v as u16) ^ 0x8000).to_be_bytes());
        }
        (ColumnType::UnsignedShort, Value::U16(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (ColumnType::Long, Value::I32(v)) => {
            out.extend_from_slice(&((*v as u32) ^ 0x8000_0000).to_be_bytes());
        }
        (ColumnType::UnsignedLong, Value::U32(v)) => out.extend_from_slice(&v.to_be_bytes()),
        (ColumnType::LongLong | ColumnType::Currency, Value::I64(v)) => {
            out.extend_from_slice(&((*v as u64) ^ (1 << 63)).to_be_bytes());
        }
        (ColumnType::Binary, Value::Bytes(b)) => push_binary(out, b),
        (ColumnType::Text, Value::Text(s)) if s.is_ascii() => {
            // Case-insensitive 8-bit text: upper-cased, NUL-terminated.
            out.extend(s.bytes().map(|c| c.to_ascii_uppercase()));
            out.push(0);
        }
        _ => {
            return Err(WriteError::Schema(format!(
                "column {column}: {coltyp:?} value {value:?} cannot be a key segment \
                 (supported: integers, bit, binary, ASCII text)"
            )));
        }
    }
    Ok(())
}

fn push_binary(out: &mut Vec<u8>, b: &[u8]) {
    if b.is_empty() {
        return;
    }
    let mut chunks = b.chunks(BINARY_CHUNK).peekable();
    while let Some(c) = chunks.next() {
        out.extend_from_slice(c);
        if chunks.peek().is_some() {
            out.push(BINARY_CHUNK as u8 + 1);
        } else {
            out.extend(std::iter::repeat_n(0, BINARY_CHUNK - c.len()));
            out.push(c.len() as u8);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(t: ColumnType, v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        push_segment(&mut out, t, v, "c").expect("segment");
        out
    }

    /// Catalog keys as found on engine-written pages (sfese samples,
    /// MSysObjects page 4 and the Name index page 7).
    #[test]
    fn matches_engine_keys() {
        assert_eq!(seg(ColumnType::Long, &Value::I32(2)), [0x7f, 0x80, 0, 0, 2]);
        assert_eq!(seg(ColumnType::Short, &Value::I16(1)), [0x7f, 0x80, 1]);
        assert_eq!(seg(ColumnType::Bit, &Value::Bit(true)), [0x7f, 0xff]);
        assert_eq!(
            seg(ColumnType::Text, &Value::Text("MSysObjects".into())),
            b"\x7fMSYSOBJECTS\0"
        );
    }

    #[test]
    fn integer_order_is_byte_order() {
        let vals = [-5i64, -1, 0, 1, 7, i64::MAX];
        let keys: Vec<Vec<u8>> = vals
            .iter()
            .map(|v| seg(ColumnType::LongLong, &Value::I64(*v)))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let keys: Vec<Vec<u8>> = [-9i32, 0, 3]
            .iter()
            .map(|v| seg(ColumnType::Long, &Value::I32(*v)))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn binary_chunks() {
        assert_eq!(
            seg(ColumnType::Binary, &Value::Bytes(vec![1, 2, 3])),
            [0x7f, 1, 2, 3, 0, 0, 0, 0, 0, 3]
        );
        let k = seg(ColumnType::Binary, &Value::Bytes((1..=9).collect()));
        assert_eq!(
            k,
            [0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 0, 0, 0, 0, 0, 0, 0, 1]
        );
        let short = seg(ColumnType::Binary, &Value::Bytes(vec![1, 2]));
        let long = seg(ColumnType::Binary, &Value::Bytes(vec![1, 2, 0]));
        assert!(short < long);
    }
}
