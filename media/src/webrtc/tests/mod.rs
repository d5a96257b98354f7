//! Deterministic tests of the [`super::MediaCore`] against str0m clients standing in
//! for browsers, over the simulated network of [`harness`].

mod dtmf;
pub(crate) mod harness;
mod hostile;
mod session;

use std::collections::HashSet;

use harness::{frame, parse_frame, World, FRAME_INTERVAL, FRAME_TICKS};

// The harness names the library's types through this module (see its docs).
use super::{AudioCodec, MediaCore, MediaError, MediaEvent, PeerId, Transmit, WebRtcConfig};
use crate::sfu::Sfu;

/// The tag in the frames a client sends, and in those the core sends to it.
fn client_tag(client: usize) -> u8 {
    1 + client as u8
}
fn core_tag(client: usize) -> u8 {
    101 + client as u8
}

/// Both ways, `frames` frames of 20 ms per (client, peer) pair, then time to land.
fn stream(world: &mut World, pairs: &[(usize, PeerId)], frames: u32) {
    stream_from(world, pairs, 0, frames);
}

/// [`stream`] from frame `first` on (RTP time and frame numbers go on from there).
fn stream_from(world: &mut World, pairs: &[(usize, PeerId)], first: u32, frames: u32) {
    let t0 = world.now;
    for k in first..first + frames {
        world.run_until(t0 + FRAME_INTERVAL * (k - first));
        let now = world.now;
        let rtp_time = u64::from(k) * FRAME_TICKS;
        for &(c, peer) in pairs {
            let payload = frame(client_tag(c), k);
            world.clients[c].send_opus(now, &mut world.net, rtp_time, &payload);
            world
                .core
                .write_audio(now, peer, AudioCodec::Opus, rtp_time, frame(core_tag(c), k))
                .unwrap();
            world.flush();
        }
    }
    world.run_for(FRAME_INTERVAL * 20);
}

/// What a receiver got from one sender: checks that every frame is one that sender
/// sent, unchanged, at the RTP time it was sent at (one constant offset, as the
/// sender's random RTP origin), with no duplicates. Returns the frame indices in
/// arrival order.
fn check_frames<'a>(received: impl Iterator<Item = (u64, &'a [u8])>, tag: u8) -> Vec<u32> {
    let mut origin = None;
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for (rtp_time, payload) in received {
        let (sender, k) = parse_frame(payload);
        assert_eq!(sender, tag, "a frame from another sender");
        assert_eq!(payload, frame(tag, k).as_slice(), "frame {k} altered");
        let at = rtp_time.wrapping_sub(u64::from(k) * FRAME_TICKS);
        assert_eq!(
            *origin.get_or_insert(at),
            at,
            "frame {k} at the wrong RTP time"
        );
        assert!(seen.insert(k), "frame {k} delivered twice");
        order.push(k);
    }
    order
}

/// The frames the core got from client `c` over `peer`.
fn core_received(world: &World, peer: PeerId, c: usize) -> Vec<u32> {
    let audio = world.audio_from(peer);
    check_frames(
        audio.iter().map(|(_, t, _, p)| (*t, p.as_ref())),
        client_tag(c),
    )
}

/// The frames client `c` got from the core.
fn client_received(world: &World, c: usize) -> Vec<u32> {
    check_frames(
        world.clients[c]
            .media()
            .filter(|d| d.params.spec().codec == str0m::format::Codec::Opus)
            .map(|d| (d.time.numer(), d.data.as_ref())),
        core_tag(c),
    )
}

/// Asserts `order` is exactly 0..frames, in order.
fn assert_all_in_order(order: &[u32], frames: u32, what: &str) {
    assert_eq!(order, (0..frames).collect::<Vec<_>>(), "{what}");
}
