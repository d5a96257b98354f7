//! G.711 (ITU-T G.711, 1988): mu-law and A-law companding between 16-bit linear PCM and
//! 8-bit codes, the PSTN's codec (PCMU, payload type 0; PCMA, payload type 8).
//!
//! Decoding reads a 256-entry table built at compile time from the Recommendation's
//! reconstruction levels. Encoding finds the segment from the position of the highest
//! set bit (one `leading_zeros`), with no table and no branch per segment. Neither
//! allocates; the slice helpers run over caller buffers.
//!
//! ## Scaling and ties
//! G.711 works on 14-bit (mu-law) and 13-bit (A-law) signed amplitudes; 16-bit samples
//! are those amplitudes shifted left by 2 and 3 bits, so the decoded values are the
//! Recommendation's reconstruction levels times 4 (mu-law, e.g. 8031 -> 32124) and times
//! 8 (A-law, e.g. 4032 -> 32256). The Recommendation gives decision levels, not which side
//! a sample exactly on one falls; like ITU-T G.191's reference `g711.c`, a negative sample
//! is mirrored by one's complement (`!x`, i.e. `-x - 1`), so every decision interval is
//! closed at its lower signed end: a level belongs to the interval above it. The tests
//! check all 65,536 inputs against intervals built from the Recommendation's tables.

mod alaw;
mod ulaw;

pub use alaw::{decode as alaw_decode, encode as alaw_encode};
pub use ulaw::{decode as ulaw_decode, encode as ulaw_encode};

/// Which G.711 companding law.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// mu-law (PCMU), North America and Japan.
    Ulaw,
    /// A-law (PCMA), the rest of the world.
    Alaw,
}

impl Law {
    /// The static RTP payload type (RFC 3551): 0 for PCMU, 8 for PCMA.
    pub fn payload_type(self) -> u8 {
        match self {
            Self::Ulaw => 0,
            Self::Alaw => 8,
        }
    }

    /// The law of a static payload type, if it is one of G.711's.
    pub fn from_payload_type(payload_type: u8) -> Option<Self> {
        match payload_type {
            0 => Some(Self::Ulaw),
            8 => Some(Self::Alaw),
            _ => None,
        }
    }

    /// The code for silence: the code of linear 0 (0xFF for mu-law, 0xD5 for A-law).
    pub fn silence_code(self) -> u8 {
        self.encode(0)
    }

    /// Encodes one 16-bit linear sample.
    #[inline]
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Self::Ulaw => ulaw::encode(sample),
            Self::Alaw => alaw::encode(sample),
        }
    }

    /// Decodes one code to a 16-bit linear sample.
    #[inline]
    pub fn decode(self, code: u8) -> i16 {
        match self {
            Self::Ulaw => ulaw::decode(code),
            Self::Alaw => alaw::decode(code),
        }
    }

    /// Encodes `min(pcm.len(), out.len())` samples from `pcm` into `out` and returns
    /// that count. A 20 ms frame at 8 kHz is 160 samples -> 160 bytes.
    pub fn encode_slice(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        match self {
            Self::Ulaw => encode_with(ulaw::encode, &pcm[..n], &mut out[..n]),
            Self::Alaw => encode_with(alaw::encode, &pcm[..n], &mut out[..n]),
        }
        n
    }

    /// Decodes `min(codes.len(), out.len())` codes from `codes` into `out` and returns
    /// that count.
    pub fn decode_slice(self, codes: &[u8], out: &mut [i16]) -> usize {
        let n = codes.len().min(out.len());
        let table = match self {
            Self::Ulaw => &ulaw::DECODE,
            Self::Alaw => &alaw::DECODE,
        };
        for (o, &c) in out[..n].iter_mut().zip(&codes[..n]) {
            *o = table[usize::from(c)];
        }
        n
    }
}

/// One monomorphic loop per law, so the per-sample encoder inlines.
#[inline]
fn encode_with(encode: fn(i16) -> u8, pcm: &[i16], out: &mut [u8]) {
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = encode(s);
    }
}

#[cfg(test)]
mod tests;
