//! RFC 5322 / MIME export of a model [`Message`], for any mail reader.
//!
//! Layout (only the levels that are needed are written):
//!
//! ```text
//! multipart/mixed                      when there are attachments
//!   multipart/related                  when the HTML refers to inline images by cid:
//!     multipart/alternative            when there is more than one body
//!       text/plain; text/html; text/rtf (only without text and HTML)
//!     image parts with Content-ID
//!   attachments: files (base64), embedded messages as message/rfc822
//! ```
//!
//! Headers: the original Internet headers (PR_TRANSPORT_MESSAGE_HEADERS) when
//! stored, minus the MIME structure headers that describe the original body;
//! otherwise headers built from the MAPI properties. Non-ASCII header text is
//! RFC 2047-encoded (UTF-8, base64), body parts are base64, so the output is
//! 7-bit clean with CRLF line ends — except an embedded message kept in its
//! Internet form ([`AttachmentContent::Rfc822`]), written byte for byte
//! (`Content-Transfer-Encoding: 8bit` when it is not ASCII).

use std::io::{self, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::tz::TimeZone;
use kairos_parsers::ItemStatus;

use crate::model::{Address, Attachment, AttachmentContent, Message, RecipientKind};

/// Writes `msg` as an RFC 5322/MIME message.
pub fn write_message(msg: &Message, out: &mut dyn Write) -> io::Result<()> {
    let mut w = EmlWriter { next_boundary: 0 };
    let mut buf = Vec::new();
    w.message(msg, &mut buf)?;
    out.write_all(&buf)
}

struct EmlWriter {
    next_boundary: u32,
}

/// One MIME entity before it is written.
enum Part<'a> {
    Leaf {
        headers: Vec<(String, String)>,
        body: Body<'a>,
    },
    Multi {
        subtype: &'static str,
        parts: Vec<Part<'a>>,
    },
}

enum Body<'a> {
    Base64(std::borrow::Cow<'a, [u8]>),
    Message(&'a Message),
    /// A message in its Internet form, written as is.
    Raw(&'a [u8]),
}

/// RFC 2047 encoded words for non-ASCII text (or text with control
/// characters); ASCII text is returned as is.
pub fn encode_words(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7F).contains(&b)) {
        return text.to_owned();
    }
    // At most 45 bytes of UTF-8 per word keeps each word under 75 chars.
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in text.char_indices() {
        let next = i + c.len_utf8();
        if next - start > 45 {
            words.push(&text[start..end]);
            start = end;
        }
        end = next;
    }
    words.push(&text[start..end]);
    words
        .iter()
        .map(|w| format!("=?UTF-8?B?{}?=", STANDARD.encode(w.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// An address usable in an Internet header: the SMTP address when known;
/// else, for an Exchange DN (`/O=ORG/OU=.../CN=NAME`), the SMTP address of a
/// recipient with the same DN (the same mailbox), else the DN in Exchange's
/// IMCEA encapsulation ([MS-OXCMAIL] 2.1.3.1.x: `IMCEAEX-` + the DN with `/`
/// as `_` and other specials as `+XX`, at the reserved domain `invalid`),
/// which keeps it one well-formed address.
fn internet_address(a: &Address, msg: &Message) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let email = a.internet_email();
    if email.is_empty() || email.contains('@') {
        return email.to_owned();
    }
    if let Some(same) = msg
        .recipients
        .iter()
        .map(|r| &r.address)
        .find(|r| r.email.eq_ignore_ascii_case(email) && r.smtp.contains('@'))
    {
        return same.smtp.clone();
    }
    let mut out = format!(
        "IMCEA{}-",
        if a.addr_type.is_empty() {
            "EX"
        } else {
            &a.addr_type
        }
    );
    for b in email.bytes() {
        match b {
            b'/' => out.push('_'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'=' | b'-' | b'.' => out.push(char::from(b)),
            _ => {
                out.push('+');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
        }
    }
    out.push_str("@invalid");
    out
}

/// `"Name" <addr>` with the name encoded or quoted as needed.
fn mailbox(a: &Address, msg: &Message) -> String {
    let email = internet_address(a, msg);
    let name = if a.name.is_empty() || a.name == email {
        String::new()
    } else if a.name.is_ascii() && !a.name.chars().any(char::is_control) {
        format!("\"{}\" ", a.name.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        format!("{} ", encode_words(&a.name))
    };
    if email.is_empty() {
        // Only a display name is stored (drafts, sync logs): keep it, with
        // the empty address `<>` mail software uses for "no address".
        format!("{name}<>")
    } else if name.is_empty() {
        format!("<{email}>")
    } else {
        format!("{name}<{email}>")
    }
}

fn date(t: jiff::Timestamp) -> String {
    jiff::fmt::rfc2822::to_string(&t.to_zoned_datetime(TimeZone::UTC))
        .unwrap_or_else(|_| t.to_string())
}

/// Unfolded header fields of stored transport headers, in order.
fn parse_headers(raw: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in raw.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str("\r\n");
                last.1.push_str(line);
            }
        } else if let Some((name, value)) = line.split_once(':')
            && !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
        {
            out.push((name.to_owned(), value.trim_start().to_owned()));
        }
    }
    out
}

/// The charset an HTML body declares, if any.
fn html_charset(html: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(html.get(..4096).unwrap_or(html)).to_ascii_lowercase();
    let at = head.find("charset=")? + "charset=".len();
    let rest = head[at..].trim_start_matches(['"', '\'']);
    let cs: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    (!cs.is_empty()).then_some(cs)
}

/// Quotes a MIME parameter value, RFC 2047-encoding non-ASCII.
fn param(value: &str) -> String {
    let v = encode_words(value).replace("\r\n ", " ");
    format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Contact/calendar fields as text lines.
fn details_text(msg: &Message) -> String {
    msg.details.iter().fold(String::new(), |mut s, (k, v)| {
        s.push_str(k);
        s.push_str(": ");
        s.push_str(v);
        s.push('\n');
        s
    })
}

fn is_inline(att: &Attachment, html: Option<&[u8]>) -> bool {
    let (Some(cid), Some(html)) = (&att.content_id, html) else {
        return false;
    };
    att.data().is_some()
        && String::from_utf8_lossy(html).contains(&format!("cid:{}", cid.trim_matches(['<', '>'])))
}

impl EmlWriter {
    fn boundary(&mut self) -> String {
        self.next_boundary += 1;
        format!("=_kairos_part_{}", self.next_boundary)
    }

    fn headers(msg: &Message) -> Vec<(String, String)> {
        let mut h: Vec<(String, String)> = Vec::new();
        if let Some(raw) = &msg.transport_headers {
            h = parse_headers(raw)
                .into_iter()
                .filter(|(n, _)| {
                    let n = n.to_ascii_lowercase();
                    !n.starts_with("content-") && n != "mime-version"
                })
                .collect();
        }
        let has = |h: &[(String, String)], name: &str| {
            h.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        let add = |h: &mut Vec<(String, String)>, name: &str, value: String| {
            if !has(h, name) && !value.is_empty() {
                h.push((name.to_owned(), value));
            }
        };
        if !msg.sender.is_empty() {
            add(&mut h, "From", mailbox(&msg.sender, msg));
        } else if !msg.sent_representing.is_empty() {
            add(&mut h, "From", mailbox(&msg.sent_representing, msg));
        }
        for (kind, name) in [
            (RecipientKind::To, "To"),
            (RecipientKind::Cc, "Cc"),
            (RecipientKind::Bcc, "Bcc"),
        ] {
            let list: Vec<String> = msg
                .recipients
                .iter()
                .filter(|r| r.kind == kind)
                .map(|r| mailbox(&r.address, msg))
                .collect();
            add(&mut h, name, list.join(",\r\n "));
        }
        add(&mut h, "Subject", encode_words(&msg.subject));
        if let Some(t) = msg.submit_time.or(msg.date()) {
            add(&mut h, "Date", date(t));
        }
        for (name, v) in [
            ("Message-ID", &msg.message_id),
            ("In-Reply-To", &msg.in_reply_to),
            ("References", &msg.references),
        ] {
            if let Some(v) = v {
                add(&mut h, name, v.clone());
            }
        }
        add(&mut h, "X-MS-Message-Class", msg.class.clone());
        match &msg.status {
            ItemStatus::Recovered => add(&mut h, "X-Kairos-Status", "recovered".into()),
            ItemStatus::Damaged(d) => add(
                &mut h,
                "X-Kairos-Status",
                encode_words(&format!("damaged: {d}")),
            ),
            _ => {}
        }
        h
    }

    fn text_leaf<'a>(
        subtype: &str,
        charset: &str,
        bytes: impl Into<std::borrow::Cow<'a, [u8]>>,
    ) -> Part<'a> {
        Part::Leaf {
            headers: vec![(
                "Content-Type".into(),
                format!("text/{subtype}; charset=\"{charset}\""),
            )],
            body: Body::Base64(bytes.into()),
        }
    }

    fn body_part(msg: &Message) -> Option<Part<'_>> {
        let mut alternatives = Vec::new();
        let details = details_text(msg);
        let text = match (&msg.body_text, details.is_empty()) {
            (Some(t), true) => Some(t.clone()),
            (Some(t), false) => Some(format!("{details}\n{t}")),
            (None, false) => Some(details),
            (None, true) => None,
        };
        if let Some(t) = text {
            alternatives.push(Self::text_leaf("plain", "utf-8", t.into_bytes()));
        }
        if let Some(html) = &msg.body_html {
            let cs = html_charset(html).unwrap_or_else(|| "utf-8".into());
            alternatives.push(Self::text_leaf("html", &cs, html.as_slice()));
        }
        if alternatives.is_empty()
            && let Some(rtf) = &msg.body_rtf
        {
            // RTF only: a plain-text rendering first, the RTF as the richer
            // alternative.
            alternatives.push(Self::text_leaf(
                "plain",
                "utf-8",
                crate::rtf::to_text(rtf).into_bytes(),
            ));
            alternatives.push(Part::Leaf {
                headers: vec![("Content-Type".into(), "text/rtf".into())],
                body: Body::Base64(rtf.as_slice().into()),
            });
        }
        match alternatives.len() {
            0 => None,
            1 => alternatives.pop(),
            _ => Some(Part::Multi {
                subtype: "alternative",
                parts: alternatives,
            }),
        }
    }

    fn attachment_part(att: &Attachment, inline: bool) -> Option<Part<'_>> {
        let name = if att.name.is_empty() {
            None
        } else {
            Some(param(&att.name))
        };
        let mut headers = Vec::new();
        let body = match &att.content {
            AttachmentContent::Data(d) => {
                let mime = att
                    .mime_type
                    .as_deref()
                    .filter(|m| {
                        m.contains('/') && m.is_ascii() && !m.contains(['"', ';', '\r', '\n'])
                    })
                    .unwrap_or("application/octet-stream");
                headers.push((
                    "Content-Type".into(),
                    match &name {
                        Some(n) => format!("{mime}; name={n}"),
                        None => mime.to_owned(),
                    },
                ));
                Body::Base64(d.as_slice().into())
            }
            AttachmentContent::Message(m) => {
                headers.push(("Content-Type".into(), "message/rfc822".into()));
                Body::Message(m)
            }
            AttachmentContent::Rfc822(raw) => {
                headers.push(("Content-Type".into(), "message/rfc822".into()));
                Body::Raw(raw)
            }
            AttachmentContent::Reference(_) | AttachmentContent::Unreadable(_) => return None,
        };
        let disposition = if inline { "inline" } else { "attachment" };
        headers.push((
            "Content-Disposition".into(),
            match &name {
                Some(n) => format!("{disposition}; filename={n}"),
                None => disposition.to_owned(),
            },
        ));
        if let Some(cid) = &att.content_id
            && cid.is_ascii()
            && !cid.contains(['\r', '\n'])
        {
            headers.push((
                "Content-ID".into(),
                format!("<{}>", cid.trim_matches(['<', '>'])),
            ));
        }
        Some(Part::Leaf { headers, body })
    }

    fn message(&mut self, msg: &Message, out: &mut Vec<u8>) -> io::Result<()> {
        let mut headers = Self::headers(msg);
        for att in &msg.attachments {
            match &att.content {
                AttachmentContent::Reference(p) => headers.push((
                    "X-Kairos-Attachment-Reference".into(),
                    encode_words(&format!("{}: {p}", att.name)),
                )),
                AttachmentContent::Unreadable(why) => headers.push((
                    "X-Kairos-Attachment-Unreadable".into(),
                    encode_words(&format!("{}: {why}", att.name)),
                )),
                _ => {}
            }
        }
        headers.push(("MIME-Version".into(), "1.0".into()));

        let html = msg.body_html.as_deref();
        let (inline, attached): (Vec<&Attachment>, Vec<&Attachment>) =
            msg.attachments.iter().partition(|a| is_inline(a, html));
        let mut root =
            Self::body_part(msg).unwrap_or_else(|| Self::text_leaf("plain", "utf-8", Vec::new()));
        if !inline.is_empty() {
            let mut parts = vec![root];
            parts.extend(inline.iter().filter_map(|a| Self::attachment_part(a, true)));
            root = Part::Multi {
                subtype: "related",
                parts,
            };
        }
        let files: Vec<Part<'_>> = attached
            .iter()
            .filter_map(|a| Self::attachment_part(a, false))
            .collect();
        if !files.is_empty() {
            let mut parts = vec![root];
            parts.extend(files);
            root = Part::Multi {
                subtype: "mixed",
                parts,
            };
        }
        self.part(&root, headers, out)
    }

    fn part(
        &mut self,
        part: &Part<'_>,
        mut headers: Vec<(String, String)>,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        match part {
            Part::Leaf { headers: own, body } => {
                headers.extend(own.iter().cloned());
                match body {
                    Body::Base64(_) => {
                        headers.push(("Content-Transfer-Encoding".into(), "base64".into()));
                    }
                    Body::Raw(raw) if !raw.is_ascii() => {
                        headers.push(("Content-Transfer-Encoding".into(), "8bit".into()));
                    }
                    _ => {}
                }
                write_headers(&headers, out)?;
                match body {
                    Body::Base64(bytes) => {
                        write_base64(bytes, out);
                        Ok(())
                    }
                    Body::Message(m) => self.message(m, out),
                    Body::Raw(raw) => {
                        out.extend_from_slice(raw);
                        if !raw.ends_with(b"\n") {
                            out.extend_from_slice(b"\r\n");
                        }
                        Ok(())
                    }
                }
            }
            Part::Multi { subtype, parts } => {
                let boundary = self.boundary();
                headers.push((
                    "Content-Type".into(),
                    format!("multipart/{subtype}; boundary=\"{boundary}\""),
                ));
                write_headers(&headers, out)?;
                for p in parts {
                    write!(out, "\r\n--{boundary}\r\n")?;
                    self.part(p, Vec::new(), out)?;
                }
                write!(out, "\r\n--{boundary}--\r\n")
            }
        }
    }
}

fn write_headers(headers: &[(String, String)], out: &mut Vec<u8>) -> io::Result<()> {
    for (name, value) in headers {
        // Stored headers may hold raw 8-bit text; encode such values so the
        // message stays 7-bit.
        let value = if value.is_ascii() {
            value.clone()
        } else {
            encode_words(&value.replace("\r\n", ""))
        };
        write!(out, "{name}: {value}\r\n")?;
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

fn write_base64(bytes: &[u8], out: &mut Vec<u8>) {
    let encoded = STANDARD.encode(bytes);
    for line in encoded.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_round_trip_through_a_mime_parser() {
        let subject = "采购成本为何居高不下呢？ and a long tail to force several encoded words";
        let enc = encode_words(subject);
        assert!(enc.is_ascii());
        assert!(enc.lines().all(|l| l.len() <= 76), "{enc}");
        let raw = format!("Subject: {enc}\r\n\r\nbody\r\n");
        let parsed = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("parse");
        assert_eq!(parsed.subject(), Some(subject));
        assert_eq!(encode_words("plain"), "plain");
    }

    #[test]
    fn stored_headers_drop_mime_structure_and_unfold() {
        let raw = "Received: from a\r\n by b\r\nContent-Type: application/ms-tnef\r\nSubject: Hi\r\nMIME-Version: 1.0\r\n\r\nbody";
        let h = parse_headers(raw);
        assert_eq!(h.len(), 4);
        assert_eq!(h[0], ("Received".into(), "from a\r\n by b".into()));
        assert_eq!(
            html_charset(b"<meta content=\"text/html; charset=us-ascii\">"),
            Some("us-ascii".into())
        );
    }
}
