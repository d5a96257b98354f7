//! Session timers (RFC 4028) on each leg of an answered call, so that a call whose far
//! end vanished (a crashed carrier, a lost BYE) is torn down and its CDR closed.
//!
//! - Toward carriers every INVITE offers `Supported: timer`, `Session-Expires: 1800` and
//!   `Min-SE: 90`; a carrier that answers with `Session-Expires` runs a timer on that
//!   leg, with the refresher its 2xx names.
//! - From the origin: an INVITE with `Session-Expires` below our `Min-SE` gets 422;
//!   otherwise the 200 carries `Session-Expires` (the origin's refresher, else the
//!   origin refreshes) and `Require: timer` when the origin supports it.
//! - A leg's session is refreshed by any successful re-INVITE on it (relayed ones
//!   included, which carry `Session-Expires`) and by an UPDATE without a body (answered
//!   by dcx). Where dcx is the refresher it sends, at half the interval, a re-INVITE
//!   with the SDP that leg already has from it; a 408 or 481 to it ends the call.
//! - A leg whose peer should have refreshed and did not (interval minus
//!   min(32 s, interval/3)) ends the call: BYE both ways, CDR reason
//!   "session timer expired".

use super::super::legs::Request;
use super::{HangupSide, Phase, Side, TransitCall};
use dcx_sip::dialog::session_timer::{Action, Offer, Refresher, SessionTimer, SessionTimerConfig};
use dcx_sip::transaction::{ClientEvent, InviteClient};
use dcx_sip::{Message, Method};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// What every INVITE toward a carrier offers.
pub const SESSION_TIMER_OFFER: &[(&str, &str)] = &[
    ("Supported", "timer"),
    ("Session-Expires", "1800"),
    ("Min-SE", "90"),
];

/// One leg's running timer.
#[derive(Debug, Clone)]
pub(super) struct LegTimer {
    timer: SessionTimer,
    interval_s: u32,
    /// The peer said `Supported: timer` (so our 2xx may `Require` it).
    peer_supports: bool,
}

impl LegTimer {
    fn restart(&mut self, now: Instant) {
        let refresher = if self.timer.we_refresh() {
            Refresher::Uac
        } else {
            Refresher::Uas
        };
        self.timer = SessionTimer::start(now, self.interval_s, refresher, true);
    }

    /// `Session-Expires` for a transaction in which we are the UAC (`we_send`) or the
    /// UAS: `refresher` names the role of whoever refreshes.
    fn header(&self, we_send: bool) -> String {
        let who = if self.timer.we_refresh() == we_send {
            "uac"
        } else {
            "uas"
        };
        format!("{};refresher={who}", self.interval_s)
    }
}

/// A refresh re-INVITE dcx sends on one leg.
#[derive(Debug)]
pub(super) struct Refresh {
    side: Side,
    branch: String,
    cseq: u32,
    to: SocketAddr,
    client: InviteClient,
    ack: Option<(SocketAddr, Vec<u8>)>,
    resend_ack: bool,
    /// A final response (or timer B) ended it.
    done: bool,
}

impl Refresh {
    pub(super) fn is_our_branch(&self, branch: &str) -> bool {
        self.branch == branch
    }

    pub(super) fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        while let Some(b) = self.client.poll_transmit() {
            out.push_back((self.to, b.to_vec()));
        }
        if std::mem::take(&mut self.resend_ack) {
            if let Some((to, bytes)) = &self.ack {
                out.push_back((*to, bytes.clone()));
            }
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.client.poll_timeout()
    }

    /// Whether it still waits for a final response.
    pub(super) fn pending(&self) -> bool {
        !self.done
    }
}

/// `Min-SE`'s delta-seconds.
fn min_se(msg: &Message<'_>) -> Option<u32> {
    let v = msg.header("Min-SE")?.value_str()?;
    v.split(';').next()?.trim().parse().ok()
}

fn supports_timer(msg: &Message<'_>) -> bool {
    msg.supported()
        .filter_map(Result::ok)
        .any(|t| t.eq_ignore_ascii_case("timer"))
}

impl TransitCall {
    /// Reads the origin's `Session-Expires`: `Err(min_se)` when it is too small (422).
    pub(super) fn origin_session(&mut self, msg: &Message<'_>) -> Result<(), u32> {
        let Some(se) = msg.session_expires().ok().flatten() else {
            return Ok(());
        };
        match SessionTimerConfig::default().answer(Some((se.delta_secs, se.refresher)), min_se(msg))
        {
            Offer::TooSmall { min_se_s } => Err(min_se_s),
            Offer::Accept {
                interval_s,
                refresher,
            } => {
                self.origin_se = Some((interval_s, refresher, supports_timer(msg)));
                Ok(())
            }
        }
    }

    /// The headers of our 200 to the origin's INVITE, and its leg's timer started.
    pub(super) fn origin_answered(&mut self, now: Instant) -> Vec<(&'static str, String)> {
        let Some((interval_s, refresher, supports)) = self.origin_se else {
            return Vec::new();
        };
        // We are the UAS of the origin's dialog.
        self.timers[0] = Some(LegTimer {
            timer: SessionTimer::start(now, interval_s, refresher, false),
            interval_s,
            peer_supports: supports,
        });
        let value = match refresher {
            Refresher::Uac => format!("{interval_s};refresher=uac"),
            Refresher::Uas => format!("{interval_s};refresher=uas"),
        };
        let mut headers = vec![("Session-Expires", value)];
        if supports {
            headers.push(("Require", "timer".to_owned()));
        }
        headers
    }

    /// The carrier's 2xx: a timer on its leg if it agreed to one.
    pub(super) fn carrier_answered_timer(&mut self, now: Instant, msg: &Message<'_>) {
        let Some(se) = msg.session_expires().ok().flatten() else {
            return;
        };
        let interval_s = se.delta_secs.max(90);
        let refresher = se.refresher.unwrap_or(Refresher::Uac);
        self.timers[1] = Some(LegTimer {
            timer: SessionTimer::start(now, interval_s, refresher, true),
            interval_s,
            peer_supports: true,
        });
    }

    /// Headers for a request dcx sends on `side` (a relayed re-INVITE): the leg's
    /// `Session-Expires`, if it has a timer.
    pub(super) fn timer_request_headers(&self, side: Side) -> Vec<(&'static str, String)> {
        self.timers[side.slot()]
            .as_ref()
            .map_or_else(Vec::new, |t| {
                vec![
                    ("Supported", "timer".to_owned()),
                    ("Session-Expires", t.header(true)),
                ]
            })
    }

    /// Headers for our 2xx to a refresh from `side`.
    pub(super) fn timer_response_headers(&self, side: Side) -> Vec<(&'static str, String)> {
        self.timers[side.slot()]
            .as_ref()
            .map_or_else(Vec::new, |t| {
                let mut h = vec![("Session-Expires", t.header(false))];
                if t.peer_supports {
                    h.push(("Require", "timer".to_owned()));
                }
                h
            })
    }

    /// When a leg's timer is due (only while answered).
    pub(super) fn session_deadline(&self) -> Option<Instant> {
        if !matches!(self.phase, Phase::Answered(_)) {
            return None;
        }
        self.timers
            .iter()
            .flatten()
            .filter_map(|t| t.timer.poll_timeout())
            .min()
    }

    /// A successful re-INVITE (or UPDATE) on `side` refreshed its session.
    pub(super) fn refreshed(&mut self, now: Instant, side: Side) {
        if let Some(t) = &mut self.timers[side.slot()] {
            t.restart(now);
        }
    }

    /// An UPDATE from `side`: without a body it is a refresh, answered here.
    pub(super) fn update_from(
        &mut self,
        now: Instant,
        from: SocketAddr,
        side: Side,
        msg: &Message<'_>,
    ) {
        let tag = self.local_tag(side);
        let timers = self.setup.timers;
        if !msg.body().is_empty() {
            // Media changes by UPDATE are not relayed yet (re-INVITE is).
            self.requests
                .answer(now, from, msg, (501, b"Not Implemented"), &tag, timers);
            return;
        }
        self.refreshed(now, side);
        let headers = self.timer_response_headers(side);
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, v.as_bytes())).collect();
        self.requests
            .answer_with(now, from, msg, (200, b"OK"), &tag, timers, &headers);
    }

    /// Runs the legs' timers: refreshes due, sessions expired.
    pub(super) fn session_timeout(&mut self, now: Instant) {
        if !matches!(self.phase, Phase::Answered(_)) {
            return;
        }
        for i in 0..2 {
            let action = self.timers[i]
                .as_mut()
                .and_then(|t| t.timer.handle_timeout(now));
            match action {
                Some(Action::Refresh) => self.send_refresh(now, i),
                Some(Action::Expired) => {
                    let leg = if i == 0 { "origin" } else { "carrier" };
                    tracing::debug!(call_id = %self.parties.call_id, leg, "session timer expired");
                    self.hang_up_both(now);
                    self.end(now, 200, HangupSide::System, "session timer expired");
                    return;
                }
                None => {}
            }
        }
    }

    fn send_refresh(&mut self, now: Instant, i: usize) {
        let Phase::Answered(answered) = self.phase else {
            return;
        };
        // One offer/answer at a time on a dialog: a relayed re-INVITE refreshes anyway.
        if self
            .reinvite
            .as_ref()
            .is_some_and(super::reinvite::Relayed::pending)
            || self.refresh.as_ref().is_some_and(Refresh::pending)
        {
            return;
        }
        let side = if i == 0 {
            Side::Origin
        } else {
            Side::Carrier(answered)
        };
        let headers = self.timer_request_headers(side);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let body = self.sent_sdp[i].clone();
        let branch = self.ids.branch();
        let local = self.setup.local.clone();
        let timers = self.setup.timers;
        let d = match side {
            Side::Origin => &mut self.origin.dialog,
            Side::Carrier(a) => &mut self.dialer.attempts[a].dialog,
        };
        d.local_cseq += 1;
        let mut r = Request::new(Method::Invite, d.local_cseq, &branch, &local);
        r.body = body.as_ref().map(|(t, b)| (t.as_str(), b.as_slice()));
        r.headers = &headers;
        match d.request(&r) {
            Ok(bytes) => {
                let client = InviteClient::new(now, bytes, d.transport.reliability(), timers);
                self.refresh = Some(Refresh {
                    side,
                    branch,
                    cseq: d.local_cseq,
                    to: d.next_hop(),
                    client,
                    ack: None,
                    resend_ack: false,
                    done: false,
                });
            }
            Err(e) => tracing::debug!("cannot build a session refresh: {e}"),
        }
    }

    /// A response to our refresh re-INVITE.
    pub(super) fn refresh_response(&mut self, now: Instant, msg: &Message<'_>) {
        let Some(code) = msg.status_code() else {
            return;
        };
        let ack_branch = self.ids.branch();
        let local = self.setup.local.clone();
        let Some(r) = &mut self.refresh else { return };
        let d = match r.side {
            Side::Origin => &self.origin.dialog,
            Side::Carrier(a) => &self.dialer.attempts[a].dialog,
        };
        let to_tag = msg.to().ok().and_then(|t| t.tag()).map(str::to_owned);
        let (branch, cseq) = (r.branch.clone(), r.cseq);
        r.client.handle_response(now, code, || {
            let mut ack = Request::new(Method::Ack, cseq, &branch, &local);
            ack.to_tag = to_tag.as_deref();
            d.request(&ack).unwrap_or_default()
        });
        let mut finals = Vec::new();
        while let Some(e) = r.client.poll_event() {
            if let ClientEvent::Final(c) = e {
                finals.push(c);
            }
        }
        let side = r.side;
        let (mut accepted, mut dialog_gone) = (false, false);
        for code in finals {
            r.done = true;
            match code {
                200..=299 => {
                    if r.ack.is_none() {
                        let ack = Request::new(Method::Ack, cseq, &ack_branch, &local);
                        r.ack = d.request(&ack).ok().map(|b| (d.next_hop(), b));
                        accepted = true;
                    }
                    r.resend_ack = true;
                }
                // RFC 4028 10 / RFC 3261 12.2.1.2: the dialog is gone.
                408 | 481 => dialog_gone = true,
                // Anything else: the timer asks again at its pace.
                _ => {}
            }
        }
        if dialog_gone {
            self.hang_up_both(now);
            self.end(now, 200, HangupSide::System, "session refresh failed");
        } else if accepted {
            // An answer to the SDP the leg already had: the media does not change.
            if let Some(se) = msg.session_expires().ok().flatten() {
                if let Some(t) = &mut self.timers[side.slot()] {
                    t.interval_s = se.delta_secs.max(90);
                }
            }
            self.refreshed(now, side);
        }
    }

    /// Runs the refresh's transaction timers.
    pub(super) fn refresh_timeout(&mut self, now: Instant) {
        let Some(r) = &mut self.refresh else { return };
        r.client.handle_timeout(now);
        let mut timed_out = false;
        while let Some(e) = r.client.poll_event() {
            timed_out |= e == ClientEvent::Timeout;
        }
        r.done |= timed_out;
        if timed_out && matches!(self.phase, Phase::Answered(_)) {
            self.hang_up_both(now);
            self.end(now, 200, HangupSide::System, "session refresh timed out");
        }
    }
}
