//! Trunk health: OPTIONS pings toward each outbound trunk on its schedule, each a
//! non-INVITE client transaction (so a silent trunk fails by timer F, 64*T1), fed to
//! a [`Health`] per trunk that turns consecutive results into up/down.
//!
//! Sans-IO like the endpoint that owns it: `handle_response` / `handle_timeout` with
//! the time passed in, then drain `poll_transmit`-style output (pushed into the
//! endpoint's queue), `poll_change` (a trunk went up or down: the endpoint tells
//! routing) and `poll_timeout`. [`Probes::view`] is what `/healthz` shows.

use crate::call::legs::Transport;
use dcx_sip::transaction::{ClientEvent, NonInviteClient, Timers};
use dcx_sip::trunk::{Health, HealthConfig, HealthState};
use dcx_sip::{Message, Method, RequestBuilder, ViaSpec};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A trunk to probe.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// The trunk's name (the carrier's name in the deck).
    pub name: String,
    /// Where its OPTIONS go.
    pub addr: SocketAddr,
    /// Interval and thresholds.
    pub config: HealthConfig,
    /// UDP or TCP.
    pub transport: Transport,
}

impl ProbeTarget {
    /// The configured trunks that have an address and probing on.
    pub fn from_config(trunks: &[toml::Spanned<crate::config::sip::TrunkSection>]) -> Vec<Self> {
        trunks
            .iter()
            .filter_map(|t| {
                let t = t.get_ref();
                Some(Self {
                    name: t.name.clone(),
                    addr: t.address.as_ref()?.get_ref().parse().ok()?,
                    config: t.health()?,
                    transport: *t.transport.get_ref(),
                })
            })
            .collect()
    }
}

/// One trunk's health as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkStatus {
    /// The trunk's name.
    pub name: String,
    /// Where it is probed.
    pub address: SocketAddr,
    /// Whether routing may use it.
    pub up: bool,
    /// Pings whose transaction ended.
    pub pings: u64,
    /// Of those, the failed ones (timeout or a 5xx other than 501).
    pub failed_pings: u64,
    /// The status of the last answered ping.
    pub last_status: Option<u16>,
}

struct Probe {
    status: TrunkStatus,
    transport: Transport,
    health: Health,
    in_flight: Option<(String, NonInviteClient)>,
}

impl Probe {
    /// A trunk not probed yet, taken as up.
    fn new(now: Instant, t: ProbeTarget) -> Self {
        Self {
            status: TrunkStatus {
                name: t.name,
                address: t.addr,
                up: true,
                pings: 0,
                failed_pings: 0,
                last_status: None,
            },
            health: Health::new(now, t.config),
            transport: t.transport,
            in_flight: None,
        }
    }

    fn is(&self, t: &ProbeTarget) -> bool {
        self.status.name == t.name
            && self.status.address == t.addr
            && self.transport == t.transport
            && self.health.config() == t.config
    }
}

/// The probes of one endpoint.
pub struct Probes {
    trunks: Vec<Probe>,
    sent_by: String,
    timers: Timers,
    seed: u64,
    sent: u64,
    changes: VecDeque<(String, bool)>,
    view: Arc<[TrunkStatus]>,
}

impl Probes {
    /// Probes for `targets`, the first pings due at `now`; requests say they come from
    /// `sent_by` (our `IP:port`); `seed` makes Call-IDs and tags unpredictable.
    pub fn new(
        now: Instant,
        targets: Vec<ProbeTarget>,
        sent_by: String,
        timers: Timers,
        seed: u64,
    ) -> Self {
        let probes = targets.into_iter().map(|t| Probe::new(now, t)).collect();
        let mut p = Self {
            trunks: probes,
            sent_by,
            timers,
            seed,
            sent: 0,
            changes: VecDeque::new(),
            view: Arc::from(Vec::new()),
        };
        p.refresh_view();
        p
    }

    /// Each probed trunk's health (cheap to clone).
    /// Probes `targets` from now on (the trunks changed through the API): a trunk that
    /// is the same (name, address, transport, thresholds) keeps its health and its ping
    /// in flight; a new or changed one starts over, taken as up; one that is gone stops.
    /// Routing hears "up" for every trunk that was down and is not probed as it was.
    pub fn reconfigure(&mut self, now: Instant, targets: Vec<ProbeTarget>) {
        let mut old = std::mem::take(&mut self.trunks);
        for t in targets {
            match old.iter().position(|p| p.is(&t)) {
                Some(i) => self.trunks.push(old.swap_remove(i)),
                None => self.trunks.push(Probe::new(now, t)),
            }
        }
        for gone in old.into_iter().filter(|p| !p.status.up) {
            self.changes.push_back((gone.status.name, true));
        }
        self.refresh_view();
    }

    pub fn view(&self) -> Arc<[TrunkStatus]> {
        self.view.clone()
    }

    /// A response; returns whether it answered one of our pings.
    pub fn handle_response(&mut self, msg: &Message<'_>) -> bool {
        let (Some(code), Some(branch)) = (
            msg.status_code(),
            msg.top_via().ok().and_then(|v| v.branch()),
        ) else {
            return false;
        };
        let Some(i) = self
            .trunks
            .iter()
            .position(|p| p.in_flight.as_ref().is_some_and(|f| f.0 == branch))
        else {
            return false;
        };
        if code >= 200 {
            self.finish(i, Some(code));
        }
        true
    }

    /// Runs the transactions' timers and sends the pings that are due.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        for i in 0..self.trunks.len() {
            let mut timed_out = false;
            if let Some((_, tx)) = &mut self.trunks[i].in_flight {
                tx.handle_timeout(now);
                while let Some(e) = tx.poll_event() {
                    timed_out |= e == ClientEvent::Timeout;
                }
            }
            if timed_out {
                self.finish(i, None);
            }
            if self.trunks[i].health.poll_ping(now) {
                self.ping(now, i);
            }
            let addr = self.trunks[i].status.address;
            if let Some((_, tx)) = &mut self.trunks[i].in_flight {
                while let Some(b) = tx.poll_transmit() {
                    out.push_back((addr, b.to_vec()));
                }
            }
        }
    }

    fn ping(&mut self, now: Instant, i: usize) {
        self.sent += 1;
        let n = self.sent;
        let secret = dcx_routing::rng::mix(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let branch = format!("{}-opt-{secret:016x}", dcx_sip::headers::MAGIC_COOKIE);
        let addr = self.trunks[i].status.address;
        let (uri, from, to) = (
            format!("sip:{addr}"),
            format!("<sip:dcx@{}>", self.sent_by),
            format!("<sip:{addr}>"),
        );
        let call_id = format!("opt-{secret:016x}@{}", self.sent_by);
        let tag = format!("{:x}", dcx_routing::rng::mix(secret));
        let mut bytes = Vec::with_capacity(400);
        let built = RequestBuilder::new(Method::Options, &uri)
            .via(ViaSpec {
                transport: self.trunks[i].transport.via(),
                sent_by: &self.sent_by,
                branch: &branch,
                rport: true,
            })
            .max_forwards(70)
            .from(&from, &tag)
            .to(&to, None)
            .call_id(&call_id)
            .cseq(u32::try_from(n % u64::from(u32::MAX)).unwrap_or(1))
            .header("Accept", b"application/sdp")
            .write_to(&mut bytes);
        match built {
            Ok(()) => {
                let reliability = self.trunks[i].transport.reliability();
                let tx = NonInviteClient::new(now, bytes, reliability, self.timers);
                self.trunks[i].in_flight = Some((branch, tx));
            }
            Err(e) => {
                tracing::warn!(trunk = %self.trunks[i].status.name, "cannot build OPTIONS: {e}");
                self.finish(i, None);
            }
        }
    }

    /// Ping `i` ended: `Some(status)` or `None` for a timeout.
    fn finish(&mut self, i: usize, result: Option<u16>) {
        let p = &mut self.trunks[i];
        p.in_flight = None;
        p.health.handle_result(result);
        p.status.pings += 1;
        p.status.last_status = result.or(p.status.last_status);
        let ok = p.health.state() == HealthState::Up;
        if !result.is_some_and(|s| matches!(s, 200..=499 | 501 | 600..=699)) {
            p.status.failed_pings += 1;
        }
        if let Some(state) = p.health.poll_change() {
            let up = state == HealthState::Up;
            self.changes.push_back((p.status.name.clone(), up));
        }
        p.status.up = ok;
        self.refresh_view();
    }

    fn refresh_view(&mut self) {
        self.view = self.trunks.iter().map(|p| p.status.clone()).collect();
    }

    /// A trunk that went up (`true`) or down since the last call.
    pub fn poll_change(&mut self) -> Option<(String, bool)> {
        self.changes.pop_front()
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.trunks
            .iter()
            .flat_map(|p| {
                [
                    p.health.poll_timeout(),
                    p.in_flight.as_ref().and_then(|f| f.1.poll_timeout()),
                ]
            })
            .flatten()
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dcx_sip::response_to;
    use std::time::Duration;

    const TRUNK: &str = "198.51.100.20:5060";

    fn probes(t0: Instant) -> Probes {
        Probes::new(
            t0,
            vec![ProbeTarget {
                name: "carrier-b".into(),
                addr: TRUNK.parse().unwrap(),
                config: HealthConfig {
                    interval: Duration::from_secs(10),
                    down_after: 2,
                    up_after: 1,
                },
                transport: Transport::Udp,
            }],
            "203.0.113.10:5060".into(),
            Timers::default(),
            5,
        )
    }

    /// Runs every deadline up to `until`; returns the OPTIONS sent.
    fn run(p: &mut Probes, now: &mut Instant, until: Instant) -> Vec<Vec<u8>> {
        let mut out = VecDeque::new();
        while let Some(at) = p.poll_timeout().filter(|&at| at <= until) {
            *now = (*now).max(at);
            p.handle_timeout(*now, &mut out);
        }
        *now = until;
        out.into_iter().map(|(_, b)| b).collect()
    }

    #[test]
    fn a_silent_trunk_goes_down_by_timer_f_and_comes_back_when_it_answers() {
        let t0 = Instant::now();
        let mut now = t0;
        let mut p = probes(t0);
        // First ping at once, retransmitted by timer E, abandoned by timer F (32 s).
        let sent = run(&mut p, &mut now, t0 + Duration::from_secs(31));
        assert!(sent.len() > 1, "retransmissions");
        let first = Message::parse_datagram(&sent[0]).unwrap();
        assert_eq!(first.method(), Some(Method::Options));
        assert!(p.poll_change().is_none());
        assert!(p.view()[0].up);
        // Second timeout: down after 2 failures (the next ping starts as soon as the
        // first fails, its interval having passed).
        let sent = run(&mut p, &mut now, t0 + Duration::from_secs(65));
        assert_eq!(p.poll_change(), Some(("carrier-b".into(), false)));
        let v = &p.view()[0];
        assert_eq!((v.up, v.pings, v.failed_pings), (false, 2, 2));
        // The third ping (sent at 64 s) is answered (even 404 proves a live SIP
        // stack): up again.
        let ping = Message::parse_datagram(sent.last().unwrap()).unwrap();
        assert_ne!(ping.call_id().unwrap(), first.call_id().unwrap());
        let mut ok = Vec::new();
        response_to(&ping, 404, b"Not Found", Some("x"))
            .unwrap()
            .write_to(&mut ok)
            .unwrap();
        assert!(p.handle_response(&Message::parse_datagram(&ok).unwrap()));
        assert_eq!(p.poll_change(), Some(("carrier-b".into(), true)));
        assert_eq!(p.view()[0].last_status, Some(404));
        // A response to nothing of ours is not taken.
        assert!(!p.handle_response(&Message::parse_datagram(&ok).unwrap()));
        // The next ping waits for the interval.
        assert!(p.poll_timeout().unwrap() >= t0 + Duration::from_secs(74));
    }

    #[test]
    fn a_reconfigure_keeps_an_unchanged_trunks_health_and_starts_a_new_one_up() {
        let t0 = Instant::now();
        let mut now = t0;
        let mut p = probes(t0);
        run(&mut p, &mut now, t0 + Duration::from_secs(65));
        assert_eq!(p.poll_change(), Some(("carrier-b".into(), false)));
        let target = |name: &str, addr: &str| ProbeTarget {
            name: name.into(),
            addr: addr.parse().unwrap(),
            config: HealthConfig {
                interval: Duration::from_secs(10),
                down_after: 2,
                up_after: 1,
            },
            transport: Transport::Udp,
        };
        // carrier-b unchanged, carrier-x new: b stays down with its counts, x is up and
        // pinged at once.
        p.reconfigure(
            now,
            vec![
                target("carrier-b", TRUNK),
                target("carrier-x", "198.51.100.30:5060"),
            ],
        );
        assert!(p.poll_change().is_none());
        let view = p.view();
        assert_eq!((view[0].up, view[0].pings), (false, 2));
        assert_eq!(
            (view[1].name.as_str(), view[1].up, view[1].pings),
            ("carrier-x", true, 0)
        );
        let mut out = VecDeque::new();
        p.handle_timeout(now, &mut out);
        assert!(
            out.iter()
                .any(|(to, _)| to.to_string() == "198.51.100.30:5060"),
            "{out:?}"
        );
        // carrier-b moved to another address: probed afresh, and routing hears it is up.
        p.reconfigure(now, vec![target("carrier-b", "198.51.100.21:5060")]);
        assert_eq!(p.poll_change(), Some(("carrier-b".into(), true)));
        assert_eq!(p.view().len(), 1);
        assert!(p.view()[0].up);
    }
}
