//! What one subscriber receives from its room, as one continuous stream: a
//! [`Forwarder`] decides which frames go out (those of the member it hears, or of its
//! mix; none while it hears nobody) and a [`Munger`] places each on the subscriber's
//! timeline, which becomes the `rtp_time` written to str0m.
//!
//! str0m gives every frame written the next sequence number, so only the RTP time needs
//! carrying across a change: the munger keeps a source's own spacing (its losses and
//! DTX pauses included), and at a new source or after a pause jumps by the wall time
//! elapsed, with the marker bit set. Sources are keyed by a number the room gives each
//! member; the subscriber's mix is [`MIX_SOURCE`], numbered by the frames it makes.

use std::time::Instant;

use crate::munger::{ForwardDecision, Forwarder, Munger, MungerConfig, SourcePacket, SourcePolicy};
use crate::rtp::TimestampUnwrapper;

/// The source key of a subscriber's own mix; members are numbered from 1.
pub(super) const MIX_SOURCE: u32 = 0;

/// What a subscriber hears, as the room planned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// Nobody: nothing is sent.
    Silent,
    /// One member, by its source key: its frames, unchanged.
    Forward(u32),
    /// These members (a set of member indices), mixed for this subscriber.
    Mix(u64),
}

/// Where a frame goes on the subscriber's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Placed {
    /// The `rtp_time` to write, in the frame's clock.
    pub(super) rtp_time: u64,
    /// Set the marker bit: the stream continues from another source or a pause.
    pub(super) start_of_talkspurt: bool,
}

/// One subscriber's stream. See the module docs.
#[derive(Debug, Clone)]
pub(super) struct DownTrack {
    forwarder: Forwarder,
    munger: Munger,
    clock_rate_hz: u32,
    /// The munger's 32-bit output timestamps, unwrapped into `rtp_time`.
    out_time: TimestampUnwrapper,
    /// Numbering of the frames of this subscriber's mix.
    mix_seq: u16,
    mix_time: u32,
}

impl DownTrack {
    /// A stream that has sent nothing and hears nobody, in `clock_rate_hz`.
    pub(super) fn new(clock_rate_hz: u32) -> Self {
        let mut forwarder = Forwarder::new(SourcePolicy::Pinned(MIX_SOURCE));
        forwarder.set_muted(true);
        Self {
            forwarder,
            munger: munger(clock_rate_hz),
            clock_rate_hz,
            out_time: TimestampUnwrapper::new(),
            mix_seq: 0,
            mix_time: 0,
        }
    }

    /// Follows a new route from the next frame on.
    pub(super) fn set_route(&mut self, route: Route) {
        match route {
            Route::Silent => self.forwarder.set_muted(true),
            Route::Forward(source) => {
                self.forwarder.set_policy(SourcePolicy::Pinned(source));
                self.forwarder.set_muted(false);
            }
            Route::Mix(_) => {
                self.forwarder.set_policy(SourcePolicy::Pinned(MIX_SOURCE));
                self.forwarder.set_muted(false);
            }
        }
    }

    /// Places a frame from member `source` (its unwrapped sequence number and RTP time
    /// in `clock_rate_hz`), or `None` when the subscriber does not get it.
    pub(super) fn forward(
        &mut self,
        now: Instant,
        source: u32,
        ext_seq: u64,
        rtp_time: u64,
        clock_rate_hz: u32,
    ) -> Option<Placed> {
        let ForwardDecision::Forward(continuity) = self.forwarder.decide(source) else {
            return None;
        };
        if clock_rate_hz != self.clock_rate_hz {
            // A codec of another clock (a browser that renegotiated): a new timeline.
            self.clock_rate_hz = clock_rate_hz;
            self.munger = munger(clock_rate_hz);
            self.out_time = TimestampUnwrapper::new();
        }
        let packet = SourcePacket {
            sequence_number: ext_seq as u16,
            timestamp: rtp_time as u32,
            marker: false,
        };
        let munged = self.munger.munge(now, packet, continuity).ok()?;
        Some(Placed {
            rtp_time: self.out_time.unwrap(munged.timestamp)?,
            start_of_talkspurt: munged.marker,
        })
    }

    /// Places the next 20 ms frame of this subscriber's mix (at [`super::MIX_RATE_HZ`]),
    /// or `None` when the subscriber does not hear its mix now.
    pub(super) fn mixed(&mut self, now: Instant) -> Option<Placed> {
        self.mix_seq = self.mix_seq.wrapping_add(1);
        self.mix_time = self.mix_time.wrapping_add(super::MIX_FRAME as u32);
        self.forward(
            now,
            MIX_SOURCE,
            u64::from(self.mix_seq),
            u64::from(self.mix_time),
            super::MIX_RATE_HZ,
        )
    }
}

fn munger(clock_rate_hz: u32) -> Munger {
    // The SSRC and sequence numbers are str0m's. str0m 0.25 sends the timeline as it is
    // (it adds no random offset, despite RFC 3550 5.1's advice): a random origin per
    // downtrack is still to do.
    Munger::new(MungerConfig {
        ssrc: 0,
        clock_rate_hz,
        initial_sequence_number: 0,
        initial_timestamp: 0,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const FRAME: u64 = 960;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_forwarded_source_keeps_its_own_spacing() {
        let t0 = Instant::now();
        let mut track = DownTrack::new(48_000);
        track.set_route(Route::Forward(1));
        let first = track.forward(t0, 1, 500, 90_000, 48_000).unwrap();
        assert!(first.start_of_talkspurt);
        // A loss (seq 501) and a DTX pause stay what they were.
        let next = track.forward(t0 + ms(40), 1, 502, 90_000 + 2 * FRAME, 48_000);
        assert_eq!(next.unwrap().rtp_time, first.rtp_time + 2 * FRAME);
        let after_dtx = track
            .forward(t0 + ms(400), 1, 503, 90_000 + 20 * FRAME, 48_000)
            .unwrap();
        assert_eq!(after_dtx.rtp_time, first.rtp_time + 20 * FRAME);
        assert!(!after_dtx.start_of_talkspurt);
        // Another member's frames are not this subscriber's.
        assert_eq!(track.forward(t0 + ms(400), 2, 7, 7, 48_000), None);
    }

    #[test]
    fn forward_to_mix_and_back_is_one_timeline_that_follows_the_wall_clock() {
        let t0 = Instant::now();
        let mut track = DownTrack::new(48_000);
        track.set_route(Route::Forward(1));
        let mut last = None;
        for k in 0..10u64 {
            last = track.forward(t0 + ms(20 * k), 1, k, 1_000_000 + FRAME * k, 48_000);
        }
        let last = last.unwrap();
        // The room starts mixing; the first mixed frame goes out 30 ms after the last
        // forwarded one, and frames of member 1 no longer go out directly.
        track.set_route(Route::Mix(0b11));
        assert_eq!(
            track.forward(t0 + ms(200), 1, 10, 1_000_000 + FRAME * 10, 48_000),
            None
        );
        let m0 = track.mixed(t0 + ms(210)).unwrap();
        assert_eq!(m0.rtp_time, last.rtp_time + 30 * 48);
        assert!(m0.start_of_talkspurt);
        let m1 = track.mixed(t0 + ms(230)).unwrap();
        assert_eq!(m1.rtp_time, m0.rtp_time + FRAME);
        assert!(!m1.start_of_talkspurt);
        // Back to forwarding, 25 ms after the last mixed frame.
        track.set_route(Route::Forward(1));
        assert_eq!(track.mixed(t0 + ms(250)), None);
        let back = track
            .forward(t0 + ms(255), 1, 13, 1_000_000 + FRAME * 13, 48_000)
            .unwrap();
        assert_eq!(back.rtp_time, m1.rtp_time + 25 * 48);
        assert!(back.start_of_talkspurt);
    }

    #[test]
    fn silence_pauses_the_stream_and_it_resumes_after_the_time_it_was_silent() {
        let t0 = Instant::now();
        let mut track = DownTrack::new(48_000);
        assert_eq!(track.forward(t0, 1, 0, 0, 48_000), None, "hears nobody yet");
        track.set_route(Route::Forward(1));
        let a = track.forward(t0, 1, 0, 0, 48_000).unwrap();
        track.set_route(Route::Silent);
        assert_eq!(track.forward(t0 + ms(20), 1, 1, FRAME, 48_000), None);
        assert_eq!(track.mixed(t0 + ms(20)), None);
        track.set_route(Route::Forward(1));
        let b = track
            .forward(t0 + ms(3000), 1, 150, 150 * FRAME, 48_000)
            .unwrap();
        assert_eq!(b.rtp_time, a.rtp_time + 3000 * 48);
        assert!(b.start_of_talkspurt);
    }

    #[test]
    fn a_source_timestamp_that_wraps_32_bits_stays_continuous() {
        let t0 = Instant::now();
        let mut track = DownTrack::new(48_000);
        track.set_route(Route::Forward(1));
        let start = u64::from(u32::MAX) - 2 * FRAME;
        let first = track.forward(t0, 1, 0, start, 48_000).unwrap();
        for k in 1..6u64 {
            let placed = track
                .forward(t0 + ms(20 * k), 1, k, start + k * FRAME, 48_000)
                .unwrap();
            assert_eq!(placed.rtp_time, first.rtp_time + k * FRAME);
        }
    }
}
