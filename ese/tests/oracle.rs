//! Every ESE sample against the libesedb oracle (`oracle/<file>/`):
//! table names and record counts, then every cell of every exported table.
//!
//! Our values are typed; the oracle is esedbexport's text. We render each
//! value the way esedbexport 20181229 prints it. Formatting normalizations
//! (properties of esedbexport's printer, not of the data):
//!
//! 1. Currency is printed as an unsigned 64-bit number; LongLong stays
//!    signed. IEEEDouble is printed with C's `%f` (6 decimals).
//! 2. DateTime is printed either as the two raw 32-bit words
//!    `(0xHIGH 0xLOW)` or, for columns libesedb recognises by name
//!    (SRUM/UAL timestamps), as a date `Mon DD, YYYY HH:MM:SS.fffffffff`; we
//!    compare the raw words in the first case and the instant in the second,
//!    within one second (libfdatetime's OLE-date conversion prints 12:12:00
//!    as 12:11:59.231). Integers and 8-byte Binary columns that libesedb
//!    knows hold FILETIMEs (SRUM, Windows Search big-endian) are likewise
//!    printed as dates (or raw words); we read our bytes as a FILETIME and
//!    compare the instant to the second.
//! 3. GUIDs are printed as the 16 raw bytes in hex (no Windows byte order).
//! 4. Binary is lowercase hex; text escapes `\`, tab, CR and LF with a
//!    backslash; multi-values are joined with `; ` — the same as ours.
//! 5. Text is printed as a C string, ending at the first NUL (a Windows
//!    Search column declared code page 1252 holds UTF-16 bytes: `S\0y\0s...`
//!    prints as `S`); we truncate our text there too.
//!
//! Systematic esedbexport errors, each accepted only through an exact
//! correspondence with our value (so both readers provably saw the same
//! bytes):
//!
//! 6. It ignores the fixed-column null bitmap and prints the bytes left in a
//!    NULL column's slot (the engine's `rec.hxx` `FFixedNullBit`: bit set =
//!    NULL, `JET_wrnColumnNull`). For a cell we read as NULL for that reason,
//!    the oracle must show exactly those stale slot bytes.
//! 7. It prints every IEEESingle as `0.000000`; such cells are accepted only
//!    when the oracle shows exactly that, and the values themselves are
//!    checked in `independent.rs` (dissect: 1.0, -2.0; ese_parser: 3.141592).
//! 8. Values compressed with 7-bit Unicode decompress to UTF-16 code units
//!    (engine `ErrDecompress7BitUnicode_` writes WORDs); libesedb emits one
//!    byte per unit. The oracle must equal our bytes with every (zero) high
//!    byte removed, allowing one extra trailing zero unit: libesedb sizes the
//!    output as `(len-1)*8/7` units where the engine uses the final-bits count
//!    of the header byte, `((len-2)*8 + final)/7`.
//! 9. It mis-decodes UTF-16 surrogate pairs (🦊 U+1F98A comes out as 🖋
//!    U+1F58B). Both sides have each non-BMP character replaced by U+FFFD;
//!    the exact characters are checked in `independent.rs`.
//!
//! Where esedbexport is wrong about the data itself in other ways (MANIFEST
//! "ORACLE CAVEAT", and 64-bit LIDs it cannot read), the column is listed in
//! [`CAVEATS`] with the reason, and `independent.rs` proves our value from the
//! sample's own generator expectations (dissect.esedb / ese_parser tests) or
//! from the row's other columns. Any other mismatch fails, and a caveat that
//! no longer hides a mismatch fails too.

mod common;

use std::collections::BTreeMap;

use kairos_ese::{Column, ColumnType, Database, Value};
use kairos_parsers::MemSource;

/// (file, table, column, why esedbexport's cell is not the data).
const CAVEATS: &[(&str, &str, &str, &str)] = &[
    (
        "dissect_multi.edb",
        "multi",
        "IEEESingle",
        "esedbexport drops multi-valued fixed-size columns",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "Bit",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "UnsignedByte",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "Short",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "Long",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "Currency",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "IEEEDouble",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "DateTime",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "UnsignedLong",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "LongLong",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "GUID",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "UnsignedShort",
        "multi-valued fixed-size column dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "Binary",
        "multi-valued binary dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "LongBinary",
        "multi-valued long binary dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "LongCompressedBinary",
        "multi-valued long binary dropped",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "LongASCII",
        "separated multi-values printed as LIDs/control characters",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "LongUnicode",
        "separated multi-values printed as LIDs/control characters",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "LongCompressedASCII",
        "compressed multi-values not decompressed",
    ),
    (
        "dissect_multi.edb",
        "multi",
        "LongCompressedUnicode",
        "compressed multi-values not decompressed",
    ),
    (
        "dissect_binary.edb",
        "binary",
        "LongCompressedBinary",
        "compressed long value left empty",
    ),
    (
        "dissect_text.edb",
        "text",
        "FixedUnicode",
        "fixed UTF-16 column truncated to its first character",
    ),
    (
        "dissect_text.edb",
        "text",
        "NullableFixedUnicode",
        "NULL fixed UTF-16 column printed as its stale bytes read as single-byte text (odd slot length)",
    ),
    (
        "dissect_text.edb",
        "text",
        "LongUnicode",
        "long UTF-16 value left empty",
    ),
    (
        "dissect_text.edb",
        "text",
        "LongCompressedASCII",
        "compressed long value left empty",
    ),
    (
        "dissect_text.edb",
        "text",
        "LongCompressedUnicode",
        "compressed long value left empty",
    ),
    (
        "dissect_text.edb",
        "text",
        "MaxLongCompressedASCII",
        "7-bit ASCII decoded as UTF-16 garbage",
    ),
    (
        "dissect_text.edb",
        "text",
        "MaxLongCompressedUnicode",
        "compressed long value left empty",
    ),
    (
        "dissect_default.edb",
        "default",
        "LongBinary",
        "long default values left empty",
    ),
    (
        "dissect_default.edb",
        "default",
        "LongASCII",
        "long default values left empty",
    ),
    (
        "dissect_default.edb",
        "default",
        "LongUnicode",
        "long default values left empty",
    ),
    (
        "dfirmuseum_winsearch-w10-clean_Windows.edb.gz",
        "SystemIndex_1",
        "IndexDescription",
        "64-bit LIDs (separated values) not supported by libesedb 20181229: left empty",
    ),
    (
        "dfirmuseum_winsearch-w10-clean_Windows.edb.gz",
        "SystemIndex_1_Properties",
        "Property",
        "64-bit LIDs left empty",
    ),
    (
        "dfirmuseum_winsearch-w10-clean_Windows.edb.gz",
        "SystemIndex_Gthr",
        "UserData",
        "64-bit LIDs left empty",
    ),
    (
        "dfirmuseum_winsearch-w10-dirty_Windows.edb.gz",
        "SystemIndex_1",
        "IndexDescription",
        "64-bit LIDs left empty",
    ),
    (
        "dfirmuseum_winsearch-w10-dirty_Windows.edb.gz",
        "SystemIndex_1_Properties",
        "Property",
        "64-bit LIDs left empty",
    ),
    (
        "dfirmuseum_winsearch-w10-dirty_Windows.edb.gz",
        "SystemIndex_Gthr",
        "UserData",
        "64-bit LIDs left empty",
    ),
    (
        "sfese_test.edb",
        "TestTable",
        "Binary",
        "multi-valued binary left empty",
    ),
    (
        "sfese_test.edb",
        "TestTable",
        "LongBinary",
        "multi-valued long binary left empty",
    ),
    (
        "sfese_test.edb",
        "TestTable",
        "Text",
        "multi-valued text left empty",
    ),
    (
        "sfese_test.edb",
        "TestTable",
        "LongText",
        "compressed long text left empty",
    ),
    (
        "sfese_test.edb",
        "TestTable",
        "TextDefaultValue",
        "default value left empty",
    ),
    (
        "sfese_decompress_test2.edb",
        "test_table",
        "compressed_unicode",
        "LZXPRESS value garbage / empty",
    ),
    (
        "sfese_decompress_test2.edb",
        "test_table",
        "compressed_ascii",
        "LZXPRESS value left empty",
    ),
    (
        "sfese_decompress_test2.edb",
        "test_table",
        "compressed_binary",
        "LZXPRESS value left empty",
    ),
    (
        "sfese_decompress_test2.edb",
        "test_table",
        "usual_text",
        "long value left empty",
    ),
];

fn u64_of(v: f64) -> u64 {
    v.to_bits()
}

/// Replaces characters outside the BMP with U+FFFD (item 9).
fn bmp_only(s: &str) -> String {
    s.chars()
        .map(|c| if (c as u32) > 0xffff { '\u{fffd}' } else { c })
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// Our value printed as esedbexport prints it (normalizations 1–5).
fn esedbexport_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bit(b) => b.to_string(),
        Value::UnsignedByte(x) => x.to_string(),
        Value::Short(x) => x.to_string(),
        Value::Long(x) => x.to_string(),
        Value::Currency(x) => (*x as u64).to_string(),
        Value::LongLong(x) => x.to_string(),
        Value::IeeeSingle(x) => format!("{x:.6}"),
        Value::IeeeDouble(x) => format!("{x:.6}"),
        Value::DateTime(x) => {
            let bits = u64_of(*x);
            format!("(0x{:08x} 0x{:08x})", bits >> 32, bits & 0xffff_ffff)
        }
        Value::Binary(b) => kairos_ese::value::hex(b),
        // item 5: a C string ends at the first NUL
        Value::Text(s) => escape(s.split('\0').next().unwrap_or("")),
        Value::UnsignedLong(x) => x.to_string(),
        Value::Guid(g) => kairos_ese::value::hex(g),
        Value::UnsignedShort(x) => x.to_string(),
        Value::UnsignedLongLong(x) => x.to_string(),
        Value::Multi(vs) => vs
            .iter()
            .map(esedbexport_text)
            .collect::<Vec<_>>()
            .join("; "),
        Value::Unreadable(why) => format!("<unreadable: {why}>"),
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Parses esedbexport's `Mon DD, YYYY HH:MM:SS.fffffffff` into our ISO form
/// truncated to milliseconds.
/// Milliseconds since 1970 of our ISO form `YYYY-MM-DDTHH:MM:SS.mmm`.
fn iso_ms(iso: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| iso.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    // days from civil (Howard Hinnant), independent of the crate's converter
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(
        days * 86_400_000
            + num(11..13)? * 3_600_000
            + num(14..16)? * 60_000
            + num(17..19)? * 1000
            + num(20..23)?,
    )
}

fn oracle_date_to_iso_ms(s: &str) -> Option<String> {
    let (mon, rest) = s.split_once(' ')?;
    let m = MONTHS.iter().position(|x| *x == mon)? + 1;
    let (day, rest) = rest.split_once(", ")?;
    let (year, time) = rest.split_once(' ')?;
    let (hms, frac) = time.split_once('.')?;
    Some(format!(
        "{year}-{m:02}-{:02}T{hms}.{}",
        day.parse::<u32>().ok()?,
        frac.get(..3)?
    ))
}

/// The bytes left in a fixed column's slot when its null bit is set
/// (item 6), decoded as the column's type.
fn stale_fixed_slot(column: &Column, record: &[u8]) -> Option<Value> {
    let fixed_last = u32::from(*record.first()?);
    if column.id > 127 || column.id > fixed_last {
        return None;
    }
    let at = column.record_offset as usize;
    let slot = record.get(at..at + column.fixed_len())?;
    Some(Value::from_bytes(column, slot))
}

/// Does our value match the oracle cell, after the documented normalizations?
fn cell_matches(column: &Column, ours: &Value, oracle: &str, record: &[u8]) -> bool {
    if bmp_only(&esedbexport_text(ours)) == bmp_only(oracle) {
        return true;
    }
    if column.coltyp == ColumnType::IeeeSingle
        && matches!(ours, Value::IeeeSingle(_))
        && oracle == "0.000000"
    {
        return true;
    }
    if let (Value::LongLong(x) | Value::Currency(x), Some(theirs)) =
        (ours, oracle_date_to_iso_ms(oracle))
    {
        // item 2 for integers: SRUM FILETIME columns
        return kairos_ese::value::filetime_to_iso(*x as u64)
            .is_some_and(|iso| iso.get(..19) == theirs.get(..19));
    }
    if let Value::Binary(b) = ours
        && b.chunks(2).all(|c| c.get(1) == Some(&0))
        && let narrow = kairos_ese::value::hex(&b.iter().step_by(2).copied().collect::<Vec<u8>>())
        && (narrow == oracle || format!("{narrow}00") == oracle)
    {
        // item 8: 7-bit Unicode compression decompresses to UTF-16
        // code units (engine `ErrDecompress7BitUnicode_` writes WORDs);
        // libesedb 20181229 emits one byte per unit. The oracle must equal
        // our bytes with every (zero) high byte removed.
        return true;
    }
    if let Value::Binary(b) = ours
        && let Ok(bytes) = <[u8; 8]>::try_from(b.as_slice())
    {
        // item 2: Windows Search keeps FILETIMEs as 8 big-endian
        // bytes in Binary columns; esedbexport renders those as dates (or
        // as the two raw words when they are not a valid date).
        let readings = [u64::from_be_bytes(bytes), u64::from_le_bytes(bytes)];
        if let Some(theirs) = oracle_date_to_iso_ms(oracle) {
            return readings
                .into_iter()
                .filter_map(kairos_ese::value::filetime_to_iso)
                .any(|iso| iso.get(..19) == theirs.get(..19));
        }
        return readings
            .iter()
            .any(|v| format!("(0x{:08x} 0x{:08x})", v >> 32, v & 0xffff_ffff) == oracle);
    }
    if ours.is_null()
        && let Some(stale) = stale_fixed_slot(column, record)
    {
        return cell_matches(column, &stale, oracle, &[]);
    }
    if let (ColumnType::DateTime, Value::DateTime(days)) = (column.coltyp, ours)
        && !oracle.starts_with('(')
    {
        // item 2: compare the instant to the millisecond, allowing
        // one millisecond of rounding difference
        let Some(theirs) = oracle_date_to_iso_ms(oracle) else {
            return false;
        };
        // (our reading includes FILETIMEs stored in DateTime columns, see
        // `kairos_ese::value::datetime_to_iso`); libfdatetime's conversion of
        // OLE dates loses up to a second (12:12:00 prints as 12:11:59.231),
        // so instants within one second match.
        return kairos_ese::value::datetime_to_iso(*days)
            .and_then(|iso| iso_ms(&iso))
            .zip(iso_ms(&theirs))
            .is_some_and(|(a, b)| (a - b).abs() < 1000);
    }
    false
}

fn caveat(file: &str, table: &str, column: &str) -> Option<&'static str> {
    CAVEATS
        .iter()
        .find(|(f, t, c, _)| *f == file && *t == table && *c == column)
        .map(|c| c.3)
}

fn open(file: &str) -> Database<MemSource> {
    Database::open(common::load(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn table_names_and_record_counts_equal_the_oracle() {
    for file in common::manifest_files() {
        let db = open(&file);
        let ours: Vec<&str> = db.tables().iter().map(|t| t.name.as_str()).collect();
        let oracle = common::oracle_tables(&file);
        // esedbexport lists tables in catalog order, as we do; where it
        // aborted (FAILED), it listed a prefix of them.
        assert!(
            oracle.len() <= ours.len(),
            "{file}: oracle lists {} tables, we list {}",
            oracle.len(),
            ours.len()
        );
        for (i, o) in oracle.iter().enumerate() {
            assert_eq!(ours[i], o.name, "{file}: table {i}");
            let table = db.table(&o.name).expect("table");
            let stats = db.table_stats(table).expect("stats");
            if o.ok {
                assert_eq!(stats.records, o.records, "{file}: {} record count", o.name);
            } else {
                // esedbexport aborted inside this table after writing
                // `records` rows; we must read at least as many.
                assert!(stats.records >= o.records, "{file}: {}", o.name);
            }
        }
    }
}

#[test]
fn every_cell_equals_the_oracle_export_or_a_documented_caveat() {
    let mut caveat_hits: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut unexplained: BTreeMap<(String, String, String), (usize, String)> = BTreeMap::new();
    let mut cells = 0usize;
    for file in common::manifest_files() {
        let db = open(&file);
        for o in common::oracle_tables(&file).iter().filter(|o| o.ok) {
            let table = db.table(&o.name).expect("table");
            let rows = common::oracle_rows(&file, &o.export_file);
            let header: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(rows[0], header, "{file}: {} header", o.name);
            let mut n = 0usize;
            for (r, record) in db.records(table).enumerate() {
                let record = record.expect("record");
                let oracle_row = &rows[r + 1];
                for (i, column) in table.columns.iter().enumerate() {
                    let ours = record.value(i);
                    let theirs = oracle_row.get(i).map_or("", String::as_str);
                    cells += 1;
                    if cell_matches(column, &ours, theirs, record.bytes()) {
                        continue;
                    }
                    let key = (file.clone(), o.name.clone(), column.name.clone());
                    if caveat(&file, &o.name, &column.name).is_some() {
                        *caveat_hits.entry(key).or_default() += 1;
                    } else {
                        let e = unexplained.entry(key).or_insert_with(|| (0, String::new()));
                        if e.0 == 0 {
                            let ours = esedbexport_text(&ours);
                            e.1 = format!(
                                "row {r} ({}): ours {:?}, oracle {theirs:?}",
                                column.coltyp.name(),
                                ours.get(..ours.len().min(120)).unwrap_or(&ours)
                            );
                        }
                        e.0 += 1;
                    }
                }
                n += 1;
            }
            assert_eq!(n as u64, o.records, "{file}: {} rows", o.name);
        }
    }
    let report: Vec<String> = unexplained
        .iter()
        .map(|((f, t, c), (n, first))| format!("{f}/{t}/{c}: {n} cells, first {first}"))
        .collect();
    assert!(
        report.is_empty(),
        "cells differing from the oracle without a documented caveat:\n{}",
        report.join("\n")
    );
    assert!(cells > 100_000, "compared only {cells} cells");
    // Every caveat is real: each one was needed at least once (a caveat that
    // no longer differs must be removed so it cannot hide a regression).
    let unused: Vec<String> = CAVEATS
        .iter()
        .filter(|(f, t, c, _)| {
            !caveat_hits.contains_key(&((*f).to_owned(), (*t).to_owned(), (*c).to_owned()))
        })
        .map(|(f, t, c, why)| format!("{f}/{t}/{c} ({why})"))
        .collect();
    assert!(
        unused.is_empty(),
        "caveats that matched no mismatch:\n{}",
        unused.join("\n")
    );
}
