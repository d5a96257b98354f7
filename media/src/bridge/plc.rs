//! Packet-loss concealment for G.711 in the manner of ITU-T G.711 Appendix I: repeat the
//! last pitch period of the good signal, fade it out from 10 ms into the loss to silence
//! at 60 ms, and cross-fade back into the next good frame so that no click is heard.
//! (Appendix I also overlap-adds a quarter period at the start of the loss; this keeps
//! to the parts that matter most for speech: the pitch repetition and the fade.)

/// History kept: 3.25 times the longest pitch period, as Appendix I.
const HISTORY: usize = 390;
/// Pitch periods searched, in samples at 8 kHz (200 Hz down to 66 Hz).
const MIN_PITCH: usize = 40;
const MAX_PITCH: usize = 120;
/// The stretch of recent signal matched against its past to find the pitch.
const MATCH_LEN: usize = 160;
/// Concealment plays at full level for 10 ms, then fades to silence at 60 ms.
const FULL_SAMPLES: usize = 80;
const SILENT_AFTER: usize = 480;
/// The cross-fade into the first good frame after a loss.
const FADE_IN: usize = 32;

/// The concealment state of one G.711 stream.
#[derive(Debug, Clone)]
pub struct G711Plc {
    history: [i16; HISTORY],
    pitch: usize,
    phase: usize,
    lost_samples: usize,
}

impl Default for G711Plc {
    fn default() -> Self {
        Self::new()
    }
}

impl G711Plc {
    /// A stream that has heard only silence.
    pub fn new() -> Self {
        Self {
            history: [0; HISTORY],
            pitch: MAX_PITCH,
            phase: 0,
            lost_samples: 0,
        }
    }

    /// A good frame arrived: blend it in after a loss, and remember it.
    pub fn good(&mut self, frame: &mut [i16]) {
        if self.lost_samples > 0 {
            let n = FADE_IN.min(frame.len());
            for (i, sample) in frame.iter_mut().enumerate().take(n) {
                let synthetic = f32::from(self.next_synthetic());
                let w = i as f32 / n as f32;
                *sample = (synthetic * (1.0 - w) + f32::from(*sample) * w) as i16;
            }
            self.lost_samples = 0;
        }
        if frame.len() >= HISTORY {
            self.history
                .copy_from_slice(&frame[frame.len() - HISTORY..]);
        } else {
            self.history.copy_within(frame.len().., 0);
            self.history[HISTORY - frame.len()..].copy_from_slice(frame);
        }
    }

    /// Fills `out` for lost signal.
    pub fn conceal(&mut self, out: &mut [i16]) {
        if self.lost_samples == 0 {
            self.pitch = self.find_pitch();
            self.phase = 0;
        }
        for sample in out.iter_mut() {
            *sample = self.next_synthetic();
        }
    }

    /// The next sample of the repeated period, faded by how long the loss has lasted.
    fn next_synthetic(&mut self) -> i16 {
        let s = self.history[HISTORY - self.pitch + self.phase % self.pitch];
        self.phase += 1;
        let t = self.lost_samples;
        self.lost_samples += 1;
        let gain = if t < FULL_SAMPLES {
            1.0
        } else if t >= SILENT_AFTER {
            0.0
        } else {
            1.0 - (t - FULL_SAMPLES) as f32 / (SILENT_AFTER - FULL_SAMPLES) as f32
        };
        (f32::from(s) * gain) as i16
    }

    /// The lag whose past best matches the most recent signal (normalized
    /// cross-correlation).
    fn find_pitch(&self) -> usize {
        let recent = &self.history[HISTORY - MATCH_LEN..];
        let mut best = (f64::MIN, MAX_PITCH);
        for lag in MIN_PITCH..=MAX_PITCH {
            let past = &self.history[HISTORY - MATCH_LEN - lag..HISTORY - lag];
            let (mut corr, mut energy) = (0f64, 0f64);
            for (&a, &b) in recent.iter().zip(past) {
                corr += f64::from(a) * f64::from(b);
                energy += f64::from(b) * f64::from(b);
            }
            let score = if energy > 0.0 {
                corr / energy.sqrt()
            } else {
                0.0
            };
            if score > best.0 {
                best = (score, lag);
            }
        }
        best.1
    }
}
