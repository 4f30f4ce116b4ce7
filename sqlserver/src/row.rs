//! Decoding column values out of a FixedVar record with the physical layout
//! from `sysrscols` (format notes §4, §5.2 step 7).

use kairos_parsers::Source;

use crate::collation::CodePage;
use crate::lob::LobReader;
use crate::record::Record;
use crate::types::SqlType;
use crate::value::Value;

/// Where and how one column is stored in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The column type.
    pub ty: SqlType,
    /// Positive: byte offset in the fixed part; negative: −(1-based index
    /// of the variable column).
    pub leaf_offset: i16,
    /// 1-based bit of the null bitmap (0: the column has none).
    pub null_bit: u16,
    /// Bit position inside the shared byte for `bit` columns.
    pub bit_pos: u8,
    /// Code page of char/varchar/text data.
    pub code_page: CodePage,
}

/// Decodes one column; off-row values are fetched through `lobs`.
pub fn decode_column<S: Source>(
    rec: &Record<'_>,
    col: &Layout,
    lobs: &mut LobReader<'_, S>,
) -> Value {
    if col.null_bit > 0 {
        match rec.is_null(usize::from(col.null_bit - 1)) {
            Some(true) => return Value::Null,
            // Added to the table after this row was written: not stored.
            None if rec.has_null_bitmap() => return Value::Null,
            _ => {}
        }
    }
    if col.leaf_offset > 0 {
        let off = col.leaf_offset as usize;
        if col.ty == SqlType::Bit {
            return match rec.fixed(off, 1) {
                Some(b) => Value::Bool(b[0] & (1 << (col.bit_pos & 7)) != 0),
                None => Value::Error(format!("bit column at {off} is outside the fixed part")),
            };
        }
        let Some(len) = col.ty.fixed_len() else {
            return Value::Error(format!("{} stored in the fixed part", col.ty.ddl()));
        };
        return match rec.fixed(off, len) {
            Some(b) => col.ty.decode(b, col.code_page),
            None => Value::Error(format!(
                "{} at offset {off} is outside the fixed part (ends at {})",
                col.ty.ddl(),
                rec.fixed_end()
            )),
        };
    }
    let index = usize::from(col.leaf_offset.unsigned_abs()).saturating_sub(1);
    let Some((bytes, complex)) = rec.var(index) else {
        // Trailing variable columns are not stored when NULL or empty.
        return if col.null_bit > 0 && rec.has_null_bitmap() {
            col.ty.decode(&[], col.code_page)
        } else {
            Value::Null
        };
    };
    if complex {
        let fetched = if col.ty.is_text_pointer() && bytes.len() == 16 {
            lobs.text_pointer(bytes)
        } else {
            lobs.complex(bytes)
        };
        return match fetched {
            Ok(data) => col.ty.decode(&data, col.code_page),
            Err(e) => Value::Error(e.to_string()),
        };
    }
    col.ty.decode(bytes, col.code_page)
}
