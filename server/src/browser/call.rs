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

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use dcx_media::dtmf::{DtmfDigit, DtmfEvent};
use dcx_media::webrtc::{AudioCodec, MediaEvent, PeerId};
use dcx_signaling::{ServerMessage, SessionId};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::bridge::MediaBridge;
use super::hub::HubEvent;
use super::Services;
use crate::call::browser::{BrowserNews, BrowserOrigin};
use crate::call::events::HangupSide;
use crate::sip::udp::SipCommand;

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
    /// Send these key presses to the far end (RFC 4733), each this long.
    Digits(Vec<DtmfDigit>, u32),
}

/// How the hub reaches a call's task.
#[derive(Debug, Clone)]
pub struct CallHandle {
    commands: mpsc::UnboundedSender<CallCommand>,
}

impl CallHandle {
    /// Asks the call to end; a call already over ignores it.
    pub fn hang_up(&self, why: &str) {
        let _ = self.commands.send(CallCommand::HangUp(why.to_owned()));
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
    tokio::spawn(tracing::Instrument::instrument(
        run(services, spec, hub, rx),
        span,
    ));
    CallHandle { commands }
}

/// Tells the browser, through the hub.
struct Reply {
    session: SessionId,
    call_id: String,
    hub: mpsc::UnboundedSender<HubEvent>,
}

impl Reply {
    fn send(&self, message: ServerMessage) {
        let ended = matches!(message, ServerMessage::Ended { .. });
        let _ = self.hub.send(HubEvent::FromCall {
            session: self.session,
            call_id: self.call_id.clone(),
            message,
            ended,
        });
    }

    fn ended(&self, reason: &str, sip_code: Option<u16>) {
        self.send(ServerMessage::Ended {
            call_id: self.call_id.clone(),
            reason: reason.to_owned(),
            sip_code,
        });
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
        session: spec.session,
        call_id: spec.call_id.clone(),
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
            call_id: reply.call_id.clone(),
            sdp: Some(answer),
        });
    }
    let mut call = Live {
        services,
        reply: &reply,
        peer,
        token,
        socket,
        bridge: None,
        hung_up: false,
    };
    call.run(news, events, &mut commands).await;
    if let Some(b) = &call.bridge {
        let c = b.counters();
        tracing::debug!(?c, "media bridged");
        let stats = &services.stats;
        stats
            .carrier_rtp_dropped
            .fetch_add(c.carrier_dropped, Ordering::Relaxed);
    }
    let _ = services.webrtc.remove_peer(peer).await;
}

async fn hang_up(services: &Services, token: u64, why: &str) {
    let _ = services
        .sip
        .send(SipCommand::HangUp {
            token,
            why: why.to_owned(),
        })
        .await;
}

/// A dialled call, until its SIP side has ended.
struct Live<'a> {
    services: &'a Services,
    reply: &'a Reply,
    peer: PeerId,
    token: u64,
    socket: Option<UdpSocket>,
    bridge: Option<MediaBridge>,
    hung_up: bool,
}

impl Live<'_> {
    async fn run(
        &mut self,
        mut news: mpsc::UnboundedReceiver<BrowserNews>,
        mut events: mpsc::Receiver<MediaEvent>,
        commands: &mut mpsc::UnboundedReceiver<CallCommand>,
    ) {
        let mut buf = vec![0u8; 2048];
        loop {
            let deadline = self.bridge.as_ref().and_then(MediaBridge::poll_timeout);
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let recv = async {
                match &self.socket {
                    Some(s) => s.recv_from(&mut buf).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                n = news.recv() => match n {
                    Some(BrowserNews::Ended { sip_code, hangup, reason }) => {
                        self.reply.ended(&browser_reason(sip_code, hangup, &reason), Some(sip_code));
                        return;
                    }
                    Some(n) => self.on_news(&n),
                    // The SIP side stopped (shutdown) without ending the call.
                    None => {
                        self.reply.ended("the gateway is shutting down", Some(503));
                        return;
                    }
                },
                received = recv => match received {
                    Ok((n, from)) => {
                        if let Some(b) = &mut self.bridge {
                            b.handle_carrier_datagram(Instant::now(), from, &buf[..n]);
                        }
                    }
                    Err(e) => tracing::debug!("carrier RTP receive: {e}"),
                },
                event = events.recv() => match event {
                    Some(MediaEvent::Audio { ext_seq, rtp_time, payload, .. }) => {
                        if let Some(b) = &mut self.bridge {
                            b.handle_browser_audio(Instant::now(), ext_seq, rtp_time, &payload);
                        }
                    }
                    // The browser's RTCDTMFSender: relayed once its length is known.
                    Some(MediaEvent::Dtmf { event: DtmfEvent::Ended(tone), .. }) => {
                        if let (Some(b), Some(digit)) = (&mut self.bridge, tone.digit()) {
                            let ms = u32::try_from(tone.duration_ms).unwrap_or(u32::MAX);
                            b.send_digit(Instant::now(), digit, ms);
                        }
                    }
                    Some(MediaEvent::PeerDisconnected(_, reason)) => {
                        tracing::info!(?reason, "browser media gone");
                        self.hang_up("the browser's media went away").await;
                    }
                    Some(_) => {}
                    None => self.hang_up("the media loop stopped").await,
                },
                command = commands.recv() => match command {
                    Some(CallCommand::HangUp(why)) => self.hang_up(&why).await,
                    Some(CallCommand::Digits(digits, ms)) => {
                        if let Some(b) = &mut self.bridge {
                            let now = Instant::now();
                            for d in digits {
                                b.send_digit(now, d, ms);
                            }
                        }
                    }
                    // The hub dropped the call (its session is gone).
                    None => self.hang_up("the session ended").await,
                },
                () = sleep => {}
            }
            self.pump();
        }
    }

    fn on_news(&mut self, news: &BrowserNews) {
        let call_id = self.reply.call_id.clone();
        match news {
            BrowserNews::Ringing(media) => {
                let early_media = media.is_some();
                if let Some(m) = *media {
                    self.set_carrier(m);
                }
                self.reply.send(ServerMessage::Ringing {
                    call_id,
                    early_media,
                });
            }
            BrowserNews::Answered(m) => {
                self.set_carrier(*m);
                self.reply
                    .send(ServerMessage::Answered { call_id, sdp: None });
            }
            BrowserNews::Offered(_) | BrowserNews::Ended { .. } => {}
        }
    }

    fn set_carrier(&mut self, negotiated: dcx_sip::sdp::Negotiated) {
        if self.bridge.is_none() {
            let seed = self.token;
            match MediaBridge::new((seed >> 32) as u32, (seed & 0x7fff) as u16) {
                Ok(b) => self.bridge = Some(b),
                Err(e) => {
                    tracing::error!("{e}");
                    return;
                }
            }
        }
        if let Some(b) = &mut self.bridge {
            if let Err(e) = b.set_carrier(negotiated) {
                tracing::error!("{e}");
            }
        }
    }

    /// Sends what the bridge has due, both ways. Neither way waits: a datagram the
    /// socket cannot take now, or a frame the media loop has no room for, is dropped
    /// (a late frame is a lost frame).
    fn pump(&mut self) {
        let (Some(bridge), Some(socket)) = (&mut self.bridge, &self.socket) else {
            return;
        };
        let now = Instant::now();
        bridge.poll_to_carrier(now, |to: SocketAddr, packet| {
            let _ = socket.try_send_to(packet, to);
        });
        let (webrtc, peer) = (&self.services.webrtc, self.peer);
        bridge.poll_to_browser(now, |rtp_time, opus| {
            let _ = webrtc.write_audio(peer, AudioCodec::Opus, rtp_time, opus.to_vec());
        });
    }

    async fn hang_up(&mut self, why: &str) {
        if !std::mem::replace(&mut self.hung_up, true) {
            hang_up(self.services, self.token, why).await;
        }
    }
}

/// What the browser's `ended` says: who hung up, or why the call failed.
fn browser_reason(sip_code: u16, hangup: HangupSide, reason: &str) -> String {
    match (hangup, sip_code) {
        (HangupSide::Caller, _) => "hangup".to_owned(),
        (HangupSide::Callee, 200) => "remote_hangup".to_owned(),
        (HangupSide::Callee, 486 | 600) => "busy".to_owned(),
        (HangupSide::Callee, 480 | 408) => "no_answer".to_owned(),
        (HangupSide::Callee, 603) => "declined".to_owned(),
        _ => reason.to_owned(),
    }
}
