//! The hub's side of the contact center and of offered calls: an agent's `accept`,
//! `reject` and `transfer`, inbound callers arriving (for a queue or one user's DID),
//! and carrying out what the contact center decided. A child module of the hub: it
//! works on the hub's state directly, in the hub's task.

use std::time::Instant;

use dcx_signaling::{Claims, ErrorCode, ProtocolError, ServerMessage, SessionId};

use crate::call::browser::BrowserOrigin;

use super::super::live::HoldSound;
use super::{call, Hub, HubEvent, Offered, DIRECT_RING};
use crate::contact::Action;
use crate::sip::udp::Inbound;

impl Hub {
    /// An agent's `accept` (with its browser's offer) or `reject` of a queue call.
    pub(super) fn answer_offer(
        &mut self,
        session: SessionId,
        user: &str,
        call_id: String,
        offer: Option<String>,
    ) -> Result<(), ProtocolError> {
        let unknown = || {
            ProtocolError::new(
                ErrorCode::UnknownCall,
                format!("no call {call_id:?} offered here"),
            )
            .with_call_id(call_id.clone())
        };
        let live = self.live.get_mut(&session).ok_or_else(unknown)?;
        let token = match live.offers.remove(&call_id).ok_or_else(unknown)? {
            Offered::Queue(token) => token,
            Offered::Direct(token) => {
                self.direct.remove(&token);
                let handle = self.inbound.get(&token).cloned().ok_or_else(unknown)?;
                match offer {
                    Some(sdp) => {
                        handle.attach(session, call_id.clone(), sdp, user.to_owned());
                        live.calls.insert(call_id, handle);
                    }
                    None => handle.hang_up("declined by the user"),
                }
                return Ok(());
            }
            Offered::User(handle) => {
                match offer {
                    Some(sdp) => {
                        handle.attach(session, call_id.clone(), sdp, user.to_owned());
                        live.calls.insert(call_id, handle);
                    }
                    None => handle.hang_up("rejected"),
                }
                return Ok(());
            }
        };
        let handle = self.inbound.get(&token).cloned().ok_or_else(unknown)?;
        let cc = self.contact.as_mut().ok_or_else(unknown)?;
        let now = Instant::now();
        let answered = match &offer {
            Some(_) => cc.accept(now, token, user),
            None => cc.reject(now, token, user),
        };
        answered.map_err(|e| {
            ProtocolError::new(ErrorCode::BadState, e).with_call_id(call_id.clone())
        })?;
        if let Some(sdp) = offer {
            handle.attach(session, call_id.clone(), sdp, user.to_owned());
            live.taken.insert(call_id.clone(), token);
            live.calls.insert(call_id, handle);
        }
        Ok(())
    }

    /// A blind transfer: of the caller an agent took, to `user:NAME` (another agent,
    /// offered at once), `queue:NAME` or a number; of a browser's own PSTN call, to a
    /// number or to `user:NAME` (another browser of the account, offered the call). To a number, the call's task dials it as this browser's call and puts
    /// the far end through ([`CallHandle::put_through`]).
    pub(super) fn transfer(
        &mut self,
        session: SessionId,
        claims: &Claims,
        call_id: &str,
        to: &str,
    ) -> Result<(), ProtocolError> {
        let refused = |why: &str| {
            ProtocolError::new(ErrorCode::BadState, why).with_call_id(call_id.to_owned())
        };
        if let Some(consult) = to.strip_prefix("call:") {
            return self.complete_transfer(session, call_id, consult);
        }
        let handle = self.live_call(session, call_id)?.clone();
        let token = self
            .live
            .get(&session)
            .and_then(|l| l.taken.get(call_id).copied());
        let target = if let Some(user) = to.strip_prefix(dcx_signaling::Destination::USER_PREFIX) {
            crate::contact::Transfer::Agent(user.to_owned())
        } else if let Some(queue) = to.strip_prefix("queue:") {
            crate::contact::Transfer::Queue(queue.to_owned())
        } else {
            crate::contact::Transfer::Number(to.to_owned())
        };
        let number = match &target {
            crate::contact::Transfer::Number(n) => Some(n.clone()),
            _ => None,
        };
        match token {
            Some(token) => {
                let cc = self
                    .contact
                    .as_mut()
                    .ok_or_else(|| refused("no contact center"))?;
                // Where the caller goes back to if the number cannot be reached.
                let came_from = cc.caller(token);
                cc.transfer(Instant::now(), token, &target)
                    .map_err(refused)?;
                if let (Some(back), Some(_)) = (came_from, &number) {
                    self.put_through.insert(token, back);
                }
            }
            None => match (&target, handle.is_bridged()) {
                (crate::contact::Transfer::Agent(user), _) => {
                    return self.transfer_to_user(session, claims, call_id, user, &handle);
                }
                (crate::contact::Transfer::Queue(queue), true) => {
                    return self.transfer_to_queue(session, call_id, queue, &handle);
                }
                (crate::contact::Transfer::Queue(_), false) => {
                    return Err(refused(
                        "a browser-to-browser call can be transferred to a user only (no SIP leg)",
                    ));
                }
                (crate::contact::Transfer::Number(_), false) => {
                    return Err(refused(
                        "a browser-to-browser call cannot be transferred (no SIP leg)",
                    ));
                }
                (crate::contact::Transfer::Number(_), true) => {}
            },
        }
        // The browser hears it is off the call before its wrap-up (the contact center's
        // actions are carried out after this).
        self.transferred_away(session, call_id);
        match number {
            Some(number) => {
                let origin = BrowserOrigin {
                    account: claims.account.clone(),
                    user: claims.user.clone(),
                    dialled: number.clone(),
                };
                if token.is_none() {
                    self.keep_transferred(session, claims, call_id, &number, &handle);
                }
                handle.put_through(number, origin, None);
            }
            None => handle.detach(),
        }
        Ok(())
    }

    /// Attended transfer: `transfer` of `call_id` to `call:CONSULT`, another call of the
    /// same browser: the two far ends are bridged and the browser leaves both (`ended`
    /// "transferred" for each). Both must have a SIP leg; a queue call among them leaves
    /// the contact center (its agent goes to wrap-up).
    fn complete_transfer(
        &mut self,
        session: SessionId,
        call_id: &str,
        consult: &str,
    ) -> Result<(), ProtocolError> {
        let refused =
            |code, why: String| ProtocolError::new(code, why).with_call_id(call_id.to_owned());
        if consult == call_id {
            return Err(refused(
                ErrorCode::BadState,
                "a call cannot be transferred to itself".into(),
            ));
        }
        let stays = self.party_call(session, call_id)?.clone();
        let other = self
            .party_call(session, consult)
            .map_err(|e| refused(e.code, e.reason))?
            .clone();
        let token = self
            .live
            .get(&session)
            .and_then(|l| l.taken.get(call_id).copied());
        if let (Some(_), true) = (token, other.is_user_caller()) {
            // To a colleague's browser: the call's task takes it over and reports back
            // (`adopted`); until then nothing changes here.
            stays.join_browser(&other);
            return Ok(());
        }
        if !stays.is_bridged() || !other.is_bridged() {
            return Err(refused(
                ErrorCode::BadState,
                "an attended transfer joins two calls with SIP legs, or a queue call and a \
                 browser-to-browser call this browser placed"
                    .into(),
            ));
        }
        let now = Instant::now();
        for id in [call_id, consult] {
            let token = self
                .live
                .get(&session)
                .and_then(|l| l.taken.get(id).copied());
            if let (Some(token), Some(cc)) = (token, self.contact.as_mut()) {
                let out = crate::contact::Transfer::Number(format!("call:{consult}"));
                cc.transfer(now, token, &out)
                    .map_err(|e| refused(ErrorCode::BadState, e.to_owned()))?;
            }
        }
        for id in [call_id, consult] {
            self.transferred_away(session, id);
        }
        if token.is_none() {
            if let Some(claims) = self.sessions.claims(session).cloned() {
                let to = format!("call:{consult}");
                self.keep_transferred(session, &claims, call_id, &to, &stays);
            }
        }
        stays.join(&other);
        Ok(())
    }

    /// Browser call `call_id` goes on without its browser, to `to`: listed by the API
    /// (kind `transferred`) until its task ends.
    fn keep_transferred(
        &mut self,
        session: SessionId,
        claims: &Claims,
        call_id: &str,
        to: &str,
        handle: &super::CallHandle,
    ) {
        self.transferred.retain(|t| !t.handle.is_over());
        self.transferred.push(super::Transferred {
            call_id: call_id.to_owned(),
            session,
            account: claims.account.clone(),
            user: claims.user.clone(),
            to: to.to_owned(),
            handle: handle.clone(),
        });
    }

    /// Blind transfer of a browser's own PSTN call to another browser: offered there
    /// (`incoming` from the far end's number) while the far end hears hold audio; the
    /// browser that transferred leaves. If the user does not answer within the ring
    /// time or rejects, the call ends.
    fn transfer_to_user(
        &mut self,
        session: SessionId,
        claims: &Claims,
        call_id: &str,
        user: &str,
        handle: &super::CallHandle,
    ) -> Result<(), ProtocolError> {
        let Some(target) = self.reachable(session, &claims.account, user) else {
            return Err(ProtocolError::new(
                ErrorCode::NoRoute,
                format!(
                    "user {user:?} is not connected in account {:?}",
                    claims.account
                ),
            )
            .with_call_id(call_id.to_owned()));
        };
        self.transferred_away(session, call_id);
        handle.detach();
        self.next_user_call += 1;
        let offered_id = format!("t-{:016x}", self.next_user_call);
        let from = handle.far_end().unwrap_or(&claims.user).to_owned();
        let live = self.live.entry(target).or_default();
        live.offers
            .insert(offered_id.clone(), super::Offered::User(handle.clone()));
        tracing::info!(%call_id, to = %user, "transferring the call to a browser");
        self.send(
            target,
            ServerMessage::Incoming {
                call_id: offered_id.clone(),
                from,
                queue: None,
            },
        );
        let events = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(super::DIRECT_RING).await;
            let _ = events.send(HubEvent::TransferTimeout {
                session: target,
                call_id: offered_id,
            });
        });
        Ok(())
    }

    /// Blind transfer of a browser's own PSTN call into `queue`: the far end waits there
    /// like a caller of a DID (hold audio, offered to the queue's agents, its max wait
    /// and fallback), as the contact center's call of a token of the hub's own (high
    /// bit set: never a SIP token).
    fn transfer_to_queue(
        &mut self,
        session: SessionId,
        call_id: &str,
        queue: &str,
        handle: &super::CallHandle,
    ) -> Result<(), ProtocolError> {
        let refused =
            |code, why: String| ProtocolError::new(code, why).with_call_id(call_id.to_owned());
        let known = self
            .contact
            .as_ref()
            .is_some_and(|cc| cc.rules(queue).is_some());
        if !known {
            return Err(refused(ErrorCode::NoRoute, format!("no queue {queue:?}")));
        }
        self.next_user_call += 1;
        let token = (1 << 63) | self.next_user_call;
        let from = handle.far_end().unwrap_or("unknown").to_owned();
        self.transferred_away(session, call_id);
        handle.detach();
        handle.queued(token);
        self.inbound.insert(token, handle.clone());
        let now = Instant::now();
        if let Some(cc) = self.contact.as_mut() {
            cc.arrived(now, token, queue, &from);
        }
        tracing::info!(%call_id, %queue, "the call waits in a queue");
        Ok(())
    }

    /// A transferred call rang out at `session`: the offer ends, and so does the call.
    pub(super) fn transfer_rang_out(&mut self, session: SessionId, call_id: &str) {
        let Some(live) = self.live.get_mut(&session) else {
            return;
        };
        let Some(super::Offered::User(handle)) = live.offers.remove(call_id) else {
            return;
        };
        handle.hang_up("the transfer target did not answer");
        let ended = ServerMessage::Ended {
            call_id: call_id.to_owned(),
            reason: "not_answered".into(),
            sip_code: None,
            detail: None,
        };
        self.send(session, ended);
    }

    /// A queue call put through to a number could not reach it (before an answer): the
    /// caller goes back to the queue it came from, hearing hold audio again, and waits
    /// there as a new arrival; with nowhere to go back to, it is hung up.
    pub(super) fn onward_failed(&mut self, token: u64, why: &str) {
        let now = Instant::now();
        let back = self.put_through.remove(&token);
        let requeued = match (back, self.contact.as_mut()) {
            (Some((queue, from)), Some(cc)) => cc.arrived(now, token, &queue, &from),
            _ => false,
        };
        if requeued {
            tracing::info!(
                token,
                "the number could not be reached ({why}): the caller is back in its queue"
            );
            let wait = crate::sip::udp::SipCommand::Requeued { token };
            if self.services.sip.try_send(wait).is_err() {
                tracing::warn!(
                    token,
                    "the SIP side did not take the requeue: the CDR's wait misses it"
                );
            }
        } else if let Some(h) = self.inbound.get(&token) {
            h.hang_up(why);
        }
    }

    /// Tells `session` its user's presence, if the user is an agent.
    pub(super) fn tell_presence(&mut self, session: SessionId, user: &str) {
        let presence = self
            .contact
            .as_ref()
            .and_then(|cc| cc.presence(Instant::now(), user));
        if let Some((state, wrap_up_remaining_s)) = presence {
            let message = ServerMessage::AgentState {
                state,
                wrap_up_remaining_s,
            };
            self.send(session, message);
        }
    }

    /// Call `call_id` is no longer `session`'s (it was transferred): forgotten there,
    /// and the browser hears `ended` "transferred".
    fn transferred_away(&mut self, session: SessionId, call_id: &str) {
        if let Some(live) = self.live.get_mut(&session) {
            live.taken.remove(call_id);
            live.calls.remove(call_id);
        }
        let ended = ServerMessage::Ended {
            call_id: call_id.to_owned(),
            reason: "transferred".into(),
            sip_code: None,
            detail: None,
        };
        self.send(session, ended);
    }

    /// Queue call `token` went from the agent's browser `from` to the colleague's `to`
    /// (an attended transfer to a browser): the colleague's session has it under its id
    /// of the consult call, and the contact center hands it over.
    pub(super) fn adopted(
        &mut self,
        token: u64,
        from: &(SessionId, String),
        to: (SessionId, String),
        user: &str,
    ) {
        if let Some(live) = self.live.get_mut(&from.0) {
            live.taken.remove(&from.1);
            live.calls.remove(&from.1);
        }
        let Some(handle) = self.inbound.get(&token).cloned() else {
            return;
        };
        let live = self.live.entry(to.0).or_default();
        live.taken.insert(to.1.clone(), token);
        live.calls.insert(to.1, handle);
        if let Some(cc) = self.contact.as_mut() {
            if let Err(e) = cc.hand_to(Instant::now(), token, user) {
                tracing::warn!(token, user, "contact center: {e}");
            }
        }
    }

    /// What a queue's callers hear on hold: its `hold_wav`, else its tone.
    fn hold_sound(&self, queue: &str, tone_hz: u32) -> HoldSound {
        match self.contact.as_ref().and_then(|cc| cc.hold_audio(queue)) {
            Some(samples) => HoldSound::Wav(samples),
            None => HoldSound::Tone(tone_hz),
        }
    }

    /// An inbound caller for a queue: its media task starts (hold audio) and the
    /// contact center looks for an agent.
    pub(super) fn queued(&mut self, call: Inbound) {
        if call.1.user.is_some() {
            return self.direct(call);
        }
        let token = call.0;
        let (queue, from) = (call.1.queue.clone(), call.1.from.clone());
        let rules = self.contact.as_ref().and_then(|cc| cc.rules(&queue));
        let handle = call::spawn_inbound(
            self.services.clone(),
            call,
            self.hold_sound(&queue, rules.map_or(0, |r| r.hold_tone_hz)),
            self.events.clone(),
        );
        let now = Instant::now();
        let taken = self
            .contact
            .as_mut()
            .is_some_and(|cc| cc.arrived(now, token, &queue, &from));
        if !taken {
            handle.hang_up("no such queue, or no contact center");
        }
        self.inbound.insert(token, handle);
    }

    /// An inbound call to a user's DID: offered to that user's browser (if connected)
    /// for [`DIRECT_RING`], with hold audio to the caller meanwhile.
    pub(super) fn direct(&mut self, call: Inbound) {
        let token = call.0;
        let (user, from) = (call.1.user.clone().unwrap_or_default(), call.1.from.clone());
        let sound = HoldSound::Tone(440);
        let handle = call::spawn_inbound(self.services.clone(), call, sound, self.events.clone());
        let session = self
            .users
            .get(&user)
            .copied()
            .filter(|s| self.sessions.is_attached(*s));
        let Some(session) = session else {
            handle.hang_up("the user of the DID is not connected");
            self.inbound.insert(token, handle);
            return;
        };
        let call_id = crate::contact::queue_call_id(token);
        if let Some(live) = self.live.get_mut(&session) {
            live.offers.insert(call_id.clone(), Offered::Direct(token));
        }
        self.direct.insert(token, (session, call_id.clone()));
        self.inbound.insert(token, handle);
        self.send(
            session,
            ServerMessage::Incoming {
                call_id,
                from,
                queue: None,
            },
        );
        let events = self.events.clone();
        tokio::spawn(async move {
            tokio::time::sleep(DIRECT_RING).await;
            let _ = events.send(HubEvent::DirectTimeout { token });
        });
    }

    /// Ends the direct offer of `token` if it is still pending: the user is told why,
    /// and (unless the caller is gone) the caller is hung up.
    pub(super) fn withdraw_direct(&mut self, token: u64, reason: &str) {
        let Some((session, call_id)) = self.direct.remove(&token) else {
            return;
        };
        let pending = self
            .live
            .get_mut(&session)
            .and_then(|l| l.offers.remove(&call_id))
            .is_some();
        if !pending {
            return;
        }
        let ended = ServerMessage::Ended {
            call_id,
            reason: reason.to_owned(),
            sip_code: None,
            detail: None,
        };
        self.send(session, ended);
        if let Some(h) = self.inbound.get(&token) {
            h.hang_up("nobody answered the user's DID");
        }
    }

    /// Carries out what the contact center decided.
    pub(super) fn act(&mut self) {
        let Some(cc) = &mut self.contact else {
            return;
        };
        let mut actions = Vec::new();
        while let Some(a) = cc.poll_action() {
            actions.push(a);
        }
        for action in actions {
            self.carry_out(action);
        }
    }

    pub(super) fn carry_out(&mut self, action: Action) {
        let call_id = crate::contact::queue_call_id;
        match action {
            Action::Offer {
                token,
                user,
                from,
                queue,
            } => {
                let Some(&session) = self.users.get(&user) else {
                    return; // it rings out, and the next agent is tried
                };
                let id = call_id(token);
                if let Some(live) = self.live.get_mut(&session) {
                    live.offers.insert(id.clone(), Offered::Queue(token));
                }
                let incoming = ServerMessage::Incoming {
                    call_id: id,
                    from,
                    queue: Some(queue),
                };
                self.send(session, incoming);
            }
            Action::Withdraw {
                token,
                user,
                reason,
            } => {
                let Some(&session) = self.users.get(&user) else {
                    return;
                };
                let id = call_id(token);
                if let Some(live) = self.live.get_mut(&session) {
                    live.offers.remove(&id);
                }
                let ended = ServerMessage::Ended {
                    call_id: id,
                    reason: reason.to_owned(),
                    sip_code: None,
                    detail: None,
                };
                self.send(session, ended);
            }
            Action::Forward {
                token,
                queue,
                number,
            } => {
                if let Some(h) = self.inbound.get(&token) {
                    let origin = BrowserOrigin {
                        account: format!("queue:{queue}"),
                        user: "fallback".to_owned(),
                        dialled: number.clone(),
                    };
                    let answered_by = format!("fallback:{number}");
                    h.put_through(number, origin, Some(answered_by));
                }
            }
            Action::GiveUp { token, why, .. } => {
                if let Some(h) = self.inbound.get(&token) {
                    h.hang_up(&why);
                }
            }
            Action::AgentState {
                user,
                state,
                wrap_up_remaining_s,
            } => {
                if let Some(&session) = self.users.get(&user) {
                    let message = ServerMessage::AgentState {
                        state,
                        wrap_up_remaining_s,
                    };
                    self.send(session, message);
                }
            }
        }
    }
}
