//! Cross-check with an independent reader: the pure-Rust `outlook-pst`
//! crate (Microsoft's clean-room [MS-PST] implementation). For every sample
//! both can open, every folder and message it finds under the root folder
//! must be listed by kairos with the same folder path, node id, subject and
//! attachment count.
//!
//! Where they differ, and who is right:
//! - `outlook-pst` decodes 8-bit (ANSI, PtypString8) strings byte by byte as
//!   Latin-1, with no code page; libpff applies the file's code page. Both
//!   agree on ASCII, which is what the ANSI samples hold; a non-ASCII ANSI
//!   subject would be compared loosely (kairos is right: the code page is
//!   part of the format, [MS-PST] 2.1.2).
//! - `outlook-pst` refuses OST files (wMagicClient "SO"); the OST sample is
//!   checked against pffexport only (pst_oracle.rs).
//! - It refuses messages without a sub-node tree, which the format allows
//!   (see `walk`); those are compared by folder and node id only.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{file_name, list_messages, open, pff_opened, pst_files};
use kairos_parsers::ItemStatus;
use outlook_pst::ltp::prop_context::PropertyValue;
use outlook_pst::messaging::folder::Folder;
use outlook_pst::messaging::store::Store;
use outlook_pst::ndb::node_id::NodeId;

/// NID of the root folder ([MS-PST] 2.4.1).
const ROOT_FOLDER_NID: u32 = 0x122;

fn text(v: Option<&PropertyValue>) -> String {
    let s = match v {
        Some(PropertyValue::Unicode(u)) => String::from_utf16_lossy(u.buffer()),
        Some(PropertyValue::String8(s)) => s.buffer().iter().map(|&b| char::from(b)).collect(),
        _ => String::new(),
    };
    kairos_exchange::model::clean_subject(&s)
}

type Listing = BTreeMap<(String, u32), Option<(String, usize)>>;

/// (folder path, node id) → (subject, attachment count), as outlook-pst
/// reads them; the error when it cannot.
fn read_with_outlook_pst(path: &Path) -> Result<Listing, String> {
    let store = outlook_pst::open_store(path).map_err(|e| format!("open_store: {e}"))?;
    let root_id = store
        .properties()
        .make_entry_id(NodeId::from(ROOT_FOLDER_NID))
        .map_err(|e| format!("root entry id: {e}"))?;
    let root = store
        .open_folder(&root_id)
        .map_err(|e| format!("root folder: {e}"))?;
    let mut out = BTreeMap::new();
    walk(store.as_ref(), root.as_ref(), "", &mut out)?;
    Ok(out)
}

fn walk(
    store: &dyn Store,
    folder: &dyn Folder,
    path: &str,
    out: &mut Listing,
) -> Result<(), String> {
    if let Some(contents) = folder.contents_table() {
        for row in contents.rows_matrix() {
            let nid = u32::from(row.id());
            let id = store
                .properties()
                .make_entry_id(NodeId::from(nid))
                .map_err(|e| format!("{path}: message {nid}: {e}"))?;
            // outlook-pst refuses a message without a sub-node tree
            // ("Missing Sub-Node Tree on message"), which [MS-PST] allows
            // (bidSub 0: no recipients, attachments or large values; the
            // 24 contacts of aspose_PersonalStorageFile2.pst, which libpff
            // and pffexport read). Such a message is still compared by
            // folder and node id, its contents are not.
            let entry = match store.open_message(&id, None) {
                Ok(msg) => {
                    let subject = text(msg.properties().get(0x0037));
                    let attachments = msg
                        .attachment_table()
                        .map_or(0, |t| t.rows_matrix().count());
                    Some((subject, attachments))
                }
                Err(_) => None,
            };
            out.insert((path.to_owned(), nid), entry);
        }
    }
    if let Some(hierarchy) = folder.hierarchy_table() {
        for row in hierarchy.rows_matrix() {
            let id = store
                .properties()
                .make_entry_id(NodeId::from(u32::from(row.id())))
                .map_err(|e| format!("{path}: folder: {e}"))?;
            let sub = store
                .open_folder(&id)
                .map_err(|e| format!("{path}: folder: {e}"))?;
            let name = sub
                .properties()
                .display_name()
                .map_err(|e| format!("{path}: folder name: {e}"))?;
            let sub_path = if path.is_empty() {
                name
            } else {
                format!("{path}/{name}")
            };
            walk(store, sub.as_ref(), &sub_path, out)?;
        }
    }
    Ok(())
}

#[test]
fn listing_agrees_with_the_outlook_pst_crate() {
    let mut both = 0;
    let mut messages = 0;
    let mut unread = 0;
    for file in pst_files() {
        if !pff_opened(&file) {
            continue;
        }
        let name = file_name(&file);
        let theirs = match read_with_outlook_pst(&file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{name}: outlook-pst cannot read it ({e}); not compared");
                continue;
            }
        };
        both += 1;
        let tree = open(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let ours: BTreeMap<(String, u32), (String, usize)> = list_messages(&tree)
            .into_iter()
            .filter(|r| r.status != ItemStatus::Recovered)
            .map(|r| {
                let seg = r.path.name();
                let key = seg
                    .rsplit_once('[')
                    .and_then(|(_, k)| k.strip_suffix(']'))
                    .and_then(|k| k.parse::<u32>().ok())
                    .expect("live messages are keyed by NID");
                ((r.folder, key), (r.subject, r.attachments))
            })
            .collect();
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{name}: folder paths and node ids"
        );
        for (k, theirs) in &theirs {
            let Some((subject, atts)) = theirs else {
                unread += 1;
                continue;
            };
            let (our_subject, our_atts) = &ours[k];
            if subject.is_ascii() {
                assert_eq!(our_subject, subject, "{name} {k:?} subject");
            }
            assert_eq!(our_atts, atts, "{name} {k:?} attachments");
            messages += 1;
        }
    }
    assert!(both >= 8, "outlook-pst opened only {both} samples");
    assert!(messages >= 40, "only {messages} messages compared");
    assert!(unread <= 24, "outlook-pst failed on {unread} messages");
}
