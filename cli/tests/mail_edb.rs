//! `kairos mail ls|export` on a generated Exchange EDB file: the listing
//! shows the manifest's mailboxes, folders and messages; export writes an
//! EML a MIME parser reads back; an existing output is not overwritten
//! without --force; a non-Exchange ESE file gets a pointer to `kairos ese`.

mod common;

use common::{run, samples};
use kairos_sample_data::exchange::{ExchangeOptions, generate_exchange_edb};

fn edb(dir: &std::path::Path) -> (String, kairos_sample_data::exchange::Manifest) {
    let (bytes, manifest) = generate_exchange_edb(&ExchangeOptions {
        bulk_messages: 5,
        ..ExchangeOptions::default()
    })
    .expect("generate");
    let path = dir.join("mailboxes.edb");
    std::fs::write(&path, bytes).expect("write edb");
    (path.display().to_string(), manifest)
}

#[test]
fn mail_ls_prints_the_tree_and_export_writes_eml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, manifest) = edb(dir.path());
    let (code, out, err) = run(&["mail", "ls", &file, "-r"]);
    assert_eq!(code, 0, "{err}");
    let mut subjects = 0;
    for mb in &manifest.mailboxes {
        assert!(
            out.contains(&format!("{}\tmailbox", mb.owner.name)),
            "{out}"
        );
        for f in &mb.folders {
            for m in &f.messages {
                let line = out
                    .lines()
                    .find(|l| l.contains(&format!(" [{}.{}]\t", mb.number, m.document_id)))
                    .unwrap_or_else(|| panic!("message {} not listed", m.subject));
                assert!(line.contains(&m.subject), "{line}");
                if m.deleted {
                    assert!(line.contains("Recoverable Items/Deletions/"), "{line}");
                    assert!(line.contains("\tdeleted\t"), "{line}");
                }
                subjects += 1;
            }
        }
    }
    assert!(subjects > 20);

    // Export the first Inbox message of the first mailbox.
    let mb = &manifest.mailboxes[0];
    let inbox = mb
        .folders
        .iter()
        .find(|f| f.path.ends_with("/Inbox"))
        .expect("inbox");
    let m = &inbox.messages[0];
    let item = out
        .lines()
        .find(|l| l.contains(&format!(" [{}.{}]\t", mb.number, m.document_id)))
        .and_then(|l| l.split('\t').next())
        .expect("item path")
        .to_owned();
    let eml = dir.path().join("x.eml");
    let eml_s = eml.display().to_string();
    let (code, _, err) = run(&["mail", "export", &file, &item, "-o", &eml_s]);
    assert_eq!(code, 0, "{err}");
    let bytes = std::fs::read(&eml).expect("eml written");
    let parsed = mail_parser::MessageParser::default()
        .parse(&bytes)
        .expect("EML parses");
    assert_eq!(parsed.subject(), Some(m.subject.as_str()));
    assert_eq!(
        parsed
            .from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some(m.from.email.as_str())
    );

    // No overwrite without --force; with it, the same bytes again.
    let (code, _, err) = run(&["mail", "export", &file, &item, "-o", &eml_s]);
    assert_eq!(code, 1);
    assert!(err.starts_with("kairos: "), "{err}");
    assert!(err.contains("exists") || err.contains("--force"), "{err}");
    let (code, _, err) = run(&["mail", "export", &file, &item, "-o", &eml_s, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&eml).expect("eml"), bytes);
}

#[test]
fn other_ese_files_point_to_kairos_ese() {
    let f = samples().join("ese/dissect_basic.edb");
    assert!(f.exists(), "sample {} missing", f.display());
    let (code, _, err) = run(&["mail", "ls", &f.display().to_string()]);
    assert_eq!(code, 1);
    assert!(err.contains("kairos ese tables"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
