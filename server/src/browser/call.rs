//! One browser -> PSTN call's task: it owns the call's WebRTC peer, its carrier-side
//! RTP socket and its [`MediaBridge`], hears the SIP side's news (ringing, answered,
//! ended) and the peer's media events, and tells the browser what happens through the
//! session hub. Everything else reaches it through its [`CallHandle`].
//!
//! ```text
//! add the peer (answer the browser's offer) -> dial (route, first INVITE)
//!   -> trying {sdp: answer} -> ringing -> answered -> ... -> ended
//! ```
//! The call ends when the SIP side says so (`Ended` news): a hang-up from the browser,
//! the browser's media going away (ICE consent lost) or its session expiring only asks
//! the SIP side to end it, so every end passes through one place and writes its CDR.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dcx_media::bridge::BridgeMode;
use dcx_media::dtmf::DtmfDigit;
use dcx_signaling::{ServerMessage, SessionId};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::hub::HubEvent;
use super::live::{hang_up, Hold, HoldSound, Live, Reply};
use super::Services;
use crate::call::browser::BrowserOrigin;
use crate::sip::udp::{Inbound, SipCommand};

/// A browser's `call`, checked by the hub.
#[derive(Debug, Clone)]
pub struct CallSpec {
    /// The session that placed it.
    pub session: SessionId,
    /// The browser's id for the call.
    pub call_id: String,
    /// Who calls where.
    pub origin: BrowserOrigin,
    /// The browser's SDP offer.
    pub offer: String,
}

/// What the rest of the gateway asks of a call.
#[derive(Debug)]
pub enum CallCommand {
    /// Hang up (the browser asked, or its session expired).
    HangUp(String),
    /// The call waits in a queue as the contact center's call `token` (a browser's PSTN
    /// call transferred to `queue:`): the hub hears `InboundOver` with it when the call
    /// ends.
    Queued(u64),
    /// Send these key presses to the far end (RFC 4733), each this long.
    Digits(Vec<DtmfDigit>, u32),
    /// Hold (`true`: the far end hears hold audio, nothing reaches the browser) or
    /// resume.
    Hold(bool),
    /// Mute (`true`: the far end hears silence) or unmute the browser.
    Mute(bool),
    /// The browser's new offer for its peer (an ICE restart).
    Update(String),
    /// The agent handed the caller on (blind transfer): its browser leaves the call
    /// (`ended` "transferred"), the caller hears hold audio until the next agent.
    Detach,
    /// An agent took this queued call: its browser's offer, its session and its id for
    /// the call.
    Attach {
        /// The agent's session.
        session: SessionId,
        /// The call's id on that session.
        call_id: String,
        /// The agent browser's SDP offer.
        offer: String,
        /// The agent, for the CDR.
        agent: String,
    },
    /// A supervisor joins the call with its own browser (its session, its id for the
    /// supervision, its offer) in `mode`.
    Supervise {
        /// The supervisor's session.
        session: SessionId,
        /// The supervision's id on that session.
        call_id: String,
        /// The supervisor browser's SDP offer.
        offer: String,
        /// Who hears the supervisor.
        mode: BridgeMode,
    },
    /// The supervisor changes who hears it.
    SupervisorMode(BridgeMode),
    /// The supervisor's browser sent a new offer (an ICE restart).
    SupervisorUpdate(String),
    /// The supervisor leaves (`hangup` on the supervision); the call goes on.
    Unsupervise,
    /// Put the far end through to `number`, dialled as `origin` (a blind transfer, a
    /// queue's fallback): the browser, if any, leaves.
    Onward {
        /// As dialled.
        number: String,
        /// Whose call the new leg is (account limits, routing, CDR).
        origin: BrowserOrigin,
        /// A caller not answered yet: answer it when the new leg answers, with this
        /// name as the CDR's agent.
        answer_caller: Option<String>,
    },
    /// Attended transfer: bridge this call's far end to the consult call's, whose
    /// task this reaches; the browser leaves both.
    Join(mpsc::UnboundedSender<CallCommand>),
    /// Attended transfer, to the consult call: hand its carrier leg over and end.
    HandOver(oneshot::Sender<super::live::Handover>),
    /// Attended transfer to a browser: bridge this call's far end to the callee of
    /// the browser-to-browser consult call whose caller's task this reaches.
    JoinBrowser(mpsc::UnboundedSender<CallCommand>),
    /// Attended transfer, to a browser-to-browser consult call (its caller's side):
    /// hand the callee's browser over and end.
    HandOverCallee(oneshot::Sender<super::user_call::HandedCallee>),
}

/// How the hub reaches a call's task.
#[derive(Debug, Clone)]
pub struct CallHandle {
    commands: mpsc::UnboundedSender<CallCommand>,
    /// A call bridged to a SIP leg (a browser's PSTN call or an inbound one), which a
    /// supervisor can join; browser-to-browser calls are not.
    bridged: bool,
    /// This handle is a supervisor's on someone else's call: hanging it up ends the
    /// supervision, not the call.
    supervision: bool,
    /// The caller's side of a browser-to-browser call.
    user_caller: bool,
    /// The far end, as dialled (a browser's PSTN call): what a transfer target sees.
    far_end: Option<std::sync::Arc<str>>,
}

impl CallHandle {
    /// A handle on a call task's command channel.
    pub(super) fn new(commands: mpsc::UnboundedSender<CallCommand>) -> Self {
        Self {
            commands,
            bridged: false,
            supervision: false,
            user_caller: false,
            far_end: None,
        }
    }

    /// The same handle, as the caller's side of a browser-to-browser call.
    pub(super) fn user_caller(mut self) -> Self {
        self.user_caller = true;
        self
    }

    /// Whether this is the caller's side of a browser-to-browser call.
    pub fn is_user_caller(&self) -> bool {
        self.user_caller
    }

    /// Whether a supervisor can join this call (see [`CallHandle::supervise`]).
    pub fn is_bridged(&self) -> bool {
        self.bridged && !self.supervision
    }

    /// Whether this handle is a supervisor's.
    pub fn is_supervision(&self) -> bool {
        self.supervision
    }

    /// The same handle, naming the far end (what a transfer target is told).
    #[must_use]
    pub(super) fn with_far_end(mut self, far_end: &str) -> Self {
        self.far_end = Some(far_end.into());
        self
    }

    /// The far end as dialled, for a browser's own PSTN call.
    pub fn far_end(&self) -> Option<&str> {
        self.far_end.as_deref()
    }

    /// The call waits in a queue as the contact center's call `token`.
    pub fn queued(&self, token: u64) {
        let _ = self.commands.send(CallCommand::Queued(token));
    }

    /// Whether the call's task has ended.
    pub fn is_over(&self) -> bool {
        self.commands.is_closed()
    }

    /// Asks the call to end; a call already over ignores it. On a supervisor's
    /// handle, only the supervision ends.
    pub fn hang_up(&self, why: &str) {
        let command = if self.supervision {
            CallCommand::Unsupervise
        } else {
            CallCommand::HangUp(why.to_owned())
        };
        let _ = self.commands.send(command);
    }

    /// A supervisor joins this (bridged) call; the handle returned is the
    /// supervisor's, for its session's calls.
    pub fn supervise(
        &self,
        session: SessionId,
        call_id: String,
        offer: String,
        mode: BridgeMode,
    ) -> CallHandle {
        let _ = self.commands.send(CallCommand::Supervise {
            session,
            call_id,
            offer,
            mode,
        });
        Self {
            commands: self.commands.clone(),
            bridged: true,
            supervision: true,
            user_caller: false,
            far_end: None,
        }
    }

    /// A supervisor's new mode (on a supervisor's handle).
    pub fn set_supervisor_mode(&self, mode: BridgeMode) {
        let _ = self.commands.send(CallCommand::SupervisorMode(mode));
    }

    /// Holds (`true`) or resumes the call.
    pub fn hold(&self, held: bool) {
        let _ = self.commands.send(CallCommand::Hold(held));
    }

    /// Hands the browser's new offer (an ICE restart) to the call (to the
    /// supervisor's peer, on a supervisor's handle).
    pub fn update(&self, offer: String) {
        let command = if self.supervision {
            CallCommand::SupervisorUpdate(offer)
        } else {
            CallCommand::Update(offer)
        };
        let _ = self.commands.send(command);
    }

    /// Takes the agent's browser off an inbound call (see [`CallCommand::Detach`]).
    pub fn detach(&self) {
        let _ = self.commands.send(CallCommand::Detach);
    }

    /// Mutes (`true`) or unmutes the browser toward the far end.
    pub fn mute(&self, muted: bool) {
        let _ = self.commands.send(CallCommand::Mute(muted));
    }

    /// Hands a queued call to the agent who took it.
    pub fn attach(&self, session: SessionId, call_id: String, offer: String, agent: String) {
        let _ = self.commands.send(CallCommand::Attach {
            session,
            call_id,
            offer,
            agent,
        });
    }

    /// Puts the far end through to `number` (see [`CallCommand::Onward`]).
    pub fn put_through(
        &self,
        number: String,
        origin: BrowserOrigin,
        answer_caller: Option<String>,
    ) {
        let _ = self.commands.send(CallCommand::Onward {
            number,
            origin,
            answer_caller,
        });
    }

    /// Attended transfer: this call's far end is bridged to `consult`'s; the browser
    /// leaves both.
    pub fn join(&self, consult: &CallHandle) {
        let _ = self
            .commands
            .send(CallCommand::Join(consult.commands.clone()));
    }

    /// Attended transfer to a browser: this call's far end goes to the callee of
    /// `consult` (the caller's side of a browser-to-browser call); the call's task
    /// tells the hub when it has ([`super::hub::HubEvent::Adopted`]).
    pub fn join_browser(&self, consult: &CallHandle) {
        let _ = self
            .commands
            .send(CallCommand::JoinBrowser(consult.commands.clone()));
    }

    /// Asks the call to send key presses toward the far end.
    pub fn send_digits(&self, digits: Vec<DtmfDigit>, duration_ms: u32) {
        let _ = self.commands.send(CallCommand::Digits(digits, duration_ms));
    }
}

/// Starts the call's task.
pub fn spawn(
    services: Arc<Services>,
    spec: CallSpec,
    hub: mpsc::UnboundedSender<HubEvent>,
) -> CallHandle {
    let (commands, rx) = mpsc::unbounded_channel();
    services.stats.calls.fetch_add(1, Ordering::Relaxed);
    services.stats.calls_live.fetch_add(1, Ordering::Relaxed);
    let span =
        tracing::info_span!("browser_call", call_id = %spec.call_id, user = %spec.origin.user);
    let far_end = Some(spec.origin.dialled.as_str().into());
    tokio::spawn(tracing::Instrument::instrument(
        run(services, spec, hub, rx),
        span,
    ));
    CallHandle {
        commands,
        bridged: true,
        supervision: false,
        user_caller: false,
        far_end,
    }
}

async fn run(
    services: Arc<Services>,
    spec: CallSpec,
    hub: mpsc::UnboundedSender<HubEvent>,
    commands: mpsc::UnboundedReceiver<CallCommand>,
) {
    run_call(&services, spec, hub, commands).await;
    services.stats.calls_live.fetch_sub(1, Ordering::Relaxed);
}

async fn run_call(
    services: &Arc<Services>,
    spec: CallSpec,
    hub: mpsc::UnboundedSender<HubEvent>,
    mut commands: mpsc::UnboundedReceiver<CallCommand>,
) {
    let reply = Reply {
        to: Some((spec.session, spec.call_id.clone())),
        hub,
    };
    // The carrier side is G.711: ask the browser for narrowband Opus.
    let (peer, answer) = match services.webrtc.add_peer_with(spec.offer, true).await {
        Ok(p) => p,
        Err(e) => {
            tracing::info!("offer refused: {e}");
            reply.ended(&format!("the SDP offer was refused: {e}"), Some(488));
            return;
        }
    };
    let events = services.peers.subscribe(peer);
    let (news_tx, news) = mpsc::unbounded_channel();
    let (dial_tx, dial_rx) = oneshot::channel();
    let dial = SipCommand::Dial {
        origin: spec.origin,
        news: news_tx,
        reply: dial_tx,
    };
    let dialled = match services.sip.send(dial).await {
        Ok(()) => dial_rx.await.ok().flatten(),
        Err(_) => None,
    };
    let Some((token, rtp)) = dialled else {
        let _ = services.webrtc.remove_peer(peer).await;
        reply.ended("this gateway routes no calls (no [sip] section)", Some(503));
        return;
    };
    let socket = match rtp {
        Some(addr) => match UdpSocket::bind(addr).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(?addr, "cannot bind the call's RTP port: {e}");
                hang_up(services, token, "cannot bind the RTP port").await;
                None
            }
        },
        // The call ended at once (no route, blocked): its Ended news says why.
        None => None,
    };
    if socket.is_some() {
        reply.send(ServerMessage::Trying {
            call_id: reply.call_id(),
            sdp: Some(answer),
        });
    }
    let mut call = Live {
        services,
        reply,
        token,
        peer: Some((peer, events)),
        socket,
        bridge: None,
        hold: None,
        hung_up: false,
        inbound: false,
        held: false,
        muted: false,
        hold_sound: HoldSound::Tone(super::live::BROWSER_HOLD_TONE_HZ),
        supervisor: None,
        onward: None,
        referring: None,
        queued_as: None,
    };
    call.run(news, &mut commands).await;
    let queued = call.queued_as.map(|token| (token, call.reply.hub.clone()));
    call.finish().await;
    if let Some((token, hub)) = queued {
        let _ = hub.send(HubEvent::InboundOver { token });
    }
}

/// Starts the media task of an inbound call queued for an agent: hold audio toward
/// the caller at once, the agent's browser when one takes the call
/// ([`CallHandle::attach`]). The hub hears [`HubEvent::InboundOver`] when it is over.
pub fn spawn_inbound(
    services: Arc<Services>,
    (token, arrival, news): Inbound,
    hold_sound: HoldSound,
    hub: mpsc::UnboundedSender<HubEvent>,
) -> CallHandle {
    let (commands, rx) = mpsc::unbounded_channel();
    let span = tracing::info_span!("inbound_call", token = %format!("{token:016x}"), queue = %arrival.queue);
    let task = async move {
        run_inbound(
            &services,
            (token, arrival, news),
            hold_sound,
            hub.clone(),
            rx,
        )
        .await;
        let _ = hub.send(HubEvent::InboundOver { token });
    };
    tokio::spawn(tracing::Instrument::instrument(task, span));
    CallHandle {
        commands,
        bridged: true,
        supervision: false,
        user_caller: false,
        far_end: None,
    }
}

async fn run_inbound(
    services: &Arc<Services>,
    (token, arrival, news): Inbound,
    hold_sound: HoldSound,
    hub: mpsc::UnboundedSender<HubEvent>,
    mut commands: mpsc::UnboundedReceiver<CallCommand>,
) {
    let socket = match UdpSocket::bind(arrival.rtp).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(rtp = ?arrival.rtp, "cannot bind the call's RTP port: {e}");
            hang_up(services, token, "cannot bind the RTP port").await;
            None
        }
    };
    let mut call = Live {
        services,
        reply: Reply { to: None, hub },
        token,
        peer: None,
        socket,
        bridge: None,
        hold: Some(Hold::new(&hold_sound)),
        hung_up: false,
        inbound: true,
        held: false,
        muted: false,
        // The queue's sound; a tone of 0 Hz (silence) stays silence after a transfer.
        hold_sound,
        supervisor: None,
        onward: None,
        referring: None,
        queued_as: None,
    };
    call.set_carrier(arrival.media);
    call.run(news, &mut commands).await;
    call.finish().await;
}
