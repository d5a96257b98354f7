//! WAV files as the recorder writes them: RIFF/WAVE, integer PCM, 16 bits little-endian,
//! mono or stereo (interleaved left, right).
//!
//! [`WavWriter`] streams into any `Write + Seek`: it writes the 44-byte header first with
//! sizes of 0 (placeholders: a file left unfinished says so instead of claiming data it
//! does not hold), appends samples, and patches the two sizes in [`WavWriter::finish`].
//!
//! [`read_wav`] is the strict reader the tests use: it checks the RIFF/WAVE magic, walks
//! the chunks inside the RIFF size, skips the ones it does not know (`LIST`, `fact`, ..,
//! with their pad byte), requires a 16-bit PCM `fmt ` before `data`, and returns the
//! format and the interleaved samples. Malformed input is an error naming what is wrong,
//! never a panic; bytes after the RIFF chunk are ignored.

use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;

use thiserror::Error;

/// Bytes of the header [`WavWriter`] writes before the samples.
pub const HEADER_BYTES: u64 = 44;

/// The `fmt ` format tag of integer PCM.
const FORMAT_PCM: u16 = 1;
/// Bits per sample, the only sample size written or read.
const BITS_PER_SAMPLE: u16 = 16;
/// The most data a 32-bit RIFF size can describe: it counts 36 header bytes too.
const MAX_DATA_BYTES: u64 = 0xFFFF_FFFF - 36;
/// Samples converted to bytes per `write_all`.
const CHUNK_SAMPLES: usize = 2048;

/// Why a WAV file could not be written or read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum WavError {
    /// The underlying writer (or file) failed.
    #[error("WAV I/O: {0}")]
    Io(#[from] io::Error),
    /// A format outside what is written or read here (16-bit integer PCM; mono or stereo
    /// for the writer); the text says which.
    #[error("unsupported WAV format: {0}")]
    Unsupported(&'static str),
    /// Samples that do not make whole frames (one sample per channel).
    #[error("{samples} samples are not whole frames of {channels} channels")]
    PartialFrame {
        /// Samples offered.
        samples: usize,
        /// Channels of the file.
        channels: u16,
    },
    /// The data would pass the 4 GiB a RIFF size can describe; nothing was written.
    #[error("WAV data would exceed the 4 GiB RIFF limit")]
    TooLong,
    /// The bytes are not a well-formed WAV file; the text says where they go wrong.
    #[error("malformed WAV: {0}")]
    Malformed(&'static str),
}

/// Channels and rate of a 16-bit PCM WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    /// Channels, interleaved in each frame (1 mono, 2 stereo: left then right).
    pub channels: u16,
    /// Frames per second: 8000 for G.711 calls, 48000 for browser calls.
    pub sample_rate_hz: u32,
}

impl WavSpec {
    /// One channel at `sample_rate_hz`.
    pub const fn mono(sample_rate_hz: u32) -> Self {
        Self {
            channels: 1,
            sample_rate_hz,
        }
    }

    /// Two channels (left, right) at `sample_rate_hz`.
    pub const fn stereo(sample_rate_hz: u32) -> Self {
        Self {
            channels: 2,
            sample_rate_hz,
        }
    }

    /// Bytes of one frame (one sample of each channel).
    pub fn block_align_bytes(self) -> u32 {
        u32::from(self.channels) * u32::from(BITS_PER_SAMPLE / 8)
    }

    /// Bytes per second, as the `fmt ` chunk states it.
    pub fn byte_rate(self) -> u64 {
        u64::from(self.sample_rate_hz) * u64::from(self.block_align_bytes())
    }
}

/// The 44-byte header of a file of `spec`, with both sizes 0 until
/// [`WavWriter::finish`] patches them.
fn header(spec: WavSpec) -> [u8; 44] {
    let mut h = [0u8; 44];
    h[0..4].copy_from_slice(b"RIFF");
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&spec.channels.to_le_bytes());
    h[24..28].copy_from_slice(&spec.sample_rate_hz.to_le_bytes());
    // The writer accepts mono and stereo only, so neither value can overflow.
    h[28..32].copy_from_slice(&(spec.byte_rate() as u32).to_le_bytes());
    h[32..34].copy_from_slice(&(spec.block_align_bytes() as u16).to_le_bytes());
    h[34..36].copy_from_slice(&BITS_PER_SAMPLE.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h
}

/// Writes a 16-bit PCM WAV file into `W`, header first. Without [`WavWriter::finish`]
/// the sizes stay 0 and readers refuse the file as unfinished.
///
/// After an error the file holds what earlier calls wrote; `finish` still patches the
/// sizes to count only those, so the file stays readable up to the failure (as far as
/// the writer still accepts the patch).
#[derive(Debug)]
pub struct WavWriter<W: Write + Seek> {
    inner: W,
    spec: WavSpec,
    /// Where the header starts in `inner`.
    start: u64,
    data_bytes: u64,
}

impl<W: Write + Seek> WavWriter<W> {
    /// Writes the header (sizes 0) at `inner`'s current position.
    pub fn new(mut inner: W, spec: WavSpec) -> Result<Self, WavError> {
        if !(1..=2).contains(&spec.channels) {
            return Err(WavError::Unsupported("the writer writes mono or stereo"));
        }
        if spec.sample_rate_hz == 0 {
            return Err(WavError::Unsupported("sample rate of 0 Hz"));
        }
        let start = inner.stream_position()?;
        inner.write_all(&header(spec))?;
        Ok(Self {
            inner,
            spec,
            start,
            data_bytes: 0,
        })
    }

    /// The file's format.
    pub fn spec(&self) -> WavSpec {
        self.spec
    }

    /// Bytes of samples written so far.
    pub fn data_bytes(&self) -> u64 {
        self.data_bytes
    }

    /// Bytes of the whole file so far, header included.
    pub fn bytes_written(&self) -> u64 {
        HEADER_BYTES + self.data_bytes
    }

    /// Appends interleaved samples: whole frames (a multiple of the channel count).
    /// Refuses, writing nothing, what would pass the 4 GiB limit of the format.
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), WavError> {
        if !samples
            .len()
            .is_multiple_of(usize::from(self.spec.channels))
        {
            return Err(WavError::PartialFrame {
                samples: samples.len(),
                channels: self.spec.channels,
            });
        }
        let bytes = samples.len() as u64 * 2;
        if self.data_bytes + bytes > MAX_DATA_BYTES {
            return Err(WavError::TooLong);
        }
        let mut buf = [0u8; CHUNK_SAMPLES * 2];
        for chunk in samples.chunks(CHUNK_SAMPLES) {
            for (out, sample) in buf.chunks_exact_mut(2).zip(chunk) {
                out.copy_from_slice(&sample.to_le_bytes());
            }
            self.inner.write_all(&buf[..chunk.len() * 2])?;
        }
        self.data_bytes += bytes;
        Ok(())
    }

    /// Patches the RIFF and data sizes, leaves `inner` positioned after the samples,
    /// flushes it and hands it back.
    pub fn finish(mut self) -> Result<W, WavError> {
        // `write_samples` keeps data_bytes within MAX_DATA_BYTES, so both fit in 32 bits.
        let data = self.data_bytes as u32;
        self.inner.seek(SeekFrom::Start(self.start + 4))?;
        self.inner.write_all(&(data + 36).to_le_bytes())?;
        self.inner.seek(SeekFrom::Start(self.start + 40))?;
        self.inner.write_all(&data.to_le_bytes())?;
        self.inner
            .seek(SeekFrom::Start(self.start + self.bytes_written()))?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// A WAV file's format and samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WavAudio {
    /// Channels and rate.
    pub spec: WavSpec,
    /// The samples, interleaved by channel.
    pub samples: Vec<i16>,
}

impl WavAudio {
    /// Frames in the file: samples per channel.
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.spec.channels.max(1))
    }

    /// The samples of channel `index` (0 is left); empty if there is no such channel.
    pub fn channel(&self, index: usize) -> Vec<i16> {
        let channels = usize::from(self.spec.channels);
        if index >= channels {
            return Vec::new();
        }
        self.samples
            .iter()
            .skip(index)
            .step_by(channels)
            .copied()
            .collect()
    }
}

/// Reads the file at `path` with [`read_wav`].
pub fn read_wav_file(path: &Path) -> Result<WavAudio, WavError> {
    read_wav(&std::fs::read(path)?)
}

/// Parses a 16-bit PCM WAV file (see the module documentation for what is checked).
pub fn read_wav(bytes: &[u8]) -> Result<WavAudio, WavError> {
    let riff = bytes
        .get(..12)
        .ok_or(WavError::Malformed("shorter than a RIFF header"))?;
    if &riff[0..4] != b"RIFF" {
        return Err(WavError::Malformed("no RIFF magic"));
    }
    if &riff[8..12] != b"WAVE" {
        return Err(WavError::Malformed("a RIFF file but not WAVE"));
    }
    let riff_bytes = u64::from(le_u32(riff, 4));
    if riff_bytes < 4 {
        return Err(WavError::Malformed(
            "RIFF size below 4: an unfinished file (placeholder sizes)",
        ));
    }
    let riff_end = 8 + riff_bytes;
    if riff_end > bytes.len() as u64 {
        return Err(WavError::Malformed(
            "RIFF size runs past the end of the bytes (truncated)",
        ));
    }
    // riff_end <= bytes.len(), so it fits in usize.
    let body = &bytes[12..riff_end as usize];
    let mut spec: Option<WavSpec> = None;
    let mut pos = 0usize;
    loop {
        if pos == body.len() {
            return Err(WavError::Malformed("no data chunk"));
        }
        let chunk = body
            .get(pos..pos + 8)
            .ok_or(WavError::Malformed("truncated chunk header"))?;
        let size = le_u32(chunk, 4) as usize;
        let content = body
            .get(pos + 8..)
            .and_then(|rest| rest.get(..size))
            .ok_or(WavError::Malformed("a chunk runs past the RIFF size"))?;
        match &chunk[0..4] {
            b"fmt " if spec.is_some() => return Err(WavError::Malformed("two fmt chunks")),
            b"fmt " => spec = Some(parse_fmt(content)?),
            b"data" => {
                let spec = spec.ok_or(WavError::Malformed("data chunk before the fmt chunk"))?;
                if !(content.len() as u64).is_multiple_of(u64::from(spec.block_align_bytes())) {
                    return Err(WavError::Malformed("data is not a whole number of frames"));
                }
                let samples = content
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                return Ok(WavAudio { spec, samples });
            }
            _ => {}
        }
        // Chunks are padded to an even size; tolerate a missing pad at the very end.
        pos = (pos + 8 + size + (size & 1)).min(body.len());
    }
}

/// Reads the `fmt ` chunk of a 16-bit integer PCM file.
fn parse_fmt(content: &[u8]) -> Result<WavSpec, WavError> {
    if content.len() < 16 {
        return Err(WavError::Malformed("fmt chunk shorter than 16 bytes"));
    }
    if le_u16(content, 0) != FORMAT_PCM {
        return Err(WavError::Unsupported("format tag is not integer PCM (1)"));
    }
    let spec = WavSpec {
        channels: le_u16(content, 2),
        sample_rate_hz: le_u32(content, 4),
    };
    if spec.channels == 0 {
        return Err(WavError::Malformed("zero channels"));
    }
    if spec.sample_rate_hz == 0 {
        return Err(WavError::Malformed("sample rate of 0 Hz"));
    }
    if le_u16(content, 14) != BITS_PER_SAMPLE {
        return Err(WavError::Unsupported("samples are not 16 bits"));
    }
    if u32::from(le_u16(content, 12)) != spec.block_align_bytes() {
        return Err(WavError::Malformed(
            "block align does not match the channels",
        ));
    }
    if u64::from(le_u32(content, 8)) != spec.byte_rate() {
        return Err(WavError::Malformed(
            "byte rate does not match the rate and block align",
        ));
    }
    Ok(spec)
}

/// The little-endian `u16` at `at`; callers have checked the length.
fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// The little-endian `u32` at `at`; callers have checked the length.
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests;
