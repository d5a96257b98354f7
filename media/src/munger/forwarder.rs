//! The forward-or-drop decision for one subscriber's copy of a track.

/// Which incoming SSRC the subscriber should hear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourcePolicy {
    /// Only this SSRC (the room selected a publisher, e.g. the active speaker).
    Pinned(u32),
    /// Whatever SSRC the publisher uses now: a new one replaces the current one (a
    /// renegotiation or a carrier's re-INVITE), and replaced SSRCs are not heard again.
    Latest,
}

/// How a forwarded packet relates to the previous one sent to the subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// Same source, no pause: keep the offsets.
    Continue,
    /// The first packet of a different source (or the very first packet).
    NewSource,
    /// The same source after the subscriber was muted or held.
    Resume,
}

/// Why a packet is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The subscriber is muted or on hold.
    Muted,
    /// The packet's SSRC is not the pinned one.
    NotSelected,
    /// The packet's SSRC was replaced by a newer one.
    RetiredSource,
}

/// The decision for one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardDecision {
    /// Forward it; the munger needs to know how it continues the stream.
    Forward(Continuity),
    /// Drop it.
    Drop(DropReason),
}

/// How many replaced SSRCs are remembered (and dropped) under [`SourcePolicy::Latest`].
const RETIRED: usize = 4;

/// Decides, per packet, whether a subscriber gets it. See the module docs.
#[derive(Debug, Clone)]
pub struct Forwarder {
    policy: SourcePolicy,
    current: Option<u32>,
    retired: [Option<u32>; RETIRED],
    next_retired: usize,
    muted: bool,
    resume_pending: bool,
}

impl Forwarder {
    /// A forwarder with the given source policy, unmuted.
    pub fn new(policy: SourcePolicy) -> Self {
        Self {
            policy,
            current: None,
            retired: [None; RETIRED],
            next_retired: 0,
            muted: false,
            resume_pending: false,
        }
    }

    /// Changes which source is heard; the next packet of the new source is a
    /// [`Continuity::NewSource`].
    pub fn set_policy(&mut self, policy: SourcePolicy) {
        self.policy = policy;
    }

    /// Mutes (or holds) the subscriber, or unmutes it. After an unmute the next packet
    /// forwarded is a [`Continuity::Resume`].
    pub fn set_muted(&mut self, muted: bool) {
        if muted && !self.muted && self.current.is_some() {
            self.resume_pending = true;
        }
        self.muted = muted;
    }

    /// Whether the subscriber is muted or held.
    pub fn is_muted(&self) -> bool {
        self.muted
    }

    /// The SSRC last forwarded.
    pub fn current_source(&self) -> Option<u32> {
        self.current
    }

    /// Decides for a packet from `ssrc`.
    pub fn decide(&mut self, ssrc: u32) -> ForwardDecision {
        match self.policy {
            SourcePolicy::Pinned(pinned) if pinned != ssrc => {
                return ForwardDecision::Drop(DropReason::NotSelected);
            }
            SourcePolicy::Latest
                if self.current != Some(ssrc) && self.retired.contains(&Some(ssrc)) =>
            {
                return ForwardDecision::Drop(DropReason::RetiredSource);
            }
            _ => {}
        }
        if self.muted {
            return ForwardDecision::Drop(DropReason::Muted);
        }
        if self.current != Some(ssrc) {
            if let Some(old) = self.current.replace(ssrc) {
                self.retired[self.next_retired] = Some(old);
                self.next_retired = (self.next_retired + 1) % RETIRED;
            }
            self.retired
                .iter_mut()
                .filter(|r| **r == Some(ssrc))
                .for_each(|r| *r = None);
            self.resume_pending = false;
            return ForwardDecision::Forward(Continuity::NewSource);
        }
        if self.resume_pending {
            self.resume_pending = false;
            return ForwardDecision::Forward(Continuity::Resume);
        }
        ForwardDecision::Forward(Continuity::Continue)
    }
}
