//! Column compression (format revision ≥ 0x11): the first byte names the
//! scheme (`byte >> 3`), as in the MS engine's `compression.cxx`
//! (`COMPRESSION_SCHEME`, `ErrDecompress7BitAscii_`, `ErrDecompressXpress_`).
//! Notes: `../shared/docs/formats/ese.md` §8.
//!
//! Decoded: 7-bit ASCII, 7-bit Unicode, XPRESS (plain LZ77, via
//! [`kairos_parsers::lzxpress`]). Detected and reported as unsupported:
//! SCRUB (data wiped), XPRESS9, XPRESS10, LZ4.

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
        SCHEME_LZ4 => Err(CompressionError::Unsupported("LZ4")),
        _ => Ok(data.to_vec()),
    }
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
