//! Lining the two sides of a call up on one sample timeline: the sans-IO core of the
//! recorder, tested without threads or files.

use super::Side;

/// Samples per side the ring holds beyond the reorder window: room for a frame of up to
/// 40 ms at 48 kHz (1920) before the window itself has to move.
const FRAME_ROOM: usize = 2048;
/// Frames (left-right pairs) handed to the sink per call.
const CHUNK_FRAMES: usize = 1024;

/// Counters of an [`Interleaver`] since construction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterleaverStats {
    /// Frames pushed, whatever became of them.
    pub frames: u64,
    /// Frames dropped whole: every sample of theirs had been written already.
    pub late_frames: u64,
    /// Samples dropped because their position had been written already: those of the
    /// late frames and the late heads of frames that straddle the write position.
    pub late_samples: u64,
    /// Frames that began before the end of what their side had sent so far (out of
    /// order, or overlapping) and were mixed in where they belong.
    pub reordered_frames: u64,
    /// Samples dropped for lying past the recording's length limit.
    pub beyond_limit_samples: u64,
}

/// Aligns the left and right sides of a recording on one timeline and emits it as
/// interleaved stereo (left, right, left, ..).
///
/// Each frame comes with its position: samples since the recording started, per side.
/// The interleaver holds samples back for `window_samples` behind the most advanced
/// side, so that a side running a little behind the other, or a frame arriving out of
/// order, still lands in place; then it emits them to the sink and they are final.
///
/// - A gap in a side (loss, DTX, a side that stopped sending) is silence on its channel;
///   the other side keeps the timeline moving.
/// - A frame at or after the write position is mixed into its place (saturating sum),
///   so a frame filling a gap lands in silence and frames that overlap add up, as a
///   mixer would. Counted in [`InterleaverStats::reordered_frames`] when it starts
///   before its side's end.
/// - Samples before the write position are dropped and counted (`late_*`).
/// - Samples at or past `max_samples` are dropped and counted: a wild position (a bad
///   timestamp mapping) cannot make the file grow past the limit. A jump forward within
///   it is written as silence, in chunks, without buffering the gap.
///
/// The sink gets interleaved chunks of at most 1024 frames, in order, each exactly once.
/// If it fails, the error is returned and the chunk counts as written: the caller is
/// expected to stop.
///
/// Memory: two rings of `window_samples + 2048` samples and one chunk, allocated here;
/// nothing is allocated afterwards.
#[derive(Debug, Clone)]
pub struct Interleaver {
    /// Per side (indexed by [`Side::index`]), the samples of positions
    /// `written..written + ring length`, at `position % ring length`; 0 where nothing
    /// has landed, and reset to 0 when emitted.
    rings: [Box<[i16]>; 2],
    /// Per side, the end of the furthest frame pushed.
    ends: [u64; 2],
    /// Positions before this have gone to the sink.
    written: u64,
    window: u64,
    limit: u64,
    chunk: Box<[i16]>,
    stats: InterleaverStats,
}

impl Interleaver {
    /// An interleaver that holds samples back for `window_samples` behind the most
    /// advanced side, and ends the timeline at `max_samples` per channel.
    pub fn new(window_samples: usize, max_samples: u64) -> Self {
        let ring = window_samples + FRAME_ROOM;
        Self {
            rings: [vec![0; ring].into(), vec![0; ring].into()],
            ends: [0; 2],
            written: 0,
            window: window_samples as u64,
            limit: max_samples,
            chunk: vec![0; 2 * CHUNK_FRAMES].into(),
            stats: InterleaverStats::default(),
        }
    }

    /// Samples per channel emitted so far: the write position.
    pub fn written_samples(&self) -> u64 {
        self.written
    }

    /// The end of the timeline so far (the furthest end of either side): where
    /// [`Interleaver::flush`] brings the write position.
    pub fn end_samples(&self) -> u64 {
        self.ends[0].max(self.ends[1])
    }

    /// Counters.
    pub fn stats(&self) -> InterleaverStats {
        self.stats
    }

    /// Takes one frame of `side` starting at `position`, and emits to `sink` what is
    /// now more than the window behind the most advanced side.
    pub fn push<E>(
        &mut self,
        side: Side,
        position: u64,
        pcm: &[i16],
        sink: &mut impl FnMut(&[i16]) -> Result<(), E>,
    ) -> Result<(), E> {
        self.stats.frames += 1;
        let (mut position, mut pcm) = (position, pcm);
        if position < self.written {
            let late = (self.written - position).min(pcm.len() as u64);
            self.stats.late_samples += late;
            if late == pcm.len() as u64 {
                self.stats.late_frames += 1;
                return Ok(());
            }
            pcm = &pcm[late as usize..];
            position = self.written;
        }
        let room = self.limit.saturating_sub(position).min(pcm.len() as u64);
        self.stats.beyond_limit_samples += pcm.len() as u64 - room;
        pcm = &pcm[..room as usize];
        if pcm.is_empty() {
            return Ok(());
        }
        let s = side.index();
        if position < self.ends[s] {
            self.stats.reordered_frames += 1;
        }
        let ring_len = self.rings[s].len();
        for (piece, start) in pcm.chunks(ring_len).zip((position..).step_by(ring_len)) {
            let end = start + piece.len() as u64;
            // Free the ring for this piece: only positions before `start` are emitted.
            self.advance(end.saturating_sub(ring_len as u64), sink)?;
            let ring = &mut self.rings[s];
            let mut slot = (start % ring_len as u64) as usize;
            for &sample in piece {
                ring[slot] = ring[slot].saturating_add(sample);
                slot += 1;
                if slot == ring_len {
                    slot = 0;
                }
            }
            self.ends[s] = self.ends[s].max(end);
        }
        self.advance(self.end_samples().saturating_sub(self.window), sink)
    }

    /// Emits everything held back, up to [`Interleaver::end_samples`] (the end of a
    /// recording). Frames pushed afterwards are late where they fall before that.
    pub fn flush<E>(&mut self, sink: &mut impl FnMut(&[i16]) -> Result<(), E>) -> Result<(), E> {
        self.advance(self.end_samples(), sink)
    }

    /// Emits positions `written..target` (silence where nothing landed).
    fn advance<E>(
        &mut self,
        target: u64,
        sink: &mut impl FnMut(&[i16]) -> Result<(), E>,
    ) -> Result<(), E> {
        let [left, right] = &mut self.rings;
        let ring_len = left.len();
        while self.written < target {
            let frames = (target - self.written).min(CHUNK_FRAMES as u64) as usize;
            let mut slot = (self.written % ring_len as u64) as usize;
            for pair in self.chunk.chunks_exact_mut(2).take(frames) {
                // Slots past the ring's span were emitted (and zeroed) earlier in this
                // loop, so a jump beyond the ring reads silence here.
                pair[0] = std::mem::take(&mut left[slot]);
                pair[1] = std::mem::take(&mut right[slot]);
                slot += 1;
                if slot == ring_len {
                    slot = 0;
                }
            }
            self.written += frames as u64;
            sink(&self.chunk[..2 * frames])?;
        }
        Ok(())
    }
}
