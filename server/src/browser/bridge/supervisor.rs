//! The supervisor's side of a bridged call: the supervisor's browser is a second
//! WebRTC peer whose Opus is decoded to 8 kHz for the [`SupervisorMix`], and what the
//! mix makes for the supervisor is encoded back to Opus for it. Narrowband both ways
//! (the peer's answer asks for it): everything the supervisor can hear of the customer
//! is G.711 already.

use std::time::Instant;

use dcx_media::bridge::{
    BridgeMode, Decode, Encode, OpusDecode, OpusEncode, OpusSettings, SupervisorMix, FRAME,
    MAX_PAYLOAD, MAX_SAMPLES,
};
use dcx_media::jitter::{JitterBuffer, Playout};

use super::{jitter, push_frame, BridgeSetupError, MAX_PACKET, OPUS_FRAME_TICKS};

/// A supervisor on the call: its mix, and its browser's stream both ways.
pub(super) struct SupervisorLeg {
    pub(super) mix: SupervisorMix,
    from_supervisor: JitterBuffer,
    decoder: OpusDecode,
    encoder: OpusEncode,
    pcm: [i16; MAX_SAMPLES],
    payload: [u8; MAX_PAYLOAD],
    packet: [u8; MAX_PACKET],
    /// The RTP time (48 kHz) of the next frame toward the supervisor.
    rtp_time: u64,
    /// Frames sent to the supervisor.
    pub(super) sent: u64,
}

impl SupervisorLeg {
    pub(super) fn new(mode: BridgeMode) -> Result<Self, BridgeSetupError> {
        let err = |e: dcx_media::bridge::BridgeError| BridgeSetupError(e.to_string());
        Ok(Self {
            mix: SupervisorMix::new(mode),
            from_supervisor: jitter(48_000, 128)?,
            decoder: OpusDecode::new().map_err(err)?,
            encoder: OpusEncode::new(OpusSettings::default()).map_err(err)?,
            pcm: [0; MAX_SAMPLES],
            payload: [0; MAX_PAYLOAD],
            packet: [0; MAX_PACKET],
            rtp_time: 0,
            sent: 0,
        })
    }

    /// One Opus frame from the supervisor's browser.
    pub(super) fn handle_audio(&mut self, now: Instant, ext_seq: u64, rtp_time: u64, opus: &[u8]) {
        push_frame(
            &mut self.from_supervisor,
            &mut self.packet,
            now,
            ext_seq,
            rtp_time,
            opus,
        );
    }

    /// Takes in what the supervisor said that is due, then hands every frame the
    /// supervisor should hear to `write` as Opus with its RTP time.
    pub(super) fn poll(&mut self, now: Instant, mut write: impl FnMut(u64, &[u8])) {
        loop {
            match self.from_supervisor.pop(now) {
                Playout::Empty => break,
                Playout::Packet(p) => {
                    let n = self
                        .decoder
                        .decode(p.payload, &mut self.pcm)
                        .unwrap_or_else(|_| self.decoder.conceal(&mut self.pcm));
                    self.mix.from_supervisor(&self.pcm[..n]);
                }
                Playout::Lost(count) => {
                    for _ in 0..count {
                        let n = self.decoder.conceal(&mut self.pcm);
                        self.mix.from_supervisor(&self.pcm[..n]);
                    }
                }
            }
        }
        let mut frame = [0i16; FRAME];
        while self.mix.poll_for_supervisor(&mut frame) {
            if let Ok(len) = self.encoder.encode(&frame, &mut self.payload) {
                write(self.rtp_time, &self.payload[..len]);
                self.sent += 1;
            }
            self.rtp_time += OPUS_FRAME_TICKS;
        }
    }

    /// When the supervisor's jitter buffer next has something due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.from_supervisor.poll_timeout()
    }
}
