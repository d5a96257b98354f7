use super::*;
use crate::sdp::{parse, Direction};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

fn caps() -> AudioCapabilities {
    AudioCapabilities {
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        telephone_event: true,
        telephone_event_pt: 101,
        ptime_ms: 20,
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 31000,
        session_id: 42,
        session_version: 1,
    }
}

/// What baresip 1.0 offers with `audio_codecs=pcmu,pcma` (RECIPES.md carrier setup).
const BARESIP: &str = "v=0\r\no=- 1953277018 1167349178 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
m=audio 16000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\na=rtcp-rsize\r\n";

/// sipp 3.6's built-in `uac` offer (PCMU only, static payload type without rtpmap).
const SIPP: &str =
    "v=0\no=user1 53655765 2353687637 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n\
m=audio 6000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n";

#[test]
fn answers_baresip_with_pcmu_and_dtmf() {
    let offer = parse(BARESIP.as_bytes()).unwrap();
    let (n, answer) = negotiate(&offer, &caps()).unwrap();
    assert_eq!(n.codec, Codec::Pcmu);
    assert_eq!(n.payload_type, 0);
    assert_eq!(n.dtmf_payload_type, Some(101));
    assert_eq!(n.ptime_ms, 20);
    assert_eq!(n.direction, Direction::SendRecv);
    assert_eq!(n.remote, Some("127.0.0.1:16000".parse().unwrap()));
    assert_eq!(n.remote_rtcp, Some("127.0.0.1:16001".parse().unwrap()));
    let text = answer.write();
    assert!(text.contains("m=audio 31000 RTP/AVP 0 101\r\n"), "{text}");
    assert!(
        text.contains("a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n"),
        "{text}"
    );
    assert!(text.contains("c=IN IP4 127.0.0.1\r\n") && text.contains("a=sendrecv\r\n"));
    // Our answer is itself valid SDP that reads back the same.
    assert_eq!(parse(text.as_bytes()).unwrap(), answer);
}

#[test]
fn answers_sipp_with_bare_lf_lines() {
    let offer = parse(SIPP.as_bytes()).unwrap();
    let (n, _) = negotiate(&offer, &caps()).unwrap();
    assert_eq!((n.codec, n.dtmf_payload_type), (Codec::Pcmu, None));
    assert_eq!(n.remote, Some("127.0.0.1:6000".parse().unwrap()));
}

#[test]
fn follows_the_offerers_preference_and_static_payload_types() {
    let offer = parse(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 8 0\r\n").unwrap();
    let (n, _) = negotiate(&offer, &caps()).unwrap();
    assert_eq!(
        (n.codec, n.payload_type),
        (Codec::Pcma, 8),
        "G.729 skipped, PCMA is the offerer's next choice"
    );
}

#[test]
fn no_common_codec_is_488_and_names_what_was_offered() {
    let offer = parse(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 96\r\na=rtpmap:96 opus/48000/2\r\n").unwrap();
    let e = negotiate(&offer, &caps()).unwrap_err();
    assert_eq!(e.sip_status(), 488);
    assert_eq!(
        e.to_string(),
        "no common codec: offered G729/8000, opus/48000, we take PCMU and PCMA"
    );
    let video_only = parse(b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n").unwrap();
    assert_eq!(
        negotiate(&video_only, &caps()).unwrap_err(),
        NegotiationError::NoAudio
    );
}

#[test]
fn hold_is_mirrored_both_ways() {
    let hold = BARESIP.replace("a=sendrecv", "a=sendonly");
    let (n, answer) = negotiate(&parse(hold.as_bytes()).unwrap(), &caps()).unwrap();
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(answer.write().contains("a=recvonly\r\n"));
    let inactive = BARESIP.replace("a=sendrecv", "a=inactive");
    assert_eq!(
        negotiate(&parse(inactive.as_bytes()).unwrap(), &caps())
            .unwrap()
            .0
            .direction,
        Direction::Inactive
    );
    // RFC 2543 hold: c=0.0.0.0, no direction attribute: do not send to it.
    let old = BARESIP
        .replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0")
        .replace("a=sendrecv\r\n", "");
    let (n, _) = negotiate(&parse(old.as_bytes()).unwrap(), &caps()).unwrap();
    assert_eq!((n.direction, n.remote), (Direction::RecvOnly, None));
}

#[test]
fn other_streams_are_rejected_with_port_zero_in_order() {
    let offer = format!("{BARESIP}m=video 16002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n");
    let (_, answer) = negotiate(&parse(offer.as_bytes()).unwrap(), &caps()).unwrap();
    assert_eq!(answer.media.len(), 2);
    assert_eq!(
        (answer.media[1].media.as_str(), answer.media[1].port),
        ("video", 0)
    );
    assert!(answer.write().contains("m=video 0 RTP/AVP 96\r\n"));
}

#[test]
fn dtmf_at_another_clock_rate_is_not_used() {
    let offer = BARESIP.replace("telephone-event/8000", "telephone-event/48000");
    let (n, answer) = negotiate(&parse(offer.as_bytes()).unwrap(), &caps()).unwrap();
    assert_eq!(n.dtmf_payload_type, None);
    assert!(!answer.write().contains("telephone-event"));
}

#[test]
fn our_offer_and_the_answer_to_it() {
    let offer = caps().offer().write();
    assert!(
        offer.contains("m=audio 31000 RTP/AVP 0 8 101\r\n"),
        "{offer}"
    );
    assert!(offer.contains("a=ptime:20\r\n"));
    let answer = "v=0\r\no=- 7 7 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp:5010\r\na=ptime:30\r\n";
    let n = caps()
        .accept_answer(&parse(answer.as_bytes()).unwrap())
        .unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.dtmf_payload_type, n.ptime_ms),
        (Codec::Pcma, 8, Some(101), 30)
    );
    assert_eq!(
        n.remote_rtcp,
        Some(SocketAddr::from(([192, 0, 2, 9], 5010)))
    );
}

#[test]
fn parse_errors_name_the_line() {
    let e = parse(b"v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 300.1.1.1\r\n").unwrap_err();
    assert_eq!(e.line, 4);
    assert!(e.message.contains("300.1.1.1"));
    let e = parse(b"v=0\r\nm=audio 99999 RTP/AVP 0\r\n").unwrap_err();
    assert_eq!((e.line, e.message.contains("99999")), (2, true));
    assert!(parse(b"v=0\r\nm=audio 4000 RTP/AVP 200\r\n").is_err());
    assert!(parse(b"v=0\r\na=rtpmap:x\r\nm=audio 1 RTP/AVP 0\r\na=rtpmap:0 PCMU\r\n").is_err());
    assert!(parse(b"o=- 1 1 IN IP4 h\r\n")
        .unwrap_err()
        .message
        .contains("v=0"));
    assert!(parse(&[0xff, 0xfe]).is_err());
}

proptest::proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        if let Ok(sd) = parse(&body) {
            let _ = negotiate(&sd, &caps());
            let _ = sd.write();
        }
    }

    #[test]
    fn sdp_like_bodies_never_panic(lines in proptest::collection::vec("[vocmast]=[ -~]{0,40}", 0..20)) {
        let body = lines.join("\r\n");
        if let Ok(sd) = parse(body.as_bytes()) {
            let _ = negotiate(&sd, &caps());
        }
    }
}
