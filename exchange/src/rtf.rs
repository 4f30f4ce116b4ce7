//! Compressed RTF (PR_RTF_COMPRESSED, 0x1009) as specified in [MS-OXRTFCP]:
//! a 16-byte header (`COMPSIZE`, `RAWSIZE`, `COMPTYPE`, `CRC`), then either
//! the raw RTF (`MELA`) or an LZ77 stream (`LZFu`) over a 4096-byte ring
//! dictionary pre-loaded with a fixed RTF prefix.
//!
//! Written from the specification so kairos does not depend on libpff's
//! decompressor (which fails on some real messages, see the PST notes).

/// `COMPTYPE` of compressed content ("LZFu").
const COMPRESSED: u32 = 0x7546_5A4C;
/// `COMPTYPE` of uncompressed content ("MELA").
const UNCOMPRESSED: u32 = 0x414C_454D;
/// The dictionary's initial content ([MS-OXRTFCP] 3.1.3.1 / 2.1.3.1.1).
const PREBUF: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

/// Why compressed RTF could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtfError {
    /// Fewer than 16 bytes, or `COMPSIZE` larger than the data.
    #[error("compressed RTF header is cut short ({0} bytes)")]
    Truncated(usize),
    /// Neither `LZFu` nor `MELA`.
    #[error("unknown compressed RTF type 0x{0:08X}")]
    UnknownType(u32),
    /// The CRC over the compressed bytes does not match the header.
    #[error("compressed RTF CRC mismatch: header 0x{header:08X}, computed 0x{computed:08X}")]
    Crc {
        /// CRC from the header.
        header: u32,
        /// CRC of the data.
        computed: u32,
    },
}

fn u32_at(data: &[u8], at: usize) -> u32 {
    data.get(at..at + 4)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// The CRC-32 of [MS-OXRTFCP] 3.1.3.2 (reflected 0xEDB88320, initial 0, no
/// final xor), which equals the standard CRC-32 with pre/post inversion
/// undone.
fn crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Decompresses PR_RTF_COMPRESSED into RTF bytes. The output never exceeds
/// `RAWSIZE` (itself bounded by 64 × the input), so a hostile header cannot
/// make it allocate without limit.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, RtfError> {
    if data.len() < 16 {
        return Err(RtfError::Truncated(data.len()));
    }
    let comp_size = u32_at(data, 0) as usize;
    let raw_size = u32_at(data, 4) as usize;
    let comp_type = u32_at(data, 8);
    let header_crc = u32_at(data, 12);
    // COMPSIZE counts the bytes after its own field.
    let end = comp_size.saturating_add(4).min(data.len());
    let body = data.get(16..end).unwrap_or_default();
    match comp_type {
        UNCOMPRESSED => Ok(body
            .get(..raw_size.min(body.len()))
            .unwrap_or(body)
            .to_vec()),
        COMPRESSED => {
            let computed = crc(body);
            if computed != header_crc {
                return Err(RtfError::Crc {
                    header: header_crc,
                    computed,
                });
            }
            Ok(lzfu(body, raw_size.min(body.len().saturating_mul(64))))
        }
        other => Err(RtfError::UnknownType(other)),
    }
}

fn lzfu(body: &[u8], limit: usize) -> Vec<u8> {
    let mut dict = [0u8; 4096];
    dict[..PREBUF.len()].copy_from_slice(PREBUF);
    let mut write = PREBUF.len();
    let mut out = Vec::with_capacity(limit);
    let mut input = body.iter().copied();
    'outer: while let Some(control) = input.next() {
        for bit in 0..8 {
            if out.len() >= limit {
                break 'outer;
            }
            if control & (1 << bit) == 0 {
                let Some(b) = input.next() else { break 'outer };
                out.push(b);
                dict[write] = b;
                write = (write + 1) % 4096;
            } else {
                let (Some(hi), Some(lo)) = (input.next(), input.next()) else {
                    break 'outer;
                };
                let reference = (usize::from(hi) << 8) | usize::from(lo);
                let mut offset = reference >> 4;
                let len = (reference & 0x0F) + 2;
                if offset == write {
                    break 'outer; // end-of-stream marker
                }
                for _ in 0..len {
                    let b = dict[offset];
                    offset = (offset + 1) % 4096;
                    out.push(b);
                    dict[write] = b;
                    write = (write + 1) % 4096;
                    if out.len() >= limit {
                        break 'outer;
                    }
                }
            }
        }
    }
    out
}

/// Destinations whose text is not document text (font and colour tables,
/// metadata, pictures, generator): skipped by [`to_text`].
const SKIPPED_DESTINATIONS: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "object",
    "header",
    "footer",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "themedata",
    "latentstyles",
];

/// The readable text of an RTF document, for a plain-text alternative when a
/// message has only an RTF body: groups and control words are dropped,
/// `\par`/`\line` become line breaks, `\'hh` is read as Windows-1252 (the
/// usual `\ansicpg`), `\uN` as Unicode. Formatting is lost by design.
pub fn to_text(rtf: &[u8]) -> String {
    let mut out = String::new();
    // Per group: skipping?, \ucN count.
    let mut stack: Vec<(bool, usize)> = vec![(false, 1)];
    let mut pending_skip = 0usize;
    let mut i = 0;
    while let Some(&b) = rtf.get(i) {
        let (skipping, uc) = stack.last().copied().unwrap_or((false, 1));
        match b {
            b'{' => {
                // A `{\*` destination is optional: skip it unless known.
                let star = rtf.get(i + 1..i + 3) == Some(b"\\*");
                stack.push((skipping || star, uc));
                i += 1;
            }
            b'}' => {
                if stack.len() > 1 {
                    stack.pop();
                }
                i += 1;
            }
            b'\\' => {
                let start = i + 1;
                let mut j = start;
                while rtf.get(j).is_some_and(u8::is_ascii_alphabetic) {
                    j += 1;
                }
                if j == start {
                    // Control symbol.
                    match rtf.get(start) {
                        Some(b'\'') => {
                            let hex = rtf.get(start + 1..start + 3).unwrap_or_default();
                            let v = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u8::from_str_radix(h, 16).ok());
                            if pending_skip > 0 {
                                pending_skip -= 1;
                            } else if let (Some(v), false) = (v, skipping) {
                                out.push(windows_1252(v));
                            }
                            i = start + 3;
                        }
                        Some(c @ (b'\\' | b'{' | b'}')) => {
                            if !skipping {
                                out.push(char::from(*c));
                            }
                            i = start + 1;
                        }
                        Some(b'~') => {
                            if !skipping {
                                out.push('\u{a0}');
                            }
                            i = start + 1;
                        }
                        _ => i = start + 1,
                    }
                    continue;
                }
                let word = std::str::from_utf8(&rtf[start..j]).unwrap_or_default();
                let mut k = j;
                if rtf.get(k) == Some(&b'-') {
                    k += 1;
                }
                while rtf.get(k).is_some_and(u8::is_ascii_digit) {
                    k += 1;
                }
                let param: Option<i64> = std::str::from_utf8(&rtf[j..k])
                    .ok()
                    .and_then(|p| p.parse().ok());
                if rtf.get(k) == Some(&b' ') {
                    k += 1;
                }
                i = k;
                if SKIPPED_DESTINATIONS.contains(&word) {
                    if let Some(top) = stack.last_mut() {
                        top.0 = true;
                    }
                    continue;
                }
                if skipping {
                    continue;
                }
                match word {
                    "par" | "line" | "sect" | "page" => out.push('\n'),
                    "tab" => out.push('\t'),
                    "uc" => {
                        if let Some(top) = stack.last_mut() {
                            top.1 = usize::try_from(param.unwrap_or(1)).unwrap_or(1);
                        }
                    }
                    "u" => {
                        let v = param.unwrap_or(0);
                        let code = if v < 0 { v + 65_536 } else { v };
                        if let Some(c) = u32::try_from(code).ok().and_then(char::from_u32) {
                            out.push(c);
                        }
                        pending_skip = uc;
                    }
                    _ => {}
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                if pending_skip > 0 {
                    pending_skip -= 1;
                } else if !skipping {
                    out.push(windows_1252(b));
                }
                i += 1;
            }
        }
    }
    out
}

/// One Windows-1252 byte as a character (0x80–0x9F per the code page,
/// the rest as Latin-1).
fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9F => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The worked example of [MS-OXRTFCP] 4.1 ("{\rtf1\ansi\ansicpg1252\pard hello world}").
    const SPEC_EXAMPLE: [u8; 49] = [
        0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7,
        0xa7, 0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a,
        0xf3, 0x20, 0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d,
        0x0a, 0x80, 0x0f, 0xa0,
    ];

    #[test]
    fn spec_example_decompresses() {
        let out = decompress(&SPEC_EXAMPLE).expect("valid");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n"
        );
    }

    #[test]
    fn uncompressed_and_bad_input() {
        let mut mela = Vec::new();
        mela.extend_from_slice(&(12u32 + 5).to_le_bytes());
        mela.extend_from_slice(&5u32.to_le_bytes());
        mela.extend_from_slice(&UNCOMPRESSED.to_le_bytes());
        mela.extend_from_slice(&0u32.to_le_bytes());
        mela.extend_from_slice(b"{\\rtf");
        assert_eq!(decompress(&mela).expect("mela"), b"{\\rtf");
        assert_eq!(decompress(&[1, 2, 3]), Err(RtfError::Truncated(3)));
        let mut bad = SPEC_EXAMPLE.to_vec();
        bad[20] ^= 0xFF;
        assert!(matches!(decompress(&bad), Err(RtfError::Crc { .. })));
    }

    #[test]
    fn text_of_an_rtf_document() {
        let rtf = br"{\rtf1\ansi\ansicpg1252{\fonttbl{\f0 Arial;}}{\*\generator X;}Hello\par caf\'e9 \u8364?\tab end}";
        assert_eq!(to_text(rtf), "Hello\ncaf\u{e9} \u{20ac}\tend");
    }

    proptest! {
        #[test]
        fn to_text_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = to_text(&data);
        }

        #[test]
        fn never_panics_and_bounded(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            if let Ok(out) = decompress(&data) {
                prop_assert!(out.len() <= data.len().saturating_mul(64));
            }
        }
    }
}
