//! Base64url without padding (RFC 4648 §5), the encoding of every JWT segment.
//!
//! Written here rather than pulled in as a crate because the token code needs only these
//! two functions. Decoding is strict so that one token has exactly one spelling: it
//! rejects characters outside the url alphabet, `=` padding, a length that no byte count
//! encodes (`len % 4 == 1`), and non-zero bits after the last byte. The last rule matters
//! for signatures: a lenient decoder would accept a token whose final character was
//! changed in its unused bits.

use std::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Why a string is not base64url without padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A byte outside `A-Z a-z 0-9 - _` at this offset (this includes `=`, `+` and `/`).
    InvalidByte {
        /// Offset of the byte in the input.
        offset: usize,
    },
    /// The length leaves one character over, which no byte sequence encodes to.
    InvalidLength,
    /// The unused bits after the last byte are not zero.
    NonCanonical,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidByte { offset } => {
                write!(
                    f,
                    "byte at offset {offset} is not in the base64url alphabet"
                )
            }
            Self::InvalidLength => f.write_str("length is not a valid base64url length"),
            Self::NonCanonical => f.write_str("trailing bits are not zero"),
        }
    }
}

/// Encodes `bytes` as base64url without padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        // A chunk of k bytes needs k + 1 characters.
        for i in 0..=chunk.len() {
            let index = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[index as usize]));
        }
    }
    out
}

/// Decodes base64url without padding; see the module doc for what is rejected.
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let input = text.as_bytes();
    if input.len() % 4 == 1 {
        return Err(DecodeError::InvalidLength);
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3 + 2);
    for (chunk_index, chunk) in input.chunks(4).enumerate() {
        let mut n = 0u32;
        for (i, &byte) in chunk.iter().enumerate() {
            let value = sextet(byte).ok_or(DecodeError::InvalidByte {
                offset: chunk_index * 4 + i,
            })?;
            n |= u32::from(value) << (18 - 6 * i);
        }
        // A chunk of k characters carries k - 1 whole bytes.
        let whole = chunk.len() - 1;
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..=whole]);
        let unused = n & (0x00ff_ffff >> (8 * whole));
        if unused != 0 {
            return Err(DecodeError::NonCanonical);
        }
    }
    Ok(out)
}

fn sextet(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'-' => Some(62),
        b'_' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 4648 §10, padding removed (these strings use no `+` or `/`, so the url alphabet
    /// spells them the same), plus two vectors that exercise `-` and `_`.
    const VECTORS: &[(&[u8], &str)] = &[
        (b"", ""),
        (b"f", "Zg"),
        (b"fo", "Zm8"),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg"),
        (b"fooba", "Zm9vYmE"),
        (b"foobar", "Zm9vYmFy"),
        // Standard base64 "+/8=" and "+/+/".
        (&[0xfb, 0xff], "-_8"),
        (&[0xfb, 0xff, 0xbf], "-_-_"),
    ];

    #[test]
    fn rfc4648_vectors_encode_and_decode() {
        for &(bytes, text) in VECTORS {
            assert_eq!(encode(bytes), text, "encode {bytes:?}");
            assert_eq!(decode(text).as_deref(), Ok(bytes), "decode {text:?}");
        }
    }

    #[test]
    fn rejects_standard_alphabet_padding_and_other_bytes() {
        assert_eq!(decode("+/8"), Err(DecodeError::InvalidByte { offset: 0 }));
        assert_eq!(decode("Zg=="), Err(DecodeError::InvalidByte { offset: 2 }));
        assert_eq!(
            decode("Zm9v Yg"),
            Err(DecodeError::InvalidByte { offset: 4 })
        );
        assert_eq!(
            decode("Z\u{e9}"),
            Err(DecodeError::InvalidByte { offset: 1 })
        );
    }

    #[test]
    fn rejects_impossible_length() {
        assert_eq!(decode("Z"), Err(DecodeError::InvalidLength));
        assert_eq!(decode("Zm9vY"), Err(DecodeError::InvalidLength));
    }

    #[test]
    fn rejects_nonzero_trailing_bits() {
        // "Zg" is "f"; "Zh" differs only in the four unused bits.
        assert_eq!(decode("Zh"), Err(DecodeError::NonCanonical));
        // "Zm8" is "fo"; "Zm9" differs only in the two unused bits.
        assert_eq!(decode("Zm9"), Err(DecodeError::NonCanonical));
    }

    proptest! {
        #[test]
        fn round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(decode(&encode(&bytes)), Ok(bytes));
        }

        #[test]
        fn decode_never_panics(text in ".{0,80}") {
            let _ = decode(&text);
        }

        #[test]
        fn decode_of_alphabet_strings_is_canonical(text in "[A-Za-z0-9_-]{0,80}") {
            // Whatever decodes must encode back to the same text: one spelling per value.
            if let Ok(bytes) = decode(&text) {
                prop_assert_eq!(encode(&bytes), text);
            }
        }
    }
}
