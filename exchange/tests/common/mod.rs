//! Shared helpers for the PST/OST sample tests: the samples, libpff's
//! pffexport oracle (`oracle/<file>/items.tsv`, `pff.export/`,
//! `pff.recovered/`) and a walk of kairos' item tree.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use kairos_exchange::{MailboxTree, PstStore};
use kairos_parsers::{FieldValue, FileSource, Item, ItemKind, ItemPath, ItemStatus, ItemTree};

pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/pst")
}

/// Every .pst/.ost sample, sorted. Missing samples fail the test.
pub fn pst_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(samples())
        .expect("PST samples folder ../shared/samples/pst must exist")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pst" || e == "ost"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 12,
        "expected the 12 PST/OST samples, found {}",
        files.len()
    );
    files
}

pub fn file_name(p: &Path) -> String {
    p.file_name().expect("name").to_string_lossy().into_owned()
}

pub fn oracle_dir(p: &Path) -> PathBuf {
    samples().join("oracle").join(file_name(p))
}

/// True when libpff's own tools could open the file (status.txt).
pub fn pff_opened(p: &Path) -> bool {
    let status = std::fs::read_to_string(oracle_dir(p).join("status.txt")).expect("status.txt");
    status.contains("pffinfo_exit\t0")
}

pub fn open(p: &Path) -> kairos_parsers::Result<MailboxTree<PstStore>> {
    let src = FileSource::open(p)?;
    Ok(MailboxTree::new(PstStore::open(Arc::new(src))?))
}

/// One row of items.tsv.
#[derive(Debug, Clone)]
pub struct OracleRow {
    pub folder: String,
    pub subject: String,
    pub sender: String,
    pub attachments: usize,
    pub kind: String,
    pub item: String,
    pub origin: String,
    pub flag_attach: String,
    pub export_errors: usize,
}

pub fn items_tsv(p: &Path) -> Vec<OracleRow> {
    let text = std::fs::read_to_string(oracle_dir(p).join("items.tsv")).expect("items.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            assert_eq!(c.len(), 9, "items.tsv row: {l}");
            OracleRow {
                folder: c[0].into(),
                subject: c[1].into(),
                sender: c[2].into(),
                attachments: c[3].parse().expect("count"),
                kind: c[4].into(),
                item: c[5].into(),
                origin: c[6].into(),
                flag_attach: c[7].into(),
                export_errors: c[8].parse().unwrap_or(0),
            }
        })
        .collect()
}

/// The pffexport output directory `which` ("pff.export", "pff.recovered")
/// of a sample, unpacking `<which>.tar.gz` into `scratch` when stored packed.
pub fn export_dir(p: &Path, which: &str, scratch: &Path) -> Option<PathBuf> {
    let dir = oracle_dir(p).join(which);
    if dir.is_dir() {
        return Some(dir);
    }
    let packed = oracle_dir(p).join(format!("{which}.tar.gz"));
    if !packed.is_file() {
        return None;
    }
    let status = std::process::Command::new("tar")
        .arg("xzf")
        .arg(&packed)
        .arg("-C")
        .arg(scratch)
        .status()
        .expect("run tar");
    assert!(status.success(), "unpacking {}", packed.display());
    Some(scratch.join(which))
}

/// `Key: value` lines of a pffexport header file (first occurrence wins),
/// as tools/pff_items.py reads them.
pub fn header_file(path: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok(bytes) = std::fs::read(path) else {
        return out;
    };
    for line in String::from_utf8_lossy(&bytes).lines() {
        if line.starts_with('\t') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if !k.is_empty() {
                out.entry(k.to_owned())
                    .or_insert_with(|| v.trim().to_owned());
            }
        }
    }
    out
}

/// The header values of a pffexport item directory: OutlookHeaders.txt, else
/// the item-kind file (`Contact.txt`, `Appointment.txt`, ...).
///
/// tools/pff_items.py looks for `Message.txt` before `Contact.txt`; for a
/// contact that has a body, `Message.txt` is that body, not a header file, so
/// items.tsv shows an empty subject and sender for it (aspose_Outlook.pst
/// Contact00001, whose Contact.txt says "Subject: Saqib Razzaq"). Reading the
/// kind's own file is what the oracle meant.
pub fn item_headers(item_dir: &Path, kind: &str) -> BTreeMap<String, String> {
    let outlook = item_dir.join("OutlookHeaders.txt");
    if outlook.is_file() {
        return header_file(&outlook);
    }
    header_file(&item_dir.join(format!("{kind}.txt")))
}

/// `Sender name <Sender email address>` as items.tsv forms it.
pub fn oracle_sender(h: &BTreeMap<String, String>) -> String {
    let name = h.get("Sender name").map_or("", String::as_str);
    let email = h.get("Sender email address").map_or("", String::as_str);
    if !name.is_empty() && !email.is_empty() && name != email {
        format!("{name} <{email}>")
    } else if name.is_empty() {
        email.to_owned()
    } else {
        name.to_owned()
    }
}

/// pffexport's kind name for a message class.
pub fn pff_kind(class: &str) -> &'static str {
    let c = class.to_ascii_lowercase();
    if c.starts_with("ipm.appointment") {
        "Appointment"
    } else if c.starts_with("ipm.schedule.meeting") {
        "Meeting"
    } else if c.starts_with("ipm.contact") {
        "Contact"
    } else if c.starts_with("ipm.distlist") {
        "DistributionList"
    } else if c.starts_with("ipm.task") {
        "Task"
    } else if c.starts_with("ipm.stickynote") {
        "Note"
    } else if c.starts_with("ipm.activity") {
        "Activity"
    } else {
        "Message"
    }
}

/// One message as kairos lists it.
#[derive(Debug, Clone)]
pub struct OurRow {
    /// Folder path below the mailbox (segments joined by `/`), the form
    /// items.tsv uses.
    pub folder: String,
    pub subject: String,
    pub sender: String,
    pub attachments: usize,
    pub class: String,
    pub status: ItemStatus,
    pub path: ItemPath,
    /// Position within its folder (0-based), matching pffexport's numbering.
    pub index: usize,
}

pub fn text_field(item: &Item, name: &str) -> String {
    match item.field(name) {
        Some(FieldValue::Text(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Every message of the tree, depth first.
pub fn list_messages(tree: &impl ItemTree) -> Vec<OurRow> {
    let mut out = Vec::new();
    let boxes = tree.children(&ItemPath::root()).expect("mailboxes");
    assert_eq!(boxes.len(), 1, "a PST has one mailbox");
    walk(tree, &boxes[0].path, "", &mut out);
    out
}

fn walk(tree: &impl ItemTree, path: &ItemPath, folder: &str, out: &mut Vec<OurRow>) {
    let mut index = 0;
    for item in tree.children(path).expect("children") {
        match item.kind {
            ItemKind::Folder => {
                let sub = if folder.is_empty() {
                    item.name.clone()
                } else {
                    format!("{folder}/{}", item.name)
                };
                walk(tree, &item.path, &sub, out);
            }
            ItemKind::Message | ItemKind::Contact | ItemKind::Appointment => {
                let attachments = match item.field("attachments") {
                    Some(FieldValue::Int(n)) => usize::try_from(*n).expect("count"),
                    _ => panic!("no attachment count on {}", item.path),
                };
                out.push(OurRow {
                    folder: folder.to_owned(),
                    subject: text_field(&item, "subject"),
                    sender: text_field(&item, "from"),
                    attachments,
                    class: text_field(&item, "class"),
                    status: item.status.clone(),
                    path: item.path.clone(),
                    index,
                });
                index += 1;
            }
            other => panic!("unexpected {other:?} in a folder: {}", item.path),
        }
    }
}

/// Message classes pffexport skipped ("Skipped export of item: N out of: M
/// of type: CLASS (0x..)" in its log): libpff item types it does not export
/// (configuration items, free/busy data, IPM.Post). kairos lists them; the
/// comparison with the oracle leaves them out.
pub fn skipped_classes(p: &Path) -> std::collections::BTreeSet<String> {
    let log = std::fs::read_to_string(oracle_dir(p).join("pffexport.log")).unwrap_or_default();
    log.lines()
        .filter(|l| l.starts_with("Skipped export of item"))
        .filter_map(|l| l.split_once("of type: "))
        .filter_map(|(_, t)| t.rsplit_once(" (").map(|(c, _)| c.to_owned()))
        .collect()
}
