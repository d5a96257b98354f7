//! The carrier's new offers on a leg dcx terminates, in virtual time: hold answered
//! `recvonly` at the same port with the version one up, resume, a retransmitted
//! re-INVITE getting the same 2xx, resends until the ACK, refresh without SDP (UPDATE
//! and re-INVITE), and an offer with no common codec refused while the session stays.

use super::{ReofferSetup, Reoffers};
use crate::call::origin::InCallRequests;
use dcx_sip::sdp::{AudioCapabilities, Codec, Direction};
use dcx_sip::transaction::{Reliability, Timers};
use dcx_sip::{Message, Method, RequestBuilder, ViaSpec};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const CARRIER: &str = "192.0.2.20:5060";

fn carrier() -> SocketAddr {
    CARRIER.parse().unwrap()
}

fn caps() -> AudioCapabilities {
    AudioCapabilities {
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        telephone_event: true,
        telephone_event_pt: 101,
        ptime_ms: 20,
        address: "192.0.2.10".parse().unwrap(),
        port: 31_000,
        session_id: 77,
        session_version: 1,
    }
}

fn offer(direction: &str, codecs: &str) -> Vec<u8> {
    let events = if codecs.contains("101") {
        "a=rtpmap:101 telephone-event/8000\r\n"
    } else {
        ""
    };
    format!(
        "v=0\r\no=carrier 5 6 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP {codecs}\r\n{events}a={direction}\r\n"
    )
    .into_bytes()
}

fn request(method: Method, branch: &str, cseq: u32, body: Option<&[u8]>) -> Vec<u8> {
    let mut b = RequestBuilder::new(method, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: CARRIER,
            branch,
            rport: false,
        })
        .from("<sip:carrier@192.0.2.20>", "carrier-tag")
        .to("<sip:15550100@192.0.2.10>", Some("dcx-tag"))
        .call_id("call@192.0.2.20")
        .cseq(cseq)
        .contact("<sip:carrier@192.0.2.20:5060>");
    if let Some(body) = body {
        b = b.body("application/sdp", body);
    }
    let mut out = Vec::new();
    b.write_to(&mut out).unwrap();
    out
}

struct Leg {
    reoffers: Reoffers,
    requests: InCallRequests,
    caps: AudioCapabilities,
    sdp: Vec<u8>,
    now: Instant,
}

impl Leg {
    fn new() -> Self {
        let setup = ReofferSetup {
            local_tag: "dcx-tag".into(),
            contact: "<sip:dcx@192.0.2.10:5060>".into(),
            timers: Timers::default(),
            reliability: Reliability::Unreliable,
        };
        let caps = caps();
        let sdp = caps.offer().write().into_bytes();
        Self {
            reoffers: Reoffers::new(setup),
            requests: InCallRequests::default(),
            caps,
            sdp,
            now: Instant::now(),
        }
    }

    /// The carrier sends `bytes`; what dcx sends back, and the new negotiation.
    fn carrier_says(&mut self, bytes: &[u8]) -> (Vec<Vec<u8>>, Option<dcx_sip::sdp::Negotiated>) {
        let msg = Message::parse_datagram(bytes).unwrap();
        let negotiated = if msg.method() == Some(Method::Ack) {
            self.reoffers.handle_ack(&msg);
            None
        } else {
            let (requests, caps, sdp) = (&mut self.requests, &mut self.caps, &mut self.sdp);
            self.reoffers
                .handle(self.now, (carrier(), &msg), requests, caps, sdp)
        };
        (self.sent(), negotiated)
    }

    fn advance(&mut self, d: Duration) -> Vec<Vec<u8>> {
        self.now += d;
        self.reoffers.handle_timeout(self.now);
        self.requests.handle_timeout(self.now);
        self.sent()
    }

    fn sent(&mut self) -> Vec<Vec<u8>> {
        let mut out = VecDeque::new();
        self.reoffers.transmit(&mut out);
        self.requests.transmit(&mut out);
        out.into_iter()
            .map(|(to, b)| {
                assert_eq!(to, carrier());
                b
            })
            .collect()
    }
}

fn status_and_body(bytes: &[u8]) -> (u16, String) {
    let m = Message::parse_datagram(bytes).unwrap();
    (
        m.status_code().unwrap(),
        String::from_utf8_lossy(m.body()).into_owned(),
    )
}

#[test]
fn a_carriers_hold_is_answered_recvonly_and_its_resume_sendrecv() {
    let mut leg = Leg::new();
    let hold = request(
        Method::Invite,
        "z9hG4bK-h1",
        2,
        Some(&offer("sendonly", "8 0 101")),
    );
    let (sent, negotiated) = leg.carrier_says(&hold);
    assert_eq!(sent.len(), 1);
    let (code, body) = status_and_body(&sent[0]);
    assert_eq!(code, 200);
    assert!(body.contains("a=recvonly"), "{body}");
    assert!(body.contains("m=audio 31000 "), "same port: {body}");
    assert!(
        body.contains("o=- 77 2 IN IP4") || body.contains(" 77 2 IN IP4"),
        "{body}"
    );
    let n = negotiated.expect("a new negotiation for the media");
    assert_eq!((n.codec, n.direction), (Codec::Pcma, Direction::RecvOnly));
    assert_eq!(n.remote, Some("192.0.2.20:40000".parse().unwrap()));

    // The re-INVITE again (our 2xx was lost): the same 2xx, no new negotiation.
    let (again, negotiated) = leg.carrier_says(&hold);
    assert_eq!(again, sent);
    assert!(negotiated.is_none());
    // Resent on T1 until the ACK, then never again.
    assert_eq!(leg.advance(Duration::from_millis(500)), sent);
    let ack = request(Method::Ack, "z9hG4bK-a1", 2, None);
    leg.carrier_says(&ack);
    assert!(leg.advance(Duration::from_secs(10)).is_empty());

    let resume = request(
        Method::Invite,
        "z9hG4bK-h2",
        3,
        Some(&offer("sendrecv", "0 101")),
    );
    let (sent, negotiated) = leg.carrier_says(&resume);
    let (code, body) = status_and_body(&sent[0]);
    assert_eq!(code, 200);
    assert!(
        body.contains("a=sendrecv") && body.contains(" 77 3 IN IP4"),
        "{body}"
    );
    let n = negotiated.unwrap();
    assert_eq!(
        (n.codec, n.direction, n.dtmf_payload_type),
        (Codec::Pcmu, Direction::SendRecv, Some(101))
    );
}

#[test]
fn refreshes_without_sdp_keep_the_session() {
    let mut leg = Leg::new();
    let (sent, negotiated) = leg.carrier_says(&request(Method::Update, "z9hG4bK-u1", 2, None));
    assert!(negotiated.is_none());
    let (code, body) = status_and_body(&sent[0]);
    assert_eq!((code, body.as_str()), (200, ""));
    // A re-INVITE without an offer: our last SDP, its version one up, as the offer.
    let (sent, negotiated) = leg.carrier_says(&request(Method::Invite, "z9hG4bK-r1", 3, None));
    assert!(negotiated.is_none());
    let (code, body) = status_and_body(&sent[0]);
    assert_eq!(code, 200);
    assert!(
        body.contains(" 77 2 IN IP4") && body.contains("m=audio 31000 "),
        "{body}"
    );
    assert_eq!(leg.caps.session_version, 2);
}

#[test]
fn an_offer_without_a_common_codec_is_refused_and_changes_nothing() {
    let mut leg = Leg::new();
    let g729 = request(
        Method::Invite,
        "z9hG4bK-g1",
        2,
        Some(&offer("sendrecv", "18")),
    );
    let (sent, negotiated) = leg.carrier_says(&g729);
    assert!(negotiated.is_none());
    assert_eq!(status_and_body(&sent[0]).0, 488);
    assert_eq!(leg.caps.session_version, 1, "no SDP went out");
    // Its retransmission gets the same answer, from the server transaction.
    let msg = Message::parse_datagram(&g729).unwrap();
    assert!(leg.requests.absorb(&msg));
    // A body with no audio stream in it: nothing to answer either.
    let garbage = request(Method::Invite, "z9hG4bK-g2", 3, Some(b"not sdp"));
    let (sent, negotiated) = leg.carrier_says(&garbage);
    assert!(negotiated.is_none());
    assert!(matches!(status_and_body(&sent[0]).0, 400 | 488), "{sent:?}");
    assert_eq!(leg.caps.session_version, 1);
}
