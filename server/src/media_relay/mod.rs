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
//! RTCP is terminated per leg on our RTP port + 1 ([`rtcp`]): each side gets sender
//! reports for the stream dcx sends it (with dcx's own SSRC, which the continuity
//! rewrite puts on every packet toward it) and receiver reports about its stream; a BYE
//! ends each leg. Counters are in `/healthz` under `rtp`.
//!
//! Not yet: DTMF toward a side without telephone-event (no in-band tones).

mod continuity;
pub mod rtcp;
mod transcode;

use crate::call::media::{Anchor, EventPts, MediaNews, MediaSide};
use crate::sip::calls::MediaCommand;
use continuity::Continuity;
use rtcp::{RtcpSetup, SideRtcp};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;
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
    /// RTCP reports dcx sent (both legs).
    pub rtcp_sent: AtomicU64,
    /// RTCP reports read from the peers.
    pub rtcp_received: AtomicU64,
    /// RTCP datagrams dropped as malformed.
    pub rtcp_malformed: AtomicU64,
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
            "rtcp_sent": self.rtcp_sent.load(Relaxed),
            "rtcp_received": self.rtcp_received.load(Relaxed),
            "rtcp_malformed": self.rtcp_malformed.load(Relaxed),
        })
    }
}

/// The relays of all calls, driven by the SIP shell's media commands.
#[derive(Debug)]
pub struct Relays {
    stats: Arc<RelayStats>,
    seed: u64,
    rtcp: RtcpSetup,
    calls: HashMap<u64, mpsc::UnboundedSender<MediaNews>>,
    tasks: JoinSet<()>,
}

impl Relays {
    /// No relays yet; `stats` is shared with the health endpoint.
    pub fn new(stats: Arc<RelayStats>) -> Self {
        use std::hash::{BuildHasher, Hasher};
        Self {
            stats,
            seed: std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish(),
            rtcp: RtcpSetup::default(),
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
                let seed = dcx_routing::rng::mix(self.seed ^ token);
                let setup = (seed, self.rtcp);
                self.tasks
                    .spawn(relay(anchor, rx, self.stats.clone(), setup).instrument(span));
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

/// One side of the relay: where to send it RTP, the stream it sees, its RTCP.
#[derive(Debug)]
struct Side {
    sdp: Option<SocketAddr>,
    latched: Option<SocketAddr>,
    toward: Continuity,
    rtcp: Option<SideRtcp>,
}

impl Side {
    /// The side at our `port`, sent `ssrc`.
    fn new(anchor: &Anchor, port: u16, ssrc: u32, setup: (u64, RtcpSetup)) -> Self {
        let cname = format!("dcx@{}", anchor.ip);
        let rtcp_at = SocketAddr::new(anchor.ip, port.wrapping_add(1));
        Self {
            sdp: None,
            latched: None,
            toward: Continuity::new(ssrc),
            rtcp: SideRtcp::new(rtcp_at, ssrc, &cname, setup),
        }
    }

    fn target(&self) -> Option<SocketAddr> {
        self.latched.or(self.sdp)
    }

    /// An RTP packet arrived from this side.
    fn heard(&mut self, now: Instant, packet: &[u8]) {
        if let Some(r) = &mut self.rtcp {
            r.activate();
            r.received(now, packet);
        }
    }

    fn rtcp_in(&mut self, now: Instant, from: SocketAddr, datagram: &[u8], stats: &RelayStats) {
        if let Some(r) = &mut self.rtcp {
            r.handle(now, from, datagram, stats);
        }
    }

    async fn flush_rtcp(&mut self, stats: &RelayStats) {
        let target = self.target();
        if let Some(r) = &mut self.rtcp {
            r.flush(target, stats).await;
        }
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
    (seed, rtcp_setup): (u64, RtcpSetup),
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
    // Our SSRC toward each side: the call's seed, split.
    let ssrcs = (seed as u32, (seed >> 32) as u32);
    let mut origin = Side::new(&anchor, anchor.origin_port, ssrcs.0, (seed, rtcp_setup));
    let mut carrier = Side::new(&anchor, anchor.carrier_port, ssrcs.1, (!seed, rtcp_setup));
    let mut bridge: Option<G711Bridge> = None;
    let mut events: Option<EventPts> = None;
    let mut from_origin = [0u8; MAX_RTP];
    let mut from_carrier = [0u8; MAX_RTP];
    let mut rtcp_from_origin = [0u8; MAX_RTP];
    let mut rtcp_from_carrier = [0u8; MAX_RTP];
    loop {
        let due = [&origin, &carrier]
            .iter()
            .filter_map(|s| s.rtcp.as_ref().and_then(SideRtcp::poll_timeout))
            .min();
        let report_timer = async {
            match due {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
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
                let now = Instant::now();
                origin.latched = Some(src);
                let packet = &mut from_origin[..n];
                origin.heard(now, packet);
                transcode(&stats, bridge.as_ref(), packet, MediaSide::Carrier);
                map_events(events, packet, MediaSide::Carrier);
                let sent = forward(&mut carrier, &carrier_sock, packet, now).await;
                count(&stats, &stats.origin_to_carrier, sent);
            },
            r = carrier_sock.recv_from(&mut from_carrier) => if let Ok((n, src)) = r {
                let now = Instant::now();
                carrier.latched = Some(src);
                let packet = &mut from_carrier[..n];
                carrier.heard(now, packet);
                transcode(&stats, bridge.as_ref(), packet, MediaSide::Origin);
                map_events(events, packet, MediaSide::Origin);
                let sent = forward(&mut origin, &origin_sock, packet, now).await;
                count(&stats, &stats.carrier_to_origin, sent);
            },
            Some((n, src)) = recv_rtcp(&origin, &mut rtcp_from_origin) => {
                origin.rtcp_in(Instant::now(), src, &rtcp_from_origin[..n], &stats);
            },
            Some((n, src)) = recv_rtcp(&carrier, &mut rtcp_from_carrier) => {
                carrier.rtcp_in(Instant::now(), src, &rtcp_from_carrier[..n], &stats);
            },
            () = report_timer => {
                let now = Instant::now();
                for side in [&mut origin, &mut carrier] {
                    if let Some(r) = &mut side.rtcp {
                        r.handle_timeout(now);
                    }
                }
            },
        }
        origin.flush_rtcp(&stats).await;
        carrier.flush_rtcp(&stats).await;
    }
    let now = Instant::now();
    for (name, side) in [("origin", &mut origin), ("carrier", &mut carrier)] {
        if let Some(r) = &mut side.rtcp {
            r.bye(now);
            let q = r.stats();
            tracing::debug!(
                side = name,
                received = q.packets_received,
                lost = q.packets_lost,
                jitter_ms = q.jitter_ms,
                rtt_ms = q.rtt_ms,
                "leg quality"
            );
        }
        side.flush_rtcp(&stats).await;
    }
    stats.active.fetch_sub(1, Relaxed);
}

/// The next RTCP datagram on a side's RTCP socket (never, without one).
async fn recv_rtcp(side: &Side, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
    match side.rtcp.as_ref().and_then(|r| r.sock.as_ref()) {
        Some(sock) => sock.recv_from(buf).await.ok(),
        None => std::future::pending().await,
    }
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
async fn forward(to: &mut Side, sock: &UdpSocket, packet: &mut [u8], now: Instant) -> bool {
    let Some(addr) = to.target() else {
        return false;
    };
    if !to.toward.rewrite(packet) {
        return false;
    }
    let sent = sock.send_to(packet, addr).await.is_ok();
    if let (true, Some(r)) = (sent, &mut to.rtcp) {
        r.activate();
        r.sent(now, packet);
    }
    sent
}

#[cfg(test)]
mod tests;
