//! The Exchange store's "ProP" property blob (`PropertyBlob` columns of
//! `Folder_N`, `Message_N`, `Attachment_N`, and each element of
//! `RecipientList`): the MAPI properties that are not columns of their own.
//!
//! Layout per `../shared/docs/formats/exchange-store.md` §4 (from gromox's
//! `edb_pack.cpp`): `"ProP"`, u16 flags (0x0400, or 0x0401 followed by a u32
//! of unknown meaning), u16 count, `count` × (u8 type, u16 property id), then
//! `count` values, each starting with an encoding byte that says how long it
//! is. Every value therefore parses without knowing its directory type; a
//! directory type outside gromox's table only loses the MAPI type name.
//!
//! Strings: 0x4d/0x4e carry 8-bit bytes (UTF-8 when valid, else
//! Windows-1252); 0x49/0x4a carry UTF-16LE (seen on real databases for
//! non-Latin text, §8.1), lengths in bytes. Values the store moved out of
//! line (NEAR 0x78 / FAR 0x7a) are returned as [`PropValue::OutOfLine`]: the
//! caller may resolve them from `SeparatedPropertyNN` columns.

use std::fmt;

use kairos_ese::value::decode_text;

/// MAPI property types ([MS-OXCDATA] 2.11.1) this decoder produces.
pub mod ptype {
    /// PT_SHORT.
    pub const SHORT: u16 = 0x0002;
    /// PT_LONG.
    pub const LONG: u16 = 0x0003;
    /// PT_FLOAT.
    pub const FLOAT: u16 = 0x0004;
    /// PT_DOUBLE.
    pub const DOUBLE: u16 = 0x0005;
    /// PT_CURRENCY.
    pub const CURRENCY: u16 = 0x0006;
    /// PT_APPTIME.
    pub const APPTIME: u16 = 0x0007;
    /// PT_BOOLEAN.
    pub const BOOLEAN: u16 = 0x000B;
    /// PT_I8.
    pub const I8: u16 = 0x0014;
    /// PT_UNICODE.
    pub const UNICODE: u16 = 0x001F;
    /// PT_SYSTIME.
    pub const SYSTIME: u16 = 0x0040;
    /// PT_CLSID.
    pub const CLSID: u16 = 0x0048;
    /// PT_BINARY.
    pub const BINARY: u16 = 0x0102;
    /// Multi-value flag.
    pub const MV: u16 = 0x1000;
}

/// One decoded property value.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    /// PT_BOOLEAN.
    Bool(bool),
    /// PT_SHORT, PT_LONG, PT_I8, PT_CURRENCY (widened).
    Int(i64),
    /// PT_FLOAT, PT_DOUBLE, PT_APPTIME.
    Float(f64),
    /// PT_SYSTIME: a FILETIME.
    Time(u64),
    /// PT_CLSID.
    Clsid([u8; 16]),
    /// PT_UNICODE (or 8-bit text).
    Str(String),
    /// PT_BINARY.
    Bin(Vec<u8>),
    /// A multi-valued property.
    Multi(Vec<PropValue>),
    /// A value the store moved out of the blob (exchange-store.md §4.3).
    OutOfLine {
        /// Slot number (`SeparatedPropertyNN` of folders).
        slot: u16,
        /// Offset hint (NEAR) or allocation hint (FAR).
        offset: u32,
        /// The value's own encoding byte (0x4e string, 0x52 binary ...).
        encoding: u16,
        /// Uncompressed length.
        len: u32,
        /// FAR rather than NEAR.
        far: bool,
    },
}

impl PropValue {
    /// The value as text (strings; binary decoded as UTF-8 when it is).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PropValue::Str(s) => Some(s),
            PropValue::Bin(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The value as an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            PropValue::Int(i) => Some(*i),
            PropValue::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// The value as bytes (binary; strings as their UTF-8).
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            PropValue::Bin(b) => Some(b),
            PropValue::Str(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The value as a FILETIME.
    pub fn as_filetime(&self) -> Option<u64> {
        match self {
            PropValue::Time(t) => Some(*t),
            PropValue::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }
}

/// A decoded blob: properties in blob order (tombstones dropped), and what
/// could not be decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropSet {
    /// `(property id, MAPI type, value)`.
    pub props: Vec<(u16, u16, PropValue)>,
    /// Lossy problems, one sentence each: the properties from the first
    /// undecodable value on are missing.
    pub problems: Vec<String>,
    /// Things not understood that lost nothing (unknown type bytes).
    pub notes: Vec<String>,
}

impl PropSet {
    /// The value of property `id` (any type).
    pub fn get(&self, id: u16) -> Option<&PropValue> {
        self.props.iter().find(|p| p.0 == id).map(|p| &p.2)
    }

    /// Property `id` as text.
    pub fn str(&self, id: u16) -> Option<&str> {
        self.get(id).and_then(PropValue::as_str)
    }

    /// Property `id` as an integer.
    pub fn int(&self, id: u16) -> Option<i64> {
        self.get(id).and_then(PropValue::as_int)
    }

    /// Property `id` as a FILETIME.
    pub fn filetime(&self, id: u16) -> Option<u64> {
        self.get(id).and_then(PropValue::as_filetime)
    }

    /// Property `id` as bytes.
    pub fn bytes(&self, id: u16) -> Option<&[u8]> {
        self.get(id).and_then(PropValue::as_bytes)
    }

    /// Applies `delta` over this set (gromox merges `PropertyBlobDelta` over
    /// `PropertyBlob`): a delta property replaces the base one; a delta
    /// tombstone removes it.
    pub fn merge(&mut self, delta: PropSet, tombstones: &[u16]) {
        self.props.retain(|p| !tombstones.contains(&p.0));
        for p in delta.props {
            self.props.retain(|q| q.0 != p.0);
            self.props.push(p);
        }
        self.problems.extend(delta.problems);
        self.notes.extend(delta.notes);
    }
}

impl PropSet {
    /// Adds the properties of `other` this set lacks (a second blob of the
    /// same object, such as `OffPagePropertyBlob`, whose values must not
    /// override the main blob's).
    pub fn fill_from(&mut self, other: PropSet) {
        for p in other.props {
            if self.get(p.0).is_none() {
                self.props.push(p);
            }
        }
        self.problems.extend(other.problems);
        self.notes.extend(other.notes);
    }
}

/// Why a blob could not be decoded at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobError {
    /// Byte offset in the blob.
    pub offset: usize,
    /// What was wrong.
    pub detail: String,
}

impl fmt::Display for BlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "property blob offset {}: {}", self.offset, self.detail)
    }
}

/// The magic every blob starts with.
pub const MAGIC: &[u8; 4] = b"ProP";

/// Directory type byte → MAPI type (exchange-store.md §4.1); bit 0x80 is
/// the multi-value flag.
fn mapi_type(dir: u8) -> Option<u16> {
    let base = match dir & 0x7F {
        0x08 => ptype::BOOLEAN,
        0x10 => ptype::SHORT,
        0x18 => ptype::LONG,
        0x20 => ptype::I8,
        0x24 => ptype::CURRENCY,
        0x28 => ptype::FLOAT,
        0x30 => ptype::DOUBLE,
        0x34 => ptype::APPTIME,
        0x38 => ptype::SYSTIME,
        0x40 => ptype::CLSID,
        0x48 => ptype::UNICODE,
        0x50 => ptype::BINARY,
        _ => return None,
    };
    Some(if dir & 0x80 != 0 {
        base | ptype::MV
    } else {
        base
    })
}

/// A bounds-checked reader over the blob.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, detail: impl Into<String>) -> BlobError {
        BlobError {
            offset: self.pos,
            detail: detail.into(),
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BlobError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                self.err(format!(
                    "needs {n} bytes, {} left",
                    self.data.len().saturating_sub(self.pos)
                ))
            })?;
        let s = self.data.get(self.pos..end).unwrap_or_default();
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BlobError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, BlobError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, BlobError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, BlobError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, BlobError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// A u8 (`wide` false) or u16 length/count.
    fn len(&mut self, wide: bool) -> Result<usize, BlobError> {
        Ok(if wide {
            usize::from(self.u16()?)
        } else {
            usize::from(self.u8()?)
        })
    }
}

/// 8-bit string bytes: UTF-8 when valid, else Windows-1252.
fn text8(b: &[u8]) -> String {
    decode_text(
        b,
        if std::str::from_utf8(b).is_ok() {
            65001
        } else {
            1252
        },
    )
}

/// A string or binary element with its own header byte (single values and
/// elements of MV string/binary).
fn sized(c: &mut Cursor<'_>, enc: u8) -> Result<PropValue, BlobError> {
    Ok(match enc {
        0x48 => PropValue::Str(String::new()),
        0x49 | 0x4a => {
            let n = c.len(enc == 0x4a)?;
            PropValue::Str(decode_text(c.take(n)?, 1200))
        }
        0x4d | 0x4e => {
            let n = c.len(enc == 0x4e)?;
            PropValue::Str(text8(c.take(n)?))
        }
        0x50 => PropValue::Bin(Vec::new()),
        0x51 | 0x52 => {
            let n = c.len(enc == 0x52)?;
            PropValue::Bin(c.take(n)?.to_vec())
        }
        other => {
            return Err(c.err(format!(
                "element encoding 0x{other:02x} is not a string or binary"
            )));
        }
    })
}

/// Packed fixed-size elements of a multi-valued property.
fn multi_fixed(c: &mut Cursor<'_>, enc: u8) -> Result<PropValue, BlobError> {
    let count = c.len(enc & 1 == 0)?;
    let size = match enc & 0xF8 {
        0x90 => 2,
        0x98 | 0xa8 => 4,
        0xa0 | 0xb0 | 0xb8 => 8,
        _ => 16,
    };
    let bytes = c.take(count.saturating_mul(size))?;
    let values = bytes
        .chunks_exact(size)
        .map(|e| {
            let mut a8 = [0u8; 8];
            let mut a16 = [0u8; 16];
            match enc & 0xF8 {
                0x90 => PropValue::Int(i64::from(i16::from_le_bytes([e[0], e[1]]))),
                0x98 => PropValue::Int(i64::from(i32::from_le_bytes([e[0], e[1], e[2], e[3]]))),
                0xa8 => PropValue::Float(f64::from(f32::from_le_bytes([e[0], e[1], e[2], e[3]]))),
                0xa0 => {
                    a8.copy_from_slice(e);
                    PropValue::Int(i64::from_le_bytes(a8))
                }
                0xb0 => {
                    a8.copy_from_slice(e);
                    PropValue::Float(f64::from_le_bytes(a8))
                }
                0xb8 => {
                    a8.copy_from_slice(e);
                    PropValue::Time(u64::from_le_bytes(a8))
                }
                _ => {
                    a16.copy_from_slice(e);
                    PropValue::Clsid(a16)
                }
            }
        })
        .collect();
    Ok(PropValue::Multi(values))
}

/// One value; `None` for a tombstone.
fn value(c: &mut Cursor<'_>) -> Result<Option<PropValue>, BlobError> {
    let at = c.pos;
    let enc = c.u8()?;
    let v = match enc {
        0x00 => return Ok(None),
        0x08 | 0x09 => PropValue::Bool(enc == 0x09),
        0x10 | 0x18 | 0x20 => PropValue::Int(0),
        0x11 | 0x19 | 0x21 => PropValue::Int(i64::from(c.u8()? as i8)),
        0x12 | 0x1a | 0x22 => PropValue::Int(i64::from(c.u16()? as i16)),
        0x1b | 0x23 => PropValue::Int(i64::from(c.u32()? as i32)),
        0x24 => PropValue::Int(c.u64()? as i64),
        0x28 => PropValue::Float(f64::from(f32::from_le_bytes(c.array()?))),
        0x2a | 0x32 => PropValue::Float(0.0),
        0x30 => PropValue::Float(f64::from_le_bytes(c.array()?)),
        0x38 => PropValue::Time(c.u64()?),
        // gromox widens this 32-bit form by sign extension.
        0x39 => PropValue::Time(i64::from(c.u32()? as i32) as u64),
        0x40 => PropValue::Clsid(c.array()?),
        0x48..=0x4a | 0x4d | 0x4e | 0x50..=0x52 => sized(c, enc)?,
        0x91 | 0x92 | 0x99 | 0x9a | 0xa1 | 0xa2 | 0xa9 | 0xaa | 0xb1 | 0xb2 | 0xb9 | 0xba
        | 0xc1 | 0xc2 => multi_fixed(c, enc)?,
        0xc9 | 0xca | 0xd1 | 0xd2 => {
            let count = c.len(enc & 1 == 0)?;
            let mut values = Vec::new();
            for _ in 0..count {
                let e = c.u8()?;
                values.push(sized(c, e)?);
            }
            PropValue::Multi(values)
        }
        0x78 | 0x7a => PropValue::OutOfLine {
            slot: c.u16()?,
            offset: c.u32()?,
            encoding: c.u16()?,
            len: c.u32()?,
            far: enc == 0x7a,
        },
        other => {
            c.pos = at;
            return Err(c.err(format!("unknown value encoding 0x{other:02x}")));
        }
    };
    Ok(Some(v))
}

/// Decodes a blob. The header must be readable (else the error); a value
/// that cannot be decoded ends the walk with a problem noted, keeping the
/// properties before it. Returns the set and the ids of tombstoned
/// properties (for [`PropSet::merge`]).
pub fn decode(data: &[u8]) -> Result<(PropSet, Vec<u16>), BlobError> {
    let mut c = Cursor { data, pos: 0 };
    if c.take(4)? != MAGIC {
        return Err(BlobError {
            offset: 0,
            detail: "does not start with \"ProP\"".into(),
        });
    }
    let flags = c.u16()?;
    if flags & 0x0001 != 0 {
        c.u32()?;
    }
    let count = usize::from(c.u16()?);
    let mut dir = Vec::with_capacity(count.min(data.len() / 3));
    for _ in 0..count {
        let t = c.u8()?;
        dir.push((t, c.u16()?));
    }
    let mut set = PropSet::default();
    let mut tombstones = Vec::new();
    let mut unknown_types = Vec::new();
    for (i, (t, id)) in dir.iter().enumerate() {
        match value(&mut c) {
            Ok(None) => tombstones.push(*id),
            Ok(Some(v)) => {
                let ty = mapi_type(*t).unwrap_or_else(|| {
                    unknown_types.push(format!("0x{id:04x} type 0x{t:02x}"));
                    0
                });
                set.props.push((*id, ty, v));
            }
            Err(e) => {
                set.problems.push(format!(
                    "{e}; property 0x{id:04x} and {} after it skipped",
                    dir.len() - i - 1
                ));
                break;
            }
        }
    }
    if !unknown_types.is_empty() {
        set.notes.push(format!(
            "unknown property type byte (value kept): {}",
            unknown_types.join(", ")
        ));
    }
    Ok((set, tombstones))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(dir: &[(u8, u16)], values: &[u8]) -> Vec<u8> {
        let mut b = b"ProP\x00\x04".to_vec();
        b.extend_from_slice(&(dir.len() as u16).to_le_bytes());
        for (t, id) in dir {
            b.push(*t);
            b.extend_from_slice(&id.to_le_bytes());
        }
        b.extend_from_slice(values);
        b
    }

    #[test]
    fn every_scalar_encoding_decodes() {
        let mut v = vec![0x09, 0x19, 0xfe, 0x1a, 0x00, 0x80, 0x1b];
        v.extend_from_slice(&70_000i32.to_le_bytes());
        v.push(0x38);
        v.extend_from_slice(&123_456_789u64.to_le_bytes());
        v.extend_from_slice(&[0x4d, 3, b'a', b'b', b'c']);
        v.extend_from_slice(&[0x49, 4, b'h', 0, b'i', 0]);
        v.extend_from_slice(&[0x52, 2, 0, 0xde, 0xad]);
        v.push(0x00);
        let b = blob(
            &[
                (0x08, 1),
                (0x18, 2),
                (0x10, 3),
                (0x18, 4),
                (0x38, 5),
                (0x48, 6),
                (0x48, 7),
                (0x50, 8),
                (0x18, 9),
            ],
            &v,
        );
        let (set, tomb) = decode(&b).expect("decodes");
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert_eq!(set.get(1), Some(&PropValue::Bool(true)));
        assert_eq!(set.int(2), Some(-2));
        assert_eq!(set.int(3), Some(i64::from(i16::MIN)));
        assert_eq!(set.int(4), Some(70_000));
        assert_eq!(set.filetime(5), Some(123_456_789));
        assert_eq!(set.str(6), Some("abc"));
        assert_eq!(set.str(7), Some("hi"));
        assert_eq!(set.bytes(8), Some(&[0xde, 0xad][..]));
        assert_eq!(tomb, vec![9]);
        assert_eq!(set.props[0].1, ptype::BOOLEAN);
        assert_eq!(set.props[7].1, ptype::BINARY);
    }

    #[test]
    fn multi_values_and_out_of_line_references() {
        let mut v = vec![0x99, 2];
        v.extend_from_slice(&1i32.to_le_bytes());
        v.extend_from_slice(&(-1i32).to_le_bytes());
        v.extend_from_slice(&[0xc9, 2, 0x4d, 1, b'x', 0x48]);
        v.push(0x78);
        v.extend_from_slice(&3u16.to_le_bytes());
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&0x4eu16.to_le_bytes());
        v.extend_from_slice(&5000u32.to_le_bytes());
        let b = blob(&[(0x98, 1), (0xc8, 2), (0x48, 3)], &v);
        let (set, _) = decode(&b).expect("decodes");
        assert_eq!(
            set.get(1),
            Some(&PropValue::Multi(vec![
                PropValue::Int(1),
                PropValue::Int(-1)
            ]))
        );
        assert_eq!(set.props[0].1, ptype::LONG | ptype::MV);
        assert_eq!(
            set.get(2),
            Some(&PropValue::Multi(vec![
                PropValue::Str("x".into()),
                PropValue::Str(String::new())
            ]))
        );
        assert!(matches!(
            set.get(3),
            Some(PropValue::OutOfLine {
                slot: 3,
                offset: 16,
                encoding: 0x4e,
                len: 5000,
                far: false
            })
        ));
    }

    #[test]
    fn unknown_encoding_keeps_earlier_properties_and_says_why() {
        let b = blob(
            &[(0x18, 1), (0x18, 2), (0x18, 3)],
            &[0x19, 5, 0x77, 0x19, 6],
        );
        let (set, _) = decode(&b).expect("header decodes");
        assert_eq!(set.int(1), Some(5));
        assert_eq!(set.get(2), None);
        assert_eq!(set.problems.len(), 1);
        assert!(set.problems[0].contains("0x77"), "{:?}", set.problems);
        assert!(set.problems[0].contains("1 after it"), "{:?}", set.problems);
    }

    #[test]
    fn unknown_directory_type_keeps_the_value() {
        let b = blob(&[(0x5c, 1)], &[0x19, 5]);
        let (set, _) = decode(&b).expect("decodes");
        assert_eq!(set.int(1), Some(5));
        assert!(set.problems.is_empty());
        assert!(set.notes[0].contains("0x5c"));
    }

    #[test]
    fn bad_headers_are_errors() {
        assert!(decode(b"PROP\x00\x04\x00\x00").is_err());
        assert!(decode(b"ProP\x00").is_err());
        // count says 2 directory entries, only one present
        assert!(decode(b"ProP\x00\x04\x02\x00\x18\x01\x00").is_err());
        // flags 0x0401 carry an extra u32 before the count
        let (set, _) =
            decode(b"ProP\x01\x04\xaa\xbb\xcc\xdd\x01\x00\x18\x01\x00\x19\x07").expect("decodes");
        assert_eq!(set.int(1), Some(7));
    }

    #[test]
    fn merge_replaces_and_removes() {
        let (mut base, _) =
            decode(&blob(&[(0x18, 1), (0x18, 2)], &[0x19, 1, 0x19, 2])).expect("decodes");
        let (delta, tomb) =
            decode(&blob(&[(0x18, 1), (0x18, 2)], &[0x19, 9, 0x00])).expect("decodes");
        base.merge(delta, &tomb);
        assert_eq!(base.int(1), Some(9));
        assert_eq!(base.get(2), None);
    }

    /// Encodes per the table of exchange-store.md §4.2 (independently of
    /// the decoder): directory type byte and value bytes.
    fn encode(v: &PropValue) -> (u8, Vec<u8>) {
        fn sized(base: u8, b: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            if b.is_empty() {
                out.push(base);
            } else if b.len() < 256 {
                out.extend_from_slice(&[base + if base == 0x48 { 5 } else { 1 }, b.len() as u8]);
            } else {
                out.push(base + if base == 0x48 { 6 } else { 2 });
                out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            }
            out.extend_from_slice(b);
            out
        }
        match v {
            PropValue::Bool(b) => (0x08, vec![0x08 | u8::from(*b)]),
            PropValue::Int(i) => {
                if let Ok(x) = i32::try_from(*i) {
                    let mut out = Vec::new();
                    if x == 0 {
                        out.push(0x18);
                    } else if let Ok(y) = i8::try_from(x) {
                        out.extend_from_slice(&[0x19, y as u8]);
                    } else if let Ok(y) = i16::try_from(x) {
                        out.push(0x1a);
                        out.extend_from_slice(&y.to_le_bytes());
                    } else {
                        out.push(0x1b);
                        out.extend_from_slice(&x.to_le_bytes());
                    }
                    (0x18, out)
                } else {
                    let mut out = vec![0x24];
                    out.extend_from_slice(&i.to_le_bytes());
                    (0x20, out)
                }
            }
            PropValue::Time(t) => {
                let mut out = vec![0x38];
                out.extend_from_slice(&t.to_le_bytes());
                (0x38, out)
            }
            PropValue::Str(t) => (0x48, sized(0x48, t.as_bytes())),
            PropValue::Bin(b) => (0x50, sized(0x50, b)),
            PropValue::Multi(items) => {
                let mut out = vec![0xc9, items.len() as u8];
                for it in items {
                    if let PropValue::Str(t) = it {
                        out.extend(sized(0x48, t.as_bytes()));
                    }
                }
                (0xc8, out)
            }
            _ => (0x50, vec![0x50]),
        }
    }

    fn any_value() -> impl proptest::strategy::Strategy<Value = PropValue> {
        use proptest::prelude::*;
        prop_oneof![
            any::<bool>().prop_map(PropValue::Bool),
            any::<i64>().prop_map(PropValue::Int),
            any::<u64>().prop_map(PropValue::Time),
            "[a-zA-Z0-9 äöü日本語]{0,120}".prop_map(PropValue::Str),
            proptest::collection::vec(any::<u8>(), 0..600).prop_map(PropValue::Bin),
            proptest::collection::vec("[a-z]{0,5}", 0..5)
                .prop_map(|v| { PropValue::Multi(v.into_iter().map(PropValue::Str).collect()) }),
        ]
    }

    proptest::proptest! {
        #[test]
        fn encoded_properties_decode_to_themselves(
            values in proptest::collection::vec(any_value(), 0..20)
        ) {
            let encoded: Vec<(u8, u16, Vec<u8>)> = values
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let (t, b) = encode(v);
                    (t, 0x1000 + i as u16, b)
                })
                .collect();
            let dir: Vec<(u8, u16)> = encoded.iter().map(|e| (e.0, e.1)).collect();
            let vals: Vec<u8> = encoded.iter().flat_map(|e| e.2.clone()).collect();
            let (set, tomb) = decode(&blob(&dir, &vals)).expect("decodes");
            proptest::prop_assert!(set.problems.is_empty() && set.notes.is_empty() && tomb.is_empty());
            let got: Vec<PropValue> = set.props.iter().map(|p| p.2.clone()).collect();
            proptest::prop_assert_eq!(got, values);
        }

        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let mut b = b"ProP\x00\x04".to_vec();
            b.extend_from_slice(&tail);
            let _ = decode(&b);
        }
    }
}
