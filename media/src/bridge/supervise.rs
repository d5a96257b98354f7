//! A supervisor on a bridged call: who hears whom between the agent (the browser), the
//! customer (the carrier leg) and the supervisor (a second browser), mixed at 8 kHz.
//!
//! | mode | supervisor hears | agent hears | customer hears |
//! |---|---|---|---|
//! | [`BridgeMode::Listen`] | agent + customer | customer | agent |
//! | [`BridgeMode::Whisper`] | agent + customer | customer + supervisor | agent |
//! | [`BridgeMode::Barge`] | agent + customer | customer + supervisor | agent + supervisor |
//!
//! Why 8 kHz: the customer's side is G.711, so a mix at 48 kHz would only carry the
//! supervisor's own voice in fullband; each path already decodes to 8 kHz PCM between
//! its jitter buffer and its encoder ([`super::Transcoder::process_edited`]), so the
//! mix is an addition on a frame that exists anyway, plus one narrowband Opus decode
//! (the supervisor's voice) and one encode (what the supervisor hears) per 20 ms.
//!
//! ## Pacing
//! The agent's and the customer's frames come out of their own jitter buffers on their
//! own clocks, so the mix never waits for a frame: the two main paths keep their pace,
//! and the supervisor's voice is *added* to a main path's frame if one is queued for it
//! (nothing is added otherwise). What the supervisor hears is made when a frame of both
//! sides is there, or from one side alone once it is [`STALL_FRAMES`] ahead (the other
//! side went quiet: a muted browser, a carrier that stopped sending). Each queue holds
//! at most [`QUEUE_FRAMES`] frames and drops its oldest beyond that (counted), so
//! nothing builds delay: a stalled path costs at most 60 ms of latency, not a backlog.
//!
//! Sans-IO and allocation-free after construction.

use super::FRAME;

/// Frames each queue holds before it drops its oldest: 80 ms.
pub const QUEUE_FRAMES: usize = 4;
/// Frames one side may be ahead of the other before the supervisor hears it alone.
pub const STALL_FRAMES: usize = 3;

/// What a supervisor on a bridged call does (the table in the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BridgeMode {
    /// Hears both sides, heard by nobody.
    #[default]
    Listen,
    /// Heard by the agent (the browser) only: coaching.
    Whisper,
    /// Heard by both sides.
    Barge,
}

/// A ring of whole 20 ms frames that drops its oldest when full.
#[derive(Debug, Clone)]
struct FrameQueue {
    frames: [[i16; FRAME]; QUEUE_FRAMES],
    head: usize,
    len: usize,
    dropped: u64,
}

impl FrameQueue {
    fn new() -> Self {
        Self {
            frames: [[0; FRAME]; QUEUE_FRAMES],
            head: 0,
            len: 0,
            dropped: 0,
        }
    }

    /// Queues `pcm` as frames of [`FRAME`] samples (a short tail is padded with
    /// silence).
    fn push(&mut self, pcm: &[i16]) {
        for chunk in pcm.chunks(FRAME) {
            if self.len == QUEUE_FRAMES {
                self.head = (self.head + 1) % QUEUE_FRAMES;
                self.len -= 1;
                self.dropped += 1;
            }
            let slot = &mut self.frames[(self.head + self.len) % QUEUE_FRAMES];
            slot[..chunk.len()].copy_from_slice(chunk);
            slot[chunk.len()..].fill(0);
            self.len += 1;
        }
    }

    fn pop(&mut self) -> Option<&[i16; FRAME]> {
        if self.len == 0 {
            return None;
        }
        let at = self.head;
        self.head = (self.head + 1) % QUEUE_FRAMES;
        self.len -= 1;
        Some(&self.frames[at])
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

/// Adds `add` to `pcm`, sample by sample, saturating to 16 bits.
fn add_into(pcm: &mut [i16], add: &[i16]) {
    for (s, &a) in pcm.iter_mut().zip(add) {
        *s = s.saturating_add(a);
    }
}

/// The three-party mix of one supervised bridged call (see the module docs).
#[derive(Debug, Clone)]
pub struct SupervisorMix {
    mode: BridgeMode,
    /// The agent's voice, for the supervisor.
    agent: FrameQueue,
    /// The customer's voice, for the supervisor.
    customer: FrameQueue,
    /// The supervisor's voice, for the agent's path (whisper, barge).
    to_agent: FrameQueue,
    /// The supervisor's voice, for the customer's path (barge).
    to_customer: FrameQueue,
}

impl SupervisorMix {
    /// A supervisor who starts in `mode`.
    pub fn new(mode: BridgeMode) -> Self {
        Self {
            mode,
            agent: FrameQueue::new(),
            customer: FrameQueue::new(),
            to_agent: FrameQueue::new(),
            to_customer: FrameQueue::new(),
        }
    }

    /// The mode now.
    pub fn mode(&self) -> BridgeMode {
        self.mode
    }

    /// Changes the mode; the supervisor's voice queued for a side that no longer hears
    /// it is dropped at once.
    pub fn set_mode(&mut self, mode: BridgeMode) {
        self.mode = mode;
        if mode == BridgeMode::Listen {
            self.to_agent.clear();
        }
        if mode != BridgeMode::Barge {
            self.to_customer.clear();
        }
    }

    /// A frame of the agent's voice on its way to the customer (decoded, before it is
    /// encoded as G.711): kept for the supervisor, and in barge the supervisor's voice
    /// is added to it.
    pub fn toward_customer(&mut self, pcm: &mut [i16]) {
        self.agent.push(pcm);
        if self.mode == BridgeMode::Barge {
            self.add_from(Side::Customer, pcm);
        }
    }

    /// A frame of the customer's voice on its way to the agent: kept for the
    /// supervisor, and in whisper and barge the supervisor's voice is added to it.
    pub fn toward_agent(&mut self, pcm: &mut [i16]) {
        self.customer.push(pcm);
        if self.mode != BridgeMode::Listen {
            self.add_from(Side::Agent, pcm);
        }
    }

    /// A frame of the supervisor's voice (decoded to 8 kHz): queued for whoever hears
    /// the supervisor in this mode, dropped in listen.
    pub fn from_supervisor(&mut self, pcm: &[i16]) {
        match self.mode {
            BridgeMode::Listen => {}
            BridgeMode::Whisper => self.to_agent.push(pcm),
            BridgeMode::Barge => {
                self.to_agent.push(pcm);
                self.to_customer.push(pcm);
            }
        }
    }

    /// The next frame the supervisor hears (both sides summed), if one is due: see
    /// the module docs for when.
    pub fn poll_for_supervisor(&mut self, out: &mut [i16; FRAME]) -> bool {
        let (a, c) = (self.agent.len, self.customer.len);
        let due = (a > 0 && c > 0) || a >= STALL_FRAMES || c >= STALL_FRAMES;
        if !due {
            return false;
        }
        out.fill(0);
        if let Some(frame) = self.agent.pop() {
            add_into(out, frame);
        }
        if let Some(frame) = self.customer.pop() {
            add_into(out, frame);
        }
        true
    }

    /// Frames dropped because a queue was full (a stalled path), all queues.
    pub fn dropped_frames(&self) -> u64 {
        self.agent.dropped
            + self.customer.dropped
            + self.to_agent.dropped
            + self.to_customer.dropped
    }

    fn add_from(&mut self, toward: Side, pcm: &mut [i16]) {
        let queue = match toward {
            Side::Agent => &mut self.to_agent,
            Side::Customer => &mut self.to_customer,
        };
        for chunk in pcm.chunks_mut(FRAME) {
            match queue.pop() {
                Some(frame) => add_into(chunk, frame),
                None => return,
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Side {
    Agent,
    Customer,
}

#[cfg(test)]
#[path = "supervise_tests.rs"]
mod tests;
