//! Making a mixed frame: the [`Mixer`] sums the PCM frames a subscriber hears into one,
//! and [`MixEncoder`] codes that frame as Opus for the subscriber's browser.

use super::{SfuError, MIX_RATE_HZ};

/// Sums frames of PCM into one, saturating to 16 bits. Sans-IO and frame-based: the
/// caller hands it one frame per source for each tick. Its accumulator is sized at
/// construction, so mixing allocates nothing.
#[derive(Debug, Clone)]
pub struct Mixer {
    sum: Box<[i32]>,
}

impl Mixer {
    /// A mixer of frames of `samples_per_frame` (960 for 20 ms at 48 kHz, 160 at 8 kHz).
    pub fn new(samples_per_frame: usize) -> Self {
        Self {
            sum: vec![0; samples_per_frame].into_boxed_slice(),
        }
    }

    /// Samples per frame.
    pub fn samples_per_frame(&self) -> usize {
        self.sum.len()
    }

    /// Mixes `inputs` into `out`: sample by sample, the sum of the inputs, clamped to
    /// the 16-bit range once (so the result does not depend on the inputs' order). An
    /// input shorter than the frame is silence past its end; samples past the frame are
    /// ignored, and so is `out` past it. No input at all is a silent frame.
    pub fn mix<'a>(&mut self, inputs: impl IntoIterator<Item = &'a [i16]>, out: &mut [i16]) {
        self.sum.fill(0);
        for input in inputs {
            // At most 64 sources of 16 bits each: a 32-bit sum cannot overflow, but
            // saturate anyway rather than trust a caller with more.
            for (acc, &sample) in self.sum.iter_mut().zip(input) {
                *acc = acc.saturating_add(i32::from(sample));
            }
        }
        for (o, &acc) in out.iter_mut().zip(self.sum.iter()) {
            *o = acc.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
        }
    }
}

/// How a mixed stream is coded toward a browser. A mix carries fullband speech from
/// browsers, so it is coded as browsers code their own microphone: 32 kbit/s (Opus
/// hybrid mode, transparent for fullband speech, and about what a browser sends for a
/// mono voice), in-band FEC planned for 5% loss as the bridge does (the browser rebuilds
/// a lost frame from the next). Complexity 5: an encoder runs for each mixed
/// subscriber, and at fullband complexity 10 costs about 95 us per frame against 27 us
/// at 0 (`../shared/MEASURED.md`); the middle setting keeps most of the quality for
/// speech at a part of the cost (narrowband, 5 costs two thirds of 10).
pub(super) const MIX_BITRATE_BPS: i32 = 32_000;
pub(super) const MIX_COMPLEXITY: i32 = 5;
pub(super) const MIX_EXPECTED_LOSS_PCT: i32 = 5;

/// The longest Opus packet libopus writes.
pub(super) const MAX_OPUS_PAYLOAD: usize = 1275;

/// The Opus encoder of one mixed subscriber: 20 ms frames at [`MIX_RATE_HZ`], mono.
pub(super) struct MixEncoder {
    encoder: opus::Encoder,
}

impl MixEncoder {
    pub(super) fn new() -> Result<Self, SfuError> {
        let err = |e: opus::Error| SfuError::Codec(e.to_string());
        let mut encoder =
            opus::Encoder::new(MIX_RATE_HZ, opus::Channels::Mono, opus::Application::Voip)
                .map_err(err)?;
        encoder
            .set_bitrate(opus::Bitrate::Bits(MIX_BITRATE_BPS))
            .map_err(err)?;
        encoder.set_complexity(MIX_COMPLEXITY).map_err(err)?;
        encoder.set_inband_fec(true).map_err(err)?;
        encoder
            .set_packet_loss_perc(MIX_EXPECTED_LOSS_PCT)
            .map_err(err)?;
        encoder.set_signal(opus::Signal::Voice).map_err(err)?;
        Ok(Self { encoder })
    }

    /// Encodes one 20 ms frame into `out`; returns the payload's length.
    pub(super) fn encode(
        &mut self,
        pcm: &[i16],
        out: &mut [u8; MAX_OPUS_PAYLOAD],
    ) -> Result<usize, opus::Error> {
        self.encoder.encode(pcm, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sfu::MIX_FRAME;
    use crate::tone::{goertzel_amplitude, SineGenerator};

    fn tone(frequency_hz: f64, amplitude: i16) -> Vec<i16> {
        let mut out = vec![0; MIX_FRAME];
        SineGenerator::new(frequency_hz, MIX_RATE_HZ, amplitude).fill(&mut out);
        out
    }

    #[test]
    fn mixing_adds_the_sources_and_keeps_each_frequency() {
        let (a, b) = (tone(1000.0, 8000), tone(2500.0, 8000));
        let mut mixer = Mixer::new(MIX_FRAME);
        let mut out = vec![0; MIX_FRAME];
        mixer.mix([&a[..], &b[..]], &mut out);
        for i in 0..MIX_FRAME {
            assert_eq!(out[i], a[i] + b[i], "sample {i}");
        }
        for f in [1000.0, 2500.0] {
            let level = goertzel_amplitude(&out, MIX_RATE_HZ, f);
            assert!((level - 8000.0).abs() < 100.0, "{f} Hz at {level}");
        }
        // (600 Hz: a whole number of periods in the frame, as 1 and 2.5 kHz.)
        assert!(goertzel_amplitude(&out, MIX_RATE_HZ, 600.0) < 100.0);
    }

    #[test]
    fn the_sum_saturates_once_whatever_the_order() {
        let loud = vec![30_000i16; MIX_FRAME];
        let quiet = vec![-30_000i16; MIX_FRAME];
        let mut mixer = Mixer::new(MIX_FRAME);
        let mut out = vec![0; MIX_FRAME];
        // Pairwise saturating adds would give 32767 - 30000 for this order.
        mixer.mix([&loud[..], &loud[..], &quiet[..]], &mut out);
        assert!(out.iter().all(|&s| s == 30_000));
        mixer.mix([&loud[..], &loud[..]], &mut out);
        assert!(out.iter().all(|&s| s == i16::MAX));
        mixer.mix([&quiet[..], &quiet[..]], &mut out);
        assert!(out.iter().all(|&s| s == i16::MIN));
    }

    #[test]
    fn short_inputs_are_silence_past_their_end_and_no_input_is_silence() {
        let mut mixer = Mixer::new(4);
        let mut out = [9i16; 4];
        mixer.mix([&[1i16, 2][..], &[10, 20, 30, 40, 50][..]], &mut out);
        assert_eq!(out, [11, 22, 30, 40]);
        mixer.mix(std::iter::empty(), &mut out);
        assert_eq!(out, [0; 4]);
    }

    #[test]
    fn mixing_reuses_its_accumulator() {
        let a = tone(440.0, 1000);
        let mut mixer = Mixer::new(MIX_FRAME);
        let at = mixer.sum.as_ptr();
        let mut out = vec![0; MIX_FRAME];
        for _ in 0..100 {
            mixer.mix([&a[..], &a[..]], &mut out);
        }
        assert_eq!(mixer.sum.as_ptr(), at);
        assert_eq!(mixer.samples_per_frame(), MIX_FRAME);
    }

    #[test]
    fn the_encoder_codes_a_mix_the_browser_decodes_at_its_frequencies() {
        let mut encoder = MixEncoder::new().unwrap();
        let mut decoder = opus::Decoder::new(MIX_RATE_HZ, opus::Channels::Mono).unwrap();
        let mut a = SineGenerator::new(440.0, MIX_RATE_HZ, 6000);
        let mut b = SineGenerator::new(2500.0, MIX_RATE_HZ, 6000);
        let mut mixer = Mixer::new(MIX_FRAME);
        let (mut fa, mut fb, mut mixed) =
            (vec![0; MIX_FRAME], vec![0; MIX_FRAME], vec![0; MIX_FRAME]);
        let mut payload = [0u8; MAX_OPUS_PAYLOAD];
        let mut heard = Vec::new();
        for _ in 0..50 {
            a.fill(&mut fa);
            b.fill(&mut fb);
            mixer.mix([&fa[..], &fb[..]], &mut mixed);
            let n = encoder.encode(&mixed, &mut payload).unwrap();
            assert!(n < 200, "{n} bytes for 20 ms at 32 kbit/s");
            let mut pcm = [0i16; MIX_FRAME];
            let got = decoder.decode(&payload[..n], &mut pcm, false).unwrap();
            heard.extend_from_slice(&pcm[..got]);
        }
        let settled = &heard[MIX_RATE_HZ as usize / 5..];
        for f in [440.0, 2500.0] {
            let level = goertzel_amplitude(settled, MIX_RATE_HZ, f);
            assert!(level > 3000.0, "{f} Hz at {level}");
        }
        assert!(goertzel_amplitude(settled, MIX_RATE_HZ, 1000.0) < 300.0);
    }
}
