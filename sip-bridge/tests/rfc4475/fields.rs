//! Concrete fields of the valid torture messages: what RFC 4475 says each one tests must be
//! reachable through the typed API with the right value.

use super::load;
use dcx_sip::headers::{Contact, DisplayName};
use dcx_sip::message::{HeaderName, Method};
use dcx_sip::uri::{Host, Uri};
use dcx_sip::{Message, SipError};

fn sip_user<'a>(addr: &dcx_sip::headers::NameAddr<'a>) -> Option<&'a str> {
    addr.uri().unwrap().as_sip().unwrap().user
}

#[test]
fn wsinv_folding_whitespace_and_compact_names() {
    let raw = load("wsinv");
    let m = Message::parse_datagram(&raw).unwrap();
    let to = m.to().unwrap();
    assert_eq!(
        (to.uri_raw, to.tag()),
        ("sip:vivekg@chair-dnrc.example.com", Some("1918181833n"))
    );
    let from = m.from().unwrap();
    assert_eq!(from.display_name.unwrap().text(), "J Rosenberg \\\"");
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(m.max_forwards(), Ok(Some(68)));
    let cseq = m.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (9, Method::Invite));
    let vias: Vec<_> = m.vias().collect::<Result<_, _>>().unwrap();
    let hosts: Vec<_> = vias
        .iter()
        .map(|v| (v.transport, v.host_raw, v.branch()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("UDP", "192.0.2.2", Some("390skdjuw")),
            ("TCP", "spindle.example.com", Some("z9hG4bK9ikj8")),
            ("UDP", "192.168.255.111", Some("z9hG4bK30239")),
        ]
    );
    let nf = m.header("newfangledheader").unwrap();
    assert!(nf.is_folded());
    assert_eq!(
        &*nf.unfolded(),
        b"newfangled value continued newfangled value"
    );
    assert_eq!(m.header("s").unwrap().value(), b"");
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!("star")
    };
    assert_eq!(
        c.display_name,
        Some(DisplayName::Quoted("Quoted string \\\"\\\""))
    );
    assert_eq!(c.params.value("newparam"), Some("newvalue"));
    assert!(c.params.contains("secondparam"));
    assert_eq!(c.params.value("q"), Some("0.33"));
    let route = m.routes().next().unwrap().unwrap();
    assert!(route.uri().unwrap().as_sip().unwrap().is_loose_router());
    assert_eq!(m.body().len(), 150);
    assert_eq!(
        m.header("UnknownHeaderWithUnusualValue").unwrap().value(),
        b";;,,;;,;"
    );
}

#[test]
fn intmeth_unknown_method_and_odd_tokens() {
    let raw = load("intmeth");
    let m = Message::parse_datagram(&raw).unwrap();
    let method = m.method().unwrap();
    assert_eq!(
        method,
        Method::Extension("!interesting-Method0123456789_*+`.%indeed'~")
    );
    assert_eq!(m.cseq().unwrap().method, method);
    let line = m.request_line().unwrap();
    let Uri::Sip(ruri) = Uri::parse(line.uri).unwrap() else {
        panic!("sip uri")
    };
    assert_eq!(
        ruri.user,
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        ruri.password,
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK-.!%66*_+`'~"));
    let to = m.to().unwrap();
    assert_eq!(to.display_name.unwrap().text(), "BEL:\x07 NUL:\0 DEL:\x7f");
    let from = m.from().unwrap();
    assert_eq!(
        from.display_name,
        Some(DisplayName::Tokens("token1~` token2'+_ token3*%!.-"))
    );
    assert_eq!(from.params.value("fromParam''~+*_!.-%"), Some("работающий"));
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        m.call_id(),
        Ok("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
    );
    assert_eq!(m.max_forwards(), Ok(Some(255)));
    let ext = m.header("extensionHeader-!.%*+_`'~").unwrap();
    assert_eq!(ext.value_str(), Some("\u{feff}\u{5927}\u{505c}\u{96fb}"));
}

#[test]
fn escapes_are_not_decoded_into_structure() {
    let raw = load("esc01");
    let m = Message::parse_datagram(&raw).unwrap();
    let Uri::Sip(ruri) = Uri::parse(m.request_line().unwrap().uri).unwrap() else {
        panic!()
    };
    assert_eq!(
        (ruri.user, ruri.host),
        (
            Some("sips%3Auser%40example.com"),
            Host::Domain("example.net")
        )
    );
    assert_eq!(sip_user(&m.to().unwrap()), Some("%75se%72"));
    assert_eq!(sip_user(&m.from().unwrap()), Some("I%20have%20spaces"));
    assert_eq!(m.call_id(), Ok("esc01.239409asdfakjkn23onasd0-3234")); // compact i:
    assert!(m.content_type().unwrap().unwrap().is("application/sdp")); // compact C:
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    let uri = c.uri().unwrap();
    let params = uri.as_sip().unwrap().params;
    assert!(params.contains("%6C%72"));
    assert_eq!(params.value("n%61me"), Some("v%61lue%25%34%31"));
    assert_eq!(
        &*dcx_sip::uri::percent_decode(sip_user(&m.to().unwrap()).unwrap()),
        b"user"
    );

    let raw = load("esc02");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(m.method(), Some(Method::Extension("RE%47IST%45R")));
    assert_ne!(m.method(), Some(Method::Register));
    assert_eq!(
        m.to().unwrap().display_name,
        Some(DisplayName::Quoted("%Z%45"))
    );
    assert_eq!(m.contacts().count(), 2);
    assert_eq!(m.header("C%6Fntact").unwrap().kind(), HeaderName::Other);
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK209%fzsnel234"));

    let raw = load("escnull");
    let m = Message::parse_datagram(&raw).unwrap();
    let users: Vec<_> = m
        .contacts()
        .map(|c| match c.unwrap() {
            Contact::Address(a) => a.uri().unwrap().as_sip().unwrap().user.unwrap(),
            Contact::Star => "*",
        })
        .collect();
    assert_eq!(users, ["%00", "%00%00"]);
    assert_eq!(sip_user(&m.to().unwrap()), Some("null-%00-null"));
    assert_eq!(m.content_length(), Some(0)); // L:0
}

#[test]
fn long_values_and_34_vias() {
    let raw = load("longreq");
    let m = Message::parse_datagram(&raw).unwrap();
    let vias: Vec<_> = m.vias().collect::<Result<_, _>>().unwrap();
    assert_eq!(vias.len(), 34);
    assert_eq!(vias[0].host_raw, "sip33.example.com");
    assert_eq!(vias[33].received(), Some("192.0.2.5"));
    assert!(vias[33].branch().unwrap().len() > 100);
    assert!(m.from().unwrap().tag().unwrap().len() > 100); // compact F:
    let unknown = m
        .headers()
        .iter()
        .find(|h| h.name().starts_with("Unknown-LongLong"))
        .unwrap();
    assert_eq!(unknown.name().len(), 93);
    assert_eq!(m.to().unwrap().params.value("tag"), None);
    assert_eq!(m.content_length(), Some(150)); // l: 150
    assert_eq!(m.body().len(), 150);
}

#[test]
fn dblreq_ignores_the_trailing_request() {
    let raw = load("dblreq");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(m.method(), Some(Method::Register));
    assert_eq!(m.call_id(), Ok("dblreq.0ha0isndaksdj99sdfafnl3lk233412")); // I:
    assert!(m.body().is_empty());
    assert!(m.as_bytes().len() < raw.len());
    assert!(m.as_bytes().ends_with(b"Content-Length: 0\r\n\r\n"));
}

#[test]
fn binary_multipart_body_passes_through() {
    let raw = load("mpart01");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(m.method(), Some(Method::Message));
    assert_eq!(m.body().len(), 553);
    assert_eq!(m.body(), &raw[raw.len() - 553..]);
    assert!(m.body().contains(&0));
    let ct = m.content_type().unwrap().unwrap();
    assert!(ct.is("multipart/mixed"));
    assert_eq!(ct.params.value("boundary"), Some("7a9cbec02ceef655"));
    assert_eq!(m.top_via().unwrap().rport(), Some(None));
    assert_eq!(
        m.routes().next().unwrap().unwrap().uri_raw,
        "sip:127.0.0.1:5080"
    );
}

#[test]
fn reason_phrases_verbatim() {
    let raw = load("unreason");
    let m = Message::parse_datagram(&raw).unwrap();
    let status = m.status_line().unwrap();
    assert_eq!(status.code, 200);
    let reason = std::str::from_utf8(status.reason).unwrap();
    assert_eq!(reason, "= 2**3 * 5**2 но сто девяносто девять - простое");
    let line_end = raw.windows(2).position(|w| w == b"\r\n").unwrap();
    assert_eq!(status.reason, &raw[12..line_end]);

    let raw = load("noreason");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(
        (m.status_code(), m.status_line().unwrap().reason),
        (Some(100), &b""[..])
    );
}

#[test]
fn uri_schemes_and_addr_spec_params() {
    for (name, scheme) in [
        ("novelsc", "soap.beep"),
        ("unkscm", "nobodyKnowsThisScheme"),
    ] {
        let raw = load(name);
        let m = Message::parse_datagram(&raw).unwrap();
        let uri = Uri::parse(m.request_line().unwrap().uri).unwrap();
        assert!(matches!(uri, Uri::Other(o) if o.scheme == scheme), "{name}");
    }
    let raw = load("unksm2");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(m.to().unwrap().uri().unwrap().scheme(), "isbn");
    assert_eq!(m.from().unwrap().uri().unwrap().scheme(), "http");
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(c.uri().unwrap().as_str(), "name:John_Smith");

    let raw = load("cparam01");
    let m = Message::parse_datagram(&raw).unwrap();
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert!(!c.bracketed && c.params.contains("unknownparam"));
    assert!(c.uri().unwrap().as_sip().unwrap().params.is_empty());
    let raw = load("cparam02");
    let m = Message::parse_datagram(&raw).unwrap();
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert!(c.bracketed && c.params.is_empty());
    assert!(c
        .uri()
        .unwrap()
        .as_sip()
        .unwrap()
        .params
        .contains("unknownparam"));

    let raw = load("regescrt");
    let m = Message::parse_datagram(&raw).unwrap(); // M: and L: compact names
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        c.uri().unwrap().as_sip().unwrap().headers,
        Some("Route=%3Csip:sip.example.com%3E")
    );

    let raw = load("semiuri");
    let m = Message::parse_datagram(&raw).unwrap();
    let Uri::Sip(u) = Uri::parse(m.request_line().unwrap().uri).unwrap() else {
        panic!()
    };
    assert_eq!(
        (u.user, u.host_raw),
        (Some("user;par=u%40example.net"), "example.com")
    );
    assert_eq!(m.accepts().count(), 6); // folded over three lines
}

#[test]
fn vias_transports_and_compat() {
    let raw = load("transports");
    let m = Message::parse_datagram(&raw).unwrap();
    let t: Vec<_> = m.vias().map(|v| v.unwrap().transport).collect();
    assert_eq!(t, ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]);
    assert_eq!(m.call_id(), Ok("transports.kijh4akdnaqjkwendsasfdj"));

    let raw = load("bcast");
    let m = Message::parse_datagram(&raw).unwrap();
    let second = m.vias().nth(1).unwrap().unwrap();
    assert_eq!(second.host, Host::V4(std::net::Ipv4Addr::BROADCAST));

    let raw = load("inv2543");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(m.max_forwards(), Ok(None));
    assert_eq!(m.content_length(), None);
    assert!(m.body().starts_with(b"v=0") && m.body().ends_with(b"0\r\n"));
    assert_eq!(m.from().unwrap().tag(), None);
    assert_eq!(m.top_via().unwrap().branch(), None);
    assert_eq!(m.record_routes().count(), 1);

    let raw = load("badbranch");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK"));

    let raw = load("lwsdisp");
    let m = Message::parse_datagram(&raw).unwrap();
    assert_eq!(
        m.from().unwrap().display_name,
        Some(DisplayName::Tokens("caller"))
    );

    let raw = load("regaut01");
    let m = Message::parse_datagram(&raw).unwrap();
    let auth = m.authorizations().next().unwrap().unwrap();
    assert_eq!(
        (auth.scheme, auth.param("opaque-data")),
        ("NoOneKnowsThisScheme", Some("here"))
    );

    let raw = load("bext01");
    let m = Message::parse_datagram(&raw).unwrap();
    let err = dcx_sip::validate::request(&m, &super::POLICY).unwrap_err();
    assert_eq!(
        err,
        SipError::BadExtension {
            unsupported: "nothingSupportsThis, nothingSupportsThisEither".into()
        }
    );
    assert_eq!(m.proxy_require().count(), 2);
}

#[test]
fn stream_framing_of_torture_messages() {
    // clerr: over TCP the framer waits for the 9999 announced bytes.
    let mut framer = dcx_sip::StreamFramer::new();
    framer.push(&load("clerr"));
    assert_eq!(framer.poll_message(), Ok(None));
    // dblreq over a stream: the REGISTER, then the INVITE once its body is complete.
    let mut framer = dcx_sip::StreamFramer::new();
    framer.push(&load("dblreq"));
    assert_eq!(
        framer.poll_message().unwrap().unwrap().method(),
        Some(Method::Register)
    );
    let second = framer
        .poll_message()
        .unwrap()
        .map(|m| (m.method(), m.body().len()));
    println!("dblreq second message over a stream: {second:?}");
    // mcl01 and ncl break the stream.
    for name in ["mcl01", "ncl"] {
        let mut framer = dcx_sip::StreamFramer::new();
        framer.push(&load(name));
        let err = framer.poll_message().unwrap_err();
        assert!(err.breaks_stream(), "{name}: {err}");
    }
    // inv2543 has no Content-Length: fine over UDP, an error over a stream.
    let mut framer = dcx_sip::StreamFramer::new();
    framer.push(&load("inv2543"));
    assert_eq!(framer.poll_message(), Err(SipError::MissingContentLength));
}

#[test]
fn tel_and_ipv6_beyond_rfc4475() {
    let raw = b"INVITE tel:+1-201-555-0123;phone-context=example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bK77;rport\r\n\
        Max-Forwards: 70\r\nFrom: <sip:alice@[2001:db8::9]>;tag=a1\r\nTo: <tel:+12015550123>\r\n\
        Call-ID: v6@[2001:db8::9]\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@[2001:db8::9]:5070;transport=udp>\r\n\
        Content-Length: 0\r\n\r\n";
    let m = Message::parse_datagram(raw).unwrap();
    dcx_sip::validate::request(&m, &super::POLICY).unwrap();
    let Uri::Tel(tel) = Uri::parse(m.request_line().unwrap().uri).unwrap() else {
        panic!()
    };
    assert!(tel.is_global());
    assert_eq!(
        (tel.number, tel.params.value("phone-context")),
        ("+1-201-555-0123", Some("example.com"))
    );
    let via = m.top_via().unwrap();
    assert_eq!(
        (via.host, via.port),
        (Host::V6("2001:db8::9".parse().unwrap()), Some(5070))
    );
    let Contact::Address(c) = m.contacts().next().unwrap().unwrap() else {
        panic!()
    };
    let uri = c.uri().unwrap();
    let sip = uri.as_sip().unwrap();
    assert_eq!(
        (sip.host_raw, sip.port, sip.transport()),
        ("[2001:db8::9]", Some(5070), Some("udp"))
    );
}
