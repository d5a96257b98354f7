//! One continuous RTP stream toward a side: whatever source sends (the first carrier,
//! then the one we failed over to), the side sees one SSRC, dcx's own for that leg (the
//! one its RTCP reports speak for), whose sequence numbers and timestamps carry on, with
//! the marker bit set where the source changed.

/// Assumed timestamp step across a source change (20 ms at 8 kHz).
const GAP_TS: u32 = 160;

/// The rewrite state of one outgoing stream.
#[derive(Debug)]
pub struct Continuity {
    ssrc_out: u32,
    source: Option<u32>,
    seq_offset: u16,
    ts_offset: u32,
    last_seq: u16,
    last_ts: u32,
}

impl Continuity {
    /// A stream sent with SSRC `ssrc_out`.
    pub fn new(ssrc_out: u32) -> Self {
        Self {
            ssrc_out,
            source: None,
            seq_offset: 0,
            ts_offset: 0,
            last_seq: 0,
            last_ts: 0,
        }
    }

    /// Rewrites `packet`'s header in place; false if it is not RTP (dropped).
    pub fn rewrite(&mut self, packet: &mut [u8]) -> bool {
        if packet.len() < 12 || packet[0] >> 6 != 2 || (72..=76).contains(&(packet[1] & 0x7f)) {
            return false;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let ts = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        match self.source {
            None => {
                self.last_seq = seq.wrapping_sub(1);
                self.last_ts = ts;
            }
            Some(s) if s != ssrc => {
                self.seq_offset = self.last_seq.wrapping_add(1).wrapping_sub(seq);
                self.ts_offset = self.last_ts.wrapping_add(GAP_TS).wrapping_sub(ts);
                packet[1] |= 0x80;
            }
            Some(_) => {}
        }
        self.source = Some(ssrc);
        let out_seq = seq.wrapping_add(self.seq_offset);
        let out_ts = ts.wrapping_add(self.ts_offset);
        if (out_seq.wrapping_sub(self.last_seq) as i16) > 0 {
            self.last_seq = out_seq;
            self.last_ts = out_ts;
        }
        packet[2..4].copy_from_slice(&out_seq.to_be_bytes());
        packet[4..8].copy_from_slice(&out_ts.to_be_bytes());
        packet[8..12].copy_from_slice(&self.ssrc_out.to_be_bytes());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtp(seq: u16, ts: u32, ssrc: u32) -> [u8; 12] {
        let mut p = [0u8; 12];
        p[0] = 0x80;
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p[8..12].copy_from_slice(&ssrc.to_be_bytes());
        p
    }

    fn fields(p: &[u8; 12]) -> (u16, u32, u32, bool) {
        (
            u16::from_be_bytes([p[2], p[3]]),
            u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
            p[1] & 0x80 != 0,
        )
    }

    #[test]
    fn one_stream_across_a_source_change() {
        let mut c = Continuity::new(0xD);
        let mut a = rtp(100, 8000, 0xA);
        assert!(c.rewrite(&mut a));
        assert_eq!(fields(&a), (100, 8000, 0xD, false), "our SSRC");
        let mut a2 = rtp(101, 8160, 0xA);
        c.rewrite(&mut a2);
        let mut b = rtp(60_000, 5, 0xB);
        c.rewrite(&mut b);
        assert_eq!(fields(&b), (102, 8320, 0xD, true));
        let mut b2 = rtp(60_001, 165, 0xB);
        c.rewrite(&mut b2);
        assert_eq!(fields(&b2), (103, 8480, 0xD, false));
        let mut rtcp = rtp(1, 1, 1);
        rtcp[1] = 200;
        assert!(!c.rewrite(&mut rtcp));
    }
}
