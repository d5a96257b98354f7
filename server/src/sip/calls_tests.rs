//! The endpoint with transit calls, in virtual time: a real router compiled from a CSV
//! deck, datagrams in, datagrams out; checks that every message finds its call.

use super::*;
use crate::call::legs::Local;
use crate::call::WallClock;
use crate::config::sip::IpNet;
use crate::sip::endpoint::{Endpoint, InboundRule};
use dcx_routing::{NumberPlan, RateTable, RoutingPolicy};
use dcx_sip::builder::default_reason;
use dcx_sip::transaction::Timers;
use dcx_sip::{response_to, Method, RequestBuilder, ViaSpec};
use std::time::Duration;

const ORIGIN: &str = "192.0.2.1:5060";
const CARRIER_B: &str = "198.51.100.20:5060";
const CARRIER_C: &str = "198.51.100.21:5060";
const DECK: &str =
    "prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n44,nowhere,0.01\n";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn endpoint(t0: Instant) -> Endpoint {
    endpoint_with(t0, None)
}

fn endpoint_with(t0: Instant, media: Option<MediaPorts>) -> Endpoint {
    let router = Arc::new(Router::new(
        RateTable::from_csv(DECK).unwrap(),
        NumberPlan::default(),
        vec![],
        RoutingPolicy::default(),
    ));
    Endpoint::new(
        vec![InboundRule {
            net: IpNet::parse("192.0.2.0/24").unwrap(),
            trunk: "origin-a".into(),
        }],
        7,
    )
    .with_transit(Transit {
        router: Box::new(move || router.clone()),
        trunks: [("carrier-b", CARRIER_B), ("carrier-c", CARRIER_C)]
            .into_iter()
            .map(|(n, a)| (n.to_owned(), TrunkOut::at(addr(a))))
            .collect(),
        setup: CallSetup {
            local: Local::new(addr("203.0.113.10:5060")),
            timers: Timers::default(),
            clock: WallClock {
                at: t0,
                unix_ms: 1_700_000_000_000,
            },
        },
        quality: QualityConfig::default(),
        seed: 42,
        media,
        dids: Vec::new(),
        limits: crate::call::limits::Limits::default(),
        refer_trunks: std::collections::HashSet::new(),
    })
}

fn request(method: Method<'_>, number: &str, branch: &str, to_tag: Option<&str>) -> Vec<u8> {
    let uri = format!("sip:{number}@203.0.113.10");
    let mut b = RequestBuilder::new(method, &uri)
        .via(ViaSpec {
            transport: "UDP",
            sent_by: ORIGIN,
            branch,
            rport: false,
        })
        .from("<sip:alice@192.0.2.1>", "alice-tag")
        .to("<sip:dest@203.0.113.10>", to_tag)
        .call_id("origin-call")
        .cseq(if method == Method::Bye { 2 } else { 1 })
        .contact("<sip:alice@192.0.2.1>");
    if method == Method::Invite {
        b = b.body("application/sdp", b"v=0\r\n");
    }
    let mut out = Vec::new();
    b.write_to(&mut out).unwrap();
    out
}

fn reply(req: &[u8], code: u16) -> Vec<u8> {
    let m = Message::parse_datagram(req).unwrap();
    let mut r = response_to(&m, code, default_reason(code).as_bytes(), Some("c-tag")).unwrap();
    if code == 200 && m.method() == Some(Method::Invite) {
        r = r.contact("<sip:callee@198.51.100.21:5060>").unwrap();
    }
    let mut out = Vec::new();
    r.write_to(&mut out).unwrap();
    out
}

fn what(bytes: &[u8]) -> String {
    let m = Message::parse_datagram(bytes).unwrap();
    match m.method() {
        Some(method) => method.as_str().to_owned(),
        None => format!(
            "{} {}",
            m.status_code().unwrap(),
            m.cseq().unwrap().method.as_str()
        ),
    }
}

fn sent(e: &mut Endpoint) -> Vec<(SocketAddr, Vec<u8>)> {
    std::iter::from_fn(|| e.poll_transmit()).collect()
}

fn kinds(s: &[(SocketAddr, Vec<u8>)]) -> Vec<(String, String)> {
    s.iter().map(|(a, b)| (a.to_string(), what(b))).collect()
}

fn pair(to: &str, kind: &str) -> (String, String) {
    (to.to_owned(), kind.to_owned())
}

#[test]
fn every_message_of_a_failed_over_call_finds_it() {
    let t0 = Instant::now();
    let mut e = endpoint(t0);
    let invite = request(Method::Invite, "15551234567", "z9hG4bK-o1", None);
    e.handle_datagram(t0, addr(ORIGIN), &invite);
    let out = sent(&mut e);
    assert_eq!(
        kinds(&out),
        [pair(ORIGIN, "100 INVITE"), pair(CARRIER_B, "INVITE")],
        "cheapest first"
    );
    let to_b = out[1].1.clone();

    // The origin retransmits: its transaction answers, no second call.
    e.handle_datagram(t0, addr(ORIGIN), &invite);
    assert_eq!(kinds(&sent(&mut e)), [pair(ORIGIN, "100 INVITE")]);

    // carrier-b is out of service: its 503 (matched by our branch) moves to carrier-c.
    e.handle_datagram(t0, addr(CARRIER_B), &reply(&to_b, 503));
    let out = sent(&mut e);
    assert_eq!(
        kinds(&out),
        [pair(CARRIER_B, "ACK"), pair(CARRIER_C, "INVITE")]
    );
    let to_c = out[1].1.clone();

    // The origin cancels (matched by its INVITE's branch); carrier-c has said nothing
    // yet, so its CANCEL waits for its first provisional response.
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Cancel, "15551234567", "z9hG4bK-o1", None),
    );
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(ORIGIN, "200 CANCEL"), pair(ORIGIN, "487 INVITE")]
    );
    e.handle_datagram(t0, addr(CARRIER_C), &reply(&to_c, 180));
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(CARRIER_C, "CANCEL")],
        "not relayed: the call is over"
    );
    e.handle_datagram(t0, addr(CARRIER_C), &reply(&to_c, 487));
    assert_eq!(kinds(&sent(&mut e)), [pair(CARRIER_C, "ACK")]);
    // The ACK of the 487 reaches the call by the INVITE's branch.
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Ack, "15551234567", "z9hG4bK-o1", Some("x")),
    );
    assert!(sent(&mut e).is_empty());

    let events: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
    assert_eq!(events.len(), 3, "{events:?}");
    let s = e.stats().calls;
    assert_eq!(
        (s.calls, s.attempts, s.failed, s.failovers, s.live),
        (1, 2, 1, 1, 1)
    );

    // Timers drain the call's transactions; then it is forgotten.
    let mut now = t0;
    while let Some(at) = e.poll_timeout() {
        now = at.max(now);
        e.handle_timeout(now);
        let _ = sent(&mut e);
        assert!(now < t0 + Duration::from_secs(60), "the call never ends");
    }
    assert_eq!(e.stats().calls.live, 0);
}

#[test]
fn a_carrier_hangs_up_from_an_address_no_inbound_rule_names() {
    let t0 = Instant::now();
    let mut e = endpoint(t0);
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Invite, "15551234567", "z9hG4bK-o1", None),
    );
    let to_b = sent(&mut e)[1].1.clone();
    e.handle_datagram(t0, addr(CARRIER_B), &reply(&to_b, 200));
    let out = sent(&mut e);
    let ok = Message::parse_datagram(&out.iter().find(|(a, _)| *a == addr(ORIGIN)).unwrap().1)
        .unwrap()
        .to()
        .unwrap()
        .tag()
        .unwrap()
        .to_owned();
    // The origin's ACK of the 2xx is a new transaction: found by our To tag.
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Ack, "15551234567", "z9hG4bK-o2", Some(&ok)),
    );
    assert!(sent(&mut e).is_empty());
    e.handle_timeout(t0 + Duration::from_secs(1));
    assert!(
        sent(&mut e).is_empty(),
        "no 2xx retransmission after the ACK"
    );

    let ours = Message::parse_datagram(&to_b).unwrap();
    let mut bye = Vec::new();
    RequestBuilder::new(Method::Bye, "sip:dcx@203.0.113.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: CARRIER_B,
            branch: "z9hG4bK-c-bye",
            rport: false,
        })
        .from("<sip:15551234567@198.51.100.20>", "c-tag")
        .to("<sip:alice@192.0.2.1>", ours.from().unwrap().tag())
        .call_id(ours.call_id().unwrap())
        .cseq(1)
        .write_to(&mut bye)
        .unwrap();
    e.handle_datagram(t0, addr(CARRIER_B), &bye);
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(CARRIER_B, "200 BYE"), pair("192.0.2.1:5060", "BYE")]
    );
    assert_eq!(e.stats().forbidden, 0);
    assert_eq!(e.stats().calls.answered, 1);
}

#[test]
fn unroutable_numbers_and_calls_from_carriers_are_refused() {
    let t0 = Instant::now();
    let mut e = endpoint(t0);
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Invite, "4930123", "z9hG4bK-1", None),
    );
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(ORIGIN, "100 INVITE"), pair(ORIGIN, "404 INVITE")]
    );
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Invite, "12ab", "z9hG4bK-2", None),
    );
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(ORIGIN, "100 INVITE"), pair(ORIGIN, "484 INVITE")]
    );
    // The deck names a carrier with no trunk: 503, dcx dials nobody.
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Invite, "4420", "z9hG4bK-3", None),
    );
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(ORIGIN, "100 INVITE"), pair(ORIGIN, "503 INVITE")]
    );
    assert_eq!(e.stats().calls.unroutable, 2);

    // A carrier's address may talk inside calls but never start one.
    let from_carrier = String::from_utf8(request(Method::Invite, "15551234567", "z9hG4bK-4", None))
        .unwrap()
        .replace(ORIGIN, CARRIER_B);
    e.handle_datagram(t0, addr(CARRIER_B), from_carrier.as_bytes());
    assert_eq!(kinds(&sent(&mut e)), [pair(CARRIER_B, "403 INVITE")]);
    assert_eq!(e.stats().forbidden, 1);
    // A BYE or re-INVITE for no dialog of ours: 481.
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Bye, "1555", "z9hG4bK-5", Some("zz")),
    );
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Invite, "1555", "z9hG4bK-6", Some("zz")),
    );
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(ORIGIN, "481 BYE"), pair(ORIGIN, "481 INVITE")]
    );
}

#[test]
fn a_trunk_silent_to_options_is_skipped_until_it_answers_again() {
    use crate::sip::probes::{ProbeTarget, Probes};
    use dcx_sip::trunk::HealthConfig;
    let t0 = Instant::now();
    let health = HealthConfig {
        interval: Duration::from_secs(5),
        down_after: 1,
        up_after: 1,
    };
    let probe = |name: &str, at: &str| ProbeTarget {
        name: name.into(),
        addr: addr(at),
        config: health,
        transport: crate::call::legs::Transport::Udp,
    };
    let probes = Probes::new(
        t0,
        vec![probe("carrier-b", CARRIER_B), probe("carrier-c", CARRIER_C)],
        "203.0.113.10:5060".into(),
        Timers::default(),
        3,
    );
    let mut e = endpoint(t0).with_probes(probes);
    // Both pinged at once; carrier-c answers, carrier-b never does.
    e.handle_timeout(t0);
    let pings = sent(&mut e);
    assert_eq!(
        kinds(&pings),
        [pair(CARRIER_B, "OPTIONS"), pair(CARRIER_C, "OPTIONS")]
    );
    e.handle_datagram(t0, addr(CARRIER_C), &reply(&pings[1].1, 200));
    let until = t0 + Duration::from_secs(33);
    let mut pings_b = 0;
    while let Some(now) = e.poll_timeout().filter(|&at| at <= until) {
        e.handle_timeout(now);
        for (to, bytes) in sent(&mut e) {
            if to == addr(CARRIER_C) {
                e.handle_datagram(now, to, &reply(&bytes, 200));
            } else {
                pings_b += 1;
            }
        }
    }
    assert!(pings_b > 1, "timer E retransmits the ping");
    let trunks = e.stats().trunks;
    assert_eq!(
        trunks.iter().map(|t| t.up).collect::<Vec<_>>(),
        [false, true]
    );
    // A call now goes straight to carrier-c.
    let invite = request(Method::Invite, "15551234567", "z9hG4bK-o2", None);
    e.handle_datagram(until, addr(ORIGIN), &invite);
    assert_eq!(
        kinds(&sent(&mut e)),
        [pair(ORIGIN, "100 INVITE"), pair(CARRIER_C, "INVITE")]
    );
    // carrier-b answers its next ping: up again, the cheapest first again.
    let next = until + Duration::from_secs(1);
    e.handle_timeout(next);
    let ping = sent(&mut e)
        .into_iter()
        .find(|(to, b)| *to == addr(CARRIER_B) && what(b) == "OPTIONS")
        .expect("a new ping to carrier-b");
    e.handle_datagram(next, addr(CARRIER_B), &reply(&ping.1, 200));
    assert!(e.stats().trunks[0].up);
    let invite = request(Method::Invite, "15551234567", "z9hG4bK-o3", None);
    e.handle_datagram(next, addr(ORIGIN), &invite);
    let out = sent(&mut e);
    assert!(
        out.iter()
            .any(|(to, b)| *to == addr(CARRIER_B) && what(b) == "INVITE"),
        "{:?}",
        kinds(&out)
    );
}

const OFFER: &[u8] = b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
const ANSWER: &[u8] = b"v=0\r\no=- 2 2 IN IP4 198.51.100.20\r\ns=-\r\nc=IN IP4 198.51.100.20\r\n\
t=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";

fn audio_of(bytes: &[u8]) -> (Option<std::net::IpAddr>, u16, Vec<String>) {
    let m = Message::parse_datagram(bytes).unwrap();
    let sdp = dcx_sip::sdp::parse(m.body()).unwrap();
    let a = &sdp.media[0];
    (sdp.connection_of(a), a.port, a.formats.clone())
}

#[test]
fn an_anchored_call_points_both_sdps_at_its_ports_and_frees_them_at_the_end() {
    use crate::call::media::{MediaNews, MediaSide};
    let t0 = Instant::now();
    let ip: std::net::IpAddr = "203.0.113.10".parse().unwrap();
    let pool = dcx_sip::rtp::ports::PortPool::new(40_000, 40_003).unwrap();
    let mut e = endpoint_with(t0, Some(MediaPorts { ip, pool }));
    let mut invite = request(Method::Invite, "15551234567", "z9hG4bK-o1", None);
    let body_at = invite.len() - b"v=0\r\n".len();
    invite.truncate(body_at);
    invite.extend_from_slice(OFFER);
    let text = String::from_utf8(invite).unwrap().replace(
        "Content-Length: 5",
        &format!("Content-Length: {}", OFFER.len()),
    );
    let invite = text
        .replace(
            "Content-Length: 5",
            &format!("Content-Length: {}", OFFER.len()),
        )
        .into_bytes();
    e.handle_datagram(t0, addr(ORIGIN), &invite);
    let to_b = sent(&mut e)[1].1.clone();
    assert_eq!(
        audio_of(&to_b),
        (Some(ip), 40_002, vec!["0".into(), "8".into(), "101".into()]),
        "the carrier is offered our carrier-facing port, same codecs plus PCMA"
    );
    let ok = {
        let m = Message::parse_datagram(&to_b).unwrap();
        let r = response_to(&m, 200, b"OK", Some("c-tag"))
            .unwrap()
            .contact("<sip:callee@198.51.100.20:5060>")
            .unwrap()
            .body("application/sdp", ANSWER);
        let mut out = Vec::new();
        r.write_to(&mut out).unwrap();
        out
    };
    e.handle_datagram(t0, addr(CARRIER_B), &ok);
    let out = sent(&mut e);
    let to_origin = out.iter().find(|(a, _)| *a == addr(ORIGIN)).unwrap();
    assert_eq!(audio_of(&to_origin.1), (Some(ip), 40_000, vec!["0".into()]));
    let commands: Vec<_> = std::iter::from_fn(|| e.poll_media()).collect();
    let MediaCommand::Open(token, anchor) = commands[0] else {
        panic!("{commands:?}")
    };
    assert_eq!((anchor.origin_port, anchor.carrier_port), (40_000, 40_002));
    assert_eq!(
        commands[1..],
        [
            MediaCommand::Remote(
                token,
                MediaNews {
                    side: MediaSide::Origin,
                    remote: addr("192.0.2.1:4000"),
                    transcode: None,
                    events: None,
                }
            ),
            MediaCommand::Remote(
                token,
                MediaNews {
                    side: MediaSide::Carrier,
                    remote: addr("198.51.100.20:5000"),
                    transcode: None,
                    events: None,
                }
            ),
        ]
    );
    // The origin hangs up: the relay closes at once, before the transactions drain.
    let our_tag = Message::parse_datagram(&to_origin.1)
        .unwrap()
        .to()
        .unwrap()
        .tag()
        .unwrap()
        .to_owned();
    e.handle_datagram(
        t0,
        addr(ORIGIN),
        &request(Method::Bye, "15551234567", "z9hG4bK-o2", Some(&our_tag)),
    );
    let _ = sent(&mut e);
    assert_eq!(e.poll_media(), Some(MediaCommand::Close(token)));
    // Both pairs rest in quarantine: the next call passes its SDP through unchanged.
    let mut invite2 = text.replace("z9hG4bK-o1", "z9hG4bK-o3").into_bytes();
    invite2 = String::from_utf8(invite2)
        .unwrap()
        .replace("origin-call", "origin-call-2")
        .into_bytes();
    e.handle_datagram(t0, addr(ORIGIN), &invite2);
    let out = sent(&mut e);
    let to_b = &out
        .iter()
        .find(|(a, b)| *a == addr(CARRIER_B) && what(b) == "INVITE")
        .unwrap()
        .1;
    assert_eq!(audio_of(to_b).1, 4000);
    assert_eq!(e.poll_media(), None);
}
