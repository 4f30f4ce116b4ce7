//! Any [`MailStore`] as the `kairos_parsers::ItemTree` the CLI and GUI
//! browse: Mailbox → Folder → … → Message → Attachment (→ attachments of an
//! embedded message).
//!
//! Path segments (stable for the same item at every instant):
//! - mailbox and folder: the display name; when two siblings share a name
//!   (or it is empty), each gets ` [key]` appended;
//! - message: `Subject [key]`; the key alone identifies it, so a path stays
//!   valid when the subject is edited;
//! - attachment: `N_name`, N counting from 1 in attachment-table order (the
//!   numbering pffexport uses for its attachment files).

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use jiff::tz::TimeZone;
use kairos_parsers::{
    Error, ExportKind, Field, FieldValue, Item, ItemKind, ItemPath, ItemStatus, ItemTree, Result,
};

use crate::eml;
use crate::model::{
    Attachment, AttachmentContent, FolderInfo, MailStore, MailboxInfo, Message, MessageKind,
    MessageSummary,
};

/// The item tree over a mail store.
///
/// The mailbox and folder lists are read once and kept: a tree is one
/// instant of one source (an engine view never changes; a file source is
/// read as of when it was opened), and every path lookup walks them from the
/// top, so re-reading them would make deep paths cost O(depth) store reads.
pub struct MailboxTree<S> {
    store: S,
    mailboxes: OnceLock<Vec<MailboxInfo>>,
    /// Folder lists by parent: `(true, mailbox key)` or `(false, folder key)`.
    folders: Mutex<HashMap<(bool, String), Vec<FolderInfo>>>,
}

/// What a path resolved to.
enum Node {
    Root,
    Mailbox(MailboxInfo),
    Folder(FolderInfo),
    Message(Box<Message>),
    /// An attachment: the top-level message, the attachment-index chain
    /// through embedded messages (never empty).
    Attachment(Box<Message>, Vec<usize>),
}

/// Display segments for siblings: the name, or `name [key]` when the name is
/// empty or shared.
/// Mailboxes and folders: named siblings with keys.
trait Named {
    fn name(&self) -> &str;
    fn key(&self) -> &str;
}

impl Named for MailboxInfo {
    fn name(&self) -> &str {
        &self.name
    }
    fn key(&self) -> &str {
        &self.key
    }
}

impl Named for FolderInfo {
    fn name(&self) -> &str {
        &self.name
    }
    fn key(&self) -> &str {
        &self.key
    }
}

fn sibling_segments<T: Named>(entries: &[T]) -> Vec<String> {
    entries
        .iter()
        .map(|e| {
            let (name, key) = (e.name(), e.key());
            let shared = entries.iter().filter(|o| o.name() == name).count() > 1;
            if name.is_empty() || shared {
                format!("{name} [{key}]")
            } else {
                name.to_owned()
            }
        })
        .collect()
}

/// `Subject [key]`.
pub fn message_segment(subject: &str, key: &str) -> String {
    let s = if subject.is_empty() {
        "(no subject)"
    } else {
        subject
    };
    format!("{s} [{key}]")
}

/// The key in a `... [key]` segment.
fn segment_key(seg: &str) -> Option<&str> {
    let open = seg.rfind('[')?;
    seg[open + 1..].strip_suffix(']')
}

/// `N_name` for attachment `index` (0-based).
pub fn attachment_segment(index: usize, att: &Attachment) -> String {
    let name = match (&att.content, att.name.is_empty()) {
        (_, false) => att.name.clone(),
        (AttachmentContent::Message(m), true) if !m.subject.is_empty() => m.subject.clone(),
        _ => "attachment".into(),
    };
    format!("{}_{name}", index + 1)
}

fn datetime(t: jiff::Timestamp) -> FieldValue {
    FieldValue::DateTime(t.to_zoned_datetime(TimeZone::UTC).datetime().to_string())
}

fn text(name: &str, value: impl Into<String>) -> Field {
    Field {
        name: name.into(),
        value: FieldValue::Text(value.into()),
    }
}

fn item_kind(class: &str) -> ItemKind {
    match MessageKind::from_class(class) {
        MessageKind::Appointment => ItemKind::Appointment,
        MessageKind::Contact => ItemKind::Contact,
        _ => ItemKind::Message,
    }
}

impl<S: MailStore> MailboxTree<S> {
    /// Wraps a store.
    pub fn new(store: S) -> Self {
        MailboxTree {
            store,
            mailboxes: OnceLock::new(),
            folders: Mutex::new(HashMap::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    fn not_found(&self, path: &ItemPath) -> Error {
        Error::NotFound {
            source_name: self.store.source_name().to_owned(),
            what: format!("item {path}"),
        }
    }

    fn mailboxes(&self) -> Result<Vec<MailboxInfo>> {
        if let Some(m) = self.mailboxes.get() {
            return Ok(m.clone());
        }
        let m = self.store.mailboxes()?;
        Ok(self.mailboxes.get_or_init(|| m).clone())
    }

    fn folders_under(&self, node: &Node) -> Result<Vec<FolderInfo>> {
        let key = match node {
            Node::Mailbox(m) => (true, m.key.clone()),
            Node::Folder(f) => (false, f.key.clone()),
            _ => return Ok(Vec::new()),
        };
        let cached = self.folders.lock().ok().and_then(|c| c.get(&key).cloned());
        if let Some(list) = cached {
            return Ok(list);
        }
        let list = if key.0 {
            self.store.top_folders(&key.1)?
        } else {
            self.store.sub_folders(&key.1)?
        };
        if let Ok(mut c) = self.folders.lock() {
            c.insert(key, list.clone());
        }
        Ok(list)
    }

    fn resolve(&self, path: &ItemPath) -> Result<Node> {
        let mut node = Node::Root;
        for seg in path.segments() {
            node = match node {
                Node::Root => {
                    let boxes = self.mailboxes()?;
                    let segs = sibling_segments(&boxes);
                    let i = segs
                        .iter()
                        .position(|s| *s == seg)
                        .ok_or_else(|| self.not_found(path))?;
                    Node::Mailbox(
                        boxes
                            .into_iter()
                            .nth(i)
                            .ok_or_else(|| self.not_found(path))?,
                    )
                }
                Node::Mailbox(_) | Node::Folder(_) => {
                    let folders = self.folders_under(&node)?;
                    let segs = sibling_segments(&folders);
                    if let Some(i) = segs.iter().position(|s| *s == seg) {
                        Node::Folder(
                            folders
                                .into_iter()
                                .nth(i)
                                .ok_or_else(|| self.not_found(path))?,
                        )
                    } else if let (Node::Folder(_), Some(key)) = (&node, segment_key(&seg)) {
                        Node::Message(Box::new(self.store.message(&key.to_owned())?))
                    } else {
                        return Err(self.not_found(path));
                    }
                }
                Node::Message(m) => {
                    let i = attachment_index(&m.attachments, &seg)
                        .ok_or_else(|| self.not_found(path))?;
                    Node::Attachment(m, vec![i])
                }
                Node::Attachment(m, mut chain) => {
                    let atts = match attachment_at(&m, &chain).map(|a| &a.content) {
                        Some(AttachmentContent::Message(inner)) => &inner.attachments,
                        _ => return Err(self.not_found(path)),
                    };
                    let i = attachment_index(atts, &seg).ok_or_else(|| self.not_found(path))?;
                    chain.push(i);
                    Node::Attachment(m, chain)
                }
            };
        }
        Ok(node)
    }

    fn mailbox_item(path: ItemPath, m: &MailboxInfo) -> Item {
        Item {
            name: m.name.clone(),
            path,
            kind: ItemKind::Mailbox,
            fields: m.notes.iter().map(|n| text("note", n.clone())).collect(),
            has_children: true,
            status: ItemStatus::Live,
            exports: Vec::new(),
        }
    }

    fn folder_item(path: ItemPath, f: &FolderInfo) -> Item {
        let mut fields = Vec::new();
        if let Some(c) = &f.container_class {
            fields.push(text("class", c.clone()));
        }
        Item {
            name: f.name.clone(),
            path,
            kind: ItemKind::Folder,
            fields,
            has_children: true,
            status: f.status.clone(),
            exports: Vec::new(),
        }
    }

    fn message_item(path: ItemPath, m: &MessageSummary) -> Item {
        let mut fields = vec![
            text("subject", m.subject.clone()),
            text("from", m.sender.display()),
        ];
        fields.push(Field {
            name: "date".into(),
            value: m.date.map_or(FieldValue::Null, datetime),
        });
        fields.push(text("class", m.class.clone()));
        fields.push(Field {
            name: "attachments".into(),
            value: FieldValue::Int(m.attachment_count as i64),
        });
        Item {
            name: path.name(),
            path,
            kind: item_kind(&m.class),
            fields,
            has_children: m.attachment_count > 0,
            status: m.status.clone(),
            exports: vec![ExportKind::Eml],
        }
    }

    fn attachment_item(path: ItemPath, att: &Attachment, status: &ItemStatus) -> Item {
        let mut fields = vec![text("name", att.name.clone())];
        let (kind_text, size, has_children, exports, status) = match &att.content {
            AttachmentContent::Data(d) => (
                "file",
                Some(d.len()),
                false,
                vec![ExportKind::Original],
                status.clone(),
            ),
            AttachmentContent::Message(m) => (
                "embedded message",
                None,
                !m.attachments.is_empty(),
                vec![ExportKind::Eml],
                status.clone(),
            ),
            AttachmentContent::Rfc822(d) => (
                "embedded message",
                Some(d.len()),
                false,
                vec![ExportKind::Eml, ExportKind::Original],
                status.clone(),
            ),
            AttachmentContent::Reference(_) => ("reference", None, false, vec![], status.clone()),
            AttachmentContent::Unreadable(why) => (
                "unreadable",
                None,
                false,
                vec![],
                ItemStatus::Damaged(why.clone()),
            ),
        };
        fields.push(text("type", kind_text));
        if let Some(n) = size {
            fields.push(Field {
                name: "size".into(),
                value: FieldValue::Int(n as i64),
            });
        }
        if let Some(m) = &att.mime_type {
            fields.push(text("mime_type", m.clone()));
        }
        if let Some(c) = &att.content_id {
            fields.push(text("content_id", c.clone()));
        }
        if let AttachmentContent::Reference(p) = &att.content {
            fields.push(text("path", p.clone()));
        }
        Item {
            name: path.name(),
            path,
            kind: ItemKind::Attachment,
            fields,
            has_children,
            status,
            exports,
        }
    }

    fn attachment_children(path: &ItemPath, atts: &[Attachment], status: &ItemStatus) -> Vec<Item> {
        atts.iter()
            .enumerate()
            .map(|(i, a)| Self::attachment_item(path.child(&attachment_segment(i, a)), a, status))
            .collect()
    }
}

fn attachment_index(atts: &[Attachment], seg: &str) -> Option<usize> {
    let n: usize = seg.split('_').next()?.parse().ok()?;
    let i = n.checked_sub(1)?;
    (atts.get(i).map(|a| attachment_segment(i, a)).as_deref() == Some(seg)).then_some(i)
}

/// The attachment at `chain` (indices through embedded messages).
fn attachment_at<'m>(m: &'m Message, chain: &[usize]) -> Option<&'m Attachment> {
    let (first, rest) = chain.split_first()?;
    let mut att = m.attachments.get(*first)?;
    for i in rest {
        match &att.content {
            AttachmentContent::Message(inner) => att = inner.attachments.get(*i)?,
            _ => return None,
        }
    }
    Some(att)
}

impl<S: MailStore> ItemTree for MailboxTree<S> {
    fn children(&self, path: &ItemPath) -> Result<Vec<Item>> {
        let node = self.resolve(path)?;
        match &node {
            Node::Root => {
                let boxes = self.mailboxes()?;
                let segs = sibling_segments(&boxes);
                Ok(boxes
                    .iter()
                    .zip(segs)
                    .map(|(m, s)| Self::mailbox_item(path.child(&s), m))
                    .collect())
            }
            Node::Mailbox(_) | Node::Folder(_) => {
                let folders = self.folders_under(&node)?;
                let segs = sibling_segments(&folders);
                let mut out: Vec<Item> = folders
                    .iter()
                    .zip(segs)
                    .map(|(f, s)| Self::folder_item(path.child(&s), f))
                    .collect();
                if let Node::Folder(f) = &node {
                    for m in self.store.messages(&f.key)? {
                        let p = path.child(&message_segment(&m.subject, &m.key));
                        out.push(Self::message_item(p, &m));
                    }
                }
                Ok(out)
            }
            Node::Message(m) => Ok(Self::attachment_children(path, &m.attachments, &m.status)),
            Node::Attachment(m, chain) => match attachment_at(m, chain).map(|a| &a.content) {
                Some(AttachmentContent::Message(inner)) => Ok(Self::attachment_children(
                    path,
                    &inner.attachments,
                    &m.status,
                )),
                _ => Ok(Vec::new()),
            },
        }
    }

    fn item(&self, path: &ItemPath) -> Result<Item> {
        match self.resolve(path)? {
            Node::Root => Err(self.not_found(path)),
            Node::Mailbox(m) => Ok(Self::mailbox_item(path.clone(), &m)),
            Node::Folder(f) => Ok(Self::folder_item(path.clone(), &f)),
            Node::Message(m) => {
                let mut item = Self::message_item(path.clone(), &m.summary());
                item.status = m.status.clone();
                item.fields
                    .extend(m.details.iter().map(|(k, v)| text(k, v.clone())));
                Ok(item)
            }
            Node::Attachment(m, chain) => {
                let att = attachment_at(&m, &chain).ok_or_else(|| self.not_found(path))?;
                Ok(Self::attachment_item(path.clone(), att, &m.status))
            }
        }
    }

    fn export(&self, path: &ItemPath, kind: ExportKind, out: &mut dyn Write) -> Result<()> {
        let node = self.resolve(path)?;
        let unsupported = || Error::Unsupported {
            source_name: self.store.source_name().to_owned(),
            feature: format!("{kind:?} export of {path}"),
        };
        let io = |error| Error::Io {
            source_name: "export output".into(),
            offset: 0,
            error,
        };
        match (&node, kind) {
            (Node::Message(m), ExportKind::Eml) => eml::write_message(m, out).map_err(io),
            (Node::Attachment(m, chain), _) => {
                let att = attachment_at(m, chain).ok_or_else(|| self.not_found(path))?;
                match (&att.content, kind) {
                    (AttachmentContent::Data(d), ExportKind::Original)
                    | (AttachmentContent::Rfc822(d), ExportKind::Eml | ExportKind::Original) => {
                        out.write_all(d).map_err(io)
                    }
                    (AttachmentContent::Message(inner), ExportKind::Eml) => {
                        eml::write_message(inner, out).map_err(io)
                    }
                    (AttachmentContent::Unreadable(why), _) => Err(Error::corrupt(
                        self.store.source_name(),
                        kairos_parsers::Location::Offset(0),
                        format!("attachment {path}"),
                        why.clone(),
                    )),
                    _ => Err(unsupported()),
                }
            }
            _ => Err(unsupported()),
        }
    }
}
