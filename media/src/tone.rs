//! Tones: a phase-continuous sine generator (hold and test audio) and two frequency
//! checks used by tests to prove a tone survived a codec path: the Goertzel algorithm
//! (the amplitude at one frequency) and a zero-crossing estimate (the frequency of a
//! dominant tone).
//!
//! Floating point is fine here: none of this is on the per-packet path.

use std::f64::consts::TAU;

/// A sine wave at a fixed frequency and amplitude, continuous across calls.
#[derive(Debug, Clone)]
pub struct SineGenerator {
    /// Phase in cycles, 0..1.
    phase: f64,
    /// Cycles per sample.
    step: f64,
    amplitude: f64,
}

impl SineGenerator {
    /// A sine of `frequency_hz` at `sample_rate_hz`, peak `amplitude` (in sample units),
    /// starting at phase 0.
    pub fn new(frequency_hz: f64, sample_rate_hz: u32, amplitude: i16) -> Self {
        Self {
            phase: 0.0,
            step: frequency_hz / f64::from(sample_rate_hz),
            amplitude: f64::from(amplitude),
        }
    }

    /// The next sample.
    pub fn next_sample(&mut self) -> i16 {
        let value = (self.phase * TAU).sin() * self.amplitude;
        self.phase = (self.phase + self.step).fract();
        value.round() as i16
    }

    /// Fills `out` with the next samples.
    pub fn fill(&mut self, out: &mut [i16]) {
        for s in out {
            *s = self.next_sample();
        }
    }
}

/// The amplitude of the `frequency_hz` component of `samples` (Goertzel algorithm),
/// scaled so that a pure sine of peak `A` at that frequency measures about `A` when the
/// block holds a whole number of its periods. Returns 0 for an empty block.
pub fn goertzel_amplitude(samples: &[i16], sample_rate_hz: u32, frequency_hz: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let coeff = 2.0 * (TAU * frequency_hz / f64::from(sample_rate_hz)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    2.0 * power.sqrt() / samples.len() as f64
}

/// The frequency of the dominant tone in `samples`, from the spacing of its upward zero
/// crossings (interpolated between samples). `None` with fewer than two crossings.
pub fn zero_crossing_frequency(samples: &[i16], sample_rate_hz: u32) -> Option<f64> {
    let mut first: Option<f64> = None;
    let mut last = 0.0;
    let mut crossings = 0u32;
    for (i, pair) in samples.windows(2).enumerate() {
        let (a, b) = (f64::from(pair[0]), f64::from(pair[1]));
        if a < 0.0 && b >= 0.0 {
            let at = i as f64 + a / (a - b);
            first.get_or_insert(at);
            last = at;
            crossings += 1;
        }
    }
    let first = first?;
    if crossings < 2 || last <= first {
        return None;
    }
    Some(f64::from(crossings - 1) * f64::from(sample_rate_hz) / (last - first))
}

/// Root mean square of `samples`, in sample units (0 for an empty block).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::g711::Law;

    fn tone(frequency_hz: f64, samples: usize) -> Vec<i16> {
        let mut g = SineGenerator::new(frequency_hz, 8000, 10_000);
        let mut out = vec![0; samples];
        g.fill(&mut out);
        out
    }

    #[test]
    fn generator_is_phase_continuous_across_frames() {
        let whole = tone(440.0, 320);
        let mut g = SineGenerator::new(440.0, 8000, 10_000);
        let mut a = [0i16; 160];
        let mut b = [0i16; 160];
        g.fill(&mut a);
        g.fill(&mut b);
        assert_eq!(&whole[..160], &a[..]);
        assert_eq!(&whole[160..], &b[..]);
        assert!((rms(&whole) - 10_000.0 / 2f64.sqrt()).abs() < 100.0);
    }

    #[test]
    fn goertzel_measures_the_tone_and_rejects_its_neighbours() {
        let x = tone(1000.0, 8000);
        assert!((goertzel_amplitude(&x, 8000, 1000.0) - 10_000.0).abs() < 50.0);
        for other in [500.0, 900.0, 1100.0, 2000.0] {
            assert!(goertzel_amplitude(&x, 8000, other) < 100.0, "{other} Hz");
        }
        assert!(goertzel_amplitude(&[], 8000, 1000.0).abs() < f64::EPSILON);
    }

    #[test]
    fn zero_crossings_estimate_the_frequency() {
        for f in [440.0, 1000.0, 1633.0] {
            let est = zero_crossing_frequency(&tone(f, 8000), 8000).unwrap();
            assert!((est - f).abs() < 0.5, "{f} Hz estimated as {est}");
        }
        assert_eq!(zero_crossing_frequency(&[0; 100], 8000), None);
    }

    #[test]
    fn a_1khz_tone_survives_g711_in_both_laws() {
        let x = tone(1000.0, 8000);
        for law in [Law::Ulaw, Law::Alaw] {
            let mut codes = vec![0u8; x.len()];
            let mut y = vec![0i16; x.len()];
            law.encode_slice(&x, &mut codes);
            law.decode_slice(&codes, &mut y);
            let est = zero_crossing_frequency(&y, 8000).unwrap();
            assert!((est - 1000.0).abs() < 1.0, "{law:?}: {est} Hz");
            let at = goertzel_amplitude(&y, 8000, 1000.0);
            assert!((at - 10_000.0).abs() < 200.0, "{law:?}: amplitude {at}");
            assert!(goertzel_amplitude(&y, 8000, 1100.0) < 0.02 * at, "{law:?}");
            assert!(goertzel_amplitude(&y, 8000, 440.0) < 0.02 * at, "{law:?}");
        }
    }
}
