//! LZXPRESS "plain LZ77" decompression, [MS-XCA] §2.3–2.4.
//!
//! Microsoft formats use this Xpress variant in several places: ESE column
//! compression (scheme 3, `COMPRESS_XPRESS`), Windows prefetch files, and
//! others. It is shared here so each parser does not grow its own copy.
//!
//! The stream interleaves little-endian 32-bit flag words, consumed from the
//! most significant bit down, with data: a 0 bit is a literal byte, a 1 bit is a
//! 16-bit match token (`offset-1 << 3 | length-3`, with the length extended
//! by shared half-bytes, a byte, a u16 and a u32 for long matches).
//!
//! Hostile input is bounded: output never grows beyond `max_output` bytes and
//! every read is bounds-checked, so a malformed stream yields an error, not a
//! panic or an unbounded allocation.

use std::fmt;

/// Why a plain-LZ77 stream could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LzxpressError {
    /// The stream ends inside a flag word or a match token.
    Truncated {
        /// Input offset where more bytes were needed.
        at: usize,
    },
    /// A match refers to bytes before the start of the output.
    BadOffset {
        /// Input offset of the token.
        at: usize,
        /// The back-reference distance.
        offset: usize,
        /// Bytes produced so far.
        produced: usize,
    },
    /// An extended length field is smaller than its own bias.
    BadLength {
        /// Input offset of the length field.
        at: usize,
    },
}

impl fmt::Display for LzxpressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LzxpressError::Truncated { at } => {
                write!(f, "LZXPRESS stream truncated at input byte {at}")
            }
            LzxpressError::BadOffset {
                at,
                offset,
                produced,
            } => write!(
                f,
                "LZXPRESS match at input byte {at} reaches back {offset} bytes but only {produced} were produced"
            ),
            LzxpressError::BadLength { at } => {
                write!(
                    f,
                    "LZXPRESS extended match length at input byte {at} is invalid"
                )
            }
        }
    }
}

impl std::error::Error for LzxpressError {}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn u8(&mut self) -> Result<u8, LzxpressError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(LzxpressError::Truncated { at: self.pos })?;
        self.pos += 1;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, LzxpressError> {
        Ok(u16::from(self.u8()?) | (u16::from(self.u8()?) << 8))
    }
    fn u32(&mut self) -> Result<u32, LzxpressError> {
        Ok(u32::from(self.u16()?) | (u32::from(self.u16()?) << 16))
    }
    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }
}

/// Decompresses a plain-LZ77 stream, producing at most `max_output` bytes
/// (callers pass the uncompressed size their format records; output stops
/// there even if the stream continues).
pub fn decompress_plain(input: &[u8], max_output: usize) -> Result<Vec<u8>, LzxpressError> {
    let mut out: Vec<u8> = Vec::with_capacity(max_output.min(input.len().saturating_mul(8)));
    let mut r = Reader { input, pos: 0 };
    let mut flags: u32 = 0;
    let mut flag_count: u32 = 0;
    // Position of the byte whose high nibble is still unused (MS-XCA's
    // LastLengthHalfByte); None when no half byte is pending.
    let mut half_byte: Option<usize> = None;
    while out.len() < max_output {
        if flag_count == 0 {
            if r.at_end() {
                break;
            }
            flags = r.u32()?;
            flag_count = 32;
        }
        flag_count -= 1;
        if flags & (1 << flag_count) == 0 {
            if r.at_end() {
                break;
            }
            out.push(r.u8()?);
            continue;
        }
        if r.at_end() {
            break;
        }
        let token_at = r.pos;
        let token = r.u16()?;
        let offset = usize::from(token / 8) + 1;
        let mut length = usize::from(token % 8);
        if length == 7 {
            length = if let Some(pos) = half_byte.take() {
                usize::from(input.get(pos).copied().unwrap_or(0) >> 4)
            } else {
                let pos = r.pos;
                let b = r.u8()?;
                half_byte = Some(pos);
                usize::from(b & 0x0f)
            };
            if length == 15 {
                let len_at = r.pos;
                length = usize::from(r.u8()?);
                if length == 255 {
                    length = usize::from(r.u16()?);
                    if length == 0 {
                        length = r.u32()? as usize;
                    }
                    length = length
                        .checked_sub(15 + 7)
                        .ok_or(LzxpressError::BadLength { at: len_at })?;
                }
                length += 15;
            }
            length += 7;
        }
        length += 3;
        let produced = out.len();
        let start = produced
            .checked_sub(offset)
            .ok_or(LzxpressError::BadOffset {
                at: token_at,
                offset,
                produced,
            })?;
        let take = length.min(max_output - produced);
        for i in 0..take {
            let b = out[start + i];
            out.push(b);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// [MS-XCA] §3.1 example: "abcdefghijklmnopqrstuvwxyz" plain LZ77.
    #[test]
    fn ms_xca_example_literals() {
        let input = [
            0x3f, 0x00, 0x00, 0x00, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
            0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78,
            0x79, 0x7a,
        ];
        let out = decompress_plain(&input, 1000).expect("valid");
        assert_eq!(out, b"abcdefghijklmnopqrstuvwxyz");
    }

    /// [MS-XCA] §3.2 example: "abc" repeated 100 times (300 bytes).
    #[test]
    fn ms_xca_example_long_match() {
        let input = [
            0xff, 0xff, 0xff, 0x1f, 0x61, 0x62, 0x63, 0x17, 0x00, 0x0f, 0xff, 0x26, 0x01,
        ];
        let out = decompress_plain(&input, 300).expect("valid");
        assert_eq!(out.len(), 300);
        assert_eq!(out, b"abc".repeat(100));
    }

    #[test]
    fn back_reference_before_start_is_an_error() {
        // flag word with the first bit set: a match as the very first token
        let input = [0x00, 0x00, 0x00, 0x80, 0x08, 0x00];
        assert!(matches!(
            decompress_plain(&input, 100),
            Err(LzxpressError::BadOffset { .. })
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics_and_respects_limit(
            data in proptest::collection::vec(any::<u8>(), 0..512),
            limit in 0usize..4096,
        ) {
            if let Ok(out) = decompress_plain(&data, limit) {
                prop_assert!(out.len() <= limit);
            }
        }
    }
}
