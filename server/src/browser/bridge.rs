//! The media of one browser call: the browser's Opus (from the WebRTC core, frame by
//! frame) and the carrier's G.711 RTP (datagrams on the call's RTP port), each through
//! its own jitter buffer and [`Transcoder`], out as RTP toward the carrier and as
//! 48 kHz Opus frames toward the browser.
//!
//! Sans-IO: `handle_*` with the arrival time, then `poll_*` with the time to drain what
//! is due, and [`MediaBridge::poll_timeout`] for when to come back. The call's task owns
//! the socket and the clock.
//!
//! Key presses toward the carrier (the browser's RFC 4733 events, or `dtmf` messages)
//! go out as RFC 4733 telephone-events on the carrier's payload type, in the same RTP
//! stream as the audio (one SSRC, one sequence), with the audio held back while an
//! event is on the air ([`DtmfSender`] paces updates and the three end packets).
//!
//! Numbering is the bridge's own on both sides, so each stream stays continuous
//! whatever happens on the other (failover to another carrier, a new SSRC, silence):
//! toward the carrier one SSRC, a sequence number per packet, a timestamp that
//! advances by the samples sent; toward the browser an RTP time that advances 960
//! ticks per 20 ms frame (the core puts its low 32 bits on the wire).

mod supervisor;

use std::net::SocketAddr;
use std::time::Instant;

use dcx_media::bridge::BridgeMode;
use dcx_media::bridge::{
    Decode, G711Decode, G711Encode, OpusDecode, OpusEncode, OpusSettings, Transcoder, MAX_SAMPLES,
};
use dcx_media::dtmf::{
    DtmfDigit, DtmfEvent, DtmfReceiver, DtmfReceiverConfig, DtmfSender, DtmfSenderConfig,
};
use dcx_media::jitter::{JitterBuffer, JitterConfig, Playout};
use dcx_media::rtp::{RtpHeader, RtpPacket};
use dcx_media::Law;
use dcx_sip::sdp::{Codec, Direction, Negotiated};

/// The Opus payload type toward the jitter buffer (any number: one codec per buffer).
const OPUS_PT: u8 = 111;
/// RTP ticks of a 20 ms frame at 48 kHz.
const OPUS_FRAME_TICKS: u64 = 960;
/// The largest RTP datagram we build or buffer.
const MAX_PACKET: usize = 1500;

/// Counters of one bridged call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeCounters {
    /// RTP packets from the carrier taken into the jitter buffer.
    pub carrier_packets: u64,
    /// Datagrams on the RTP port that are not RTP of the negotiated codec: dropped.
    pub carrier_dropped: u64,
    /// RTP packets sent to the carrier.
    pub to_carrier: u64,
    /// Opus frames written toward the browser.
    pub to_browser: u64,
    /// Key presses sent to the carrier as telephone-events.
    pub digits_sent: u64,
    /// Key presses dropped: the carrier took no telephone-event, or the queue was full.
    pub digits_dropped: u64,
    /// Frames concealed (lost or undecodable), both directions.
    pub concealed: u64,
}

/// One browser call's media between the two legs.
pub struct MediaBridge {
    /// The carrier leg as negotiated; `None` until an 18x with SDP or the 2xx.
    carrier: Option<Negotiated>,
    /// Where carrier RTP goes: the SDP's address, then the source its packets come
    /// from (symmetric RTP, RFC 4961).
    carrier_addr: Option<SocketAddr>,
    from_carrier: JitterBuffer,
    from_browser: JitterBuffer,
    /// Both directions' transcoders, for the carrier's G.711 law: built when the
    /// carrier leg is negotiated.
    transcoders: Option<Transcoders>,
    ssrc: u32,
    seq: u16,
    timestamp: u32,
    browser_rtp_time: u64,
    /// Whether the next packet to the carrier starts a talkspurt (the marker bit).
    marker: bool,
    /// Key presses toward the carrier, at 8 kHz.
    dtmf: DtmfSender,
    /// Key presses from the carrier (RFC 4733 on its telephone-event type), decoded.
    from_carrier_dtmf: Option<DtmfReceiver>,
    packet: Box<[u8; MAX_PACKET]>,
    counters: BridgeCounters,
    /// A supervisor on the call (boxed: its codecs are kilobytes, and most calls
    /// have none).
    supervisor: Option<Box<supervisor::SupervisorLeg>>,
    /// The carrier's audio decoded to PCM, for a call spliced to another carrier leg
    /// ([`MediaBridge::poll_carrier_pcm`]); built on first use, for the carrier's law.
    carrier_pcm: Option<(Law, G711Decode, Box<[i16; MAX_SAMPLES]>)>,
}

impl std::fmt::Debug for MediaBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaBridge")
            .field("carrier", &self.carrier)
            .field("carrier_addr", &self.carrier_addr)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

struct Transcoders {
    law: Law,
    toward_browser: Transcoder<G711Decode, OpusEncode>,
    toward_carrier: Transcoder<OpusDecode, G711Encode>,
}

impl Transcoders {
    fn new(law: Law) -> Result<Self, BridgeSetupError> {
        let err = |e: dcx_media::bridge::BridgeError| BridgeSetupError(e.to_string());
        Ok(Self {
            law,
            toward_browser: Transcoder::new(
                G711Decode::new(law),
                OpusEncode::new(OpusSettings::default()).map_err(err)?,
            ),
            toward_carrier: Transcoder::new(OpusDecode::new().map_err(err)?, G711Encode::new(law)),
        })
    }
}

/// Packets toward the carrier: one SSRC, one sequence for audio and events.
struct Outgoing<'a, F> {
    send: F,
    to: SocketAddr,
    ssrc: u32,
    seq: &'a mut u16,
    packet: &'a mut [u8; MAX_PACKET],
}

impl<F: FnMut(SocketAddr, &[u8])> Outgoing<'_, F> {
    fn write(&mut self, payload_type: u8, timestamp: u32, marker: bool, payload: &[u8]) {
        let header = RtpHeader {
            marker,
            payload_type,
            sequence_number: *self.seq,
            timestamp,
            ssrc: self.ssrc,
            ..RtpHeader::default()
        };
        if let Ok(len) = header.write(payload, 0, &mut self.packet[..]) {
            (self.send)(self.to, &self.packet[..len]);
        }
        *self.seq = self.seq.wrapping_add(1);
    }
}

/// Why a bridge could not be built (libopus refused its settings).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the transcoder: {0}")]
pub struct BridgeSetupError(String);

impl MediaBridge {
    /// A bridge whose carrier leg is not known yet; `ssrc` and `seq` start the stream
    /// toward the carrier (random, from the caller).
    pub fn new(ssrc: u32, seq: u16) -> Result<Self, BridgeSetupError> {
        Ok(Self {
            carrier: None,
            carrier_addr: None,
            from_carrier: jitter(8000, 160)?,
            from_browser: jitter(48_000, 128)?,
            transcoders: None,
            ssrc,
            seq,
            timestamp: u32::from(seq) << 8,
            browser_rtp_time: 0,
            marker: true,
            dtmf: DtmfSender::new(DtmfSenderConfig::default())
                .map_err(|e| BridgeSetupError(e.to_string()))?,
            from_carrier_dtmf: None,
            packet: Box::new([0; MAX_PACKET]),
            counters: BridgeCounters::default(),
            supervisor: None,
            carrier_pcm: None,
        })
    }

    /// The carrier's audio due at `now`, decoded to 8 kHz PCM (losses concealed) and
    /// handed to `f` frame by frame, instead of going to the browser: the call is
    /// spliced to another carrier leg, whose bridge plays it
    /// ([`MediaBridge::play_to_carrier`]).
    pub fn poll_carrier_pcm(&mut self, now: Instant, mut f: impl FnMut(&[i16])) {
        let Some(law) = self.transcoders.as_ref().map(|t| t.law) else {
            return;
        };
        if self.carrier_pcm.as_ref().is_none_or(|(l, _, _)| *l != law) {
            self.carrier_pcm = Some((law, G711Decode::new(law), Box::new([0; MAX_SAMPLES])));
        }
        let Some((_, decoder, pcm)) = self.carrier_pcm.as_mut() else {
            return;
        };
        loop {
            match self.from_carrier.pop(now) {
                Playout::Empty => return,
                Playout::Packet(p) => {
                    let n = decoder
                        .decode(p.payload, pcm)
                        .unwrap_or_else(|_| decoder.conceal(pcm));
                    f(&pcm[..n]);
                }
                Playout::Lost(count) => {
                    for _ in 0..count {
                        let n = decoder.conceal(pcm);
                        f(&pcm[..n]);
                    }
                }
            }
        }
    }

    /// [`MediaBridge::new`] with the stream toward the carrier numbered from `seed`
    /// (a call's token: its high bits the SSRC, its low bits the first sequence).
    pub fn seeded(seed: u64) -> Result<Box<Self>, BridgeSetupError> {
        Self::new((seed >> 32) as u32, (seed & 0x7fff) as u16).map(Box::new)
    }

    /// A supervisor joins the call in `mode`, or changes to it if one is on already
    /// (see [`dcx_media::bridge::SupervisorMix`] for who hears whom).
    pub fn supervise(&mut self, mode: BridgeMode) -> Result<(), BridgeSetupError> {
        match &mut self.supervisor {
            Some(s) => s.mix.set_mode(mode),
            None => self.supervisor = Some(Box::new(supervisor::SupervisorLeg::new(mode)?)),
        }
        Ok(())
    }

    /// The supervisor leaves; the two parties hear only each other again.
    pub fn unsupervise(&mut self) {
        self.supervisor = None;
    }

    /// The supervisor's mode, if one is on the call.
    #[cfg(test)]
    pub fn supervisor_mode(&self) -> Option<BridgeMode> {
        self.supervisor.as_ref().map(|s| s.mix.mode())
    }

    /// One Opus frame from the supervisor's browser (dropped when no supervisor is on).
    pub fn handle_supervisor_audio(
        &mut self,
        now: Instant,
        ext_seq: u64,
        rtp_time: u64,
        opus: &[u8],
    ) {
        if let Some(s) = &mut self.supervisor {
            s.handle_audio(now, ext_seq, rtp_time, opus);
        }
    }

    /// The Opus frames due toward the supervisor (both parties mixed), each handed to
    /// `write` with its RTP time (48 kHz); also takes in what the supervisor said.
    pub fn poll_to_supervisor(&mut self, now: Instant, write: impl FnMut(u64, &[u8])) {
        if let Some(s) = &mut self.supervisor {
            s.poll(now, write);
        }
    }

    /// The carrier leg was negotiated (an 18x with SDP, or the answer): its codec
    /// decides both transcoders' G.711 law. A new negotiation (another carrier after
    /// failover) starts its jitter buffer over; the streams' numbering goes on.
    pub fn set_carrier(&mut self, negotiated: Negotiated) -> Result<(), BridgeSetupError> {
        let law = match negotiated.codec {
            Codec::Pcma => Law::Alaw,
            Codec::Pcmu => Law::Ulaw,
        };
        if self.transcoders.as_ref().is_none_or(|t| t.law != law) {
            self.transcoders = Some(Transcoders::new(law)?);
        }
        let changed = self
            .carrier
            .is_none_or(|c| c.codec != negotiated.codec || c.remote != negotiated.remote);
        if negotiated.dtmf_payload_type.is_some() && self.from_carrier_dtmf.is_none() {
            let config = DtmfReceiverConfig {
                clock_rate_hz: 8000,
                ..DtmfReceiverConfig::default()
            };
            self.from_carrier_dtmf = DtmfReceiver::new(config).ok();
        }
        if changed {
            self.from_carrier.reset();
            self.carrier_addr = negotiated.remote;
            self.marker = true;
        }
        self.carrier = Some(negotiated);
        Ok(())
    }

    /// Whether the carrier leg is negotiated (media can flow).
    pub fn has_carrier(&self) -> bool {
        self.carrier.is_some()
    }

    /// Where RTP toward the carrier goes now.
    #[cfg(test)]
    pub fn carrier_addr(&self) -> Option<SocketAddr> {
        self.carrier_addr
    }

    /// The counters so far.
    pub fn counters(&self) -> BridgeCounters {
        let concealed = self.transcoders.as_ref().map_or(0, |t| {
            t.toward_browser.concealed_frames() + t.toward_carrier.concealed_frames()
        });
        BridgeCounters {
            concealed,
            ..self.counters
        }
    }

    /// A datagram arrived on the call's RTP port from `from`. RTP of the negotiated
    /// payload type is buffered (and `from` becomes where we send: symmetric RTP);
    /// anything else is counted and dropped.
    pub fn handle_carrier_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        let Some(carrier) = self.carrier else {
            self.counters.carrier_dropped += 1;
            return;
        };
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.counters.carrier_dropped += 1;
            return;
        };
        if Some(packet.payload_type()) == carrier.dtmf_payload_type {
            if let Some(rx) = &mut self.from_carrier_dtmf {
                // A malformed event is an error value there, changing nothing.
                let _ = rx.handle_packet(now, packet.timestamp(), packet.payload());
                return;
            }
        }
        if packet.payload_type() != carrier.payload_type {
            // Comfort noise and other payload types are not bridged.
            self.counters.carrier_dropped += 1;
            return;
        }
        self.carrier_addr = Some(from);
        self.from_carrier.push(now, &packet);
        self.counters.carrier_packets += 1;
    }

    /// A key press for the carrier, `duration_ms` long (RFC 4733 events, on the
    /// carrier's telephone-event payload type). Dropped, and counted, when the carrier
    /// leg has no telephone-event or the queue is full.
    pub fn send_digit(&mut self, now: Instant, digit: DtmfDigit, duration_ms: u32) {
        let negotiated = self.carrier.is_some_and(|c| c.dtmf_payload_type.is_some());
        if !negotiated || self.dtmf.enqueue(now, digit, duration_ms.max(40)).is_err() {
            self.counters.digits_dropped += 1;
        }
    }

    /// One Opus frame from the browser, as the WebRTC core reported it.
    pub fn handle_browser_audio(&mut self, now: Instant, ext_seq: u64, rtp_time: u64, opus: &[u8]) {
        push_frame(
            &mut self.from_browser,
            &mut self.packet,
            now,
            ext_seq,
            rtp_time,
            opus,
        );
    }

    /// The RTP packets due toward the carrier at `now`, each handed to `send` with the
    /// address to send it to. Nothing goes out before the carrier leg is negotiated.
    pub fn poll_to_carrier(&mut self, now: Instant, send: impl FnMut(SocketAddr, &[u8])) {
        let Self {
            carrier,
            carrier_addr,
            from_browser,
            transcoders,
            packet,
            ssrc,
            seq,
            timestamp,
            marker,
            dtmf,
            counters,
            supervisor,
            ..
        } = self;
        let sending = carrier.as_ref().is_some_and(sends);
        let (Some(carrier), Some(to), Some(transcoders), true) = (
            carrier.as_ref(),
            *carrier_addr,
            transcoders.as_mut(),
            sending,
        ) else {
            // Nowhere to send yet: what the browser says now is not kept for later.
            while !matches!(from_browser.pop(now), Playout::Empty) {}
            return;
        };
        let mut out = Outgoing {
            send,
            to,
            ssrc: *ssrc,
            seq,
            packet,
        };
        if let Some(event_pt) = carrier.dtmf_payload_type {
            while let Some(p) = dtmf.poll_packet(now, *timestamp) {
                out.write(event_pt, p.timestamp, p.marker, &p.payload());
                if p.event.end && !dtmf.is_sending() {
                    counters.digits_sent += 1;
                }
            }
        }
        let audio_pt = carrier.payload_type;
        loop {
            let playout = from_browser.pop(now);
            if matches!(playout, Playout::Empty) {
                return;
            }
            let held = dtmf.is_sending();
            let emit = |g711: &[u8]| {
                // While a key press is on the air its events replace the audio; the
                // audio clock goes on, so the stream resumes at the right time.
                if !held {
                    out.write(audio_pt, *timestamp, std::mem::take(marker), g711);
                    counters.to_carrier += 1;
                }
                *timestamp = timestamp.wrapping_add(g711.len() as u32);
            };
            transcoders
                .toward_carrier
                .process_edited(playout, emit, |_, pcm| {
                    if let Some(s) = supervisor.as_mut() {
                        s.mix.toward_customer(pcm);
                    }
                });
        }
    }

    /// Drops what the carrier sent that is due at `now`, undecoded (a held call).
    pub fn discard_from_carrier(&mut self, now: Instant) {
        while !matches!(self.from_carrier.pop(now), Playout::Empty) {}
    }

    /// Drops what the browser sent that is due at `now`, undecoded (a held or muted
    /// call: the far end hears dcx's hold audio or silence instead).
    pub fn discard_from_browser(&mut self, now: Instant) {
        while !matches!(self.from_browser.pop(now), Playout::Empty) {}
    }

    /// Forgets what the browser sent that has not played out yet: the browser has left
    /// the call (put through to another carrier leg), and nothing of it may follow.
    pub fn forget_browser(&mut self) {
        self.from_browser.reset();
    }

    /// The next packet to the carrier starts a talkspurt (the marker bit): after hold
    /// audio, when the agent's voice takes over.
    pub fn mark_talkspurt(&mut self) {
        self.marker = true;
    }

    /// Sends `pcm` (8 kHz, 20 ms) to the carrier as one audio packet in the call's
    /// stream: hold audio while no browser is attached, or the other carrier leg's
    /// audio on a spliced call. While a key press is on the air the audio is left out
    /// (the stream's clock goes on).
    pub fn play_to_carrier(&mut self, pcm: &[i16], send: impl FnMut(SocketAddr, &[u8])) {
        let (Some(carrier), Some(to), Some(t)) =
            (self.carrier, self.carrier_addr, self.transcoders.as_ref())
        else {
            return;
        };
        if !sends(&carrier) {
            return;
        }
        if self.dtmf.is_sending() {
            self.timestamp = self.timestamp.wrapping_add(pcm.len().min(160) as u32);
            return;
        }
        let mut g711 = [0u8; 160];
        let mut frame = [0i16; 160];
        let len = pcm.len().min(frame.len());
        frame[..len].copy_from_slice(&pcm[..len]);
        if let Some(s) = &mut self.supervisor {
            // What the customer hears instead of the agent: the supervisor hears it too,
            // and a barging supervisor is heard over it.
            s.mix.toward_customer(&mut frame[..len]);
        }
        let n = t.law.encode_slice(&frame[..len], &mut g711);
        let mut out = Outgoing {
            send,
            to,
            ssrc: self.ssrc,
            seq: &mut self.seq,
            packet: &mut self.packet,
        };
        out.write(
            carrier.payload_type,
            self.timestamp,
            std::mem::take(&mut self.marker),
            &g711[..n],
        );
        self.timestamp = self.timestamp.wrapping_add(n as u32);
        self.counters.to_carrier += 1;
    }

    /// The Opus frames due toward the browser at `now`, each handed to `write` with
    /// its RTP time (48 kHz).
    pub fn poll_to_browser(&mut self, now: Instant, mut write: impl FnMut(u64, &[u8])) {
        let Self {
            from_carrier,
            transcoders,
            browser_rtp_time,
            counters,
            supervisor,
            ..
        } = self;
        let Some(transcoders) = transcoders.as_mut() else {
            return;
        };
        loop {
            let playout = from_carrier.pop(now);
            if matches!(playout, Playout::Empty) {
                return;
            }
            let emit = |opus: &[u8]| {
                write(*browser_rtp_time, opus);
                *browser_rtp_time += OPUS_FRAME_TICKS;
                counters.to_browser += 1;
            };
            transcoders
                .toward_browser
                .process_edited(playout, emit, |_, pcm| {
                    if let Some(s) = supervisor.as_mut() {
                        s.mix.toward_agent(pcm);
                    }
                });
        }
    }

    /// The next key press the carrier sent (`Began`, then `Ended` with its length).
    pub fn poll_carrier_dtmf(&mut self, now: Instant) -> Option<DtmfEvent> {
        let rx = self.from_carrier_dtmf.as_mut()?;
        rx.handle_timeout(now);
        rx.poll_event()
    }

    /// The RTP time (48 kHz) the next frame toward the browser carries.
    pub fn browser_rtp_time(&self) -> u64 {
        self.browser_rtp_time
    }

    /// When a jitter buffer or the key-press sender next has something due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.from_carrier.poll_timeout(),
            self.from_browser.poll_timeout(),
            self.dtmf.poll_timeout(),
            self.from_carrier_dtmf
                .as_ref()
                .and_then(DtmfReceiver::poll_timeout),
            self.supervisor.as_ref().and_then(|s| s.poll_timeout()),
        ]
        .into_iter()
        .flatten()
        .min()
    }
}

/// Whether the carrier leg as negotiated takes our media: not when the carrier holds
/// the call (`a=sendonly` or `inactive` from it, or `c=0.0.0.0`), whatever address its
/// packets come from.
fn sends(carrier: &Negotiated) -> bool {
    matches!(carrier.direction, Direction::SendRecv | Direction::SendOnly)
        && carrier.remote.is_some()
}

/// A jitter buffer for one stream of the bridge.
fn jitter(clock_rate_hz: u32, slot_bytes: usize) -> Result<JitterBuffer, BridgeSetupError> {
    JitterBuffer::new(JitterConfig {
        clock_rate_hz,
        slot_bytes,
        ..JitterConfig::default()
    })
    .map_err(|e| BridgeSetupError(e.to_string()))
}

/// Puts one Opus frame, as the WebRTC core reported it, into `jitter` (the core has
/// taken the RTP header off; the buffer wants a packet, so `scratch` gets one).
fn push_frame(
    jitter: &mut JitterBuffer,
    scratch: &mut [u8; MAX_PACKET],
    now: Instant,
    ext_seq: u64,
    rtp_time: u64,
    opus: &[u8],
) {
    let header = RtpHeader {
        payload_type: OPUS_PT,
        sequence_number: ext_seq as u16,
        timestamp: rtp_time as u32,
        ssrc: 1,
        ..RtpHeader::default()
    };
    let Ok(len) = header.write(opus, 0, &mut scratch[..]) else {
        return;
    };
    if let Ok(packet) = RtpPacket::parse(&scratch[..len]) {
        jitter.push(now, &packet);
    }
}

#[cfg(test)]
#[path = "bridge_tests.rs"]
mod tests;
