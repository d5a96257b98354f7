//! The RTP relay: one tokio task per anchored call, owning the call's two UDP sockets
//! (origin-facing and carrier-facing), started, told and stopped by the commands the
//! SIP calls emit ([`MediaCommand`]); all tasks live in one [`JoinSet`] that ends with
//! the SIP shell.
//!
//! Per side: symmetric RTP (we send to the source address we actually saw from that
//! side; until it has sent, to the address in its SDP; a new SDP from that side, as on
//! a carrier failover, re-arms the latch), and toward each side one continuous stream
//! ([`continuity::Continuity`]: our SSRC stays, sequence numbers and timestamps carry on
//! across a change of the sending source). The per-packet path reuses one buffer per
//! socket and does not allocate. Counters are atomics read by `/healthz`.
//!
//! When the carrier answered with the other G.711 law than the origin's, packets of
//! that law are transcoded in place both ways ([`transcode::G711Bridge`]).
//!
//! DTMF (RFC 4733 telephone-event) is relayed as the RTP it is, its payload type
//! rewritten when the two sides negotiated different ones ([`EventPts`]); durations,
//! end bits and the redundant end packets pass through, and stay in step with the
//! audio because both ride the same continuity rewrite.
//!
//! Not yet: RTCP (port+1 is neither bound nor relayed; `a=rtcp` is dropped from the
//! SDP we forward); DTMF toward a side without telephone-event (no in-band tones).

mod continuity;
mod transcode;

use crate::call::media::{Anchor, EventPts, MediaNews, MediaSide};
use crate::sip::calls::MediaCommand;
use continuity::Continuity;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::Instrument;
use transcode::G711Bridge;

/// Relay counters (all calls).
#[derive(Debug, Default)]
pub struct RelayStats {
    /// RTP packets received from origins and sent to carriers.
    pub origin_to_carrier: AtomicU64,
    /// RTP packets received from carriers and sent to origins.
    pub carrier_to_origin: AtomicU64,
    /// Packets transcoded between PCMU and PCMA (both directions).
    pub transcoded: AtomicU64,
    /// Datagrams dropped: not RTP, or the other side's address is not known yet.
    pub dropped: AtomicU64,
    /// Relays running now.
    pub active: AtomicU64,
    /// Relays started.
    pub started: AtomicU64,
}

impl RelayStats {
    /// The counters as JSON for `/healthz`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "origin_to_carrier": self.origin_to_carrier.load(Relaxed),
            "carrier_to_origin": self.carrier_to_origin.load(Relaxed),
            "transcoded": self.transcoded.load(Relaxed),
            "dropped": self.dropped.load(Relaxed),
            "active": self.active.load(Relaxed),
            "started": self.started.load(Relaxed),
        })
    }
}

/// The relays of all calls, driven by the SIP shell's media commands.
#[derive(Debug)]
pub struct Relays {
    stats: Arc<RelayStats>,
    calls: HashMap<u64, mpsc::UnboundedSender<MediaNews>>,
    tasks: JoinSet<()>,
}

impl Relays {
    /// No relays yet; `stats` is shared with the health endpoint.
    pub fn new(stats: Arc<RelayStats>) -> Self {
        Self {
            stats,
            calls: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Applies one command (must run inside the tokio runtime).
    pub fn apply(&mut self, command: MediaCommand) {
        match command {
            MediaCommand::Open(token, anchor) => {
                let (tx, rx) = mpsc::unbounded_channel();
                self.calls.insert(token, tx);
                self.stats.started.fetch_add(1, Relaxed);
                let span = tracing::debug_span!("rtp", token = format_args!("{token:016x}"));
                self.tasks
                    .spawn(relay(anchor, rx, self.stats.clone()).instrument(span));
            }
            MediaCommand::Remote(token, news) => {
                if let Some(tx) = self.calls.get(&token) {
                    let _ = tx.send(news);
                }
            }
            // Dropping the sender ends the task, which closes the sockets.
            MediaCommand::Close(token) => drop(self.calls.remove(&token)),
        }
        while self.tasks.try_join_next().is_some() {}
    }
}

/// One side of the relay: where to send it RTP, and the stream it sees.
#[derive(Debug, Default)]
struct Side {
    sdp: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    toward: Continuity,
}

impl Side {
    fn target(&self) -> Option<SocketAddr> {
        self.latched.or(self.sdp)
    }

    fn learn(&mut self, remote: SocketAddr) {
        self.sdp = Some(remote);
        self.latched = None;
    }
}

fn bind(anchor: &Anchor, port: u16) -> std::io::Result<UdpSocket> {
    let s = std::net::UdpSocket::bind((anchor.ip, port))?;
    s.set_nonblocking(true)?;
    UdpSocket::from_std(s)
}

/// Largest RTP datagram relayed.
const MAX_RTP: usize = 2048;

async fn relay(
    anchor: Anchor,
    mut news: mpsc::UnboundedReceiver<MediaNews>,
    stats: Arc<RelayStats>,
) {
    let (origin_sock, carrier_sock) = match (
        bind(&anchor, anchor.origin_port),
        bind(&anchor, anchor.carrier_port),
    ) {
        (Ok(o), Ok(c)) => (o, c),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(?anchor, "cannot bind RTP ports, media not relayed: {e}");
            return;
        }
    };
    stats.active.fetch_add(1, Relaxed);
    let mut origin = Side::default();
    let mut carrier = Side::default();
    let mut bridge: Option<G711Bridge> = None;
    let mut events: Option<EventPts> = None;
    let mut from_origin = [0u8; MAX_RTP];
    let mut from_carrier = [0u8; MAX_RTP];
    loop {
        tokio::select! {
            n = news.recv() => match n {
                Some(MediaNews { side: MediaSide::Origin, remote, .. }) => origin.learn(remote),
                Some(MediaNews { side: MediaSide::Carrier, remote, transcode, events: pts }) => {
                    carrier.learn(remote);
                    bridge = transcode.and_then(G711Bridge::new);
                    events = pts.filter(|p| p.origin_pt != p.carrier_pt);
                }
                None => break,
            },
            r = origin_sock.recv_from(&mut from_origin) => if let Ok((n, src)) = r {
                origin.latched = Some(src);
                let packet = &mut from_origin[..n];
                transcode(&stats, bridge.as_ref(), packet, MediaSide::Carrier);
                map_events(events, packet, MediaSide::Carrier);
                let sent = forward(&mut carrier, &carrier_sock, packet).await;
                count(&stats, &stats.origin_to_carrier, sent);
            },
            r = carrier_sock.recv_from(&mut from_carrier) => if let Ok((n, src)) = r {
                carrier.latched = Some(src);
                let packet = &mut from_carrier[..n];
                transcode(&stats, bridge.as_ref(), packet, MediaSide::Origin);
                map_events(events, packet, MediaSide::Origin);
                let sent = forward(&mut origin, &origin_sock, packet).await;
                count(&stats, &stats.carrier_to_origin, sent);
            },
        }
    }
    stats.active.fetch_sub(1, Relaxed);
}

fn transcode(
    stats: &RelayStats,
    bridge: Option<&G711Bridge>,
    packet: &mut [u8],
    toward: MediaSide,
) {
    if bridge.is_some_and(|b| b.apply(packet, toward)) {
        stats.transcoded.fetch_add(1, Relaxed);
    }
}

/// RFC 4733 events toward `toward` get that side's telephone-event payload type (the
/// marker bit kept); the rest of the packet, durations and end bits included, passes
/// through untouched.
fn map_events(events: Option<EventPts>, packet: &mut [u8], toward: MediaSide) {
    let (Some(e), Some(b)) = (events, packet.get_mut(1)) else {
        return;
    };
    let (from, to) = match toward {
        MediaSide::Carrier => (e.origin_pt, e.carrier_pt),
        MediaSide::Origin => (e.carrier_pt, e.origin_pt),
    };
    if *b & 0x7f == from {
        *b = (*b & 0x80) | (to & 0x7f);
    }
}

fn count(stats: &RelayStats, relayed: &AtomicU64, sent: bool) {
    if sent {
        relayed.fetch_add(1, Relaxed);
    } else {
        stats.dropped.fetch_add(1, Relaxed);
    }
}

/// Sends `packet` to side `to` through `sock`, rewritten for its stream.
async fn forward(to: &mut Side, sock: &UdpSocket, packet: &mut [u8]) -> bool {
    let Some(addr) = to.target() else {
        return false;
    };
    if !to.toward.rewrite(packet) {
        return false;
    }
    sock.send_to(packet, addr).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telephone_events_take_the_receiving_sides_payload_type() {
        let pts = Some(EventPts {
            origin_pt: 101,
            carrier_pt: 96,
        });
        let mut event = [
            0x80,
            0x80 | 0x65,
            0,
            1,
            0,
            0,
            0,
            1,
            0,
            0,
            0,
            9,
            1,
            0x8a,
            0,
            160,
        ];
        map_events(pts, &mut event, MediaSide::Carrier);
        assert_eq!(event[1], 0x80 | 0x60, "marker kept, 101 -> 96");
        assert_eq!(
            &event[12..],
            [1, 0x8a, 0, 160],
            "the event itself untouched"
        );
        map_events(pts, &mut event, MediaSide::Origin);
        assert_eq!(event[1], 0x80 | 0x65, "and back");
        let mut audio = [0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9];
        map_events(pts, &mut audio, MediaSide::Carrier);
        assert_eq!(audio[1], 0, "audio untouched");
        map_events(None, &mut event, MediaSide::Carrier);
        assert_eq!(event[1], 0x80 | 0x65, "no mapping, no change");
    }
}
