//! Record layout (ese.md §6, engine `rec.hxx` / `tagfld.hxx`): the 4-byte
//! record header, fixed columns with their NULL bitmap, variable columns
//! with their end-offset array, and the tagged area.

use super::WriteError;
use super::compression;
use super::long_value::LongValues;
use super::page::Geometry;
use super::schema::{ColumnSpec, ColumnType, TableSpec, Value};

/// Where a column lives inside a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Fixed column at this byte offset from the record start.
    Fixed {
        offset: u16,
        size: u16,
    },
    Variable,
    Tagged,
}

/// A column with its assigned id.
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub id: u16,
    pub spec: ColumnSpec,
    pub placement: Placement,
}

/// Column ids and placements of a table.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub columns: Vec<Column>,
}

const FIRST_FIXED: u16 = 1;
const LAST_FIXED: u16 = 127;
const FIRST_VAR: u16 = 128;
const LAST_VAR: u16 = 255;
const FIRST_TAGGED: u16 = 256;
/// Record header: fidFixedLastInRec, fidVarLastInRec, ibEndOfFixedData.
const RECORD_HEADER_LEN: u16 = 4;

/// TAGFLD header byte flags (ese.md §6).
mod tagfld {
    pub const LONG_VALUE: u8 = 0x01;
    pub const COMPRESSED: u8 = 0x02;
    pub const SEPARATED: u8 = 0x04;
    pub const MULTI_VALUES: u8 = 0x08;
    pub const TWO_VALUES: u8 = 0x10;
}
/// Small pages: the tag's `ib` says a header byte precedes the value.
const IB_EXTENDED_INFO: u16 = 0x4000;

impl Layout {
    /// Assigns ids in definition order within each class.
    pub fn new(table: &TableSpec) -> Result<Layout, WriteError> {
        let (mut fixed, mut var, mut tagged) = (FIRST_FIXED, FIRST_VAR, FIRST_TAGGED);
        let mut offset = RECORD_HEADER_LEN;
        let mut columns = Vec::with_capacity(table.columns.len());
        for spec in &table.columns {
            if spec.compressed && !spec.coltyp.is_long() {
                return Err(WriteError::Schema(format!(
                    "table {}: column {}: only LongText/LongBinary columns can be compressed",
                    table.name, spec.name
                )));
            }
            if spec.coltyp.is_text() && !matches!(spec.code_page, 1200 | 1252) {
                return Err(WriteError::Schema(format!(
                    "table {}: column {}: code page {} (use 1200 or 1252)",
                    table.name, spec.name, spec.code_page
                )));
            }
            let placement = match (spec.coltyp.fixed_size(), spec.coltyp) {
                _ if spec.multi_valued || spec.tagged || spec.coltyp.is_long() => Placement::Tagged,
                (Some(size), _) => Placement::Fixed {
                    offset,
                    size: size as u16,
                },
                (None, _) => Placement::Variable,
            };
            let id = match placement {
                Placement::Fixed { size, .. } => {
                    offset += size;
                    fixed += 1;
                    fixed - 1
                }
                Placement::Variable => {
                    var += 1;
                    var - 1
                }
                Placement::Tagged => {
                    tagged += 1;
                    tagged - 1
                }
            };
            if fixed > LAST_FIXED + 1 || var > LAST_VAR + 1 {
                return Err(WriteError::Schema(format!(
                    "table {}: more than 127 fixed or 128 variable columns",
                    table.name
                )));
            }
            columns.push(Column {
                id,
                spec: spec.clone(),
                placement,
            });
        }
        Ok(Layout { columns })
    }
}

fn type_error(column: &ColumnSpec, value: &Value) -> WriteError {
    WriteError::Schema(format!(
        "column {}: value {value:?} does not fit type {:?}",
        column.name, column.coltyp
    ))
}

/// The stored bytes of one (non-NULL, single) value.
pub(crate) fn value_bytes(column: &ColumnSpec, value: &Value) -> Result<Vec<u8>, WriteError> {
    use ColumnType as T;
    let bytes = match (column.coltyp, value) {
        (T::Bit, Value::Bit(b)) => vec![if *b { 0xff } else { 0 }],
        (T::UnsignedByte, Value::U8(v)) => vec![*v],
        (T::Short, Value::I16(v)) => v.to_le_bytes().to_vec(),
        (T::UnsignedShort, Value::U16(v)) => v.to_le_bytes().to_vec(),
        (T::Long, Value::I32(v)) => v.to_le_bytes().to_vec(),
        (T::UnsignedLong, Value::U32(v)) => v.to_le_bytes().to_vec(),
        (T::Currency | T::LongLong, Value::I64(v)) => v.to_le_bytes().to_vec(),
        (T::IeeeSingle, Value::F32(v)) => v.to_le_bytes().to_vec(),
        (T::IeeeDouble | T::DateTime, Value::F64(v)) => v.to_le_bytes().to_vec(),
        (T::Guid, Value::Guid(g)) => g.to_vec(),
        (T::Binary | T::LongBinary, Value::Bytes(b)) => b.clone(),
        (T::Text | T::LongText, Value::Text(s)) => encode_text(column, s)?,
        _ => return Err(type_error(column, value)),
    };
    if matches!(column.coltyp, T::Binary | T::Text) && bytes.len() > 255 {
        return Err(WriteError::Schema(format!(
            "column {}: {} bytes exceed the 255-byte limit of {:?}",
            column.name,
            bytes.len(),
            column.coltyp
        )));
    }
    Ok(bytes)
}

fn encode_text(column: &ColumnSpec, s: &str) -> Result<Vec<u8>, WriteError> {
    if column.code_page == 1200 {
        return Ok(s.encode_utf16().flat_map(u16::to_le_bytes).collect());
    }
    let (bytes, _, unmappable) = encoding_rs::WINDOWS_1252.encode(s);
    if unmappable {
        return Err(WriteError::Schema(format!(
            "column {}: {s:?} is not representable in code page 1252",
            column.name
        )));
    }
    Ok(bytes.into_owned())
}

/// Encodes one row as a record. Long values above the page-size dependent
/// intrinsic limit go to `lvs` and the record keeps their LID.
pub(crate) fn encode_record(
    g: Geometry,
    layout: &Layout,
    row: &[Value],
    lvs: &mut LongValues,
) -> Result<Vec<u8>, WriteError> {
    let cells: Vec<(&Column, &Value)> = layout.columns.iter().zip(row).collect();
    // Fixed area.
    let last_fixed = cells
        .iter()
        .filter(|(c, v)| matches!(c.placement, Placement::Fixed { .. }) && **v != Value::Null)
        .map(|(c, _)| c.id)
        .max()
        .unwrap_or(0);
    let last_var = cells
        .iter()
        .filter(|(c, v)| c.placement == Placement::Variable && **v != Value::Null)
        .map(|(c, _)| c.id)
        .max()
        .unwrap_or(FIRST_VAR - 1);
    let mut rec = vec![last_fixed as u8, last_var as u8, 0, 0];
    let mut null_bits = vec![0u8; usize::from(last_fixed).div_ceil(8)];
    for (c, v) in &cells {
        let Placement::Fixed { size, .. } = c.placement else {
            continue;
        };
        if c.id > last_fixed {
            continue;
        }
        if **v == Value::Null {
            rec.extend(std::iter::repeat_n(0, usize::from(size)));
            let i = usize::from(c.id - 1);
            null_bits[i / 8] |= 1 << (i % 8);
        } else {
            rec.extend(value_bytes(&c.spec, v)?);
        }
    }
    // Bits past the last fixed column are set, as the engine leaves them.
    for i in usize::from(last_fixed)..null_bits.len() * 8 {
        null_bits[i / 8] |= 1 << (i % 8);
    }
    rec.extend_from_slice(&null_bits);
    let end_fixed = rec.len() as u16;
    rec[2..4].copy_from_slice(&end_fixed.to_le_bytes());
    // Variable area: end offsets, then the data.
    let mut var_data = Vec::new();
    let mut offsets = Vec::new();
    for (c, v) in &cells {
        if c.placement != Placement::Variable || c.id > last_var {
            continue;
        }
        if **v == Value::Null {
            offsets.push(var_data.len() as u16 | 0x8000);
        } else {
            var_data.extend(value_bytes(&c.spec, v)?);
            offsets.push(var_data.len() as u16);
        }
    }
    for o in offsets {
        rec.extend_from_slice(&o.to_le_bytes());
    }
    rec.extend_from_slice(&var_data);
    // Tagged area: {id, ib} array, then values.
    let mut entries: Vec<(u16, u16, Vec<u8>)> = Vec::new();
    for (c, v) in &cells {
        if c.placement != Placement::Tagged || **v == Value::Null {
            continue;
        }
        let (flags, body) = tagged_value(g, &c.spec, v, lvs)?;
        entries.push((c.id, flags, body));
    }
    entries.sort_by_key(|e| e.0);
    let mut ib = 4 * entries.len();
    let mut values = Vec::new();
    for (id, flags, body) in &entries {
        let mask = if g.large() { 0x7fff } else { 0x1fff };
        if ib > mask {
            return Err(WriteError::Schema(format!(
                "tagged area of {ib} bytes too large"
            )));
        }
        rec.extend_from_slice(&id.to_le_bytes());
        rec.extend_from_slice(&(ib as u16 | flags).to_le_bytes());
        ib += body.len();
        values.extend_from_slice(body);
    }
    rec.extend_from_slice(&values);
    Ok(rec)
}

/// Largest value kept inside the record; longer long values are separated.
pub(crate) fn intrinsic_limit(g: Geometry) -> usize {
    g.size / 4
}

/// Bytes of one tagged column value (with the TAGFLD header byte when one
/// is needed) and the flags for its `ib` word.
fn tagged_value(
    g: Geometry,
    column: &ColumnSpec,
    value: &Value,
    lvs: &mut LongValues,
) -> Result<(u16, Vec<u8>), WriteError> {
    let long_bit = if column.coltyp.is_long() {
        tagfld::LONG_VALUE
    } else {
        0
    };
    // Each element as (separated?, bytes).
    let mut element = |v: &Value| -> Result<(bool, Vec<u8>), WriteError> {
        let b = value_bytes(column, v)?;
        if column.coltyp.is_long() && b.len() > intrinsic_limit(g) {
            Ok((true, lvs.add(b, column.compressed).to_le_bytes().to_vec()))
        } else {
            Ok((false, b))
        }
    };
    let (header, body) = match value {
        Value::Multi(items) if column.multi_valued && !items.is_empty() => {
            let elems = items
                .iter()
                .map(&mut element)
                .collect::<Result<Vec<_>, _>>()?;
            // The engine's compact form for exactly two short values of a
            // column that cannot be separated (tagfld.hxx TWOVALUES).
            if elems.len() == 2
                && !column.coltyp.is_long()
                && elems.iter().all(|e| e.1.len() <= 255)
            {
                let mut body = vec![elems[0].1.len() as u8];
                body.extend_from_slice(&elems[0].1);
                body.extend_from_slice(&elems[1].1);
                (tagfld::MULTI_VALUES | tagfld::TWO_VALUES, body)
            } else {
                let mut offsets = Vec::new();
                let mut data = Vec::new();
                let mut at = 2 * elems.len();
                for (sep, b) in &elems {
                    offsets.extend_from_slice(
                        &(at as u16 | if *sep { 0x8000 } else { 0 }).to_le_bytes(),
                    );
                    at += b.len();
                    data.extend_from_slice(b);
                }
                if at > 0x7fff {
                    return Err(WriteError::Schema(format!(
                        "column {}: multi-value too large",
                        column.name
                    )));
                }
                offsets.extend_from_slice(&data);
                (tagfld::MULTI_VALUES | long_bit, offsets)
            }
        }
        Value::Multi(_) => return Err(type_error(column, value)),
        single => {
            let (sep, b) = element(single)?;
            match (
                sep,
                column
                    .compressed
                    .then(|| compression::compress(&b))
                    .flatten(),
            ) {
                (false, Some(c)) => (long_bit | tagfld::COMPRESSED, c),
                _ => (long_bit | if sep { tagfld::SEPARATED } else { 0 }, b),
            }
        }
    };
    if header == 0 && !g.large() {
        return Ok((0, body));
    }
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(header);
    out.extend_from_slice(&body);
    Ok((if g.large() { 0 } else { IB_EXTENDED_INFO }, out))
}
