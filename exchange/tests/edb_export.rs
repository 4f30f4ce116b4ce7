//! Every generated Exchange message exported as EML re-parses with a real
//! MIME parser (mail-parser) to what the generator put in: subject,
//! from/to/cc, date, Message-ID, plain and HTML bodies, attachment names and
//! bytes (BLAKE3 as in the manifest), inline images with their Content-ID,
//! the embedded message as message/rfc822 with its subject; RTF bodies
//! come back decompressed.

mod edb_support;

use edb_support::{folder_path, generate, message_key, small, tree};
use kairos_exchange::MailStore;
use kairos_exchange::model::AttachmentContent;
use kairos_exchange::tree::message_segment;
use kairos_parsers::{ExportKind, ItemTree};
use kairos_sample_data::exchange::{MessageManifest, Person};
use mail_parser::MimeHeaders;

fn addresses(list: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    list.map(|a| {
        a.iter()
            .filter_map(|x| x.address().map(str::to_owned))
            .collect()
    })
    .unwrap_or_default()
}

fn emails(people: &[Person]) -> Vec<String> {
    people.iter().map(|p| p.email.clone()).collect()
}

fn check_parsed(eml: &[u8], m: &MessageManifest, what: &str) {
    let parsed = mail_parser::MessageParser::default()
        .parse(eml)
        .unwrap_or_else(|| panic!("{what}: EML does not parse"));
    assert_eq!(parsed.subject(), Some(m.subject.as_str()), "{what}");
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some(m.from.email.as_str()), "{what}");
    assert_eq!(from.name(), Some(m.from.name.as_str()), "{what}");
    assert_eq!(addresses(parsed.to()), emails(&m.to), "{what}: To");
    assert_eq!(addresses(parsed.cc()), emails(&m.cc), "{what}: Cc");
    let want_date = m
        .date_sent
        .parse::<jiff::Timestamp>()
        .expect("manifest date");
    assert_eq!(
        parsed.date().map(mail_parser::DateTime::to_timestamp),
        Some(want_date.as_second()),
        "{what}: Date"
    );
    assert_eq!(
        parsed.message_id().map(|s| format!("<{s}>")),
        Some(m.internet_message_id.clone()),
        "{what}: Message-ID"
    );
    let part_of = |sub: &str| {
        parsed
            .parts
            .iter()
            .find(|p| {
                p.content_type()
                    .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some(sub))
                    && p.attachment_name().is_none()
            })
            .map(|p| p.contents().to_vec())
    };
    assert_eq!(
        part_of("plain"),
        Some(m.body_text.clone().into_bytes()),
        "{what}: text"
    );
    assert_eq!(
        part_of("html"),
        Some(m.body_html.clone().into_bytes()),
        "{what}: html"
    );
    for a in &m.attachments {
        if let Some(inner) = &a.embedded {
            let part = parsed
                .parts
                .iter()
                .find(|p| p.is_message())
                .unwrap_or_else(|| panic!("{what}: no message/rfc822 part"));
            assert!(
                part.content_type()
                    .is_some_and(|c| c.ctype() == "message" && c.subtype() == Some("rfc822")),
                "{what}: embedded part type"
            );
            let nested = part.message().expect("nested message parses");
            assert_eq!(
                nested.subject(),
                Some(inner.subject.as_str()),
                "{what}: embedded"
            );
            continue;
        }
        let part = parsed
            .parts
            .iter()
            .find(|p| p.attachment_name() == Some(a.name.as_str()))
            .unwrap_or_else(|| panic!("{what}: attachment {} missing", a.name));
        assert_eq!(
            blake3::hash(part.contents()).to_hex().to_string(),
            a.blake3,
            "{what}: bytes of {}",
            a.name
        );
        assert_eq!(part.contents().len(), a.size);
        if let Some(cid) = &a.content_id {
            assert_eq!(part.content_id(), Some(cid.as_str()), "{what}: Content-ID");
        }
    }
}

fn check_all(page_size: u32, compress: bool) {
    let (bytes, manifest) = generate(&small(page_size, compress));
    let t = tree(bytes);
    let mut checked = 0;
    let mut rtf = 0;
    for mb in &manifest.mailboxes {
        for f in &mb.folders {
            for m in &f.messages {
                let key = message_key(mb.number, m.document_id);
                let path =
                    folder_path(&mb.owner.name, &f.path).child(&message_segment(&m.subject, &key));
                let mut eml = Vec::new();
                t.export(&path, ExportKind::Eml, &mut eml)
                    .unwrap_or_else(|e| panic!("export {path}: {e}"));
                check_parsed(&eml, m, &path.to_string());
                let msg = t.store().message(&key).expect("message");
                assert_eq!(
                    msg.body_rtf.as_deref(),
                    m.body_rtf.as_deref().map(str::as_bytes),
                    "{path}: RTF"
                );
                rtf += usize::from(m.body_rtf.is_some());
                assert_eq!(msg.attachments.len(), m.attachments.len());
                for (got, want) in msg.attachments.iter().zip(&m.attachments) {
                    assert_eq!(got.name, want.name);
                    assert_eq!(got.mime_type.as_deref(), Some(want.content_type.as_str()));
                    match (&got.content, &want.embedded) {
                        (AttachmentContent::Rfc822(b), Some(_))
                        | (AttachmentContent::Data(b), None) => {
                            assert_eq!(blake3::hash(b).to_hex().to_string(), want.blake3);
                        }
                        (other, _) => panic!("{path}: attachment {} read as {other:?}", want.name),
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 20, "only {checked} messages checked");
    assert!(rtf > 0, "no RTF-bodied message in the manifest");
}

#[test]
fn every_message_exports_32k() {
    check_all(32768, false);
}

#[test]
fn every_message_exports_8k_compressed() {
    check_all(8192, true);
}

#[test]
fn attachments_export_as_their_bytes() {
    let (bytes, manifest) = generate(&small(32768, false));
    let t = tree(bytes);
    let mb = &manifest.mailboxes[0];
    let (f, m) = mb
        .folders
        .iter()
        .flat_map(|f| f.messages.iter().map(move |m| (f, m)))
        .find(|(_, m)| m.attachments.iter().any(|a| a.embedded.is_some()))
        .expect("a message with an embedded message");
    let path = folder_path(&mb.owner.name, &f.path).child(&message_segment(
        &m.subject,
        &message_key(mb.number, m.document_id),
    ));
    let children = t.children(&path).expect("attachments listed");
    assert_eq!(children.len(), m.attachments.len());
    for (item, a) in children.iter().zip(&m.attachments) {
        let kind = if a.embedded.is_some() {
            ExportKind::Eml
        } else {
            ExportKind::Original
        };
        let mut out = Vec::new();
        t.export(&item.path, kind, &mut out)
            .expect("attachment export");
        assert_eq!(
            blake3::hash(&out).to_hex().to_string(),
            a.blake3,
            "{}",
            item.path
        );
    }
}
