//! Compressed RTF ([MS-OXRTFCP]): the LZFu compressor Exchange and Outlook
//! use for PR_RTF_COMPRESSED, and the uncompressed "MELA" form.
//!
//! Format: a 16-byte header `{u32 COMPSIZE (bytes after this field), u32
//! RAWSIZE, u32 COMPTYPE, u32 CRC}` then runs of one control byte (LSB
//! first: 0 = literal byte, 1 = reference) and 8 tokens. A reference is a
//! big-endian u16: 12-bit absolute offset into a 4096-byte circular
//! dictionary pre-filled with a fixed RTF prefix, 4-bit length − 2. The
//! stream ends with a reference to the current write position.

use std::collections::HashMap;

/// `LZFu`: compressed.
const COMPTYPE_COMPRESSED: u32 = 0x7546_5A4C;
/// `MELA`: stored uncompressed (allowed by the spec).
const COMPTYPE_UNCOMPRESSED: u32 = 0x414C_454D;
const DICT_SIZE: usize = 4096;
const MIN_MATCH: usize = 2;
const MAX_MATCH: usize = 17;
/// How many earlier positions with the same two bytes are tried per match.
const MAX_CANDIDATES: usize = 256;

/// The dictionary's initial content ([MS-OXRTFCP] §3.1.3.1), 207 bytes.
pub const INITIAL_DICTIONARY: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// CRC-32 as [MS-OXRTFCP] §3.1.3.2 computes it: the IEEE polynomial table,
/// initial value 0 and no final inversion.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        let mut c = (crc ^ u32::from(b)) & 0xff;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        crc = c ^ (crc >> 8);
    }
    crc
}

fn with_header(comptype: u32, raw_size: usize, crc: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + payload.len());
    out.extend_from_slice(&((payload.len() + 12) as u32).to_le_bytes());
    out.extend_from_slice(&(raw_size as u32).to_le_bytes());
    out.extend_from_slice(&comptype.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Stores `rtf` in the uncompressed "MELA" form (CRC field zero).
pub fn store_uncompressed(rtf: &[u8]) -> Vec<u8> {
    with_header(COMPTYPE_UNCOMPRESSED, rtf.len(), 0, rtf)
}

/// Compresses `rtf` into the LZFu form.
pub fn compress(rtf: &[u8]) -> Vec<u8> {
    // Virtual stream = dictionary prefix ++ input; stream position p lives at
    // dictionary offset p % 4096.
    let mut stream = INITIAL_DICTIONARY.to_vec();
    stream.extend_from_slice(rtf);
    let start = INITIAL_DICTIONARY.len();
    let mut seen: HashMap<[u8; 2], Vec<usize>> = HashMap::new();
    for p in 0..start.saturating_sub(1) {
        seen.entry([stream[p], stream[p + 1]]).or_default().push(p);
    }
    let mut payload = Vec::new();
    let mut control_at = 0;
    let mut token = 8;
    let mut pos = start;
    let mut push_token = |payload: &mut Vec<u8>, bit: bool, bytes: &[u8]| {
        if token == 8 {
            control_at = payload.len();
            payload.push(0);
            token = 0;
        }
        if bit {
            payload[control_at] |= 1 << token;
        }
        payload.extend_from_slice(bytes);
        token += 1;
    };
    while pos < stream.len() {
        let mut best = (0usize, 0usize);
        if pos + MIN_MATCH <= stream.len()
            && let Some(cands) = seen.get(&[stream[pos], stream[pos + 1]])
        {
            // Oldest candidate first and only strictly longer matches win,
            // which reproduces the spec's example byte for byte.
            let window_start = pos.saturating_sub(DICT_SIZE - 1);
            let first = cands.partition_point(|&c| c < window_start);
            for &cand in cands[first..].iter().take(MAX_CANDIDATES) {
                let dist = pos - cand;
                // No overlap with the bytes being written: simple and safe.
                let limit = MAX_MATCH.min(dist).min(stream.len() - pos);
                let len = (0..limit)
                    .take_while(|&k| stream[cand + k] == stream[pos + k])
                    .count();
                if len > best.0 {
                    best = (len, cand);
                }
            }
        }
        let step = if best.0 >= MIN_MATCH {
            let word = (((best.1 % DICT_SIZE) as u16) << 4) | (best.0 - MIN_MATCH) as u16;
            push_token(&mut payload, true, &word.to_be_bytes());
            best.0
        } else {
            push_token(&mut payload, false, &[stream[pos]]);
            1
        };
        for p in pos..pos + step {
            if p + 1 < stream.len() {
                seen.entry([stream[p], stream[p + 1]]).or_default().push(p);
            }
        }
        pos += step;
    }
    // End marker: a reference to the current write offset.
    let end = ((pos % DICT_SIZE) as u16) << 4;
    push_token(&mut payload, true, &end.to_be_bytes());
    let crc = crc32(&payload);
    with_header(COMPTYPE_COMPRESSED, rtf.len(), crc, &payload)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Test-side decompressor written from the spec, checked against the
    /// spec's own example before it is trusted with our output.
    pub(crate) fn decompress(data: &[u8]) -> Option<Vec<u8>> {
        let word = |at: usize| {
            data.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        };
        let comp_size = word(0)? as usize;
        let raw_size = word(4)? as usize;
        let body = data.get(16..4 + comp_size)?;
        match word(8)? {
            COMPTYPE_UNCOMPRESSED => return Some(body.get(..raw_size)?.to_vec()),
            COMPTYPE_COMPRESSED => {
                if crc32(body) != word(12)? {
                    return None;
                }
            }
            _ => return None,
        }
        let mut dict = [0u8; DICT_SIZE];
        dict[..INITIAL_DICTIONARY.len()].copy_from_slice(INITIAL_DICTIONARY);
        let mut wp = INITIAL_DICTIONARY.len();
        let mut out = Vec::new();
        let mut i = 0;
        while i < body.len() {
            let control = body[i];
            i += 1;
            for bit in 0..8 {
                if control & (1 << bit) == 0 {
                    let b = *body.get(i)?;
                    i += 1;
                    dict[wp % DICT_SIZE] = b;
                    wp += 1;
                    out.push(b);
                } else {
                    let w = u16::from_be_bytes([*body.get(i)?, *body.get(i + 1)?]);
                    i += 2;
                    let off = usize::from(w >> 4);
                    let len = usize::from(w & 0xf) + 2;
                    if off == wp % DICT_SIZE {
                        return Some(out);
                    }
                    for k in 0..len {
                        let b = dict[(off + k) % DICT_SIZE];
                        dict[wp % DICT_SIZE] = b;
                        wp += 1;
                        out.push(b);
                    }
                }
            }
        }
        None
    }

    /// [MS-OXRTFCP] §4.1.1 example: input and compressed bytes from the spec
    /// (also produced by the independent `compressed_rtf` Python package).
    #[test]
    fn spec_example_round_trips() {
        let raw = b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n";
        let spec = [
            0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5,
            0xc7, 0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42,
            0x32, 0x0a, 0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0,
            0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f, 0xa0,
        ];
        assert_eq!(decompress(&spec).as_deref(), Some(&raw[..]));
        assert_eq!(compress(raw), spec);
    }

    #[test]
    fn uncompressed_form() {
        let raw = b"{\\rtf1 plain}";
        assert_eq!(
            decompress(&store_uncompressed(raw)).as_deref(),
            Some(&raw[..])
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn round_trips(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'\\'), Just(b'{'), any::<u8>()], 0..6000)) {
            let c = compress(&data);
            prop_assert_eq!(decompress(&c), Some(data));
        }
    }
}
