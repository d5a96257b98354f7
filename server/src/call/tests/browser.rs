//! `BrowserCall` in virtual time: the SIP side of a browser's call, with carriers played
//! by messages built with dcx-sip and the browser's side read from its news.

use super::super::browser::{BrowserCall, BrowserNews, BrowserOrigin};
use super::super::events::{CallEvent, HangupSide};
use super::*;
use std::net::IpAddr;

const RTP_IP: [u8; 4] = [192, 0, 2, 10];
const RTP_PORT: u16 = 31_000;
const SDP_C: &[u8] = b"v=0\r\no=c 1 1 IN IP4 192.0.2.21\r\ns=-\r\nc=IN IP4 192.0.2.21\r\nt=0 0\r\nm=audio 7000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

struct Browser {
    call: BrowserCall,
    now: Instant,
}

impl Browser {
    fn dial(route: Result<Routed, crate::call::browser::Refused>) -> (Self, Sent) {
        let t0 = Instant::now();
        let setup = CallSetup {
            local: Local::new(addr("192.0.2.10:5060")),
            timers: Timers::default(),
            clock: WallClock {
                at: t0,
                unix_ms: UNIX_MS,
            },
        };
        let origin = BrowserOrigin {
            account: "demo".into(),
            user: "alice".into(),
            dialled: "15551234567".into(),
        };
        let rtp = Some((IpAddr::from(RTP_IP), RTP_PORT));
        let call = BrowserCall::new(t0, &setup, (0x00c0_ffee_0000_0001, 7), &origin, route, rtp);
        let mut b = Self { call, now: t0 };
        let sent = b.sent();
        (b, sent)
    }

    fn to(targets: Vec<Target>) -> (Self, Sent) {
        Self::dial(Ok(Routed {
            number: "15551234567".into(),
            targets,
            media: None,
        }))
    }

    fn sent(&mut self) -> Sent {
        std::iter::from_fn(|| self.call.poll_transmit()).collect()
    }

    fn news(&mut self) -> Vec<BrowserNews> {
        std::iter::from_fn(|| self.call.poll_news()).collect()
    }

    fn events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.call.poll_event()).collect()
    }

    fn carrier_says(&mut self, from: &str, bytes: &[u8]) -> Sent {
        self.call
            .handle_response(self.now, addr(from), &parse(bytes));
        self.sent()
    }
}

fn two_carriers() -> Vec<Target> {
    vec![
        target("carrier-b", CARRIER_B, FailoverPolicy::default()),
        target("carrier-c", CARRIER_C, FailoverPolicy::default()),
    ]
}

#[test]
fn dcx_offers_its_own_g711_sdp_without_session_timers() {
    let (_, sent) = Browser::to(two_carriers());
    let invite = parse(one(&sent, CARRIER_B, "INVITE"));
    let body = std::str::from_utf8(invite.body()).unwrap();
    assert!(body.contains("c=IN IP4 192.0.2.10"), "{body}");
    assert!(body.contains("m=audio 31000 RTP/AVP 0 8 101"), "{body}");
    assert!(invite.headers_named("Session-Expires").next().is_none());
    assert!(invite.from().unwrap().uri_raw.contains("alice@"));
}

#[test]
fn failover_is_invisible_to_the_browser_until_the_answer() {
    let (mut b, sent) = Browser::to(two_carriers());
    let invite_b = one(&sent, CARRIER_B, "INVITE").to_vec();
    let next = b.carrier_says(CARRIER_B, &reply(&invite_b, 503, &[], None));
    assert!(b.news().is_empty(), "a failover is not news");
    let invite_c = one(&next, CARRIER_C, "INVITE").to_vec();
    assert!(matches!(
        &b.events()[..],
        [CallEvent::AttemptEnded(a)] if a.sip_code == 503 && &*a.route.trunk_out == "carrier-b"
    ));
    b.carrier_says(CARRIER_C, &reply(&invite_c, 183, &[], Some(SDP_C)));
    let ringing = b.news();
    let [BrowserNews::Ringing(Some(early))] = &ringing[..] else {
        panic!("{ringing:?}");
    };
    assert_eq!(early.remote, Some(addr("192.0.2.21:7000")));
    assert_eq!(early.payload_type, 8, "the carrier's law");
    let acked = b.carrier_says(CARRIER_C, &reply(&invite_c, 200, &[], Some(SDP_C)));
    assert!(
        kinds(&acked).iter().any(|(_, k)| k == "ACK"),
        "{:?}",
        kinds(&acked)
    );
    let answered = b.news();
    assert!(
        matches!(&answered[..], [BrowserNews::Answered(n)] if n.dtmf_payload_type == Some(101)),
        "{answered:?}"
    );
}

#[test]
fn the_browser_hanging_up_while_it_rings_cancels_and_writes_a_browser_cdr() {
    let (mut b, sent) = Browser::to(two_carriers());
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    b.carrier_says(CARRIER_B, &reply(&invite, 180, &[], None));
    assert_eq!(b.news(), [BrowserNews::Ringing(None)]);
    b.call.hang_up(b.now, "hangup");
    let sent = b.sent();
    one(&sent, CARRIER_B, "CANCEL");
    let news = b.news();
    assert!(
        matches!(
            &news[..],
            [BrowserNews::Ended {
                sip_code: 487,
                hangup: HangupSide::Caller,
                ..
            }]
        ),
        "{news:?}"
    );
    let events = b.events();
    let Some(CallEvent::CallEnded(call)) = events.last() else {
        panic!("{events:?}");
    };
    assert_eq!(call.parties.origin_leg, crate::cdr::LegKind::Browser);
    assert_eq!(call.parties.trunk_in, "webrtc:demo");
    assert_eq!(call.parties.caller, "alice");
    // The carrier's 487 ends the INVITE; nothing is news any more.
    b.carrier_says(CARRIER_B, &reply(&invite, 487, &[], None));
    assert!(b.news().is_empty());
}

#[test]
fn a_bye_from_the_carrier_is_answered_and_ends_the_call() {
    let (mut b, sent) = Browser::to(two_carriers());
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    b.carrier_says(CARRIER_B, &reply(&invite, 200, &[], Some(SDP_B)));
    b.news();
    let ours = parse(&invite);
    let mut bye = Vec::new();
    RequestBuilder::new(Method::Bye, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: CARRIER_B,
            branch: "z9hG4bK-carrier-bye",
            rport: false,
        })
        .from("<sip:15551234567@192.0.2.20>", "carrier-tag")
        .to("<sip:alice@192.0.2.10>", ours.from().unwrap().tag())
        .call_id(ours.call_id().unwrap())
        .cseq(7)
        .write_to(&mut bye)
        .unwrap();
    b.call.handle_request(b.now, addr(CARRIER_B), &parse(&bye));
    let sent = b.sent();
    one(&sent, CARRIER_B, "200 BYE");
    let news = b.news();
    assert!(
        matches!(
            &news[..],
            [BrowserNews::Ended {
                sip_code: 200,
                hangup: HangupSide::Callee,
                ..
            }]
        ),
        "{news:?}"
    );
}

#[test]
fn a_blocked_destination_ends_at_once_without_a_sip_leg() {
    let blocked = RouteError::Blocked {
        number: "19005550100".into(),
        prefix: "1900".into(),
        reason: "US premium rate".into(),
    };
    let (mut b, sent) = Browser::dial(Err(crate::call::browser::Refused::route(&blocked)));
    assert!(sent.is_empty(), "{:?}", kinds(&sent));
    let news = b.news();
    let [BrowserNews::Ended {
        sip_code: 403,
        reason,
        refusal: Some("destination_blocked"),
        ..
    }] = &news[..]
    else {
        panic!("{news:?}");
    };
    assert!(reason.contains("US premium rate"), "{reason}");
    assert!(b.call.is_over());
}

#[test]
fn hold_and_resume_are_reinvites_with_our_offer_one_at_a_time() {
    let (mut b, sent) = Browser::to(two_carriers());
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    b.carrier_says(CARRIER_B, &reply(&invite, 200, &[], Some(SDP_B)));
    b.news();
    b.call.hold(b.now, true);
    // A resume while the hold is pending waits for its answer.
    b.call.hold(b.now, false);
    let sent = b.sent();
    let hold = one(&sent, "192.0.2.20:5070", "INVITE").to_vec();
    let m = parse(&hold);
    let body = std::str::from_utf8(m.body()).unwrap();
    assert!(body.contains("a=sendonly"), "{body}");
    assert!(body.contains(" 2 IN IP4"), "o= version goes up: {body}");
    assert_eq!(m.cseq().unwrap().seq, 2);
    assert_eq!(m.call_id().unwrap(), parse(&invite).call_id().unwrap());
    let answered = b.carrier_says("192.0.2.20:5070", &reply(&hold, 200, &[], Some(SDP_B)));
    // The 2xx is ACKed, and the resume goes out now.
    one(&answered, "192.0.2.20:5070", "ACK");
    let resume = parse(one(&answered, "192.0.2.20:5070", "INVITE"));
    let body = std::str::from_utf8(resume.body()).unwrap();
    assert!(
        body.contains("a=sendrecv") && body.contains(" 3 IN IP4"),
        "{body}"
    );
    assert!(b.news().is_empty(), "hold is not news for the browser");
}
