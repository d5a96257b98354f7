//! The session hub: one task owns every browser session (the sans-IO
//! [`dcx_signaling::Sessions`]: tokens, resume, grace) and the calls each session has,
//! and connects them to whichever WebSocket is attached to the session now. Connection
//! tasks and call tasks reach it through [`HubEvent`]s; nothing about sessions is shared
//! behind a lock.
//!
//! A dropped WebSocket only detaches its session: its calls go on (their media is on the
//! WebRTC socket, not on the WebSocket), and what they say meanwhile is dropped. A
//! `hello` with the session's resume token within the grace period reattaches it and
//! lists the calls still up; when the grace passes, the session's calls are hung up
//! (each writes its CDR) and the session is forgotten.
//!
//! The hub also runs the contact center ([`ContactCenter`]): inbound callers queued for
//! agents arrive here from the SIP side with their media task started (hold audio), the
//! agents' presence and answers come in as client messages, and the contact center's
//! actions go out as `incoming`, `ended` and `agent_state` frames to the agents' sockets.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcx_signaling::{
    Attachment, Claims, ClientMessage, ErrorCode, ProtocolError, ServerMessage, SessionId,
    Sessions, Welcome,
};
use tokio::sync::{mpsc, oneshot};

use super::call::{self, CallHandle, CallSpec};
use super::hub_api::HubQuery;
use super::Services;
use crate::call::browser::BrowserOrigin;
use crate::contact::ContactCenter;
use crate::sip::udp::Inbound;

/// How long a key press from a `dtmf` message lasts when it does not say.
const DEFAULT_DIGIT_MS: u32 = 100;

mod contact;

/// How long an inbound call to a user's DID rings at that user's browser.
const DIRECT_RING: Duration = Duration::from_secs(30);

/// Messages waiting for one WebSocket.
pub const OUTBOX: usize = 256;

/// What the hub hears.
#[derive(Debug)]
pub enum HubEvent {
    /// A verified `hello`: bind the socket to a session (new or resumed).
    Hello {
        /// The token's claims.
        claims: Claims,
        /// The resume token, if the browser sent one.
        resume: Option<String>,
        /// Where the session's messages go from now on.
        outbox: mpsc::Sender<ServerMessage>,
        /// The welcome and the calls the session still has, or why not.
        reply: oneshot::Sender<Result<(Welcome, Vec<String>), ProtocolError>>,
    },
    /// A message of an authenticated socket (not `hello`, not `ping`).
    Client {
        /// Its session.
        attachment: Attachment,
        /// The message.
        message: ClientMessage,
    },
    /// The socket of `attachment` closed.
    Detach(Attachment),
    /// A direct offer of inbound call `token` rang this long without an answer.
    DirectTimeout {
        /// The call.
        token: u64,
    },
    /// Queue call `token`, put through to a number, could not reach it.
    OnwardFailed {
        /// The call.
        token: u64,
        /// Why, in words.
        why: String,
    },
    /// A browser's PSTN call transferred to a user rang there unanswered.
    TransferTimeout {
        /// The target's session.
        session: SessionId,
        /// The call's id there.
        call_id: String,
    },
    /// The media task of inbound call `token` is over.
    InboundOver {
        /// The call.
        token: u64,
    },
    /// A call's task has something for its browser.
    FromCall {
        /// The call's session.
        session: SessionId,
        /// The browser's id of the call.
        call_id: String,
        /// What to send.
        message: ServerMessage,
        /// The call is over: forget it.
        ended: bool,
    },
    /// A question of the REST API about calls, agents and queues, or a hang-up.
    Query(HubQuery),
    /// Inbound call `token` left the browser `from` (session, call id) for `to`, the
    /// colleague's browser `user` (an attended transfer to a browser).
    Adopted {
        /// The call.
        token: u64,
        /// The transferring agent's session and id of the call.
        from: (SessionId, String),
        /// The colleague's session and its id for the consult call, now this call's.
        to: (SessionId, String),
        /// The colleague.
        user: String,
    },
}

/// The bridge's mode for a supervisor's.
fn bridge_mode(mode: dcx_signaling::SupervisorMode) -> dcx_media::bridge::BridgeMode {
    use dcx_media::bridge::BridgeMode;
    match mode {
        dcx_signaling::SupervisorMode::Listen => BridgeMode::Listen,
        dcx_signaling::SupervisorMode::Whisper => BridgeMode::Whisper,
        dcx_signaling::SupervisorMode::Barge => BridgeMode::Barge,
    }
}

/// How connection tasks reach the hub; cheap to clone.
#[derive(Debug, Clone)]
pub struct HubHandle {
    events: mpsc::UnboundedSender<HubEvent>,
}

impl HubHandle {
    /// Hands an event to the hub; false when it has stopped.
    pub fn send(&self, event: HubEvent) -> bool {
        self.events.send(event).is_ok()
    }
}

/// A session's live part: its socket's outbox and its calls.
#[derive(Default)]
pub(super) struct Live {
    outbox: Option<mpsc::Sender<ServerMessage>>,
    pub(super) calls: HashMap<String, CallHandle>,
    /// Queue calls offered to this session (an agent's), by their call id.
    offers: HashMap<String, Offered>,
    /// The inbound calls this session (an agent's) took: call id -> token.
    taken: HashMap<String, u64>,
    pub(super) user: String,
}

/// A call offered to a session, waiting for its `accept` or `reject`.
#[derive(Debug, Clone)]
enum Offered {
    /// An inbound caller of a queue (the contact center's call token).
    Queue(u64),
    /// Another browser's call (the callee's handle of it).
    User(CallHandle),
    /// An inbound call to a user's DID (the call's token).
    Direct(u64),
}

/// The hub's state, driven by [`run`].
pub(super) struct Hub {
    services: Arc<Services>,
    pub(super) sessions: Sessions,
    pub(super) live: HashMap<SessionId, Live>,
    rng: OsRandom,
    events: mpsc::UnboundedSender<HubEvent>,
    pub(super) contact: Option<ContactCenter>,
    /// The session each user attached last (agents are offered calls there).
    users: HashMap<String, SessionId>,
    /// The media tasks of inbound calls, by token.
    pub(super) inbound: HashMap<u64, CallHandle>,
    /// Browser-to-browser calls started (their callee-side ids).
    next_user_call: u64,
    /// Inbound calls offered to one user directly, not answered yet: where.
    direct: HashMap<u64, (SessionId, String)>,
    /// Queue calls put through to a number, not answered there yet: the queue and caller
    /// to go back to if the number cannot be reached.
    pub(super) put_through: HashMap<u64, (String, String)>,
    /// Browsers' own calls their browser transferred away (to a number, or joined to
    /// another call), which go on without a browser: listed until their task ends.
    pub(super) transferred: Vec<Transferred>,
}

/// A browser's own call that goes on after its browser transferred it away.
#[derive(Debug)]
pub(super) struct Transferred {
    /// The browser's id of it.
    pub call_id: String,
    /// The browser it was: its session, account and user.
    pub session: SessionId,
    pub account: String,
    pub user: String,
    /// Where: the number, or `call:ID` (an attended transfer).
    pub to: String,
    pub handle: CallHandle,
}

/// Starts the hub, with the contact center if agents and queues are configured, taking
/// inbound queue calls from `inbound`. Fails if the OS random source (for resume
/// tokens) cannot be opened.
pub fn spawn(
    services: Arc<Services>,
    grace: Duration,
    contact: Option<ContactCenter>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
) -> std::io::Result<HubHandle> {
    let rng = OsRandom::open()?;
    let (events, rx) = mpsc::unbounded_channel();
    let hub = Hub {
        services,
        sessions: Sessions::new(grace),
        live: HashMap::new(),
        rng,
        events: events.clone(),
        contact,
        users: HashMap::new(),
        inbound: HashMap::new(),
        next_user_call: 0,
        direct: HashMap::new(),
        transferred: Vec::new(),
        put_through: HashMap::new(),
    };
    tokio::spawn(run(hub, rx, inbound));
    Ok(HubHandle { events })
}

async fn run(
    mut hub: Hub,
    mut rx: mpsc::UnboundedReceiver<HubEvent>,
    mut inbound: mpsc::UnboundedReceiver<Inbound>,
) {
    loop {
        let contact = hub.contact.as_ref().and_then(ContactCenter::poll_timeout);
        let deadline = [hub.sessions.poll_timeout(), contact]
            .into_iter()
            .flatten()
            .min();
        let sleep = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = rx.recv() => match event {
                Some(e) => hub.handle(e),
                None => return,
            },
            Some(call) = inbound.recv() => hub.queued(call),
            () = sleep => {
                let now = Instant::now();
                hub.expire(now);
                if let Some(cc) = &mut hub.contact {
                    cc.handle_timeout(now);
                }
            }
        }
        hub.act();
    }
}

impl Hub {
    fn handle(&mut self, event: HubEvent) {
        match event {
            HubEvent::Hello {
                claims,
                resume,
                outbox,
                reply,
            } => {
                let welcome = self.hello(claims, resume.as_deref(), outbox).map(|w| {
                    let calls = self.resumed_calls(w.session_id);
                    (w, calls)
                });
                let hello = welcome
                    .as_ref()
                    .ok()
                    .map(|(w, _)| (w.session_id, w.claims.user.clone()));
                let _ = reply.send(welcome);
                // After `welcome` (the socket reads its outbox only then): an agent
                // hears its presence at once, as on every change.
                if let Some((session, user)) = hello {
                    self.tell_presence(session, &user);
                }
            }
            HubEvent::Client {
                attachment,
                message,
            } => {
                if let Err(e) = self.client(attachment, message) {
                    self.send(attachment.session_id(), e.to_server_message());
                }
            }
            HubEvent::Detach(attachment) => {
                if self.sessions.detach(Instant::now(), attachment) {
                    if let Some(live) = self.live.get_mut(&attachment.session_id()) {
                        live.outbox = None;
                    }
                }
            }
            HubEvent::DirectTimeout { token } => self.withdraw_direct(token, "not_answered"),
            HubEvent::OnwardFailed { token, why } => self.onward_failed(token, &why),
            HubEvent::TransferTimeout { session, call_id } => {
                self.transfer_rang_out(session, &call_id);
            }
            HubEvent::InboundOver { token } => {
                self.put_through.remove(&token);
                self.withdraw_direct(token, "caller_hung_up");
                self.inbound.remove(&token);
                if let Some(cc) = &mut self.contact {
                    cc.ended(Instant::now(), token);
                }
            }
            HubEvent::FromCall {
                session,
                call_id,
                message,
                ended,
            } => {
                self.send(session, message);
                if ended {
                    if let Some(live) = self.live.get_mut(&session) {
                        live.calls.remove(&call_id);
                        live.offers.remove(&call_id);
                    }
                }
            }
            HubEvent::Query(q) => self.query(q),
            HubEvent::Adopted {
                token,
                from,
                to,
                user,
            } => self.adopted(token, &from, to, &user),
        }
    }

    fn hello(
        &mut self,
        claims: Claims,
        resume: Option<&str>,
        outbox: mpsc::Sender<ServerMessage>,
    ) -> Result<Welcome, ProtocolError> {
        let rng = &mut self.rng;
        let welcome = self
            .sessions
            .authenticate(Instant::now(), claims, resume, &mut || rng.next())?;
        // A takeover drops the old socket's outbox: its connection task closes it.
        let live = self.live.entry(welcome.session_id).or_default();
        live.outbox = Some(outbox);
        live.user.clone_from(&welcome.claims.user);
        self.users
            .insert(welcome.claims.user.clone(), welcome.session_id);
        Ok(welcome)
    }

    /// The calls a resumed session still has.
    fn resumed_calls(&self, session: SessionId) -> Vec<String> {
        let mut calls: Vec<String> = self
            .live
            .get(&session)
            .map(|l| l.calls.keys().cloned().collect())
            .unwrap_or_default();
        calls.sort();
        calls
    }

    /// A client message: only dispatches.
    fn client(
        &mut self,
        attachment: Attachment,
        message: ClientMessage,
    ) -> Result<(), ProtocolError> {
        let session = attachment.session_id();
        let claims =
            self.sessions.claims(session).cloned().ok_or_else(|| {
                ProtocolError::new(ErrorCode::NotAuthenticated, "no such session")
            })?;
        match message {
            ClientMessage::Call { call_id, to, sdp } => {
                self.call(session, claims, call_id, to, sdp)
            }
            ClientMessage::AgentState { state } => {
                let cc = self.contact.as_mut().ok_or_else(|| {
                    ProtocolError::new(ErrorCode::Forbidden, "this gateway has no queues")
                })?;
                cc.set_state(Instant::now(), &claims.user, state)
                    .map_err(|e| ProtocolError::new(ErrorCode::Forbidden, e))
            }
            ClientMessage::Accept { call_id, sdp } => {
                self.answer_offer(session, &claims.user, call_id, Some(sdp))
            }
            ClientMessage::Reject { call_id } => {
                self.answer_offer(session, &claims.user, call_id, None)
            }
            ClientMessage::Hangup { call_id } => {
                self.live_call(session, &call_id)?.hang_up("hangup");
                Ok(())
            }
            ClientMessage::Transfer { call_id, to } => {
                self.party_call(session, &call_id)?;
                self.transfer(session, &claims, &call_id, &to)
            }
            ClientMessage::Supervise {
                call_id,
                target,
                target_session,
                mode,
                sdp,
            } => self.supervise(
                session,
                &claims,
                call_id,
                (&target, target_session.as_deref()),
                mode,
                sdp,
            ),
            ClientMessage::SupervisorMode { call_id, mode } => {
                let handle = self.live_call(session, &call_id)?;
                if !handle.is_supervision() {
                    return Err(ProtocolError::new(
                        ErrorCode::BadState,
                        format!("{call_id:?} is not a supervision"),
                    )
                    .with_call_id(call_id));
                }
                handle.set_supervisor_mode(bridge_mode(mode));
                Ok(())
            }
            ClientMessage::Update { call_id, sdp } => {
                self.live_call(session, &call_id)?.update(sdp);
                Ok(())
            }
            ClientMessage::Hold { call_id } => {
                self.party_call(session, &call_id)?.hold(true);
                Ok(())
            }
            ClientMessage::Unhold { call_id } => {
                self.party_call(session, &call_id)?.hold(false);
                Ok(())
            }
            ClientMessage::Mute { call_id, muted } => {
                self.party_call(session, &call_id)?.mute(muted);
                Ok(())
            }
            ClientMessage::Dtmf {
                call_id,
                digits,
                duration_ms,
            } => {
                // The parser checked the digits (0-9 * # A-D).
                let digits = digits
                    .chars()
                    .filter_map(|c| dcx_media::dtmf::DtmfDigit::from_char(c).ok())
                    .collect();
                let ms = duration_ms.unwrap_or(DEFAULT_DIGIT_MS);
                self.party_call(session, &call_id)?.send_digits(digits, ms);
                Ok(())
            }
            other => {
                let call_id = other.call_id().map(str::to_owned);
                if let Some(id) = call_id.as_deref() {
                    self.live_call(session, id)?;
                }
                let e = ProtocolError::new(
                    ErrorCode::BadState,
                    format!("{} is not supported by this gateway yet", other.type_name()),
                );
                Err(match call_id {
                    Some(id) => e.with_call_id(id),
                    None => e,
                })
            }
        }
    }

    /// Call `call_id` of `session`, or `unknown_call`.
    fn live_call(&self, session: SessionId, call_id: &str) -> Result<&CallHandle, ProtocolError> {
        self.live
            .get(&session)
            .and_then(|l| l.calls.get(call_id))
            .ok_or_else(|| {
                ProtocolError::new(ErrorCode::UnknownCall, format!("no call {call_id:?} here"))
                    .with_call_id(call_id)
            })
    }

    /// [`Self::live_call`], refusing a supervision: a supervisor only hangs up, changes
    /// its mode and renegotiates.
    fn party_call(&self, session: SessionId, call_id: &str) -> Result<&CallHandle, ProtocolError> {
        let handle = self.live_call(session, call_id)?;
        if handle.is_supervision() {
            return Err(ProtocolError::new(
                ErrorCode::BadState,
                "a supervision takes hangup, supervisor_mode and update only",
            )
            .with_call_id(call_id));
        }
        Ok(handle)
    }

    /// A supervisor's `supervise`: the target call's task answers the supervisor's
    /// offer. Only calls bridged to a SIP leg, of the supervisor's own account.
    fn supervise(
        &mut self,
        session: SessionId,
        claims: &Claims,
        call_id: String,
        (target, target_session): (&str, Option<&str>),
        mode: dcx_signaling::SupervisorMode,
        offer: String,
    ) -> Result<(), ProtocolError> {
        let error = |code, why: String| ProtocolError::new(code, why).with_call_id(call_id.clone());
        if self
            .live
            .get(&session)
            .is_some_and(|l| l.calls.contains_key(&call_id))
        {
            return Err(error(
                ErrorCode::CallExists,
                format!("call {call_id:?} is already up on this session"),
            ));
        }
        let found = self.find_call(Instant::now(), target, target_session);
        let (view, handle) = match found {
            Ok((view, Some(handle))) => (view, handle.clone()),
            Ok((_, None)) | Err(super::hub_api::HangUpError::NotFound(_)) => {
                return Err(error(
                    ErrorCode::UnknownCall,
                    format!("no live call {target:?}"),
                ));
            }
            Err(e) => return Err(error(ErrorCode::BadState, e.to_string())),
        };
        if view.account.as_ref().is_some_and(|a| *a != claims.account) {
            return Err(error(
                ErrorCode::Forbidden,
                format!("call {target:?} is another account's"),
            ));
        }
        if handle.is_supervision() {
            return Err(error(
                ErrorCode::BadState,
                "a supervision cannot be supervised".to_owned(),
            ));
        }
        let supervision = handle.supervise(session, call_id.clone(), offer, bridge_mode(mode));
        self.live
            .entry(session)
            .or_default()
            .calls
            .insert(call_id, supervision);
        Ok(())
    }

    /// A browser's `call`: its task starts.
    fn call(
        &mut self,
        session: SessionId,
        claims: Claims,
        call_id: String,
        to: String,
        offer: String,
    ) -> Result<(), ProtocolError> {
        let live = self.live.entry(session).or_default();
        if live.calls.contains_key(&call_id) {
            return Err(ProtocolError::new(
                ErrorCode::CallExists,
                format!("call {call_id:?} is already up on this session"),
            )
            .with_call_id(call_id));
        }
        if let Some(callee) = to.strip_prefix(dcx_signaling::Destination::USER_PREFIX) {
            return self.call_user(session, claims, call_id, callee, offer);
        }
        let spec = CallSpec {
            session,
            call_id: call_id.clone(),
            origin: BrowserOrigin {
                account: claims.account,
                user: claims.user,
                dialled: to,
            },
            offer,
        };
        let handle = call::spawn(self.services.clone(), spec, self.events.clone());
        live.calls.insert(call_id, handle);
        Ok(())
    }

    /// A call to another browser of the same account: offered to the callee's session.
    /// The session of `user` (of `account`, connected, not `session` itself) that
    /// calls to it ring.
    pub(super) fn reachable(
        &self,
        session: SessionId,
        account: &str,
        user: &str,
    ) -> Option<SessionId> {
        self.users.get(user).copied().filter(|s| {
            self.sessions.is_attached(*s)
                && *s != session
                && self
                    .sessions
                    .claims(*s)
                    .is_some_and(|c| c.account == account)
        })
    }

    fn call_user(
        &mut self,
        session: SessionId,
        claims: Claims,
        call_id: String,
        callee: &str,
        offer: String,
    ) -> Result<(), ProtocolError> {
        let Some(callee_session) = self.reachable(session, &claims.account, callee) else {
            return Err(ProtocolError::new(
                ErrorCode::NoRoute,
                format!(
                    "user {callee:?} is not connected in account {:?}",
                    claims.account
                ),
            )
            .with_call_id(call_id));
        };
        self.next_user_call += 1;
        let callee_call_id = format!("u-{:016x}", self.next_user_call);
        let spec = super::user_call::UserCallSpec {
            caller: (session, call_id.clone()),
            callee: (callee_session, callee_call_id.clone()),
            offer,
            account: claims.account,
            users: (claims.user, callee.to_owned()),
        };
        let (caller, callee_handle) =
            super::user_call::spawn(self.services.clone(), spec, self.events.clone());
        self.live
            .entry(session)
            .or_default()
            .calls
            .insert(call_id, caller);
        self.live
            .entry(callee_session)
            .or_default()
            .offers
            .insert(callee_call_id, Offered::User(callee_handle));
        Ok(())
    }

    /// To the session's socket, if one is attached and keeping up (else dropped: a
    /// browser that resumes learns the state from `welcome`).
    fn send(&mut self, session: SessionId, message: ServerMessage) {
        let Some(outbox) = self.live.get(&session).and_then(|l| l.outbox.as_ref()) else {
            return;
        };
        if outbox.try_send(message).is_err() {
            tracing::debug!(%session, "a message for a slow or closed socket was dropped");
        }
    }

    /// Sessions whose grace passed: their calls are hung up, their agent goes offline.
    fn expire(&mut self, now: Instant) {
        self.sessions.handle_timeout(now);
        while let Some(session) = self.sessions.poll_expired() {
            if let Some(live) = self.live.remove(&session) {
                tracing::info!(%session, calls = live.calls.len(), "session expired");
                for call in live.calls.values() {
                    call.hang_up("the browser did not come back within the resume grace");
                }
                if self.users.get(&live.user) == Some(&session) {
                    self.users.remove(&live.user);
                    if let Some(cc) = &mut self.contact {
                        cc.agent_gone(now, &live.user);
                    }
                }
            }
        }
    }
}

/// The OS's random source, for resume tokens (bearer credentials: they must not be
/// predictable from earlier ones).
struct OsRandom {
    file: std::fs::File,
}

impl Hub {
    /// A value of the OS random source (seeds).
    pub(super) fn random(&mut self) -> u64 {
        self.rng.next()
    }
}

impl OsRandom {
    fn open() -> std::io::Result<Self> {
        Ok(Self {
            file: std::fs::File::open("/dev/urandom")?,
        })
    }

    fn next(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        // /dev/urandom does not fail once open; should it, the session layer refuses a
        // repeated value rather than handing out a duplicate.
        let _ = self.file.read_exact(&mut bytes);
        u64::from_le_bytes(bytes)
    }
}
