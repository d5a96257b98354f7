//! `TransitCall` in virtual time: every message in and out is built or read with
//! dcx-sip, the clock is an `Instant` the test advances, and nothing touches a socket.

use super::attempts::Target;
use super::events::{AttemptEnd, CallEvent, HangupSide, Rated, WallClock};
use super::legs::Local;
use super::{CallSetup, Routed, TransitCall};
use dcx_routing::{FailoverPolicy, RouteError, Tariff};
use dcx_sip::builder::default_reason;
use dcx_sip::transaction::Timers;
use dcx_sip::{response_to, Message, Method, RequestBuilder, ViaSpec};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ORIGIN: &str = "192.0.2.1:5060";
const CARRIER_B: &str = "192.0.2.20:5060";
const CARRIER_C: &str = "192.0.2.21:5060";
const SDP_A: &[u8] = b"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
const SDP_B: &[u8] = b"v=0\r\no=b 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
const UNIX_MS: i64 = 1_700_000_000_000;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn parse(bytes: &[u8]) -> Message<'_> {
    Message::parse_datagram(bytes).unwrap()
}

/// `INVITE`, `200 INVITE`, `487 INVITE`, ...
fn what(bytes: &[u8]) -> String {
    let m = parse(bytes);
    match m.method() {
        Some(method) => method.as_str().to_owned(),
        None => format!(
            "{} {}",
            m.status_code().unwrap(),
            m.cseq().unwrap().method.as_str()
        ),
    }
}

fn target(carrier: &str, at: &str, policy: FailoverPolicy) -> Target {
    Target {
        route: Rated {
            trunk_out: Arc::from(carrier),
            prefix: "1555".into(),
            rate_nano: 10_000_000,
            tariff: Tariff::default(),
        },
        addr: addr(at),
        failover: Arc::new(policy),
        credentials: None,
        transport: super::legs::Transport::Udp,
    }
}

fn origin_invite() -> Vec<u8> {
    let mut out = Vec::new();
    RequestBuilder::new(Method::Invite, "sip:15551234567@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: ORIGIN,
            branch: "z9hG4bK-origin-1",
            rport: false,
        })
        .max_forwards(10)
        .from("\"Alice\" <sip:alice@192.0.2.1>", "alice-tag")
        .to("<sip:15551234567@192.0.2.10>", None)
        .call_id("origin-call@192.0.2.1")
        .cseq(1)
        .contact("<sip:alice@192.0.2.1:5060>")
        .body("application/sdp", SDP_A)
        .write_to(&mut out)
        .unwrap();
    out
}

/// A request from the origin inside its call: `to_tag` is ours from a response.
fn origin_request(method: Method<'_>, branch: &str, cseq: u32, to_tag: Option<&str>) -> Vec<u8> {
    let mut out = Vec::new();
    RequestBuilder::new(method, "sip:15551234567@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: ORIGIN,
            branch,
            rport: false,
        })
        .from("\"Alice\" <sip:alice@192.0.2.1>", "alice-tag")
        .to("<sip:15551234567@192.0.2.10>", to_tag)
        .call_id("origin-call@192.0.2.1")
        .cseq(cseq)
        .write_to(&mut out)
        .unwrap();
    out
}

/// A carrier's response to `req` (our INVITE, CANCEL or BYE).
fn reply(req: &[u8], code: u16, extra: &[(&str, &[u8])], body: Option<&[u8]>) -> Vec<u8> {
    let m = parse(req);
    let mut r = response_to(
        &m,
        code,
        default_reason(code).as_bytes(),
        Some("carrier-tag"),
    )
    .unwrap();
    if m.method() == Some(Method::Invite) && (101..300).contains(&code) {
        r = r.contact("<sip:callee@192.0.2.20:5070>").unwrap();
    }
    for (name, value) in extra {
        r = r.header(name, value);
    }
    if let Some(b) = body {
        r = r.body("application/sdp", b);
    }
    let mut out = Vec::new();
    r.write_to(&mut out).unwrap();
    out
}

struct Run {
    call: TransitCall,
    now: Instant,
    t0: Instant,
}

type Sent = Vec<(SocketAddr, Vec<u8>)>;

impl Run {
    fn start(targets: Vec<Target>) -> (Self, Sent) {
        Self::start_with(Ok(Routed {
            number: "15551234567".into(),
            targets,
            media: None,
        }))
    }

    fn start_with(route: Result<Routed, RouteError>) -> (Self, Sent) {
        Self::start_from(&origin_invite(), route)
    }

    fn start_from(invite: &[u8], route: Result<Routed, RouteError>) -> (Self, Sent) {
        let t0 = Instant::now();
        let setup = CallSetup {
            local: Local::new(addr("192.0.2.10:5060")),
            timers: Timers::default(),
            clock: WallClock {
                at: t0,
                unix_ms: UNIX_MS,
            },
        };
        let call = TransitCall::new(
            t0,
            &setup,
            (0x0123_4567_89ab_cdef, 99),
            (&parse(invite), addr(ORIGIN), "origin-a"),
            route,
        )
        .unwrap();
        let mut run = Self { call, now: t0, t0 };
        let sent = run.sent();
        (run, sent)
    }

    fn sent(&mut self) -> Sent {
        std::iter::from_fn(|| self.call.poll_transmit()).collect()
    }

    fn events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.call.poll_event()).collect()
    }

    fn carrier_says(&mut self, bytes: &[u8]) -> Sent {
        self.call
            .handle_response(self.now, addr(CARRIER_B), &parse(bytes));
        self.sent()
    }

    fn origin_says(&mut self, bytes: &[u8]) -> Sent {
        self.call
            .handle_request(self.now, addr(ORIGIN), &parse(bytes));
        self.sent()
    }

    fn carrier_asks(&mut self, bytes: &[u8]) -> Sent {
        self.call
            .handle_request(self.now, addr(CARRIER_B), &parse(bytes));
        self.sent()
    }

    /// Runs every deadline up to `now + d`.
    fn advance(&mut self, d: Duration) -> Sent {
        let until = self.now + d;
        let mut sent = Vec::new();
        while let Some(at) = self.call.poll_timeout().filter(|&at| at <= until) {
            self.now = self.now.max(at);
            self.call.handle_timeout(self.now);
            sent.extend(self.sent());
        }
        self.now = until;
        sent
    }

    fn ms(&self) -> i64 {
        UNIX_MS + (self.now - self.t0).as_millis() as i64
    }
}

fn kinds(sent: &Sent) -> Vec<(SocketAddr, String)> {
    sent.iter().map(|(to, b)| (*to, what(b))).collect()
}

fn one<'s>(sent: &'s Sent, to: &str, kind: &str) -> &'s [u8] {
    let found: Vec<_> = sent
        .iter()
        .filter(|(a, b)| *a == addr(to) && what(b) == kind)
        .collect();
    assert_eq!(found.len(), 1, "one {kind} to {to} in {:?}", kinds(sent));
    &found[0].1
}

#[test]
#[allow(clippy::too_many_lines, reason = "one call's whole story, in order")]
fn plain_call_is_relayed_and_bridged_until_the_caller_hangs_up() {
    let (mut run, sent) = Run::start(vec![target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    )]);
    assert_eq!(
        kinds(&sent),
        [
            (addr(ORIGIN), "100 INVITE".into()),
            (addr(CARRIER_B), "INVITE".into())
        ]
    );
    let invite = sent[1].1.clone();
    let out = parse(&invite);
    assert_eq!(
        out.request_line().unwrap().uri,
        "sip:15551234567@192.0.2.20:5060"
    );
    assert_eq!(out.max_forwards(), Ok(Some(9)), "decremented");
    assert_ne!(
        out.call_id().unwrap(),
        "origin-call@192.0.2.1",
        "a new Call-ID"
    );
    assert_eq!(out.from().unwrap().tag(), Some("0123456789abcdefc"));
    assert_eq!(
        out.from().unwrap().uri_raw,
        "sip:alice@192.0.2.1",
        "the caller passes through"
    );
    assert_eq!(out.top_via().unwrap().host_raw, "192.0.2.10");
    assert!(out
        .top_via()
        .unwrap()
        .branch()
        .unwrap()
        .starts_with("z9hG4bK0123456789abcdef."));
    assert_eq!(out.body(), SDP_A, "the offer passes through");

    // 180 with SDP: early media reaches the origin with our tag and Contact.
    let early = run.carrier_says(&reply(&invite, 183, &[], Some(SDP_B)));
    let r = parse(one(&early, ORIGIN, "183 INVITE"));
    assert_eq!(r.to().unwrap().tag(), Some("0123456789abcdefo"));
    assert_eq!(r.body(), SDP_B);
    assert!(r.contacts().next().is_some());

    run.advance(Duration::from_millis(1500));
    let answered = run.carrier_says(&reply(&invite, 200, &[], Some(SDP_B)));
    let ack = parse(one(&answered, "192.0.2.20:5070", "ACK"));
    assert_eq!(
        ack.request_line().unwrap().uri,
        "sip:callee@192.0.2.20:5070",
        "to the Contact"
    );
    assert_eq!(ack.to().unwrap().tag(), Some("carrier-tag"));
    assert_ne!(
        ack.top_via().unwrap().branch(),
        out.top_via().unwrap().branch(),
        "a new transaction"
    );
    let ok = parse(one(&answered, ORIGIN, "200 INVITE"));
    assert_eq!(ok.to().unwrap().tag(), Some("0123456789abcdefo"));
    assert_eq!(ok.body(), SDP_B);
    let answered_ms = run.ms();

    // The 2xx is resent until the origin's ACK; a retransmitted carrier 2xx is re-ACKed.
    let resent = run.advance(Duration::from_millis(600));
    assert_eq!(kinds(&resent), [(addr(ORIGIN), "200 INVITE".into())]);
    let reack = run.carrier_says(&reply(&invite, 200, &[], Some(SDP_B)));
    assert_eq!(kinds(&reack), [(addr("192.0.2.20:5070"), "ACK".into())]);
    let acked = run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-2",
        1,
        Some("0123456789abcdefo"),
    ));
    assert!(acked.is_empty());
    assert!(
        run.advance(Duration::from_secs(10)).is_empty(),
        "no more 2xx after the ACK"
    );
    assert!(run.events().is_empty());

    let bye = run.origin_says(&origin_request(
        Method::Bye,
        "z9hG4bK-origin-3",
        2,
        Some("0123456789abcdefo"),
    ));
    one(&bye, ORIGIN, "200 BYE");
    let carrier_bye = one(&bye, "192.0.2.20:5070", "BYE").to_vec();
    let b = parse(&carrier_bye);
    assert_eq!(b.cseq().unwrap().seq, 2);
    assert_eq!(b.call_id(), out.call_id());
    let events = run.events();
    let [CallEvent::AttemptEnded(a), CallEvent::CallEnded(c)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (a.attempt, a.end, a.sip_code),
        (1, AttemptEnd::Answered, 200)
    );
    assert_eq!(&*a.route.trunk_out, "carrier-b");
    assert_eq!(
        (c.sip_code, c.hangup, c.attempts),
        (200, HangupSide::Caller, 1)
    );
    assert_eq!(c.parties.caller, "sip:alice@192.0.2.1");
    assert_eq!(
        (c.parties.callee.as_str(), c.parties.trunk_in.as_str()),
        ("15551234567", "origin-a")
    );
    assert_eq!(c.times.start_ms, UNIX_MS);
    assert_eq!(c.times.first_ring_ms, Some(UNIX_MS));
    assert_eq!(c.times.answer_ms, Some(answered_ms));
    assert_eq!(c.times.end_ms - answered_ms, 10_600);

    // A retransmitted BYE is answered again; the carrier's 200 ends its BYE; then the
    // call drains its transactions and is over.
    let again = run.origin_says(&origin_request(
        Method::Bye,
        "z9hG4bK-origin-3",
        2,
        Some("0123456789abcdefo"),
    ));
    assert_eq!(kinds(&again), [(addr(ORIGIN), "200 BYE".into())]);
    assert!(run
        .carrier_says(&reply(&carrier_bye, 200, &[], None))
        .is_empty());
    assert!(!run.call.is_over());
    run.advance(Duration::from_secs(40));
    assert!(run.call.is_over());
}

#[test]
fn a_retryable_failure_moves_to_the_next_carrier_unseen_by_the_origin() {
    let (mut run, sent) = Run::start(vec![
        target("carrier-b", CARRIER_B, FailoverPolicy::default()),
        target("carrier-c", CARRIER_C, FailoverPolicy::default()),
    ]);
    let first = one(&sent, CARRIER_B, "INVITE").to_vec();
    let failed = run.carrier_says(&reply(&first, 503, &[], None));
    let ack = parse(one(&failed, CARRIER_B, "ACK"));
    assert_eq!(
        ack.top_via().unwrap().branch(),
        parse(&first).top_via().unwrap().branch()
    );
    let second = parse(one(&failed, CARRIER_C, "INVITE")).as_bytes().to_vec();
    assert!(
        !failed.iter().any(|(a, _)| *a == addr(ORIGIN)),
        "the origin sees nothing"
    );
    assert_ne!(parse(&second).call_id(), parse(&first).call_id());
    let events = run.events();
    let [CallEvent::AttemptEnded(a)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (a.attempt, a.end, a.sip_code),
        (1, AttemptEnd::Rejected, 503)
    );

    // The first carrier's 503 retransmitted: ACKed again by its transaction, no new call.
    let again = run.carrier_says(&reply(&first, 503, &[], None));
    assert_eq!(kinds(&again), [(addr(CARRIER_B), "ACK".into())]);

    let answered = run.carrier_says(&reply(&second, 200, &[], Some(SDP_B)));
    one(&answered, ORIGIN, "200 INVITE");
    assert!(
        run.events().is_empty(),
        "the answered attempt ends with the call"
    );
}

#[test]
fn a_final_or_last_failure_goes_back_to_the_origin_with_its_code() {
    // 486 is the callee's will: never retried.
    let (mut run, sent) = Run::start(vec![
        target("carrier-b", CARRIER_B, FailoverPolicy::default()),
        target("carrier-c", CARRIER_C, FailoverPolicy::default()),
    ]);
    let busy = run.carrier_says(&reply(one(&sent, CARRIER_B, "INVITE"), 486, &[], None));
    one(&busy, ORIGIN, "486 INVITE");
    assert!(!busy.iter().any(|(a, _)| *a == addr(CARRIER_C)));
    let events = run.events();
    let [CallEvent::AttemptEnded(_), CallEvent::CallEnded(c)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((c.sip_code, c.hangup), (486, HangupSide::Callee));
    // The origin's ACK for the 486 completes its transaction.
    run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-1",
        1,
        Some("0123456789abcdefo"),
    ));
    run.advance(Duration::from_secs(40));
    assert!(run.call.is_over());

    // Both carriers out of service: the last 503 is passed through.
    let (mut run, sent) = Run::start(vec![
        target("carrier-b", CARRIER_B, FailoverPolicy::default()),
        target("carrier-c", CARRIER_C, FailoverPolicy::default()),
    ]);
    let next = run.carrier_says(&reply(one(&sent, CARRIER_B, "INVITE"), 503, &[], None));
    let last = run.carrier_says(&reply(one(&next, CARRIER_C, "INVITE"), 502, &[], None));
    one(&last, ORIGIN, "502 INVITE");
}

#[test]
fn a_silent_carrier_times_out_and_the_next_is_tried() {
    let policy = FailoverPolicy {
        pdd_timeout_ms: 0,
        ..FailoverPolicy::default()
    };
    let (mut run, sent) = Run::start(vec![
        target("carrier-b", CARRIER_B, policy.clone()),
        target("carrier-c", CARRIER_C, policy),
    ]);
    one(&sent, CARRIER_B, "INVITE");
    let sent = run.advance(Duration::from_millis(31_900));
    assert!(
        sent.iter()
            .all(|(a, b)| *a == addr(CARRIER_B) && what(b) == "INVITE"),
        "timer A resends"
    );
    assert_eq!(sent.len(), 6, "at 0.5, 1.5, 3.5, 7.5, 15.5 and 31.5 s");
    let sent = run.advance(Duration::from_millis(100));
    one(&sent, CARRIER_C, "INVITE");
    let events = run.events();
    let [CallEvent::AttemptEnded(a)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((a.end, a.sip_code), (AttemptEnd::Timeout, 408));
}

#[test]
fn no_ringing_within_the_post_dial_delay_cancels_and_moves_on() {
    let pdd = FailoverPolicy {
        pdd_timeout_ms: 3_000,
        ..FailoverPolicy::default()
    };
    let (mut run, sent) = Run::start(vec![
        target("carrier-b", CARRIER_B, pdd.clone()),
        target("carrier-c", CARRIER_C, pdd),
    ]);
    let first = one(&sent, CARRIER_B, "INVITE").to_vec();
    assert!(
        run.carrier_says(&reply(&first, 100, &[], None)).is_empty(),
        "100 is not relayed"
    );
    assert!(run.advance(Duration::from_millis(2_999)).is_empty());
    let sent = run.advance(Duration::from_millis(1));
    let cancel = parse(one(&sent, CARRIER_B, "CANCEL"));
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        parse(&first).top_via().unwrap().branch()
    );
    assert_eq!(
        cancel.request_line().unwrap().uri,
        parse(&first).request_line().unwrap().uri
    );
    let second = one(&sent, CARRIER_C, "INVITE").to_vec();
    let events = run.events();
    let [CallEvent::AttemptEnded(a)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((a.end, a.sip_code), (AttemptEnd::PostDialDelay, 487));

    // The first carrier confirms: 200 to the CANCEL, 487 to the INVITE (ACKed), unseen.
    assert!(run
        .carrier_says(&reply(cancel.as_bytes(), 200, &[], None))
        .is_empty());
    let ended = run.carrier_says(&reply(&first, 487, &[], None));
    assert_eq!(kinds(&ended), [(addr(CARRIER_B), "ACK".into())]);

    // The last candidate rings late: it is left ringing (nothing better is left).
    assert!(run
        .advance(Duration::from_secs(5))
        .iter()
        .all(|(a, _)| *a == addr(CARRIER_C)));
    run.carrier_says(&reply(&second, 180, &[], None));
    let answered = run.carrier_says(&reply(&second, 200, &[], Some(SDP_B)));
    one(&answered, ORIGIN, "200 INVITE");
}

#[test]
fn a_late_answer_from_an_abandoned_carrier_is_acked_and_hung_up() {
    let pdd = FailoverPolicy {
        pdd_timeout_ms: 1_000,
        ..FailoverPolicy::default()
    };
    let (mut run, sent) = Run::start(vec![
        target("carrier-b", CARRIER_B, pdd.clone()),
        target("carrier-c", CARRIER_C, pdd),
    ]);
    let first = one(&sent, CARRIER_B, "INVITE").to_vec();
    run.carrier_says(&reply(&first, 100, &[], None));
    run.advance(Duration::from_secs(1));
    let late = run.carrier_says(&reply(&first, 200, &[], Some(SDP_B)));
    one(&late, "192.0.2.20:5070", "ACK");
    one(&late, "192.0.2.20:5070", "BYE");
    assert!(!late.iter().any(|(a, _)| *a == addr(ORIGIN)));
}

#[test]
fn cancel_from_the_origin_cancels_the_carrier_and_ends_with_487() {
    let (mut run, sent) = Run::start(vec![
        target("carrier-b", CARRIER_B, FailoverPolicy::default()),
        target("carrier-c", CARRIER_C, FailoverPolicy::default()),
    ]);
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    run.carrier_says(&reply(&invite, 180, &[], None));
    run.advance(Duration::from_secs(2));
    let cancelled = run.origin_says(&origin_request(Method::Cancel, "z9hG4bK-origin-1", 1, None));
    assert_eq!(
        kinds(&cancelled),
        [
            (addr(ORIGIN), "200 CANCEL".into()),
            (addr(ORIGIN), "487 INVITE".into()),
            (addr(CARRIER_B), "CANCEL".into()),
        ]
    );
    let events = run.events();
    let [CallEvent::AttemptEnded(a), CallEvent::CallEnded(c)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((a.end, a.sip_code), (AttemptEnd::Cancelled, 487));
    assert_eq!(
        (c.sip_code, c.hangup, c.times.first_ring_ms),
        (487, HangupSide::Caller, Some(UNIX_MS))
    );
    let carrier_cancel = one(&cancelled, CARRIER_B, "CANCEL").to_vec();
    assert!(run
        .carrier_says(&reply(&carrier_cancel, 200, &[], None))
        .is_empty());
    let acked = run.carrier_says(&reply(&invite, 487, &[], None));
    assert_eq!(
        kinds(&acked),
        [(addr(CARRIER_B), "ACK".into())],
        "never the next carrier"
    );
    run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-1",
        1,
        Some("0123456789abcdefo"),
    ));
    run.advance(Duration::from_secs(40));
    assert!(run.call.is_over());
}

#[test]
fn bye_from_the_carrier_reaches_the_origin_through_its_dialog() {
    let (mut run, sent) = Run::start(vec![target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    )]);
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    let rr: &[u8] = b"<sip:192.0.2.30:5080;lr>";
    run.carrier_says(&reply(&invite, 180, &[], None));
    let answered = run.carrier_says(&reply(&invite, 200, &[("Record-Route", rr)], Some(SDP_B)));
    let ack = parse(one(&answered, "192.0.2.30:5080", "ACK"));
    assert_eq!(
        ack.routes().next().unwrap().unwrap().uri_raw,
        "sip:192.0.2.30:5080;lr"
    );
    run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-2",
        1,
        Some("0123456789abcdefo"),
    ));

    // The carrier hangs up: To is our From tag, From is its tag, Call-ID is ours.
    let mut bye = Vec::new();
    let ours = parse(&invite);
    RequestBuilder::new(Method::Bye, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: "192.0.2.20:5070",
            branch: "z9hG4bK-carrier-bye",
            rport: false,
        })
        .from("<sip:15551234567@192.0.2.20>", "carrier-tag")
        .to("<sip:alice@192.0.2.1>", ours.from().unwrap().tag())
        .call_id(ours.call_id().unwrap())
        .cseq(7)
        .write_to(&mut bye)
        .unwrap();
    let hung_up = run.carrier_asks(&bye);
    one(&hung_up, CARRIER_B, "200 BYE");
    let to_origin = parse(one(&hung_up, ORIGIN, "BYE"));
    assert_eq!(
        to_origin.request_line().unwrap().uri,
        "sip:alice@192.0.2.1:5060",
        "the origin's Contact"
    );
    assert_eq!(to_origin.call_id(), Ok("origin-call@192.0.2.1"));
    assert_eq!(to_origin.to().unwrap().tag(), Some("alice-tag"));
    assert_eq!(to_origin.from().unwrap().tag(), Some("0123456789abcdefo"));
    let events = run.events();
    let [CallEvent::AttemptEnded(_), CallEvent::CallEnded(c)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((c.sip_code, c.hangup), (200, HangupSide::Callee));

    // A BYE with the wrong tags is not this dialog's.
    let stray = String::from_utf8(bye)
        .unwrap()
        .replace("carrier-tag", "other")
        .replace("carrier-bye", "carrier-bye2");
    let refused = run.carrier_asks(stray.as_bytes());
    one(&refused, CARRIER_B, "481 BYE");
}

#[test]
fn an_answer_the_origin_never_acks_hangs_up_both_sides() {
    let (mut run, sent) = Run::start(vec![target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    )]);
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    run.carrier_says(&reply(&invite, 200, &[], Some(SDP_B)));
    let resent = run.advance(Duration::from_millis(31_999));
    assert_eq!(resent.len(), 10, "the 2xx is resent: {:?}", kinds(&resent));
    assert!(run.events().is_empty());
    let gave_up = run.advance(Duration::from_millis(1));
    one(&gave_up, "192.0.2.20:5070", "BYE");
    one(&gave_up, "192.0.2.1:5060", "BYE");
    let events = run.events();
    let [CallEvent::AttemptEnded(_), CallEvent::CallEnded(c)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((c.sip_code, c.hangup), (200, HangupSide::System));
}

#[test]
fn routing_errors_answer_the_origin_with_their_status() {
    for (err, code) in [
        (
            RouteError::NoRoute {
                number: "999".into(),
            },
            404,
        ),
        (
            RouteError::NoCarrierAvailable {
                number: "1555".into(),
                skipped: vec![],
            },
            503,
        ),
        (
            RouteError::Blocked {
                number: "1900".into(),
                prefix: "1900".into(),
                reason: "premium".into(),
            },
            403,
        ),
    ] {
        let (mut run, sent) = Run::start_with(Err(err));
        assert_eq!(
            kinds(&sent),
            [
                (addr(ORIGIN), "100 INVITE".into()),
                (addr(ORIGIN), format!("{code} INVITE"))
            ]
        );
        let events = run.events();
        let [CallEvent::CallEnded(c)] = &events[..] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (c.sip_code, c.hangup, c.attempts, c.route.is_none()),
            (code, HangupSide::System, 0, true)
        );
    }
    // Routed, but no candidate has a trunk address.
    let (_, sent) = Run::start(vec![]);
    one(&sent, ORIGIN, "503 INVITE");
}

#[test]
fn over_tcp_nothing_is_retransmitted_and_the_legs_say_tcp() {
    let invite = String::from_utf8(origin_invite())
        .unwrap()
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP");
    let mut tcp_target = target("carrier-b", CARRIER_B, FailoverPolicy::default());
    tcp_target.transport = super::legs::Transport::Tcp;
    let (mut run, sent) = Run::start_from(
        invite.as_bytes(),
        Ok(Routed {
            number: "15551234567".into(),
            targets: vec![tcp_target],
            media: None,
        }),
    );
    let out = parse(one(&sent, CARRIER_B, "INVITE"));
    assert_eq!(out.top_via().unwrap().transport, "TCP");
    let out = one(&sent, CARRIER_B, "INVITE").to_vec();
    assert!(
        run.advance(Duration::from_secs(5)).is_empty(),
        "no timer A over TCP"
    );
    let answered = run.carrier_says(&reply(&out, 200, &[], Some(SDP_B)));
    one(&answered, ORIGIN, "200 INVITE");
    assert_eq!(
        parse(one(&answered, "192.0.2.20:5070", "ACK"))
            .top_via()
            .unwrap()
            .transport,
        "TCP"
    );
    assert!(
        run.advance(Duration::from_secs(5)).is_empty(),
        "the 2xx is not resent over TCP"
    );
    // The carrier hangs up: the BYE to the origin rides its connection (the INVITE's
    // source), not its Contact, and says TCP.
    let ours = parse(&out);
    let mut bye = Vec::new();
    RequestBuilder::new(Method::Bye, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "TCP",
            sent_by: "192.0.2.20:5070",
            branch: "z9hG4bK-carrier-bye",
            rport: false,
        })
        .from("<sip:15551234567@192.0.2.20>", "carrier-tag")
        .to("<sip:alice@192.0.2.1>", ours.from().unwrap().tag())
        .call_id(ours.call_id().unwrap())
        .cseq(7)
        .write_to(&mut bye)
        .unwrap();
    let hung_up = run.carrier_asks(&bye);
    let to_origin = parse(one(&hung_up, ORIGIN, "BYE"));
    assert_eq!(to_origin.top_via().unwrap().transport, "TCP");
    let resent = run.advance(Duration::from_secs(5));
    assert!(resent.is_empty(), "{:?}", kinds(&resent));
}

mod auth;
mod browser;
mod late_offer;
mod reinvite;
mod session;
