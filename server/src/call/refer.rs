//! A blind transfer by REFER (RFC 3515, as RFC 5589 describes for transfers): dcx asks
//! the carrier on an answered call to call the new number itself. dcx sends REFER with
//! `Refer-To: <sip:NUMBER@carrier-host>` and `Referred-By`; the carrier accepts (202)
//! and reports how its new call went in NOTIFYs with a `message/sipfrag` body. A 2xx
//! there means the carrier has the call: dcx hangs up its side. A refusal of the REFER,
//! a failure in the sipfrag, a subscription that ends without a final status, or no
//! final NOTIFY within [`NOTIFY_WAIT`] means the carrier did not take it: the call is
//! still up, and dcx puts it through itself (a new leg it bridges).
//!
//! Sans-IO: [`Refer::send`] builds the request in the call's dialog, the call feeds
//! responses, NOTIFYs and timeouts in, and [`Refer::poll_outcome`] says when it is
//! decided.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dcx_sip::transaction::{ClientEvent, NonInviteClient, Timers};
use dcx_sip::{Message, Method, SipError};

use super::legs::{Dialog, Local, Request};

/// How long dcx waits after the 202 for the NOTIFY with the final status.
pub const NOTIFY_WAIT: Duration = Duration::from_secs(32);

/// How a REFER ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferOutcome {
    /// The carrier's new call was answered: the carrier has the call.
    Transferred,
    /// The carrier did not take the transfer; why, in words.
    Failed(String),
}

/// A REFER in flight.
#[derive(Debug)]
pub struct Refer {
    branch: String,
    to: SocketAddr,
    tx: NonInviteClient,
    /// The 202 came: waiting for the NOTIFYs until then.
    accepted_until: Option<Instant>,
    outcome: Option<ReferOutcome>,
    reported: bool,
}

impl Refer {
    /// Sends REFER for `number` in `dialog` (its remote target's host is the carrier's),
    /// referred by `referred_by` (our address).
    pub fn send(
        now: Instant,
        dialog: &mut Dialog,
        number: &str,
        (branch, local, timers): (String, &Local, Timers),
    ) -> Result<Self, SipError> {
        let refer_to = format!("<sip:{number}@{}>", host_of(&dialog.remote_target));
        let referred_by = if dialog.local_uri.starts_with('<') {
            dialog.local_uri.clone()
        } else {
            format!("<{}>", dialog.local_uri)
        };
        dialog.local_cseq += 1;
        let headers = [
            ("Refer-To", refer_to.as_str()),
            ("Referred-By", referred_by.as_str()),
        ];
        let mut r = Request::new(Method::Refer, dialog.local_cseq, &branch, local);
        r.headers = &headers;
        let bytes = dialog.request(&r)?;
        let tx = NonInviteClient::new(now, bytes, dialog.transport.reliability(), timers);
        Ok(Self {
            branch,
            to: dialog.next_hop(),
            tx,
            accepted_until: None,
            outcome: None,
            reported: false,
        })
    }

    /// [`Refer::send`], logged: the REFER and its number, or `None` when it cannot be
    /// built (the call's `call_id` names it in the log).
    pub fn start(
        now: Instant,
        dialog: &mut Dialog,
        number: &str,
        setup: (String, &Local, Timers),
        call_id: &str,
    ) -> Option<(Self, String)> {
        match Self::send(now, dialog, number, setup) {
            Ok(r) => {
                tracing::info!(%call_id, %number, "REFER sent to the carrier");
                Some((r, number.to_owned()))
            }
            Err(e) => {
                tracing::debug!(%call_id, "cannot build the REFER: {e}");
                None
            }
        }
    }

    /// Whether `msg` (a response) answers our REFER.
    pub fn is_ours(&self, msg: &Message<'_>) -> bool {
        msg.top_via().ok().and_then(|v| v.branch()) == Some(self.branch.as_str())
    }

    /// A response to the REFER.
    pub fn handle_response(&mut self, now: Instant, code: u16) {
        self.tx.handle_response(now, code);
        while let Some(e) = self.tx.poll_event() {
            match e {
                ClientEvent::Final(200..=299) if self.accepted_until.is_none() => {
                    self.accepted_until = Some(now + NOTIFY_WAIT);
                }
                ClientEvent::Final(code @ 300..) => {
                    self.decide(ReferOutcome::Failed(format!(
                        "the carrier refused the REFER ({code})"
                    )));
                }
                ClientEvent::Timeout => {
                    self.decide(ReferOutcome::Failed("no answer to the REFER".into()));
                }
                _ => {}
            }
        }
    }

    /// A NOTIFY in the call's dialog: whether it is about our REFER (`Event: refer`).
    /// The call answers it 200 either way.
    pub fn handle_notify(&mut self, msg: &Message<'_>) -> bool {
        let event = msg
            .header("Event")
            .and_then(dcx_sip::Header::value_str)
            .unwrap_or_default();
        if !event.trim().to_ascii_lowercase().starts_with("refer") {
            return false;
        }
        let status = sipfrag_status(msg.body());
        match status {
            Some(200..=299) => self.decide(ReferOutcome::Transferred),
            Some(code @ 300..) => {
                self.decide(ReferOutcome::Failed(format!(
                    "the carrier's new call failed ({code})"
                )));
            }
            _ => {}
        }
        let state = msg
            .header("Subscription-State")
            .and_then(dcx_sip::Header::value_str)
            .unwrap_or_default();
        if state.trim().to_ascii_lowercase().starts_with("terminated") {
            self.decide(ReferOutcome::Failed(
                "the carrier ended the transfer without a final status".into(),
            ));
        }
        true
    }

    /// Runs the REFER's timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.handle_response_events(now);
        if self.accepted_until.is_some_and(|t| now >= t) {
            self.decide(ReferOutcome::Failed(
                "no final NOTIFY from the carrier".into(),
            ));
        }
    }

    fn handle_response_events(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        while let Some(e) = self.tx.poll_event() {
            if e == ClientEvent::Timeout {
                self.decide(ReferOutcome::Failed("no answer to the REFER".into()));
            }
        }
    }

    /// The first outcome stands.
    fn decide(&mut self, outcome: ReferOutcome) {
        if self.outcome.is_none() {
            self.outcome = Some(outcome);
        }
    }

    /// How it ended, once (then `None`).
    pub fn poll_outcome(&mut self) -> Option<ReferOutcome> {
        if self.reported {
            return None;
        }
        let o = self.outcome.clone()?;
        self.reported = true;
        Some(o)
    }

    /// The REFER's datagrams.
    pub fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        while let Some(b) = self.tx.poll_transmit() {
            out.push_back((self.to, b.to_vec()));
        }
    }

    /// When `handle_timeout` is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return self.tx.poll_timeout();
        }
        [self.tx.poll_timeout(), self.accepted_until]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The host (and port) of a SIP URI: `sip:+1555@198.51.100.7:5060;transport=udp` is
/// `198.51.100.7:5060`.
fn host_of(uri: &str) -> &str {
    let uri = uri.trim().trim_start_matches('<');
    let rest = uri
        .strip_prefix("sips:")
        .or_else(|| uri.strip_prefix("sip:"))
        .unwrap_or(uri);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    rest.split([';', '>', '?']).next().unwrap_or(rest)
}

/// The status code of a `message/sipfrag` body (`SIP/2.0 200 OK`).
fn sipfrag_status(body: &[u8]) -> Option<u16> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.trim_start().lines().next()?;
    let mut parts = line.split_whitespace();
    if !parts.next()?.eq_ignore_ascii_case("SIP/2.0") {
        return None;
    }
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_sipfrags_read() {
        assert_eq!(
            host_of("sip:+1555@198.51.100.7:5060;transport=udp"),
            "198.51.100.7:5060"
        );
        assert_eq!(host_of("<sip:carrier.example>"), "carrier.example");
        assert_eq!(host_of("sips:a@b;x=y"), "b");
        assert_eq!(sipfrag_status(b"SIP/2.0 200 OK\r\n"), Some(200));
        assert_eq!(sipfrag_status(b"\r\nSIP/2.0 486 Busy Here"), Some(486));
        assert_eq!(sipfrag_status(b"SIP/2.0 100 Trying"), Some(100));
        assert_eq!(sipfrag_status(b"hello"), None);
        assert_eq!(sipfrag_status(b""), None);
    }

    fn dialog() -> Dialog {
        Dialog {
            call_id: "c".into(),
            local_tag: "l".into(),
            remote_tag: Some("r".into()),
            local_uri: "<sip:15550100@192.0.2.9>".into(),
            remote_uri: "<sip:+12025550100@carrier>".into(),
            remote_target: "sip:+12025550100@192.0.2.1:5070;transport=udp".into(),
            route_set: vec![],
            local_cseq: 0,
            fallback: "192.0.2.1:5070".parse().unwrap(),
            transport: crate::call::legs::Transport::Udp,
            flow: None,
        }
    }

    fn refer(now: Instant) -> (Refer, Vec<u8>) {
        let local = Local::new("192.0.2.9:5060".parse().unwrap());
        let mut d = dialog();
        let mut r = Refer::send(
            now,
            &mut d,
            "16665550000",
            ("z9hG4bK-r1".into(), &local, Timers::default()),
        )
        .unwrap();
        let mut out = VecDeque::new();
        r.transmit(&mut out);
        let (to, bytes) = out.pop_front().unwrap();
        assert_eq!(to, "192.0.2.1:5070".parse().unwrap());
        (r, bytes)
    }

    fn notify(frag: &str, state: &str) -> Vec<u8> {
        format!(
            "NOTIFY sip:dcx@192.0.2.9 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bK-n\r\n\
             From: <sip:+12025550100@carrier>;tag=r\r\nTo: <sip:15550100@192.0.2.9>;tag=l\r\n\
             Call-ID: c\r\nCSeq: 2 NOTIFY\r\nMax-Forwards: 70\r\nEvent: refer\r\n\
             Subscription-State: {state}\r\nContent-Type: message/sipfrag;version=2.0\r\n\
             Content-Length: {}\r\n\r\n{frag}",
            frag.len()
        )
        .into_bytes()
    }

    #[test]
    fn the_refer_names_the_number_at_the_carriers_host_and_who_referred() {
        let (_, bytes) = refer(Instant::now());
        let msg = Message::parse_datagram(&bytes).unwrap();
        assert_eq!(msg.method(), Some(Method::Refer));
        let h = |n: &str| {
            msg.header(n)
                .and_then(dcx_sip::Header::value_str)
                .unwrap()
                .to_owned()
        };
        assert_eq!(h("Refer-To"), "<sip:16665550000@192.0.2.1:5070>");
        assert_eq!(h("Referred-By"), "<sip:15550100@192.0.2.9>");
        assert_eq!(h("CSeq"), "1 REFER");
    }

    #[test]
    fn a_200_in_the_sipfrag_is_a_transfer_and_a_failure_or_a_silent_end_is_not() {
        let t0 = Instant::now();
        let (mut r, _) = refer(t0);
        r.handle_response(t0, 202);
        let trying = notify("SIP/2.0 100 Trying", "active;expires=60");
        assert!(r.handle_notify(&Message::parse_datagram(&trying).unwrap()));
        assert_eq!(r.poll_outcome(), None);
        let ok = notify("SIP/2.0 200 OK", "terminated;reason=noresource");
        assert!(r.handle_notify(&Message::parse_datagram(&ok).unwrap()));
        assert_eq!(r.poll_outcome(), Some(ReferOutcome::Transferred));
        assert_eq!(r.poll_outcome(), None, "once");

        let (mut r, _) = refer(t0);
        r.handle_response(t0, 202);
        let busy = notify("SIP/2.0 486 Busy Here", "terminated");
        r.handle_notify(&Message::parse_datagram(&busy).unwrap());
        assert_eq!(
            r.poll_outcome(),
            Some(ReferOutcome::Failed(
                "the carrier's new call failed (486)".into()
            ))
        );

        let (mut r, _) = refer(t0);
        r.handle_response(t0, 202);
        let silent = notify("SIP/2.0 100 Trying", "terminated;reason=timeout");
        r.handle_notify(&Message::parse_datagram(&silent).unwrap());
        assert!(matches!(r.poll_outcome(), Some(ReferOutcome::Failed(_))));
    }

    #[test]
    fn a_refusal_or_no_final_notify_in_time_is_a_failure() {
        let t0 = Instant::now();
        let (mut r, _) = refer(t0);
        r.handle_response(t0, 603);
        assert_eq!(
            r.poll_outcome(),
            Some(ReferOutcome::Failed(
                "the carrier refused the REFER (603)".into()
            ))
        );

        let (mut r, _) = refer(t0);
        r.handle_response(t0, 202);
        let due = r.poll_timeout().unwrap();
        assert!(due <= t0 + NOTIFY_WAIT);
        r.handle_timeout(t0 + NOTIFY_WAIT);
        assert_eq!(
            r.poll_outcome(),
            Some(ReferOutcome::Failed(
                "no final NOTIFY from the carrier".into()
            ))
        );
        // Another event package is not ours.
        let other = String::from_utf8(notify("SIP/2.0 200 OK", "active"))
            .unwrap()
            .replace("Event: refer", "Event: dialog");
        assert!(!r.handle_notify(&Message::parse_datagram(other.as_bytes()).unwrap()));
    }
}
