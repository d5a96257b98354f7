//! Browsers: the WebSocket at `/ws` ([`ws`]), the session hub that owns sessions and
//! their calls ([`hub`]; what the REST API asks it: [`hub_api`]), a task per browser
//! call ([`call`]) with its media bridge ([`bridge`]), and the router that hands each
//! call task its WebRTC peer's events ([`peers`]).
//!
//! ```text
//!  WebSocket --frames--> ws task --HubEvent--> hub --spawns--> call task
//!      ^                    ^                   |                 |  ^
//!      +------ outbox ------+------ messages ---+     SipCommand  |  |  BrowserNews
//!                                                                 v  |
//!                              WebRTC shell --events--> peers --> call task <--> carrier RTP
//! ```
//! The call task is the only owner of a call's media and its handles; the SIP side of
//! the call lives in the SIP endpoint's task like every transit call
//! ([`crate::call::browser::BrowserCall`]), reached through [`crate::sip::udp::SipCommand`].

pub mod bridge;
pub mod call;
pub mod hub;
pub mod hub_api;
mod live;
pub mod peers;
pub mod user_call;
pub mod ws;

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::sip::udp::SipCommand;
use crate::webrtc_shell::WebRtcHandle;

/// What call tasks use: the media loop, their peers' events, the SIP side.
#[derive(Debug)]
pub struct Services {
    /// The WebRTC media loop.
    pub webrtc: WebRtcHandle,
    /// Each peer's events.
    pub peers: peers::PeerRouter,
    /// The SIP endpoint's task.
    pub sip: mpsc::Sender<SipCommand>,
    /// The counters.
    pub stats: std::sync::Arc<BrowserStats>,
    /// Where calls without a SIP leg (browser to browser) write their CDRs.
    pub cdrs: Option<crate::cdr::CdrSender>,
}

/// Browser counters, for `/healthz`.
#[derive(Debug, Default)]
pub struct BrowserStats {
    /// Browser sockets opened (`/ws`).
    pub connections: AtomicU64,
    /// `error` frames sent (bad frames, refused messages).
    pub errors_sent: AtomicU64,
    /// Browser calls started.
    pub calls: AtomicU64,
    /// Browser calls whose task is still running.
    pub calls_live: AtomicU64,
    /// Datagrams on calls' RTP ports that were not the negotiated RTP.
    pub carrier_rtp_dropped: AtomicU64,
}

impl BrowserStats {
    /// As JSON for `/healthz`.
    pub fn to_json(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        serde_json::json!({
            "connections": get(&self.connections),
            "errors_sent": get(&self.errors_sent),
            "calls": get(&self.calls),
            "calls_live": get(&self.calls_live),
            "carrier_rtp_dropped": get(&self.carrier_rtp_dropped),
        })
    }
}

/// The state of the `/ws` route.
#[derive(Debug)]
pub struct Browsers {
    /// The session hub.
    pub hub: hub::HubHandle,
    /// Verifies the browsers' tokens.
    pub tokens: dcx_signaling::TokenKey,
    /// The counters.
    pub stats: std::sync::Arc<BrowserStats>,
}
