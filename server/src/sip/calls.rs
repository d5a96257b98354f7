//! The endpoint's calls: routing a new INVITE, finding the call each later message
//! belongs to, running the calls' timers, and collecting what they report.
//!
//! Lookup keys (RFC 3261 17.2.3 and 12): the origin's INVITE transaction (branch,
//! sent-by; its retransmissions, its CANCEL and the ACK of a failure carry the same
//! branch); every other message carries an identifier the call minted (the Via branch
//! of a response to our request; our To tag toward the origin or our From tag toward a
//! carrier in an in-dialog request), whose first 16 hex digits are the call's token.
//! So one map from token to call and one from origin transaction to token are all the
//! state; the call itself checks Call-ID and the remote tag.
//!
//! Timers: a min-heap of (deadline, token), pushed whenever a call's next deadline
//! moves earlier; stale entries just cause a harmless early look.

use super::endpoint::TxKey;
use crate::call::browser::{BrowserCall, BrowserNews, BrowserOrigin};
use crate::call::events::{AttemptEnd, CallEvent};
use crate::call::inbound::{DidTarget, InboundCall};
use crate::call::legs::{token_of_branch, token_of_tag, Transport};
use crate::call::media::{Anchor, MediaNews};
use crate::call::{CallSetup, Routed, Target, TransitCall};
use dcx_routing::rng::{Random, SplitMix64};
use dcx_routing::{
    CallOutcome, CarrierSnapshot, DecisionInput, QualityBook, QualityConfig, Router,
};
use dcx_sip::Message;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Where the current router comes from (the gateway's atomically swapped store).
pub type RouterSource = Box<dyn Fn() -> Arc<Router> + Send>;

/// What transit call control needs from the gateway.
pub struct Transit {
    /// The router in effect.
    pub router: RouterSource,
    /// Each trunk with an address, by name (deck carriers are trunks by name).
    pub trunks: HashMap<String, TrunkOut>,
    /// Our address, timers, clock.
    pub setup: CallSetup,
    /// Quality settings for the book the decisions read.
    pub quality: QualityConfig,
    /// Seeds the call tokens and routing's weighted draws.
    pub seed: u64,
    /// RTP ports and the address for anchoring media; `None` leaves SDP unchanged.
    pub media: Option<MediaPorts>,
    /// Called numbers dcx answers itself for a queue (`[[dids]]`), checked before
    /// routing.
    pub dids: Vec<Did>,
    /// Browser accounts' fraud limits (`[[accounts]]`).
    pub limits: crate::call::limits::Limits,
    /// Trunks whose calls are transferred by REFER first (`refer = true`).
    pub refer_trunks: std::collections::HashSet<String>,
}

/// One `[[dids]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Did {
    /// The called number, or a prefix of called numbers.
    pub number: String,
    /// Whether `number` is a prefix.
    pub prefix: bool,
    /// Where its calls go.
    pub target: DidTarget,
}

impl Did {
    /// The DIDs of the config.
    pub fn from_config(dids: &[crate::config::contact::DidSection]) -> Vec<Self> {
        dids.iter()
            .filter_map(|d| {
                let (number, prefix) = match (&d.number, &d.prefix) {
                    (Some(n), None) => (n.get_ref().clone(), false),
                    (None, Some(p)) => (p.get_ref().clone(), true),
                    _ => return None,
                };
                Some(Self {
                    number,
                    prefix,
                    target: DidTarget {
                        queue: d
                            .queue
                            .as_ref()
                            .map(|q| q.get_ref().clone())
                            .unwrap_or_default(),
                        user: d.user.as_ref().map(|u| u.get_ref().clone()),
                    },
                })
            })
            .collect()
    }
}

/// Where calls' media is anchored: `[media] public_ip` and the `rtp_ports` pool.
#[derive(Debug, Clone)]
pub struct MediaPorts {
    /// The address in our SDP and of the relay's sockets.
    pub ip: std::net::IpAddr,
    /// Even RTP ports; a released port rests before reuse.
    pub pool: dcx_sip::rtp::ports::PortPool,
}

/// What the RTP relay must do for call `token` (drained by the shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaCommand {
    /// Bind the call's two ports and start relaying.
    Open(u64, Anchor),
    /// Where one side receives, from its SDP.
    Remote(u64, MediaNews),
    /// The call is over: stop and close the sockets.
    Close(u64),
}

/// A trunk calls are sent to.
#[derive(Debug, Clone)]
pub struct TrunkOut {
    /// Where its INVITEs go.
    pub addr: SocketAddr,
    /// Digest credentials for its challenges.
    pub credentials: Option<Arc<dcx_sip::auth::Credentials>>,
    /// UDP or TCP.
    pub transport: Transport,
}

impl TrunkOut {
    /// The configured trunks that have an address, by name.
    pub fn from_config(
        trunks: &[toml::Spanned<crate::config::sip::TrunkSection>],
    ) -> HashMap<String, Self> {
        trunks
            .iter()
            .filter_map(|t| {
                let t = t.get_ref();
                let trunk = Self {
                    addr: t.address.as_ref()?.get_ref().parse().ok()?,
                    credentials: t.credentials().map(Arc::new),
                    transport: *t.transport.get_ref(),
                };
                Some((t.name.clone(), trunk))
            })
            .collect()
    }

    /// A trunk at `addr` without credentials.
    #[cfg(test)]
    pub fn at(addr: SocketAddr) -> Self {
        Self {
            addr,
            credentials: None,
            transport: Transport::Udp,
        }
    }
}

/// Call counters, read by health and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls started (INVITEs accepted for routing).
    pub calls: u64,
    /// Calls answered.
    pub answered: u64,
    /// Calls that ended without an answer.
    pub failed: u64,
    /// Calls routing refused (no route, blocked, bad number).
    pub unroutable: u64,
    /// Carrier attempts made.
    pub attempts: u64,
    /// Attempts that failed over to another carrier.
    pub failovers: u64,
    /// Calls live now (including those draining their transactions).
    pub live: u64,
}

struct Entry {
    call: LiveCall,
    anchor: Option<Anchor>,
    /// The carrier-side RTP port of a browser call.
    browser_port: Option<u16>,
    /// The origin's INVITE transaction of a transit call.
    origin_key: Option<TxKey>,
    scheduled: Option<Instant>,
}

/// A call of the endpoint. Boxed: a call is ~3 KB inline, and the map holds every
/// call until its transactions drain (up to 64*T1 after it ended), so growing the map
/// must not move them.
enum LiveCall {
    Transit(Box<TransitCall>),
    Browser(Box<BrowserCall>),
    Inbound(Box<InboundCall>),
}

/// Forwards a call method to whichever kind of call it is.
macro_rules! each {
    ($call:expr, $c:ident => $body:expr) => {
        match $call {
            LiveCall::Transit($c) => $body,
            LiveCall::Browser($c) => $body,
            LiveCall::Inbound($c) => $body,
        }
    };
}

impl LiveCall {
    fn handle_request(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        each!(self, c => c.handle_request(now, from, msg));
    }
    fn handle_response(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) {
        each!(self, c => c.handle_response(now, from, msg));
    }
    fn handle_timeout(&mut self, now: Instant) {
        each!(self, c => c.handle_timeout(now));
    }
    fn poll_timeout(&self) -> Option<Instant> {
        each!(self, c => c.poll_timeout())
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        each!(self, c => c.poll_transmit())
    }
    fn poll_event(&mut self) -> Option<CallEvent> {
        each!(self, c => c.poll_event())
    }
    fn has_ended(&self) -> bool {
        each!(self, c => c.has_ended())
    }
    fn is_over(&self) -> bool {
        each!(self, c => c.is_over())
    }
}

/// What a browser call's task hears from the SIP side: the call's token and the news.
pub type BrowserUpdate = (u64, BrowserNews);

/// The calls of one endpoint.
pub struct Calls {
    transit: Transit,
    rng: SplitMix64,
    quality: QualityBook,
    carriers: CarrierSnapshot,
    live: HashMap<u64, Entry>,
    by_origin_tx: HashMap<TxKey, u64>,
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
    events: VecDeque<CallEvent>,
    media: VecDeque<MediaCommand>,
    browser_news: VecDeque<BrowserUpdate>,
    stats: CallStats,
}

impl Calls {
    /// No calls yet.
    pub fn new(transit: Transit) -> Self {
        Self {
            rng: SplitMix64::new(transit.seed),
            quality: QualityBook::new(transit.quality.clone()),
            carriers: CarrierSnapshot::default(),
            live: HashMap::new(),
            by_origin_tx: HashMap::new(),
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            media: VecDeque::new(),
            browser_news: VecDeque::new(),
            stats: CallStats::default(),
            transit,
        }
    }

    /// The counters.
    pub fn stats(&self) -> CallStats {
        CallStats {
            live: self.live.len() as u64,
            ..self.stats
        }
    }

    /// Whether `ip` is the address of a trunk we send calls to (its in-dialog requests
    /// are accepted even if no `inbound_from` names it).
    pub fn is_carrier(&self, ip: std::net::IpAddr) -> bool {
        self.transit.trunks.values().any(|t| t.addr.ip() == ip)
    }

    /// Sends new calls to `trunks` and answers `dids` from now on; calls already up
    /// keep the trunk they were sent to.
    pub fn reconfigure(&mut self, p: &mut super::provision::SipProvision) {
        self.transit.trunks = std::mem::take(&mut p.trunks);
        self.transit.dids = std::mem::take(&mut p.dids);
        self.transit.refer_trunks = std::mem::take(&mut p.refer_trunks);
    }

    /// Marks carrier `name` up or down for the next routing decisions (down carriers
    /// are skipped, with the reason in the decision's explanation).
    pub fn set_carrier_up(&mut self, name: &str, up: bool) {
        let mut state = self.carriers.get(name);
        state.up = up;
        self.carriers.set(name, state);
    }

    /// The call a request belongs to: by the origin INVITE transaction (`invite_key`:
    /// the request's key with method INVITE), else by our tag in its To.
    pub fn find(&self, msg: &Message<'_>, invite_key: &TxKey) -> Option<u64> {
        if let Some(&token) = self.by_origin_tx.get(invite_key) {
            return Some(token);
        }
        let to = msg.to().ok()?;
        let token = token_of_tag(to.tag()?)?;
        self.live.contains_key(&token).then_some(token)
    }

    /// A new INVITE from `from`, of trunk `trunk_in`: routes it and starts its call.
    /// An INVITE whose headers a call cannot use is returned as an error to answer.
    pub fn start(
        &mut self,
        now: Instant,
        (msg, from, trunk_in): (&Message<'_>, SocketAddr, &str),
        key: TxKey,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) -> Result<(), dcx_sip::SipError> {
        let (token, seed) = self.new_token();
        let dialled = crate::call::origin::OriginInvite::dialled(msg);
        if let Some(target) = self.did_target(&dialled) {
            return self.start_inbound(
                now,
                (token, seed),
                (msg, from, trunk_in),
                &target,
                key,
                out,
            );
        }
        let mut route = self.route(now, &dialled);
        let unroutable = route.is_err();
        let anchor = match &mut route {
            Ok(r) if !r.targets.is_empty() => {
                r.media = self.anchor(now);
                r.media
            }
            _ => None,
        };
        let call = TransitCall::new(
            now,
            &self.transit.setup,
            (token, seed),
            (msg, from, trunk_in),
            route,
        )?;
        tracing::debug!(call_id = call.call_id(), %from, trunk_in, "call");
        self.stats.calls += 1;
        self.stats.unroutable += u64::from(unroutable);
        self.by_origin_tx.insert(key.clone(), token);
        if let Some(a) = anchor {
            self.media.push_back(MediaCommand::Open(token, a));
        }
        self.live.insert(
            token,
            Entry {
                call: LiveCall::Transit(Box::new(call)),
                anchor,
                browser_port: None,
                origin_key: Some(key),
                scheduled: None,
            },
        );
        self.after(now, token, out);
        Ok(())
    }

    /// A browser's call to `origin.dialled`: routes it, holds a carrier-side RTP port
    /// and starts its SIP side. Returns the call's token (its news carry it) and the
    /// port its media bridge binds (`None` when the call ended at once: see its news).
    pub fn start_browser(
        &mut self,
        now: Instant,
        origin: &BrowserOrigin,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) -> (u64, Option<(std::net::IpAddr, u16)>) {
        let (token, seed) = self.new_token();
        let mut route = self
            .route(now, &origin.dialled)
            .map_err(|e| crate::call::browser::Refused::route(&e));
        if let Ok(r) = &route {
            let live = self.live_calls_of(&origin.account);
            let now_ms = self.transit.setup.clock.unix_ms(now);
            if let Some((code, why)) =
                self.transit
                    .limits
                    .refuse(&origin.account, &r.number, live, now_ms)
            {
                route = Err(crate::call::browser::Refused {
                    sip_code: 403,
                    code,
                    why,
                });
            }
        }
        let unroutable = route.is_err();
        let rtp = match (&route, self.transit.media.as_mut()) {
            (Ok(r), Some(m)) if !r.targets.is_empty() => {
                m.pool.allocate(now).ok().map(|port| (m.ip, port))
            }
            _ => None,
        };
        let call = BrowserCall::new(now, &self.transit.setup, (token, seed), origin, route, rtp);
        tracing::debug!(call_id = call.call_id(), user = %origin.user, "browser call");
        self.stats.calls += 1;
        self.stats.unroutable += u64::from(unroutable);
        self.live.insert(
            token,
            Entry {
                call: LiveCall::Browser(Box::new(call)),
                anchor: None,
                browser_port: rtp.map(|(_, p)| p),
                origin_key: None,
                scheduled: None,
            },
        );
        self.after(now, token, out);
        (token, rtp)
    }

    /// The queue a called number goes to, if it is a DID: an exact `number` first,
    /// else the longest matching `prefix`.
    fn did_target(&self, dialled: &str) -> Option<DidTarget> {
        let dids = &self.transit.dids;
        dids.iter()
            .find(|d| !d.prefix && d.number == dialled)
            .or_else(|| {
                dids.iter()
                    .filter(|d| d.prefix && dialled.starts_with(&d.number))
                    .max_by_key(|d| d.number.len())
            })
            .map(|d| d.target.clone())
    }

    /// A carrier's INVITE to a DID: answered by dcx, the caller queued for an agent.
    fn start_inbound(
        &mut self,
        now: Instant,
        ids: (u64, u64),
        invite: (&Message<'_>, SocketAddr, &str),
        target: &DidTarget,
        key: TxKey,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) -> Result<(), dcx_sip::SipError> {
        let token = ids.0;
        let rtp = self
            .transit
            .media
            .as_mut()
            .and_then(|m| m.pool.allocate(now).ok().map(|port| (m.ip, port)));
        let call = InboundCall::new(now, &self.transit.setup, ids, invite, target, rtp)?;
        tracing::debug!(call_id = call.call_id(), queue = %target.queue, "inbound call for a queue");
        self.stats.calls += 1;
        self.by_origin_tx.insert(key.clone(), token);
        self.live.insert(
            token,
            Entry {
                call: LiveCall::Inbound(Box::new(call)),
                anchor: None,
                browser_port: rtp.map(|(_, p)| p),
                origin_key: Some(key),
                scheduled: None,
            },
        );
        self.after(now, token, out);
        Ok(())
    }

    /// Call `token`'s far end is to be hung up from dcx's side: a browser hung up or
    /// went away (a browser call), or an agent hung up or the queue gave up with
    /// `code` (an inbound call).
    pub fn hang_up_call(
        &mut self,
        now: Instant,
        token: u64,
        (code, why): (u16, &str),
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) {
        match self.live.get_mut(&token).map(|e| &mut e.call) {
            Some(LiveCall::Browser(c)) => c.hang_up(now, why),
            Some(LiveCall::Inbound(c)) => c.hang_up(now, code, why),
            _ => return,
        }
        self.after(now, token, out);
    }

    /// Browser calls of `account` not ended yet.
    fn live_calls_of(&self, account: &str) -> u32 {
        let of_account = |e: &&Entry| matches!(&e.call, LiveCall::Browser(c) if !c.has_ended() && c.account() == account);
        self.live.values().filter(of_account).count() as u32
    }

    /// The browser of call `token` put it on hold (`true`) or resumed it.
    pub fn hold_call(
        &mut self,
        now: Instant,
        token: u64,
        held: bool,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) {
        if let Some(LiveCall::Browser(c)) = self.live.get_mut(&token).map(|e| &mut e.call) {
            c.hold(now, held);
            self.after(now, token, out);
        }
    }

    /// Answered inbound call `token` waits in a queue again (see
    /// [`InboundCall::requeued`](crate::call::inbound::InboundCall::requeued)).
    pub fn requeued(&mut self, now: Instant, token: u64) {
        if let Some(LiveCall::Inbound(c)) = self.live.get_mut(&token).map(|e| &mut e.call) {
            c.requeued(now);
        }
    }

    /// An agent took inbound call `token`: the 200 goes to the carrier.
    /// Asks the carrier of inbound call `token` to take a blind transfer to `number`
    /// itself (REFER), when its trunk has `refer = true`; false when it is not asked.
    pub fn refer_call(
        &mut self,
        now: Instant,
        token: u64,
        number: &str,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) -> bool {
        let Some(entry) = self.live.get_mut(&token) else {
            return false;
        };
        let refer_trunks = &self.transit.refer_trunks;
        let asked = match &mut entry.call {
            LiveCall::Inbound(c) => refer_trunks.contains(c.trunk_in()) && c.refer(now, number),
            LiveCall::Browser(c) => {
                c.trunk_out().is_some_and(|t| refer_trunks.contains(t)) && c.refer(now, number)
            }
            LiveCall::Transit(_) => false,
        };
        if !asked {
            return false;
        }
        self.after(now, token, out);
        true
    }

    pub fn answer_call(
        &mut self,
        now: Instant,
        token: u64,
        agent: &str,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) {
        if let Some(LiveCall::Inbound(c)) = self.live.get_mut(&token).map(|e| &mut e.call) {
            c.answer(now, agent);
            self.after(now, token, out);
        }
    }

    /// What browser calls' tasks must hear, in order.
    pub fn poll_browser(&mut self) -> Option<BrowserUpdate> {
        self.browser_news.pop_front()
    }

    /// A fresh call token (never 0, not in use) and a seed for the call's secrets.
    fn new_token(&mut self) -> (u64, u64) {
        let mut token = self.rng.next_u64();
        while token == 0 || self.live.contains_key(&token) {
            token = self.rng.next_u64();
        }
        (token, self.rng.next_u64())
    }

    fn route(&mut self, now: Instant, dialled: &str) -> Result<Routed, dcx_routing::RouteError> {
        let router = (self.transit.router)();
        let input = DecisionInput {
            at_s: self.transit.setup.clock.unix_ms(now).div_euclid(1000),
            carriers: &self.carriers,
            quality: Some(&self.quality),
            explain: false,
        };
        let decision = router.decide(dialled, &input, &mut self.rng)?;
        let targets = decision
            .candidates
            .iter()
            .filter_map(|c| {
                let Some(trunk) = self.transit.trunks.get(&*c.carrier) else {
                    tracing::warn!(carrier = %c.carrier, "the deck names a carrier with no trunk address: skipped");
                    return None;
                };
                Some(Target {
                    route: crate::call::events::Rated {
                        trunk_out: c.carrier.clone(),
                        prefix: decision.prefix_of(c).to_owned(),
                        rate_nano: c.rate_nano,
                        tariff: c.tariff,
                    },
                    addr: trunk.addr,
                    failover: c.failover.clone(),
                    credentials: trunk.credentials.clone(),
                    transport: trunk.transport,
                })
            })
            .collect();
        Ok(Routed {
            number: decision.number.as_str().to_owned(),
            targets,
            media: None,
        })
    }

    /// Two RTP ports for a call, if media is anchored and the pool has them (else the
    /// call's SDP passes through unchanged).
    fn anchor(&mut self, now: Instant) -> Option<Anchor> {
        let m = self.transit.media.as_mut()?;
        let origin_port = m.pool.allocate(now);
        let carrier_port = m.pool.allocate(now);
        match (origin_port, carrier_port) {
            (Ok(origin_port), Ok(carrier_port)) => Some(Anchor {
                ip: m.ip,
                origin_port,
                carrier_port,
            }),
            (a, b) => {
                for p in [a, b].into_iter().flatten() {
                    m.pool.release(now, p);
                }
                tracing::warn!("no free RTP ports: media of this call is not anchored");
                None
            }
        }
    }

    /// What the RTP relay must do next.
    pub fn poll_media(&mut self) -> Option<MediaCommand> {
        self.media.pop_front()
    }

    /// A request `find` matched to call `token`.
    pub fn handle_request(
        &mut self,
        now: Instant,
        token: u64,
        from: SocketAddr,
        msg: &Message<'_>,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) {
        if let Some(e) = self.live.get_mut(&token) {
            e.call.handle_request(now, from, msg);
            self.after(now, token, out);
        }
    }

    /// A response from `from`; returns whether a call took it.
    pub fn handle_response(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &Message<'_>,
        out: &mut VecDeque<(SocketAddr, Vec<u8>)>,
    ) -> bool {
        let token = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .and_then(token_of_branch);
        match token.and_then(|t| self.live.get_mut(&t).map(|e| (t, e))) {
            Some((token, e)) => {
                e.call.handle_response(now, from, msg);
                self.after(now, token, out);
                true
            }
            None => false,
        }
    }

    /// Runs the calls whose deadlines passed.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        while let Some(&Reverse((at, token))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            let Some(e) = self.live.get_mut(&token) else {
                continue;
            };
            if e.scheduled == Some(at) {
                e.scheduled = None;
            }
            if e.call.poll_timeout().is_some_and(|d| d <= now) {
                e.call.handle_timeout(now);
            }
            self.after(now, token, out);
        }
    }

    /// The earliest deadline of any call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|r| r.0 .0)
    }

    /// What the calls reported, in order.
    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// Drains call `token` after an input: datagrams, events, its next deadline, and
    /// its removal once over.
    fn after(&mut self, now: Instant, token: u64, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        let Some(e) = self.live.get_mut(&token) else {
            return;
        };
        while let Some(d) = e.call.poll_transmit() {
            out.push_back(d);
        }
        while let Some(ev) = e.call.poll_event() {
            record(&mut self.quality, &mut self.stats, &ev);
            if let CallEvent::CallEnded(c) = &ev {
                if let Some(account) = c.parties.trunk_in.strip_prefix("webrtc:") {
                    let cost = u64::try_from(c.cost_nano()).unwrap_or(0);
                    self.transit.limits.record(account, c.times.end_ms, cost);
                }
            }
            self.events.push_back(ev);
        }
        match &mut e.call {
            LiveCall::Transit(c) => {
                while let Some(news) = c.poll_media() {
                    self.media.push_back(MediaCommand::Remote(token, news));
                }
            }
            LiveCall::Browser(c) => {
                while let Some(news) = c.poll_news() {
                    self.browser_news.push_back((token, news));
                }
            }
            LiveCall::Inbound(c) => {
                while let Some(news) = c.poll_news() {
                    self.browser_news.push_back((token, news));
                }
            }
        }
        // Media stops when the call ends, not when its transactions have drained.
        if e.call.has_ended() {
            if let (Some(a), Some(m)) = (e.anchor.take(), self.transit.media.as_mut()) {
                m.pool.release(now, a.origin_port);
                m.pool.release(now, a.carrier_port);
                self.media.push_back(MediaCommand::Close(token));
                if let LiveCall::Transit(c) = &mut e.call {
                    c.compact();
                }
            }
            if let (Some(p), Some(m)) = (e.browser_port.take(), self.transit.media.as_mut()) {
                m.pool.release(now, p);
            }
        }
        if e.call.is_over() {
            if let Some(key) = self.live.remove(&token).and_then(|e| e.origin_key) {
                self.by_origin_tx.remove(&key);
            }
            return;
        }
        if let Some(d) = e.call.poll_timeout() {
            if e.scheduled.is_none_or(|s| d < s) {
                e.scheduled = Some(d);
                self.timers.push(Reverse((d, token)));
            }
        }
    }
}

/// Feeds an event into the quality book and the counters.
fn record(quality: &mut QualityBook, stats: &mut CallStats, ev: &CallEvent) {
    match ev {
        CallEvent::AttemptEnded(a) => {
            stats.attempts += 1;
            let answered = a.end == AttemptEnd::Answered;
            let heard = a.times.first_ring_ms.or(a.times.answer_ms);
            quality.record(&CallOutcome {
                carrier: &a.route.trunk_out,
                prefix: &a.route.prefix,
                at_s: a.times.end_ms.div_euclid(1000),
                answered,
                duration_s: a
                    .times
                    .answer_ms
                    .map_or(0, |t| ((a.times.end_ms - t).max(0) / 1000) as u32),
                pdd_ms: heard.map(|t| (t - a.times.start_ms).max(0) as u32),
            });
        }
        CallEvent::CallEnded(c) => {
            if c.times.answer_ms.is_some() {
                stats.answered += 1;
            } else {
                stats.failed += 1;
            }
            stats.failovers += u64::from(c.attempts.saturating_sub(1));
        }
    }
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
