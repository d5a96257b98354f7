//! Media endpoints of the end-to-end tests, each on its own thread: the carrier's RTP
//! socket (the one its SDP names: it passes on every datagram it receives and talks
//! 440 Hz PCMU back to where dcx's RTP comes from), or the str0m browser of
//! [`super::webrtc_client`]; and the check that a tone came through.
//!
//! Audio is judged by frequency, 20 ms at a time ([`ToneMeter`]); every wait ends on a
//! datagram, with a limit.

use std::fmt;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dcx_media::tone::{goertzel_amplitude, zero_crossing_frequency, SineGenerator};
use dcx_media::{Law, RtpHeader, RtpPacket};

/// One audio frame, as both sides send them.
pub const FRAME: Duration = Duration::from_millis(20);
/// The longest wait for a tone, or for a datagram.
pub const WAIT: Duration = Duration::from_secs(20);
/// The carrier's SSRC toward dcx.
const CARRIER_SSRC: u32 = 0x4ca2_2ee2;

/// Turns what an endpoint heard into PCM.
type Decode = Box<dyn FnMut(&[u8]) -> Vec<i16>>;

/// A datagram (the carrier's) or an Opus payload (the browser's), when it arrived.
#[derive(Debug, Clone)]
pub struct Heard {
    /// When the endpoint's thread received it.
    pub at: Instant,
    /// The bytes.
    pub data: Vec<u8>,
}

/// A media endpoint on its own thread, passing on what it receives and taking commands
/// of type `C`; stopped (and its panic, if any, passed on) on drop.
pub struct Media<C = ()> {
    who: &'static str,
    commands: Option<mpsc::Sender<C>>,
    thread: Option<JoinHandle<()>>,
    heard: mpsc::Receiver<Heard>,
}

impl<C: Send + 'static> Media<C> {
    /// Runs `run(heard, commands)` on a thread; it should return once the commands'
    /// sender is gone.
    pub fn spawn(
        who: &'static str,
        run: impl FnOnce(mpsc::Sender<Heard>, mpsc::Receiver<C>) + Send + 'static,
    ) -> Self {
        let (heard_tx, heard) = mpsc::channel();
        let (commands, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || run(heard_tx, rx));
        Self {
            who,
            commands: Some(commands),
            thread: Some(thread),
            heard,
        }
    }

    /// Hands `command` to the endpoint's thread.
    pub fn command(&self, command: C) {
        let sent = self.commands.as_ref().map(|c| c.send(command));
        assert!(matches!(sent, Some(Ok(()))), "{}'s thread ended", self.who);
    }

    /// The next thing heard, or `None` once `deadline` passes.
    pub fn next(&self, deadline: Instant) -> Option<Heard> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.heard.recv_timeout(left) {
            Ok(heard) => Some(heard),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{}'s thread ended", self.who),
        }
    }

    /// Feeds what it hears to `meter` until `windows` more 20 ms windows carry the
    /// meter's tone; panics after [`WAIT`].
    pub fn hear(&self, meter: &mut ToneMeter, windows: usize) {
        let (target, deadline) = (meter.right + windows, Instant::now() + WAIT);
        while meter.right < target {
            let Some(heard) = self.next(deadline) else {
                panic!("{} heard {meter}, waiting for {target}", self.who);
            };
            meter.feed(&heard);
        }
    }
}

impl<C> Drop for Media<C> {
    fn drop(&mut self) {
        drop(self.commands.take());
        if let Some(Err(panic)) = self.thread.take().map(JoinHandle::join) {
            if !std::thread::panicking() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

/// The carrier's media at `port` on loopback: passes on every datagram it receives and,
/// once PCMU came in, sends 440 Hz PCMU back to its source (symmetric RTP), 20 ms per
/// packet, SSRC [`CARRIER_SSRC`].
pub fn carrier_media(port: u16) -> Media {
    carrier_media_talking(port, 440.0)
}

/// [`carrier_media`] talking `hz` instead of 440 Hz: a PSTN caller's media, say, whose
/// first PCMU from dcx is a queue's hold tone of 440 Hz.
pub fn carrier_media_talking(port: u16, hz: f64) -> Media {
    let socket = UdpSocket::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("the carrier's media port {port}: {e}"));
    Media::spawn("the carrier", move |heard, stop| {
        carrier_loop(&socket, hz, &heard, &stop);
    })
}

fn carrier_loop(
    socket: &UdpSocket,
    hz: f64,
    heard: &mpsc::Sender<Heard>,
    stop: &mpsc::Receiver<()>,
) {
    let mut tone = SineGenerator::new(hz, 8000, 8000);
    let mut peer: Option<(SocketAddr, Instant)> = None; // dcx's source, the next send
    let (mut seq, mut timestamp) = (0u16, 0u32);
    let (mut buf, mut out) = ([0u8; 2048], [0u8; 12 + 160]);
    while let Err(mpsc::TryRecvError::Empty) = stop.try_recv() {
        let wait = peer.map_or(2 * FRAME, |(_, at)| {
            at.saturating_duration_since(Instant::now())
        });
        set_wait(socket, wait.min(2 * FRAME));
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                let at = Instant::now();
                if RtpPacket::parse(&buf[..n]).is_ok_and(|p| p.payload_type() == 0) {
                    peer.get_or_insert((from, at));
                }
                let data = buf[..n].to_vec();
                let _ = heard.send(Heard { at, data });
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("the carrier's media socket: {e}"),
        }
        let now = Instant::now();
        let Some((to, due)) = peer.as_mut() else {
            continue;
        };
        if now < *due {
            continue;
        }
        *due = next_due(*due, now);
        let (mut pcm, mut pcmu) = ([0i16; 160], [0u8; 160]);
        tone.fill(&mut pcm);
        Law::Ulaw.encode_slice(&pcm, &mut pcmu);
        let header = RtpHeader {
            marker: seq == 0,
            payload_type: 0,
            sequence_number: seq,
            timestamp,
            ssrc: CARRIER_SSRC,
            ..RtpHeader::default()
        };
        let n = header.write(&pcmu, 0, &mut out).unwrap();
        let _ = socket.send_to(&out[..n], *to);
        (seq, timestamp) = (seq.wrapping_add(1), timestamp.wrapping_add(160));
    }
}

/// Judges decoded audio 20 ms at a time: a window is right when `hz` dominates it (its
/// Goertzel amplitude loud and over 5 times that at 0.7 and 1.4 times `hz`) and its
/// zero crossings put it within 3 % of `hz`. It also keeps the longest pause between
/// two arrivals.
pub struct ToneMeter {
    rate_hz: u32,
    hz: f64,
    decode: Decode,
    pending: Vec<i16>,
    /// Windows judged.
    pub windows: usize,
    /// Windows with the tone.
    pub right: usize,
    /// Zero-crossing frequency and amplitude of the last window.
    last: (f64, f64),
    last_at: Option<Instant>,
    max_gap: Duration,
}

impl ToneMeter {
    /// For the carrier's socket: RTP datagrams, PCMU (payload type 0) decoded at 8 kHz,
    /// anything else (telephone-events) passed over.
    pub fn pcmu(hz: f64) -> Self {
        Self::new(8000, hz, |datagram| {
            let Ok(p) = RtpPacket::parse(datagram) else {
                return Vec::new();
            };
            if p.payload_type() != 0 {
                return Vec::new();
            }
            let mut pcm = vec![0i16; p.payload().len()];
            Law::Ulaw.decode_slice(p.payload(), &mut pcm);
            pcm
        })
    }

    /// For the browser: Opus payloads decoded at 48 kHz, one decoder for the stream.
    pub fn opus(hz: f64) -> Self {
        let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
        let mut pcm = vec![0i16; 960 * 6];
        Self::new(48_000, hz, move |payload| {
            let n = decoder.decode(payload, &mut pcm, false).unwrap();
            pcm[..n].to_vec()
        })
    }

    fn new(rate_hz: u32, hz: f64, decode: impl FnMut(&[u8]) -> Vec<i16> + 'static) -> Self {
        Self {
            rate_hz,
            hz,
            decode: Box::new(decode),
            pending: Vec::new(),
            windows: 0,
            right: 0,
            last: (0.0, 0.0),
            last_at: None,
            max_gap: Duration::ZERO,
        }
    }

    /// The longest pause between two arrivals since the last call.
    pub fn take_max_gap(&mut self) -> Duration {
        std::mem::take(&mut self.max_gap)
    }

    /// Judges what `heard` brings (whole windows; the rest waits for the next).
    pub fn feed(&mut self, heard: &Heard) {
        if let Some(last) = self.last_at.replace(heard.at) {
            self.max_gap = self.max_gap.max(heard.at.saturating_duration_since(last));
        }
        let pcm = (self.decode)(&heard.data);
        self.pending.extend_from_slice(&pcm);
        let len = self.rate_hz as usize / 50;
        while self.pending.len() >= len {
            let window: Vec<i16> = self.pending.drain(..len).collect();
            let amplitude = |hz| goertzel_amplitude(&window, self.rate_hz, hz);
            let at = amplitude(self.hz);
            let off = amplitude(self.hz * 0.7).max(amplitude(self.hz * 1.4));
            let f = zero_crossing_frequency(&window, self.rate_hz).unwrap_or(0.0);
            self.windows += 1;
            self.last = (f, at);
            if at > 1000.0 && at > 5.0 * off && (f - self.hz).abs() < 0.03 * self.hz {
                self.right += 1;
            }
        }
    }
}

impl fmt::Display for ToneMeter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hz, amplitude) = self.last;
        write!(
            f,
            "{} of {} 20 ms windows at {} Hz (the last: {hz:.0} Hz, amplitude {amplitude:.0})",
            self.right, self.windows, self.hz
        )
    }
}

/// The RMS level of the samples of a PCMU RTP datagram (payload type 0), on the 16-bit
/// scale (a full-scale sine is about 23 000, digital silence 0); `None` for anything
/// else.
pub fn pcmu_rms(datagram: &[u8]) -> Option<f64> {
    let p = RtpPacket::parse(datagram).ok()?;
    if p.payload_type() != 0 || p.payload().is_empty() {
        return None;
    }
    let mut pcm = vec![0i16; p.payload().len()];
    Law::Ulaw.decode_slice(p.payload(), &mut pcm);
    let energy: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    Some((energy / pcm.len() as f64).sqrt())
}

/// When the frame after the one due at `due` is due: 20 ms on, or now after a stall of
/// more than 100 ms (no burst to catch up).
pub fn next_due(due: Instant, now: Instant) -> Instant {
    let next = due + FRAME;
    if next + 5 * FRAME < now {
        now
    } else {
        next
    }
}

/// A read timeout of `wait`, at least 1 ms (zero means "block forever" to the OS).
pub fn set_wait(socket: &UdpSocket, wait: Duration) {
    socket
        .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
        .unwrap();
}

/// Whether a socket error is a read timeout.
pub fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Judges mixed audio 100 ms at a time: which of several tones each window carries
/// (a tone is there when its Goertzel amplitude is over a quarter of what the test
/// peers send, 8000). For a party who hears more than one voice at once, where
/// [`ToneMeter`]'s one dominant tone does not apply.
pub struct VoiceMeter {
    rate_hz: u32,
    tones: Vec<f64>,
    decode: Decode,
    pending: Vec<i16>,
    /// Windows judged.
    pub windows: usize,
    /// Per tone, the windows that carry it.
    pub present: Vec<usize>,
}

impl VoiceMeter {
    /// For the carrier's socket: PCMU datagrams (see [`ToneMeter::pcmu`]).
    pub fn pcmu(tones: &[f64]) -> Self {
        let ToneMeter { decode, .. } = ToneMeter::pcmu(0.0);
        Self::new(8000, tones, decode)
    }

    /// For a browser: Opus payloads (see [`ToneMeter::opus`]).
    pub fn opus(tones: &[f64]) -> Self {
        let ToneMeter { decode, .. } = ToneMeter::opus(0.0);
        Self::new(48_000, tones, decode)
    }

    fn new(rate_hz: u32, tones: &[f64], decode: Decode) -> Self {
        Self {
            rate_hz,
            tones: tones.to_vec(),
            decode,
            pending: Vec::new(),
            windows: 0,
            present: vec![0; tones.len()],
        }
    }

    /// Judges what `heard` brings (whole windows; the rest waits for the next).
    pub fn feed(&mut self, heard: &Heard) {
        let pcm = (self.decode)(&heard.data);
        self.pending.extend_from_slice(&pcm);
        let len = self.rate_hz as usize / 10;
        while self.pending.len() >= len {
            let window: Vec<i16> = self.pending.drain(..len).collect();
            self.windows += 1;
            for (hz, count) in self.tones.iter().zip(self.present.iter_mut()) {
                if goertzel_amplitude(&window, self.rate_hz, *hz) > 2000.0 {
                    *count += 1;
                }
            }
        }
    }

    /// Feeds `media`'s audio that arrives from `settle` on until `windows` more
    /// windows were judged (what came before is decoded and dropped: a backlog, or
    /// audio from before a change that is still on its way); panics after [`WAIT`].
    /// Returns, per tone, how many of those windows carried it.
    pub fn listen<C: Send + 'static>(
        &mut self,
        media: &Media<C>,
        settle: Duration,
        windows: usize,
    ) -> Vec<usize> {
        let since = Instant::now() + settle;
        self.pending.clear();
        let before = (self.windows, self.present.clone());
        let deadline = since + WAIT;
        while self.windows < before.0 + windows {
            let Some(heard) = media.next(deadline) else {
                panic!(
                    "{} heard {} windows, waiting for {windows} more",
                    media.who, self.windows
                );
            };
            if heard.at < since {
                (self.decode)(&heard.data);
                continue;
            }
            self.feed(&heard);
        }
        self.present
            .iter()
            .zip(&before.1)
            .map(|(now, then)| now - then)
            .collect()
    }
}
