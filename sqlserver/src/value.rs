//! Decoded column values and their text forms (the export contract in
//! ARCHITECTURE.md "Export formats").

use kairos_parsers::FieldValue;

/// One decoded column value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// `bit`.
    Bool(bool),
    /// Integer types (tinyint … bigint).
    Int(i64),
    /// `real` / `float`.
    Float(f64),
    /// decimal / numeric / money, exact text (`12.3400`).
    Decimal(String),
    /// Character data.
    Text(String),
    /// Date, time or datetime in ISO 8601 text without zone (datetimeoffset
    /// keeps its offset).
    DateTime(String),
    /// `uniqueidentifier` in SQL Server's text form.
    Guid(String),
    /// Binary data (binary, varbinary, image, timestamp, opaque types).
    Binary(Vec<u8>),
    /// The column could not be decoded: why. The row is kept.
    Error(String),
}

impl Value {
    /// True for [`Value::Error`].
    pub fn is_error(&self) -> bool {
        matches!(self, Value::Error(_))
    }

    /// The value as the item tree's field value (errors become text).
    pub fn to_field(&self) -> FieldValue {
        match self {
            Value::Null => FieldValue::Null,
            Value::Bool(b) => FieldValue::Bool(*b),
            Value::Int(i) => FieldValue::Int(*i),
            Value::Float(f) => FieldValue::Float(*f),
            Value::Decimal(s) => FieldValue::Decimal(s.clone()),
            Value::Text(s) | Value::Guid(s) => FieldValue::Text(s.clone()),
            Value::DateTime(s) => FieldValue::DateTime(s.clone()),
            Value::Binary(b) => FieldValue::Binary(b.clone()),
            Value::Error(e) => FieldValue::Text(format!("<error: {e}>")),
        }
    }
}

/// `0x` + uppercase hex, the binary text form of every export.
pub fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(2 + 2 * bytes.len());
    s.push_str("0x");
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}
