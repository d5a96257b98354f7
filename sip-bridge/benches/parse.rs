//! Message-layer benchmarks: the zero-copy split of a typical INVITE with SDP, the split
//! plus typed access of what a transaction layer reads first (top Via and its branch,
//! CSeq, From tag, To, Call-ID; target <= 1 us), and building an INVITE.

use criterion::{criterion_main, Criterion};
use dcx_sip::message::Method;
use dcx_sip::{Message, RequestBuilder, ViaSpec};
use std::hint::black_box;
use std::time::Duration;

const SDP: &str = "v=0\r\n\
o=dcx 2890844526 2890844526 IN IP4 192.0.2.10\r\n\
s=-\r\n\
c=IN IP4 192.0.2.10\r\n\
t=0 0\r\n\
m=audio 31000 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n";

/// A typical carrier-bound INVITE (~610 bytes): 11 headers, an SDP offer for
/// PCMU/PCMA/DTMF.
fn invite() -> Vec<u8> {
    format!(
        "INVITE sip:+15551234567@carrier.example.com;user=phone SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK776asdhds;rport\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:+15551234567@carrier.example.com;user=phone>\r\n\
         From: \"Alice\" <sip:alice@dcx.example.com>;tag=1928301774\r\n\
         Call-ID: a84b4c76e66710@pc33.dcx.example.com\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         Supported: timer\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

fn benches(c: &mut Criterion) {
    let raw = invite();
    eprintln!("INVITE under test: {} bytes", raw.len());

    c.bench_function("parse_invite", |b| {
        b.iter(|| Message::parse_datagram(black_box(&raw)).map(|m| m.headers().len()));
    });

    c.bench_function("parse_invite_typed_via_cseq_from_to_callid", |b| {
        b.iter(|| {
            let m = Message::parse_datagram(black_box(&raw)).unwrap();
            let via = m.top_via().unwrap();
            let cseq = m.cseq().unwrap();
            let from = m.from().unwrap();
            let to = m.to().unwrap();
            let call_id = m.call_id().unwrap();
            black_box((
                via.branch(),
                via.host,
                cseq.seq,
                from.tag(),
                to.uri_raw,
                call_id,
            ))
        });
    });

    let mut out = Vec::with_capacity(1024);
    c.bench_function("build_invite", |b| {
        b.iter(|| {
            out.clear();
            RequestBuilder::new(
                Method::Invite,
                "sip:+15551234567@carrier.example.com;user=phone",
            )
            .via(ViaSpec {
                transport: "UDP",
                sent_by: "192.0.2.10:5060",
                branch: "z9hG4bK776asdhds",
                rport: true,
            })
            .from("\"Alice\" <sip:alice@dcx.example.com>", "1928301774")
            .to("sip:+15551234567@carrier.example.com;user=phone", None)
            .call_id("a84b4c76e66710@pc33.dcx.example.com")
            .cseq(314_159)
            .contact("sip:alice@192.0.2.10:5060")
            .body("application/sdp", SDP.as_bytes())
            .write_to(&mut out)
            .unwrap();
            out.len()
        });
    });
}

mod group {
    // `criterion_group!` generates an undocumented `pub fn`.
    #![allow(missing_docs)]
    use super::{benches, Criterion, Duration};

    criterion::criterion_group! {
        name = parse;
        config = Criterion::default()
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        targets = benches
    }
}
criterion_main!(group::parse);
