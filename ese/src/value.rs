//! Typed column values and how raw bytes become them.
//!
//! One [`Value`] variant per ESE column type, plus `Multi` for multi-valued
//! columns and `Unreadable` for a cell whose bytes cannot be decoded (the rest
//! of the row is still returned). Text is decoded from the column's code page
//! (`../shared/docs/formats/ese.md` §10).

use std::fmt::Write as _;

use crate::column::{Column, ColumnType};

/// A decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value.
    Null,
    /// Bit.
    Bit(bool),
    /// UnsignedByte.
    UnsignedByte(u8),
    /// Short.
    Short(i16),
    /// Long.
    Long(i32),
    /// Currency (raw i64).
    Currency(i64),
    /// IEEESingle.
    IeeeSingle(f32),
    /// IEEEDouble.
    IeeeDouble(f64),
    /// DateTime: OLE Automation date (days since 1899-12-30).
    DateTime(f64),
    /// Binary and LongBinary (and types read as binary).
    Binary(Vec<u8>),
    /// Text and LongText, decoded.
    Text(String),
    /// UnsignedLong.
    UnsignedLong(u32),
    /// LongLong.
    LongLong(i64),
    /// GUID, 16 bytes as stored (Windows byte order).
    Guid([u8; 16]),
    /// UnsignedShort.
    UnsignedShort(u16),
    /// UnsignedLongLong.
    UnsignedLongLong(u64),
    /// Multi-valued column: each element decoded.
    Multi(Vec<Value>),
    /// The bytes exist but cannot be decoded (reason given).
    Unreadable(String),
}

fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    b.get(..N).and_then(|s| s.try_into().ok())
}

/// Decodes text bytes in `codepage` (1200 UTF-16LE, 65001 UTF-8, anything
/// else Windows-1252, a superset of 20127 ASCII). Trailing NULs are dropped:
/// applications store C strings with their terminator, and a fixed-size
/// column is padded. A UTF-16 value of odd length (a fixed column of 255
/// bytes) keeps its last byte as the low half of a final unit, as the
/// engine wrote it.
pub fn decode_text(bytes: &[u8], codepage: u32) -> String {
    let mut text = match codepage {
        1200 => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_le_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        65001 => String::from_utf8_lossy(bytes).into_owned(),
        _ => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    };
    let kept = text.trim_end_matches('\0').len();
    text.truncate(kept);
    text
}

impl Value {
    /// Decodes one stored value of `column` (already decompressed and with
    /// long values fetched).
    pub fn from_bytes(column: &Column, b: &[u8]) -> Value {
        let ty = column.coltyp;
        if let Some(size) = ty.fixed_size()
            && b.len() < size
        {
            return Value::Unreadable(format!(
                "{} value of {} bytes, expected {size}",
                ty.name(),
                b.len()
            ));
        }
        let v = match ty {
            ColumnType::Bit => b.first().map(|&x| Value::Bit(x != 0)),
            ColumnType::UnsignedByte => b.first().map(|&x| Value::UnsignedByte(x)),
            ColumnType::Short => arr(b).map(|a| Value::Short(i16::from_le_bytes(a))),
            ColumnType::Long => arr(b).map(|a| Value::Long(i32::from_le_bytes(a))),
            ColumnType::Currency => arr(b).map(|a| Value::Currency(i64::from_le_bytes(a))),
            ColumnType::IeeeSingle => arr(b).map(|a| Value::IeeeSingle(f32::from_le_bytes(a))),
            ColumnType::IeeeDouble => arr(b).map(|a| Value::IeeeDouble(f64::from_le_bytes(a))),
            ColumnType::DateTime => arr(b).map(|a| Value::DateTime(f64::from_le_bytes(a))),
            ColumnType::UnsignedLong => arr(b).map(|a| Value::UnsignedLong(u32::from_le_bytes(a))),
            ColumnType::LongLong => arr(b).map(|a| Value::LongLong(i64::from_le_bytes(a))),
            ColumnType::Guid => arr(b).map(Value::Guid),
            ColumnType::UnsignedShort => {
                arr(b).map(|a| Value::UnsignedShort(u16::from_le_bytes(a)))
            }
            ColumnType::UnsignedLongLong => {
                arr(b).map(|a| Value::UnsignedLongLong(u64::from_le_bytes(a)))
            }
            ColumnType::Text | ColumnType::LongText => {
                Some(Value::Text(decode_text(b, column.codepage)))
            }
            ColumnType::Binary
            | ColumnType::LongBinary
            | ColumnType::Slv
            | ColumnType::Nil
            | ColumnType::Unknown(_) => Some(Value::Binary(b.to_vec())),
        };
        v.unwrap_or_else(|| Value::Unreadable(format!("empty {} value", ty.name())))
    }

    /// True for `Null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Human text for TSV output: NULL is empty; text is escaped (`\t`,
    /// `\n`, `\r`, `\\`) so one row stays one line; binary is lowercase hex;
    /// GUIDs in registry form; DateTime in ISO 8601 (UTC, no zone);
    /// multi-values joined with `; `.
    pub fn to_text(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Bit(v) => v.to_string(),
            Value::UnsignedByte(v) => v.to_string(),
            Value::Short(v) => v.to_string(),
            Value::Long(v) => v.to_string(),
            Value::Currency(v) | Value::LongLong(v) => v.to_string(),
            Value::IeeeSingle(v) => v.to_string(),
            Value::IeeeDouble(v) => v.to_string(),
            Value::DateTime(v) => datetime_to_iso(*v).unwrap_or_else(|| v.to_string()),
            Value::Binary(b) => hex(b),
            Value::Text(s) => escape(s),
            Value::UnsignedLong(v) => v.to_string(),
            Value::Guid(g) => guid_string(g),
            Value::UnsignedShort(v) => v.to_string(),
            Value::UnsignedLongLong(v) => v.to_string(),
            Value::Multi(vs) => vs.iter().map(Value::to_text).collect::<Vec<_>>().join("; "),
            Value::Unreadable(why) => format!("<unreadable: {}>", escape(why)),
        }
    }

    /// JSON for JSONL output: numbers as numbers (non-finite floats as
    /// strings), binary as `0x` + uppercase hex, GUIDs and dates as strings,
    /// multi-values as arrays, NULL as null.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        let float = |f: f64| {
            serde_json::Number::from_f64(f).map_or_else(|| J::String(f.to_string()), J::Number)
        };
        match self {
            Value::Null => J::Null,
            Value::Bit(v) => J::Bool(*v),
            Value::UnsignedByte(v) => J::from(*v),
            Value::Short(v) => J::from(*v),
            Value::Long(v) => J::from(*v),
            Value::Currency(v) | Value::LongLong(v) => J::from(*v),
            Value::IeeeSingle(v) => float(f64::from(*v)),
            Value::IeeeDouble(v) => float(*v),
            Value::DateTime(v) => ole_date_to_iso(*v).map_or_else(|| float(*v), J::String),
            Value::Binary(b) => J::String(format!("0x{}", hex(b).to_uppercase())),
            Value::Text(s) => J::String(s.clone()),
            Value::UnsignedLong(v) => J::from(*v),
            Value::Guid(g) => J::String(guid_string(g)),
            Value::UnsignedShort(v) => J::from(*v),
            Value::UnsignedLongLong(v) => J::from(*v),
            Value::Multi(vs) => J::Array(vs.iter().map(Value::to_json).collect()),
            Value::Unreadable(why) => {
                serde_json::json!({ "unreadable": why })
            }
        }
    }
}

/// Lowercase hex.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02x}");
    }
    s
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out
}

/// Registry form of a Windows GUID (`data1-data2-data3-data4`), lowercase.
pub fn guid_string(g: &[u8; 16]) -> String {
    let d1 = u32::from_le_bytes([g[0], g[1], g[2], g[3]]);
    let d2 = u16::from_le_bytes([g[4], g[5]]);
    let d3 = u16::from_le_bytes([g[6], g[7]]);
    format!(
        "{d1:08x}-{d2:04x}-{d3:04x}-{}-{}",
        hex(&g[8..10]),
        hex(&g[10..16])
    )
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A DateTime column value as ISO 8601 (milliseconds, UTC, no zone).
///
/// The engine defines DateTime as an OLE Automation date (a double), but
/// some applications (User Access Logging) store a Windows FILETIME in the
/// same 8 bytes. A FILETIME read as a double is a vanishingly small positive
/// number (its high bits are the exponent 0x01d…), never a real OLE date, so:
/// when the double is non-zero but smaller than 1e-10 days and the bytes read
/// as a FILETIME fall within 1601..=9999, the FILETIME reading is used.
pub fn datetime_to_iso(days: f64) -> Option<String> {
    if days != 0.0 && days.abs() < 1e-10 {
        return filetime_to_iso(days.to_bits());
    }
    ole_date_to_iso(days)
}

/// A Windows FILETIME (100 ns ticks since 1601-01-01 UTC) as ISO 8601 with
/// milliseconds.
pub fn filetime_to_iso(ticks: u64) -> Option<String> {
    // 1601-01-01 is 134774 days before 1970-01-01.
    let ms = i64::try_from(ticks / 10_000).ok()? - 11_644_473_600_000;
    if ms > 253_402_300_799_999 {
        return None;
    }
    Some(iso_from_unix_ms(ms))
}

fn iso_from_unix_ms(ms: i64) -> String {
    let day = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (year, month, mday) = civil_from_days(day);
    let (hour, minute, second, milli) = (
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000,
    );
    format!("{year:04}-{month:02}-{mday:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}")
}

/// An OLE Automation date as ISO 8601 with milliseconds, or `None` when it
/// is not a finite date within years 100..=9999.
pub fn ole_date_to_iso(days: f64) -> Option<String> {
    if !days.is_finite() || !(-657_434.0..=2_958_466.0).contains(&days) {
        return None;
    }
    // Days since 1899-12-30 → ms since 1970-01-01 (25569 days apart).
    let ms = ((days - 25_569.0) * 86_400_000.0).round() as i64;
    Some(iso_from_unix_ms(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ole_dates() {
        // 25569 = 1970-01-01; 0.5 day = noon
        assert_eq!(
            ole_date_to_iso(25_569.5).as_deref(),
            Some("1970-01-01T12:00:00.000")
        );
        assert_eq!(
            ole_date_to_iso(0.0).as_deref(),
            Some("1899-12-30T00:00:00.000")
        );
        assert_eq!(ole_date_to_iso(f64::NAN), None);
        // 0x01d75a3b3699d25c: a FILETIME stored in a DateTime column (UAL);
        // 132673000396339804 ticks = 2021-06-05T18:47:19.633
        let ft = f64::from_bits(0x01d7_5a3b_3699_d25c);
        assert_eq!(
            datetime_to_iso(ft).as_deref(),
            Some("2021-06-05T18:47:19.633")
        );
        assert_eq!(
            datetime_to_iso(25_569.5).as_deref(),
            Some("1970-01-01T12:00:00.000")
        );
    }

    #[test]
    fn guid_and_text() {
        let g = [
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ];
        assert_eq!(guid_string(&g), "00112233-4455-6677-8899-aabbccddeeff");
        assert_eq!(decode_text(&[b'h', 0, b'i', 0], 1200), "hi");
        assert_eq!(decode_text(&[b'o', 0, b'k', 0, 0, 0], 1200), "ok");
        assert_eq!(decode_text(&[b'a', 0, b' '], 1200), "a ");
        assert_eq!(decode_text(&[0xe9], 1252), "é");
        assert_eq!(Value::Text("a\tb\\".into()).to_text(), "a\\tb\\\\");
    }
}
