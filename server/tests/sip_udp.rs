//! The running gateway's SIP port: the RFC 4475 torture messages over UDP (each gets the
//! answer its verdict asks for, or none for responses; the server never falls over and
//! answers OPTIONS afterwards), and the source check.

mod support;

use std::collections::HashMap;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::Duration;
use support::Gateway;

fn torture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sip-bridge/tests/data/rfc4475")
}

fn config(inbound: &str) -> String {
    format!(
        "[server]\nhttp_listen = \"127.0.0.1:0\"\n[sip]\nlisten = \"127.0.0.1:0\"\n[media]\npublic_ip = \"127.0.0.1\"\n\
         [routing]\ndeck = \"deck.csv\"\n[[trunks]]\nname = \"origin-a\"\ninbound_from = [\"{inbound}\"]\n"
    )
}

/// Sends from a fresh socket (so that retransmissions of earlier final responses,
/// which wait for an ACK that never comes, cannot be taken for this answer).
fn exchange(to: &str, bytes: &[u8]) -> Option<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    sock.send_to(bytes, to).unwrap();
    let mut buf = vec![0u8; 65_535];
    match sock.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn status_of(bytes: &[u8]) -> u16 {
    std::str::from_utf8(&bytes[8..11]).unwrap().parse().unwrap()
}

const OPTIONS: &str = "OPTIONS sip:dcx@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-after\r\n\
Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=a\r\nTo: <sip:dcx@127.0.0.1>\r\nCall-ID: after\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

#[test]
fn rfc4475_over_udp_gets_the_answers_it_asks_for_and_the_server_lives_on() {
    let gw = Gateway::start(
        "sip-4475",
        &config("127.0.0.1/32"),
        &[("deck.csv", "prefix,carrier,rate\n1,c,0.01\n")],
    );
    let sip = gw.wait_for_addr("sip listening");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();

    let expected = std::fs::read_to_string(torture_dir().join("EXPECTED.tsv")).unwrap();
    let mut answers: HashMap<String, Option<u16>> = HashMap::new();
    for line in expected.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, verdict, note) = (cols[0], cols[1], cols.get(3).copied().unwrap_or(""));
        let bytes = std::fs::read(torture_dir().join(file)).unwrap();
        let reply = exchange(&sip, &bytes);
        let code = reply.as_deref().map(status_of);
        if bytes.starts_with(b"SIP/2.0") {
            assert_eq!(code, None, "{file}: a response is never answered");
        } else if verdict.starts_with("invalid") && note.starts_with('[') && !note.contains("drop")
        {
            let code = code.unwrap_or_else(|| panic!("{file}: no answer"));
            assert!((400..600).contains(&code), "{file}: {code} ({note})");
            // The note names the codes it accepts, e.g. "[400 ...]" or "[505 Version ...]".
            let asked: Vec<u16> = note
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .filter(|n| (400..600).contains(n))
                .collect();
            if !asked.is_empty() && !note.contains("or ignore") && !note.contains("liberal") {
                assert!(
                    asked.contains(&code),
                    "{file}: answered {code}, note asks {asked:?}: {note}"
                );
            }
        }
        answers.insert(file.to_owned(), code);
    }
    assert_eq!(answers["badvers.dat"], Some(505));
    assert_eq!(answers["insuf.dat"], Some(400));
    assert_eq!(answers["bext01.dat"], Some(420));

    // Still up: OPTIONS is answered.
    let reply = exchange(&sip, OPTIONS.as_bytes()).expect("the server still answers");
    assert_eq!(status_of(&reply), 200);
    let health = gw.health();
    assert!(
        health["sip"]["malformed"].as_u64().unwrap() >= 20,
        "{health}"
    );
    assert_eq!(health["sip"]["forbidden"], 0);
}

#[test]
fn requests_from_sources_no_trunk_allows_get_403_and_are_counted() {
    let gw = Gateway::start(
        "sip-acl",
        &config("10.0.0.0/8"),
        &[("deck.csv", "prefix,carrier,rate\n1,c,0.01\n")],
    );
    let sip = gw.wait_for_addr("sip listening");
    let reply = exchange(&sip, OPTIONS.as_bytes()).unwrap();
    assert_eq!(status_of(&reply), 403);
    assert_eq!(gw.health()["sip"]["forbidden"], 1);
}

/// Reads one response off a TCP stream (head, then Content-Length bytes).
fn read_response(stream: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before a response");
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn over_tcp_requests_are_answered_on_their_connection_and_bad_framing_closes_it() {
    use std::io::{Read, Write};
    let gw = Gateway::start(
        "sip-tcp",
        &config("127.0.0.1/32"),
        &[("deck.csv", "prefix,carrier,rate\n1,c,0.01\n")],
    );
    let sip = gw.wait_for_addr("sip listening");
    let tcp_options = OPTIONS.replace("SIP/2.0/UDP", "SIP/2.0/TCP");

    // Two requests in one write, split oddly: both framed, both answered in order.
    let mut good = std::net::TcpStream::connect(&sip).unwrap();
    good.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let second = tcp_options.replace("z9hG4bK-after", "z9hG4bK-second");
    let both = format!("\r\n{tcp_options}{second}");
    let (a, b) = both.as_bytes().split_at(100);
    good.write_all(a).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    good.write_all(b).unwrap();
    let answers = String::from_utf8(read_response(&mut good)).unwrap();
    assert!(answers.starts_with("SIP/2.0 200"), "{answers}");
    assert!(answers.contains("Via: SIP/2.0/TCP"), "{answers}");

    // No Content-Length on a stream: the framing is lost, the connection is closed.
    let mut bad = std::net::TcpStream::connect(&sip).unwrap();
    bad.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let no_length = tcp_options.replace("Content-Length: 0\r\n", "");
    bad.write_all(no_length.as_bytes()).unwrap();
    let mut rest = Vec::new();
    let closed = bad.read_to_end(&mut rest);
    assert!(closed.is_ok(), "closed by dcx: {closed:?}");
    assert_eq!(gw.health()["sip"]["tcp"]["framing_errors"], 1);

    // The other connection, and UDP, live on.
    good.write_all(tcp_options.replace("after", "third").as_bytes())
        .unwrap();
    let third = String::from_utf8(read_response(&mut good)).unwrap();
    assert!(third.contains("200 OK"), "{third}");
    let udp = exchange(&sip, OPTIONS.as_bytes()).expect("UDP still answers");
    assert_eq!(status_of(&udp), 200);
}
