//! A browser-to-browser call (`call {to: "user:NAME"}`): both browsers are WebRTC peers
//! of the media loop, put in an SFU room of their own once the callee accepts, so each
//! hears the other's Opus forwarded without transcoding (the SFU rewrites sequence
//! numbers and timestamps per subscriber). No SIP leg; the task writes the call's CDR
//! itself.
//!
//! ```text
//! caller: call -> trying {sdp} -> ringing ..................... answered -> ended
//! callee:             incoming -> accept {offer} -> answered {sdp} ....... -> ended
//! ```
//! Either side's `hangup`, its media going away, the callee's `reject` or the ring
//! timeout ends it for both. Once answered, either side can hand its place to a third
//! browser (a blind transfer to `user:NAME`): its peer leaves the room, and the browser
//! that accepts the offer takes its side, in a new room with the party who stayed.

mod supervisor;

use std::sync::Arc;
use std::time::{Duration, Instant};

use dcx_media::sfu::RoomId;
use dcx_media::webrtc::{MediaEvent, PeerId};
use dcx_signaling::{ServerMessage, SessionId};
use tokio::sync::mpsc;

use super::call::{CallCommand, CallHandle};
use super::hub::HubEvent;
use super::live::Reply;
use super::Services;
use crate::cdr::{Cdr, HangupSide, LegKind};

/// How long the callee's browser rings.
const RING_TIMEOUT: Duration = Duration::from_secs(30);

/// Who calls whom.
#[derive(Debug, Clone)]
pub struct UserCallSpec {
    /// The caller's session and its id for the call.
    pub caller: (SessionId, String),
    /// The callee's session and dcx's id for the call there.
    pub callee: (SessionId, String),
    /// The caller's browser's offer.
    pub offer: String,
    /// The account both are in.
    pub account: String,
    /// The caller's and the callee's user names.
    pub users: (String, String),
}

/// The callee's browser of an answered browser-to-browser call, handed to another
/// call's task (an attended transfer: the caller consulted the callee and joins it to
/// its call): the peer and its events, where its messages go, who it is.
#[derive(Debug)]
pub struct HandedCallee {
    /// The callee's WebRTC peer (it stays up: no renegotiation).
    pub peer: PeerId,
    /// Its events.
    pub events: mpsc::Receiver<MediaEvent>,
    /// The callee's session and its id for the call.
    pub to: (SessionId, String),
    /// The callee's user.
    pub user: String,
}

/// Starts the call; returns the caller's handle and the callee's.
pub fn spawn(
    services: Arc<Services>,
    spec: UserCallSpec,
    hub: mpsc::UnboundedSender<HubEvent>,
) -> (CallHandle, CallHandle) {
    let (caller_tx, caller_rx) = mpsc::unbounded_channel();
    let (callee_tx, callee_rx) = mpsc::unbounded_channel();
    let span = tracing::info_span!("user_call", from = %spec.users.0, to = %spec.users.1);
    let users = spec.users.clone();
    let task = async move {
        let mut call = UserCall::new(&services, &spec, hub);
        call.run(spec.offer.clone(), caller_rx, callee_rx).await;
        call.finish().await;
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
    (
        CallHandle::new(caller_tx)
            .user_caller()
            .with_far_end(&format!("user:{}", users.1)),
        CallHandle::new(callee_tx).with_far_end(&format!("user:{}", users.0)),
    )
}

struct UserCall<'a> {
    services: &'a Services,
    spec: &'a UserCallSpec,
    caller: Reply,
    callee: Reply,
    peers: [Option<PeerId>; 2],
    room: Option<RoomId>,
    started_ms: i64,
    answered_ms: Option<i64>,
    /// How it ended: who, why (for the CDR).
    end: Option<(HangupSide, String)>,
    /// A supervisor in the room.
    supervisor: Option<supervisor::RoomSupervisor>,
    /// The side (0 the caller, 1 the callee) whose browser transferred the call away
    /// (blind, to another user): the browser that takes it becomes that side.
    transferring: Option<usize>,
}

fn unix_ms() -> i64 {
    crate::call::WallClock::now().unix_ms
}

impl<'a> UserCall<'a> {
    fn new(
        services: &'a Services,
        spec: &'a UserCallSpec,
        hub: mpsc::UnboundedSender<HubEvent>,
    ) -> Self {
        Self {
            services,
            caller: Reply {
                to: Some(spec.caller.clone()),
                hub: hub.clone(),
            },
            callee: Reply {
                to: Some(spec.callee.clone()),
                hub,
            },
            spec,
            peers: [None, None],
            room: None,
            started_ms: unix_ms(),
            answered_ms: None,
            end: None,
            supervisor: None,
            transferring: None,
        }
    }

    async fn run(
        &mut self,
        offer: String,
        mut from_caller: mpsc::UnboundedReceiver<CallCommand>,
        mut from_callee: mpsc::UnboundedReceiver<CallCommand>,
    ) {
        let Some(events) = self.ring(offer).await else {
            return;
        };
        let mut caller_events = Some(events);
        let mut callee_events: Option<mpsc::Receiver<MediaEvent>> = None;
        let ring_out = tokio::time::sleep_until((Instant::now() + RING_TIMEOUT).into());
        tokio::pin!(ring_out);
        loop {
            let callee_event = next_of(&mut callee_events);
            let caller_event = next_of(&mut caller_events);
            let supervisor_event = async {
                match &mut self.supervisor {
                    Some(s) => s.events.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                c = from_caller.recv() => match c {
                    Some(CallCommand::HangUp(_)) | None => {
                        return self.hang_up(HangupSide::Caller, "hangup");
                    }
                    Some(CallCommand::HandOverCallee(to)) => {
                        if let Some(events) = callee_events.take() {
                            return self.hand_over_callee(to, events).await;
                        }
                        // Not answered yet: `to` is dropped, the joining call says so.
                    }
                    Some(CallCommand::Update(offer)) => self.update(0, offer).await,
                    Some(CallCommand::Detach) => {
                        if self.leave(0).await {
                            caller_events = None;
                        }
                    }
                    Some(CallCommand::Attach { session, call_id, offer, .. }) if self.transferring == Some(0) => {
                        match self.take_over(0, (session, call_id), offer).await {
                            Some(events) => caller_events = Some(events),
                            None => return,
                        }
                    }
                    Some(c) => {
                        self.supervision(0, c).await;
                    }
                },
                c = from_callee.recv() => match c {
                    Some(CallCommand::Attach { session, call_id, offer, .. }) if self.transferring == Some(1) => {
                        match self.take_over(1, (session, call_id), offer).await {
                            Some(events) => callee_events = Some(events),
                            None => return,
                        }
                    }
                    Some(CallCommand::Detach) => {
                        if self.leave(1).await {
                            callee_events = None;
                        }
                    }
                    Some(CallCommand::Attach { offer, .. }) if self.peers[1].is_none() => {
                        match self.accept(offer).await {
                            Some(events) => callee_events = Some(events),
                            None => return,
                        }
                    }
                    Some(CallCommand::HangUp(why)) => {
                        let why = if self.answered_ms.is_some() { "hangup" } else { why.as_str() };
                        return self.hang_up(HangupSide::Callee, why);
                    }
                    None => return self.hang_up(HangupSide::Callee, "hangup"),
                    Some(CallCommand::Update(offer)) => self.update(1, offer).await,
                    Some(c) => {
                        self.supervision(1, c).await;
                    }
                },
                e = supervisor_event => {
                    if gone(e.as_ref()) {
                        self.unsupervise("the supervisor's media went away").await;
                    }
                }
                e = caller_event => {
                    if gone(e.as_ref()) {
                        return self.hang_up(HangupSide::Caller, "the caller's media went away");
                    }
                }
                e = callee_event => {
                    if gone(e.as_ref()) {
                        return self.hang_up(HangupSide::Callee, "the callee's media went away");
                    }
                }
                () = &mut ring_out, if self.answered_ms.is_none() => {
                    return self.hang_up(HangupSide::System, "no_answer");
                }
            }
        }
    }

    /// The caller joins the callee to another of its calls (attended transfer): the
    /// room closes, the caller's browser hears `ended` "transferred" and its peer goes,
    /// the callee's peer and events go to that call's task. This call's CDR ends here.
    async fn hand_over_callee(
        &mut self,
        to: tokio::sync::oneshot::Sender<HandedCallee>,
        events: mpsc::Receiver<MediaEvent>,
    ) {
        let (Some(peer), Some(callee)) = (self.peers[1], self.callee.to.clone()) else {
            return self.hang_up(HangupSide::System, "the transfer could not be made");
        };
        if let Some(room) = self.room.take() {
            let _ = self.services.webrtc.close_room(room).await;
        }
        let handed = HandedCallee {
            peer,
            events,
            to: callee,
            user: self.spec.users.1.clone(),
        };
        if to.send(handed).is_err() {
            return self.hang_up(HangupSide::System, "the transfer could not be made");
        }
        // The callee's peer is the other call's now.
        self.peers[1] = None;
        self.caller.ended("transferred", None);
        self.end = Some((HangupSide::Caller, "transferred".into()));
    }

    /// Answers the caller's `offer` (`trying`) and rings the callee (`incoming`, and
    /// `ringing` to the caller); the caller's peer's events, or `None` when the offer
    /// was refused (the call is over).
    async fn ring(&mut self, offer: String) -> Option<mpsc::Receiver<MediaEvent>> {
        let (peer, answer) = match self.services.webrtc.add_peer_with(offer, false).await {
            Ok(p) => p,
            Err(e) => {
                let why = format!("the SDP offer was refused: {e}");
                self.caller.ended(&why, None);
                self.end = Some((HangupSide::System, why));
                return None;
            }
        };
        self.peers[0] = Some(peer);
        let events = self.services.peers.subscribe(peer);
        self.caller.send(ServerMessage::Trying {
            call_id: self.caller.call_id(),
            sdp: Some(answer),
        });
        self.callee.send(ServerMessage::Incoming {
            call_id: self.callee.call_id(),
            from: format!("user:{}", self.spec.users.0),
            queue: None,
        });
        self.caller.send(ServerMessage::Ringing {
            call_id: self.caller.call_id(),
            early_media: false,
        });
        Some(events)
    }

    /// Side `i`'s browser transferred the answered call away (blind, to another user; the
    /// hub told it `ended` "transferred" and offers the call there): its peer leaves the
    /// room, and nothing more goes to it. Whether it left.
    async fn leave(&mut self, i: usize) -> bool {
        let Some(peer) = self.peers[i].filter(|_| self.answered_ms.is_some()) else {
            return false;
        };
        if let Some(room) = self.room.take() {
            let _ = self.services.webrtc.close_room(room).await;
        }
        let _ = self.services.webrtc.remove_peer(peer).await;
        self.peers[i] = None;
        if i == 0 {
            self.caller.to = None;
        } else {
            self.callee.to = None;
        }
        self.transferring = Some(i);
        true
    }

    /// The browser the call was transferred to accepted with `offer`: it becomes side
    /// `i`, in a room with the party that stayed. Its events, or `None` when the call
    /// ended.
    async fn take_over(
        &mut self,
        i: usize,
        to: (SessionId, String),
        offer: String,
    ) -> Option<mpsc::Receiver<MediaEvent>> {
        let call_id = to.1.clone();
        if i == 0 {
            self.caller.to = Some(to);
        } else {
            self.callee.to = Some(to);
        }
        self.transferring = None;
        let (events, answer) = self.join_side(i, offer).await?;
        let reply = if i == 0 { &self.caller } else { &self.callee };
        reply.send(ServerMessage::Answered {
            call_id,
            sdp: Some(answer),
        });
        Some(events)
    }

    /// Side `i`'s browser joins with `offer`: its peer, then the room of the two. Its
    /// events and dcx's answer, or `None` when the call ended (it hung up both sides).
    async fn join_side(
        &mut self,
        i: usize,
        offer: String,
    ) -> Option<(mpsc::Receiver<MediaEvent>, String)> {
        // Beside the other side's peer: the two share a room, so a shard.
        let webrtc = &self.services.webrtc;
        let added = match self.peers[1 - i] {
            Some(other) => webrtc.add_peer_beside(other, offer, false).await,
            None => webrtc.add_peer_with(offer, false).await,
        };
        let (peer, answer) = match added {
            Ok(p) => p,
            Err(e) => {
                let why = format!("the SDP offer was refused: {e}");
                self.hang_up(HangupSide::System, &why);
                return None;
            }
        };
        self.peers[i] = Some(peer);
        let events = self.services.peers.subscribe(peer);
        let (Some(a), Some(b)) = (self.peers[0], self.peers[1]) else {
            self.hang_up(HangupSide::System, "the other party has gone");
            return None;
        };
        match self.services.webrtc.pair([a, b]).await {
            Ok(room) => self.room = Some(room),
            Err(e) => {
                let why = format!("cannot join the call's room: {e}");
                self.hang_up(HangupSide::System, &why);
                return None;
            }
        }
        Some((events, answer))
    }

    /// Side `i`'s browser (0 the caller, 1 the callee) sent a new offer.
    async fn update(&self, i: usize, offer: String) {
        let reply = if i == 0 { &self.caller } else { &self.callee };
        let Some(peer) = self.peers[i] else { return };
        let message = super::live::renegotiate(self.services, peer, offer, reply.call_id()).await;
        reply.send(message);
    }

    /// The callee accepted with its offer: answered on both sides, then the room.
    async fn accept(&mut self, offer: String) -> Option<mpsc::Receiver<MediaEvent>> {
        let (events, answer) = self.join_side(1, offer).await?;
        self.answered_ms = Some(unix_ms());
        self.callee.send(ServerMessage::Answered {
            call_id: self.callee.call_id(),
            sdp: Some(answer),
        });
        self.caller.send(ServerMessage::Answered {
            call_id: self.caller.call_id(),
            sdp: None,
        });
        Some(events)
    }

    /// Ends the call for both sides; `side` ended it.
    fn hang_up(&mut self, side: HangupSide, why: &str) {
        let (for_caller, for_callee) = match (side, why) {
            (_, "no_answer") => ("no_answer", "not_answered"),
            (HangupSide::Callee, "rejected") => ("rejected", "rejected"),
            (HangupSide::Caller, _) => ("hangup", "remote_hangup"),
            (HangupSide::Callee, _) => ("remote_hangup", "hangup"),
            (HangupSide::System, w) => (w, w),
        };
        self.caller.ended(for_caller, None);
        self.callee.ended(for_callee, None);
        self.end = Some((side, why.to_owned()));
    }

    /// Frees the room and the peers (a supervisor hears `ended`), and writes the CDR.
    async fn finish(mut self) {
        self.unsupervise("the supervised call ended").await;
        if let Some(room) = self.room {
            let _ = self.services.webrtc.close_room(room).await;
        }
        for peer in self.peers.into_iter().flatten() {
            let _ = self.services.webrtc.remove_peer(peer).await;
        }
        let (hangup, reason) = self
            .end
            .unwrap_or((HangupSide::System, "the gateway stopped".into()));
        let end_ms = unix_ms();
        let cdr = Cdr {
            call_id: format!("{}-{}", self.spec.caller.0, self.spec.caller.1),
            attempt: 0,
            leg: LegKind::Browser,
            trunk_in: format!("webrtc:{}", self.spec.account),
            trunk_out: None,
            caller: self.spec.users.0.clone(),
            callee: format!("user:{}", self.spec.users.1),
            callee_normalized: String::new(),
            prefix: None,
            rate_per_min_nano: 0,
            start_ms: self.started_ms,
            first_ring_ms: Some(self.started_ms),
            answer_ms: self.answered_ms,
            end_ms,
            duration_s: crate::cdr::billable_s(self.answered_ms, end_ms),
            cost_nano: 0,
            sip_code: if self.answered_ms.is_some() { 200 } else { 487 },
            hangup,
            reason,
            queue: None,
            agent: None,
            queue_wait_ms: None,
        };
        if let Some(cdrs) = &self.services.cdrs {
            if let Err(e) = cdrs.send(cdr) {
                tracing::warn!("CDR not recorded: {e}");
            }
        }
    }
}

/// Whether a peer's event (or its channel closing) means its media is gone.
/// The next event of a peer's receiver, if there is one (else never).
async fn next_of(events: &mut Option<mpsc::Receiver<MediaEvent>>) -> Option<MediaEvent> {
    match events {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn gone(event: Option<&MediaEvent>) -> bool {
    matches!(event, None | Some(MediaEvent::PeerDisconnected(..)))
}
