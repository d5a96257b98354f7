//! Recording on demand: one call into one stereo WAV file, one side on the left channel
//! and the other on the right, written without blocking the media path.
//!
//! ## Shape
//! The media loop owns a [`Recorder`] per recorded call and hands it each decoded frame
//! of either side: `push(side, position, pcm)`. A writer thread owned by the recorder
//! takes the frames from a bounded queue, lines the two sides up on one timeline with an
//! [`Interleaver`] (sans-IO, tested on its own) and writes interleaved 16-bit PCM
//! through a `BufWriter` into a [`wav::WavWriter`]. [`Recorder::stop`], or dropping the
//! recorder, closes the queue; the thread writes what is still queued, patches the WAV
//! sizes, syncs the file and ends; `stop` joins it and returns a [`RecordingSummary`].
//! File-system errors end the writer and are reported there, never as panics.
//!
//! ## The push path
//! `push` costs one copy of the frame (a `memcpy` of 320 bytes for 20 ms at 8 kHz, 1920
//! at 48 kHz) into a buffer the writer handed back after an earlier frame, and one
//! `try_send` on a `std::sync::mpsc::sync_channel`: a slot in a preallocated array, an
//! atomic handover and, when the writer sleeps waiting for work, a wake-up (a futex
//! call that does not wait). Once buffers circulate it allocates nothing. It cannot
//! block: `try_send` never waits for room, and the push path touches neither the file
//! nor the writer's state. When the queue is full (a disk stalls) the frame is dropped and
//! counted in [`Recorder::dropped_frames`]: a recording may get a hole, the call does
//! not stutter. Starting does not block on the file system either: the file is created
//! by the writer thread, and an error doing so shows in [`RecordingSummary::error`]
//! (and as [`PushOutcome::Closed`] once the writer has given up).
//!
//! `stop` and `Drop` do wait: for the writer to write at most `queue_frames` frames,
//! flush and sync. Call them where that is acceptable (call teardown), or move the
//! recorder to a blocking task to stop it.
//!
//! ## Timeline
//! Each frame carries its position in samples since the recording started, at the
//! recording's rate: the caller maps a side's `ext_ts` (minus the `ext_ts` that side
//! had at the start, plus where the side joined the recording) and feeds PCM at the
//! recording's rate (8000 Hz for G.711 calls, 48000 for browser calls). Gaps are
//! silence, a side that stops sending is silence on its channel while the other goes
//! on, frames up to `reorder_window_ms` out of order are mixed in where they belong,
//! and later ones are dropped and counted; see [`Interleaver`].
//!
//! ## Why a thread per recording
//! Writing a file is blocking I/O, and this crate is sans-IO with no async runtime. A
//! plain thread that sleeps in `recv` while the queue is empty costs a small stack
//! (256 KiB reserved) and nothing else; it is the simplest thing that keeps a stalled
//! disk on one recording from delaying another. tokio's `spawn_blocking` would hold a
//! thread of the blocking pool for the whole call just the same. Recordings are on
//! demand, so there are few of them; a shared writer for thousands would be the next
//! step if that changes.

mod interleave;
pub mod wav;
mod writer;

pub use interleave::{Interleaver, InterleaverStats};

use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::thread::{self, JoinHandle};

use thiserror::Error;

use wav::{WavError, WavSpec};
use writer::{WriterJob, WriterReport};
/// Stack reserved for a writer thread: it keeps its buffers on the heap.
const WRITER_STACK_BYTES: usize = 256 * 1024;

/// Which channel a side of the call is recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The left channel (first in each frame).
    Left,
    /// The right channel.
    Right,
}

impl Side {
    /// 0 for left, 1 for right: the sample's place in a stereo frame.
    pub const fn index(self) -> usize {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }
}

/// How a [`Recorder`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecorderConfig {
    /// Rate of the PCM pushed and of the file: 8000 for G.711 calls, 48000 for browser
    /// calls.
    pub sample_rate_hz: u32,
    /// Frames the queue holds before `push` drops (256: 2.5 s of both sides in 20 ms
    /// frames).
    pub queue_frames: usize,
    /// How far behind the most advanced side the writer waits for the other side and
    /// for out-of-order frames (200 ms, the jitter buffer's largest delay).
    pub reorder_window_ms: u32,
    /// The longest recording; samples past it are dropped and counted (4 hours).
    pub max_duration_s: u32,
}

impl RecorderConfig {
    /// The defaults at `sample_rate_hz`.
    pub fn new(sample_rate_hz: u32) -> Self {
        Self {
            sample_rate_hz,
            queue_frames: 256,
            reorder_window_ms: 200,
            max_duration_s: 4 * 3600,
        }
    }

    fn validate(&self) -> Result<(), RecordError> {
        let invalid = |why| Err(RecordError::InvalidConfig(why));
        if !(1..=384_000).contains(&self.sample_rate_hz) {
            return invalid("sample_rate_hz must be 1..=384000");
        }
        if !(1..=65_536).contains(&self.queue_frames) {
            return invalid("queue_frames must be 1..=65536");
        }
        if self.reorder_window_ms > 10_000 {
            return invalid("reorder_window_ms must be at most 10000");
        }
        let max_bytes = self.max_samples() * u64::from(WavSpec::stereo(1).block_align_bytes());
        if self.max_duration_s == 0 || max_bytes > u64::from(u32::MAX) - wav::HEADER_BYTES {
            return invalid("max_duration_s must be at least 1 and fit a WAV file");
        }
        Ok(())
    }

    fn window_samples(&self) -> usize {
        (u64::from(self.reorder_window_ms) * u64::from(self.sample_rate_hz) / 1000) as usize
    }

    fn max_samples(&self) -> u64 {
        u64::from(self.max_duration_s) * u64::from(self.sample_rate_hz)
    }
}

/// Why a recording could not start, or stopped early.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A configuration value out of range; the text says which.
    #[error("invalid recorder configuration: {0}")]
    InvalidConfig(&'static str),
    /// The writer thread could not be started.
    #[error("could not start the recording's writer thread: {0}")]
    Spawn(#[source] io::Error),
    /// The file could not be created (it may exist already: recordings never overwrite).
    #[error("could not create the recording file: {0}")]
    Create(#[source] io::Error),
    /// Writing, finishing or syncing the file failed; the recording ends there.
    #[error("could not write the recording: {0}")]
    Write(#[from] WavError),
    /// The writer thread panicked (a bug); the file may be unfinished.
    #[error("the recording's writer thread panicked")]
    WriterPanicked,
}

/// What [`Recorder::push`] did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued for the writer.
    Queued,
    /// The queue was full: dropped and counted.
    Full,
    /// The writer has ended (it could not create or write the file): dropped and
    /// counted; [`Recorder::stop`] says why.
    Closed,
}

/// One frame on its way to the writer.
#[derive(Debug)]
struct Frame {
    side: Side,
    position: u64,
    pcm: Vec<i16>,
}

/// How a recording went, from [`Recorder::stop`].
#[derive(Debug)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Its rate.
    pub sample_rate_hz: u32,
    /// Samples written per channel.
    pub samples_per_channel: u64,
    /// Bytes of the file, header included.
    pub bytes: u64,
    /// Frames the media path queued.
    pub frames_queued: u64,
    /// Frames the media path dropped (queue full, or writer ended).
    pub frames_dropped: u64,
    /// What the writer's interleaver made of the queued frames.
    pub interleaver: InterleaverStats,
    /// Why the recording ended early, if it did; the file then holds what was written
    /// before (with its sizes patched when the file still allowed it).
    pub error: Option<RecordError>,
}

impl RecordingSummary {
    /// Seconds of audio written.
    pub fn seconds(&self) -> f64 {
        self.samples_per_channel as f64 / f64::from(self.sample_rate_hz)
    }

    /// Whether the recording ran to `stop` without error.
    pub fn is_complete(&self) -> bool {
        self.error.is_none()
    }
}

/// Records one call into a stereo WAV file (see the module documentation). Owned by the
/// call's media loop: `push` takes `&mut self` and never blocks.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    sample_rate_hz: u32,
    /// `None` once stopping.
    queue: Option<SyncSender<Frame>>,
    /// Buffers of written frames, handed back by the writer.
    recycled: Receiver<Vec<i16>>,
    /// The buffer of the last frame the queue refused.
    spare: Option<Vec<i16>>,
    writer: Option<JoinHandle<WriterReport>>,
    queued: u64,
    dropped: u64,
}

impl Recorder {
    /// Starts recording into a new file at `path` (never overwritten: an existing file
    /// is an error in the summary). Fails only on an invalid configuration or if the
    /// thread cannot start; the file is created by the writer thread.
    pub fn start(path: impl Into<PathBuf>, config: RecorderConfig) -> Result<Self, RecordError> {
        Self::spawn(path.into(), config, None)
    }

    fn spawn(
        path: PathBuf,
        config: RecorderConfig,
        gate: Option<Receiver<()>>,
    ) -> Result<Self, RecordError> {
        config.validate()?;
        let (queue, frames) = sync_channel(config.queue_frames);
        let (recycle, recycled) = sync_channel(config.queue_frames);
        let job = WriterJob {
            path: path.clone(),
            config,
            frames,
            recycle,
            gate,
        };
        let writer = thread::Builder::new()
            .name("dcx-recorder".into())
            .stack_size(WRITER_STACK_BYTES)
            .spawn(move || job.run())
            .map_err(RecordError::Spawn)?;
        Ok(Self {
            path,
            sample_rate_hz: config.sample_rate_hz,
            queue: Some(queue),
            recycled,
            spare: None,
            writer: Some(writer),
            queued: 0,
            dropped: 0,
        })
    }

    /// The file recorded into.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rate of the PCM to push.
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// Queues a copy of `pcm` (mono, at the recording's rate), the frame of `side`
    /// starting `position` samples after the recording's start. Never blocks: when the
    /// queue is full the frame is dropped and counted.
    pub fn push(&mut self, side: Side, position: u64, pcm: &[i16]) -> PushOutcome {
        let Some(queue) = &self.queue else {
            self.dropped += 1;
            return PushOutcome::Closed;
        };
        let mut buf = self
            .spare
            .take()
            .or_else(|| self.recycled.try_recv().ok())
            .unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(pcm);
        let frame = Frame {
            side,
            position,
            pcm: buf,
        };
        let (outcome, refused) = match queue.try_send(frame) {
            Ok(()) => {
                self.queued += 1;
                return PushOutcome::Queued;
            }
            Err(TrySendError::Full(frame)) => (PushOutcome::Full, frame),
            Err(TrySendError::Disconnected(frame)) => (PushOutcome::Closed, frame),
        };
        self.dropped += 1;
        self.spare = Some(refused.pcm);
        outcome
    }

    /// Frames dropped by `push` so far (queue full, or writer ended).
    pub fn dropped_frames(&self) -> u64 {
        self.dropped
    }

    /// Frames queued by `push` so far.
    pub fn queued_frames(&self) -> u64 {
        self.queued
    }

    /// Ends the recording: the writer writes what is queued, patches the WAV header and
    /// syncs the file; waits for it and reports.
    pub fn stop(mut self) -> RecordingSummary {
        self.finish()
    }

    fn finish(&mut self) -> RecordingSummary {
        drop(self.queue.take());
        let report = match self.writer.take().map(JoinHandle::join) {
            Some(Ok(report)) => report,
            Some(Err(_)) => WriterReport {
                error: Some(RecordError::WriterPanicked),
                ..WriterReport::default()
            },
            None => WriterReport::default(),
        };
        RecordingSummary {
            path: self.path.clone(),
            sample_rate_hz: self.sample_rate_hz,
            samples_per_channel: report.samples_per_channel,
            bytes: report.bytes,
            frames_queued: self.queued,
            frames_dropped: self.dropped,
            interleaver: report.stats,
            error: report.error,
        }
    }
}

impl Drop for Recorder {
    /// Stops the recording as [`Recorder::stop`] does, discarding the summary.
    fn drop(&mut self) {
        if self.writer.is_some() {
            self.finish();
        }
    }
}

#[cfg(test)]
impl Recorder {
    /// Like `start`, but the writer waits for `gate` (a message or its sender dropped)
    /// before it opens the file or takes a frame: a stalled disk, on demand.
    fn start_gated(
        path: PathBuf,
        config: RecorderConfig,
        gate: Receiver<()>,
    ) -> Result<Self, RecordError> {
        Self::spawn(path, config, Some(gate))
    }
}

#[cfg(test)]
mod tests;
