//! mu-law: 8 segments of 16 steps; step sizes 2, 4, .., 256 in the 14-bit domain; the
//! bias of 33 makes each segment's lower decision level a power of two minus 33, so the
//! segment is the position of the biased magnitude's highest bit. Codes are transmitted
//! inverted (all bits), and bit 7 set means positive: 0xFF is +0, 0x80 is +max.

/// The mu-law bias in the 14-bit domain.
const BIAS: u16 = 33;
/// The largest biased 14-bit magnitude (decision level 8159 plus the bias, minus 1).
const CLIP: u16 = 0x1FFF;

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

/// Reconstruction level of a code: in the 14-bit domain `((2m + 33) << e) - 33` for
/// segment `e` and step `m` (the midpoint of the decision interval), times 4.
const fn reconstruct(code: u8) -> i16 {
    let bits = !code;
    let exponent = (bits >> 4) & 0x07;
    let mantissa = (bits & 0x0F) as i32;
    let magnitude = (((2 * mantissa + BIAS as i32) << exponent) - BIAS as i32) * 4;
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Decodes a mu-law code.
#[inline]
pub fn decode(code: u8) -> i16 {
    DECODE[usize::from(code)]
}

/// Encodes a 16-bit sample as mu-law (ties as described in the module docs of `g711`).
#[inline]
pub fn encode(sample: i16) -> u8 {
    let (magnitude, sign) = if sample < 0 {
        ((!sample) as u16, 0x00)
    } else {
        (sample as u16, 0x80)
    };
    // 14-bit magnitude plus bias: segment e spans [32 << e, 64 << e).
    let biased = ((magnitude >> 2) + BIAS).min(CLIP);
    let exponent = 10 - biased.leading_zeros() as u16; // highest bit 5..=12 -> 0..=7
    let mantissa = (biased >> (exponent + 1)) & 0x0F;
    (!((exponent << 4) | mantissa) as u8 & 0x7F) | sign
}
