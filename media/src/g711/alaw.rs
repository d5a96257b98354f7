//! A-law: in the 13-bit domain, segments 0 and 1 both have step 2 (the linear part
//! near zero), then steps 4, 8, .., 128; 16 steps each. The code is sign (bit 7 set means
//! positive), 3 segment bits and 4 step bits, with the even bits inverted (XOR 0x55) for
//! transmission: 0xD5 is the smallest positive value, 0xAA the largest.

/// The even-bit inversion applied to every transmitted code.
const EVEN_BITS: u8 = 0x55;

/// The 16-bit value of every code, built at compile time from the segment formula.
pub(crate) static DECODE: [i16; 256] = build_decode_table();

const fn build_decode_table() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut code = 0;
    while code < 256 {
        table[code] = reconstruct(code as u8);
        code += 1;
    }
    table
}

/// Reconstruction level of a code: the midpoint of its decision interval, in 16-bit
/// units (the 13-bit level times 8).
const fn reconstruct(code: u8) -> i16 {
    let bits = code ^ EVEN_BITS;
    let segment = (bits >> 4) & 0x07;
    let step = (bits & 0x0F) as i32;
    let magnitude = if segment == 0 {
        (step << 4) + 8
    } else {
        (((step + 16) << 4) + 8) << (segment - 1)
    };
    if bits & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Decodes an A-law code.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE[usize::from(code)]
}

/// Encodes a 16-bit sample as A-law (ties as described in the module docs of `g711`).
#[inline]
pub fn encode(sample: i16) -> u8 {
    let (magnitude, sign) = if sample < 0 {
        ((!sample) as u16, 0x00)
    } else {
        (sample as u16, 0x80)
    };
    // Index in units of the smallest step (2 in the 13-bit domain): 0..=2047.
    let index = magnitude >> 4;
    let bits = if index < 16 {
        index
    } else {
        let segment = 12 - index.leading_zeros() as u16; // highest bit 4..=10 -> 1..=7
        (segment << 4) | ((index >> (segment - 1)) & 0x0F)
    };
    (bits as u8 | sign) ^ EVEN_BITS
}
