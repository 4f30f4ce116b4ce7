//! SQL Server data types: identification from the catalog and decoding of
//! uncompressed in-row values (format notes §6).

use std::fmt::Write as _;

use crate::bytes::{i16_at, uint_le};
use crate::collation::CodePage;
use crate::value::Value;

/// A column type as the catalog describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlType {
    /// tinyint (48).
    TinyInt,
    /// smallint (52).
    SmallInt,
    /// int (56).
    Int,
    /// bigint (127).
    BigInt,
    /// bit (104), packed 8 to a byte.
    Bit,
    /// real (59).
    Real,
    /// float (62).
    Float,
    /// money (60).
    Money,
    /// smallmoney (122).
    SmallMoney,
    /// decimal (106) / numeric (108).
    Decimal {
        /// Precision 1–38.
        precision: u8,
        /// Scale.
        scale: u8,
        /// True for `numeric`.
        numeric: bool,
    },
    /// datetime (61).
    DateTime,
    /// smalldatetime (58).
    SmallDateTime,
    /// date (40).
    Date,
    /// time(n) (41).
    Time(u8),
    /// datetime2(n) (42).
    DateTime2(u8),
    /// datetimeoffset(n) (43).
    DateTimeOffset(u8),
    /// uniqueidentifier (36).
    UniqueIdentifier,
    /// char(n) (175); `None` length never occurs for char.
    Char(u16),
    /// varchar(n) (167); `None` = varchar(max).
    VarChar(Option<u16>),
    /// nchar(n) (239), n in characters.
    NChar(u16),
    /// nvarchar(n) (231), n in characters; `None` = nvarchar(max).
    NVarChar(Option<u16>),
    /// binary(n) (173).
    Binary(u16),
    /// varbinary(n) (165); `None` = varbinary(max).
    VarBinary(Option<u16>),
    /// text (35).
    Text,
    /// ntext (99).
    NText,
    /// image (34).
    Image,
    /// timestamp / rowversion (189).
    Timestamp,
    /// xml (241).
    Xml,
    /// sql_variant (98).
    SqlVariant,
    /// CLR types: hierarchyid, geometry, geography (240).
    Clr,
    /// A system type id this reader does not know.
    Unknown(u8),
}

impl SqlType {
    /// Builds the type from `syscolpars` (`xtype`, `length` in bytes, −1 for
    /// (max), `prec`, `scale`).
    pub fn from_catalog(xtype: u8, length: i16, prec: u8, scale: u8) -> SqlType {
        let n = u16::try_from(length).ok();
        let chars = n.map(|l| l / 2);
        match xtype {
            48 => SqlType::TinyInt,
            52 => SqlType::SmallInt,
            56 => SqlType::Int,
            127 => SqlType::BigInt,
            104 => SqlType::Bit,
            59 => SqlType::Real,
            62 => SqlType::Float,
            60 => SqlType::Money,
            122 => SqlType::SmallMoney,
            106 | 108 => SqlType::Decimal {
                precision: prec,
                scale,
                numeric: xtype == 108,
            },
            61 => SqlType::DateTime,
            58 => SqlType::SmallDateTime,
            40 => SqlType::Date,
            41 => SqlType::Time(scale),
            42 => SqlType::DateTime2(scale),
            43 => SqlType::DateTimeOffset(scale),
            36 => SqlType::UniqueIdentifier,
            175 => SqlType::Char(n.unwrap_or(0)),
            167 => SqlType::VarChar(n),
            239 => SqlType::NChar(chars.unwrap_or(0)),
            231 => SqlType::NVarChar(chars),
            173 => SqlType::Binary(n.unwrap_or(0)),
            165 => SqlType::VarBinary(n),
            35 => SqlType::Text,
            99 => SqlType::NText,
            34 => SqlType::Image,
            189 => SqlType::Timestamp,
            241 => SqlType::Xml,
            98 => SqlType::SqlVariant,
            240 => SqlType::Clr,
            other => SqlType::Unknown(other),
        }
    }

    /// Builds the type from a `sysrscols.ti` word (used for system tables,
    /// which have no `syscolpars` rows in older versions): type id in the
    /// low byte, then length or precision/scale (format notes §5.2 step 8).
    pub fn from_ti(ti: u32) -> SqlType {
        let xtype = (ti & 0xFF) as u8;
        let hi = ((ti >> 8) & 0xFFFF) as u16;
        let length = if hi == 0 { -1 } else { hi as i16 };
        let prec = ((ti >> 8) & 0xFF) as u8;
        let scale = match xtype {
            41..=43 => prec,
            _ => ((ti >> 16) & 0xFF) as u8,
        };
        SqlType::from_catalog(xtype, length, prec, scale)
    }

    /// Bytes of the value in the fixed part, for fixed-length types.
    pub fn fixed_len(self) -> Option<usize> {
        Some(match self {
            // bit columns share a byte of the fixed part.
            SqlType::TinyInt | SqlType::Bit => 1,
            SqlType::SmallInt => 2,
            SqlType::Int | SqlType::Real | SqlType::SmallMoney | SqlType::SmallDateTime => 4,
            SqlType::BigInt
            | SqlType::Float
            | SqlType::Money
            | SqlType::DateTime
            | SqlType::Timestamp => 8,
            SqlType::Decimal { precision, .. } => decimal_len(precision),
            SqlType::Date => 3,
            SqlType::Time(s) => time_len(s),
            SqlType::DateTime2(s) => time_len(s) + 3,
            SqlType::DateTimeOffset(s) => time_len(s) + 5,
            SqlType::UniqueIdentifier => 16,
            SqlType::Char(n) | SqlType::Binary(n) => usize::from(n),
            SqlType::NChar(n) => 2 * usize::from(n),
            _ => return None,
        })
    }

    /// Legacy LOB types stored through a 16-byte text pointer.
    pub fn is_text_pointer(self) -> bool {
        matches!(self, SqlType::Text | SqlType::NText | SqlType::Image)
    }

    /// The type as written in `CREATE TABLE`.
    pub fn ddl(self) -> String {
        let len = |n: Option<u16>| n.map_or_else(|| "max".to_owned(), |n| n.to_string());
        match self {
            SqlType::TinyInt => "tinyint".into(),
            SqlType::SmallInt => "smallint".into(),
            SqlType::Int => "int".into(),
            SqlType::BigInt => "bigint".into(),
            SqlType::Bit => "bit".into(),
            SqlType::Real => "real".into(),
            SqlType::Float => "float".into(),
            SqlType::Money => "money".into(),
            SqlType::SmallMoney => "smallmoney".into(),
            SqlType::Decimal {
                precision,
                scale,
                numeric,
            } => format!(
                "{}({precision}, {scale})",
                if numeric { "numeric" } else { "decimal" }
            ),
            SqlType::DateTime => "datetime".into(),
            SqlType::SmallDateTime => "smalldatetime".into(),
            SqlType::Date => "date".into(),
            SqlType::Time(s) => format!("time({s})"),
            SqlType::DateTime2(s) => format!("datetime2({s})"),
            SqlType::DateTimeOffset(s) => format!("datetimeoffset({s})"),
            SqlType::UniqueIdentifier => "uniqueidentifier".into(),
            SqlType::Char(n) => format!("char({n})"),
            SqlType::VarChar(n) => format!("varchar({})", len(n)),
            SqlType::NChar(n) => format!("nchar({n})"),
            SqlType::NVarChar(n) => format!("nvarchar({})", len(n)),
            SqlType::Binary(n) => format!("binary({n})"),
            SqlType::VarBinary(n) => format!("varbinary({})", len(n)),
            SqlType::Text => "text".into(),
            SqlType::NText => "ntext".into(),
            SqlType::Image => "image".into(),
            SqlType::Timestamp => "timestamp".into(),
            SqlType::Xml => "xml".into(),
            SqlType::SqlVariant => "sql_variant".into(),
            // Restoring CLR values into another server needs the same
            // assembly; the bytes are kept as varbinary.
            SqlType::Clr => "varbinary(max)".into(),
            SqlType::Unknown(x) => format!("varbinary(max) /* system type {x} */"),
        }
    }

    /// Decodes an in-row value (`bytes` already cut to the column).
    /// Character types use `cp`. LOB pointers are resolved by the caller.
    pub fn decode(self, bytes: &[u8], cp: CodePage) -> Value {
        let want = |n: usize| -> Result<&[u8], Value> {
            if bytes.len() == n {
                Ok(bytes)
            } else {
                Err(Value::Error(format!(
                    "{}: {} bytes, expected {n}",
                    self.ddl(),
                    bytes.len()
                )))
            }
        };
        let r = match self {
            SqlType::TinyInt => want(1).map(|b| Value::Int(i64::from(b[0]))),
            SqlType::SmallInt => {
                want(2).map(|b| Value::Int(i64::from(i16::from_le_bytes([b[0], b[1]]))))
            }
            SqlType::Int => want(4).map(|b| Value::Int(i64::from(le_i32(b)))),
            SqlType::BigInt => want(8).map(|b| Value::Int(le_i64(b))),
            SqlType::Bit => want(1).map(|b| Value::Bool(b[0] != 0)),
            SqlType::Real => want(4).map(|b| {
                let f = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                // Through the shortest text form so 0.1f32 exports as 0.1.
                Value::Float(f.to_string().parse().unwrap_or(f64::from(f)))
            }),
            SqlType::Float => want(8).map(|b| Value::Float(f64::from_le_bytes(arr8(b)))),
            SqlType::Money => want(8).map(|b| Value::Decimal(scaled(i128::from(le_i64(b)), 4))),
            SqlType::SmallMoney => {
                want(4).map(|b| Value::Decimal(scaled(i128::from(le_i32(b)), 4)))
            }
            SqlType::Decimal {
                precision, scale, ..
            } => want(decimal_len(precision)).and_then(|b| decode_decimal(b, scale)),
            SqlType::DateTime => want(8).map(|b| {
                let ticks = i64::from(le_i32(&b[..4]));
                let days = i64::from(le_i32(&b[4..]));
                let ms = (ticks * 10 + 1) / 3;
                let (date, secs) = (
                    days + DAYS_1900 + ms.div_euclid(86_400_000),
                    ms.rem_euclid(86_400_000),
                );
                Value::DateTime(format!(
                    "{}T{}.{:03}",
                    ymd(date),
                    hms(secs / 1000),
                    secs % 1000
                ))
            }),
            SqlType::SmallDateTime => want(4).map(|b| {
                let minutes = i64::from(u16::from_le_bytes([b[0], b[1]]));
                let days = i64::from(u16::from_le_bytes([b[2], b[3]]));
                Value::DateTime(format!("{}T{}", ymd(days + DAYS_1900), hms(minutes * 60)))
            }),
            SqlType::Date => want(3).map(|b| Value::DateTime(ymd(uint_le(b) as i64 + DAYS_0001))),
            SqlType::Time(s) => {
                want(time_len(s)).map(|b| Value::DateTime(time_text(uint_le(b), s)))
            }
            SqlType::DateTime2(s) => want(time_len(s) + 3).map(|b| {
                let (t, d) = b.split_at(time_len(s));
                Value::DateTime(format!(
                    "{}T{}",
                    ymd(uint_le(d) as i64 + DAYS_0001),
                    time_text(uint_le(t), s)
                ))
            }),
            SqlType::DateTimeOffset(s) => {
                want(time_len(s) + 5).map(|b| decode_datetimeoffset(b, s))
            }
            SqlType::UniqueIdentifier => want(16).map(|b| Value::Guid(guid_text(b))),
            SqlType::Char(_) | SqlType::VarChar(_) | SqlType::Text => Ok(cp.decode(bytes)),
            SqlType::NChar(_) | SqlType::NVarChar(_) | SqlType::NText | SqlType::Xml => {
                // xml in-row is SQL Server's binary XML; only legacy
                // UTF-16 text is shown as text.
                if self == SqlType::Xml && bytes.first() == Some(&0xDF) {
                    Ok(Value::Error(
                        "xml: binary XML encoding is not supported yet".into(),
                    ))
                } else if bytes.len().is_multiple_of(2) {
                    Ok(Value::Text(crate::bytes::utf16le(bytes)))
                } else {
                    Err(Value::Error(format!(
                        "{}: odd byte count {}",
                        self.ddl(),
                        bytes.len()
                    )))
                }
            }
            SqlType::Binary(_)
            | SqlType::VarBinary(_)
            | SqlType::Image
            | SqlType::Timestamp
            | SqlType::Clr => Ok(Value::Binary(bytes.to_vec())),
            SqlType::SqlVariant => Ok(decode_variant(bytes, cp)),
            SqlType::Unknown(x) => Ok(Value::Error(format!(
                "system type {x} is not supported yet"
            ))),
        };
        r.unwrap_or_else(|e| e)
    }
}

/// Days from 0001-01-01 to 1970-01-01 is −719,162; the civil-date helpers
/// work relative to 1970.
const DAYS_0001: i64 = -719_162;
/// Days from 1900-01-01 to 1970-01-01.
const DAYS_1900: i64 = -25_567;

fn le_i32(b: &[u8]) -> i32 {
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_i64(b: &[u8]) -> i64 {
    i64::from_le_bytes(arr8(b))
}

fn arr8(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    a
}

/// Storage size of decimal(p): 5/9/13/17 bytes.
fn decimal_len(precision: u8) -> usize {
    match precision {
        0..=9 => 5,
        10..=19 => 9,
        20..=28 => 13,
        _ => 17,
    }
}

/// Storage size of time(n).
fn time_len(scale: u8) -> usize {
    match scale {
        0..=2 => 3,
        3..=4 => 4,
        _ => 5,
    }
}

fn decode_decimal(b: &[u8], scale: u8) -> Result<Value, Value> {
    let mut magnitude: u128 = 0;
    for (i, word) in b[1..].chunks_exact(4).enumerate() {
        let w = u128::from(u32::from_le_bytes([word[0], word[1], word[2], word[3]]));
        magnitude |= w << (32 * i);
    }
    let text = scaled_unsigned(magnitude, scale);
    match b[0] {
        1 => Ok(Value::Decimal(text)),
        0 => Ok(Value::Decimal(if magnitude == 0 {
            text
        } else {
            format!("-{text}")
        })),
        s => Err(Value::Error(format!("decimal: sign byte {s}"))),
    }
}

/// `v / 10^scale` as exact text.
fn scaled(v: i128, scale: u8) -> String {
    let text = scaled_unsigned(v.unsigned_abs(), scale);
    if v < 0 { format!("-{text}") } else { text }
}

fn scaled_unsigned(v: u128, scale: u8) -> String {
    let digits = v.to_string();
    let scale = usize::from(scale);
    if scale == 0 {
        return digits;
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    format!("{int}.{frac}")
}

/// Civil date of `days` since 1970-01-01 (proleptic Gregorian).
fn ymd(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

fn hms(secs: i64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// time(n): `units` of 10^-n seconds since midnight, with n digits.
fn time_text(units: u64, scale: u8) -> String {
    let per_sec = 10u64.pow(u32::from(scale.min(7)));
    let secs = (units / per_sec) as i64;
    let mut s = hms(secs);
    if scale > 0 {
        let _ = write!(s, ".{:0w$}", units % per_sec, w = usize::from(scale.min(7)));
    }
    s
}

fn decode_datetimeoffset(b: &[u8], scale: u8) -> Value {
    let tl = time_len(scale);
    let units = uint_le(&b[..tl]);
    let days = uint_le(&b[tl..tl + 3]) as i64;
    let Some(offset) = i16_at(b, tl + 3) else {
        return Value::Error("datetimeoffset: offset missing".into());
    };
    // Stored as UTC; shown as local time with its offset, like SQL Server.
    let per_sec = 10u64.pow(u32::from(scale.min(7)));
    let utc_secs = days * 86_400 + (units / per_sec) as i64;
    let local = utc_secs + i64::from(offset) * 60;
    let frac = units % per_sec;
    let mut s = format!(
        "{}T{}",
        ymd(local.div_euclid(86_400) + DAYS_0001),
        hms(local.rem_euclid(86_400))
    );
    if scale > 0 {
        let _ = write!(s, ".{frac:0w$}", w = usize::from(scale.min(7)));
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let o = offset.unsigned_abs();
    let _ = write!(s, "{sign}{:02}:{:02}", o / 60, o % 60);
    Value::DateTime(s)
}

/// SQL Server's GUID text: Data1-3 little-endian, Data4 as stored, uppercase
/// (missing bytes of a short slice print as 00).
pub fn guid_text(b: &[u8]) -> String {
    let mut s = String::with_capacity(36);
    for (i, idx) in [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15]
        .iter()
        .enumerate()
    {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        let _ = write!(s, "{:02X}", b.get(*idx).copied().unwrap_or(0));
    }
    s
}

/// sql_variant: `u8 base type, u8 version`, type-specific properties,
/// then the value (format notes §6).
fn decode_variant(b: &[u8], cp: CodePage) -> Value {
    let (Some(&base), Some(_version)) = (b.first(), b.get(1)) else {
        return Value::Error("sql_variant shorter than its header".into());
    };
    // Property bytes per base type.
    let (props, ty) = match base {
        106 | 108 => {
            let (p, s) = (
                b.get(2).copied().unwrap_or(0),
                b.get(3).copied().unwrap_or(0),
            );
            (2, SqlType::from_catalog(base, 0, p, s))
        }
        41..=43 => (
            1,
            SqlType::from_catalog(base, 0, 0, b.get(2).copied().unwrap_or(0)),
        ),
        165 | 173 => (2, SqlType::VarBinary(None)),
        167 | 175 => (6, SqlType::VarChar(None)),
        231 | 239 => (6, SqlType::NVarChar(None)),
        _ => (0, SqlType::from_catalog(base, 0, 0, 0)),
    };
    let Some(data) = b.get(2 + props..) else {
        return Value::Error("sql_variant properties cut short".into());
    };
    match ty {
        SqlType::Unknown(_) | SqlType::SqlVariant => {
            Value::Error(format!("sql_variant base type {base} is not supported yet"))
        }
        SqlType::VarChar(_) => {
            let cp = crate::bytes::u32_at(b, 4).map_or(cp, |c| CodePage::from_collation(c).0);
            cp.decode(data)
        }
        t => t.decode(data, cp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp() -> CodePage {
        CodePage::WINDOWS_1252
    }

    #[test]
    fn dates_match_known_calendar_points() {
        assert_eq!(ymd(0), "1970-01-01");
        assert_eq!(ymd(DAYS_1900), "1900-01-01");
        assert_eq!(ymd(DAYS_0001), "0001-01-01");
        assert_eq!(ymd(11_016), "2000-02-29");
        // datetime 1996-07-04 00:00:00.000 = 35248 days after 1900-01-01
        let mut b = 0i32.to_le_bytes().to_vec();
        b.extend_from_slice(&35_248i32.to_le_bytes());
        assert_eq!(
            SqlType::DateTime.decode(&b, cp()),
            Value::DateTime("1996-07-04T00:00:00.000".into())
        );
        // 1/300 s ticks round like SQL Server: 1 tick = .003, 2 = .007
        let mut b = 2i32.to_le_bytes().to_vec();
        b.extend_from_slice(&0i32.to_le_bytes());
        assert_eq!(
            SqlType::DateTime.decode(&b, cp()),
            Value::DateTime("1900-01-01T00:00:00.007".into())
        );
    }

    #[test]
    fn exact_numbers() {
        let mut b = vec![0u8];
        b.extend_from_slice(&12_345u32.to_le_bytes());
        let t = SqlType::Decimal {
            precision: 5,
            scale: 2,
            numeric: false,
        };
        assert_eq!(t.decode(&b, cp()), Value::Decimal("-123.45".into()));
        let t = SqlType::Decimal {
            precision: 5,
            scale: 4,
            numeric: false,
        };
        b[0] = 1;
        assert_eq!(t.decode(&b, cp()), Value::Decimal("1.2345".into()));
        let m = 180_000i64.to_le_bytes(); // 18.0000
        assert_eq!(
            SqlType::Money.decode(&m, cp()),
            Value::Decimal("18.0000".into())
        );
        assert_eq!(
            SqlType::SmallMoney.decode(&(-5i32).to_le_bytes(), cp()),
            Value::Decimal("-0.0005".into())
        );
        assert_eq!(
            SqlType::Real.decode(&0.1f32.to_le_bytes(), cp()),
            Value::Float(0.1)
        );
    }

    #[test]
    fn guid_and_time_text() {
        let b = [
            0xFF, 0x19, 0x96, 0x6F, 0x86, 0x8B, 0x11, 0xD0, 0xB4, 0x2D, 0x00, 0xC0, 0x4F, 0xC9,
            0x64, 0xFF,
        ];
        assert_eq!(guid_text(&b), "6F9619FF-8B86-D011-B42D-00C04FC964FF");
        assert_eq!(time_text(37_231_234_567, 7), "01:02:03.1234567");
        assert_eq!(time_text(3_723, 0), "01:02:03");
    }

    proptest::proptest! {
        /// Every type decodes any bytes to a value or an error value.
        #[test]
        fn any_type_any_bytes(xtype in 0u8..=255, len in -1i16..200, prec in 0u8..=40, scale in 0u8..=40,
                              b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let t = SqlType::from_catalog(xtype, len, prec, scale);
            let _ = t.decode(&b, CodePage::WINDOWS_1252);
            let _ = t.ddl();
            if let Some(n) = t.fixed_len() {
                let mut exact = b.clone();
                exact.resize(n, 0);
                let _ = t.decode(&exact, CodePage::WINDOWS_1252);
            }
        }
    }

    #[test]
    fn wrong_lengths_are_error_values() {
        assert!(SqlType::Int.decode(&[1, 2], cp()).is_error());
        assert!(
            SqlType::NVarChar(Some(3))
                .decode(&[1, 2, 3], cp())
                .is_error()
        );
        assert!(SqlType::Unknown(99).decode(&[], cp()).is_error());
    }
}
