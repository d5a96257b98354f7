//! A supervisor on a bridged call: its browser is a second WebRTC peer of the call's
//! media task, fed by the bridge's [`dcx_media::bridge::SupervisorMix`]. The
//! supervision ends when the supervisor hangs up or its media goes, and with the call.

use dcx_media::bridge::BridgeMode;
use dcx_media::webrtc::{AudioCodec, MediaEvent, PeerId};
use dcx_signaling::{ErrorCode, ProtocolError, ServerMessage, SessionId};
use std::time::Instant;
use tokio::sync::mpsc;

use super::{renegotiate, Live, Reply};

/// The supervisor's browser on the call.
pub(in crate::browser) struct Supervisor {
    peer: PeerId,
    events: mpsc::Receiver<MediaEvent>,
    reply: Reply,
}

impl Live<'_> {
    /// What the supervisor's peer reported next (pending forever with no supervisor).
    pub(super) async fn supervisor_event(
        supervisor: &mut Option<Supervisor>,
    ) -> Option<MediaEvent> {
        match supervisor {
            Some(s) => s.events.recv().await,
            None => std::future::pending().await,
        }
    }

    /// A supervisor joins with its browser's offer: the peer answers, the supervisor
    /// hears `answered`, the bridge starts mixing. A call with a supervisor already,
    /// or without media yet, refuses with `bad_state` and `ended`.
    pub(super) async fn supervise(
        &mut self,
        session: SessionId,
        call_id: String,
        offer: String,
        mode: BridgeMode,
    ) {
        let reply = Reply {
            to: Some((session, call_id.clone())),
            hub: self.reply.hub.clone(),
        };
        if self.supervisor.is_some() {
            return reply.refuse("this call has a supervisor already");
        }
        let Some(bridge) = self.bridge.as_mut() else {
            return reply.refuse("this call has no media to supervise yet");
        };
        if let Err(e) = bridge.supervise(mode) {
            return reply.refuse(&e.to_string());
        }
        match self.services.webrtc.add_peer_with(offer, true).await {
            Ok((peer, answer)) => {
                let events = self.services.peers.subscribe(peer);
                reply.send(ServerMessage::Answered {
                    call_id: call_id.clone(),
                    sdp: Some(answer),
                });
                tracing::info!(supervision = %call_id, ?mode, "supervisor joined");
                self.supervisor = Some(Supervisor {
                    peer,
                    events,
                    reply,
                });
            }
            Err(e) => {
                if let Some(b) = self.bridge.as_mut() {
                    b.unsupervise();
                }
                let e = ProtocolError::new(
                    ErrorCode::InvalidMessage,
                    format!("the offer was refused: {e}"),
                )
                .with_call_id(call_id);
                reply.send(e.to_server_message());
                reply.ended("failed", None);
            }
        }
    }

    /// The supervisor's new mode.
    pub(super) fn set_supervisor_mode(&mut self, mode: BridgeMode) {
        if let (Some(_), Some(b)) = (&self.supervisor, self.bridge.as_mut()) {
            // The leg exists, so this only changes the mode.
            let _ = b.supervise(mode);
            tracing::info!(?mode, "supervisor mode");
        }
    }

    /// The supervisor's ICE restart.
    pub(super) async fn update_supervisor(&mut self, offer: String) {
        let Some(s) = &self.supervisor else { return };
        let message = renegotiate(self.services, s.peer, offer, s.reply.call_id()).await;
        s.reply.send(message);
    }

    /// The supervisor leaves: `ended` with `reason`, its peer removed, the bridge back
    /// to two parties.
    pub(super) async fn unsupervise(&mut self, reason: &str) {
        let Some(s) = self.supervisor.take() else {
            return;
        };
        if let Some(b) = self.bridge.as_mut() {
            b.unsupervise();
        }
        s.reply.ended(reason, None);
        let _ = self.services.webrtc.remove_peer(s.peer).await;
    }

    /// Audio, key presses or the end of the supervisor's peer.
    pub(super) async fn on_supervisor_media(&mut self, event: Option<MediaEvent>) {
        match event {
            Some(MediaEvent::Audio {
                ext_seq,
                rtp_time,
                payload,
                ..
            }) => {
                if let Some(b) = &mut self.bridge {
                    b.handle_supervisor_audio(Instant::now(), ext_seq, rtp_time, &payload);
                }
            }
            Some(MediaEvent::PeerDisconnected(..)) | None => {
                self.unsupervise("the supervisor's media went away").await;
            }
            Some(_) => {}
        }
    }

    /// What the supervisor hears that is due.
    pub(super) fn pump_supervisor(&mut self, now: Instant) {
        let (Some(s), Some(bridge)) = (&self.supervisor, self.bridge.as_mut()) else {
            return;
        };
        let (webrtc, peer) = (&self.services.webrtc, s.peer);
        bridge.poll_to_supervisor(now, |rtp_time, opus| {
            let _ = webrtc.write_audio(peer, AudioCodec::Opus, rtp_time, opus.to_vec());
        });
    }
}
