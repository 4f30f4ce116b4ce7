//! Column definitions: types (JET_COLTYP), flags, code pages.
//!
//! Notes: `../shared/docs/formats/ese.md` §5 (catalog columns) and §10
//! (column types). Column ids say where a value lives in a record: fixed
//! 1–127, variable 128–255, tagged 256 and up.

/// JET_COLTYP: how a column's bytes are to be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ColumnType {
    /// 0: JET_coltypNil (seen in AD template tables).
    Nil,
    /// 1: one byte, 0 false, anything else true.
    Bit,
    /// 2: u8.
    UnsignedByte,
    /// 3: i16.
    Short,
    /// 4: i32.
    Long,
    /// 5: i64 (Currency; applications store 64-bit ints and FILETIMEs in it).
    Currency,
    /// 6: f32.
    IeeeSingle,
    /// 7: f64.
    IeeeDouble,
    /// 8: f64 OLE Automation date (days since 1899-12-30).
    DateTime,
    /// 9: up to 255 bytes.
    Binary,
    /// 10: up to 255 bytes of text in the column's code page.
    Text,
    /// 11: long binary (may be separated into the long-value tree, compressed).
    LongBinary,
    /// 12: long text.
    LongText,
    /// 13: obsolete streaming-file value.
    Slv,
    /// 14: u32.
    UnsignedLong,
    /// 15: i64.
    LongLong,
    /// 16: 16-byte GUID (Windows byte order).
    Guid,
    /// 17: u16.
    UnsignedShort,
    /// 18: u64.
    UnsignedLongLong,
    /// Any other number: read as binary.
    Unknown(u32),
}

impl ColumnType {
    /// Maps a JET_COLTYP number.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => ColumnType::Nil,
            1 => ColumnType::Bit,
            2 => ColumnType::UnsignedByte,
            3 => ColumnType::Short,
            4 => ColumnType::Long,
            5 => ColumnType::Currency,
            6 => ColumnType::IeeeSingle,
            7 => ColumnType::IeeeDouble,
            8 => ColumnType::DateTime,
            9 => ColumnType::Binary,
            10 => ColumnType::Text,
            11 => ColumnType::LongBinary,
            12 => ColumnType::LongText,
            13 => ColumnType::Slv,
            14 => ColumnType::UnsignedLong,
            15 => ColumnType::LongLong,
            16 => ColumnType::Guid,
            17 => ColumnType::UnsignedShort,
            18 => ColumnType::UnsignedLongLong,
            other => ColumnType::Unknown(other),
        }
    }

    /// Size in bytes of a fixed-size type; `None` for binary and text.
    pub fn fixed_size(self) -> Option<usize> {
        match self {
            ColumnType::Bit | ColumnType::UnsignedByte => Some(1),
            ColumnType::Short | ColumnType::UnsignedShort => Some(2),
            ColumnType::Long | ColumnType::IeeeSingle | ColumnType::UnsignedLong => Some(4),
            ColumnType::Currency
            | ColumnType::IeeeDouble
            | ColumnType::DateTime
            | ColumnType::LongLong
            | ColumnType::UnsignedLongLong => Some(8),
            ColumnType::Guid => Some(16),
            _ => None,
        }
    }

    /// True for the two text types.
    pub fn is_text(self) -> bool {
        matches!(self, ColumnType::Text | ColumnType::LongText)
    }

    /// The engine's name (as esedbinfo prints it, without spaces).
    pub fn name(self) -> String {
        match self {
            ColumnType::Nil => "Nil".into(),
            ColumnType::Bit => "Bit".into(),
            ColumnType::UnsignedByte => "UnsignedByte".into(),
            ColumnType::Short => "Short".into(),
            ColumnType::Long => "Long".into(),
            ColumnType::Currency => "Currency".into(),
            ColumnType::IeeeSingle => "IEEESingle".into(),
            ColumnType::IeeeDouble => "IEEEDouble".into(),
            ColumnType::DateTime => "DateTime".into(),
            ColumnType::Binary => "Binary".into(),
            ColumnType::Text => "Text".into(),
            ColumnType::LongBinary => "LongBinary".into(),
            ColumnType::LongText => "LongText".into(),
            ColumnType::Slv => "SLV".into(),
            ColumnType::UnsignedLong => "UnsignedLong".into(),
            ColumnType::LongLong => "LongLong".into(),
            ColumnType::Guid => "GUID".into(),
            ColumnType::UnsignedShort => "UnsignedShort".into(),
            ColumnType::UnsignedLongLong => "UnsignedLongLong".into(),
            ColumnType::Unknown(v) => format!("Unknown({v})"),
        }
    }
}

/// Column flags from the catalog (JET_bitColumn*).
pub mod column_flags {
    /// Fixed-size column.
    pub const FIXED: u32 = 0x1;
    /// Tagged column.
    pub const TAGGED: u32 = 0x2;
    /// NOT NULL.
    pub const NOT_NULL: u32 = 0x4;
    /// Multi-valued.
    pub const MULTI_VALUED: u32 = 0x400;
    /// Compressed (revision ≥ 0x11).
    pub const COMPRESSED: u32 = 0x80000;
}

/// One column of a table, as the catalog defines it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Column {
    /// Column id (fixed 1–127, variable 128–255, tagged ≥ 256).
    pub id: u32,
    /// Column name.
    pub name: String,
    /// Column type.
    pub coltyp: ColumnType,
    /// Maximum size (SpaceUsage).
    pub space_usage: u32,
    /// JET_bitColumn* flags.
    pub flags: u32,
    /// Code page of text columns (1200 UTF-16LE, 1252, 20127...).
    pub codepage: u32,
    /// Byte offset in the record of a fixed column (from the catalog).
    pub record_offset: u32,
    /// Raw default value (applied when a record does not hold the column).
    #[serde(skip)]
    pub default: Option<Vec<u8>>,
    /// Inherited from a template table (tagged entries carry fDerived).
    pub derived: bool,
}

impl Column {
    /// Where the value lives in a record.
    pub fn storage(&self) -> Storage {
        match self.id {
            0..=127 => Storage::Fixed,
            128..=255 => Storage::Variable,
            _ => Storage::Tagged,
        }
    }

    /// Size of a fixed column in the record.
    pub fn fixed_len(&self) -> usize {
        self.coltyp
            .fixed_size()
            .unwrap_or(self.space_usage as usize)
    }
}

/// Record area of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// Fixed area (ids 1–127).
    Fixed,
    /// Variable area (ids 128–255).
    Variable,
    /// Tagged area (ids ≥ 256).
    Tagged,
}
