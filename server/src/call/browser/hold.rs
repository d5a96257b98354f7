//! Hold and unhold of a browser call toward the carrier: a re-INVITE in the answered
//! dialog with dcx's own offer, `a=sendonly` to hold (RFC 3264 8.4: the held side
//! still hears dcx's hold audio) and `a=sendrecv` to resume, the `o=` version one up
//! each time. One re-INVITE at a time: a second request while one is pending is kept
//! and sent when the first is answered, so the last wish wins. A failure (491, 488,
//! timeout) leaves the session as it was; the media side holds locally either way.

use super::{BrowserCall, Phase};
use crate::call::legs::Request;
use dcx_sip::sdp::Direction;
use dcx_sip::transaction::{ClientEvent, InviteClient};
use dcx_sip::{Message, Method};
use std::net::SocketAddr;
use std::time::Instant;

/// A re-INVITE dcx sent.
#[derive(Debug)]
pub(super) struct ReInvite {
    branch: String,
    cseq: u32,
    held: bool,
    to: SocketAddr,
    invite: InviteClient,
    ack: Option<Vec<u8>>,
    resend_ack: bool,
    done: bool,
}

impl ReInvite {
    /// Its final response has come.
    pub(super) fn done(&self) -> bool {
        self.done
    }

    pub(super) fn is_ours(&self, branch: &str) -> bool {
        self.branch == branch
    }

    pub(super) fn transmit(&mut self, out: &mut std::collections::VecDeque<(SocketAddr, Vec<u8>)>) {
        while let Some(b) = self.invite.poll_transmit() {
            out.push_back((self.to, b.to_vec()));
        }
        if std::mem::take(&mut self.resend_ack) {
            if let Some(ack) = &self.ack {
                out.push_back((self.to, ack.clone()));
            }
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.invite.poll_timeout()
    }
}

impl BrowserCall {
    /// The browser asked to hold (`true`) or resume (`false`) the call.
    pub fn hold(&mut self, now: Instant, held: bool) {
        if !matches!(self.phase, Phase::Answered(_)) {
            return;
        }
        if self.reinvite.as_ref().is_some_and(|r| !r.done) {
            self.hold_wanted = Some(held);
            return;
        }
        self.send_reinvite(now, held);
        self.flush();
    }

    fn send_reinvite(&mut self, now: Instant, held: bool) {
        let Phase::Answered(i) = self.phase else {
            return;
        };
        self.caps.session_version += 1;
        let mut sdp = self.caps.offer();
        for m in &mut sdp.media {
            m.direction = Some(if held {
                Direction::SendOnly
            } else {
                Direction::SendRecv
            });
        }
        let body = sdp.write().into_bytes();
        let branch = self.ids.branch();
        let dialog = &mut self.dialer.attempts[i].dialog;
        dialog.local_cseq += 1;
        let cseq = dialog.local_cseq;
        let mut r = Request::new(Method::Invite, cseq, &branch, &self.setup.local);
        r.body = Some(("application/sdp", &body));
        match dialog.request(&r) {
            Ok(bytes) => {
                let reliability = dialog.transport.reliability();
                // The last one stays to ACK a retransmission of its 2xx.
                self.reinvite_before = self.reinvite.take();
                self.reinvite = Some(ReInvite {
                    to: dialog.next_hop(),
                    invite: InviteClient::new(now, bytes, reliability, self.setup.timers),
                    branch,
                    cseq,
                    held,
                    ack: None,
                    resend_ack: false,
                    done: false,
                });
                self.offer_body = body;
            }
            Err(e) => {
                tracing::debug!(call_id = %self.parties.call_id, "cannot build the re-INVITE: {e}");
            }
        }
    }

    /// A response to one of our re-INVITEs.
    pub(super) fn reinvite_response(&mut self, now: Instant, msg: &Message<'_>) {
        let branch = msg
            .top_via()
            .ok()
            .and_then(|v| v.branch())
            .unwrap_or_default();
        if let Some(before) = self.reinvite_before.as_mut().filter(|r| r.is_ours(branch)) {
            // A retransmitted 2xx of the one before: ACK it again.
            before.resend_ack = before.ack.is_some();
            before.transmit(&mut self.out);
            return;
        }
        let (Phase::Answered(i), Some(r), Some(code)) =
            (self.phase, self.reinvite.as_mut(), msg.status_code())
        else {
            return;
        };
        let dialog = &self.dialer.attempts[i].dialog;
        let (cseq, branch, local) = (r.cseq, r.branch.clone(), &self.setup.local);
        r.invite.handle_response(now, code, || {
            // RFC 3261 17.1.1.3: the ACK of a failure is part of the transaction.
            let mut ack = Request::new(Method::Ack, cseq, &branch, local);
            ack.to_tag = dialog.remote_tag.as_deref();
            dialog.request(&ack).unwrap_or_default()
        });
        while let Some(e) = r.invite.poll_event() {
            match e {
                ClientEvent::Final(200..=299) => {
                    if r.ack.is_none() {
                        let ack_branch = self.ids.branch();
                        let ack = Request::new(Method::Ack, cseq, &ack_branch, local);
                        r.ack = dialog.request(&ack).ok();
                        tracing::debug!(held = r.held, "re-INVITE answered");
                    }
                    r.resend_ack = true;
                    r.done = true;
                }
                ClientEvent::Final(code) => {
                    tracing::debug!(
                        code,
                        held = r.held,
                        "re-INVITE refused: the session stays as it was"
                    );
                    r.done = true;
                }
                ClientEvent::Timeout => r.done = true,
                ClientEvent::Provisional(_) | ClientEvent::Terminated => {}
            }
        }
        let (done, was_held) = (r.done, r.held);
        r.transmit(&mut self.out);
        if done {
            if let Some(held) = self.hold_wanted.take() {
                if held != was_held {
                    self.send_reinvite(now, held);
                }
            }
        }
    }

    /// Runs the re-INVITE's timers.
    pub(super) fn reinvite_timeout(&mut self, now: Instant) {
        if let Some(r) = &mut self.reinvite {
            r.invite.handle_timeout(now);
            while let Some(e) = r.invite.poll_event() {
                if e == ClientEvent::Timeout {
                    r.done = true;
                }
            }
        }
    }
}
