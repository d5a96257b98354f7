//! A blind transfer to a number, or a queue's fallback to one: the far end of this call
//! (the carrier leg this task bridges) is put through to a new carrier leg that dcx
//! dials and bridges itself. The browser (if any) leaves; the far end hears hold audio
//! while the new leg is set up, then the new leg's early media or its answer. Audio
//! goes through each leg's own [`MediaBridge`] (jitter buffer, G.711 decode with
//! concealment, G.711 encode for the other leg's law), so both carriers keep one
//! continuous stream each, whatever the other side does; key presses are relayed as
//! RFC 4733 both ways.
//!
//! The new leg is routed like a browser's call from the transferring browser's account
//! (its fraud limits and routing apply, and it gets its own CDR). If it fails before it
//! answers, a queue caller an agent put through goes back to its queue (the hub's
//! `OnwardFailed`); any other call is hung up, as when either side hangs up later.
//!
//! An answered call whose carrier's trunk has `refer = true` (a carrier's call to a
//! DID, or a browser's call out) goes by REFER first: its carrier is asked to call the
//! number itself (`crate::call::refer`), the far end hearing hold audio meanwhile. When
//! the carrier has the call, dcx's side ends; when it will not (a refusal, a failed new
//! call, no final NOTIFY), dcx bridges as above.
//!
//! While the new leg rings without early media of its own (a 180 without SDP), the far
//! end hears ringback (440 + 480 Hz, 2 s on, 4 s off) instead of the hold audio.

use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::{hang_up, Hold, Live};
use crate::browser::bridge::MediaBridge;
use crate::browser::call::CallCommand;
use crate::browser::hub::HubEvent;
use crate::call::browser::{BrowserNews, BrowserOrigin};
use crate::sip::udp::SipCommand;

/// The new carrier leg of a call put through to a number.
pub(in crate::browser) struct Onward {
    token: u64,
    number: String,
    pub(super) socket: Option<UdpSocket>,
    pub(super) bridge: Box<MediaBridge>,
    pub(super) news: mpsc::UnboundedReceiver<BrowserNews>,
    /// Media flows between the legs (the new one rang with SDP or answered).
    spliced: bool,
    /// The far end has not been answered yet (a queued caller): answer it, with this
    /// name for its CDR, when the new leg answers.
    answer_caller: Option<String>,
    /// The new leg's SIP side has ended.
    pub(super) ended: bool,
    /// The new leg answered.
    answered: bool,
}

impl Onward {
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        self.bridge.poll_timeout()
    }
}

impl Live<'_> {
    /// Puts the far end through to `number`, dialled as `origin`. The browser leaves
    /// the call first (the hub told it `ended` "transferred").
    pub(super) async fn onward(
        &mut self,
        number: String,
        origin: BrowserOrigin,
        answer_caller: Option<String>,
    ) {
        if self.onward.is_some() || self.bridge.is_none() || self.referring.is_some() {
            tracing::info!("a call with no carrier media yet, or put through already");
            return self.hang_up("the transfer could not be made").await;
        }
        self.leave_browser().await;
        self.hold = Some(Hold::new(&self.hold_sound));
        if answer_caller.is_none() && self.ask_refer(&number).await {
            self.referring = Some((number, origin));
            return;
        }
        self.dial_onward(number, origin, answer_caller).await;
    }

    /// Asks the SIP side to REFER the far end to `number`; whether it did.
    async fn ask_refer(&mut self, number: &str) -> bool {
        let (reply, asked) = oneshot::channel();
        let refer = SipCommand::Refer {
            token: self.token,
            number: number.to_owned(),
            reply,
        };
        self.services.sip.send(refer).await.is_ok() && asked.await.unwrap_or(false)
    }

    /// The carrier did not take the REFER: dcx puts the far end through itself.
    pub(super) async fn refer_failed(&mut self, why: &str) {
        let Some((number, origin)) = self.referring.take() else {
            return;
        };
        tracing::info!(%number, "the carrier did not take the transfer ({why}): dcx bridges it");
        self.dial_onward(number, origin, None).await;
    }

    /// Dials the new leg to `number` as `origin`, the far end on hold audio meanwhile.
    async fn dial_onward(
        &mut self,
        number: String,
        origin: BrowserOrigin,
        answer_caller: Option<String>,
    ) {
        let bridge = match MediaBridge::seeded(self.token.rotate_left(17) ^ 0x5eed) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("{e}");
                return self.hang_up("the transfer could not be made").await;
            }
        };
        let (news_tx, news) = mpsc::unbounded_channel();
        let (dial_tx, dial_rx) = oneshot::channel();
        let dial = SipCommand::Dial {
            origin,
            news: news_tx,
            reply: dial_tx,
        };
        let dialled = match self.services.sip.send(dial).await {
            Ok(()) => dial_rx.await.ok().flatten(),
            Err(_) => None,
        };
        let Some((token, rtp)) = dialled else {
            return self.hang_up("this gateway routes no calls").await;
        };
        let socket = match rtp {
            Some(addr) => match UdpSocket::bind(addr).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(?addr, "cannot bind the onward leg's RTP port: {e}");
                    hang_up(self.services, token, "cannot bind the RTP port").await;
                    None
                }
            },
            // The leg ended at once (no route, blocked): its Ended news says why.
            None => None,
        };
        tracing::info!(%number, "putting the call through");
        self.onward = Some(Onward {
            token,
            number,
            socket,
            bridge,
            news,
            spliced: false,
            answer_caller,
            ended: false,
            answered: false,
        });
    }

    /// What the new leg's SIP side says.
    pub(super) async fn on_onward_news(&mut self, news: Option<BrowserNews>) {
        let Some(onward) = self.onward.as_mut() else {
            return;
        };
        match news {
            Some(BrowserNews::Ringing(Some(m)) | BrowserNews::Answered(m)) => {
                let answered = matches!(news, Some(BrowserNews::Answered(_)));
                onward.answered |= answered;
                if let Err(e) = onward.bridge.set_carrier(m) {
                    tracing::error!("{e}");
                }
                onward.spliced = true;
                self.hold = None;
                if let Some(b) = self.bridge.as_mut() {
                    b.mark_talkspurt();
                }
                if let (true, Some(name)) = (answered, onward.answer_caller.take()) {
                    let answer = SipCommand::Answer {
                        token: self.token,
                        agent: name,
                    };
                    let _ = self.services.sip.send(answer).await;
                }
            }
            Some(BrowserNews::Renegotiated(m)) => {
                if let Err(e) = onward.bridge.set_carrier(m) {
                    tracing::error!("{e}");
                }
            }
            // The new leg rings without media of its own: the far end hears ringback.
            Some(BrowserNews::Ringing(None)) if !onward.spliced => {
                self.hold = Some(Hold::new(&super::HoldSound::Ringback));
            }
            Some(
                BrowserNews::Ringing(None) | BrowserNews::Offered(_) | BrowserNews::ReferFailed(_),
            ) => {}
            Some(BrowserNews::Ended { reason, .. }) => {
                onward.ended = true;
                let why = format!("the onward call to {} ended: {reason}", onward.number);
                tracing::info!("{why}");
                if self.inbound && !onward.answered && onward.answer_caller.is_none() {
                    // A caller an agent put through: back to its queue (the hub decides),
                    // hearing hold audio meanwhile.
                    self.onward = None;
                    self.hold = Some(Hold::new(&self.hold_sound));
                    let failed = HubEvent::OnwardFailed {
                        token: self.token,
                        why,
                    };
                    if self.reply.hub.send(failed).is_err() {
                        self.hang_up("the session hub has stopped").await;
                    }
                    return;
                }
                self.hang_up(&why).await;
            }
            None => {
                onward.ended = true;
                self.hang_up("the gateway is shutting down").await;
            }
        }
    }

    /// Moves the audio and key presses due between the two carrier legs.
    pub(super) fn pump_onward(&mut self, now: Instant) {
        let (Some(onward), Some(bridge), Some(socket)) = (
            self.onward.as_mut(),
            self.bridge.as_mut(),
            self.socket.as_ref(),
        ) else {
            return;
        };
        let Some(onward_socket) = onward.socket.as_ref() else {
            return;
        };
        if !onward.spliced {
            return;
        }
        let other = &mut onward.bridge;
        bridge.poll_carrier_pcm(now, |pcm| {
            other.play_to_carrier(pcm, |to, packet| {
                let _ = onward_socket.try_send_to(packet, to);
            });
        });
        other.poll_carrier_pcm(now, |pcm| {
            bridge.play_to_carrier(pcm, |to, packet| {
                let _ = socket.try_send_to(packet, to);
            });
        });
        while let Some(event) = bridge.poll_carrier_dtmf(now) {
            relay_digit(other, now, &event);
        }
        while let Some(event) = other.poll_carrier_dtmf(now) {
            relay_digit(bridge, now, &event);
        }
        // Key presses on the air (nothing comes from a browser on either bridge).
        bridge.poll_to_carrier(now, |to, packet| {
            let _ = socket.try_send_to(packet, to);
        });
        other.poll_to_carrier(now, |to, packet| {
            let _ = onward_socket.try_send_to(packet, to);
        });
    }

    /// The call is over: the new leg is hung up if it still runs.
    pub(super) async fn finish_onward(&mut self) {
        if let Some(onward) = self.onward.take().filter(|o| !o.ended) {
            hang_up(self.services, onward.token, "the other party hung up").await;
        }
    }
}

fn relay_digit(to: &mut MediaBridge, now: Instant, event: &dcx_media::dtmf::DtmfEvent) {
    if let dcx_media::dtmf::DtmfEvent::Ended(tone) = event {
        if let Some(digit) = tone.digit() {
            let ms = u32::try_from(tone.duration_ms).unwrap_or(u32::MAX);
            to.send_digit(now, digit, ms);
        }
    }
}

/// A call's carrier leg, handed from its task to another call's for an attended
/// transfer: the consult call's far end becomes the other call's [`Onward`].
#[derive(Debug)]
pub struct Handover {
    token: u64,
    label: String,
    socket: Option<UdpSocket>,
    bridge: Box<MediaBridge>,
    news: mpsc::UnboundedReceiver<BrowserNews>,
}

impl Live<'_> {
    /// Attended transfer, on the call that stays: takes the consult call's carrier leg
    /// from its task (`other`) and bridges this call's far end to it. The browser (the
    /// transferring agent) leaves this call; a held far end is resumed.
    pub(super) async fn join(&mut self, other: mpsc::UnboundedSender<CallCommand>) {
        let (tx, rx) = oneshot::channel();
        if other.send(CallCommand::HandOver(tx)).is_err() {
            return self.hang_up("the consult call had ended").await;
        }
        let Ok(leg) = rx.await else {
            return self.hang_up("the consult call had ended").await;
        };
        if self.onward.is_some() || self.bridge.is_none() {
            hang_up(self.services, leg.token, "the transfer could not be made").await;
            return self.hang_up("the transfer could not be made").await;
        }
        self.leave_browser().await;
        self.hold = None;
        if let Some(b) = self.bridge.as_mut() {
            b.mark_talkspurt();
        }
        tracing::info!(to = %leg.label, "attended transfer completed");
        self.onward = Some(Onward {
            token: leg.token,
            number: leg.label,
            socket: leg.socket,
            spliced: leg.bridge.has_carrier(),
            bridge: leg.bridge,
            news: leg.news,
            answer_caller: None,
            ended: false,
            answered: true,
        });
    }

    /// Attended transfer, on the consult call: its browser leaves, and its carrier leg
    /// (SIP call, RTP socket, bridge, news) goes to the call that stays, through `to`.
    /// This task ends without hanging anything up.
    pub(super) async fn hand_over(
        &mut self,
        to: oneshot::Sender<Handover>,
        news: mpsc::UnboundedReceiver<BrowserNews>,
    ) {
        self.leave_browser().await;
        let bridge = match self.bridge.take() {
            Some(b) => b,
            None => match MediaBridge::seeded(self.token) {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!("{e}");
                    return self.hang_up("the transfer could not be made").await;
                }
            },
        };
        let leg = Handover {
            token: self.token,
            label: format!("the consult call {}", self.token),
            socket: self.socket.take(),
            bridge,
            news,
        };
        // Ours no longer: the task that stays hangs it up when its call ends.
        self.hung_up = true;
        if let Err(leg) = to.send(leg) {
            hang_up(self.services, leg.token, "the transfer could not be made").await;
        }
    }

    /// The browser leaves a call that goes on without it: its peer removed, nothing
    /// more of it played, a far end it held resumed.
    pub(super) async fn leave_browser(&mut self) {
        if let Some((peer, _)) = self.peer.take() {
            let _ = self.services.webrtc.remove_peer(peer).await;
        }
        self.reply.to = None;
        if let Some(b) = self.bridge.as_mut() {
            b.forget_browser();
        }
        if std::mem::take(&mut self.held) && !self.inbound {
            let resume = SipCommand::Hold {
                token: self.token,
                held: false,
            };
            let _ = self.services.sip.send(resume).await;
        }
        self.muted = false;
    }
}
