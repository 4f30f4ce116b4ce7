//! Column compression (format revision ≥ 0x11): the first byte names the
//! scheme (`byte >> 3`), as in the MS engine's `compression.cxx`
//! (`COMPRESSION_SCHEME`, `ErrDecompress7BitAscii_`, `ErrDecompressXpress_`).
//! Notes: `../shared/docs/formats/ese.md` §8.
//!
//! Decoded: 7-bit ASCII, 7-bit Unicode, XPRESS (plain LZ77, via
//! [`kairos_parsers::lzxpress`]), LZ4 (a raw LZ4 block after the 3-byte
//! header, `ErrDecompressLz4_`). Detected and reported as unsupported:
//! SCRUB (data wiped), XPRESS9, XPRESS10 (proprietary, no public decoder).

/// Why a compressed value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompressionError {
    /// A scheme we recognise but do not decode.
    #[error("{0} compression is not supported yet")]
    Unsupported(&'static str),
    /// The value was scrubbed (overwritten) by the engine.
    #[error("value was scrubbed by the engine (no content)")]
    Scrubbed,
    /// The compressed bytes are malformed.
    #[error("malformed {scheme} data: {detail}")]
    Malformed {
        /// Scheme name.
        scheme: &'static str,
        /// What is wrong.
        detail: String,
    },
}

const SCHEME_7BIT_ASCII: u8 = 1;
const SCHEME_7BIT_UNICODE: u8 = 2;
const SCHEME_XPRESS: u8 = 3;
const SCHEME_SCRUB: u8 = 4;
const SCHEME_XPRESS9: u8 = 5;
const SCHEME_XPRESS10: u8 = 6;
const SCHEME_LZ4: u8 = 7;

/// Decompresses a value whose first byte is a compression header; `limit`
/// bounds the output size (hostile sizes never allocate more).
pub fn decompress(data: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let Some(&header) = data.first() else {
        return Ok(Vec::new());
    };
    match header >> 3 {
        SCHEME_7BIT_ASCII => seven_bit(data, false, limit),
        SCHEME_7BIT_UNICODE => seven_bit(data, true, limit),
        SCHEME_XPRESS => {
            let size = data
                .get(1..3)
                .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
                .ok_or_else(|| CompressionError::Malformed {
                    scheme: "XPRESS",
                    detail: "no size field".into(),
                })?;
            kairos_parsers::lzxpress::decompress_plain(&data[3..], size.min(limit)).map_err(|e| {
                CompressionError::Malformed {
                    scheme: "XPRESS",
                    detail: e.to_string(),
                }
            })
        }
        SCHEME_SCRUB => Err(CompressionError::Scrubbed),
        SCHEME_XPRESS9 => Err(CompressionError::Unsupported("XPRESS9")),
        SCHEME_XPRESS10 => Err(CompressionError::Unsupported("XPRESS10")),
        SCHEME_LZ4 => {
            let size = data
                .get(1..3)
                .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
                .ok_or_else(|| CompressionError::Malformed {
                    scheme: "LZ4",
                    detail: "no size field".into(),
                })?;
            lz4_block(&data[3..], size.min(limit))
        }
        _ => Ok(data.to_vec()),
    }
}

/// An LZ4 block (sequences of token, literals, u16 offset, match length),
/// producing at most `limit` bytes.
fn lz4_block(input: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let bad = |detail: &str| CompressionError::Malformed {
        scheme: "LZ4",
        detail: detail.into(),
    };
    let mut out: Vec<u8> = Vec::with_capacity(limit.min(input.len().saturating_mul(4)));
    let mut pos = 0;
    let read_len = |pos: &mut usize, mut len: usize| -> Result<usize, CompressionError> {
        if len == 15 {
            loop {
                let b = *input
                    .get(*pos)
                    .ok_or_else(|| bad("length runs past the end"))?;
                *pos += 1;
                len += usize::from(b);
                if b != 255 {
                    break;
                }
            }
        }
        Ok(len)
    };
    while pos < input.len() && out.len() < limit {
        let token = input[pos];
        pos += 1;
        let lit = read_len(&mut pos, usize::from(token >> 4))?;
        let literals = input
            .get(pos..pos + lit)
            .ok_or_else(|| bad("literals run past the end"))?;
        out.extend_from_slice(&literals[..lit.min(limit - out.len())]);
        pos += lit;
        if pos >= input.len() {
            break;
        }
        let offset = input
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or_else(|| bad("offset runs past the end"))?;
        pos += 2;
        let len = read_len(&mut pos, usize::from(token & 15))? + 4;
        let start = out
            .len()
            .checked_sub(offset)
            .filter(|_| offset > 0)
            .ok_or_else(|| bad("match offset before the start of the output"))?;
        for i in 0..len.min(limit - out.len()) {
            let b = out[start + i];
            out.push(b);
        }
    }
    Ok(out)
}

/// 7-bit packing: `header & 7` = bits used in the last byte − 1; values are
/// packed LSB-first from byte 1. Unicode widens each value to a UTF-16LE unit.
fn seven_bit(data: &[u8], wide: bool, limit: usize) -> Result<Vec<u8>, CompressionError> {
    let scheme = if wide { "7-bit Unicode" } else { "7-bit ASCII" };
    if data.len() < 2 {
        return Err(CompressionError::Malformed {
            scheme,
            detail: format!("{} bytes", data.len()),
        });
    }
    let final_bits = usize::from(data[0] & 7) + 1;
    let total_bits = (data.len() - 2) * 8 + final_bits;
    let count = total_bits / 7;
    let per = if wide { 2 } else { 1 };
    let mut out = Vec::with_capacity((count * per).min(limit));
    let payload = &data[1..];
    for i in 0..count {
        if out.len() + per > limit {
            break;
        }
        let bit = i * 7;
        let byte = bit / 8;
        let shift = bit % 8;
        let lo = u16::from(payload.get(byte).copied().unwrap_or(0));
        let hi = u16::from(payload.get(byte + 1).copied().unwrap_or(0));
        let v = (((hi << 8) | lo) >> shift) as u8 & 0x7f;
        out.push(v);
        if wide {
            out.push(0);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Packs ASCII the way the engine's `ErrCompress7BitAscii_` does, so the
    /// decoder is checked against an independent encoder.
    fn pack7(text: &[u8], wide: bool) -> Vec<u8> {
        let mut bits: Vec<bool> = Vec::new();
        for &c in text {
            for i in 0..7 {
                bits.push(c >> i & 1 == 1);
            }
        }
        let mut out = vec![0u8];
        for chunk in bits.chunks(8) {
            let mut b = 0u8;
            for (i, &x) in chunk.iter().enumerate() {
                if x {
                    b |= 1 << i;
                }
            }
            out.push(b);
        }
        let final_bits = (bits.len() - 1) % 8 + 1;
        let scheme = if wide { 2 } else { 1 };
        out[0] = (scheme << 3) | (final_bits as u8 - 1);
        out
    }

    #[test]
    fn seven_bit_round_trip() {
        let text = b"Record          7";
        let packed = pack7(text, false);
        assert_eq!(decompress(&packed, 1 << 20).expect("ascii"), text);
        let wide: Vec<u8> = text.iter().flat_map(|&c| [c, 0]).collect();
        assert_eq!(decompress(&pack7(text, true), 1 << 20).expect("wide"), wide);
    }

    /// LZ4 block format (lz4 `doc/lz4_Block_format.md`): token 0x35 = 3
    /// literals + match of 5+4 bytes at offset 3; then a literals-only
    /// sequence (token 0x20, "xy"), as the format requires at the end.
    #[test]
    fn lz4_block_sequences() {
        let mut data = vec![7 << 3, 14, 0];
        data.extend([0x35, b'a', b'b', b'c', 3, 0, 0x20, b'x', b'y']);
        assert_eq!(decompress(&data, 1 << 20).expect("lz4"), b"abcabcabcabcxy");
        // a match before the start is an error, not a panic
        let bad = [7 << 3, 9, 0, 0x04, 9, 0];
        assert!(decompress(&bad, 100).is_err());
    }

    #[test]
    fn unsupported_schemes_are_named() {
        assert_eq!(
            decompress(&[5 << 3, 1, 2, 3, 4], 100),
            Err(CompressionError::Unsupported("XPRESS9"))
        );
        assert_eq!(
            decompress(&[6 << 3, 0], 100),
            Err(CompressionError::Unsupported("XPRESS10"))
        );
    }

    proptest! {
        #[test]
        fn ascii_round_trips(text in proptest::collection::vec(0u8..128, 1..300)) {
            prop_assert_eq!(decompress(&pack7(&text, false), 1 << 20).expect("ok"), text);
        }

        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(out) = decompress(&data, 1000) {
                prop_assert!(out.len() <= 1000 || data.first().is_some_and(|b| b >> 3 == 0 || b >> 3 > 7));
            }
        }
    }
}
