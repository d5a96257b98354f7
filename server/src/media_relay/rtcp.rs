//! RTCP on each leg of an anchored call, terminated by dcx: each side gets sender
//! reports for the stream dcx sends it (our SSRC toward that side) and receiver reports
//! about the stream it sends dcx, on our RTP port + 1 (RFC 3550 11; `a=rtcp` is not
//! written); its own reports are read for the round-trip time and its view of our
//! stream. RTCP is not relayed end to end: each leg is its own RTP session, as it must
//! be once dcx rewrites sequence numbers, timestamps and SSRCs or transcodes.
//!
//! The protocol is [`dcx_sip::rtp::rtcp::RtcpSession`] (sans-IO); this is its shell:
//! a socket, the peer's RTCP address (latched to where its RTCP comes from, else its
//! RTP address + 1) and the counters. The socket is bound when RTP first flows to or
//! from the side: a leg that never carries media (a call that fails, a zero-length
//! one) costs no RTCP socket and gets no reports.

use super::RelayStats;
use dcx_sip::rtp::rtcp::{RtcpConfig, RtcpSession, RtcpStats};
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};
use tokio::net::UdpSocket;

/// How a relay's RTCP runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtcpSetup {
    /// The minimum report interval (RFC 3550 6.2: 5 s).
    pub interval: Duration,
}

impl Default for RtcpSetup {
    fn default() -> Self {
        Self {
            interval: dcx_sip::rtp::rtcp::DEFAULT_MIN_INTERVAL,
        }
    }
}

/// One side's RTCP.
#[derive(Debug)]
pub struct SideRtcp {
    /// Our RTCP socket facing the side, once media flows (`None` before, or when port + 1
    /// could not be bound).
    pub sock: Option<UdpSocket>,
    /// Where it binds.
    at: SocketAddr,
    /// Whether binding was tried.
    active: bool,
    session: RtcpSession,
    latched: Option<SocketAddr>,
}

impl SideRtcp {
    /// RTCP for the stream we send with `ssrc`, on a socket at `at` once media flows.
    pub fn new(
        at: SocketAddr,
        ssrc: u32,
        cname: &str,
        (seed, setup): (u64, RtcpSetup),
    ) -> Option<Self> {
        let mut config = RtcpConfig::new(ssrc, cname, 8000, seed);
        config.min_interval = setup.interval;
        match RtcpSession::new(config, Instant::now(), SystemTime::now()) {
            Ok(session) => Some(Self {
                sock: None,
                at,
                active: false,
                session,
                latched: None,
            }),
            Err(e) => {
                tracing::warn!("RTCP off for this call: {e}");
                None
            }
        }
    }

    /// Media flows on this leg: bind the RTCP socket (once).
    pub fn activate(&mut self) {
        if std::mem::replace(&mut self.active, true) {
            return;
        }
        let bound = std::net::UdpSocket::bind(self.at).and_then(|s| {
            s.set_nonblocking(true)?;
            UdpSocket::from_std(s)
        });
        match bound {
            Ok(s) => self.sock = Some(s),
            Err(e) => tracing::debug!(at = %self.at, "RTCP port not bound: {e}"),
        }
    }

    /// An RTP packet (already rewritten) went to the side.
    pub fn sent(&mut self, now: Instant, packet: &[u8]) {
        if let Some((_, ts, _)) = header(packet) {
            self.session
                .on_rtp_sent(now, ts, packet.len().saturating_sub(12));
        }
    }

    /// An RTP packet came from the side.
    pub fn received(&mut self, now: Instant, packet: &[u8]) {
        if let Some((seq, ts, ssrc)) = header(packet) {
            self.session.on_rtp_received(now, seq, ts, ssrc);
        }
    }

    /// A datagram on our RTCP socket from `from`.
    pub fn handle(&mut self, now: Instant, from: SocketAddr, datagram: &[u8], stats: &RelayStats) {
        match self.session.handle_rtcp(now, datagram) {
            Ok(()) => {
                self.latched = Some(from);
                stats.rtcp_received.fetch_add(1, Relaxed);
            }
            Err(e) => {
                stats.rtcp_malformed.fetch_add(1, Relaxed);
                tracing::trace!(%from, "RTCP dropped: {e}");
            }
        }
    }

    /// When [`Self::handle_timeout`] is due: never while the leg carries no media (a
    /// silent call's relay does not wake for reports it would not send).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.sock.as_ref()?;
        self.session.poll_timeout()
    }

    /// Runs the report timer.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.session.handle_timeout(now);
    }

    /// Queues the BYE of the end of the call.
    pub fn bye(&mut self, now: Instant) {
        self.session.bye(now);
    }

    /// Sends what is due to the side, whose RTP goes to `rtp_target`.
    pub async fn flush(&mut self, rtp_target: Option<SocketAddr>, stats: &RelayStats) {
        let to = self.latched.or_else(|| {
            rtp_target.map(|mut a| {
                a.set_port(a.port().wrapping_add(1));
                a
            })
        });
        let Some(datagram) = self.session.poll_transmit() else {
            return;
        };
        let (Some(sock), Some(to)) = (&self.sock, to) else {
            return;
        };
        if sock.send_to(datagram, to).await.is_ok() {
            stats.rtcp_sent.fetch_add(1, Relaxed);
        }
    }

    /// What the session measured.
    pub fn stats(&self) -> RtcpStats {
        self.session.stats()
    }
}

/// Sequence number, timestamp and SSRC of an RTP packet.
fn header(p: &[u8]) -> Option<(u16, u32, u32)> {
    if p.len() < 12 || p[0] >> 6 != 2 {
        return None;
    }
    Some((
        u16::from_be_bytes([p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
    ))
}
