//! PCMU<->PCMA in place: G.711 codes are one byte per sample in both laws, so a packet
//! keeps its size and is converted through a 256-entry table (built once per call from
//! `dcx_media::g711`), with its payload type switched. Other payload types (DTMF,
//! comfort noise) pass unchanged.

use crate::call::media::{MediaSide, Transcode};
use dcx_media::g711::Law;

/// The two tables of one call's transcoding.
#[derive(Debug)]
pub struct G711Bridge {
    pts: Transcode,
    to_carrier: [u8; 256],
    to_origin: [u8; 256],
}

fn table(from: Law, to: Law) -> [u8; 256] {
    let mut t = [0u8; 256];
    for (code, out) in (0..=255u8).zip(t.iter_mut()) {
        *out = to.encode(from.decode(code));
    }
    t
}

impl G711Bridge {
    /// Tables for `pts`; `None` if either is not a G.711 payload type.
    pub fn new(pts: Transcode) -> Option<Self> {
        let origin = Law::from_payload_type(pts.origin_pt)?;
        let carrier = Law::from_payload_type(pts.carrier_pt)?;
        Some(Self {
            pts,
            to_carrier: table(origin, carrier),
            to_origin: table(carrier, origin),
        })
    }

    /// Converts RTP `packet` (header already checked) bound for `toward` if it carries
    /// the other side's law; returns whether it did.
    pub fn apply(&self, packet: &mut [u8], toward: MediaSide) -> bool {
        let (from_pt, to_pt, t) = match toward {
            MediaSide::Carrier => (self.pts.origin_pt, self.pts.carrier_pt, &self.to_carrier),
            MediaSide::Origin => (self.pts.carrier_pt, self.pts.origin_pt, &self.to_origin),
        };
        if packet.len() < 12 || packet[1] & 0x7f != from_pt {
            return false;
        }
        let Some(payload) = payload_range(packet) else {
            return false;
        };
        for b in &mut packet[payload] {
            *b = t[usize::from(*b)];
        }
        packet[1] = (packet[1] & 0x80) | to_pt;
        true
    }
}

/// Where an RTP packet's payload is: after the CSRCs and the header extension, before
/// the padding.
fn payload_range(p: &[u8]) -> Option<std::ops::Range<usize>> {
    let csrcs = usize::from(p[0] & 0x0f);
    let mut start = 12 + 4 * csrcs;
    if p[0] & 0x10 != 0 {
        let words = p.get(start + 2..start + 4)?;
        start += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    let mut end = p.len();
    if p[0] & 0x20 != 0 {
        end = end.checked_sub(usize::from(*p.last()?))?;
    }
    (start <= end).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcmu_silence_becomes_pcma_silence_and_back() {
        let b = G711Bridge::new(Transcode {
            origin_pt: 0,
            carrier_pt: 8,
        })
        .unwrap();
        let mut p = [0u8; 12 + 160];
        p[0] = 0x80;
        p[1] = 0x80; // marker, PT 0
        p[12..].fill(0xFF);
        assert!(b.apply(&mut p, MediaSide::Carrier));
        assert_eq!(p[1], 0x88);
        assert!(p[12..].iter().all(|&c| c == 0xD5));
        assert!(!b.apply(&mut p, MediaSide::Carrier), "already PCMA");
        assert!(b.apply(&mut p, MediaSide::Origin));
        assert_eq!(p[1], 0x80);
        // A-law's silence is +8 in 16 bits, which mu-law codes as its nearest level.
        let back = Law::Ulaw.encode(Law::Alaw.decode(0xD5));
        assert!(p[12..].iter().all(|&c| c == back));
        assert!(Law::Ulaw.decode(back).abs() <= 8);
        p[1] = 101; // telephone-event passes
        assert!(!b.apply(&mut p, MediaSide::Carrier));
    }
}
