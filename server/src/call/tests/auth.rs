//! Digest authentication toward carriers: one answer per attempt, to the trunk we sent
//! to, for the strongest challenge.

use super::*;
use dcx_sip::auth::{authorize, Challenge, Credentials};

const MD5_CHALLENGE: &[u8] = b"Digest realm=\"carrier.example\", nonce=\"n-md5\", algorithm=MD5";
const SHA_CHALLENGE: &[u8] =
    b"Digest realm=\"carrier.example\", nonce=\"n-sha\", algorithm=SHA-256, qop=\"auth\"";

fn creds() -> Credentials {
    Credentials {
        username: "gw".into(),
        password: "s3cret".into(),
    }
}

fn with_creds(mut t: Target) -> Target {
    t.credentials = Some(Arc::new(creds()));
    t
}

fn header<'m>(m: &'m Message<'_>, name: &str) -> &'m str {
    m.header(name)
        .and_then(dcx_sip::Header::value_str)
        .unwrap_or_else(|| panic!("no {name}"))
}

/// A quoted or bare parameter of a credentials header.
fn param<'v>(value: &'v str, name: &str) -> &'v str {
    let at = value.find(&format!("{name}=")).unwrap() + name.len() + 1;
    let rest = &value[at..];
    match rest.strip_prefix('"') {
        Some(q) => &q[..q.find('"').unwrap()],
        None => rest.split(',').next().unwrap().trim(),
    }
}

#[test]
fn a_401_is_answered_once_with_the_strongest_challenge() {
    let (mut run, sent) = Run::start(vec![
        with_creds(target("carrier-b", CARRIER_B, FailoverPolicy::default())),
        target("carrier-c", CARRIER_C, FailoverPolicy::default()),
    ]);
    let first = one(&sent, CARRIER_B, "INVITE").to_vec();
    let challenge = reply(
        &first,
        401,
        &[
            ("WWW-Authenticate", MD5_CHALLENGE),
            ("WWW-Authenticate", SHA_CHALLENGE),
        ],
        None,
    );
    let out = run.carrier_says(&challenge);
    assert_eq!(
        kinds(&out),
        [
            (addr(CARRIER_B), "ACK".into()),
            (addr(CARRIER_B), "INVITE".into())
        ],
        "the origin sees nothing"
    );
    let (old, ack, again) = (parse(&first), parse(&out[0].1), parse(&out[1].1));
    assert_eq!(
        ack.top_via().unwrap().branch(),
        old.top_via().unwrap().branch()
    );
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_ne!(
        again.top_via().unwrap().branch(),
        old.top_via().unwrap().branch()
    );
    assert_eq!(again.cseq().unwrap().seq, 2);
    assert_eq!(again.call_id(), old.call_id());
    assert_eq!(again.from().unwrap().tag(), old.from().unwrap().tag());
    assert_eq!(again.to().unwrap().tag(), None);
    assert_eq!(again.body(), SDP_A);
    // SHA-256 beats MD5 (RFC 8760); the response checks out against the password.
    let auth = header(&again, "Authorization");
    assert_eq!(param(auth, "algorithm"), "SHA-256");
    let (cnonce, uri) = (param(auth, "cnonce"), param(auth, "uri"));
    assert_eq!(uri, "sip:15551234567@192.0.2.20:5060");
    assert_eq!(cnonce.len(), 32);
    let c = Challenge::parse(std::str::from_utf8(SHA_CHALLENGE).unwrap()).unwrap();
    let expected = authorize(&c, &creds(), "INVITE", uri, SDP_A, 1, cnonce);
    assert_eq!(auth, expected);
    assert!(run.events().is_empty(), "the attempt goes on");

    // The 401 retransmitted: ACKed again, no third INVITE.
    let again_401 = run.carrier_says(&challenge);
    assert_eq!(kinds(&again_401), [(addr(CARRIER_B), "ACK".into())]);

    // The authenticated INVITE is answered; the ACK of the 2xx has CSeq 2 and the
    // same credentials.
    let second = out[1].1.clone();
    run.carrier_says(&reply(&second, 180, &[], None));
    let answered = run.carrier_says(&reply(&second, 200, &[], Some(SDP_B)));
    one(&answered, ORIGIN, "200 INVITE");
    let ack2 = parse(one(&answered, "192.0.2.20:5070", "ACK"));
    assert_eq!(ack2.cseq().unwrap().seq, 2);
    assert_eq!(header(&ack2, "Authorization"), auth);
    // The challenged transaction ends by itself (timer D).
    run.advance(Duration::from_secs(40));
}

#[test]
fn a_second_challenge_fails_the_attempt_with_its_code() {
    let (mut run, sent) = Run::start(vec![
        with_creds(target("carrier-b", CARRIER_B, FailoverPolicy::default())),
        target("carrier-c", CARRIER_C, FailoverPolicy::default()),
    ]);
    let first = one(&sent, CARRIER_B, "INVITE").to_vec();
    let proxy = [("Proxy-Authenticate", MD5_CHALLENGE)];
    let out = run.carrier_says(&reply(&first, 407, &proxy, None));
    let second = one(&out, CARRIER_B, "INVITE").to_vec();
    let m = parse(&second);
    let auth = header(&m, "Proxy-Authorization");
    assert!(auth.starts_with("Digest username=\"gw\""), "{auth}");
    assert!(m.header("Authorization").is_none());
    // Wrong password: challenged again. 407 is not retryable by default: the call
    // fails with it, carrier-c is not tried.
    let failed = run.carrier_says(&reply(&second, 407, &proxy, None));
    one(&failed, CARRIER_B, "ACK");
    one(&failed, ORIGIN, "407 INVITE");
    assert!(!failed.iter().any(|(a, _)| *a == addr(CARRIER_C)));
    let events = run.events();
    let [CallEvent::AttemptEnded(a), CallEvent::CallEnded(c)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!((a.attempt, a.sip_code, c.sip_code), (1, 407, 407));
}

#[test]
fn challenges_without_credentials_or_from_elsewhere_are_failures() {
    // No credentials for the trunk.
    let (mut run, sent) = Run::start(vec![target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    )]);
    let first = one(&sent, CARRIER_B, "INVITE");
    let out = run.carrier_says(&reply(
        first,
        401,
        &[("WWW-Authenticate", MD5_CHALLENGE)],
        None,
    ));
    one(&out, CARRIER_B, "ACK");
    one(&out, ORIGIN, "401 INVITE");

    // Credentials, but the challenge comes from another address than the trunk's.
    let (mut run, sent) = Run::start(vec![with_creds(target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    ))]);
    let first = one(&sent, CARRIER_B, "INVITE").to_vec();
    let challenge = reply(&first, 401, &[("WWW-Authenticate", MD5_CHALLENGE)], None);
    run.call
        .handle_response(run.now, addr("198.51.100.66:5060"), &parse(&challenge));
    let out = run.sent();
    assert!(
        !out.iter().any(|(_, b)| what(b) == "INVITE"),
        "{:?}",
        kinds(&out)
    );
    one(&out, ORIGIN, "401 INVITE");

    // A challenge that cannot be answered (no Digest).
    let (mut run, sent) = Run::start(vec![with_creds(target(
        "carrier-b",
        CARRIER_B,
        FailoverPolicy::default(),
    ))]);
    let first = one(&sent, CARRIER_B, "INVITE");
    let out = run.carrier_says(&reply(
        first,
        401,
        &[("WWW-Authenticate", b"Basic realm=\"x\"")],
        None,
    ));
    one(&out, ORIGIN, "401 INVITE");
}
