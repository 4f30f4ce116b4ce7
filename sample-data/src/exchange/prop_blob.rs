//! "ProP" property blobs (exchange-store.md §4) and the MAPI property ids
//! the generator stores in them.

/// MAPI property ids used (with [MS-OXPROPS] names).
pub(super) mod prop {
    pub const MESSAGE_CLASS: u16 = 0x001A;
    pub const IMPORTANCE: u16 = 0x0017;
    pub const SUBJECT: u16 = 0x0037;
    pub const CLIENT_SUBMIT_TIME: u16 = 0x0039;
    pub const SUBJECT_PREFIX: u16 = 0x003D;
    pub const SENT_REPRESENTING_NAME: u16 = 0x0042;
    pub const SENT_REPRESENTING_EMAIL: u16 = 0x0065;
    pub const SENDER_NAME: u16 = 0x0C1A;
    pub const SENDER_EMAIL: u16 = 0x0C1F;
    pub const RECIPIENT_TYPE: u16 = 0x0C15;
    pub const DISPLAY_CC: u16 = 0x0E03;
    pub const DISPLAY_TO: u16 = 0x0E04;
    pub const DELIVERY_TIME: u16 = 0x0E06;
    pub const MESSAGE_FLAGS: u16 = 0x0E07;
    pub const HASATTACH: u16 = 0x0E1B;
    pub const NORMALIZED_SUBJECT: u16 = 0x0E1D;
    pub const ATTACH_SIZE: u16 = 0x0E20;
    pub const BODY: u16 = 0x1000;
    pub const RTF_COMPRESSED: u16 = 0x1009;
    pub const HTML: u16 = 0x1013;
    pub const INTERNET_MESSAGE_ID: u16 = 0x1035;
    pub const DISPLAY_NAME: u16 = 0x3001;
    pub const ADDRTYPE: u16 = 0x3002;
    pub const EMAIL_ADDRESS: u16 = 0x3003;
    pub const CONTENT_COUNT: u16 = 0x3602;
    pub const CONTENT_UNREAD: u16 = 0x3603;
    pub const CONTAINER_CLASS: u16 = 0x3613;
    pub const ATTACH_FILENAME: u16 = 0x3704;
    pub const ATTACH_METHOD: u16 = 0x3705;
    pub const ATTACH_LONG_FILENAME: u16 = 0x3707;
    pub const ATTACH_MIME_TAG: u16 = 0x370E;
    pub const ATTACH_CONTENT_ID: u16 = 0x3712;
    pub const SMTP_ADDRESS: u16 = 0x39FE;
    pub const SENDER_SMTP_ADDRESS: u16 = 0x5D01;
    pub const ATTACHMENT_HIDDEN: u16 = 0x7FFE;
}

pub(super) enum PropValue<'a> {
    Long(i32),
    Bool(bool),
    Time(i64),
    Str(&'a str),
    Bin(&'a [u8]),
}

/// Encodes a "ProP" blob (exchange-store.md §4).
pub(super) fn prop_blob(props: &[(u16, PropValue<'_>)]) -> Vec<u8> {
    let mut out = b"ProP".to_vec();
    out.extend_from_slice(&0x0400u16.to_le_bytes());
    out.extend_from_slice(&(props.len() as u16).to_le_bytes());
    for (id, v) in props {
        let ptype = match v {
            PropValue::Long(_) => 0x18,
            PropValue::Bool(_) => 0x08,
            PropValue::Time(_) => 0x38,
            PropValue::Str(_) => 0x48,
            PropValue::Bin(_) => 0x50,
        };
        out.push(ptype);
        out.extend_from_slice(&id.to_le_bytes());
    }
    for (_, v) in props {
        match v {
            PropValue::Long(0) => out.push(0x18),
            PropValue::Long(x) => {
                if let Ok(b) = i8::try_from(*x) {
                    out.push(0x19);
                    out.push(b as u8);
                } else if let Ok(s) = i16::try_from(*x) {
                    out.push(0x1a);
                    out.extend_from_slice(&s.to_le_bytes());
                } else {
                    out.push(0x1b);
                    out.extend_from_slice(&x.to_le_bytes());
                }
            }
            PropValue::Bool(b) => out.push(if *b { 0x09 } else { 0x08 }),
            PropValue::Time(t) => {
                out.push(0x38);
                out.extend_from_slice(&t.to_le_bytes());
            }
            PropValue::Str(s) => len_prefixed(&mut out, 0x48, s.as_bytes()),
            PropValue::Bin(b) => len_prefixed(&mut out, 0x50, b),
        }
    }
    out
}

/// Empty / u8-length / u16-length forms (base, base+5/+1, base+6/+2).
fn len_prefixed(out: &mut Vec<u8>, base: u8, b: &[u8]) {
    let (one, two) = if base == 0x48 {
        (0x4d, 0x4e)
    } else {
        (0x51, 0x52)
    };
    if b.is_empty() {
        out.push(base);
    } else if let Ok(n) = u8::try_from(b.len()) {
        out.push(one);
        out.push(n);
        out.extend_from_slice(b);
    } else {
        out.push(two);
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(b);
    }
}
