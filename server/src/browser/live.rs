//! A call's media task once its SIP side exists, for both kinds of browser call: the
//! browser's own call to the PSTN ([`super::call::spawn`]) and an inbound caller queued
//! for an agent ([`super::call::spawn_inbound`]). It owns the carrier RTP socket, the
//! [`MediaBridge`], the WebRTC peer once there is one, and the hold tone while there is
//! none; it runs until the SIP side says the call has ended.

mod adopt;
mod onward;
mod supervisor;

pub(super) use onward::Handover;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dcx_media::dtmf::DtmfEvent;
use dcx_media::tone::SineGenerator;
use dcx_media::webrtc::{AudioCodec, KeyPress, MediaEvent, PeerId};
use dcx_signaling::{ErrorCode, ProtocolError, ServerMessage, SessionId};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::bridge::MediaBridge;
use super::call::CallCommand;
use super::hub::HubEvent;
use super::Services;
use crate::call::browser::BrowserNews;
use crate::call::events::HangupSide;
use crate::sip::udp::SipCommand;

/// Tells the browser (through the hub), once the call has one.
pub(super) struct Reply {
    pub(super) to: Option<(SessionId, String)>,
    pub(super) hub: mpsc::UnboundedSender<HubEvent>,
}

impl Reply {
    pub(super) fn send(&self, message: ServerMessage) {
        let Some((session, call_id)) = &self.to else {
            return;
        };
        let ended = matches!(message, ServerMessage::Ended { .. });
        let _ = self.hub.send(HubEvent::FromCall {
            session: *session,
            call_id: call_id.clone(),
            message,
            ended,
        });
    }

    pub(super) fn call_id(&self) -> String {
        self.to.as_ref().map(|t| t.1.clone()).unwrap_or_default()
    }

    /// Refuses what was asked on this call (a supervision that cannot start): an
    /// `error` with `bad_state` and `why`, then `ended` `failed`.
    pub(super) fn refuse(&self, why: &str) {
        let e = ProtocolError::new(ErrorCode::BadState, why).with_call_id(self.call_id());
        self.send(e.to_server_message());
        self.ended("failed", None);
    }

    pub(super) fn ended(&self, reason: &str, sip_code: Option<u16>) {
        self.ended_with(reason, sip_code, None);
    }

    /// `ended`, with words for people about a refusal.
    pub(super) fn ended_with(&self, reason: &str, sip_code: Option<u16>, detail: Option<String>) {
        self.send(ServerMessage::Ended {
            call_id: self.call_id(),
            reason: reason.to_owned(),
            sip_code,
            detail,
        });
    }
}

/// The hold tone toward a queued caller: 1 s of tone, 2 s of silence, every 20 ms.
pub(super) struct Hold {
    tone: SineGenerator,
    /// Ringback instead: 440 + 480 Hz, 2 s on and 4 s off (the North American cadence).
    ringback: Option<(SineGenerator, SineGenerator)>,
    /// A WAV of the queue's (8 kHz mono) played in a loop instead of the tone.
    wav: Option<Arc<[i16]>>,
    tick: tokio::time::Interval,
    frames: u32,
    /// Where the WAV goes on.
    at: usize,
}

/// What callers on hold hear.
#[derive(Debug, Clone)]
pub enum HoldSound {
    /// A tone, 1 s on and 2 s off, Hz (0: silence).
    Tone(u32),
    /// 8 kHz mono samples, looped.
    Wav(Arc<[i16]>),
    /// Ringback (the far end's new leg rings without early media of its own).
    Ringback,
}

impl Hold {
    pub(super) fn new(sound: &HoldSound) -> Self {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (hz, wav) = match sound {
            HoldSound::Tone(hz) => (*hz, None),
            HoldSound::Wav(samples) => (0, Some(Arc::clone(samples))),
            HoldSound::Ringback => (0, None),
        };
        let ringback = matches!(sound, HoldSound::Ringback).then(|| {
            (
                SineGenerator::new(440.0, 8000, 3000),
                SineGenerator::new(480.0, 8000, 3000),
            )
        });
        Self {
            tone: SineGenerator::new(f64::from(hz), 8000, 6000),
            ringback,
            wav,
            tick,
            frames: 0,
            at: 0,
        }
    }

    fn frame(&mut self) -> [i16; 160] {
        let mut pcm = [0i16; 160];
        if let Some((a, b)) = &mut self.ringback {
            if self.frames % 300 < 100 {
                let mut other = [0i16; 160];
                a.fill(&mut pcm);
                b.fill(&mut other);
                for (s, o) in pcm.iter_mut().zip(other) {
                    *s = s.saturating_add(o);
                }
            }
        } else if let Some(wav) = self.wav.as_ref().filter(|w| !w.is_empty()) {
            for s in &mut pcm {
                *s = wav[self.at];
                self.at = (self.at + 1) % wav.len();
            }
        } else if self.frames % 150 < 50 {
            self.tone.fill(&mut pcm);
        }
        self.frames += 1;
        pcm
    }
}

/// A call with its SIP side, until that side has ended.
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent facts about one call, each set by a different command"
)]
pub(super) struct Live<'a> {
    pub(super) services: &'a Services,
    pub(super) reply: Reply,
    pub(super) token: u64,
    pub(super) peer: Option<(PeerId, mpsc::Receiver<MediaEvent>)>,
    pub(super) socket: Option<UdpSocket>,
    /// Boxed: its jitter buffers and codec states are kilobytes, and the task's future
    /// should not carry them inline.
    pub(super) bridge: Option<Box<MediaBridge>>,
    pub(super) hold: Option<Hold>,
    pub(super) hung_up: bool,
    /// An inbound call: the browser (the agent) is the called party, not the caller.
    pub(super) inbound: bool,
    /// The browser put the call on hold.
    pub(super) held: bool,
    /// The browser is muted.
    pub(super) muted: bool,
    /// What the far end hears on hold: the call's queue's (an inbound call).
    pub(super) hold_sound: HoldSound,
    /// A supervisor's browser on the call.
    pub(super) supervisor: Option<supervisor::Supervisor>,
    /// The far end put through to a number: the new carrier leg.
    pub(super) onward: Option<onward::Onward>,
    /// A blind transfer the carrier was asked to carry itself (REFER): where to, and
    /// how dcx dials it if the carrier will not.
    pub(super) referring: Option<(String, crate::call::browser::BrowserOrigin)>,
    /// A browser's PSTN call transferred to a queue: its token in the contact center.
    pub(super) queued_as: Option<u64>,
}

impl Live<'_> {
    pub(super) async fn run(
        &mut self,
        mut news: mpsc::UnboundedReceiver<BrowserNews>,
        commands: &mut mpsc::UnboundedReceiver<CallCommand>,
    ) {
        let mut buf = vec![0u8; 2048];
        let mut onward_buf = vec![0u8; 2048];
        let mut commands_open = true;
        loop {
            let deadline = [
                self.bridge.as_ref().and_then(|b| b.poll_timeout()),
                self.onward.as_ref().and_then(onward::Onward::poll_timeout),
            ]
            .into_iter()
            .flatten()
            .min();
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
            let event = async {
                match &mut self.peer {
                    Some((_, events)) => events.recv().await,
                    None => std::future::pending().await,
                }
            };
            let supervisor = Self::supervisor_event(&mut self.supervisor);
            let (onward_socket, onward_rx) = match &mut self.onward {
                Some(o) if !o.ended => (o.socket.as_ref(), Some(&mut o.news)),
                _ => (None, None),
            };
            let onward_recv = async {
                match onward_socket {
                    Some(s) => s.recv_from(&mut onward_buf).await,
                    None => std::future::pending().await,
                }
            };
            let onward_news = async {
                match onward_rx {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let hold = async {
                match &mut self.hold {
                    Some(h) => {
                        h.tick.tick().await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                n = news.recv() => match n {
                    Some(BrowserNews::ReferFailed(why)) => self.refer_failed(&why).await,
                    n => if self.on_sip_news(n) {
                        return;
                    },
                },
                received = recv => match received {
                    Ok((n, from)) => {
                        if let Some(b) = &mut self.bridge {
                            b.handle_carrier_datagram(Instant::now(), from, &buf[..n]);
                        }
                    }
                    Err(e) => tracing::debug!("carrier RTP receive: {e}"),
                },
                e = event => self.on_media(e).await,
                e = supervisor => self.on_supervisor_media(e).await,
                received = onward_recv => match received {
                    Ok((n, from)) => {
                        if let Some(o) = &mut self.onward {
                            o.bridge.handle_carrier_datagram(Instant::now(), from, &onward_buf[..n]);
                        }
                    }
                    Err(e) => tracing::debug!("onward RTP receive: {e}"),
                },
                n = onward_news => self.on_onward_news(n).await,
                command = commands.recv(), if commands_open => match command {
                    Some(CallCommand::HandOver(to)) => {
                        return self.hand_over(to, news).await;
                    }
                    Some(c) => self.on_command(c).await,
                    // The hub let go of a call put through to a number (no browser is
                    // on it): it runs until one of its carriers hangs up.
                    None if self.onward.is_some() || self.referring.is_some() || self.queued_as.is_some() => {
                        commands_open = false;
                    }
                    // The hub dropped the call (its session is gone).
                    None => self.hang_up("the session ended").await,
                },
                () = hold => self.play_hold(),
                () = sleep => {}
            }
            self.pump();
        }
    }

    /// What the call's SIP side says; true when the call is over.
    fn on_sip_news(&mut self, news: Option<BrowserNews>) -> bool {
        match news {
            Some(BrowserNews::Ended {
                refusal: Some(code),
                sip_code,
                reason,
                ..
            }) => {
                // dcx refused the call before any leg: the code, and the rule in words.
                self.reply.ended_with(code, Some(sip_code), Some(reason));
                true
            }
            Some(BrowserNews::Ended {
                sip_code,
                hangup,
                reason,
                refusal: None,
            }) => {
                // The browser's side is the SIP leg's other party on an inbound call.
                let hangup = match (self.inbound, hangup) {
                    (true, HangupSide::Caller) => HangupSide::Callee,
                    (true, HangupSide::Callee) => HangupSide::Caller,
                    (_, side) => side,
                };
                self.reply
                    .ended(&browser_reason(sip_code, hangup, &reason), Some(sip_code));
                true
            }
            Some(n) => {
                self.on_news(&n);
                false
            }
            // The SIP side stopped (shutdown) without ending the call.
            None => {
                self.reply.ended("the gateway is shutting down", Some(503));
                true
            }
        }
    }

    async fn on_media(&mut self, event: Option<MediaEvent>) {
        match event {
            Some(MediaEvent::Audio {
                ext_seq,
                rtp_time,
                payload,
                ..
            }) => {
                if let Some(b) = &mut self.bridge {
                    b.handle_browser_audio(Instant::now(), ext_seq, rtp_time, &payload);
                }
            }
            // The browser's RTCDTMFSender: relayed once its length is known.
            Some(MediaEvent::Dtmf {
                event: DtmfEvent::Ended(tone),
                ..
            }) => {
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
        }
    }

    async fn on_command(&mut self, command: CallCommand) {
        match command {
            CallCommand::HangUp(why) => self.hang_up(&why).await,
            CallCommand::Digits(digits, ms) => {
                if let Some(b) = &mut self.bridge {
                    let now = Instant::now();
                    for d in digits {
                        b.send_digit(now, d, ms);
                    }
                }
            }
            CallCommand::Hold(held) => self.set_hold(held).await,
            CallCommand::Detach => self.detach().await,
            CallCommand::Update(offer) => {
                let Some((peer, _)) = &self.peer else { return };
                let message = renegotiate(self.services, *peer, offer, self.reply.call_id()).await;
                self.reply.send(message);
            }
            CallCommand::Mute(muted) => {
                self.muted = muted;
                self.update_hold_audio();
            }
            CallCommand::Attach {
                session,
                call_id,
                offer,
                agent,
            } => self.attach(session, call_id, offer, agent).await,
            CallCommand::Supervise {
                session,
                call_id,
                offer,
                mode,
            } => self.supervise(session, call_id, offer, mode).await,
            CallCommand::SupervisorMode(mode) => self.set_supervisor_mode(mode),
            CallCommand::SupervisorUpdate(offer) => self.update_supervisor(offer).await,
            CallCommand::Unsupervise => self.unsupervise("hangup").await,
            CallCommand::Queued(token) => self.queued_as = Some(token),
            CallCommand::Onward {
                number,
                origin,
                answer_caller,
            } => self.onward(number, origin, answer_caller).await,
            CallCommand::Join(consult) => self.join(consult).await,
            CallCommand::JoinBrowser(consult) => self.join_browser(consult).await,
            // A handover is taken in `run`, which owns the news the leg's new task
            // needs; only a browser-to-browser call's task hands its callee over.
            CallCommand::HandOver(_) | CallCommand::HandOverCallee(_) => {}
        }
    }

    /// An agent took this queued call with its browser's offer: the peer answers it,
    /// the agent hears `answered` with the answer, the carrier gets its 200, and the
    /// agent's voice replaces the hold tone.
    async fn attach(&mut self, session: SessionId, call_id: String, offer: String, agent: String) {
        if self.peer.is_some() {
            return;
        }
        self.reply.to = Some((session, call_id.clone()));
        match self.services.webrtc.add_peer_with(offer, true).await {
            Ok((peer, answer)) => {
                let events = self.services.peers.subscribe(peer);
                self.peer = Some((peer, events));
                self.hold = None;
                if let Some(b) = &mut self.bridge {
                    b.mark_talkspurt();
                }
                self.reply.send(ServerMessage::Answered {
                    call_id,
                    sdp: Some(answer),
                });
                let answer = SipCommand::Answer {
                    token: self.token,
                    agent,
                };
                let _ = self.services.sip.send(answer).await;
            }
            Err(e) => {
                let e = ProtocolError::new(
                    ErrorCode::InvalidMessage,
                    format!("the offer was refused: {e}"),
                )
                .with_call_id(call_id);
                self.reply.send(e.to_server_message());
                self.hang_up("the agent's offer was refused").await;
            }
        }
    }

    /// The agent's browser leaves an inbound call that goes on (a blind transfer; the
    /// hub told it `ended` "transferred"): its peer removed, the caller on hold audio.
    async fn detach(&mut self) {
        let Some((peer, _)) = self.peer.take() else {
            return;
        };
        self.reply.to = None;
        let _ = self.services.webrtc.remove_peer(peer).await;
        if std::mem::take(&mut self.held) && !self.inbound {
            // A browser's PSTN call it held: the carrier is resumed for whoever takes it.
            let resume = SipCommand::Hold {
                token: self.token,
                held: false,
            };
            let _ = self.services.sip.send(resume).await;
        }
        self.muted = false;
        self.hold = Some(Hold::new(&self.hold_sound));
        let requeued = SipCommand::Requeued { token: self.token };
        let _ = self.services.sip.send(requeued).await;
    }

    /// Hold toward the carrier (a re-INVITE, `a=sendonly`) with hold audio on the
    /// media; resume undoes both.
    async fn set_hold(&mut self, held: bool) {
        if self.held == held {
            return;
        }
        self.held = held;
        self.update_hold_audio();
        if self.inbound {
            // The caller's carrier offered; dcx holds on the media only.
            return;
        }
        let hold = SipCommand::Hold {
            token: self.token,
            held,
        };
        let _ = self.services.sip.send(hold).await;
    }

    /// What the far end hears instead of the browser: hold audio when held, silence
    /// when muted, the browser otherwise.
    fn update_hold_audio(&mut self) {
        self.hold = if self.held {
            Some(Hold::new(&self.hold_sound))
        } else if self.muted {
            Some(Hold::new(&HoldSound::Tone(0)))
        } else {
            None
        };
        if self.hold.is_none() {
            if let Some(b) = &mut self.bridge {
                b.mark_talkspurt();
            }
        }
    }

    fn on_news(&mut self, news: &BrowserNews) {
        let call_id = self.reply.call_id();
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
            // The carrier's new offer, answered by the SIP side: nothing for the browser.
            BrowserNews::Renegotiated(m) => self.set_carrier(*m),
            BrowserNews::Offered(_) | BrowserNews::ReferFailed(_) | BrowserNews::Ended { .. } => {}
        }
    }

    pub(super) fn set_carrier(&mut self, negotiated: dcx_sip::sdp::Negotiated) {
        if self.bridge.is_none() {
            match MediaBridge::seeded(self.token) {
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

    fn play_hold(&mut self) {
        let (Some(hold), Some(bridge), Some(socket)) =
            (&mut self.hold, &mut self.bridge, &self.socket)
        else {
            return;
        };
        let pcm = hold.frame();
        bridge.play_to_carrier(&pcm, |to, packet| {
            let _ = socket.try_send_to(packet, to);
        });
    }

    /// Sends what the bridge has due, both ways. Neither way waits: a datagram the
    /// socket cannot take now, or a frame the media loop has no room for, is dropped
    /// (a late frame is a lost frame).
    fn pump(&mut self) {
        if self.onward.is_some() {
            return self.pump_onward(Instant::now());
        }
        let (Some(bridge), Some(socket)) = (&mut self.bridge, &self.socket) else {
            return;
        };
        let now = Instant::now();
        if self.hold.is_some() {
            // Hold audio or silence stands in for the browser.
            bridge.discard_from_browser(now);
        } else {
            bridge.poll_to_carrier(now, |to: SocketAddr, packet| {
                let _ = socket.try_send_to(packet, to);
            });
        }
        let peer = self.peer.as_ref().map(|p| p.0);
        if self.supervisor.is_some() && (peer.is_none() || self.held) {
            // The supervisor hears the customer even while the agent does not.
            bridge.poll_to_browser(now, |_, _| {});
            self.pump_supervisor(now);
            return;
        }
        let Some(peer) = peer else {
            return;
        };
        if self.held {
            bridge.discard_from_carrier(now);
            return;
        }
        let webrtc = &self.services.webrtc;
        bridge.poll_to_browser(now, |rtp_time, opus| {
            let _ = webrtc.write_audio(peer, AudioCodec::Opus, rtp_time, opus.to_vec());
        });
        // The carrier's key presses: to the browser as RFC 4733, and as `dtmf`.
        while let Some(event) = bridge.poll_carrier_dtmf(now) {
            let DtmfEvent::Ended(tone) = event else {
                continue;
            };
            let Some(digit) = tone.digit() else { continue };
            let press = KeyPress {
                digit,
                duration: Duration::from_millis(tone.duration_ms.clamp(40, 5_000)),
                volume: tone.volume.min(63),
            };
            let _ = webrtc.send_dtmf(peer, bridge.browser_rtp_time(), press);
            self.reply.send(ServerMessage::Dtmf {
                call_id: self.reply.call_id(),
                digit: digit.as_char(),
            });
        }
        self.pump_supervisor(now);
    }

    pub(super) async fn hang_up(&mut self, why: &str) {
        if !std::mem::replace(&mut self.hung_up, true) {
            hang_up(self.services, self.token, why).await;
        }
    }

    /// Forgets the peers (the call is over; a supervisor hears `ended`) and counts what
    /// the bridge dropped.
    pub(super) async fn finish(mut self) {
        self.unsupervise("the supervised call ended").await;
        self.finish_onward().await;
        if let Some(b) = &self.bridge {
            let c = b.counters();
            tracing::debug!(?c, "media bridged");
            self.services
                .stats
                .carrier_rtp_dropped
                .fetch_add(c.carrier_dropped, std::sync::atomic::Ordering::Relaxed);
        }
        if let Some((peer, _)) = self.peer {
            let _ = self.services.webrtc.remove_peer(peer).await;
        }
    }
}

/// The hold tone a held browser call plays to the far end, Hz.
pub(super) const BROWSER_HOLD_TONE_HZ: u32 = 440;

/// `updated` with dcx's answer to a peer's new offer, or the `error` why not.
pub(super) async fn renegotiate(
    services: &Services,
    peer: PeerId,
    offer: String,
    call_id: String,
) -> ServerMessage {
    match services.webrtc.renegotiate(peer, offer).await {
        Ok(sdp) => ServerMessage::Updated { call_id, sdp },
        Err(e) => ProtocolError::new(
            ErrorCode::InvalidMessage,
            format!("the offer was refused: {e}"),
        )
        .with_call_id(call_id)
        .to_server_message(),
    }
}

/// Asks the SIP side to end call `token` (480 for a caller still queued).
pub(super) async fn hang_up(services: &Services, token: u64, why: &str) {
    let _ = services
        .sip
        .send(SipCommand::HangUp {
            token,
            code: 480,
            why: why.to_owned(),
        })
        .await;
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

#[cfg(test)]
mod tests {
    use super::{Hold, HoldSound};

    #[tokio::test]
    async fn a_hold_wav_plays_in_a_loop_and_a_tone_of_0_hz_is_silence() {
        let samples: Vec<i16> = (0..250).collect();
        let mut hold = Hold::new(&HoldSound::Wav(samples.into()));
        let first = hold.frame();
        let second = hold.frame();
        assert_eq!(first[..3], [0, 1, 2]);
        // 160 + 90 = 250: the second frame wraps to the start.
        assert_eq!((second[89], second[90], second[91]), (249, 0, 1));
        let mut silent = Hold::new(&HoldSound::Tone(0));
        assert!(silent.frame().iter().all(|&s| s == 0));
        let mut tone = Hold::new(&HoldSound::Tone(440));
        assert!(tone.frame().iter().any(|&s| s != 0));
        // Ringback: 2 s of 440 + 480 Hz (100 frames), then 4 s of silence.
        let mut ring = Hold::new(&HoldSound::Ringback);
        let frames: Vec<[i16; 160]> = (0..300).map(|_| ring.frame()).collect();
        assert!(frames[..100].iter().all(|f| f.iter().any(|&s| s != 0)));
        assert!(frames[100..].iter().all(|f| f.iter().all(|&s| s == 0)));
        assert!(
            frames[0].iter().all(|&s| s.unsigned_abs() <= 6000),
            "no clipping"
        );
    }
}
