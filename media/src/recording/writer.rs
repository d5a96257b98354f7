//! The writer thread of a [`Recorder`](super::Recorder): takes frames from the queue,
//! interleaves them and writes the WAV file until the queue closes.

use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender};

use super::wav::{WavError, WavSpec, WavWriter};
use super::{Frame, Interleaver, InterleaverStats, RecordError, RecorderConfig};

/// Bytes the writer buffers before writing to the file (a third of a second of 48 kHz
/// stereo).
const FILE_BUFFER_BYTES: usize = 64 * 1024;

/// What the writer thread reports when it ends.
#[derive(Debug, Default)]
pub(super) struct WriterReport {
    pub(super) samples_per_channel: u64,
    pub(super) bytes: u64,
    pub(super) stats: InterleaverStats,
    pub(super) error: Option<RecordError>,
}

/// Everything the writer thread owns.
pub(super) struct WriterJob {
    pub(super) path: PathBuf,
    pub(super) config: RecorderConfig,
    pub(super) frames: Receiver<Frame>,
    pub(super) recycle: SyncSender<Vec<i16>>,
    pub(super) gate: Option<Receiver<()>>,
}

impl WriterJob {
    /// The thread's body: create the file, write until the queue closes, finish.
    pub(super) fn run(self) -> WriterReport {
        let mut report = WriterReport::default();
        if let Some(gate) = &self.gate {
            // Either a message or a dropped sender opens the gate.
            let _ = gate.recv();
        }
        let file = match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
        {
            Ok(file) => file,
            Err(e) => {
                report.error = Some(RecordError::Create(e));
                return report;
            }
        };
        let mut interleaver =
            Interleaver::new(self.config.window_samples(), self.config.max_samples());
        if let Err(e) = self.write(file, &mut interleaver, &mut report) {
            report.error = Some(e);
        }
        report.samples_per_channel = interleaver.written_samples();
        report.stats = interleaver.stats();
        report
    }

    fn write(
        &self,
        file: File,
        interleaver: &mut Interleaver,
        report: &mut WriterReport,
    ) -> Result<(), RecordError> {
        let spec = WavSpec::stereo(self.config.sample_rate_hz);
        let mut wav = WavWriter::new(BufWriter::with_capacity(FILE_BUFFER_BYTES, file), spec)?;
        let written = self.drain(interleaver, &mut wav);
        report.bytes = wav.bytes_written();
        // Patch the sizes even after a write error, so what was written stays readable.
        let finished = wav.finish();
        written?;
        let file = finished?
            .into_inner()
            .map_err(|e| WavError::from(e.into_error()))?;
        file.sync_all().map_err(WavError::from)?;
        Ok(())
    }

    /// Interleaves and writes frames until the queue closes and is empty.
    fn drain(
        &self,
        interleaver: &mut Interleaver,
        wav: &mut WavWriter<BufWriter<File>>,
    ) -> Result<(), WavError> {
        let mut sink = |samples: &[i16]| wav.write_samples(samples);
        for frame in &self.frames {
            interleaver.push(frame.side, frame.position, &frame.pcm, &mut sink)?;
            // Hand the buffer back to `push`; if its return queue is full, free it.
            let _ = self.recycle.try_send(frame.pcm);
        }
        interleaver.flush(&mut sink)
    }
}
