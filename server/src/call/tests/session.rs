//! Session timers (RFC 4028) on both legs of an answered call, in virtual time.

use super::*;

fn header<'m>(m: &'m Message<'_>, name: &str) -> Option<&'m str> {
    m.header(name).and_then(dcx_sip::Header::value_str)
}

/// A call answered by `carrier-b` with `session_expires` in its 2xx, acknowledged by
/// the origin.
fn answered_with(session_expires: &[u8]) -> (Run, Vec<u8>) {
    let (mut run, sent) = Run::start(vec![target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    )]);
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    run.carrier_says(&reply(
        &invite,
        200,
        &[("Session-Expires", session_expires), ("Require", b"timer")],
        Some(SDP_B),
    ));
    run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-2",
        1,
        Some("0123456789abcdefo"),
    ));
    (run, invite)
}

#[test]
fn invites_to_carriers_offer_a_session_timer() {
    let (_, sent) = Run::start(vec![target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    )]);
    let m = parse(one(&sent, CARRIER_B, "INVITE"));
    assert_eq!(header(&m, "Session-Expires"), Some("1800"));
    assert_eq!(header(&m, "Min-SE"), Some("90"));
    assert_eq!(header(&m, "Supported"), Some("timer"));
}

#[test]
fn dcx_refreshes_a_carrier_that_made_it_the_refresher() {
    let (mut run, _) = answered_with(b"120;refresher=uac");
    assert!(run.advance(Duration::from_secs(59)).is_empty());
    let due = run.advance(Duration::from_secs(1));
    let refresh = one(&due, "192.0.2.20:5070", "INVITE").to_vec();
    let m = parse(&refresh);
    assert_eq!(header(&m, "Session-Expires"), Some("120;refresher=uac"));
    assert_eq!(m.cseq().unwrap().seq, 2);
    assert_eq!(m.body(), SDP_A, "the SDP the carrier already has");
    let acked = run.carrier_says(&reply(
        &refresh,
        200,
        &[("Session-Expires", b"120;refresher=uac")],
        Some(SDP_B),
    ));
    one(&acked, "192.0.2.20:5070", "ACK");
    assert!(
        acked.iter().all(|(to, _)| *to != addr(ORIGIN)),
        "the origin does not see the carrier leg's refresh"
    );
    // The next one comes half an interval after this one succeeded.
    assert!(run.advance(Duration::from_secs(59)).is_empty());
    let next = run.advance(Duration::from_secs(1));
    assert_eq!(
        parse(one(&next, "192.0.2.20:5070", "INVITE"))
            .cseq()
            .unwrap()
            .seq,
        3
    );
    assert!(!run.call.has_ended());
}

#[test]
fn a_carrier_that_stops_refreshing_is_hung_up_with_the_origin() {
    let (mut run, invite) = answered_with(b"120;refresher=uas");
    // An UPDATE without a body at 80 s is a refresh, answered by dcx.
    run.advance(Duration::from_secs(80));
    let ours = parse(&invite);
    let mut update = Vec::new();
    RequestBuilder::new(Method::Update, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: "192.0.2.20:5070",
            branch: "z9hG4bK-carrier-upd",
            rport: false,
        })
        .from("<sip:15551234567@192.0.2.20>", "carrier-tag")
        .to("<sip:alice@192.0.2.1>", ours.from().unwrap().tag())
        .call_id(ours.call_id().unwrap())
        .cseq(8)
        .header("Session-Expires", b"120;refresher=uac")
        .write_to(&mut update)
        .unwrap();
    let ok = run.carrier_asks(&update);
    let r = parse(one(&ok, CARRIER_B, "200 UPDATE"));
    assert_eq!(header(&r, "Session-Expires"), Some("120;refresher=uac"));
    // 120 - min(32, 40) = 88 s after the refresh, not after the answer.
    assert!(run.advance(Duration::from_secs(87)).is_empty());
    assert!(!run.call.has_ended());
    let gone = run.advance(Duration::from_secs(1));
    one(&gone, "192.0.2.20:5070", "BYE");
    one(&gone, ORIGIN, "BYE");
    let events = run.events();
    let Some(CallEvent::CallEnded(c)) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (c.hangup, c.reason.as_str()),
        (HangupSide::System, "session timer expired")
    );
}

fn origin_invite_with(headers: &[(&str, &[u8])]) -> Vec<u8> {
    let plain = String::from_utf8(origin_invite()).unwrap();
    let mut extra = String::new();
    for (n, v) in headers {
        extra.push_str(n);
        extra.push_str(": ");
        extra.push_str(&String::from_utf8_lossy(v));
        extra.push_str("\r\n");
    }
    plain
        .replacen("Content-Type", &format!("{extra}Content-Type"), 1)
        .into_bytes()
}

#[test]
fn the_origins_session_expires_is_answered_and_too_small_gets_422() {
    let routed = || {
        Ok(Routed {
            number: "15551234567".into(),
            targets: vec![target("carrier-b", CARRIER_B, FailoverPolicy::default())],
            media: None,
        })
    };
    let (_, sent) = Run::start_from(&origin_invite_with(&[("Session-Expires", b"60")]), routed());
    let refused = parse(one(&sent, ORIGIN, "422 INVITE"));
    assert_eq!(header(&refused, "Min-SE"), Some("90"));
    assert!(
        sent.iter().all(|(to, _)| *to == addr(ORIGIN)),
        "no carrier dialled"
    );

    let (mut run, sent) = Run::start_from(
        &origin_invite_with(&[("Session-Expires", b"600"), ("Supported", b"timer")]),
        routed(),
    );
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    let ok = run.carrier_says(&reply(&invite, 200, &[], Some(SDP_B)));
    let r = parse(one(&ok, ORIGIN, "200 INVITE"));
    assert_eq!(header(&r, "Session-Expires"), Some("600;refresher=uac"));
    assert_eq!(header(&r, "Require"), Some("timer"));
    run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-2",
        1,
        Some("0123456789abcdefo"),
    ));
    // The origin refreshes: without one, dcx ends the call at 600 - 32 s.
    assert!(run.advance(Duration::from_secs(567)).is_empty());
    let gone = run.advance(Duration::from_secs(1));
    one(&gone, ORIGIN, "BYE");
    one(&gone, "192.0.2.20:5070", "BYE");
}
