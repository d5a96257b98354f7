//! One browser peer: its `str0m::Rtc`, the mid of its audio m-line, its DTMF receiver,
//! and the translation of str0m's outputs into the core's transmits and events.
//!
//! Every mutation of the `Rtc` (an input, a write, a close) is followed here by
//! [`Peer::drain`], which polls str0m until it names its next timeout, as str0m
//! requires. A failure ends the peer: it records why in `gone`, and the core removes
//! it and reports [`MediaEvent::PeerDisconnected`] once.
//!
//! str0m runs in RTP mode: packets, not frames, cross this boundary, numbered and
//! classified by [`super::rtp_io`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::media::{MediaKind, Mid};
use str0m::rtp::RtpPacket;
use str0m::{Event, IceConnectionState, Input, Output, Rtc, RtcError};

use super::rtp_io::{Outgoing, PtTable, Received, RecvState, SendState};
use super::schedule::{Schedule, Scheduled};
use super::{AudioCodec, DisconnectReason, MediaError, MediaEvent, PeerId, Transmit};
use crate::dtmf::{DtmfDigit, DtmfReceiver, DtmfReceiverConfig};

/// Where a peer puts what it produces: the core's queues.
pub(super) struct Outbox<'a> {
    pub(super) transmits: &'a mut VecDeque<Transmit>,
    pub(super) events: &'a mut VecDeque<MediaEvent>,
}

/// A DTMF key press to send as telephone-events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress {
    /// The key.
    pub digit: DtmfDigit,
    /// How long it is held (RFC 4733 senders use 40 ms or more; browsers 100 ms).
    pub duration: Duration,
    /// Power in -dBm0, 0-63 (10 is a usual level).
    pub volume: u8,
}

pub(super) struct Peer {
    id: PeerId,
    rtc: Rtc,
    audio_mid: Option<Mid>,
    /// The payload types negotiated on the audio m-line.
    pts: PtTable,
    rx: RecvState,
    tx: SendState,
    connected: bool,
    /// Its answers ask for narrowband Opus.
    narrowband: bool,
    /// When the peer is given up if it has not connected by then.
    connect_deadline: Instant,
    /// str0m's next timeout, from the last drain.
    rtc_timeout: Instant,
    /// The deadline the core's schedule has it under.
    pub(super) scheduled: Scheduled,
    /// Made on the first telephone-event, at that payload's clock rate.
    dtmf: Option<DtmfReceiver>,
    gone: Option<DisconnectReason>,
}

impl Peer {
    pub(super) fn new(id: PeerId, rtc: Rtc, now: Instant, connect_timeout: Duration) -> Self {
        Self {
            id,
            rtc,
            audio_mid: None,
            pts: PtTable::default(),
            rx: RecvState::default(),
            tx: SendState::default(),
            connected: false,
            narrowband: false,
            connect_deadline: now + connect_timeout,
            rtc_timeout: now,
            scheduled: None,
            dtmf: None,
            gone: None,
        }
    }

    /// Whether its answers ask for narrowband Opus (a peer bridged to G.711).
    pub(super) fn narrowband(&self) -> bool {
        self.narrowband
    }

    pub(super) fn set_narrowband(&mut self, narrowband: bool) {
        self.narrowband = narrowband;
    }

    /// Its current local ICE username fragment.
    pub(super) fn local_ufrag(&mut self) -> String {
        self.rtc.direct_api().local_ice_credentials().ufrag
    }

    /// Answers a new offer on the live session (an ICE restart).
    pub(super) fn accept_offer(
        &mut self,
        offer: str0m::change::SdpOffer,
    ) -> Result<String, MediaError> {
        self.rtc
            .sdp_api()
            .accept_offer(offer)
            .map(|a| a.to_sdp_string())
            .map_err(|e| MediaError::OfferRefused(e.to_string()))
    }

    pub(super) fn accepts(&self, input: &Input) -> bool {
        self.gone.is_none() && self.rtc.accepts(input)
    }

    /// Why the peer ended, once it has.
    pub(super) fn gone(&self) -> Option<&DisconnectReason> {
        self.gone.as_ref()
    }

    /// Learns the mid of the first enabled audio m-line of our answer.
    pub(super) fn find_audio_mid(&mut self, answer_sdp: &str) {
        self.audio_mid = answer_sdp
            .lines()
            .filter_map(|line| line.trim_end().strip_prefix("a=mid:"))
            .map(Mid::from)
            .find(|mid| {
                self.rtc
                    .media(*mid)
                    .is_some_and(|m| m.kind() == MediaKind::Audio && !m.disabled())
            });
        if let Some(mid) = self.audio_mid {
            self.pts = PtTable::negotiated(&self.rtc, mid);
        }
    }

    /// True when the offer gave us an audio m-line with a codec we take.
    pub(super) fn has_common_audio_codec(&self) -> bool {
        self.pts.has_audio()
    }

    /// Puts it in `schedule` under its next deadline.
    pub(super) fn reschedule(&mut self, schedule: &mut Schedule) {
        let at = self.timeout();
        schedule.set(self.id, &mut self.scheduled, at);
    }

    /// When [`Self::handle_timeout`] has work to do.
    pub(super) fn timeout(&self) -> Instant {
        let mut at = self.rtc_timeout;
        if !self.connected {
            at = at.min(self.connect_deadline);
        }
        if let Some(dtmf) = self.dtmf.as_ref().and_then(DtmfReceiver::poll_timeout) {
            at = at.min(dtmf);
        }
        if let Some(send) = self.tx.dtmf_timeout() {
            at = at.min(send);
        }
        at
    }

    pub(super) fn handle_input(&mut self, input: Input, out: &mut Outbox) {
        if let Err(e) = self.rtc.handle_input(input) {
            self.fail(reason_for(e));
        }
        self.drain(out);
    }

    pub(super) fn handle_timeout(&mut self, now: Instant, out: &mut Outbox) {
        if !self.connected && now >= self.connect_deadline {
            self.fail(DisconnectReason::ConnectTimeout);
            return;
        }
        if let Some(dtmf) = &mut self.dtmf {
            dtmf.handle_timeout(now);
            self.pump_dtmf(out);
        }
        if self.tx.dtmf_timeout().is_some_and(|at| now >= at) {
            self.send_due_dtmf(now);
            self.handle_input(Input::Timeout(now), out);
            return;
        }
        if now >= self.rtc_timeout {
            self.handle_input(Input::Timeout(now), out);
        }
    }

    /// Sends one audio frame as one RTP packet. Frames written before the peer is
    /// connected are dropped (nothing stale is queued). `start_of_talkspurt` sets the
    /// RTP marker bit (a new talkspurt, or a stream that continues from another source).
    pub(super) fn write_audio(
        &mut self,
        now: Instant,
        codec: AudioCodec,
        rtp_time: u64,
        payload: Arc<[u8]>,
        start_of_talkspurt: bool,
        out: &mut Outbox,
    ) -> Result<(), MediaError> {
        let id = self.id;
        let mid = self.sending_mid()?;
        let packet = self
            .tx
            .audio(now, &self.pts, codec, rtp_time, payload, start_of_talkspurt)
            .ok_or(MediaError::CodecNotNegotiated { peer: id, codec })?;
        if !self.connected {
            return Ok(());
        }
        self.send(now, mid, packet, out)
    }

    /// Sends a key press as telephone-events at `rtp_time` of the audio stream in
    /// `codec`'s clock; the peer's DTMF sender paces the updates and the three end
    /// packets from the core's timeouts.
    pub(super) fn send_dtmf(
        &mut self,
        now: Instant,
        codec: AudioCodec,
        rtp_time: u64,
        press: KeyPress,
        out: &mut Outbox,
    ) -> Result<(), MediaError> {
        let id = self.id;
        self.sending_mid()?;
        if !self.connected {
            return Err(MediaError::WriteRefused {
                peer: id,
                detail: "not connected yet".into(),
            });
        }
        self.tx
            .queue_dtmf(now, id, &self.pts, codec, rtp_time, press)?;
        self.send_due_dtmf(now);
        self.handle_input(Input::Timeout(now), out);
        Ok(())
    }

    /// The audio mid, if we may send on it.
    fn sending_mid(&self) -> Result<Mid, MediaError> {
        let id = self.id;
        let mid = self.audio_mid.ok_or(MediaError::NotSending(id))?;
        let sending = self
            .rtc
            .media(mid)
            .is_some_and(|m| m.direction().is_sending());
        if sending {
            Ok(mid)
        } else {
            Err(MediaError::NotSending(id))
        }
    }

    /// Hands every telephone-event packet due at `now` to str0m.
    fn send_due_dtmf(&mut self, now: Instant) {
        let Some(mid) = self.audio_mid else {
            return;
        };
        while let Some(packet) = self.tx.poll_dtmf(now, &self.pts) {
            if self
                .tx
                .send(&mut self.rtc, now, self.id, mid, packet)
                .is_err()
            {
                return;
            }
        }
    }

    fn send(
        &mut self,
        now: Instant,
        mid: Mid,
        packet: Outgoing,
        out: &mut Outbox,
    ) -> Result<(), MediaError> {
        let sent = self.tx.send(&mut self.rtc, now, self.id, mid, packet);
        // str0m queues what is written and sends it on its next timeout, which the write
        // made due: run it now, so the packet leaves in this call rather than at the
        // core's next `handle_timeout` (a scan of every peer). A timeout input is always
        // allowed (str0m's docs), so the drain str0m wants after every write is the one
        // after it: one drain instead of two, ~0.35 us per forwarded packet measured.
        if self.gone.is_none() {
            self.handle_input(Input::Timeout(now), out);
        } else {
            self.drain(out);
        }
        sent
    }

    /// Starts a local close (DTLS `close_notify`, RTCP BYE) and drains what it sends.
    pub(super) fn close(&mut self, out: &mut Outbox) {
        if self.gone.is_none() {
            self.gone = Some(DisconnectReason::Removed);
            // An error here means the session was already closing; either way it ends.
            let _ = self.rtc.close();
            self.drain(out);
        }
    }

    /// Polls str0m until it names its next timeout.
    pub(super) fn drain(&mut self, out: &mut Outbox) {
        loop {
            if !self.rtc.is_alive() {
                if self.gone.is_none() {
                    self.gone = Some(DisconnectReason::Failed("the session ended".into()));
                }
                return;
            }
            match self.rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    self.rtc_timeout = at;
                    return;
                }
                Ok(Output::Transmit(t)) => out.transmits.push_back(Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Output::Event(event)) => self.on_event(event, out),
                Err(e) => {
                    self.fail(reason_for(e));
                    return;
                }
            }
        }
    }

    fn on_event(&mut self, event: Event, out: &mut Outbox) {
        match event {
            Event::Connected => {
                self.connected = true;
                out.events.push_back(MediaEvent::PeerConnected(self.id));
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                self.fail(DisconnectReason::IceDisconnected);
            }
            Event::MediaAdded(added) if added.kind == MediaKind::Audio => {
                self.audio_mid.get_or_insert(added.mid);
            }
            Event::RtpPacket(packet) => self.on_rtp(packet, out),
            Event::Closed => {
                self.gone.get_or_insert(DisconnectReason::ClosedByPeer);
            }
            _ => {}
        }
    }

    fn on_rtp(&mut self, packet: RtpPacket, out: &mut Outbox) {
        let received = self
            .rx
            .classify(&mut self.rtc, self.audio_mid, &self.pts, packet);
        match received {
            Some(Received::Audio {
                codec,
                ext_seq,
                rtp_time,
                contiguous,
                payload,
            }) => out.events.push_back(MediaEvent::Audio {
                peer: self.id,
                codec,
                ext_seq,
                rtp_time,
                contiguous,
                payload,
            }),
            Some(Received::Tele {
                clock_rate_hz,
                rtp_timestamp,
                arrived,
                payload,
            }) => {
                let receiver = self.dtmf.get_or_insert_with(|| {
                    DtmfReceiver::new(DtmfReceiverConfig {
                        clock_rate_hz,
                        ..DtmfReceiverConfig::default()
                    })
                    .expect("a negotiated clock rate is not zero")
                });
                // A malformed report changes nothing and is dropped.
                let _ = receiver.handle_packet(arrived, rtp_timestamp, &payload);
                self.pump_dtmf(out);
            }
            None => {}
        }
    }

    fn pump_dtmf(&mut self, out: &mut Outbox) {
        let Some(receiver) = &mut self.dtmf else {
            return;
        };
        while let Some(event) = receiver.poll_event() {
            out.events.push_back(MediaEvent::Dtmf {
                peer: self.id,
                event,
            });
        }
    }

    fn fail(&mut self, reason: DisconnectReason) {
        self.rtc.disconnect();
        self.gone.get_or_insert(reason);
    }
}

/// What a str0m error during a session means for the peer.
fn reason_for(error: RtcError) -> DisconnectReason {
    match error {
        // Once the offer is accepted, str0m raises remote-SDP errors only where it
        // checks the DTLS certificate against the offer's a=fingerprint.
        RtcError::RemoteSdp(_) => DisconnectReason::CertificateMismatch,
        RtcError::Dtls(e) => DisconnectReason::DtlsFailed(e.to_string()),
        other => DisconnectReason::Failed(other.to_string()),
    }
}
