//! The browser's stand-in for the end-to-end tests: a full-ICE str0m peer offering Opus
//! and telephone-event/48000 (as a browser does), on its own loopback socket and the
//! real clock. Once connected it talks a tone (1 kHz unless told otherwise), 20 ms of
//! Opus at a time, and
//! presses keys the way a browser's `RTCDTMFSender` does when told to.

use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dcx_media::tone::SineGenerator;
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::{Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};

use super::media::{is_timeout, next_due, set_wait, Heard, FRAME};

/// The payload type the browser offers telephone-event/48000 on (Chrome's).
pub const TELEPHONE_EVENT_PT: u8 = 110;
/// RTP ticks of one 20 ms Opus frame.
const FRAME_TICKS: u64 = 960;

/// What the test asks of the browser's thread.
#[derive(Debug, Clone)]
pub enum BrowserCommand {
    /// The browser's network changed: it moves to a new socket (a new address; the old
    /// one is gone) and restarts ICE; its new offer goes to `offer`.
    RestartIce {
        /// Where the new offer goes.
        offer: mpsc::Sender<String>,
    },
    /// dcx's answer to the restart's offer (`updated`).
    ApplyAnswer(String),
    /// One key press as RFC 4733 events on the telephone-event payload type (str0m
    /// sends the updates and the end packets), beside the audio.
    KeyPress {
        /// The event code: 0-9, `*` 10, `#` 11, A-D 12-15.
        event: u8,
        /// How long the key is held.
        duration: Duration,
    },
}

/// The browser: its str0m peer and socket, and the tone it talks.
pub struct Browser {
    rtc: Rtc,
    socket: UdpSocket,
    addr: SocketAddr,
    mid: Mid,
    pending: Option<SdpPendingOffer>,
    /// str0m's next timeout.
    timeout: Instant,
    connected: bool,
    /// Opus payloads received and not yet passed on.
    received: Vec<Heard>,
    encoder: opus::Encoder,
    tone: SineGenerator,
    frames_sent: u64,
}

impl Browser {
    /// A browser talking 1 kHz, and its SDP offer.
    pub fn new() -> (Self, String) {
        Self::talking(1000.0)
    }

    /// A browser talking a tone of `hz`, and its SDP offer.
    pub fn talking(hz: f64) -> (Self, String) {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        let now = Instant::now();
        let mut config = Rtc::builder()
            .clear_codecs()
            .enable_opus(true, false)
            .set_reordering_size_audio(0);
        config.codec_config().add_config(
            TELEPHONE_EVENT_PT.into(),
            None,
            Codec::Tele,
            Frequency::FORTY_EIGHT_KHZ,
            None,
            FormatParams::default(),
        );
        let mut rtc = config.build(now);
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
            received: Vec::new(),
            encoder,
            tone: SineGenerator::new(hz, 48_000, 8000),
            frames_sent: 0,
        };
        (browser, offer.to_sdp_string())
    }

    fn input(&mut self, input: Input<'_>) {
        if self.rtc.is_alive() {
            self.rtc.handle_input(input).unwrap();
            self.drain();
        }
    }

    /// Polls str0m until it names its next timeout; sends what it says to send.
    fn drain(&mut self) {
        while self.rtc.is_alive() {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(at) => {
                    self.timeout = at;
                    return;
                }
                Output::Transmit(t) => {
                    // Best effort, as UDP is.
                    let _ = self.socket.send_to(&t.contents, t.destination);
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::Closed) => self.connected = false,
                Output::Event(Event::MediaData(data)) if data.pt == self.opus_pt() => {
                    self.received.push(Heard {
                        at: Instant::now(),
                        data: data.data.to_vec(),
                    });
                }
                Output::Event(_) => {}
            }
        }
    }

    /// The negotiated Opus payload type.
    fn opus_pt(&self) -> Pt {
        self.rtc
            .codec_config()
            .find(|p| p.spec().codec == Codec::Opus)
            .unwrap()
            .pt()
    }

    /// The RTP time of the next frame.
    fn rtp_time(&self) -> MediaTime {
        MediaTime::new(self.frames_sent * FRAME_TICKS, Frequency::FORTY_EIGHT_KHZ)
    }

    /// Sends the next 20 ms of the tone as Opus at 48 kHz.
    fn send_frame(&mut self) {
        let mut pcm = [0i16; FRAME_TICKS as usize];
        self.tone.fill(&mut pcm);
        let mut opus = [0u8; 400];
        let n = self.encoder.encode(&pcm, &mut opus).unwrap();
        let (pt, rtp_time) = (self.opus_pt(), self.rtp_time());
        self.frames_sent += 1;
        let writer = self.rtc.writer(self.mid).unwrap();
        writer
            .write(pt, Instant::now(), rtp_time, opus[..n].to_vec())
            .unwrap();
        self.drain();
    }

    /// A whole key press, as `RTCDTMFSender.insertDTMF` makes one: str0m picks the
    /// telephone-event payload type of the audio's clock rate and paces the packets.
    fn key_press(&mut self, event: u8, duration: Duration) {
        assert!(self.connected, "a key press before the browser connected");
        let (pt, rtp_time) = (self.opus_pt(), self.rtp_time());
        let press = TelephoneEvent {
            event,
            end: true,
            volume: 10,
            duration,
        };
        self.rtc
            .writer(self.mid)
            .unwrap()
            .telephone_event(press)
            .write(pt, Instant::now(), rtp_time, Vec::new())
            .unwrap();
        self.drain();
    }

    /// Moves to a new socket and restarts ICE: the new offer (str0m applies the restart
    /// with the answer, in [`Self::apply_restart`]).
    fn restart_ice(&mut self) -> String {
        self.socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        self.addr = self.socket.local_addr().unwrap();
        let mut change = self.rtc.sdp_api();
        change.ice_restart(false);
        let (offer, pending) = change.apply().expect("an ICE restart is a change");
        self.pending = Some(pending);
        offer.to_sdp_string()
    }

    /// dcx's answer to the restart; the new socket's host candidate comes after it.
    fn apply_restart(&mut self, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        let pending = self.pending.take().expect("a restart is pending");
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        self.rtc
            .add_local_candidate(Candidate::host(self.addr, "udp").unwrap());
        self.drain();
    }

    /// The browser's thread: takes dcx's `answer`, then feeds datagrams and timeouts to
    /// str0m and sends a frame of the tone every 20 ms once connected, passing on the
    /// Opus it hears to `heard`, and doing what `commands` say; until their sender is
    /// gone.
    pub fn run(
        mut self,
        answer: &str,
        heard: &mpsc::Sender<Heard>,
        commands: &mpsc::Receiver<BrowserCommand>,
    ) {
        let answer = SdpAnswer::from_sdp_string(answer).unwrap();
        let pending = self.pending.take().unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        self.drain();
        let mut next_frame: Option<Instant> = None;
        let mut buf = vec![0u8; 2048];
        loop {
            match commands.try_recv() {
                Ok(BrowserCommand::KeyPress { event, duration }) => {
                    self.key_press(event, duration);
                }
                Ok(BrowserCommand::RestartIce { offer }) => {
                    let _ = offer.send(self.restart_ice());
                }
                Ok(BrowserCommand::ApplyAnswer(answer)) => self.apply_restart(&answer),
                Err(mpsc::TryRecvError::Empty) => {}
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
            let now = Instant::now();
            let wake = [Some(self.timeout), next_frame, Some(now + 2 * FRAME)]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            set_wait(&self.socket, wake.saturating_duration_since(now));
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let receive = Receive::new(Protocol::Udp, from, self.addr, &buf[..n]).unwrap();
                    self.input(Input::Receive(Instant::now(), receive));
                }
                Err(e) if is_timeout(&e) => {}
                Err(e) => panic!("the browser's socket: {e}"),
            }
            let now = Instant::now();
            if now >= self.timeout {
                self.input(Input::Timeout(now));
            }
            if self.connected {
                let due = next_frame.get_or_insert(now);
                if now >= *due {
                    *due = next_due(*due, now);
                    self.send_frame();
                }
            }
            for payload in self.received.drain(..) {
                let _ = heard.send(payload);
            }
        }
    }
}
