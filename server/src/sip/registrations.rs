//! Outbound registration for trunks with `register = true` (RFC 3261 10.2): dcx binds
//! `sip:USERNAME@HOST` (the trunk's address) to its own Contact at the trunk, so the
//! carrier knows where to send calls for that account.
//!
//! Each trunk's schedule is [`Registration`] (refresh before expiry, exponential
//! back-off after a failure, 423 `Min-Expires` honoured); each REGISTER is a non-INVITE
//! client transaction; a 401/407 is answered once per attempt with the trunk's digest
//! credentials (the strongest challenge: SHA-256 over MD5), only when it came from the
//! trunk's own address. One Call-ID per trunk, `CSeq` rising across refreshes (RFC 3261
//! 10.2.4). Sans-IO like the probes: responses and time in, datagrams into the
//! endpoint's queue; [`Registrations::view`] is what `/healthz` shows.
//!
//! A trunk removed through the API (or moved to another address or account) takes its
//! binding with it: its registration sends one REGISTER with `Expires: 0` on the same
//! Call-ID (challenges answered as usual) and is forgotten at the final response or
//! the transaction's timeout, whatever they say.
//!
//! Not done: removing the binding at shutdown; registering over TCP.

use crate::call::legs::Transport;
use dcx_sip::auth::{authorize, Credentials};
use dcx_sip::headers::Contact;
use dcx_sip::transaction::{ClientEvent, NonInviteClient, Timers};
use dcx_sip::trunk::{Registration, RegistrationAction, RegistrationConfig, RegistrationState};
use dcx_sip::{Message, Method, RequestBuilder, ViaSpec};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// A trunk to register with.
#[derive(Debug, Clone)]
pub struct RegisterTarget {
    /// The trunk's name.
    pub name: String,
    /// The registrar (the trunk's address).
    pub addr: SocketAddr,
    /// User name and password: the address-of-record's user, and the digest answer.
    pub credentials: Credentials,
    /// The expiry asked for, seconds.
    pub expires_s: u32,
    /// UDP or TCP.
    pub transport: Transport,
}

impl RegisterTarget {
    /// The configured trunks with `register = true` (and their credentials).
    pub fn from_config(trunks: &[toml::Spanned<crate::config::sip::TrunkSection>]) -> Vec<Self> {
        trunks
            .iter()
            .filter_map(|t| {
                let t = t.get_ref();
                if !*t.register.get_ref() {
                    return None;
                }
                Some(Self {
                    name: t.name.clone(),
                    addr: t.address.as_ref()?.get_ref().parse().ok()?,
                    credentials: t.credentials()?,
                    expires_s: *t.register_expires_s.get_ref(),
                    transport: *t.transport.get_ref(),
                })
            })
            .collect()
    }
}

/// One trunk's registration as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationStatus {
    /// The trunk's name.
    pub name: String,
    /// `registered`, `registering`, `failed` or `unregistered`.
    pub state: &'static str,
    /// Seconds the binding has left, when registered.
    pub expires_in_s: Option<u64>,
    /// The status of the last failure, if it had one.
    pub last_failure: Option<u16>,
    /// REGISTERs that ended with a 2xx.
    pub successes: u64,
}

struct Attempt {
    branch: String,
    tx: NonInviteClient,
    expires_s: u32,
    /// Whether it already answered a challenge (a second one is a failure).
    answered_challenge: bool,
}

struct Registrar {
    target: RegisterTarget,
    machine: Registration,
    call_id: String,
    tag: String,
    cseq: u32,
    in_flight: Option<Attempt>,
    successes: u64,
    last_failure: Option<u16>,
    /// Its trunk is gone: it is removing its binding and no longer shown.
    leaving: bool,
    /// Its un-REGISTER ended: forgotten at the end of this input.
    done: bool,
}

/// The registrations of one endpoint.
pub struct Registrations {
    trunks: Vec<Registrar>,
    sent_by: String,
    timers: Timers,
    seed: u64,
    sent: u64,
    /// Registrations made so far (each one's Call-ID secret).
    made: u64,
    view: Arc<[RegistrationStatus]>,
}

impl Registrations {
    /// Registrations for `targets`, the first REGISTERs due at `now`; requests come
    /// from `sent_by` (our `IP:port`); `seed` makes Call-IDs, tags and branches
    /// unpredictable.
    pub fn new(
        now: Instant,
        targets: Vec<RegisterTarget>,
        sent_by: String,
        timers: Timers,
        seed: u64,
    ) -> Self {
        let mut r = Self {
            trunks: Vec::new(),
            sent_by,
            timers,
            seed,
            sent: 0,
            made: 0,
            view: Arc::from(Vec::new()),
        };
        r.trunks = targets.into_iter().map(|t| r.registrar(now, t)).collect();
        r.refresh_view(now);
        r
    }

    /// A registration with `target`, its first REGISTER due at `now`, with a Call-ID and
    /// tag of its own.
    fn registrar(&mut self, now: Instant, target: RegisterTarget) -> Registrar {
        self.made += 1;
        let secret = dcx_routing::rng::mix(self.seed ^ self.made);
        let config = RegistrationConfig {
            expires_s: target.expires_s,
            ..RegistrationConfig::default()
        };
        Registrar {
            call_id: format!("reg-{secret:016x}@{}", self.sent_by),
            tag: format!("{:x}", dcx_routing::rng::mix(secret)),
            machine: Registration::new(now, config),
            target,
            cseq: 0,
            in_flight: None,
            successes: 0,
            last_failure: None,
            leaving: false,
            done: false,
        }
    }

    /// Registers with `targets` from now on (the trunks changed through the API): a
    /// registration whose target is unchanged goes on as it was; a new or changed one
    /// registers now; one whose binding no new target replaces (the same account at the
    /// same address) removes it with `Expires: 0`, if it ever made one.
    pub fn reconfigure(&mut self, now: Instant, targets: Vec<RegisterTarget>) {
        let (leaving, mut old): (Vec<_>, Vec<_>) = std::mem::take(&mut self.trunks)
            .into_iter()
            .partition(|r| r.leaving);
        // The bindings the new targets make: an account at a registrar.
        let bindings: Vec<(SocketAddr, String)> = targets
            .iter()
            .map(|t| (t.addr, t.credentials.username.clone()))
            .collect();
        let replaces = |r: &Registrar| {
            let made = (r.target.addr, &r.target.credentials.username);
            bindings.iter().any(|(addr, user)| (*addr, user) == made)
        };
        // A binding being removed that a new target makes again is left alone: the
        // un-REGISTER could reach the registrar after the new REGISTER.
        let leaving: Vec<_> = leaving.into_iter().filter(|r| !replaces(r)).collect();
        for t in targets {
            let same = old.iter().position(|r| {
                let o = &r.target;
                (&o.name, o.addr, &o.credentials, o.expires_s, o.transport)
                    == (&t.name, t.addr, &t.credentials, t.expires_s, t.transport)
            });
            let registrar = match same {
                Some(i) => old.swap_remove(i),
                None => self.registrar(now, t),
            };
            self.trunks.push(registrar);
        }
        for mut r in old {
            if r.successes == 0 || replaces(&r) {
                continue;
            }
            tracing::info!(trunk = %r.target.name, "removing the binding of a removed trunk");
            // A refresh in flight is abandoned: the un-REGISTER supersedes it (higher
            // CSeq, same Call-ID).
            r.in_flight = None;
            r.leaving = true;
            r.machine.unregister(now);
            self.trunks.push(r);
        }
        self.trunks.extend(leaving);
        self.refresh_view(now);
    }

    /// Each registration's state (cheap to clone).
    pub fn view(&self) -> Arc<[RegistrationStatus]> {
        self.view.clone()
    }

    /// A response from `from`; returns whether it answered one of our REGISTERs.
    pub fn handle_response(&mut self, now: Instant, from: SocketAddr, msg: &Message<'_>) -> bool {
        let (Some(code), Some(branch)) = (
            msg.status_code(),
            msg.top_via().ok().and_then(|v| v.branch()),
        ) else {
            return false;
        };
        let Some(i) = self
            .trunks
            .iter()
            .position(|r| r.in_flight.as_ref().is_some_and(|a| a.branch == branch))
        else {
            return false;
        };
        if let Some(a) = &mut self.trunks[i].in_flight {
            a.tx.handle_response(now, code);
            while a.tx.poll_event().is_some() {}
        }
        if code < 200 {
            return true;
        }
        if matches!(code, 401 | 407) && self.answer_challenge(now, i, from, code, msg) {
            return true;
        }
        let granted = match code {
            200..=299 => self.granted_expiry(msg),
            423 => min_expires(msg),
            _ => None,
        };
        self.finish(now, i, Some(code), granted);
        self.trunks.retain(|r| !r.done);
        true
    }

    /// The expiry the registrar granted our Contact: its `expires` parameter, else the
    /// `Expires` header.
    fn granted_expiry(&self, msg: &Message<'_>) -> Option<u32> {
        let ours = format!("@{}", self.sent_by);
        let from_contact = msg.contacts().filter_map(Result::ok).find_map(|c| match c {
            Contact::Address(a) if a.uri_raw.contains(&ours) => a
                .params
                .get("expires")
                .flatten()
                .and_then(|v| v.parse().ok()),
            _ => None,
        });
        from_contact.or_else(|| {
            msg.header("Expires")
                .and_then(dcx_sip::Header::value_str)
                .and_then(|v| v.trim().parse().ok())
        })
    }

    /// Sends the REGISTER again with credentials; false when it cannot (no second
    /// answer in one attempt, a challenge from elsewhere, an unreadable challenge).
    fn answer_challenge(
        &mut self,
        now: Instant,
        i: usize,
        from: SocketAddr,
        code: u16,
        msg: &Message<'_>,
    ) -> bool {
        let r = &self.trunks[i];
        let Some(attempt) = &r.in_flight else {
            return false;
        };
        if attempt.answered_challenge || from != r.target.addr {
            return false;
        }
        let Ok((challenge, answer)) = crate::call::attempts::read_challenge(code, msg) else {
            return false;
        };
        let cnonce = format!("{:016x}", dcx_routing::rng::mix(self.seed ^ self.sent));
        let uri = r.request_uri();
        let value = authorize(
            &challenge,
            &r.target.credentials,
            "REGISTER",
            &uri,
            &[],
            1,
            &cnonce,
        );
        let expires_s = attempt.expires_s;
        self.send(now, i, expires_s, Some((answer, &value)));
        if let Some(a) = &mut self.trunks[i].in_flight {
            a.answered_challenge = true;
        }
        true
    }

    fn finish(&mut self, now: Instant, i: usize, status: Option<u16>, granted: Option<u32>) {
        let r = &mut self.trunks[i];
        r.in_flight = None;
        if r.leaving {
            r.done = true;
            tracing::info!(trunk = %r.target.name, status, "binding of a removed trunk ended");
            return;
        }
        match status {
            Some(code @ 200..=299) => {
                r.successes += 1;
                tracing::info!(trunk = %r.target.name, code, expires_s = granted, "registered");
                r.machine.handle_response(now, code, granted);
            }
            Some(code) => {
                r.last_failure = Some(code);
                tracing::warn!(trunk = %r.target.name, code, "registration refused");
                r.machine.handle_response(now, code, granted);
            }
            None => {
                tracing::warn!(trunk = %r.target.name, "registration timed out");
                r.machine.handle_timeout_failure(now);
            }
        }
        self.refresh_view(now);
    }

    /// Runs the transactions' timers and sends the REGISTERs that are due.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        for i in 0..self.trunks.len() {
            let mut timed_out = false;
            if let Some(a) = &mut self.trunks[i].in_flight {
                a.tx.handle_timeout(now);
                while let Some(e) = a.tx.poll_event() {
                    timed_out |= e == ClientEvent::Timeout;
                }
            }
            if timed_out {
                self.finish(now, i, None, None);
            }
            if self.trunks[i].in_flight.is_none() {
                if let Some(RegistrationAction::SendRegister { expires_s }) =
                    self.trunks[i].machine.poll_action(now)
                {
                    self.send(now, i, expires_s, None);
                    self.refresh_view(now);
                }
            }
        }
        self.trunks.retain(|r| !r.done);
        self.transmit(out);
    }

    /// Moves what the transactions want to send into `out`.
    pub fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        for r in &mut self.trunks {
            let addr = r.target.addr;
            if let Some(a) = &mut r.in_flight {
                while let Some(b) = a.tx.poll_transmit() {
                    out.push_back((addr, b.to_vec()));
                }
            }
        }
    }

    fn send(&mut self, now: Instant, i: usize, expires_s: u32, auth: Option<(&str, &str)>) {
        self.sent += 1;
        let secret = dcx_routing::rng::mix(self.seed ^ self.sent.wrapping_mul(0x9E37_79B9));
        let branch = format!("{}-reg-{secret:016x}", dcx_sip::headers::MAGIC_COOKIE);
        let sent_by = self.sent_by.clone();
        let timers = self.timers;
        let r = &mut self.trunks[i];
        r.cseq += 1;
        let uri = r.request_uri();
        let aor = format!(
            "<sip:{}@{}>",
            r.target.credentials.username,
            r.target.addr.ip()
        );
        let contact = format!("<sip:{}@{sent_by}>", r.target.credentials.username);
        let expires = expires_s.to_string();
        let mut b = RequestBuilder::new(Method::Register, &uri)
            .via(ViaSpec {
                transport: r.target.transport.via(),
                sent_by: &sent_by,
                branch: &branch,
                rport: true,
            })
            .max_forwards(70)
            .from(&aor, &r.tag)
            .to(&aor, None)
            .call_id(&r.call_id)
            .cseq(r.cseq)
            .contact(&contact)
            .header("Expires", expires.as_bytes());
        if let Some((name, value)) = auth {
            b = b.header(name, value.as_bytes());
        }
        let mut bytes = Vec::with_capacity(512);
        match b.write_to(&mut bytes) {
            Ok(()) => {
                let answered_challenge = r.in_flight.as_ref().is_some_and(|a| a.answered_challenge);
                let reliability = r.target.transport.reliability();
                r.in_flight = Some(Attempt {
                    branch,
                    tx: NonInviteClient::new(now, bytes, reliability, timers),
                    expires_s,
                    answered_challenge,
                });
            }
            Err(e) => {
                tracing::warn!(trunk = %r.target.name, "cannot build REGISTER: {e}");
                r.machine.handle_timeout_failure(now);
                r.done |= r.leaving;
            }
        }
    }

    fn refresh_view(&mut self, now: Instant) {
        self.view = self
            .trunks
            .iter()
            .filter(|r| !r.leaving)
            .map(|r| {
                let (state, expires_in_s) = match r.machine.state() {
                    RegistrationState::Registered { until } => (
                        "registered",
                        Some(until.saturating_duration_since(now).as_secs()),
                    ),
                    RegistrationState::Registering => ("registering", None),
                    RegistrationState::Failed { .. } => ("failed", None),
                    RegistrationState::Unregistered => ("unregistered", None),
                };
                RegistrationStatus {
                    name: r.target.name.clone(),
                    state,
                    expires_in_s,
                    last_failure: r.last_failure,
                    successes: r.successes,
                }
            })
            .collect();
    }

    /// When `handle_timeout` is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.trunks
            .iter()
            .flat_map(|r| {
                let tx = r.in_flight.as_ref().and_then(|a| a.tx.poll_timeout());
                let due = r
                    .in_flight
                    .is_none()
                    .then(|| r.machine.poll_timeout())
                    .flatten();
                tx.into_iter().chain(due)
            })
            .min()
    }
}

impl Registrar {
    /// The registrar's URI: `sip:` and the trunk's address.
    fn request_uri(&self) -> String {
        format!("sip:{}", self.target.addr)
    }
}

/// A 423's `Min-Expires`.
fn min_expires(msg: &Message<'_>) -> Option<u32> {
    msg.header("Min-Expires")
        .and_then(dcx_sip::Header::value_str)
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn target(name: &str, addr: &str) -> RegisterTarget {
        RegisterTarget {
            name: name.into(),
            addr: addr.parse().unwrap(),
            credentials: Credentials {
                username: "gw".into(),
                password: "s3cret".into(),
            },
            expires_s: 3600,
            transport: Transport::Udp,
        }
    }

    /// The REGISTERs sent at `now`, as `(to, Call-ID)`.
    fn sent(r: &mut Registrations, now: Instant) -> Vec<(SocketAddr, String)> {
        sent_whole(r, now)
            .into_iter()
            .map(|(to, call_id, _, _)| (to, call_id))
            .collect()
    }

    /// The REGISTERs sent at `now`, as `(to, Call-ID, Expires, the datagram)`.
    fn sent_whole(
        r: &mut Registrations,
        now: Instant,
    ) -> Vec<(SocketAddr, String, String, Vec<u8>)> {
        let mut out = VecDeque::new();
        r.handle_timeout(now, &mut out);
        out.into_iter()
            .map(|(to, bytes)| {
                let msg = Message::parse_datagram(&bytes).unwrap();
                assert_eq!(msg.method(), Some(dcx_sip::Method::Register));
                let expires = msg
                    .header("Expires")
                    .and_then(dcx_sip::Header::value_str)
                    .unwrap()
                    .to_owned();
                let call_id = msg.call_id().unwrap().to_owned();
                (to, call_id, expires, bytes)
            })
            .collect()
    }

    /// The registrar's answer to `request`: `status`, with a Contact granting an
    /// hour when it is a 2xx.
    fn answer(request: &[u8], status: u16) -> Vec<u8> {
        let req = Message::parse_datagram(request).unwrap();
        let mut text = format!("SIP/2.0 {status} Whatever\r\n");
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            let value = req
                .header(name)
                .and_then(dcx_sip::Header::value_str)
                .unwrap();
            text.push_str(name);
            text.push_str(": ");
            text.push_str(value);
            text.push_str("\r\n");
        }
        if status < 300 {
            text.push_str("Contact: <sip:gw@203.0.113.10:5060>;expires=3600\r\n");
        }
        text.push_str("Content-Length: 0\r\n\r\n");
        text.into_bytes()
    }

    /// A registration with carrier-b that the registrar accepted.
    fn registered_with_b(now: Instant) -> (Registrations, String) {
        let b = "198.51.100.20:5060".parse().unwrap();
        let mut r = Registrations::new(
            now,
            vec![target("carrier-b", "198.51.100.20:5060")],
            "203.0.113.10:5060".into(),
            Timers::default(),
            9,
        );
        let first = sent_whole(&mut r, now);
        assert_eq!(first[0].2, "3600");
        let ok = answer(&first[0].3, 200);
        assert!(r.handle_response(now, b, &Message::parse_datagram(&ok).unwrap()));
        assert_eq!(r.view()[0].state, "registered");
        (r, first[0].1.clone())
    }

    #[test]
    fn a_removed_trunk_removes_its_binding_then_is_forgotten() {
        let now = Instant::now();
        let b: SocketAddr = "198.51.100.20:5060".parse().unwrap();
        let (mut r, call_id) = registered_with_b(now);
        r.reconfigure(now, vec![target("carrier-x", "198.51.100.30:5060")]);
        let names: Vec<String> = r.view().iter().map(|v| v.name.clone()).collect();
        assert_eq!(names, ["carrier-x"], "a leaving registration is not shown");
        let out = sent_whole(&mut r, now);
        let to_b: Vec<_> = out.iter().filter(|s| s.0 == b).collect();
        assert_eq!(to_b.len(), 1, "one un-REGISTER to carrier-b: {out:?}");
        assert_eq!(to_b[0].2, "0", "Expires: 0");
        assert_eq!(to_b[0].1, call_id, "on the binding's own Call-ID");
        // The registrar's 200 ends it: nothing more is sent to carrier-b, ever.
        let ok = answer(&to_b[0].3, 200);
        assert!(r.handle_response(now, b, &Message::parse_datagram(&ok).unwrap()));
        let later = now + Duration::from_secs(7200);
        assert!(sent_whole(&mut r, later).iter().all(|s| s.0 != b));
        assert_eq!(r.trunks.len(), 1);
    }

    #[test]
    fn a_binding_a_new_target_makes_again_is_not_removed() {
        let now = Instant::now();
        let b: SocketAddr = "198.51.100.20:5060".parse().unwrap();
        let (mut r, call_id) = registered_with_b(now);
        // The same account at the same registrar, with a new password and name: the
        // new REGISTER replaces the binding, and no un-REGISTER may race it.
        let mut changed = target("carrier-b2", "198.51.100.20:5060");
        changed.credentials.password = "n3w".into();
        r.reconfigure(now, vec![changed]);
        let out = sent_whole(&mut r, now);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].0, out[0].2.as_str()), (b, "3600"));
        assert_ne!(out[0].1, call_id, "a new registration");
        // Removed before it ever registered: nothing to remove.
        r.reconfigure(now, vec![]);
        assert!(sent_whole(&mut r, now).is_empty());
        assert!(r.trunks.is_empty());
    }

    #[test]
    fn an_unregister_that_times_out_is_forgotten() {
        let now = Instant::now();
        let (mut r, _) = registered_with_b(now);
        r.reconfigure(now, vec![]);
        assert_eq!(sent_whole(&mut r, now).len(), 1);
        assert!(r.view().is_empty());
        // Timer F (64 T1) passes with no answer.
        let mut t = now;
        while r.trunks.len() == 1 && t < now + Duration::from_secs(60) {
            t = r
                .poll_timeout()
                .unwrap_or(t + Duration::from_secs(1))
                .max(t);
            let _ = sent_whole(&mut r, t);
            t += Duration::from_millis(1);
        }
        assert!(r.trunks.is_empty(), "forgotten after the timeout");
        assert_eq!(r.poll_timeout(), None);
    }

    #[test]
    fn a_reconfigure_goes_on_with_an_unchanged_registration_and_registers_a_new_one() {
        let now = Instant::now();
        let mut r = Registrations::new(
            now,
            vec![target("carrier-b", "198.51.100.20:5060")],
            "203.0.113.10:5060".into(),
            Timers::default(),
            9,
        );
        let first = sent(&mut r, now);
        assert_eq!(first.len(), 1);
        r.reconfigure(
            now,
            vec![
                target("carrier-b", "198.51.100.20:5060"),
                target("carrier-x", "198.51.100.30:5060"),
            ],
        );
        let view = r.view();
        let names: Vec<&str> = view.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["carrier-b", "carrier-x"]);
        let second = sent(&mut r, now);
        assert_eq!(second.len(), 1, "only the new trunk registers: {second:?}");
        assert_eq!(second[0].0.to_string(), "198.51.100.30:5060");
        assert_ne!(second[0].1, first[0].1, "a Call-ID of its own");
        // Gone from the config: no longer registered or shown.
        r.reconfigure(now, vec![target("carrier-x", "198.51.100.30:5060")]);
        assert_eq!(r.view().len(), 1);
        assert_eq!(r.view()[0].name, "carrier-x");
    }
}
