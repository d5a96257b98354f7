//! The floor of the SFU bench: the least a forwarder built on str0m must do for the
//! same packets, with none of dcx. Bare `Rtc`s built from dcx's own `RtcConfig`, one
//! `Vec` of peers, an address map, a deadline set; each room of two forwards what one
//! peer receives to the other as it came (same payload type, sequence number and
//! timestamp: no munging, no room logic, no DTMF, no events beyond "connected").
//!
//! Per datagram that is what str0m requires of any user: the receive (`handle_input`,
//! then `poll_output` until the next timeout), and for the forwarded packet the write
//! (`write_rtp`, a timeout input so its pacer releases it, `poll_output` again). What
//! dcx's [`Sfu`](dcx_media::sfu::Sfu) costs above this is dcx's own share.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use dcx_media::webrtc::{MediaEvent, PeerId, Transmit, WebRtcConfig};
use str0m::change::SdpOffer;
use str0m::media::Mid;
use str0m::net::{Protocol, Receive};
use str0m::rtp::{RtpPacket, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

struct BarePeer {
    rtc: Rtc,
    mid: Mid,
    partner: Option<usize>,
    /// The deadline it is in the schedule under.
    scheduled: Option<Instant>,
}

/// Where peers put what they produce.
#[derive(Default)]
struct Out {
    transmits: VecDeque<Transmit>,
    events: VecDeque<MediaEvent>,
    /// RTP packets received by the peer being drained, to forward.
    packets: Vec<RtpPacket>,
}

/// Bare str0m peers forwarding in rooms of two.
pub struct Bare {
    config: RtcConfig,
    local: SocketAddr,
    peers: Vec<BarePeer>,
    by_addr: BTreeMap<SocketAddr, usize>,
    schedule: BTreeSet<(Instant, usize)>,
    out: Out,
    forwarded: u64,
}

impl Bare {
    pub fn new(config: &WebRtcConfig) -> Self {
        let crypto = Arc::new(str0m::crypto::from_feature_flags());
        let certificate = crypto.dtls_provider.generate_certificate().unwrap();
        Self {
            config: config.rtc_config(&crypto, &certificate),
            local: config.candidate_addrs().next().unwrap(),
            peers: Vec::new(),
            by_addr: BTreeMap::new(),
            schedule: BTreeSet::new(),
            out: Out::default(),
            forwarded: 0,
        }
    }

    pub fn add_peer(&mut self, now: Instant, offer: &str) -> (PeerId, String) {
        let offer = SdpOffer::from_sdp_string(offer).unwrap();
        let mut rtc = self.config.clone().build(now);
        rtc.add_local_candidate(Candidate::host(self.local, Protocol::Udp).unwrap());
        let answer = rtc.sdp_api().accept_offer(offer).unwrap().to_sdp_string();
        let mid = answer
            .lines()
            .find_map(|l| l.trim_end().strip_prefix("a=mid:"))
            .map(Mid::from)
            .unwrap();
        let i = self.peers.len();
        self.peers.push(BarePeer {
            rtc,
            mid,
            partner: None,
            scheduled: None,
        });
        self.drain(i);
        (PeerId::from_raw(i as u64 + 1), answer)
    }

    /// `a` and `b` hear each other from now on.
    pub fn pair(&mut self, a: PeerId, b: PeerId) {
        let (a, b) = (index(a), index(b));
        self.peers[a].partner = Some(b);
        self.peers[b].partner = Some(a);
    }

    pub fn frames_forwarded(&self) -> u64 {
        self.forwarded
    }

    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, datagram: &[u8]) {
        let Ok(receive) = Receive::new(Protocol::Udp, source, self.local, datagram) else {
            return;
        };
        let input = Input::Receive(now, receive);
        let i = match self.by_addr.get(&source) {
            Some(&i) if self.peers[i].rtc.accepts(&input) => i,
            _ => {
                let Some(i) = self.peers.iter().position(|p| p.rtc.accepts(&input)) else {
                    return;
                };
                self.by_addr.insert(source, i);
                i
            }
        };
        let _ = self.peers[i].rtc.handle_input(input);
        self.drain(i);
        let Some(to) = self.peers[i].partner else {
            self.out.packets.clear();
            return;
        };
        let mut packets = std::mem::take(&mut self.out.packets);
        for p in packets.drain(..) {
            let peer = &mut self.peers[to];
            if let Some(tx) = peer.rtc.direct_api().stream_tx_by_mid(peer.mid, None) {
                let write = RtpWrite::new(
                    p.header.payload_type,
                    p.seq_no,
                    p.header.timestamp,
                    now,
                    p.payload,
                )
                .marker(p.header.marker);
                tx.write_rtp(write);
                self.forwarded += 1;
            }
            let _ = peer.rtc.handle_input(Input::Timeout(now));
            self.drain(to);
        }
        self.out.packets = packets;
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, i)) = self.schedule.first() {
            if at > now {
                break;
            }
            self.schedule.pop_first();
            self.peers[i].scheduled = None;
            let _ = self.peers[i].rtc.handle_input(Input::Timeout(now));
            self.drain(i);
        }
        self.out.packets.clear();
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.out.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.first().map(|(at, _)| *at)
    }

    /// Polls peer `i` until str0m names its next timeout, and schedules it.
    fn drain(&mut self, i: usize) {
        let peer = &mut self.peers[i];
        let at = loop {
            match peer.rtc.poll_output() {
                Ok(Output::Timeout(at)) => break Some(at),
                Ok(Output::Transmit(t)) => self.out.transmits.push_back(Transmit {
                    source: t.source,
                    destination: t.destination,
                    contents: t.contents.into(),
                }),
                Ok(Output::Event(Event::RtpPacket(p))) => self.out.packets.push(p),
                Ok(Output::Event(Event::Connected)) => self
                    .out
                    .events
                    .push_back(MediaEvent::PeerConnected(PeerId::from_raw(i as u64 + 1))),
                Ok(Output::Event(_)) => {}
                Err(_) => break None,
            }
        };
        if peer.scheduled != at {
            if let Some(old) = peer.scheduled {
                self.schedule.remove(&(old, i));
            }
            if let Some(at) = at {
                self.schedule.insert((at, i));
            }
            peer.scheduled = at;
        }
    }
}

fn index(peer: PeerId) -> usize {
    usize::try_from(peer.get() - 1).unwrap()
}
