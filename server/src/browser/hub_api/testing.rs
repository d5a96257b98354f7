//! A real session hub for tests of what the REST API asks it: its call tasks start as
//! in the gateway, over a media loop that is never run (a browser call waits for its
//! SDP answer for good, so it stays live) and a SIP side that is the test's receiver
//! (an inbound call's hang-up arrives there as a [`SipCommand::HangUp`]).

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcx_media::webrtc::{MediaCore, WebRtcConfig};
use dcx_signaling::{Attachment, Claims, ClientMessage, Connection, Role, ServerMessage};
use dcx_sip::sdp::{Codec, Direction, Negotiated};
use tokio::sync::{mpsc, oneshot, watch};

use crate::browser::hub::{self, HubEvent, HubHandle};
use crate::browser::peers::PeerRouter;
use crate::browser::Services;
use crate::call::browser::{Arrival, BrowserNews};
use crate::call::WallClock;
use crate::contact::ContactCenter;
use crate::sip::udp::{Inbound, SipCommand};
use crate::webrtc_shell::WebRtcShell;

/// The hub, and the ends of its channels the test holds.
pub(crate) struct TestHub {
    /// How the API reaches the hub.
    pub(crate) handle: HubHandle,
    /// Where the SIP side would hand it inbound queue calls.
    inbound: mpsc::UnboundedSender<Inbound>,
    /// What the call tasks ask of the SIP side.
    pub(crate) sip: mpsc::Receiver<SipCommand>,
    /// Kept so that the media loop's and the calls' channels stay open.
    keep: (
        WebRtcShell,
        watch::Sender<bool>,
        Vec<mpsc::UnboundedSender<BrowserNews>>,
    ),
}

/// A contact center with queue `support` (skill `support`) and these agents.
pub(crate) fn contact_center(agents: &[&str]) -> ContactCenter {
    let agents: Vec<crate::config::contact::AgentSection> = agents
        .iter()
        .map(|u| toml::from_str(&format!("user = \"{u}\"\nskills = {{ support = 5 }}\n")).unwrap())
        .collect();
    let queues: Vec<crate::config::contact::QueueSection> =
        vec![
            toml::from_str("name = \"support\"\nskills = { support = 1 }\nhold_tone_hz = 0\n")
                .unwrap(),
        ];
    let clock = WallClock {
        at: Instant::now(),
        unix_ms: 1_700_000_000_000,
    };
    ContactCenter::new(&agents, &queues, clock, 7).unwrap()
}

impl TestHub {
    /// A hub with `contact` as its contact center.
    pub(crate) async fn start(contact: Option<ContactCenter>) -> Self {
        let socket = tokio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .unwrap();
        let port = socket.local_addr().unwrap().port();
        let core = MediaCore::new(&WebRtcConfig::new(Ipv4Addr::LOCALHOST.into(), port)).unwrap();
        let (stop, stopped) = watch::channel(false);
        let (shell, webrtc, events) = WebRtcShell::new(socket, core, &stopped).unwrap();
        let (sip_tx, sip) = mpsc::channel(64);
        let services = Arc::new(Services {
            webrtc,
            peers: PeerRouter::spawn(events, Arc::default()),
            sip: sip_tx,
            stats: Arc::default(),
            cdrs: None,
        });
        let (inbound, inbound_rx) = mpsc::unbounded_channel();
        let handle = hub::spawn(services, Duration::from_secs(30), contact, inbound_rx).unwrap();
        Self {
            handle,
            inbound,
            sip,
            keep: (shell, stop, Vec::new()),
        }
    }

    /// A socket's `hello` as `user` with `role`: its attachment and outbox.
    pub(crate) async fn login(
        &self,
        user: &str,
        role: Role,
    ) -> (Attachment, mpsc::Receiver<ServerMessage>) {
        let (outbox, messages) = mpsc::channel(64);
        let (reply, welcome) = oneshot::channel();
        // `ACCOUNT/USER`, or a user of account demo.
        let (account, user) = user.split_once('/').unwrap_or(("demo", user));
        let claims = Claims {
            account: account.into(),
            user: user.into(),
            role,
            exp: u64::MAX,
        };
        assert!(self.handle.send(HubEvent::Hello {
            claims,
            resume: None,
            outbox,
            reply,
        }));
        let (welcome, _) = welcome.await.unwrap().unwrap();
        let mut gate = Connection::new();
        gate.open(&welcome);
        (gate.attachment().unwrap(), messages)
    }

    /// A client message of `attachment`'s socket.
    pub(crate) fn client(&self, attachment: Attachment, message: ClientMessage) {
        assert!(self.handle.send(HubEvent::Client {
            attachment,
            message,
        }));
    }

    /// A browser call `call_id` of `attachment`'s session (to a routable number).
    pub(crate) fn browser_call(&self, attachment: Attachment, call_id: &str) {
        self.client(
            attachment,
            ClientMessage::Call {
                call_id: call_id.into(),
                to: "15551234567".into(),
                sdp: "v=0\r\n".into(),
            },
        );
    }

    /// A carrier's caller `from` for queue `queue`, as the SIP side hands it over.
    pub(crate) fn inbound_call(&mut self, token: u64, queue: &str, from: &str) {
        let (news_tx, news) = mpsc::unbounded_channel();
        let arrival = Arrival {
            from: from.into(),
            dialled: "15550100".into(),
            queue: queue.into(),
            user: None,
            media: Negotiated {
                codec: Codec::Pcmu,
                payload_type: 0,
                dtmf_payload_type: None,
                ptime_ms: 20,
                direction: Direction::SendRecv,
                remote: None,
                remote_rtcp: None,
            },
            rtp: (Ipv4Addr::LOCALHOST.into(), 0),
        };
        self.inbound.send((token, arrival, news)).unwrap();
        self.keep.2.push(news_tx);
    }

    /// Asks the hub's calls until `done` holds of them (5 s at most): inbound calls
    /// come on a channel of their own, so a query may overtake one.
    pub(crate) async fn calls_until(
        &self,
        done: impl Fn(&[super::CallView]) -> bool,
    ) -> Vec<super::CallView> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let calls = self.handle.calls().await.unwrap();
            if done(&calls) {
                return calls;
            }
            assert!(
                Instant::now() < deadline,
                "calls never got there: {calls:?}"
            );
            tokio::task::yield_now().await;
        }
    }
}

mod tests {
    use std::time::Duration;

    use dcx_signaling::{AgentState, AgentStatus, ClientMessage, Role, ServerMessage};
    use serde_json::json;

    use super::{contact_center, TestHub};
    use crate::browser::hub_api::{CallKind, HangUpError, HUNG_UP_BY_ADMIN};
    use crate::contact::QueueCallState;
    use crate::sip::udp::SipCommand;

    #[tokio::test]
    async fn browser_calls_are_listed_by_session_and_a_shared_id_needs_the_session() {
        let hub = TestHub::start(None).await;
        let (alice, _a) = hub.login("alice", Role::Softphone).await;
        let (bob, _b) = hub.login("bob", Role::Softphone).await;
        hub.browser_call(alice, "c1");
        hub.browser_call(alice, "c2");
        hub.browser_call(bob, "c1");
        let calls = hub.handle.calls().await.unwrap();
        let mut seen: Vec<(String, String)> = calls
            .iter()
            .map(|c| (c.user.clone().unwrap(), c.call_id.clone()))
            .collect();
        seen.sort();
        let pairs = [("alice", "c1"), ("alice", "c2"), ("bob", "c1")];
        assert_eq!(seen, pairs.map(|(u, c)| (u.to_owned(), c.to_owned())));
        assert!(calls.iter().all(|c| c.kind == CallKind::Browser));
        let json = serde_json::to_value(&calls[0]).unwrap();
        assert_eq!(
            json,
            json!({"call_id": calls[0].call_id, "kind": "browser", "account": "demo",
                   "user": calls[0].user, "session": calls[0].session})
        );

        let h = &hub.handle;
        let unknown = h.hang_up_call("c9".into(), None).await.unwrap();
        assert_eq!(unknown, Err(HangUpError::NotFound("c9".into())));
        let shared = h.hang_up_call("c1".into(), None).await.unwrap();
        assert!(
            matches!(&shared, Err(HangUpError::Ambiguous { sessions, .. }) if sessions.len() == 2),
            "{shared:?}"
        );
        let bobs = bob.session_id().to_string();
        let one = h.hang_up_call("c1".into(), Some(bobs.clone())).await;
        assert_eq!(one.unwrap().unwrap().session, Some(bobs));
        let elsewhere = h.hang_up_call("c2".into(), Some("s-0".into())).await;
        assert_eq!(elsewhere.unwrap(), Err(HangUpError::NotFound("c2".into())));
    }

    #[tokio::test]
    async fn inbound_callers_are_listed_waiting_ringing_and_answered_and_hung_up() {
        let mut hub = TestHub::start(Some(contact_center(&["agent1", "agent2"]))).await;
        let (agent1, mut outbox) = hub.login("agent1", Role::Agent).await;
        let available = ClientMessage::AgentState {
            state: AgentState::Available,
        };
        hub.client(agent1, available);
        hub.inbound_call(0x2a, "support", "sip:+12025550100@carrier");
        hub.inbound_call(0x2b, "support", "sip:+12025550111@carrier");
        let calls = hub.calls_until(|c| c.len() == 2).await;
        let summary: Vec<_> = calls
            .iter()
            .map(|c| {
                (
                    c.kind,
                    c.call_id.as_str(),
                    c.state,
                    c.user.as_deref(),
                    c.session.as_deref(),
                )
            })
            .collect();
        let ringing = Some(QueueCallState::Ringing);
        let waiting = Some(QueueCallState::Waiting);
        assert_eq!(
            summary,
            [
                (
                    CallKind::Inbound,
                    "q-000000000000002a",
                    ringing,
                    Some("agent1"),
                    None
                ),
                (CallKind::Inbound, "q-000000000000002b", waiting, None, None),
            ]
        );
        assert_eq!(calls[1].from.as_deref(), Some("sip:+12025550111@carrier"));

        let q = serde_json::to_value(hub.handle.queues().await.unwrap()).unwrap();
        assert_eq!(q[0]["name"], "support");
        assert_eq!(q[0]["strategy"], "longest-idle");
        assert_eq!(q[0]["waiting"][0]["call_id"], "q-000000000000002a");
        assert_eq!(q[0]["waiting"][0]["state"], "ringing");
        assert_eq!(q[0]["waiting"][1]["state"], "waiting");
        assert!(q[0]["waiting"][1]["wait_s"].is_u64(), "{q}");
        assert_eq!(q[0]["agents_eligible"], json!(["agent1", "agent2"]));
        assert_eq!(
            q[0]["agents_available"],
            json!([]),
            "agent1 is rung, agent2 offline"
        );
        let agents = hub.handle.agents().await.unwrap();
        assert_eq!(agents[0].state, AgentStatus::Busy);
        assert_eq!(agents[0].call_id.as_deref(), Some("q-000000000000002a"));
        assert_eq!(agents[1].state, AgentStatus::Offline);

        // The waiting caller is hung up: its media task asks the SIP side to end it.
        let done = hub
            .handle
            .hang_up_call("q-000000000000002b".into(), None)
            .await;
        assert_eq!(done.unwrap().unwrap().kind, CallKind::Inbound);
        let asked = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match hub.sip.recv().await {
                    Some(SipCommand::HangUp { token, why, .. }) => break (token, why),
                    Some(_) => {}
                    None => panic!("the SIP side's channel closed"),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(asked, (0x2b, HUNG_UP_BY_ADMIN.to_owned()));

        // agent1 was offered the other one, and takes it.
        let offered = std::iter::from_fn(|| outbox.try_recv().ok())
            .any(|m| matches!(m, ServerMessage::Incoming { ref call_id, .. } if call_id == "q-000000000000002a"));
        assert!(offered);
        let accept = ClientMessage::Accept {
            call_id: "q-000000000000002a".into(),
            sdp: "v=0\r\n".into(),
        };
        hub.client(agent1, accept);
        let calls = hub.handle.calls().await.unwrap();
        let taken = calls.iter().find(|c| c.call_id == "q-000000000000002a");
        let taken = taken.expect("still up");
        assert_eq!(
            calls.iter().filter(|c| c.call_id == taken.call_id).count(),
            1
        );
        assert_eq!(taken.state, Some(QueueCallState::Answered));
        assert_eq!(taken.session, Some(agent1.session_id().to_string()));
        assert_eq!(taken.account.as_deref(), Some("demo"));
    }
}
