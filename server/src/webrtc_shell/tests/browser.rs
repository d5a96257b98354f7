//! The browser's stand-in: a full-ICE str0m peer on its own loopback socket and the
//! real clock, driven the way dcx-media's virtual-time harness drives its clients.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Instant;

use dcx_media::tone::SineGenerator;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;

use super::{FRAME_48K, FRAME_TICKS};

/// The browser's stand-in: a full-ICE str0m peer offering Opus, on a loopback socket.
pub(super) struct Browser {
    rtc: Rtc,
    pub(super) socket: UdpSocket,
    pub(super) addr: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    /// str0m's next timeout.
    pub(super) timeout: Instant,
    pub(super) connected: bool,
    pub(super) closed: bool,
    /// The Opus payloads received, in arrival order.
    pub(super) heard: Vec<Vec<u8>>,
    encoder: opus::Encoder,
    tone: SineGenerator,
}

impl Browser {
    /// A browser on loopback and its SDP offer; it will talk a 1 kHz tone.
    pub(super) async fn new() -> (Self, String) {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = socket.local_addr().unwrap();
        let now = Instant::now();
        let mut rtc = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .set_reordering_size_audio(0)
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut change = rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let (offer, pending) = change.apply().unwrap();
        let encoder =
            opus::Encoder::new(48_000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        let browser = Self {
            rtc,
            socket,
            addr,
            mid,
            pending: Some(pending),
            timeout: now,
            connected: false,
            closed: false,
            heard: Vec::new(),
            encoder,
            tone: SineGenerator::new(1000.0, 48_000, 8000),
        };
        (browser, offer.to_sdp_string())
    }

    pub(super) async fn accept_answer(&mut self, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        let pending = self.pending.take().unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        self.drain().await;
    }

    pub(super) async fn input(&mut self, input: Input<'_>) {
        self.rtc.handle_input(input).unwrap();
        self.drain().await;
    }

    /// Polls str0m until it names its next timeout; sends what it says to send.
    async fn drain(&mut self) {
        while self.rtc.is_alive() {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(at) => {
                    self.timeout = at;
                    return;
                }
                Output::Transmit(t) => {
                    self.socket
                        .send_to(&t.contents, t.destination)
                        .await
                        .unwrap();
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::Closed) => self.closed = true,
                Output::Event(Event::MediaData(data)) => self.heard.push(data.data.to_vec()),
                Output::Event(_) => {}
            }
        }
    }

    /// Sends frame `k` of the tone as Opus at 48 kHz.
    pub(super) async fn send_frame(&mut self, k: u32) {
        let mut pcm = [0i16; FRAME_48K];
        self.tone.fill(&mut pcm);
        let mut opus = [0u8; 400];
        let n = self.encoder.encode(&pcm, &mut opus).unwrap();
        let pt = self
            .rtc
            .codec_config()
            .find(|p| p.spec().codec == str0m::format::Codec::Opus)
            .unwrap()
            .pt();
        let rtp_time = MediaTime::new(u64::from(k) * FRAME_TICKS, Frequency::FORTY_EIGHT_KHZ);
        let writer = self.rtc.writer(self.mid).unwrap();
        writer
            .write(pt, Instant::now(), rtp_time, opus[..n].to_vec())
            .unwrap();
        self.drain().await;
    }
}
