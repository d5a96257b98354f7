//! Re-INVITEs in an answered, media-anchored call: hold and unhold relayed in both
//! directions with the SDP pointed at dcx, refusals passed back, glare answered 491.

use super::super::media::{Anchor, MediaNews, MediaSide};
use super::*;

const DCX_IP: &str = "192.0.2.10";
const CARRIER_CONTACT: &str = "192.0.2.20:5070";

fn anchored() -> (Run, Vec<u8>) {
    let (run, sent) = Run::start_with(Ok(Routed {
        number: "15551234567".into(),
        targets: vec![target("carrier-b", CARRIER_B, FailoverPolicy::default())],
        media: Some(Anchor {
            ip: DCX_IP.parse().unwrap(),
            origin_port: 31000,
            carrier_port: 31002,
        }),
    }));
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    (run, invite)
}

/// An anchored call, answered and acknowledged; the relay's news drained.
fn answered() -> (Run, Vec<u8>) {
    let (mut run, invite) = anchored();
    run.carrier_says(&reply(&invite, 200, &[], Some(SDP_B)));
    run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-2",
        1,
        Some("0123456789abcdefo"),
    ));
    while run.call.poll_media().is_some() {}
    (run, invite)
}

fn with_direction(sdp: &[u8], direction: &str) -> Vec<u8> {
    let mut v = sdp.to_vec();
    v.extend_from_slice(format!("a={direction}\r\n").as_bytes());
    v
}

fn origin_reinvite(branch: &str, cseq: u32, body: Option<&[u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = RequestBuilder::new(Method::Invite, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: ORIGIN,
            branch,
            rport: false,
        })
        .from("\"Alice\" <sip:alice@192.0.2.1>", "alice-tag")
        .to("<sip:15551234567@192.0.2.10>", Some("0123456789abcdefo"))
        .call_id("origin-call@192.0.2.1")
        .cseq(cseq)
        .contact("<sip:alice@192.0.2.1:5062>");
    if let Some(body) = body {
        b = b.body("application/sdp", body);
    }
    b.write_to(&mut out).unwrap();
    out
}

/// A request from the carrier in its dialog with dcx (`ours` is our INVITE to it).
fn carrier_request(
    method: Method<'_>,
    ours: &[u8],
    branch: &str,
    cseq: u32,
    body: Option<&[u8]>,
) -> Vec<u8> {
    let ours = parse(ours);
    let mut out = Vec::new();
    let mut b = RequestBuilder::new(method, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: CARRIER_CONTACT,
            branch,
            rport: false,
        })
        .from("<sip:15551234567@192.0.2.20>", "carrier-tag")
        .to("<sip:alice@192.0.2.1>", ours.from().unwrap().tag())
        .call_id(ours.call_id().unwrap())
        .cseq(cseq)
        .contact("<sip:callee@192.0.2.20:5070>");
    if let Some(body) = body {
        b = b.body("application/sdp", body);
    }
    b.write_to(&mut out).unwrap();
    out
}

fn sdp_of(bytes: &[u8]) -> dcx_sip::sdp::SessionDescription {
    dcx_sip::sdp::parse(parse(bytes).body()).unwrap()
}

fn news(run: &mut Run) -> Vec<MediaNews> {
    std::iter::from_fn(|| run.call.poll_media()).collect()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "hold then unhold, each checked end to end"
)]
fn hold_and_unhold_from_the_origin_reach_the_carrier_through_dcx() {
    let (mut run, invite) = answered();
    for (n, (direction, answered_with)) in [("sendonly", "recvonly"), ("sendrecv", "sendrecv")]
        .into_iter()
        .enumerate()
    {
        let cseq = 2 + u32::try_from(n).unwrap();
        let branch = format!("z9hG4bK-origin-re{n}");
        let ask = origin_reinvite(&branch, cseq, Some(&with_direction(SDP_A, direction)));
        let relayed = run.origin_says(&ask);
        one(&relayed, ORIGIN, "100 INVITE");
        let reinvite = one(&relayed, CARRIER_CONTACT, "INVITE").to_vec();
        let m = parse(&reinvite);
        assert_eq!(m.request_line().unwrap().uri, "sip:callee@192.0.2.20:5070");
        assert_eq!(
            m.cseq().unwrap().seq,
            cseq,
            "the carrier dialog's next CSeq"
        );
        assert_eq!(m.call_id(), parse(&invite).call_id());
        assert_eq!(m.to().unwrap().tag(), Some("carrier-tag"));
        let offer = sdp_of(&reinvite);
        assert_eq!(offer.connection, Some(DCX_IP.parse().unwrap()));
        assert_eq!(offer.media[0].port, 31002, "our carrier-facing port");
        assert_eq!(
            offer.media[0]
                .direction
                .map(dcx_sip::sdp::Direction::as_str),
            Some(direction)
        );
        assert!(
            news(&mut run).is_empty(),
            "nothing changes before the answer"
        );

        // Retransmissions of the asker's INVITE do not reach the carrier twice.
        let again = run.origin_says(&ask);
        assert_eq!(kinds(&again), [(addr(ORIGIN), "100 INVITE".into())]);

        let ok = run.carrier_says(&reply(
            &reinvite,
            200,
            &[],
            Some(&with_direction(SDP_B, answered_with)),
        ));
        let ack = parse(one(&ok, CARRIER_CONTACT, "ACK"));
        assert_eq!(ack.cseq().unwrap().seq, cseq);
        let to_origin = one(&ok, ORIGIN, "200 INVITE");
        let answer = sdp_of(to_origin);
        assert_eq!(answer.media[0].port, 31000, "our origin-facing port");
        assert_eq!(answer.connection, Some(DCX_IP.parse().unwrap()));
        assert_eq!(
            answer.media[0]
                .direction
                .map(dcx_sip::sdp::Direction::as_str),
            Some(answered_with)
        );
        assert_eq!(
            parse(to_origin).to().unwrap().tag(),
            Some("0123456789abcdefo")
        );
        assert_eq!(
            news(&mut run),
            [
                MediaNews {
                    side: MediaSide::Origin,
                    remote: addr("192.0.2.1:4000"),
                    transcode: None,
                    events: None
                },
                MediaNews {
                    side: MediaSide::Carrier,
                    remote: addr("192.0.2.20:6000"),
                    transcode: None,
                    events: None
                }
            ]
        );
        // Our 2xx is resent until the origin's ACK; a resent carrier 2xx is re-ACKed.
        let resent = run.advance(Duration::from_millis(600));
        assert_eq!(kinds(&resent), [(addr(ORIGIN), "200 INVITE".into())]);
        let reack = run.carrier_says(&reply(&reinvite, 200, &[], Some(SDP_B)));
        assert_eq!(kinds(&reack), [(addr(CARRIER_CONTACT), "ACK".into())]);
        let acked = run.origin_says(&origin_request(
            Method::Ack,
            &format!("z9hG4bK-origin-ack{n}"),
            cseq,
            Some("0123456789abcdefo"),
        ));
        assert!(acked.is_empty());
        assert!(run.advance(Duration::from_secs(5)).is_empty());
    }
    // The origin's new Contact (from its re-INVITE) is where our BYE goes.
    let bye = run.carrier_asks(&carrier_request(
        Method::Bye,
        &invite,
        "z9hG4bK-cb",
        5,
        None,
    ));
    let to_origin = parse(one(&bye, "192.0.2.1:5062", "BYE"));
    assert_eq!(
        to_origin.request_line().unwrap().uri,
        "sip:alice@192.0.2.1:5062"
    );
    assert!(run
        .events()
        .iter()
        .any(|e| matches!(e, CallEvent::CallEnded(_))));
}

#[test]
fn hold_from_the_carrier_reaches_the_origin_in_its_dialog() {
    let (mut run, invite) = answered();
    let held = with_direction(SDP_B, "sendonly");
    let ask = carrier_request(Method::Invite, &invite, "z9hG4bK-cre", 3, Some(&held));
    let relayed = run.carrier_asks(&ask);
    one(&relayed, CARRIER_B, "100 INVITE");
    let reinvite = one(&relayed, ORIGIN, "INVITE").to_vec();
    let m = parse(&reinvite);
    assert_eq!(m.request_line().unwrap().uri, "sip:alice@192.0.2.1:5060");
    assert_eq!(m.call_id(), Ok("origin-call@192.0.2.1"));
    assert_eq!(m.from().unwrap().tag(), Some("0123456789abcdefo"));
    assert_eq!(m.to().unwrap().tag(), Some("alice-tag"));
    assert_eq!(m.cseq().unwrap().seq, 1, "our first request to the origin");
    let offer = sdp_of(&reinvite);
    assert_eq!(offer.media[0].port, 31000);
    assert_eq!(
        offer.media[0]
            .direction
            .map(dcx_sip::sdp::Direction::as_str),
        Some("sendonly")
    );

    // The origin answers 200 recvonly: it is sent to the carrier pointed at our port.
    let mut ok = Vec::new();
    response_to(&m, 200, b"OK", None)
        .unwrap()
        .contact("<sip:alice@192.0.2.1:5060>")
        .unwrap()
        .body("application/sdp", &with_direction(SDP_A, "recvonly"))
        .write_to(&mut ok)
        .unwrap();
    run.call.handle_response(run.now, addr(ORIGIN), &parse(&ok));
    let out = run.sent();
    let ack = parse(one(&out, ORIGIN, "ACK"));
    assert_eq!(ack.cseq().unwrap().seq, 1);
    let to_carrier = one(&out, CARRIER_B, "200 INVITE");
    assert_eq!(
        parse(to_carrier).to().unwrap().tag(),
        Some("0123456789abcdefc")
    );
    let answer = sdp_of(to_carrier);
    assert_eq!(answer.media[0].port, 31002);
    assert_eq!(
        answer.media[0]
            .direction
            .map(dcx_sip::sdp::Direction::as_str),
        Some("recvonly")
    );
    assert_eq!(news(&mut run).len(), 2);
}

#[test]
fn a_refused_reinvite_is_passed_back_and_changes_nothing() {
    let (mut run, _) = answered();
    let ask = origin_reinvite("z9hG4bK-o-re", 2, Some(SDP_A));
    let reinvite = one(&run.origin_says(&ask), CARRIER_CONTACT, "INVITE").to_vec();
    let refused = run.carrier_says(&reply(&reinvite, 488, &[], None));
    let ack = parse(one(&refused, CARRIER_CONTACT, "ACK"));
    assert_eq!(
        ack.top_via().unwrap().branch(),
        parse(&reinvite).top_via().unwrap().branch(),
        "the ACK of a failure is in its transaction"
    );
    one(&refused, ORIGIN, "488 INVITE");
    assert!(news(&mut run).is_empty());
    // The failure is resent until the origin ACKs it.
    let resent = run.advance(Duration::from_millis(500));
    assert_eq!(kinds(&resent), [(addr(ORIGIN), "488 INVITE".into())]);
    let ack = origin_request(Method::Ack, "z9hG4bK-o-re", 2, Some("0123456789abcdefo"));
    assert!(run.origin_says(&ack).is_empty());
    assert!(run.advance(Duration::from_secs(5)).is_empty());
    assert!(!run.call.has_ended());
}

#[test]
fn a_second_reinvite_while_one_is_pending_gets_491() {
    let (mut run, invite) = answered();
    run.origin_says(&origin_reinvite("z9hG4bK-o-re", 2, Some(SDP_A)));
    let glare = run.carrier_asks(&carrier_request(
        Method::Invite,
        &invite,
        "z9hG4bK-cre",
        3,
        Some(SDP_B),
    ));
    assert_eq!(kinds(&glare), [(addr(CARRIER_B), "491 INVITE".into())]);
}

#[test]
fn a_reinvite_before_the_answer_gets_491() {
    let (mut run, _) = anchored();
    let early = run.origin_says(&origin_reinvite("z9hG4bK-o-re", 2, Some(SDP_A)));
    assert_eq!(kinds(&early), [(addr(ORIGIN), "491 INVITE".into())]);
}

#[test]
fn a_reinvite_without_an_offer_is_answered_with_what_the_side_has() {
    let (mut run, _) = answered();
    let refresh = run.origin_says(&origin_reinvite("z9hG4bK-o-re", 2, None));
    let ok = one(&refresh, ORIGIN, "200 INVITE");
    let sdp = sdp_of(ok);
    assert_eq!(sdp.media[0].port, 31000, "the SDP the origin already has");
    assert!(
        refresh.iter().all(|(to, _)| *to == addr(ORIGIN)),
        "the carrier is not asked"
    );
}

#[test]
fn the_relay_learns_both_sides_telephone_event_payload_types() {
    let offer = b"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n";
    let answer = b"v=0\r\no=b 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\n";
    let (mut run, invite) = anchored();
    while run.call.poll_media().is_some() {}
    // The anchored run's origin offered SDP_A (no events): relay a re-INVITE with events.
    run.carrier_says(&reply(&invite, 200, &[], Some(SDP_B)));
    run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-2",
        1,
        Some("0123456789abcdefo"),
    ));
    assert_eq!(
        news(&mut run).last().map(|n| n.events),
        Some(None),
        "no telephone-event on either side"
    );
    let relayed = run.origin_says(&origin_reinvite("z9hG4bK-o-re", 2, Some(offer)));
    let reinvite = one(&relayed, CARRIER_CONTACT, "INVITE").to_vec();
    run.carrier_says(&reply(&reinvite, 200, &[], Some(answer)));
    let carrier = news(&mut run)
        .into_iter()
        .find(|n| n.side == MediaSide::Carrier)
        .unwrap();
    assert_eq!(
        carrier.events,
        Some(super::super::media::EventPts {
            origin_pt: 101,
            carrier_pt: 96
        })
    );
}
