//! A carrier's new offer on a leg that dcx terminates (a browser's call to the PSTN, an
//! inbound call for an agent): a re-INVITE or an UPDATE with SDP, as a carrier sends
//! for hold (`a=sendonly`, or `c=0.0.0.0`), resume, a media move or a session refresh
//! (RFC 4028). dcx answers it itself, against the same capabilities as the call's first
//! answer (PCMU, PCMA, telephone-event at the call's RTP port) with the session version
//! one up, and the call's media task takes the new negotiation (codec, where to send,
//! whether to send at all).
//!
//! A 2xx to a re-INVITE is resent until its ACK (RFC 3261 13.3.1.4, [`Answer`]); a
//! retransmitted re-INVITE gets the same 2xx again. A re-INVITE without SDP (a refresh
//! asking dcx to offer) is answered with dcx's last SDP as the offer; the answer in the
//! ACK is not read (the media stays as it was). An UPDATE without SDP (a plain refresh)
//! gets a bare 200. An offer that cannot be answered (no common codec) gets its 488 and
//! the session stays as it was (RFC 3261 14.2).

use super::legs::body_of;
use super::origin::InCallRequests;
use dcx_sip::dialog::answer::Answer;
use dcx_sip::sdp::{negotiate, AudioCapabilities, Negotiated};
use dcx_sip::transaction::{Reliability, Timers};
use dcx_sip::{response_to, Message, Method};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

/// How a leg answers new offers.
#[derive(Debug, Clone)]
pub struct ReofferSetup {
    /// Our tag in the dialog.
    pub local_tag: String,
    /// Our Contact.
    pub contact: String,
    /// SIP timers.
    pub timers: Timers,
    /// The transport's reliability (2xx resends over UDP only).
    pub reliability: Reliability,
}

/// A 2xx to a re-INVITE, until its ACK.
#[derive(Debug)]
struct Pending {
    branch: String,
    cseq: u32,
    peer: SocketAddr,
    answer: Answer,
}

/// The carrier's new offers on one leg.
#[derive(Debug)]
pub struct Reoffers {
    setup: ReofferSetup,
    pending: Vec<Pending>,
}

impl Reoffers {
    /// For a leg set up as `setup` says.
    pub fn new(setup: ReofferSetup) -> Self {
        Self {
            setup,
            pending: Vec::new(),
        }
    }

    /// The carrier's in-dialog re-INVITE or UPDATE `msg` from `peer`: answered here
    /// (through `requests` for an UPDATE or a refusal) with the leg's capabilities
    /// `caps` (its `o=` version goes one up for every SDP sent); `last_sdp` is the SDP
    /// the leg sent last, and becomes our answer. The new negotiation, when there was
    /// an offer, for the call's media task.
    pub fn handle(
        &mut self,
        now: Instant,
        (peer, msg): (SocketAddr, &Message<'_>),
        requests: &mut InCallRequests,
        caps: &mut AudioCapabilities,
        last_sdp: &mut Vec<u8>,
    ) -> Option<Negotiated> {
        let method = msg.method()?;
        let branch = msg.top_via().ok()?.branch().unwrap_or_default().to_owned();
        if method == Method::Invite {
            if let Some(p) = self.pending.iter_mut().find(|p| p.branch == branch) {
                p.answer.handle_request();
                return None;
            }
        }
        let tag = self.setup.local_tag.clone();
        let timers = self.setup.timers;
        let (negotiated, sdp) = match body_of(msg) {
            Some((_, body)) => match answer_offer(caps, body) {
                Ok((n, sdp)) => (Some(n), Some(sdp)),
                Err((code, reason)) => {
                    tracing::info!(code, %reason, "a carrier's new offer refused");
                    requests.answer(now, peer, msg, (code, reason.as_bytes()), &tag, timers);
                    return None;
                }
            },
            None if method == Method::Invite => (None, reoffer(caps, last_sdp)),
            None => (None, None),
        };
        let Some(bytes) = self.ok(msg, sdp.as_deref()) else {
            requests.answer(
                now,
                peer,
                msg,
                (500, b"Server Internal Error"),
                &tag,
                timers,
            );
            return None;
        };
        if let Some(sdp) = sdp {
            *last_sdp = sdp;
        }
        if method == Method::Invite {
            let cseq = msg.cseq().map_or(0, |c| c.seq);
            // `transmit` sends the first copy, then the resends until the ACK.
            let answer = Answer::new(now, bytes, self.setup.reliability, timers);
            self.pending.push(Pending {
                branch,
                cseq,
                peer,
                answer,
            });
        } else {
            requests.respond_built(now, peer, msg, 200, bytes, timers);
        }
        negotiated
    }

    /// An ACK in the dialog: if it acknowledges one of our 2xx, that 2xx is no longer
    /// resent. Returns whether it did.
    pub fn handle_ack(&mut self, msg: &Message<'_>) -> bool {
        let Ok(cseq) = msg.cseq() else { return false };
        let before = self.pending.len();
        self.pending.retain_mut(|p| {
            if p.cseq == cseq.seq {
                p.answer.handle_ack();
                return false;
            }
            true
        });
        self.pending.len() != before
    }

    /// Runs the resend timers; a 2xx never acknowledged is given up (logged: the
    /// session goes on as answered).
    pub fn handle_timeout(&mut self, now: Instant) {
        for p in &mut self.pending {
            p.answer.handle_timeout(now);
        }
        self.pending.retain_mut(|p| {
            let gave_up = p.answer.poll_event().is_some();
            if gave_up {
                tracing::info!(cseq = p.cseq, "no ACK for our 2xx to a re-INVITE");
            }
            !gave_up
        });
    }

    /// Moves what is due into `out`.
    pub fn transmit(&mut self, out: &mut VecDeque<(SocketAddr, Vec<u8>)>) {
        for p in &mut self.pending {
            while let Some(bytes) = p.answer.poll_transmit() {
                out.push_back((p.peer, bytes.to_vec()));
            }
        }
    }

    /// The next resend.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending
            .iter()
            .filter_map(|p| p.answer.poll_timeout())
            .min()
    }

    /// Our 200 to `msg`, with `sdp` if given.
    fn ok(&self, msg: &Message<'_>, sdp: Option<&[u8]>) -> Option<Vec<u8>> {
        let mut r = response_to(msg, 200, b"OK", Some(&self.setup.local_tag)).ok()?;
        r = r.contact(&self.setup.contact).ok()?;
        r = r.header("Server", b"dcx");
        if let Some(body) = sdp {
            r = r.body("application/sdp", body);
        }
        let mut out = Vec::with_capacity(640);
        r.write_to(&mut out).ok()?;
        Some(out)
    }
}

/// Negotiates the carrier's offer `body` against `caps` (its version one up): the
/// negotiation and our answer.
fn answer_offer(
    caps: &mut AudioCapabilities,
    body: &[u8],
) -> Result<(Negotiated, Vec<u8>), (u16, String)> {
    let offer = dcx_sip::sdp::parse(body).map_err(|e| (400, format!("bad SDP: {e}")))?;
    let mut next = caps.clone();
    next.session_version += 1;
    let (negotiated, answer) =
        negotiate(&offer, &next).map_err(|e| (e.sip_status(), e.to_string()))?;
    *caps = next;
    Ok((negotiated, answer.write().into_bytes()))
}

/// `last` again as an offer (a re-INVITE without one), its `o=` version one up.
fn reoffer(caps: &mut AudioCapabilities, last: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(last).ok()?;
    let old = format!(" {} {} IN ", caps.session_id, caps.session_version);
    if !text.contains(&old) {
        return None;
    }
    caps.session_version += 1;
    let new = format!(" {} {} IN ", caps.session_id, caps.session_version);
    Some(text.replacen(&old, &new, 1).into_bytes())
}

#[cfg(test)]
#[path = "reoffer_tests.rs"]
mod tests;
