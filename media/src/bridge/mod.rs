//! The bridge between a browser's Opus and a carrier's G.711 (PCMU/PCMA), as a chain of
//! stages: jitter buffer -> [`Decode`] (to 8 kHz PCM, concealing losses) -> [`Encode`]
//! (from 8 kHz PCM) -> packetize. [`Transcoder`] joins a decoder and an encoder for one
//! direction of one call.
//!
//! libopus decodes straight to 8 kHz and encodes from 8 kHz input, so there is no
//! resampler on this path. What the carrier side carries is narrowband (nothing above
//! 4 kHz), so the encoder toward the browser is set for narrowband speech (see
//! [`OpusSettings`]); those settings, not the code around libopus, decide how many calls
//! a core can transcode (`docs/performance.md`).

mod codecs;
mod plc;
mod supervise;

pub use codecs::{G711Decode, G711Encode, OpusDecode, OpusEncode, OpusSettings};
pub use plc::G711Plc;
pub use supervise::{BridgeMode, SupervisorMix};

use crate::jitter::Playout;

/// Samples in 20 ms at 8 kHz: the frame every stage works in.
pub const FRAME: usize = 160;
/// The longest Opus packet (120 ms) at 8 kHz.
pub const MAX_SAMPLES: usize = 960;
/// Room for any payload an encoder writes (an Opus frame or 120 ms of G.711).
pub const MAX_PAYLOAD: usize = 1275;

/// Why a frame could not be transcoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    /// libopus refused the packet or the settings.
    #[error("opus: {0}")]
    Opus(String),
    /// The decoded frame is longer than the bridge handles (120 ms).
    #[error("a packet of {0} samples is longer than 120 ms")]
    TooLong(usize),
}

/// A decoder to 8 kHz mono PCM.
pub trait Decode {
    /// Decodes one payload into `out`; returns the samples written.
    fn decode(
        &mut self,
        payload: &[u8],
        out: &mut [i16; MAX_SAMPLES],
    ) -> Result<usize, BridgeError>;
    /// Fills `out[..FRAME]` for a lost 20 ms frame (packet-loss concealment).
    fn conceal(&mut self, out: &mut [i16; MAX_SAMPLES]) -> usize;
}

/// An encoder from 8 kHz mono PCM.
pub trait Encode {
    /// Encodes `pcm` (a multiple of 20 ms) into `out`; returns the bytes written.
    fn encode(&mut self, pcm: &[i16], out: &mut [u8; MAX_PAYLOAD]) -> Result<usize, BridgeError>;
}

/// One direction of a bridged call: what the jitter buffer plays out goes in, a payload
/// for the other side comes out. No allocation per frame.
pub struct Transcoder<D, E> {
    decoder: D,
    encoder: E,
    pcm: [i16; MAX_SAMPLES],
    payload: [u8; MAX_PAYLOAD],
    concealed_frames: u64,
    errors: u64,
    /// 8 kHz samples decoded (or concealed) so far: the position of the next one on the
    /// call's timeline, which is what a recording aligns by.
    position: u64,
}

impl<D: Decode, E: Encode> Transcoder<D, E> {
    /// A transcoder from `decoder`'s codec to `encoder`'s.
    pub fn new(decoder: D, encoder: E) -> Self {
        Self {
            decoder,
            encoder,
            pcm: [0; MAX_SAMPLES],
            payload: [0; MAX_PAYLOAD],
            concealed_frames: 0,
            errors: 0,
            position: 0,
        }
    }

    /// Transcodes what the jitter buffer released: a packet, or a loss to conceal (one
    /// concealed frame per lost packet, as 20 ms frames). Returns the payloads to send,
    /// in order, through `emit`; `Empty` emits nothing. A packet libopus refuses is
    /// concealed instead (and counted): one bad packet costs 20 ms, not the call.
    pub fn process(&mut self, playout: Playout<'_>, emit: impl FnMut(&[u8])) {
        self.process_tapped(playout, emit, |_, _| {});
    }

    /// [`Self::process`], also handing every decoded (or concealed) 8 kHz frame to `tap`
    /// with its position in samples since the call's first frame: how a recording of
    /// the call is fed ([`crate::recording::Recorder::push`] copies and never blocks).
    pub fn process_tapped(
        &mut self,
        playout: Playout<'_>,
        emit: impl FnMut(&[u8]),
        mut tap: impl FnMut(u64, &[i16]),
    ) {
        self.process_edited(playout, emit, |position, pcm| tap(position, pcm));
    }

    /// [`Self::process_tapped`] with the decoded frame handed over mutably: `edit` sees
    /// each 8 kHz frame between the decoder and the encoder and may change it (a
    /// supervisor's voice mixed in, [`SupervisorMix`]); what it leaves is encoded.
    pub fn process_edited(
        &mut self,
        playout: Playout<'_>,
        mut emit: impl FnMut(&[u8]),
        mut edit: impl FnMut(u64, &mut [i16]),
    ) {
        match playout {
            Playout::Packet(p) => {
                let n = if let Ok(n) = self.decoder.decode(p.payload, &mut self.pcm) {
                    n
                } else {
                    self.errors += 1;
                    self.concealed_frames += 1;
                    self.decoder.conceal(&mut self.pcm)
                };
                self.edit(n, &mut edit);
                self.encode(n, &mut emit);
            }
            Playout::Lost(count) => {
                for _ in 0..count {
                    self.concealed_frames += 1;
                    let n = self.decoder.conceal(&mut self.pcm);
                    self.edit(n, &mut edit);
                    self.encode(n, &mut emit);
                }
            }
            Playout::Empty => {}
        }
    }

    fn edit(&mut self, samples: usize, edit: &mut impl FnMut(u64, &mut [i16])) {
        edit(self.position, &mut self.pcm[..samples]);
        self.position += samples as u64;
    }

    fn encode(&mut self, samples: usize, emit: &mut impl FnMut(&[u8])) {
        match self.encoder.encode(&self.pcm[..samples], &mut self.payload) {
            Ok(len) => emit(&self.payload[..len]),
            Err(_) => self.errors += 1,
        }
    }

    /// Frames concealed so far.
    pub fn concealed_frames(&self) -> u64 {
        self.concealed_frames
    }

    /// Packets that failed to decode or encode.
    pub fn errors(&self) -> u64 {
        self.errors
    }
}

#[cfg(test)]
mod tests;
