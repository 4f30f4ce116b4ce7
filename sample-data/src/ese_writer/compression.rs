//! Column compression of long values (ese.md §8, engine `compression.cxx`):
//! 7-bit ASCII / 7-bit Unicode packing and Xpress (plain LZ77, [MS-XCA]
//! §2.3–2.4). The first byte says the scheme (`byte >> 3`); 7-bit forms keep
//! "bits used in the last byte − 1" in its low 3 bits, Xpress is followed by
//! the u16 uncompressed size.

/// Scheme ids (`COMPRESSION_SCHEME` in the engine).
const SCHEME_7BIT_ASCII: u8 = 1;
const SCHEME_7BIT_UNICODE: u8 = 2;
const SCHEME_XPRESS: u8 = 3;
/// The engine does not try Xpress on shorter values.
const XPRESS_MIN: usize = 64;
/// Xpress keeps the uncompressed size in a u16.
const XPRESS_MAX: usize = 0xFFFF;
const WINDOW: usize = 8192;
const MIN_MATCH: usize = 3;
/// Longest match encodable with the u16 extended length.
const MAX_MATCH: usize = 0xFFFF + 3;
const MAX_CANDIDATES: usize = 32;

/// Compresses a long value as the engine would for a compressed column:
/// Xpress for values of 64 bytes and more when it saves space, else 7-bit
/// packing when every byte (or UTF-16 unit) is below 0x80 and it saves
/// space. `None` = store uncompressed.
pub(crate) fn compress(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() >= XPRESS_MIN && data.len() <= XPRESS_MAX {
        let lz = xpress(data);
        if lz.len() + 3 < data.len() {
            let mut out = vec![SCHEME_XPRESS << 3];
            out.extend_from_slice(&(data.len() as u16).to_le_bytes());
            out.extend_from_slice(&lz);
            return Some(out);
        }
    }
    let unicode =
        data.len().is_multiple_of(2) && data.chunks_exact(2).all(|w| w[1] == 0 && w[0] < 0x80);
    if unicode {
        let out = seven_bit(SCHEME_7BIT_UNICODE, data.chunks_exact(2).map(|w| w[0]));
        return (out.len() < data.len()).then_some(out);
    }
    if data.iter().all(|&b| b < 0x80) {
        let out = seven_bit(SCHEME_7BIT_ASCII, data.iter().copied());
        return (out.len() < data.len()).then_some(out);
    }
    None
}

/// Packs 7-bit values LSB first after a header byte.
fn seven_bit(scheme: u8, values: impl Iterator<Item = u8>) -> Vec<u8> {
    let mut out = vec![0u8];
    let (mut acc, mut bits, mut total) = (0u32, 0u32, 0usize);
    for v in values {
        acc |= u32::from(v & 0x7f) << bits;
        bits += 7;
        total += 7;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
    let final_bits = if total == 0 { 8 } else { (total - 1) % 8 + 1 };
    out[0] = (scheme << 3) | (final_bits as u8 - 1);
    out
}

/// [MS-XCA] plain LZ77: 32-bit flag words (MSB first, 1 = match), literals,
/// matches as `(offset − 1) << 3 | min(len − 3, 7)` with the shared-nibble /
/// byte / u16 length extensions.
pub(crate) fn xpress(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut flags_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let (mut flags, mut flag_count) = (0u32, 0u32);
    let mut nibble_at: Option<usize> = None;
    let mut chains: std::collections::HashMap<[u8; 3], Vec<usize>> =
        std::collections::HashMap::new();
    let mut pos = 0;
    let mut push_flag = |out: &mut Vec<u8>, flags_at: &mut usize, bit: bool| {
        flags = (flags << 1) | u32::from(bit);
        flag_count += 1;
        if flag_count == 32 {
            out[*flags_at..*flags_at + 4].copy_from_slice(&flags.to_le_bytes());
            *flags_at = out.len();
            out.extend_from_slice(&[0; 4]);
            flags = 0;
            flag_count = 0;
        }
    };
    while pos < data.len() {
        let mut best = (0usize, 0usize);
        if pos + MIN_MATCH <= data.len()
            && let Some(cands) = chains.get(&[data[pos], data[pos + 1], data[pos + 2]])
        {
            for &c in cands.iter().rev().take(MAX_CANDIDATES) {
                if pos - c > WINDOW {
                    break;
                }
                let limit = MAX_MATCH.min(data.len() - pos);
                let len = (0..limit)
                    .take_while(|&k| data[c + k] == data[pos + k])
                    .count();
                if len > best.0 {
                    best = (len, pos - c);
                }
            }
        }
        let step = if best.0 >= MIN_MATCH {
            let (len, offset) = best;
            let short = (len - MIN_MATCH).min(7);
            out.extend_from_slice(&((((offset - 1) << 3) | short) as u16).to_le_bytes());
            if short == 7 {
                let rest = len - MIN_MATCH - 7;
                let nib = rest.min(15) as u8;
                if let Some(at) = nibble_at.take() {
                    out[at] |= nib << 4;
                } else {
                    nibble_at = Some(out.len());
                    out.push(nib);
                }
                if rest >= 15 {
                    if rest - 15 < 255 {
                        out.push((rest - 15) as u8);
                    } else {
                        out.push(255);
                        out.extend_from_slice(&((len - MIN_MATCH) as u16).to_le_bytes());
                    }
                }
            }
            push_flag(&mut out, &mut flags_at, true);
            len
        } else {
            out.push(data[pos]);
            push_flag(&mut out, &mut flags_at, false);
            1
        };
        for p in pos..pos + step {
            if p + MIN_MATCH <= data.len() {
                chains
                    .entry([data[p], data[p + 1], data[p + 2]])
                    .or_default()
                    .push(p);
            }
        }
        pos += step;
    }
    // Unused flag bits are set: a decoder stops at the end of the input.
    let pad = 32 - flag_count;
    let last = if pad == 32 {
        u32::MAX
    } else {
        (flags << pad) | ((1u32 << pad) - 1)
    };
    out[flags_at..flags_at + 4].copy_from_slice(&last.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reverses [`seven_bit`] with the formula of ese.md §8.
    fn unpack_7bit(c: &[u8]) -> Vec<u8> {
        let final_bits = usize::from(c[0] & 7) + 1;
        let count = ((c.len() - 2) * 8 + final_bits) / 7;
        (0..count)
            .map(|i| {
                let bit = i * 7;
                let w =
                    u16::from(c[1 + bit / 8]) | (u16::from(*c.get(2 + bit / 8).unwrap_or(&0)) << 8);
                ((w >> (bit % 8)) & 0x7f) as u8
            })
            .collect()
    }

    fn decompress(c: &[u8]) -> Vec<u8> {
        match c[0] >> 3 {
            SCHEME_XPRESS => {
                let size = usize::from(u16::from_le_bytes([c[1], c[2]]));
                kairos_parsers::lzxpress::decompress_plain(&c[3..], size).expect("xpress")
            }
            SCHEME_7BIT_ASCII => unpack_7bit(c),
            SCHEME_7BIT_UNICODE => unpack_7bit(c).into_iter().flat_map(|b| [b, 0]).collect(),
            other => panic!("scheme {other}"),
        }
    }

    #[test]
    fn schemes_are_chosen_like_the_engine() {
        assert_eq!(
            compress(b"Record          1").map(|c| c[0] >> 3),
            Some(SCHEME_7BIT_ASCII)
        );
        let utf16: Vec<u8> = "abc".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(
            compress(&utf16).map(|c| c[0] >> 3),
            Some(SCHEME_7BIT_UNICODE)
        );
        assert_eq!(
            compress(&b"<p>hello</p>".repeat(20)).map(|c| c[0]),
            Some(0x18)
        );
        assert_eq!(compress(&[0xff, 0x80]), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Xpress round trip through kairos-parsers' independent decoder.
        #[test]
        fn round_trips(data in proptest::collection::vec(prop_oneof![Just(b'a'), Just(0u8), 0u8..0x80, any::<u8>()], 0..20_000)) {
            if let Some(c) = compress(&data) {
                prop_assert!(c.len() < data.len());
                prop_assert_eq!(decompress(&c), data);
            }
        }
        #[test]
        fn long_runs_round_trip(byte in any::<u8>(), n in 64usize..60_000) {
            let data = vec![byte; n];
            let c = compress(&data).expect("runs compress");
            prop_assert_eq!(decompress(&c), data);
        }
    }
}
