//! Late offer: the origin's INVITE has no SDP; dcx offers to the carrier, offers the
//! origin in its 200, and learns the origin's answer from the ACK.

use super::super::media::{Anchor, EventPts, MediaNews, MediaSide, Transcode};
use super::*;

fn invite_without_sdp() -> Vec<u8> {
    let with = String::from_utf8(origin_invite()).unwrap();
    let head = with.split("\r\n\r\n").next().unwrap();
    let head: Vec<&str> = head
        .split("\r\n")
        .filter(|l| !l.starts_with("Content-Type") && !l.starts_with("Content-Length"))
        .collect();
    format!("{}\r\nContent-Length: 0\r\n\r\n", head.join("\r\n")).into_bytes()
}

fn anchored(media: Option<Anchor>) -> (Run, Sent) {
    Run::start_from(
        &invite_without_sdp(),
        Ok(Routed {
            number: "15551234567".into(),
            targets: vec![target("carrier-b", CARRIER_B, FailoverPolicy::default())],
            media,
        }),
    )
}

const ANCHOR: Anchor = Anchor {
    ip: std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10)),
    origin_port: 31000,
    carrier_port: 31002,
};

fn sdp(bytes: &[u8]) -> dcx_sip::sdp::SessionDescription {
    dcx_sip::sdp::parse(parse(bytes).body()).unwrap()
}

#[test]
fn dcx_offers_both_ways_and_the_ack_answers() {
    let (mut run, sent) = anchored(Some(ANCHOR));
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    let offer = sdp(&invite);
    assert_eq!(offer.media[0].port, 31002, "our carrier-facing port");
    assert_eq!(
        offer.media[0].formats,
        ["0", "8", "101"],
        "PCMU, PCMA, events"
    );

    // The carrier answers PCMA with events as 96; a 183 with SDP reaches the origin
    // without it (no offer in an unreliable provisional).
    let answer = b"v=0\r\no=b 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n\
m=audio 6000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\n";
    let early = run.carrier_says(&reply(&invite, 183, &[], Some(answer)));
    assert!(parse(one(&early, ORIGIN, "183 INVITE")).body().is_empty());
    let ok = run.carrier_says(&reply(&invite, 200, &[], Some(answer)));
    let to_origin = sdp(one(&ok, ORIGIN, "200 INVITE"));
    assert_eq!(to_origin.media[0].port, 31000, "our origin-facing port");
    assert_eq!(
        to_origin.media[0].formats,
        ["8", "0", "96"],
        "the carrier's law first, the other added"
    );
    while run.call.poll_media().is_some() {}

    // The origin answers PCMU (and events 101) in its ACK: the relay transcodes.
    let mut ack = Vec::new();
    RequestBuilder::new(Method::Ack, "sip:dcx@192.0.2.10:5060")
        .via(ViaSpec {
            transport: "UDP",
            sent_by: ORIGIN,
            branch: "z9hG4bK-origin-ack",
            rport: false,
        })
        .from("\"Alice\" <sip:alice@192.0.2.1>", "alice-tag")
        .to("<sip:15551234567@192.0.2.10>", Some("0123456789abcdefo"))
        .call_id("origin-call@192.0.2.1")
        .cseq(1)
        .body(
            "application/sdp",
            b"v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        )
        .write_to(&mut ack)
        .unwrap();
    assert!(run.origin_says(&ack).is_empty());
    let news: Vec<MediaNews> = std::iter::from_fn(|| run.call.poll_media()).collect();
    assert_eq!(
        news,
        [
            MediaNews {
                side: MediaSide::Origin,
                remote: addr("192.0.2.1:4000"),
                transcode: None,
                events: None,
            },
            MediaNews {
                side: MediaSide::Carrier,
                remote: addr("192.0.2.20:6000"),
                transcode: Some(Transcode {
                    origin_pt: 0,
                    carrier_pt: 8
                }),
                events: Some(EventPts {
                    origin_pt: 101,
                    carrier_pt: 96
                }),
            }
        ]
    );
    assert!(
        run.advance(Duration::from_secs(5)).is_empty(),
        "the 2xx is acknowledged"
    );
    assert!(!run.call.has_ended());
}

#[test]
fn an_ack_without_the_answer_ends_the_call() {
    let (mut run, sent) = anchored(Some(ANCHOR));
    let invite = one(&sent, CARRIER_B, "INVITE").to_vec();
    run.carrier_says(&reply(&invite, 200, &[], Some(SDP_B)));
    let hung_up = run.origin_says(&origin_request(
        Method::Ack,
        "z9hG4bK-origin-2",
        1,
        Some("0123456789abcdefo"),
    ));
    one(&hung_up, "192.0.2.20:5070", "BYE");
    one(&hung_up, ORIGIN, "BYE");
    assert!(run.call.has_ended());
}

#[test]
fn without_rtp_ports_an_invite_without_sdp_gets_503() {
    let (_, sent) = anchored(None);
    one(&sent, ORIGIN, "503 INVITE");
    assert!(sent.iter().all(|(to, _)| *to == addr(ORIGIN)));
}
