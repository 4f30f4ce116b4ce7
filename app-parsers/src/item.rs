//! The item tree every parser exposes, and that the CLI and GUI browse.
//!
//! A database, mailbox store or content database is a tree of items:
//! `Database → Table → Row`, `Mailbox → Folder → Message → Attachment`,
//! `Site → Web → Library → Folder → Document → Version`. Each item has a
//! stable [`ItemPath`] (the same string names the same item at every instant,
//! so an operator can compare 14:01 with 14:03), display fields, a status
//! (live, deleted, recovered, damaged) and the export formats it offers.
//!
//! Parsers implement [`ItemTree`]; the CLI's `ls`/`export` and the GUI's tree
//! view call only that trait.

use std::fmt;
use std::io::Write;

use serde::Serialize;

use crate::error::Result;

/// A stable, human-readable path to an item: segments joined by `/`.
///
/// Segments are item names as the application shows them (a folder name, a
/// table name, a message subject with its id). A `/` or `%` inside a segment
/// is escaped as `%2F` / `%25`, so any name round-trips and the path string
/// can be typed on a command line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(into = "String")]
pub struct ItemPath(String);

impl ItemPath {
    /// The root of a tree (empty path).
    pub fn root() -> Self {
        ItemPath(String::new())
    }

    /// Parses a path string as typed by a user: leading/trailing `/` and
    /// empty segments are ignored.
    pub fn parse(s: &str) -> Self {
        let parts: Vec<&str> = s.split('/').filter(|p| !p.is_empty()).collect();
        ItemPath(parts.join("/"))
    }

    /// The path of the child named `name` (escaped as needed).
    #[must_use]
    pub fn child(&self, name: &str) -> Self {
        let seg = escape(name);
        if self.0.is_empty() {
            ItemPath(seg)
        } else {
            ItemPath(format!("{}/{seg}", self.0))
        }
    }

    /// The parent path, or `None` at the root.
    pub fn parent(&self) -> Option<Self> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(i) => ItemPath(self.0[..i].to_owned()),
            None => ItemPath::root(),
        })
    }

    /// The unescaped segments, root first.
    pub fn segments(&self) -> Vec<String> {
        if self.0.is_empty() {
            return Vec::new();
        }
        self.0.split('/').map(unescape).collect()
    }

    /// The unescaped last segment (the item's own name), empty at the root.
    pub fn name(&self) -> String {
        self.segments().pop().unwrap_or_default()
    }

    /// True for the root path.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The escaped path string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ItemPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("/")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl From<ItemPath> for String {
    fn from(p: ItemPath) -> String {
        p.0
    }
}

fn escape(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

/// Single pass, so an escaped `%25` followed by `2F` never decodes twice.
fn unescape(seg: &str) -> String {
    let mut out = String::with_capacity(seg.len());
    let mut rest = seg;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail
            .strip_prefix("%2F")
            .or_else(|| tail.strip_prefix("%2f"))
        {
            out.push('/');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("%25") {
            out.push('%');
            rest = after;
        } else {
            out.push('%');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// What an item is; decides its icon in the GUI and which exports make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A SQL Server database (or any ESE database viewed as tables).
    Database,
    /// A table.
    Table,
    /// A table row.
    Row,
    /// An Exchange mailbox or the root of a PST/OST.
    Mailbox,
    /// A mail folder.
    Folder,
    /// An e-mail message (or any message-class item without a better kind).
    Message,
    /// A contact.
    Contact,
    /// A calendar item.
    Appointment,
    /// An attachment of a message.
    Attachment,
    /// A SharePoint site collection.
    Site,
    /// A SharePoint web.
    Web,
    /// A SharePoint document library or list.
    Library,
    /// A SharePoint document.
    Document,
    /// One version of a SharePoint document.
    Version,
}

/// Whether an item is live or came back from deleted/damaged space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "detail")]
pub enum ItemStatus {
    /// A normal, reachable item.
    Live,
    /// Deleted but still present (SQL ghost record, Recoverable Items).
    Deleted,
    /// Found by recovery scans of unreferenced space (PST orphans).
    Recovered,
    /// Partly unreadable; the detail says which page/field.
    Damaged(String),
}

/// Ways an item can be written out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// RFC 4180 CSV (tables).
    Csv,
    /// One JSON object per line (tables).
    Jsonl,
    /// `CREATE TABLE` + `INSERT` script (tables).
    Sql,
    /// RFC 5322 / MIME message.
    Eml,
    /// The original bytes (attachment, document version).
    Original,
}

/// A display value of a field; also what table exports are made of.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// SQL NULL / absent property.
    Null,
    /// A boolean.
    Bool(bool),
    /// Any integer that fits i64.
    Int(i64),
    /// Floating point.
    Float(f64),
    /// Exact decimal, kept as text so no precision is lost.
    Decimal(String),
    /// Text.
    Text(String),
    /// Date/time without time zone, ISO 8601 (`2026-11-24T10:15:00.123`).
    DateTime(String),
    /// Bytes.
    Binary(Vec<u8>),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldValue::Null => Ok(()),
            FieldValue::Bool(b) => write!(f, "{}", u8::from(*b)),
            FieldValue::Int(i) => write!(f, "{i}"),
            FieldValue::Float(x) => write!(f, "{x}"),
            FieldValue::Decimal(s) | FieldValue::Text(s) | FieldValue::DateTime(s) => {
                f.write_str(s)
            }
            FieldValue::Binary(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02X}"))
            }
        }
    }
}

/// A named display field of an item (subject, row count, size, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Column or property name.
    pub name: String,
    /// Its value.
    pub value: FieldValue,
}

/// One node of the item tree.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// Stable path (see [`ItemPath`]).
    pub path: ItemPath,
    /// What it is.
    pub kind: ItemKind,
    /// Display name (last path segment, unescaped).
    pub name: String,
    /// Display fields, in display order.
    pub fields: Vec<Field>,
    /// Whether it may have children (lets a GUI draw an expander without
    /// listing them).
    pub has_children: bool,
    /// Live, deleted, recovered or damaged.
    pub status: ItemStatus,
    /// Export formats this item offers.
    pub exports: Vec<ExportKind>,
}

impl Item {
    /// Looks up a display field by name.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| &f.value)
    }
}

/// What every application parser offers the CLI and the GUI.
///
/// Implementations open lazily: `children` of one node reads only the pages
/// that node needs. Errors name the source and the item path.
pub trait ItemTree {
    /// The children of `path` (the root's children for [`ItemPath::root`]).
    fn children(&self, path: &ItemPath) -> Result<Vec<Item>>;
    /// The item at `path`.
    fn item(&self, path: &ItemPath) -> Result<Item>;
    /// Writes the item at `path` in format `kind` to `out`.
    fn export(&self, path: &ItemPath, kind: ExportKind, out: &mut dyn Write) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn paths_escape_separators_in_names() {
        let p = ItemPath::root().child("Inbox").child("Q3/Q4 plans 100%");
        assert_eq!(p.as_str(), "Inbox/Q3%2FQ4 plans 100%25");
        assert_eq!(p.segments(), vec!["Inbox", "Q3/Q4 plans 100%"]);
        assert_eq!(p.name(), "Q3/Q4 plans 100%");
        assert_eq!(p.parent().map(|x| x.to_string()), Some("Inbox".into()));
        assert_eq!(
            ItemPath::parse("/Inbox//Sub/"),
            ItemPath::root().child("Inbox").child("Sub")
        );
        assert_eq!(ItemPath::root().to_string(), "/");
        assert!(ItemPath::root().parent().is_none());
    }

    #[test]
    fn field_values_display_as_exports_expect() {
        assert_eq!(FieldValue::Binary(vec![0xAB, 0x01]).to_string(), "0xAB01");
        assert_eq!(FieldValue::Null.to_string(), "");
        assert_eq!(FieldValue::Bool(true).to_string(), "1");
        assert_eq!(FieldValue::Decimal("12.3400".into()).to_string(), "12.3400");
    }

    proptest! {
        #[test]
        fn any_names_round_trip(names in proptest::collection::vec("[^\u{0}]{1,12}", 1..5)) {
            let mut p = ItemPath::root();
            for n in &names { p = p.child(n); }
            prop_assert_eq!(p.segments(), names.clone());
            prop_assert_eq!(ItemPath::parse(p.as_str()), p);
        }
    }
}
