//! The shell over real loopback sockets and the real clock: a str0m client stands in for
//! the browser (as in dcx-media's virtual-time tests, but on its own UDP socket), and a
//! tone goes each way through the bridge's codecs. The assertions are on frequencies and
//! frame counts, never on timing; every wait ends on an event, with a limit.

mod browser;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use dcx_media::bridge::{G711Decode, G711Encode, OpusDecode, OpusEncode, OpusSettings, Transcoder};
use dcx_media::jitter::Playout;
use dcx_media::tone::{goertzel_amplitude, zero_crossing_frequency, SineGenerator};
use dcx_media::webrtc::{DisconnectReason, WebRtcConfig};
use dcx_media::Law;
use str0m::net::{Protocol, Receive};
use str0m::Input;
use tokio::time::{interval, sleep_until, Instant, Interval};

use super::*;
use browser::Browser;

/// 1.5 s of 20 ms frames, each way.
const FRAMES: u32 = 75;
const FRAME_INTERVAL: Duration = Duration::from_millis(20);
/// One 20 ms frame in 48 kHz RTP units (Opus's clock) and samples.
pub(super) const FRAME_TICKS: u64 = 960;
pub(super) const FRAME_48K: usize = 960;
/// Frames left out of the frequency checks while the codecs settle.
const SETTLE_FRAMES: usize = 10;

/// What woke a [`Scene::step`].
enum Wake {
    Datagram(usize, SocketAddr),
    BrowserTimeout,
    Event(Option<MediaEvent>),
    Tick,
    Limit,
}

/// The browser, the shell's handle and events, and the gateway's side of the call (a
/// carrier's 440 Hz PCMU, transcoded to Opus as a bridged call would).
struct Scene {
    browser: Browser,
    handle: WebRtcHandle,
    events: mpsc::Receiver<MediaEvent>,
    peer: PeerId,
    peer_connected: bool,
    /// Everything but audio the shell reported.
    control: Vec<MediaEvent>,
    /// The Opus payloads the shell delivered from the browser, in arrival order.
    heard: Vec<Arc<[u8]>>,
    carrier_tone: SineGenerator,
    toward_browser: Transcoder<G711Decode, OpusEncode>,
    buf: Vec<u8>,
}

impl Scene {
    /// Waits for one thing (a datagram or timeout of the browser, an event of the
    /// shell, the next frame tick when streaming, or `limit`) and handles it.
    async fn step(&mut self, limit: Instant, tick: Option<&mut Interval>) -> Wake {
        let ticked = async {
            match tick {
                Some(tick) => tick.tick().await,
                None => std::future::pending().await,
            }
        };
        let wake = tokio::select! {
            received = self.browser.socket.recv_from(&mut self.buf) => {
                let (n, from) = received.unwrap();
                Wake::Datagram(n, from)
            }
            () = sleep_until(self.browser.timeout.into()) => Wake::BrowserTimeout,
            event = self.events.recv() => Wake::Event(event),
            _ = ticked => Wake::Tick,
            () = sleep_until(limit) => Wake::Limit,
        };
        let now = std::time::Instant::now();
        match &wake {
            Wake::Datagram(n, from) => {
                let receive =
                    Receive::new(Protocol::Udp, *from, self.browser.addr, &self.buf[..*n]).unwrap();
                self.browser.input(Input::Receive(now, receive)).await;
            }
            Wake::BrowserTimeout => self.browser.input(Input::Timeout(now)).await,
            Wake::Event(event) => match event.clone().expect("the shell stopped") {
                MediaEvent::Audio {
                    peer,
                    codec,
                    payload,
                    ..
                } => {
                    assert_eq!((peer, codec), (self.peer, AudioCodec::Opus));
                    self.heard.push(payload);
                }
                MediaEvent::PeerConnected(peer) if peer == self.peer => {
                    self.peer_connected = true;
                }
                other => self.control.push(other),
            },
            Wake::Tick | Wake::Limit => {}
        }
        wake
    }

    /// Steps until `done` holds; false if `limit` passes first.
    async fn run_until(&mut self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let limit = Instant::now() + limit;
        while !done(self) {
            if matches!(self.step(limit, None).await, Wake::Limit) {
                return false;
            }
        }
        true
    }

    /// Both ways at once, one frame per 20 ms tick: the browser's 1 kHz as Opus, and
    /// the carrier's 440 Hz as PCMU through the bridge to Opus, written to the peer
    /// through the handle.
    async fn stream(&mut self) {
        let mut tick = interval(FRAME_INTERVAL);
        let limit = Instant::now() + FRAME_INTERVAL * (FRAMES + 100);
        let mut k = 0;
        while k < FRAMES {
            match self.step(limit, Some(&mut tick)).await {
                Wake::Tick => {}
                Wake::Limit => panic!("only {k} frames sent in time"),
                _ => continue,
            }
            self.browser.send_frame(k).await;
            let mut pcm = [0i16; 160];
            let mut pcmu = [0u8; 160];
            self.carrier_tone.fill(&mut pcm);
            Law::Ulaw.encode_slice(&pcm, &mut pcmu);
            let (handle, peer) = (&self.handle, self.peer);
            let rtp_time = u64::from(k) * FRAME_TICKS;
            self.toward_browser
                .process(Playout::payload(&pcmu), |opus| {
                    handle
                        .write_audio(peer, AudioCodec::Opus, rtp_time, opus)
                        .unwrap();
                });
            k += 1;
        }
    }
}

/// The frequency measured in `pcm` by zero crossings, and the Goertzel amplitude at
/// `expected_hz`, after checking that `expected_hz` dominates (well above its
/// neighbours, and loud).
fn measured_tone(pcm: &[i16], rate_hz: u32, expected_hz: f64) -> (f64, f64) {
    let at = goertzel_amplitude(pcm, rate_hz, expected_hz);
    let off = goertzel_amplitude(pcm, rate_hz, expected_hz * 1.4).max(goertzel_amplitude(
        pcm,
        rate_hz,
        expected_hz * 0.7,
    ));
    assert!(
        at > 5.0 * off && at > 1000.0,
        "{expected_hz} Hz: amplitude {at:.0}, neighbours {off:.0}"
    );
    (zero_crossing_frequency(pcm, rate_hz).unwrap(), at)
}

/// What the gateway heard from the browser, as the carrier would: Opus through the
/// bridge to PCMU, then back to 8 kHz PCM.
fn at_the_carrier(heard: &[Arc<[u8]>]) -> Vec<i16> {
    let mut bridge = Transcoder::new(OpusDecode::new().unwrap(), G711Encode::new(Law::Ulaw));
    let mut pcm = Vec::new();
    for payload in heard {
        bridge.process(Playout::payload(payload), |pcmu| {
            let mut frame = vec![0i16; pcmu.len()];
            Law::Ulaw.decode_slice(pcmu, &mut frame);
            pcm.extend_from_slice(&frame);
        });
    }
    assert_eq!(bridge.errors(), 0);
    pcm
}

/// What the browser heard, decoded at 48 kHz.
fn at_the_browser(heard: &[Vec<u8>]) -> Vec<i16> {
    let mut decoder = opus::Decoder::new(48_000, opus::Channels::Mono).unwrap();
    let mut pcm = Vec::new();
    let mut frame = [0i16; FRAME_48K * 6];
    for payload in heard {
        let n = decoder.decode(payload, &mut frame, false).unwrap();
        pcm.extend_from_slice(&frame[..n]);
    }
    pcm
}

/// A shell on a loopback port, with the core announcing that port.
async fn start_shell() -> (
    WebRtcShell,
    WebRtcHandle,
    mpsc::Receiver<MediaEvent>,
    watch::Sender<bool>,
) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let port = socket.local_addr().unwrap().port();
    let core = MediaCore::new(&WebRtcConfig::new(Ipv4Addr::LOCALHOST.into(), port)).unwrap();
    let (stop, shutdown) = watch::channel(false);
    let (shell, handle, events) = WebRtcShell::new(socket, core, &shutdown).unwrap();
    (shell, handle, events, stop)
}

#[tokio::test]
async fn a_tone_goes_round_trip_over_loopback_with_the_media_loop_in_its_shell() {
    let (shell, handle, events, stop) = start_shell().await;
    let shell = tokio::spawn(shell.run());
    let (mut browser, offer) = Browser::new().await;
    // A call bridged to G.711: the answer asks for narrowband Opus, and the browser
    // connects with it.
    let (peer, answer) = handle.add_peer_with(offer, true).await.unwrap();
    assert!(answer.contains("maxplaybackrate=8000"), "{answer}");
    browser.accept_answer(&answer).await;
    let mut scene = Scene {
        browser,
        handle: handle.clone(),
        events,
        peer,
        peer_connected: false,
        control: Vec::new(),
        heard: Vec::new(),
        carrier_tone: SineGenerator::new(440.0, 8000, 8000),
        toward_browser: Transcoder::new(
            G711Decode::new(Law::Ulaw),
            OpusEncode::new(OpusSettings::default()).unwrap(),
        ),
        buf: vec![0; 2048],
    };
    let connected = scene
        .run_until(Duration::from_secs(5), |s| {
            s.peer_connected && s.browser.connected
        })
        .await;
    assert!(connected, "not connected: {:?}", scene.control);

    scene.stream().await;
    // Time to land; loopback loses nothing, but a busy machine may (hence >= 80%).
    let frames = FRAMES as usize;
    scene
        .run_until(Duration::from_secs(1), |s| {
            s.heard.len() >= frames && s.browser.heard.len() >= frames
        })
        .await;

    let (to_gateway, to_browser) = (scene.heard.len(), scene.browser.heard.len());
    println!("frames sent {FRAMES} each way; gateway got {to_gateway}, browser got {to_browser}");
    for got in [to_gateway, to_browser] {
        assert!(got * 5 >= frames * 4 && got <= frames, "{got} of {FRAMES}");
    }
    let carrier = at_the_carrier(&scene.heard);
    let (f, at) = measured_tone(&carrier[SETTLE_FRAMES * 160..], 8000, 1000.0);
    println!("browser -> gateway -> PCMU: {f:.1} Hz, amplitude {at:.0}");
    assert!((f - 1000.0).abs() < 20.0, "{f} Hz at the carrier");
    let browser = at_the_browser(&scene.browser.heard);
    let (f, at) = measured_tone(&browser[SETTLE_FRAMES * FRAME_48K..], 48_000, 440.0);
    println!("PCMU -> gateway -> browser: {f:.1} Hz, amplitude {at:.0}");
    assert!((f - 440.0).abs() < 10.0, "{f} Hz at the browser");

    let counters = handle.counters().await.unwrap();
    assert_eq!(counters.core.datagrams_malformed, 0, "{counters:?}");
    assert_eq!(counters.core.datagrams_unrouted, 0, "{counters:?}");
    assert_eq!(counters.core.peers_added, 1, "{counters:?}");
    assert_eq!(
        (counters.writes_refused, counters.audio_events_dropped),
        (0, 0),
        "{counters:?}"
    );
    assert_eq!((counters.receive_errors, counters.send_errors), (0, 0));

    // Removed through the handle: reported once, and the browser is told.
    handle.remove_peer(peer).await.unwrap();
    let gone = MediaEvent::PeerDisconnected(peer, DisconnectReason::Removed);
    let told = scene
        .run_until(Duration::from_secs(2), |s| {
            s.control.contains(&gone) && s.browser.closed
        })
        .await;
    assert!(told, "{:?}", scene.control);
    assert!(matches!(
        handle.remove_peer(peer).await,
        Err(ShellError::Media(MediaError::UnknownPeer(p))) if p == peer
    ));
    // A frame for a peer that is gone is refused by the core and counted.
    handle
        .write_audio(peer, AudioCodec::Opus, 0, vec![0; 10])
        .unwrap();
    assert_eq!(handle.counters().await.unwrap().writes_refused, 1);

    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), shell)
        .await
        .expect("the shell ends on shutdown")
        .unwrap();
    assert!(matches!(
        handle.add_peer(String::new()).await,
        Err(ShellError::Stopped)
    ));
    assert!(matches!(
        handle.write_audio(peer, AudioCodec::Opus, 0, vec![0; 10]),
        Err(ShellError::Stopped)
    ));
}

/// The port of the host candidate in an SDP answer.
fn candidate_port(answer: &str) -> u16 {
    let line = answer.lines().find(|l| l.starts_with("a=candidate:"));
    let line = line.unwrap_or_else(|| panic!("no candidate in {answer}"));
    line.split(' ').nth(5).unwrap().parse().unwrap()
}

#[tokio::test]
async fn sharded_loops_place_peers_by_load_or_beside_and_route_by_id() {
    let mut loops = Vec::new();
    let mut ports = Vec::new();
    for shard in 0..2 {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let port = socket.local_addr().unwrap().port();
        let config = WebRtcConfig {
            shard,
            ..WebRtcConfig::new(Ipv4Addr::LOCALHOST.into(), port)
        };
        loops.push((socket, MediaCore::new(&config).unwrap()));
        ports.push(port);
    }
    let (stop, shutdown) = watch::channel(false);
    let (shells, handle, _events) = WebRtcShell::sharded(loops, &shutdown).unwrap();
    let shells: Vec<_> = shells.into_iter().map(|s| tokio::spawn(s.run())).collect();
    let offer = || async { Browser::new().await.1 };

    // By load: the first to the empty shard 0, the next to shard 1, each answered on
    // its shard's port.
    let (p0, answer_a) = handle.add_peer(offer().await).await.unwrap();
    let (p1, answer_b) = handle.add_peer(offer().await).await.unwrap();
    assert_eq!((p0.shard(), p1.shard()), (0, 1));
    assert_eq!(candidate_port(&answer_a), ports[0]);
    assert_eq!(candidate_port(&answer_b), ports[1]);
    assert_eq!(handle.shard_peers(), [1, 1]);
    // Peers of two shards cannot share a room; beside one, they can.
    assert!(matches!(
        handle.pair([p0, p1]).await,
        Err(ShellError::Apart(_))
    ));
    let (p2, answer_c) = handle
        .add_peer_beside(p1, offer().await, false)
        .await
        .unwrap();
    assert_eq!((p2.shard(), candidate_port(&answer_c)), (1, ports[1]));
    assert_ne!(p1, p2);
    let room = handle.pair([p1, p2]).await.unwrap();
    assert_eq!(room.shard(), 1);
    let (p3, _) = handle.add_peer(offer().await).await.unwrap();
    assert_eq!((p3.shard(), handle.shard_peers()), (0, vec![2, 2]));
    let join = RoomCommand::Join {
        room,
        peer: p3,
        role: Role::Supervisor,
    };
    assert!(matches!(handle.room(join).await, Err(ShellError::Apart(_))));
    let (p4, _) = handle
        .add_peer_beside(p2, offer().await, false)
        .await
        .unwrap();
    let join = RoomCommand::Join {
        room,
        peer: p4,
        role: Role::Supervisor,
    };
    handle.room(join).await.unwrap();

    // Commands go to the peer's own shard: removing p1 and p3 leaves one on each side.
    handle.remove_peer(p1).await.unwrap();
    handle.remove_peer(p3).await.unwrap();
    assert!(matches!(
        handle.remove_peer(p1).await,
        Err(ShellError::Media(MediaError::UnknownPeer(gone))) if gone == p1
    ));
    let counters = handle.counters().await.unwrap();
    assert_eq!(
        (counters.core.peers_added, counters.core.peers_gone),
        (5, 2),
        "summed over both shards: {counters:?}"
    );
    assert_eq!(handle.shard_peers(), [1, 2]);
    handle.close_room(room).await.unwrap();
    // An id from a shard that does not exist is unknown, not misrouted.
    let stranger = PeerId::from_raw(u64::from(u16::MAX) << 48 | 1);
    assert!(matches!(
        handle.remove_peer(stranger).await,
        Err(ShellError::Media(MediaError::UnknownPeer(_)))
    ));
    assert!(matches!(
        handle.room(RoomCommand::Leave(stranger)).await,
        Err(ShellError::Room(SfuError::NotInRoom(who))) if who == stranger
    ));

    drop(stop);
    for shell in shells {
        tokio::time::timeout(Duration::from_secs(2), shell)
            .await
            .expect("each shard ends on shutdown")
            .unwrap();
    }
}

#[tokio::test]
async fn a_bad_offer_is_refused_and_the_loop_goes_on() {
    let (shell, handle, _events, stop) = start_shell().await;
    let shell = tokio::spawn(shell.run());
    assert!(matches!(
        handle.add_peer("this is not sdp".into()).await,
        Err(ShellError::Media(MediaError::BadOffer(_)))
    ));
    let (_browser, offer) = Browser::new().await;
    assert!(handle.add_peer(offer).await.is_ok());
    assert_eq!(handle.counters().await.unwrap().core.peers_added, 1);
    drop(stop);
    tokio::time::timeout(Duration::from_secs(2), shell)
        .await
        .expect("the shell ends when the shutdown sender is gone")
        .unwrap();
}

#[tokio::test]
async fn a_reader_that_falls_behind_loses_audio_events_but_no_other_event() {
    let (mut shell, _handle, mut events, stop) = start_shell().await;
    let (_browser, offer) = Browser::new().await;
    let (peer, _) = shell
        .core
        .add_peer(std::time::Instant::now(), &offer)
        .unwrap();
    let audio = |k: u64| MediaEvent::Audio {
        peer,
        codec: AudioCodec::Opus,
        ext_seq: k,
        rtp_time: k * FRAME_TICKS,
        contiguous: true,
        payload: Arc::from([0u8; 4]),
    };
    let control =
        |k: usize| MediaEvent::PeerDisconnected(peer, DisconnectReason::Failed(k.to_string()));

    // Nobody reads: audio fills the channel up to the reserve, then is dropped.
    for k in 0..EVENT_QUEUE as u64 {
        shell.deliver(audio(k));
    }
    assert_eq!(shell.counters.audio_events_dropped, CONTROL_RESERVE as u64);
    // Other events take the reserve, then wait in the shell, and audio behind them is
    // dropped even when there is room again.
    for k in 0..CONTROL_RESERVE + 2 {
        shell.deliver(control(k));
    }
    assert_eq!(shell.held.len(), 2);
    events.recv().await.unwrap();
    shell.deliver(audio(0));
    assert_eq!(
        shell.counters.audio_events_dropped,
        CONTROL_RESERVE as u64 + 1
    );

    // The loop hands on the waiting events as the reader catches up, in order.
    let shell = tokio::spawn(shell.run());
    let mut got = Vec::new();
    let expected = CONTROL_RESERVE + 2;
    while got.len() < expected {
        let event = tokio::time::timeout(Duration::from_secs(2), events.recv())
            .await
            .expect("the waiting events come")
            .unwrap();
        if !matches!(event, MediaEvent::Audio { .. }) {
            got.push(event);
        }
    }
    assert_eq!(got, (0..expected).map(control).collect::<Vec<_>>());
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), shell)
        .await
        .expect("the shell ends on shutdown")
        .unwrap();
}
