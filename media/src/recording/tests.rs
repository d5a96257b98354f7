//! The interleaver on its own (alignment, gaps, reordering, late frames, limits, against
//! a model), then whole recordings: two tones written to a file and read back, a side
//! that stops, out-of-order and late frames, a stalled writer, file-system errors.

use super::wav::read_wav_file;
use super::*;
use crate::tone::{goertzel_amplitude, rms, zero_crossing_frequency, SineGenerator};
use proptest::prelude::*;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};

/// An interleaver and everything it emitted.
struct Tape {
    il: Interleaver,
    out: Vec<i16>,
    largest_chunk: usize,
}

impl Tape {
    fn new(window_samples: usize, max_samples: u64) -> Self {
        Self {
            il: Interleaver::new(window_samples, max_samples),
            out: Vec::new(),
            largest_chunk: 0,
        }
    }

    fn push(&mut self, side: Side, position: u64, pcm: &[i16]) {
        let (out, largest) = (&mut self.out, &mut self.largest_chunk);
        let mut sink = |s: &[i16]| {
            *largest = (*largest).max(s.len());
            out.extend_from_slice(s);
            Ok::<(), Infallible>(())
        };
        self.il
            .push(side, position, pcm, &mut sink)
            .unwrap_or_else(|e| match e {});
    }

    fn flush(&mut self) -> &[i16] {
        let out = &mut self.out;
        self.il
            .flush(&mut |s: &[i16]| {
                out.extend_from_slice(s);
                Ok::<(), Infallible>(())
            })
            .unwrap_or_else(|e| match e {});
        &self.out
    }

    fn channel(&self, side: Side) -> Vec<i16> {
        self.out
            .iter()
            .skip(side.index())
            .step_by(2)
            .copied()
            .collect()
    }
}

#[test]
fn aligned_sides_interleave_left_first() {
    let mut t = Tape::new(160, u64::MAX);
    t.push(Side::Right, 0, &[5, 6, 7, 8]);
    t.push(Side::Left, 0, &[1, 2, 3, 4]);
    assert_eq!(t.flush(), [1, 5, 2, 6, 3, 7, 4, 8]);
    assert_eq!(t.il.written_samples(), 4);
    assert_eq!(t.il.stats().late_samples, 0);
}

#[test]
fn samples_are_held_for_the_window_then_final() {
    let mut t = Tape::new(4, u64::MAX);
    t.push(Side::Left, 0, &[1; 8]);
    // Positions 0..4 are more than the window behind the left side's end: written.
    assert_eq!(t.out, [1, 0, 1, 0, 1, 0, 1, 0]);
    // The right side's first half is late, its second half lands in time.
    t.push(Side::Right, 0, &[2; 8]);
    t.push(Side::Right, 1, &[3; 2]);
    assert_eq!(t.flush(), [1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 1, 2, 1, 2, 1, 2]);
    let stats = t.il.stats();
    assert_eq!(
        (stats.frames, stats.late_frames, stats.late_samples),
        (3, 1, 6)
    );
}

#[test]
fn a_gap_is_silence_and_a_silent_side_is_a_silent_channel() {
    let mut t = Tape::new(160, u64::MAX);
    t.push(Side::Left, 0, &[1; 4]);
    t.push(Side::Left, 8, &[2; 4]);
    t.flush();
    assert_eq!(t.channel(Side::Left), [1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 2, 2]);
    assert_eq!(t.channel(Side::Right), [0; 12]);
}

#[test]
fn out_of_order_frames_within_the_window_land_in_place() {
    let frame = |i: u64| vec![i as i16 + 1; 160];
    let mut in_order = Tape::new(320, u64::MAX);
    let mut swapped = Tape::new(320, u64::MAX);
    for i in 0..10 {
        in_order.push(Side::Left, i * 160, &frame(i));
        let j = i ^ 1; // 1, 0, 3, 2, ..
        swapped.push(Side::Left, j * 160, &frame(j));
    }
    assert_eq!(swapped.flush(), in_order.flush());
    assert_eq!(swapped.il.stats().reordered_frames, 5);
    assert_eq!(swapped.il.stats().late_samples, 0);
}

#[test]
fn overlapping_frames_are_mixed_with_saturation() {
    let mut t = Tape::new(16, u64::MAX);
    t.push(Side::Right, 0, &[30_000; 4]);
    t.push(Side::Right, 2, &[10_000; 4]);
    t.push(Side::Right, 1, &[-32_768; 1]);
    t.flush();
    assert_eq!(
        t.channel(Side::Right),
        [30_000, -2768, 32_767, 32_767, 10_000, 10_000]
    );
    assert_eq!(t.il.stats().reordered_frames, 2);
}

#[test]
fn a_jump_is_written_as_silence_in_bounded_chunks_up_to_the_limit() {
    let mut t = Tape::new(1600, 100_000);
    t.push(Side::Left, 0, &[9; 160]);
    t.push(Side::Left, 90_000, &[7; 160]);
    assert!(t.largest_chunk <= 2048, "{}", t.largest_chunk);
    t.push(Side::Right, 99_990, &[5; 20]);
    t.push(Side::Right, 200_000, &[5; 20]);
    t.flush();
    assert_eq!(t.il.written_samples(), 100_000);
    assert_eq!(t.il.stats().beyond_limit_samples, 30);
    let left = t.channel(Side::Left);
    assert_eq!(left.len(), 100_000);
    assert_eq!(left.iter().filter(|&&s| s == 9).count(), 160);
    assert_eq!(&left[90_000..90_160], &[7; 160][..]);
    assert!(left[160..90_000].iter().all(|&s| s == 0));
    assert_eq!(&t.channel(Side::Right)[99_990..], &[5; 10][..]);
}

#[test]
fn a_frame_longer_than_the_ring_is_written_whole() {
    let ramp: Vec<i16> = (0..5000).map(|i| i as i16).collect();
    let mut t = Tape::new(0, u64::MAX);
    t.push(Side::Left, 3, &ramp);
    t.flush();
    let left = t.channel(Side::Left);
    assert_eq!(&left[..3], &[0, 0, 0]);
    assert_eq!(&left[3..], &ramp[..]);
}

proptest! {
    /// Frames pushed in order of their start, no longer than the window, never
    /// overlapping on their side: the output is exactly the two sides laid out.
    #[test]
    fn ordered_frames_match_a_model(
        frames in proptest::collection::vec((any::<bool>(), 0u64..400, 1usize..=320, any::<i16>()), 0..40),
    ) {
        let mut cursor = [0u64; 2];
        let mut placed = Vec::new();
        for (left, gap, len, value) in frames {
            let side = if left { Side::Left } else { Side::Right };
            let start = cursor[side.index()] + gap;
            cursor[side.index()] = start + len as u64;
            placed.push((start, side, vec![value; len]));
        }
        placed.sort_by_key(|p| p.0);
        let end = cursor[0].max(cursor[1]) as usize;
        let mut model = vec![0i16; 2 * end];
        let mut t = Tape::new(320, u64::MAX);
        for (start, side, pcm) in &placed {
            for (i, &s) in pcm.iter().enumerate() {
                model[2 * (*start as usize + i) + side.index()] = s;
            }
            t.push(*side, *start, pcm);
        }
        prop_assert_eq!(t.flush(), &model[..]);
        prop_assert_eq!(t.il.stats().late_samples, 0);
    }

    /// Whatever is pushed, nothing panics, and the output is whole stereo frames up
    /// to the end of the timeline (capped by the limit).
    #[test]
    fn any_frames_never_panic(
        window in 0usize..500,
        frames in proptest::collection::vec((any::<bool>(), 0u64..5000, 0usize..3000), 0..30),
    ) {
        let mut t = Tape::new(window, 4000);
        for (left, position, len) in frames {
            let side = if left { Side::Left } else { Side::Right };
            t.push(side, position, &vec![1; len]);
        }
        let out_len = t.flush().len();
        prop_assert_eq!(out_len as u64, 2 * t.il.written_samples());
        prop_assert_eq!(t.il.written_samples(), t.il.end_samples());
        prop_assert!(t.il.written_samples() <= 4000);
    }
}

/// A file in the temp directory, removed when dropped (also when a test fails).
struct TempWav(PathBuf);

impl TempWav {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let file = format!("dcx-recording-{}-{n}-{name}.wav", std::process::id());
        Self(std::env::temp_dir().join(file))
    }
}

impl Drop for TempWav {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn tone(frequency_hz: f64, rate: u32, samples: usize) -> Vec<i16> {
    let mut out = vec![0; samples];
    SineGenerator::new(frequency_hz, rate, 10_000).fill(&mut out);
    out
}

/// Asserts that `pcm` is a tone of `frequency_hz` and holds nothing at `other_hz`.
fn assert_tone(pcm: &[i16], rate: u32, frequency_hz: f64, other_hz: f64) {
    let measured = zero_crossing_frequency(pcm, rate).unwrap();
    assert!(
        (measured - frequency_hz).abs() < 1.0,
        "{frequency_hz} Hz measured as {measured}"
    );
    let level = goertzel_amplitude(pcm, rate, frequency_hz);
    assert!(
        (level - 10_000.0).abs() < 200.0,
        "{frequency_hz} Hz at {level}"
    );
    assert!(goertzel_amplitude(pcm, rate, other_hz) < 0.02 * level);
}

/// Records a 440 Hz left side and a 1000 Hz right side in 20 ms frames, the right side
/// for its first `right_frames` only.
fn record_two_tones(rate: u32, frames: usize, right_frames: usize) -> (TempWav, RecordingSummary) {
    let file = TempWav::new("tones");
    let per_frame = rate as usize / 50;
    let left = tone(440.0, rate, frames * per_frame);
    let right = tone(1000.0, rate, right_frames * per_frame);
    let mut rec = Recorder::start(file.0.clone(), RecorderConfig::new(rate)).unwrap();
    for i in 0..frames {
        let at = i * per_frame;
        assert_eq!(
            rec.push(Side::Left, at as u64, &left[at..at + per_frame]),
            PushOutcome::Queued
        );
        if i < right_frames {
            rec.push(Side::Right, at as u64, &right[at..at + per_frame]);
        }
    }
    assert_eq!(rec.dropped_frames(), 0);
    (file, rec.stop())
}

#[test]
fn two_tones_at_8k_are_recorded_left_and_right() {
    let (file, summary) = record_two_tones(8000, 50, 50);
    assert!(summary.is_complete(), "{:?}", summary.error);
    assert_eq!(summary.samples_per_channel, 8000);
    assert!((summary.seconds() - 1.0).abs() < f64::EPSILON);
    assert_eq!((summary.frames_queued, summary.frames_dropped), (100, 0));
    assert_eq!(summary.bytes, 44 + 8000 * 4);
    assert_eq!(std::fs::metadata(&file.0).unwrap().len(), summary.bytes);
    let audio = read_wav_file(&file.0).unwrap();
    assert_eq!(audio.spec, WavSpec::stereo(8000));
    let (left, right) = (audio.channel(0), audio.channel(1));
    assert_eq!((left.len(), right.len()), (8000, 8000));
    assert_tone(&left, 8000, 440.0, 1000.0);
    assert_tone(&right, 8000, 1000.0, 440.0);
}

#[test]
fn two_tones_at_48k_are_recorded_left_and_right() {
    let (file, summary) = record_two_tones(48_000, 25, 25);
    assert!(summary.is_complete(), "{:?}", summary.error);
    let audio = read_wav_file(&file.0).unwrap();
    assert_eq!(audio.spec, WavSpec::stereo(48_000));
    assert_eq!(audio.frames(), 24_000);
    assert_tone(&audio.channel(0), 48_000, 440.0, 1000.0);
    assert_tone(&audio.channel(1), 48_000, 1000.0, 440.0);
}

#[test]
fn a_side_that_stops_is_silence_while_the_other_goes_on() {
    let (file, summary) = record_two_tones(8000, 50, 25);
    assert!(summary.is_complete(), "{:?}", summary.error);
    let audio = read_wav_file(&file.0).unwrap();
    let (left, right) = (audio.channel(0), audio.channel(1));
    assert_eq!((left.len(), right.len()), (8000, 8000));
    assert_tone(&left, 8000, 440.0, 1000.0);
    assert_tone(&right[..4000], 8000, 1000.0, 440.0);
    assert!(rms(&right[4000..]) < f64::EPSILON);
}

#[test]
fn out_of_order_frames_are_placed_and_late_ones_counted() {
    let file = TempWav::new("late");
    let right = tone(1000.0, 8000, 8000);
    let mut rec = Recorder::start(file.0.clone(), RecorderConfig::new(8000)).unwrap();
    for i in 0..50 {
        let j = i ^ 1;
        rec.push(Side::Right, j as u64 * 160, &right[j * 160..(j + 1) * 160]);
    }
    // A copy of the first frame, a second later: far behind the write position.
    rec.push(Side::Right, 0, &[i16::MAX; 160]);
    let summary = rec.stop();
    assert!(summary.is_complete(), "{:?}", summary.error);
    assert_eq!(summary.interleaver.reordered_frames, 25);
    assert_eq!(summary.interleaver.late_frames, 1);
    assert_eq!(summary.interleaver.late_samples, 160);
    let audio = read_wav_file(&file.0).unwrap();
    assert_eq!(audio.channel(1), right);
    assert!(rms(&audio.channel(0)) < f64::EPSILON);
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let file = TempWav::new("full");
    let (open, gate) = std::sync::mpsc::channel();
    let config = RecorderConfig {
        queue_frames: 4,
        ..RecorderConfig::new(8000)
    };
    let mut rec = Recorder::start_gated(file.0.clone(), config, gate).unwrap();
    let frame = tone(440.0, 8000, 160);
    let outcomes: Vec<PushOutcome> = (0..10u64)
        .map(|i| rec.push(Side::Left, i * 160, &frame))
        .collect();
    assert_eq!(&outcomes[..4], &[PushOutcome::Queued; 4]);
    assert_eq!(&outcomes[4..], &[PushOutcome::Full; 6]);
    assert_eq!((rec.queued_frames(), rec.dropped_frames()), (4, 6));
    open.send(()).unwrap();
    let summary = rec.stop();
    assert!(summary.is_complete(), "{:?}", summary.error);
    assert_eq!((summary.frames_queued, summary.frames_dropped), (4, 6));
    assert_eq!(summary.samples_per_channel, 640);
    assert_eq!(read_wav_file(&file.0).unwrap().frames(), 640);
}

#[test]
fn dropping_the_recorder_finishes_the_file() {
    let file = TempWav::new("drop");
    let mut rec = Recorder::start(file.0.clone(), RecorderConfig::new(8000)).unwrap();
    rec.push(Side::Left, 0, &[3; 160]);
    rec.push(Side::Right, 80, &[4; 160]);
    drop(rec);
    let audio = read_wav_file(&file.0).unwrap();
    assert_eq!(audio.frames(), 240);
    assert_eq!(&audio.channel(1)[80..], &[4; 160][..]);
}

#[test]
fn file_system_errors_are_reported_not_panicked() {
    let missing = std::env::temp_dir().join("dcx-recording-no-such-dir/call.wav");
    let rec = Recorder::start(missing.clone(), RecorderConfig::new(8000)).unwrap();
    let summary = rec.stop();
    assert!(
        matches!(summary.error, Some(RecordError::Create(_))),
        "{:?}",
        summary.error
    );
    assert_eq!((summary.path, summary.samples_per_channel), (missing, 0));

    // An existing file is never overwritten.
    let file = TempWav::new("exists");
    std::fs::write(&file.0, b"keep").unwrap();
    let mut rec = Recorder::start(file.0.clone(), RecorderConfig::new(8000)).unwrap();
    rec.push(Side::Left, 0, &[1; 160]);
    let summary = rec.stop();
    assert!(!summary.is_complete());
    assert!(matches!(summary.error, Some(RecordError::Create(_))));
    assert_eq!(std::fs::read(&file.0).unwrap(), b"keep");
}

#[test]
fn invalid_configurations_are_refused() {
    let file = TempWav::new("invalid");
    let base = RecorderConfig::new(8000);
    for config in [
        RecorderConfig::new(0),
        RecorderConfig {
            queue_frames: 0,
            ..base
        },
        RecorderConfig {
            reorder_window_ms: 60_000,
            ..base
        },
        RecorderConfig {
            max_duration_s: 0,
            ..base
        },
        RecorderConfig {
            max_duration_s: u32::MAX,
            ..RecorderConfig::new(48_000)
        },
    ] {
        let err = Recorder::start(file.0.clone(), config).unwrap_err();
        assert!(
            matches!(err, RecordError::InvalidConfig(_)),
            "{config:?}: {err}"
        );
    }
    assert!(!file.0.exists());
}
