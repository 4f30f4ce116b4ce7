//! [`EdbStore`]: mailboxes, folders and message listings of an Exchange
//! database.
//!
//! Keys (stable across instants of the same database, free of `/[]`):
//! mailbox `N` (its `MailboxNumber`), folder `N.F<hex FolderId>`, message
//! `N.<MessageDocumentId>`; `N.O` is the synthetic folder
//! [`UNFILED`] listed last among the top folders: messages whose `FolderId`
//! names no listed folder (the root itself, or a folder row lost to damage)
//! — scanned only when opened.
//!
//! Listing reads `Mailbox` and `Folder_N` only; a folder's message list
//! scans `Message_N` reading the small columns and the property blob, never
//! `NativeBody` or attachment content. One message by key is a keyed seek
//! (`MailStore::message` via `Database::seek`), falling back to the scan.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use kairos_ese::{Database, Table};
use kairos_parsers::{Error, ItemStatus, Location, Result};

use super::message;
use super::prop_blob::PropSet;
use super::row::{Row, Src};
use super::tags;
use crate::model::{
    FolderInfo, Key, MailStore, MailboxInfo, Message, MessageSummary, timestamp_from_filetime,
};

/// `SpecialFolderNumber` of Recoverable Items (exchange-store.md §8.1); its
/// subfolders (Deletions 21, Versions 22, ...) hold deleted items.
const RECOVERABLE_ITEMS: i64 = 20;

/// Name of the synthetic top folder holding messages of no listed folder.
pub const UNFILED: &str = "(messages without a folder)";

/// What a folder key names.
enum FolderRef {
    /// A `Folder_N` row by `FolderId`.
    Id(Vec<u8>),
    /// The synthetic [`UNFILED`] folder.
    Unfiled,
}

/// One `Folder_N` row.
#[derive(Debug, Clone)]
struct FolderRow {
    id: Vec<u8>,
    parent: Vec<u8>,
    name: String,
    class: Option<String>,
    special: Option<i64>,
    /// In or under Recoverable Items.
    deleted_area: bool,
}

/// An Exchange mailbox database as a [`MailStore`].
pub struct EdbStore {
    db: Database<Src>,
    /// Mailbox numbers that have a `Folder_N` table.
    numbers: Vec<i32>,
    folders: Mutex<HashMap<i32, Arc<Vec<FolderRow>>>>,
    notes: Mutex<BTreeSet<String>>,
    /// The message built last: a path is often resolved twice in a row
    /// (item, then export).
    last: Mutex<Option<Message>>,
}

/// True when the catalog has the per-mailbox folder tables of the
/// Exchange 2010+ store.
pub fn has_exchange_tables(tables: &[Table]) -> bool {
    tables.iter().any(|t| mailbox_number(&t.name).is_some())
}

/// `N` of a `Folder_N` table name.
fn mailbox_number(table: &str) -> Option<i32> {
    let n = table.strip_prefix("Folder_")?;
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| n.parse().ok())
        .flatten()
}

fn is_zero(id: &[u8]) -> bool {
    id.iter().all(|&b| b == 0)
}

impl EdbStore {
    /// Opens the database (header and catalog only) and checks it has the
    /// Exchange mailbox tables.
    pub fn open(source: Src) -> Result<Self> {
        let name = source.name().to_owned();
        let db = Database::open(source)?;
        if !has_exchange_tables(db.tables()) {
            return Err(Error::NotFound {
                source_name: name,
                what: "ESE database without the Exchange mailbox tables (use `kairos ese tables`): Mailbox / Folder_N".into(),
            });
        }
        let mut numbers: Vec<i32> = db
            .tables()
            .iter()
            .filter_map(|t| mailbox_number(&t.name))
            .collect();
        numbers.sort_unstable();
        numbers.dedup();
        Ok(EdbStore {
            db,
            numbers,
            folders: Mutex::new(HashMap::new()),
            notes: Mutex::new(BTreeSet::new()),
            last: Mutex::new(None),
        })
    }

    /// The ESE database underneath.
    pub fn database(&self) -> &Database<Src> {
        &self.db
    }

    /// Things read but not fully understood (unknown property type bytes),
    /// one sentence each, collected as items are read.
    pub fn notes(&self) -> Vec<String> {
        self.notes
            .lock()
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub(super) fn note(&self, text: String) {
        if let Ok(mut n) = self.notes.lock() {
            n.insert(text);
        }
    }

    fn not_found(&self, what: String) -> Error {
        Error::NotFound {
            source_name: self.db.source_name().to_owned(),
            what,
        }
    }

    fn bad_key(&self, key: &str) -> Error {
        self.not_found(format!("item key {key:?}"))
    }

    /// The table `Kind_N`.
    pub(super) fn table(&self, kind: &str, n: i32) -> Result<&Table> {
        self.db.table(&format!("{kind}_{n}"))
    }

    /// Every live record of `table`, each passed to `f` as a [`Row`]; `f`
    /// returns `Some` to stop. A page that cannot be read ends the scan with
    /// its error.
    pub(super) fn scan<T>(
        &self,
        table: &Table,
        mut f: impl FnMut(&mut Row<'_, '_>) -> Option<T>,
    ) -> Result<Option<T>> {
        for rec in self.db.records(table) {
            let rec = rec?;
            let mut row = Row::new(&rec, &table.name);
            if let Some(t) = f(&mut row) {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// The record of `table` whose primary index is exactly the integer
    /// columns `key` (name, value) in that order, found by a keyed seek
    /// (O(depth) pages) and passed to `f`. `Ok(None)` when the table's
    /// primary index is other columns (another Exchange version's schema),
    /// a value does not fit its column, the seek path is damaged, or no
    /// record has that key: the caller then scans.
    pub(super) fn seek<T>(
        &self,
        table: &Table,
        key: &[(&str, i64)],
        f: impl FnOnce(&mut Row<'_, '_>) -> T,
    ) -> Result<Option<T>> {
        if table.primary_key.len() != key.len() {
            return Ok(None);
        }
        let mut values = Vec::with_capacity(key.len());
        for (seg, (name, v)) in table.primary_key.iter().zip(key) {
            let column = table.columns.iter().find(|c| c.id == seg.column);
            match column.filter(|c| c.name == *name) {
                Some(c) => match kairos_ese::key::int_value(c.coltyp, *v) {
                    Some(value) => values.push(value),
                    None => return Ok(None),
                },
                None => return Ok(None),
            }
        }
        match self.db.seek(table, &values) {
            Ok(Some(rec)) => Ok(Some(f(&mut Row::new(&rec, &table.name)))),
            Ok(None) => Ok(None),
            Err(e) if e.is_damage() || matches!(e, Error::Unsupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Files what a decoded blob did not understand: what lost nothing as a
    /// store note, lossy problems on the row (they make the item damaged).
    pub(super) fn blob_notes(&self, props: &PropSet, row: &mut Row<'_, '_>) {
        for p in &props.notes {
            self.note(format!("{}: {p}", row.place()));
        }
        for p in &props.problems {
            let place = row.place();
            row.problems.push(format!("{place}, PropertyBlob: {p}"));
        }
    }

    /// The folder rows of mailbox `n` (read once).
    fn folder_rows(&self, n: i32) -> Result<Arc<Vec<FolderRow>>> {
        if let Some(f) = self.folders.lock().ok().and_then(|c| c.get(&n).cloned()) {
            return Ok(f);
        }
        let table = self.table("Folder", n)?;
        let mut rows = Vec::new();
        self.scan::<()>(table, |row| {
            let props = row.props();
            self.blob_notes(&props, row);
            let Some(id) = row.bytes(&["FolderId"]) else {
                self.note(format!("{}: no FolderId, folder skipped", row.place()));
                return None;
            };
            let name = row
                .text(&["DisplayName"])
                .or_else(|| props.str(tags::DISPLAY_NAME).map(str::to_owned))
                .unwrap_or_default();
            let class = row
                .text(&["ContainerClass"])
                .or_else(|| props.str(tags::CONTAINER_CLASS).map(str::to_owned))
                .filter(|c| !c.is_empty());
            rows.push(FolderRow {
                id,
                parent: row.bytes(&["ParentFolderId"]).unwrap_or_default(),
                name,
                class,
                special: row.int(&["SpecialFolderNumber"]),
                deleted_area: false,
            });
            None
        })?;
        mark_deleted_area(&mut rows);
        let rows = Arc::new(rows);
        if let Ok(mut c) = self.folders.lock() {
            c.insert(n, Arc::clone(&rows));
        }
        Ok(rows)
    }

    fn folder_info(n: i32, f: &FolderRow) -> FolderInfo {
        FolderInfo {
            key: format!("{n}.F{}", hex(&f.id)),
            name: f.name.clone(),
            container_class: f.class.clone(),
            status: ItemStatus::Live,
        }
    }

    /// Mailbox number and folder id of a folder key.
    fn parse_folder_key(&self, key: &str) -> Result<(i32, FolderRef)> {
        let (n, rest) = key.split_once('.').ok_or_else(|| self.bad_key(key))?;
        let n = n.parse().map_err(|_| self.bad_key(key))?;
        let r = match rest.strip_prefix('F') {
            Some(id) => FolderRef::Id(unhex(id).ok_or_else(|| self.bad_key(key))?),
            None if rest == "O" => FolderRef::Unfiled,
            None => return Err(self.bad_key(key)),
        };
        Ok((n, r))
    }

    /// Mailbox number and document id of a message key.
    fn parse_message_key(&self, key: &str) -> Result<(i32, i64)> {
        let (n, doc) = key.split_once('.').ok_or_else(|| self.bad_key(key))?;
        match (n.parse(), doc.parse()) {
            (Ok(n), Ok(doc)) => Ok((n, doc)),
            _ => Err(self.bad_key(key)),
        }
    }

    /// Whether the messages of folder `id` of mailbox `n` are deleted items.
    pub(super) fn in_deleted_area(&self, n: i32, folder_id: &[u8]) -> bool {
        self.folder_rows(n).is_ok_and(|rows| {
            rows.iter()
                .any(|f| f.id.as_slice() == folder_id && f.deleted_area)
        })
    }

    fn corrupt(&self, at: Location, field: String, detail: String) -> Error {
        Error::corrupt(self.db.source_name(), at, field, detail)
    }

    pub(super) fn row_error(&self, row: &Row<'_, '_>, field: &str, detail: String) -> Error {
        self.corrupt(
            Location::page(u64::from(row.page())),
            format!("{} {field}", row.place()),
            detail,
        )
    }
}

/// Marks Recoverable Items (special number 20, or the folder of that name
/// directly under a root) and everything under it.
fn mark_deleted_area(rows: &mut [FolderRow]) {
    let roots: Vec<Vec<u8>> = rows
        .iter()
        .filter(|f| is_zero(&f.parent))
        .map(|f| f.id.clone())
        .collect();
    let mut marked: Vec<Vec<u8>> = rows
        .iter()
        .filter(|f| {
            f.special == Some(RECOVERABLE_ITEMS)
                || (f.name == "Recoverable Items" && roots.contains(&f.parent))
        })
        .map(|f| f.id.clone())
        .collect();
    // Breadth-first over the parent links; bounded by the row count so a
    // cycle in damaged data cannot loop.
    for _ in 0..rows.len() {
        let more: Vec<Vec<u8>> = rows
            .iter()
            .filter(|f| marked.contains(&f.parent) && !marked.contains(&f.id))
            .map(|f| f.id.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        marked.extend(more);
    }
    for f in rows.iter_mut() {
        f.deleted_area = marked.contains(&f.id);
    }
}

/// Lowercase hex.
fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

impl MailStore for EdbStore {
    fn source_name(&self) -> &str {
        self.db.source_name()
    }

    fn mailboxes(&self) -> Result<Vec<MailboxInfo>> {
        let file_notes: Vec<String> = self.db.warnings().iter().map(ToString::to_string).collect();
        let mut named: HashMap<i32, String> = HashMap::new();
        let mut notes = file_notes.clone();
        if let Ok(table) = self.db.table("Mailbox") {
            let scanned = self.scan::<()>(table, |row| {
                if let Some(n) = row
                    .int(&["MailboxNumber"])
                    .and_then(|n| i32::try_from(n).ok())
                {
                    let name = row
                        .text(&["MailboxOwnerDisplayName", "DisplayName"])
                        .unwrap_or_default();
                    named.insert(n, name);
                }
                None
            });
            if let Err(e) = scanned {
                notes.push(format!("Mailbox table partly unreadable: {e}"));
            }
        }
        let mut out = Vec::new();
        for &n in &self.numbers {
            let name = named
                .get(&n)
                .filter(|s| !s.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("Mailbox {n}"));
            let mut notes = notes.clone();
            if !named.contains_key(&n) {
                notes.push(format!("no row in the Mailbox table for Folder_{n}"));
            }
            out.push(MailboxInfo {
                key: n.to_string(),
                name,
                notes,
            });
        }
        for n in named.keys().filter(|n| !self.numbers.contains(n)) {
            self.note(format!("Mailbox {n} has no Folder_{n} table"));
        }
        Ok(out)
    }

    fn top_folders(&self, mailbox: &Key) -> Result<Vec<FolderInfo>> {
        let n: i32 = mailbox.parse().map_err(|_| self.bad_key(mailbox))?;
        let rows = self.folder_rows(n)?;
        let ids: BTreeSet<&[u8]> = rows.iter().map(|f| f.id.as_slice()).collect();
        let roots: BTreeSet<&[u8]> = rows
            .iter()
            .filter(|f| is_zero(&f.parent) || f.parent == f.id)
            .map(|f| f.id.as_slice())
            .collect();
        // The root's children, plus folders whose parent is missing (shown
        // at the top rather than lost), plus the synthetic unfiled folder.
        let mut out: Vec<FolderInfo> = rows
            .iter()
            .filter(|f| {
                !roots.contains(f.id.as_slice())
                    && (roots.contains(f.parent.as_slice()) || !ids.contains(f.parent.as_slice()))
            })
            .map(|f| Self::folder_info(n, f))
            .collect();
        out.push(FolderInfo {
            key: format!("{n}.O"),
            name: UNFILED.into(),
            container_class: None,
            status: ItemStatus::Live,
        });
        Ok(out)
    }

    fn sub_folders(&self, folder: &Key) -> Result<Vec<FolderInfo>> {
        let (n, r) = self.parse_folder_key(folder)?;
        let FolderRef::Id(id) = r else {
            return Ok(Vec::new());
        };
        let rows = self.folder_rows(n)?;
        Ok(rows
            .iter()
            .filter(|f| f.parent == id && f.id != id)
            .map(|f| Self::folder_info(n, f))
            .collect())
    }

    fn messages(&self, folder: &Key) -> Result<Vec<MessageSummary>> {
        let (n, r) = self.parse_folder_key(folder)?;
        let rows = self.folder_rows(n)?;
        // Folders a message can be listed in: every row but the roots.
        let listed: BTreeSet<&[u8]> = rows
            .iter()
            .filter(|f| !(is_zero(&f.parent) || f.parent == f.id))
            .map(|f| f.id.as_slice())
            .collect();
        let table = self.table("Message", n)?;
        let mut out = Vec::new();
        self.scan::<()>(table, |row| {
            let folder_id = row.bytes(&["FolderId"]);
            let wanted = match &r {
                FolderRef::Id(id) => folder_id.as_deref() == Some(id.as_slice()),
                FolderRef::Unfiled => folder_id.is_none_or(|f| !listed.contains(f.as_slice())),
            };
            if !wanted || row.int(&["IsHidden", "IsAssociated"]).unwrap_or(0) != 0 {
                return None;
            }
            match message::summary(self, n, row) {
                Ok(s) => out.push(s),
                Err(e) => self.note(e.to_string()),
            }
            None
        })?;
        Ok(out)
    }

    fn message(&self, key: &Key) -> Result<Message> {
        if let Some(m) = self
            .last
            .lock()
            .ok()
            .and_then(|l| l.as_ref().filter(|m| &m.key == key).cloned())
        {
            return Ok(m);
        }
        let (n, doc) = self.parse_message_key(key)?;
        let table = self.table("Message", n)?;
        // The generator's and Exchange's key: (MailboxPartitionNumber =
        // the mailbox number, MessageDocumentId); a miss falls back to the
        // scan, which also covers partitions numbered otherwise.
        let keyed = self.seek(
            table,
            &[
                ("MailboxPartitionNumber", i64::from(n)),
                ("MessageDocumentId", doc),
            ],
            |row| message::build(self, n, row),
        )?;
        let m = match keyed {
            Some(m) => m?,
            None => self
                .scan(table, |row| {
                    (row.int(&["MessageDocumentId"]) == Some(doc))
                        .then(|| message::build(self, n, row))
                })?
                .unwrap_or_else(|| Err(self.not_found(format!("message {key}"))))?,
        };
        if let Ok(mut l) = self.last.lock() {
            *l = Some(m.clone());
        }
        Ok(m)
    }
}

/// FILETIME → timestamp (shared by the message module).
pub(super) fn time(ft: Option<u64>) -> Option<jiff::Timestamp> {
    ft.and_then(timestamp_from_filetime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_table_names_give_mailbox_numbers() {
        assert_eq!(mailbox_number("Folder_101"), Some(101));
        assert_eq!(mailbox_number("Folder_"), None);
        assert_eq!(mailbox_number("Folder_1a"), None);
        assert_eq!(mailbox_number("Message_101"), None);
    }

    #[test]
    fn hex_round_trips() {
        assert_eq!(
            unhex(&hex(&[0, 1, 0xab, 0xff])),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn recoverable_items_subtree_is_marked() {
        let f = |id: u8, parent: u8, name: &str, special: Option<i64>| FolderRow {
            id: vec![id],
            parent: vec![parent],
            name: name.into(),
            class: None,
            special,
            deleted_area: false,
        };
        let mut rows = vec![
            f(1, 0, "", Some(1)),
            f(2, 1, "Top of Information Store", Some(9)),
            f(3, 1, "Recoverable Items", None),
            f(4, 3, "Deletions", None),
            f(5, 4, "Deeper", None),
            f(6, 2, "Inbox", Some(10)),
            // a cycle in damaged data
            f(7, 8, "A", None),
            f(8, 7, "B", None),
        ];
        mark_deleted_area(&mut rows);
        let marked: Vec<u8> = rows
            .iter()
            .filter(|r| r.deleted_area)
            .map(|r| r.id[0])
            .collect();
        assert_eq!(marked, vec![3, 4, 5]);
    }
}
