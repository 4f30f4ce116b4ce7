//! Reading one ESE record of an Exchange table by column name, tolerating
//! missing columns and alternative real-world names, and collecting the
//! columns that could not be decoded (named with table, page and tag) so
//! the caller can mark the item damaged instead of failing.

use std::sync::Arc;

use kairos_ese::{Record, Value};
use kairos_parsers::Source;

use super::prop_blob::{self, PropSet};

/// The source type every Exchange table is read through.
pub type Src = Arc<dyn Source>;

/// Days between the OLE Automation epoch (1899-12-30) and the FILETIME
/// epoch (1601-01-01).
const OLE_TO_FILETIME_DAYS: f64 = 109_205.0;

/// One record with the problems met while reading it.
pub struct Row<'r, 'a> {
    rec: &'r Record<'a, Src>,
    table: &'a str,
    /// Columns that were present but unreadable, and blob problems.
    pub problems: Vec<String>,
}

impl<'r, 'a> Row<'r, 'a> {
    /// Wraps a record of `table`.
    pub fn new(rec: &'r Record<'a, Src>, table: &'a str) -> Self {
        Row {
            rec,
            table,
            problems: Vec::new(),
        }
    }

    /// `Table record (page P tag T)`: where this row is, for messages.
    pub fn place(&self) -> String {
        let (page, tag) = self.rec.location();
        format!("{} record at page {page} tag {tag}", self.table)
    }

    /// ESE page of the record.
    pub fn page(&self) -> u32 {
        self.rec.location().0
    }

    /// The first of `names` that exists and is not NULL. An unreadable value
    /// is noted and the next name is tried.
    pub fn value(&mut self, names: &[&str]) -> Option<Value> {
        for name in names {
            match self.rec.get(name) {
                None | Some(Value::Null) => {}
                Some(Value::Unreadable(why)) => {
                    let place = self.place();
                    self.problems.push(format!("{place}, column {name}: {why}"));
                }
                Some(v) => return Some(v),
            }
        }
        None
    }

    /// A text column (binary columns are read as UTF-8).
    pub fn text(&mut self, names: &[&str]) -> Option<String> {
        match self.value(names)? {
            Value::Text(s) => Some(s),
            Value::Binary(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            _ => None,
        }
    }

    /// An integer column of any width.
    pub fn int(&mut self, names: &[&str]) -> Option<i64> {
        int_of(&self.value(names)?)
    }

    /// A binary column (text as its UTF-8).
    pub fn bytes(&mut self, names: &[&str]) -> Option<Vec<u8>> {
        match self.value(names)? {
            Value::Binary(b) => Some(b),
            Value::Text(s) => Some(s.into_bytes()),
            Value::Guid(g) => Some(g.to_vec()),
            _ => None,
        }
    }

    /// A time column as a FILETIME: 64-bit integers are FILETIMEs (as the
    /// store writes `DateReceived` ...), `DateTime` columns are OLE dates.
    pub fn filetime(&mut self, names: &[&str]) -> Option<u64> {
        match self.value(names)? {
            Value::DateTime(days) => {
                let ticks = (days + OLE_TO_FILETIME_DAYS) * 864_000_000_000.0;
                (ticks.is_finite() && ticks > 0.0 && ticks < 1.8e19).then_some(ticks as u64)
            }
            v => int_of(&v).and_then(|i| u64::try_from(i).ok()),
        }
    }

    /// A "ProP" blob column decoded; with `PropertyBlobDelta` merged over
    /// `PropertyBlob` when both exist. A blob that cannot be decoded is
    /// noted and yields an empty set.
    pub fn props(&mut self) -> PropSet {
        let mut set = self.blob("PropertyBlob").unwrap_or_default();
        if let Some(b) = self.bytes(&["PropertyBlobDelta"]) {
            match prop_blob::decode(&b) {
                Ok((delta, tombstones)) => set.0.merge(delta, &tombstones),
                Err(e) => {
                    let place = self.place();
                    self.problems
                        .push(format!("{place}, column PropertyBlobDelta: {e}"));
                }
            }
        }
        set.0
    }

    fn blob(&mut self, column: &str) -> Option<(PropSet, Vec<u16>)> {
        let b = self.bytes(&[column])?;
        match prop_blob::decode(&b) {
            Ok(s) => Some(s),
            Err(e) => {
                let place = self.place();
                self.problems.push(format!("{place}, column {column}: {e}"));
                None
            }
        }
    }
}

/// An integer of any column width.
fn int_of(v: &Value) -> Option<i64> {
    Some(match v {
        Value::Bit(b) => i64::from(*b),
        Value::UnsignedByte(x) => i64::from(*x),
        Value::Short(x) => i64::from(*x),
        Value::UnsignedShort(x) => i64::from(*x),
        Value::Long(x) => i64::from(*x),
        Value::UnsignedLong(x) => i64::from(*x),
        Value::LongLong(x) | Value::Currency(x) => *x,
        Value::UnsignedLongLong(x) => i64::try_from(*x).ok()?,
        _ => return None,
    })
}
