//! What the caller describes: tables, columns (ESE column types, ese.md §10)
//! and row values.

use serde::Serialize;

/// JET column types (`JET_coltyp*`), with their on-disk numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum ColumnType {
    /// 1 byte, 0x00 / 0xff.
    Bit = 1,
    /// u8.
    UnsignedByte = 2,
    /// i16.
    Short = 3,
    /// i32.
    Long = 4,
    /// i64 (Exchange also keeps 64-bit counters and FILETIMEs in it).
    Currency = 5,
    /// f32.
    IeeeSingle = 6,
    /// f64.
    IeeeDouble = 7,
    /// f64 OLE Automation date.
    DateTime = 8,
    /// Up to 255 bytes.
    Binary = 9,
    /// Up to 255 bytes of text in the column's code page.
    Text = 10,
    /// Binary of any length; long ones are separated into the LV tree.
    LongBinary = 11,
    /// Text of any length; long ones are separated into the LV tree.
    LongText = 12,
    /// u32.
    UnsignedLong = 14,
    /// i64.
    LongLong = 15,
    /// 16-byte GUID in Windows byte order.
    Guid = 16,
    /// u16.
    UnsignedShort = 17,
}

impl ColumnType {
    /// Size of a fixed-size value; `None` for text and binary types (the
    /// reader's table of sizes, so writer and reader cannot disagree).
    pub fn fixed_size(self) -> Option<usize> {
        kairos_ese::ColumnType::from_u32(u32::from(self as u8)).fixed_size()
    }

    /// Long-value types: may be separated into the long-value tree.
    pub fn is_long(self) -> bool {
        matches!(self, ColumnType::LongBinary | ColumnType::LongText)
    }

    /// Types that carry text (and so a code page).
    pub fn is_text(self) -> bool {
        matches!(self, ColumnType::Text | ColumnType::LongText)
    }
}

/// A column definition. Placement follows the engine's rules: fixed-size
/// types are fixed columns (ids 1–127), `Text`/`Binary` variable columns
/// (128–255), long types, multi-valued columns and columns marked `tagged`
/// are tagged columns (256+). Ids are assigned in definition order.
#[derive(Clone, Debug, Serialize)]
pub struct ColumnSpec {
    /// Column name in the catalog.
    pub name: String,
    /// Column type.
    pub coltyp: ColumnType,
    /// Code page of text columns: 1200 (UTF-16LE) or 1252; ignored otherwise.
    pub code_page: u16,
    /// Multi-valued (stored as a tagged column with an offset table).
    pub multi_valued: bool,
    /// Store as a tagged (sparse) column even if the type could be fixed/variable.
    pub tagged: bool,
    /// Compressed column (`JET_bitColumnCompressed`; long types only):
    /// single values and long-value chunks are stored 7-bit packed or
    /// Xpress-compressed when that saves space (elements of multi-valued
    /// columns stay uncompressed).
    pub compressed: bool,
}

impl ColumnSpec {
    /// A column of type `coltyp`; text defaults to Unicode (code page 1200).
    pub fn new(name: &str, coltyp: ColumnType) -> ColumnSpec {
        ColumnSpec {
            name: name.to_owned(),
            coltyp,
            code_page: if coltyp.is_text() { 1200 } else { 0 },
            multi_valued: false,
            tagged: false,
            compressed: false,
        }
    }

    /// Compressed long-value column.
    #[must_use]
    pub fn compressed(mut self) -> ColumnSpec {
        self.compressed = true;
        self
    }

    /// Text stored in Windows-1252 instead of UTF-16LE.
    #[must_use]
    pub fn ansi(mut self) -> ColumnSpec {
        self.code_page = 1252;
        self
    }

    /// Multi-valued column.
    #[must_use]
    pub fn multi(mut self) -> ColumnSpec {
        self.multi_valued = true;
        self
    }

    /// Sparse column stored in the tagged area.
    #[must_use]
    pub fn tagged(mut self) -> ColumnSpec {
        self.tagged = true;
        self
    }
}

/// One cell of a row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Value {
    /// Column not set.
    Null,
    /// `Bit`.
    Bit(bool),
    /// `UnsignedByte`.
    U8(u8),
    /// `Short`.
    I16(i16),
    /// `UnsignedShort`.
    U16(u16),
    /// `Long`.
    I32(i32),
    /// `UnsignedLong`.
    U32(u32),
    /// `Currency` and `LongLong`.
    I64(i64),
    /// `IeeeSingle`.
    F32(f32),
    /// `IeeeDouble` and `DateTime`.
    F64(f64),
    /// `Guid`.
    Guid([u8; 16]),
    /// `Binary` and `LongBinary`.
    Bytes(Vec<u8>),
    /// `Text` and `LongText`, encoded with the column's code page.
    Text(String),
    /// Values of a multi-valued column (each of the column's type).
    Multi(Vec<Value>),
}

/// A table to write.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Table name.
    pub name: String,
    /// Columns in id-assignment order.
    pub columns: Vec<ColumnSpec>,
    /// Names of the primary-key columns; empty = records keyed by a
    /// sequential 4-byte id, as the engine does for tables without one.
    pub primary_key: Vec<String>,
    /// Rows; each has one value per column.
    pub rows: Vec<Vec<Value>>,
}

/// A whole database.
#[derive(Clone, Debug)]
pub struct DatabaseSpec {
    /// 4096, 8192, 16384 or 32768.
    pub page_size: u32,
    /// Seeds the database signature.
    pub signature: u32,
    /// Creation instant as seconds since the Unix epoch (UTC).
    pub created_unix: i64,
    /// User tables, written after the system tables in this order.
    pub tables: Vec<TableSpec>,
}
