//! Property test: any model message written as EML re-parses (mail-parser)
//! to the same subject, sender, recipients, plain-text body and attachment
//! bytes — with non-ASCII text, specials in names and binary attachments.

use kairos_exchange::eml::write_message;
use kairos_exchange::model::{
    Address, Attachment, AttachmentContent, Message, Recipient, RecipientKind,
};
use kairos_parsers::ItemStatus;
use mail_parser::MimeHeaders;
use proptest::prelude::*;

fn address(name: String, user: &str) -> Address {
    Address {
        name,
        email: format!("{user}@example.org"),
        addr_type: "SMTP".into(),
        smtp: String::new(),
    }
}

fn message(
    subject: String,
    sender: Address,
    to: Vec<Address>,
    body: String,
    files: Vec<(String, Vec<u8>)>,
    embedded_subject: Option<String>,
) -> Message {
    let mut attachments: Vec<Attachment> = files
        .into_iter()
        .map(|(name, data)| Attachment {
            name,
            mime_type: Some("application/octet-stream".into()),
            content_id: None,
            content: AttachmentContent::Data(data),
        })
        .collect();
    let base = Message {
        key: "1".into(),
        status: ItemStatus::Live,
        class: "IPM.Note".into(),
        subject,
        sender,
        sent_representing: Address::default(),
        recipients: to
            .into_iter()
            .map(|address| Recipient {
                kind: RecipientKind::To,
                address,
            })
            .collect(),
        submit_time: jiff::Timestamp::from_second(1_700_000_000).ok(),
        delivery_time: None,
        creation_time: None,
        modification_time: None,
        message_id: None,
        in_reply_to: None,
        references: None,
        transport_headers: None,
        body_text: Some(body),
        body_html: None,
        body_rtf: None,
        details: Vec::new(),
        attachments: Vec::new(),
    };
    if let Some(s) = embedded_subject {
        let mut inner = base.clone();
        inner.subject = s;
        attachments.push(Attachment {
            name: "inner.eml".into(),
            mime_type: None,
            content_id: None,
            content: AttachmentContent::Message(Box::new(inner)),
        });
    }
    Message {
        attachments,
        ..base
    }
}

fn text() -> impl Strategy<Value = String> {
    // Printable text with non-ASCII, quotes, commas and angle brackets.
    "[a-zA-Z0-9 \"',<>()éü中文😀;:]{0,60}".prop_map(|s| s.trim().to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn eml_round_trips(
        subject in text(),
        sender_name in text(),
        to in proptest::collection::vec((text(), "[a-z]{1,8}"), 0..4),
        body in "(?s).{0,300}",
        files in proptest::collection::vec(("[a-zA-Z0-9_é]{1,12}\\.bin", proptest::collection::vec(any::<u8>(), 1..400)), 0..3),
        embedded in proptest::option::of("[a-zA-Z0-9]([a-zA-Z0-9 ]{0,18}[a-zA-Z0-9])?"),
    ) {
        let to: Vec<Address> = to.into_iter().map(|(n, u)| address(n, &u)).collect();
        let msg = message(subject.clone(), address(sender_name.clone(), "sender"), to.clone(), body.clone(), files.clone(), embedded.clone());
        let mut eml = Vec::new();
        write_message(&msg, &mut eml).expect("write");
        prop_assert!(eml.is_ascii());
        let parsed = mail_parser::MessageParser::default().parse(&eml).expect("parse");
        prop_assert_eq!(parsed.subject().unwrap_or(""), subject.as_str());
        let from = parsed.from().and_then(|a| a.first()).expect("from");
        prop_assert_eq!(from.address(), Some("sender@example.org"));
        prop_assert_eq!(from.name().unwrap_or(""), sender_name.as_str());
        let got_to: Vec<String> = parsed
            .to()
            .map(|a| a.iter().filter_map(|x| x.address().map(str::to_owned)).collect())
            .unwrap_or_default();
        prop_assert_eq!(got_to, to.iter().map(|a| a.email.clone()).collect::<Vec<_>>());
        let part = parsed.text_bodies().find(|p| {
            p.content_type().is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("plain"))
        }).expect("text part");
        prop_assert_eq!(part.contents(), body.as_bytes());
        let got: Vec<(String, Vec<u8>)> = parsed
            .attachments()
            .filter(|a| !a.is_message())
            .map(|a| (a.attachment_name().unwrap_or("").to_owned(), a.contents().to_vec()))
            .collect();
        prop_assert_eq!(got, files);
        let inner: Vec<String> = parsed
            .attachments()
            .filter_map(|a| a.message())
            .map(|m| m.subject().unwrap_or("").to_owned())
            .collect();
        prop_assert_eq!(inner, embedded.into_iter().collect::<Vec<_>>());
    }
}
