//! Attended transfer of a queue call to a colleague's browser: the agent consulted a
//! colleague on a browser-to-browser call and joins the two. The colleague's WebRTC
//! peer (already connected, no renegotiation) leaves the consult call's SFU room and
//! becomes this call's browser: the caller and the colleague talk through this call's
//! bridge, the agent leaves both calls.

use dcx_signaling::{ErrorCode, ProtocolError, ServerMessage};
use tokio::sync::{mpsc, oneshot};

use super::Live;
use crate::browser::call::CallCommand;
use crate::browser::hub::HubEvent;
use crate::sip::udp::SipCommand;

impl Live<'_> {
    /// Takes the callee of the consult call (whose caller's task `consult` reaches) as
    /// this call's browser. If the consult call cannot hand it over (not answered,
    /// over), the agent hears `bad_state` and nothing changes.
    pub(super) async fn join_browser(&mut self, consult: mpsc::UnboundedSender<CallCommand>) {
        let (tx, rx) = oneshot::channel();
        let handed = match consult.send(CallCommand::HandOverCallee(tx)) {
            Ok(()) => rx.await.ok(),
            Err(_) => None,
        };
        let Some(callee) = handed else {
            let e = ProtocolError::new(
                ErrorCode::BadState,
                "the consult call is not answered (or is over): nothing to join",
            )
            .with_call_id(self.reply.call_id());
            return self.reply.send(e.to_server_message());
        };
        let from = self.reply.to.clone();
        self.reply.send(ServerMessage::Ended {
            call_id: self.reply.call_id(),
            reason: "transferred".into(),
            sip_code: None,
            detail: None,
        });
        self.leave_browser().await;
        self.hold = None;
        if let Some(b) = self.bridge.as_mut() {
            b.mark_talkspurt();
        }
        self.peer = Some((callee.peer, callee.events));
        self.reply.to = Some(callee.to.clone());
        tracing::info!(to = %callee.user, "attended transfer to a browser completed");
        if self.inbound {
            // The CDR names the agent who has the call last.
            let answer = SipCommand::Answer {
                token: self.token,
                agent: callee.user.clone(),
            };
            let _ = self.services.sip.send(answer).await;
        }
        if let Some(from) = from {
            let _ = self.reply.hub.send(HubEvent::Adopted {
                token: self.token,
                from,
                to: callee.to,
                user: callee.user,
            });
        }
    }
}
