//! One member's voice as it feeds mixes: its frames go through a jitter buffer and an
//! Opus decoder at [`MIX_RATE_HZ`], and come out as one PCM frame per mixing tick.
//!
//! The jitter buffer releases packets at their playout time and reports losses, which
//! libopus conceals. Decoded audio waits in a short backlog, from which each tick takes
//! one frame (silence past what is there): a source whose clock runs fast fills the
//! backlog, which is then trimmed to [`MAX_BACKLOG_FRAMES`] (dropping the oldest audio,
//! so the delay stays bounded); one that runs slow, or stops, yields silence. Every
//! buffer is sized at construction: pushing and pulling allocate nothing.

use std::time::Instant;

use super::{SfuCounters, SfuError, MIX_FRAME, MIX_RATE_HZ};
use crate::jitter::{JitterBuffer, JitterConfig, Playout};
use crate::rtp::{RtpHeader, RtpPacket};

/// The longest Opus packet (120 ms) at [`MIX_RATE_HZ`].
const MAX_PACKET_SAMPLES: usize = 6 * MIX_FRAME;
/// Decoded audio kept beyond the frame being taken, at most.
pub(super) const MAX_BACKLOG_FRAMES: usize = 3;
/// A loss longer than this is silence rather than concealment (libopus fades out
/// anyway, and the backlog would only trim it).
const MAX_CONCEALED_FRAMES: u32 = MAX_BACKLOG_FRAMES as u32;
/// Room for the RTP view the jitter buffer takes: a fixed header and the payload.
const PACKET_BYTES: usize = 12 + 1500;

/// The jitter buffer of a mix's source: Opus clock, 20-200 ms of delay as the bridge's,
/// slots sized for 20 ms frames at up to 64 kbit/s.
fn jitter_config() -> JitterConfig {
    JitterConfig {
        clock_rate_hz: MIX_RATE_HZ,
        slot_bytes: 160,
        max_payload_bytes: 1500,
        ..JitterConfig::default()
    }
}

/// The decoding chain of one source of mixes. See the module docs.
pub(super) struct SourceDecoder {
    jitter: JitterBuffer,
    decoder: opus::Decoder,
    /// Where a frame is laid out as RTP for the jitter buffer.
    packet: Box<[u8; PACKET_BYTES]>,
    /// Where one packet decodes.
    decoded: Box<[i16; MAX_PACKET_SAMPLES]>,
    /// Decoded audio not yet taken, oldest first.
    backlog: Box<[i16]>,
    backlog_len: usize,
    /// The frame taken at the last tick.
    frame: Box<[i16; MIX_FRAME]>,
}

impl SourceDecoder {
    pub(super) fn new() -> Result<Self, SfuError> {
        let jitter = JitterBuffer::new(jitter_config())
            .map_err(|e| SfuError::Codec(format!("jitter buffer: {e}")))?;
        let decoder = opus::Decoder::new(MIX_RATE_HZ, opus::Channels::Mono)
            .map_err(|e| SfuError::Codec(e.to_string()))?;
        Ok(Self {
            jitter,
            decoder,
            packet: Box::new([0; PACKET_BYTES]),
            decoded: Box::new([0; MAX_PACKET_SAMPLES]),
            backlog: vec![0; MAX_PACKET_SAMPLES + MAX_BACKLOG_FRAMES * MIX_FRAME]
                .into_boxed_slice(),
            backlog_len: 0,
            frame: Box::new([0; MIX_FRAME]),
        })
    }

    /// Starts over, as when the source starts feeding a mix again after a pause: what
    /// was buffered is stale.
    pub(super) fn restart(&mut self) {
        self.jitter.reset();
        // Resetting a valid decoder cannot fail; a failure would only keep old state.
        let _ = self.decoder.reset_state();
        self.backlog_len = 0;
        self.frame.fill(0);
    }

    /// Takes one Opus frame as the core reported it (unwrapped sequence number and RTP
    /// time). A frame the jitter buffer refuses (late, duplicate, too large) is dropped
    /// there and counted in its statistics.
    pub(super) fn push(&mut self, now: Instant, ext_seq: u64, rtp_time: u64, payload: &[u8]) {
        let header = RtpHeader {
            payload_type: 111,
            sequence_number: ext_seq as u16,
            timestamp: rtp_time as u32,
            ssrc: 1,
            ..RtpHeader::default()
        };
        let Ok(len) = header.write(payload, 0, &mut self.packet[..]) else {
            return;
        };
        if let Ok(packet) = RtpPacket::parse(&self.packet[..len]) {
            self.jitter.push(now, &packet);
        }
    }

    /// Decodes what is due at `now` and takes the tick's frame, then readable with
    /// [`Self::frame`].
    pub(super) fn pull(&mut self, now: Instant, counters: &mut SfuCounters) {
        loop {
            match self.jitter.pop(now) {
                Playout::Packet(p) => {
                    let n = self
                        .decoder
                        .decode(p.payload, &mut self.decoded[..], false)
                        .unwrap_or_else(|_| {
                            counters.decode_errors += 1;
                            conceal(&mut self.decoder, &mut self.decoded[..])
                        });
                    append(&mut self.backlog, &mut self.backlog_len, &self.decoded[..n]);
                }
                Playout::Lost(count) => {
                    for _ in 0..count.min(MAX_CONCEALED_FRAMES) {
                        counters.concealed_frames += 1;
                        let n = conceal(&mut self.decoder, &mut self.decoded[..]);
                        append(&mut self.backlog, &mut self.backlog_len, &self.decoded[..n]);
                    }
                }
                Playout::Empty => break,
            }
        }
        // Keep at most the frame to take and the backlog behind it.
        let keep = (MAX_BACKLOG_FRAMES + 1) * MIX_FRAME;
        if self.backlog_len > keep {
            let drop = self.backlog_len - keep;
            self.backlog.copy_within(drop..self.backlog_len, 0);
            self.backlog_len = keep;
        }
        let take = self.backlog_len.min(MIX_FRAME);
        self.frame[..take].copy_from_slice(&self.backlog[..take]);
        self.frame[take..].fill(0);
        self.backlog.copy_within(take..self.backlog_len, 0);
        self.backlog_len -= take;
    }

    /// The frame taken at the last [`Self::pull`].
    pub(super) fn frame(&self) -> &[i16] {
        &self.frame[..]
    }
}

/// libopus's concealment of one lost 20 ms frame into `out`; silence if it fails.
fn conceal(decoder: &mut opus::Decoder, out: &mut [i16]) -> usize {
    decoder
        .decode(&[], &mut out[..MIX_FRAME], false)
        .unwrap_or_else(|_| {
            out[..MIX_FRAME].fill(0);
            MIX_FRAME
        })
}

/// Appends `samples` to the backlog, dropping its oldest audio if it would overflow.
fn append(backlog: &mut [i16], len: &mut usize, samples: &[i16]) {
    let samples = &samples[samples.len().saturating_sub(backlog.len())..];
    let overflow = (*len + samples.len()).saturating_sub(backlog.len());
    if overflow > 0 {
        backlog.copy_within(overflow..*len, 0);
        *len -= overflow;
    }
    backlog[*len..*len + samples.len()].copy_from_slice(samples);
    *len += samples.len();
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::tone::{goertzel_amplitude, SineGenerator};

    const TICK: Duration = Duration::from_millis(20);

    fn opus_tone(frequency_hz: f64, frames: usize) -> Vec<Vec<u8>> {
        let mut encoder =
            opus::Encoder::new(MIX_RATE_HZ, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let mut tone = SineGenerator::new(frequency_hz, MIX_RATE_HZ, 8000);
        let mut pcm = [0i16; MIX_FRAME];
        let mut out = [0u8; 1275];
        (0..frames)
            .map(|_| {
                tone.fill(&mut pcm);
                let n = encoder.encode(&pcm, &mut out).unwrap();
                out[..n].to_vec()
            })
            .collect()
    }

    /// Frames arriving every 20 ms (with `lost` ones missing), pulled every 20 ms
    /// between arrivals; returns what the ticks took.
    fn run(source: &mut SourceDecoder, frames: &[Vec<u8>], lost: &[usize]) -> Vec<i16> {
        let t0 = Instant::now();
        let mut counters = SfuCounters::default();
        let mut heard = Vec::new();
        for (k, frame) in frames.iter().enumerate() {
            let at = t0 + TICK * k as u32;
            if !lost.contains(&k) {
                source.push(at, 1000 + k as u64, 5000 + 960 * k as u64, frame);
            }
            source.pull(at + TICK / 2, &mut counters);
            heard.extend_from_slice(source.frame());
        }
        heard
    }

    #[test]
    fn a_source_yields_its_tone_frame_by_frame_and_conceals_losses() {
        let mut source = SourceDecoder::new().unwrap();
        let frames = opus_tone(1000.0, 100);
        let lost = [30, 55, 56];
        let heard = run(&mut source, &frames, &lost);
        assert_eq!(heard.len(), 100 * MIX_FRAME);
        // Past the jitter buffer's delay and the codec's start-up.
        let settled = &heard[20 * MIX_FRAME..];
        let level = goertzel_amplitude(settled, MIX_RATE_HZ, 1000.0);
        assert!(level > 6000.0, "1 kHz at {level}");
        assert!(goertzel_amplitude(settled, MIX_RATE_HZ, 1400.0) < 0.05 * level);
        // Concealment filled the holes: no silent frame once playing.
        for (k, frame) in settled.chunks(MIX_FRAME).enumerate() {
            assert!(frame.iter().any(|&s| s.abs() > 1000), "frame {k} silent");
        }
    }

    #[test]
    fn a_stopped_source_is_silence_and_a_restart_forgets_it() {
        let mut source = SourceDecoder::new().unwrap();
        let frames = opus_tone(440.0, 30);
        run(&mut source, &frames, &[]);
        let mut counters = SfuCounters::default();
        let later = Instant::now() + Duration::from_secs(5);
        for k in 0..10 {
            source.pull(later + TICK * k, &mut counters);
        }
        assert!(source.frame().iter().all(|&s| s == 0));
        source.restart();
        assert_eq!(source.backlog_len, 0);
        assert!(source.frame().iter().all(|&s| s == 0));
    }

    #[test]
    fn the_backlog_is_bounded_when_the_source_runs_fast() {
        let mut backlog = vec![0i16; 8];
        let mut len = 0;
        append(&mut backlog, &mut len, &[1, 2, 3, 4, 5, 6]);
        append(&mut backlog, &mut len, &[7, 8, 9, 10]);
        assert_eq!((len, &backlog[..]), (8, &[3, 4, 5, 6, 7, 8, 9, 10][..]));
        append(&mut backlog, &mut len, &[0; 20]);
        assert_eq!((len, &backlog[..]), (8, &[0; 8][..]));
    }
}
