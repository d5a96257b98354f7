//! A supervisor on a browser-to-browser call: a third peer in the call's SFU room, in
//! the room's supervisor role (it hears both browsers mixed; whisper is heard by the
//! browser whose call the supervisor named as its target, barge by both: see
//! `dcx_media::sfu`). Ends with the call, when the supervisor hangs up, or when its
//! media goes.

use dcx_media::bridge::BridgeMode;
use dcx_media::sfu::{Role, RoomCommand, SupervisorMode};
use dcx_media::webrtc::{MediaEvent, PeerId};
use dcx_signaling::ServerMessage;
use tokio::sync::mpsc;

use super::UserCall;
use crate::browser::call::CallCommand;
use crate::browser::live::Reply;

/// The supervisor's browser in the room.
pub(super) struct RoomSupervisor {
    peer: PeerId,
    pub(super) events: mpsc::Receiver<MediaEvent>,
    reply: Reply,
    /// The side (0 the caller, 1 the callee) whose call it targeted: who hears a
    /// whisper.
    side: usize,
}

impl UserCall<'_> {
    /// A supervisor's command, arrived on side `side`'s channel; false if `command` is
    /// not one (the caller handles it).
    pub(super) async fn supervision(&mut self, side: usize, command: CallCommand) -> bool {
        match command {
            CallCommand::Supervise {
                session,
                call_id,
                offer,
                mode,
            } => {
                let reply = Reply {
                    to: Some((session, call_id)),
                    hub: self.caller.hub.clone(),
                };
                self.supervise(side, reply, offer, mode).await;
            }
            CallCommand::SupervisorMode(mode) => {
                if let Some(s) = &self.supervisor {
                    let mode = self.room_mode(s.side, mode);
                    let command = RoomCommand::SetSupervisorMode {
                        supervisor: s.peer,
                        mode,
                    };
                    if let Err(e) = self.services.webrtc.room(command).await {
                        tracing::warn!("supervisor mode: {e}");
                    }
                }
            }
            CallCommand::SupervisorUpdate(offer) => {
                if let Some(s) = &self.supervisor {
                    let (peer, id) = (s.peer, s.reply.call_id());
                    let message = crate::browser::live::renegotiate(self.services, peer, offer, id);
                    s.reply.send(message.await);
                }
            }
            CallCommand::Unsupervise => self.unsupervise("hangup").await,
            _ => return false,
        }
        true
    }

    async fn supervise(&mut self, side: usize, reply: Reply, offer: String, mode: BridgeMode) {
        let Some(room) = self.room else {
            return reply.refuse("the call is not answered yet");
        };
        if self.supervisor.is_some() {
            return reply.refuse("this call has a supervisor already");
        }
        // Beside the room's members (its shard forwards and mixes for them). Fullband:
        // the room mixes at 48 kHz.
        let Some(member) = self.peers.iter().flatten().next().copied() else {
            return reply.refuse("the call has no media to supervise");
        };
        let added = self.services.webrtc.add_peer_beside(member, offer, false);
        let (peer, answer) = match added.await {
            Ok(p) => p,
            Err(e) => return reply.refuse(&format!("the offer was refused: {e}")),
        };
        let events = self.services.peers.subscribe(peer);
        let join = RoomCommand::Join {
            room,
            peer,
            role: Role::Supervisor,
        };
        let mode = RoomCommand::SetSupervisorMode {
            supervisor: peer,
            mode: self.room_mode(side, mode),
        };
        for command in [join, mode] {
            if let Err(e) = self.services.webrtc.room(command).await {
                let _ = self.services.webrtc.remove_peer(peer).await;
                return reply.refuse(&format!("cannot join the call's room: {e}"));
            }
        }
        reply.send(ServerMessage::Answered {
            call_id: reply.call_id(),
            sdp: Some(answer),
        });
        self.supervisor = Some(RoomSupervisor {
            peer,
            events,
            reply,
            side,
        });
    }

    /// The room's mode for a supervisor who targeted side `side`.
    fn room_mode(&self, side: usize, mode: BridgeMode) -> SupervisorMode {
        match (mode, self.peers[side]) {
            (BridgeMode::Whisper, Some(to)) => SupervisorMode::Whisper { to },
            (BridgeMode::Barge, _) => SupervisorMode::Barge,
            _ => SupervisorMode::Listen,
        }
    }

    /// The supervisor leaves with `ended` `reason`; the call goes on.
    pub(super) async fn unsupervise(&mut self, reason: &str) {
        let Some(s) = self.supervisor.take() else {
            return;
        };
        let _ = self.services.webrtc.room(RoomCommand::Leave(s.peer)).await;
        let _ = self.services.webrtc.remove_peer(s.peer).await;
        s.reply.ended(reason, None);
    }
}
