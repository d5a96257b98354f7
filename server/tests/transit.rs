//! SIP-to-SIP transit through the running gateway, with real peers on loopback: sipp
//! (Debian's `sip-tester`) as the origin's caller and as the carriers' callees, with
//! the scenarios in `tests/sipp/` at the repository root.
//!
//! Each test gets its own ports (below the kernel's ephemeral range, so they cannot
//! collide with the `127.0.0.1:0` listeners of other tests), runs every sipp with `-m 1`
//! and `-timeout 30s` so it always ends by itself, and kills whatever is left on drop
//! (`support::sipp`). Without `sipp` on PATH the tests fail loudly: the test script
//! installs it.

mod support;

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};
use support::sipp::{have_sipp, scenario, Sipp, SippPorts};
use support::Gateway;

const NUMBER: &str = "15551234567";
const DECK: &str = "prefix,carrier,rate\n1555,carrier-b,0.01\n1555,carrier-c,0.02\n";

/// Ports of one test: `base` .. `base + 100`.
#[derive(Clone, Copy)]
struct Ports {
    base: u16,
}

impl Ports {
    fn carrier_b(self) -> u16 {
        self.base
    }
    fn carrier_c(self) -> u16 {
        self.base + 1
    }
    fn origin(self) -> u16 {
        self.base + 2
    }
    /// RTP (`-mp`, sipp uses up to 4 from there) ports of the `i`-th sipp of the test.
    fn media(self, i: u16) -> u16 {
        self.base + 10 + 10 * i
    }
    /// The ports of the `i`-th sipp of the test, at SIP port `sip`; its control port
    /// (`-cp`) is `base + 50 + i`.
    fn sipp(self, sip: u16, i: u16) -> SippPorts {
        SippPorts {
            sip,
            media: self.media(i),
            control: self.base + 50 + i,
        }
    }
    /// dcx's `[media] rtp_ports` for the test (each test runs its own gateway).
    fn rtp(self) -> std::ops::RangeInclusive<u16> {
        self.base + 70..=self.base + 99
    }
}

/// OPTIONS probing off: sipp's scenarios would take a ping for an unexpected call.
const NO_PROBES: &str = "options_interval_s = 0\n";

fn config(ports: Ports) -> String {
    config_with(ports, "", NO_PROBES, NO_PROBES)
}

/// The test config with extra lines for `[sip]` and each carrier's `[[trunks]]`.
fn config_with(ports: Ports, sip: &str, carrier_b: &str, carrier_c: &str) -> String {
    format!(
        "[server]\nhttp_listen = \"127.0.0.1:0\"\n\
         [sip]\nlisten = \"127.0.0.1:0\"\n{sip}\
         [media]\nrtp_ports = \"{}-{}\"\npublic_ip = \"127.0.0.1\"\n\
         [routing]\ndeck = \"deck.csv\"\n\
         [[trunks]]\nname = \"carrier-b\"\naddress = \"127.0.0.1:{}\"\n{carrier_b}\
         [[trunks]]\nname = \"carrier-c\"\naddress = \"127.0.0.1:{}\"\n{carrier_c}\
         [[trunks]]\nname = \"origin-a\"\ninbound_from = [\"127.0.0.1/32\"]\n",
        ports.rtp().start(),
        ports.rtp().end(),
        ports.carrier_b(),
        ports.carrier_c()
    )
}

/// A UAC calling dcx at `sip` for [`NUMBER`], as the test's origin (the 4th sipp).
fn origin(dir: &Path, sip: &str, scenario: &[&str], ports: Ports, extra: &[&str]) -> Sipp {
    let mut args = scenario.to_vec();
    args.extend([sip, "-s", NUMBER]);
    args.extend_from_slice(extra);
    Sipp::start(dir, "origin", &args, ports.sipp(ports.origin(), 3))
}

fn start_gateway(name: &str, ports: Ports) -> (Gateway, String) {
    start_gateway_with(name, &config(ports))
}

fn start_gateway_with(name: &str, config: &str) -> (Gateway, String) {
    let gw = Gateway::start(name, config, &[("deck.csv", DECK)]);
    let sip = gw.wait_for_addr("sip listening");
    (gw, sip)
}

/// The gateway's "call ended" log line, which must contain every `expect`ed field.
fn assert_call_ended(gw: &Gateway, expect: &[&str]) {
    let line = gw.wait_for("call ended");
    for e in expect {
        assert!(line.contains(e), "{e:?} not in {line}");
    }
}

/// One call through dcx to carrier-b: its sipp started with `callee`, the caller's with
/// `caller` (scenario arguments, extra arguments); both must succeed and dcx's "call
/// ended" line must hold every `expect`ed field.
fn call_to_carrier_b(
    name: &str,
    ports: Ports,
    config: &str,
    callee: &[&str],
    caller: (&[&str], &[&str]),
    expect: &[&str],
) {
    let (gw, sip) = start_gateway_with(name, config);
    let callee = Sipp::callee(
        &gw.dir,
        "carrier-b",
        callee,
        ports.sipp(ports.carrier_b(), 0),
    );
    let caller = origin(&gw.dir, &sip, caller.0, ports, caller.1);
    caller.assert_success();
    callee.assert_success();
    assert_call_ended(&gw, expect);
}

#[test]
fn plain_call_through_dcx() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_000 };
    call_to_carrier_b(
        "transit-plain",
        ports,
        &config(ports),
        &["-sn", "uas"],
        (&["-sn", "uac"], &["-d", "300"]),
        &[
            "trunk_out=\"carrier-b\"",
            "attempts=1",
            "sip_code=200",
            "hangup=Caller",
            "answered=true",
        ],
    );
}

#[test]
fn failover_from_a_503_carrier_to_the_next() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_100 };
    let (gw, sip) = start_gateway("transit-failover", ports);
    let cheapest = Sipp::callee(
        &gw.dir,
        "carrier-b",
        &["-sf", &scenario("uas_503.xml")],
        ports.sipp(ports.carrier_b(), 0),
    );
    let next = Sipp::callee(
        &gw.dir,
        "carrier-c",
        &["-sn", "uas"],
        ports.sipp(ports.carrier_c(), 1),
    );
    let caller = origin(&gw.dir, &sip, &["-sn", "uac"], ports, &["-d", "300"]);
    caller.assert_success();
    cheapest.assert_success();
    next.assert_success();
    assert_call_ended(
        &gw,
        &[
            "trunk_out=\"carrier-c\"",
            "attempts=2",
            "sip_code=200",
            "answered=true",
        ],
    );
    // The CDRs: one for the call and one per attempt, readable with `dcx cdr`.
    let records = gw.cdrs(3);
    let by_attempt = |n: u64| {
        records
            .iter()
            .find(|r| r["attempt"] == n)
            .unwrap_or_else(|| panic!("attempt {n}: {records:?}"))
    };
    let (call, first, second) = (by_attempt(0), by_attempt(1), by_attempt(2));
    assert_eq!(
        (call["trunk_out"].as_str(), call["sip_code"].as_u64()),
        (Some("carrier-c"), Some(200))
    );
    assert_eq!(call["trunk_in"], "origin-a");
    assert_eq!(call["prefix"], "1555");
    assert!(call["answer_ms"].is_i64() && call["duration_s"].as_i64().is_some());
    assert_eq!(
        (first["trunk_out"].as_str(), first["sip_code"].as_u64()),
        (Some("carrier-b"), Some(503))
    );
    assert!(first["answer_ms"].is_null() && first["cost_nano"] == 0);
    assert_eq!(
        (second["trunk_out"].as_str(), second["sip_code"].as_u64()),
        (Some("carrier-c"), Some(200))
    );
    assert_eq!(second["rate_per_min_nano"], 20_000_000);
    // And in Prometheus terms.
    let metrics = gw.get("/metrics");
    for line in [
        "dcx_calls_total 1",
        "dcx_calls_ended_total{outcome=\"answered\"} 1",
        "dcx_call_attempts_total 2",
        "dcx_call_failovers_total 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line:?} missing from /metrics:\n{metrics}"
        );
    }
}

#[test]
fn cancel_before_answer_reaches_the_carrier() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_200 };
    call_to_carrier_b(
        "transit-cancel",
        ports,
        &config(ports),
        &["-sf", &scenario("uas_ring_no_answer.xml")],
        (&["-sf", &scenario("uac_cancel.xml")], &[]),
        &[
            "trunk_out=\"carrier-b\"",
            "sip_code=487",
            "hangup=Caller",
            "reason=CANCEL",
        ],
    );
}

#[test]
fn bye_from_the_callee_reaches_the_caller() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_300 };
    call_to_carrier_b(
        "transit-bye",
        ports,
        &config(ports),
        &["-sf", &scenario("uas_bye.xml")],
        (&["-sf", &scenario("uac_wait_bye.xml")], &[]),
        &[
            "trunk_out=\"carrier-b\"",
            "sip_code=200",
            "hangup=Callee",
            "reason=BYE",
        ],
    );
}

/// Credentials of carrier-b in dcx's config, probing off.
fn credentials(password: &str) -> String {
    format!("{NO_PROBES}username = \"gw\"\npassword = \"{password}\"\n")
}

#[test]
fn a_carrier_challenging_with_401_verifies_our_digest() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_400 };
    let verify = scenario("uas_401_verify.xml");
    // The carrier sends 200 only when the digest verified.
    call_to_carrier_b(
        "transit-auth-401",
        ports,
        &config_with(ports, "", &credentials("s3cret"), NO_PROBES),
        &[
            "-sf", &verify, "-set", "user", "gw", "-set", "pass", "s3cret",
        ],
        (&["-sn", "uac"], &["-d", "300"]),
        &[
            "trunk_out=\"carrier-b\"",
            "attempts=1",
            "sip_code=200",
            "answered=true",
        ],
    );
}

#[test]
fn a_wrong_password_ends_the_call_with_the_carriers_refusal() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_500 };
    let verify = scenario("uas_401_verify.xml");
    // 403 is not retryable: carrier-c (nobody listening) is never tried.
    call_to_carrier_b(
        "transit-auth-wrong",
        ports,
        &config_with(ports, "", &credentials("wrong"), NO_PROBES),
        &[
            "-sf", &verify, "-set", "user", "gw", "-set", "pass", "s3cret",
        ],
        (&["-sf", &scenario("uac_expect_403.xml")], &[]),
        &[
            "trunk_out=\"carrier-b\"",
            "attempts=1",
            "sip_code=403",
            "answered=false",
        ],
    );
}

#[test]
fn a_carrier_challenging_with_407_gets_a_proxy_authorization() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_600 };
    call_to_carrier_b(
        "transit-auth-407",
        ports,
        &config_with(ports, "", &credentials("s3cret"), NO_PROBES),
        &["-sf", &scenario("uas_407.xml")],
        (&["-sn", "uac"], &["-d", "300"]),
        &["trunk_out=\"carrier-b\"", "attempts=1", "sip_code=200"],
    );
}

#[test]
fn a_carrier_not_answering_options_is_marked_down_and_skipped() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 25_700 };
    // T1 = 50 ms: a ping times out after 64*T1 = 3.2 s; one failure marks it down.
    // Nothing listens at carrier-b's address.
    let config = config_with(
        ports,
        "t1_ms = 50\n",
        "options_interval_s = 1\noptions_down_after = 1\n",
        NO_PROBES,
    );
    let (gw, sip) = start_gateway_with("transit-options-down", &config);
    let down = gw.wait_for("trunk down");
    assert!(down.contains("carrier-b"), "{down}");
    let trunks = &gw.health()["trunks"];
    assert_eq!(trunks["carrier-b"]["up"], false, "{trunks}");
    assert!(trunks["carrier-b"]["failed_pings"].as_u64() >= Some(1));
    assert!(trunks.get("carrier-c").is_none(), "carrier-c is not probed");
    let next = Sipp::callee(
        &gw.dir,
        "carrier-c",
        &["-sn", "uas"],
        ports.sipp(ports.carrier_c(), 1),
    );
    let caller = origin(&gw.dir, &sip, &["-sn", "uac"], ports, &["-d", "300"]);
    caller.assert_success();
    next.assert_success();
    // One attempt: carrier-b (cheaper, silent) was not tried; trying it would have
    // cost a 3.2 s timer B and a second attempt.
    assert_call_ended(
        &gw,
        &["trunk_out=\"carrier-c\"", "attempts=1", "sip_code=200"],
    );
}

/// The `m=audio` ports in the messages sipp `name` traced (`-trace_msg`).
fn audio_ports_seen(dir: &Path, name: &str) -> Vec<u16> {
    let mut ports = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(name) && file.ends_with("_messages.log") {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            ports.extend(text.lines().filter_map(|l| {
                l.trim()
                    .strip_prefix("m=audio ")?
                    .split(' ')
                    .next()?
                    .parse::<u16>()
                    .ok()
            }));
        }
    }
    ports
}

/// A call whose caller streams PCMU through dcx to `callee` (sipp arguments, run with
/// `-rtp_echo`); returns the gateway and the `rtp` counters of `/healthz` once the
/// relay has stopped.
fn rtp_call(name: &str, base: u16, callee: &[&str]) -> (Gateway, Ports, serde_json::Value) {
    rtp_call_from(name, base, callee, "uac_rtp.xml")
}

/// [`rtp_call`] with the caller's scenario `caller` (which streams `tone.ulaw`).
fn rtp_call_from(
    name: &str,
    base: u16,
    callee: &[&str],
    caller: &str,
) -> (Gateway, Ports, serde_json::Value) {
    let ports = Ports { base };
    let (gw, sip) = start_gateway(name, ports);
    // One second of PCMU silence; rtp_stream loops it.
    std::fs::write(gw.dir.join("tone.ulaw"), vec![0xFF_u8; 8000]).unwrap();
    let mut args = callee.to_vec();
    args.extend(["-rtp_echo", "-trace_msg"]);
    let callee = Sipp::callee(
        &gw.dir,
        "carrier-b",
        &args,
        ports.sipp(ports.carrier_b(), 0),
    );
    let caller = origin(
        &gw.dir,
        &sip,
        &["-sf", &scenario(caller)],
        ports,
        &["-trace_msg"],
    );
    caller.assert_success();
    callee.assert_success();
    assert_call_ended(
        &gw,
        &["trunk_out=\"carrier-b\"", "sip_code=200", "hangup=Caller"],
    );
    // The relay stopped with the call (its ports rest in the pool's quarantine).
    let deadline = Instant::now() + Duration::from_secs(10);
    while gw.health()["rtp"]["active"] != 0 {
        assert!(Instant::now() < deadline, "the relay outlived the call");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rtp = gw.health()["rtp"].clone();
    (gw, ports, rtp)
}

#[test]
fn rtp_is_relayed_both_ways_through_dcx() {
    if !have_sipp() {
        return;
    }
    let (gw, ports, rtp) = rtp_call("transit-rtp", 25_800, &["-sn", "uas"]);
    // Each side's SDP pointed at dcx: the origin saw a dcx port in the 200, the carrier
    // one in the INVITE.
    for side in ["uac_rtp", "uas"] {
        let seen = audio_ports_seen(&gw.dir, side);
        assert!(
            seen.iter().any(|p| ports.rtp().contains(p)),
            "{side} saw no dcx RTP port in SDP: {seen:?}"
        );
    }
    // 50 packets/s for 2 s streamed; the echo came back through the relay.
    let (out, back) = (
        rtp["origin_to_carrier"].as_u64().unwrap(),
        rtp["carrier_to_origin"].as_u64().unwrap(),
    );
    assert!(out >= 50 && back >= 50, "RTP relayed: {rtp}");
    assert_eq!(
        (rtp["started"].as_u64(), rtp["transcoded"].as_u64()),
        (Some(1), Some(0)),
        "{rtp}"
    );
}

#[test]
fn pcmu_from_the_origin_is_transcoded_for_a_pcma_carrier() {
    if !have_sipp() {
        return;
    }
    let (gw, _, rtp) = rtp_call("transit-pcma", 25_900, &["-sf", &scenario("uas_pcma.xml")]);
    // The caller offered PCMU only and was answered PCMU; the carrier was offered both
    // and chose PCMA.
    let messages = |prefix: &str| {
        std::fs::read_dir(&gw.dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                let f = e.file_name().to_string_lossy().into_owned();
                f.starts_with(prefix) && f.ends_with("_messages.log")
            })
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .collect::<String>()
    };
    let m_lines = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.trim().starts_with("m=audio"))
            .map(|l| l.trim().to_owned())
            .collect()
    };
    let caller_saw = m_lines(&messages("uac_rtp"));
    assert!(
        caller_saw.iter().all(|m| m.ends_with("RTP/AVP 0")),
        "{caller_saw:?}"
    );
    let carrier_saw = m_lines(&messages("uas_pcma"));
    assert!(
        carrier_saw.iter().any(|m| m.ends_with("RTP/AVP 0 8")),
        "{carrier_saw:?}"
    );
    let (out, back, transcoded) = (
        rtp["origin_to_carrier"].as_u64().unwrap(),
        rtp["carrier_to_origin"].as_u64().unwrap(),
        rtp["transcoded"].as_u64().unwrap(),
    );
    assert!(out >= 50 && back >= 50, "RTP relayed: {rtp}");
    assert!(
        transcoded >= out + back - 4,
        "every PCMU/PCMA packet transcoded: {rtp}"
    );
}

#[test]
fn hold_and_unhold_reinvites_are_relayed_between_the_legs() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 26_000 };
    let (gw, sip) = start_gateway("transit-hold", ports);
    let callee = Sipp::callee(
        &gw.dir,
        "carrier-b",
        &["-sf", &scenario("uas_hold.xml"), "-trace_msg"],
        ports.sipp(ports.carrier_b(), 0),
    );
    let caller = origin(
        &gw.dir,
        &sip,
        &["-sf", &scenario("uac_hold.xml")],
        ports,
        &["-trace_msg"],
    );
    caller.assert_success();
    callee.assert_success();
    assert_call_ended(
        &gw,
        &["trunk_out=\"carrier-b\"", "sip_code=200", "hangup=Caller"],
    );
    // Every SDP either side saw (first offer and answer, both re-INVITEs and their
    // answers) pointed at dcx, never at the other sipp.
    for side in ["uac_hold", "uas_hold"] {
        let seen = audio_ports_seen(&gw.dir, side);
        assert!(seen.len() >= 6, "{side} saw {seen:?}");
        let theirs: Vec<u16> = seen
            .iter()
            .copied()
            .filter(|p| !ports.rtp().contains(p))
            .collect();
        // What a side sent itself carries its own media port; what it received, ours.
        let own = if side == "uac_hold" {
            ports.media(3)
        } else {
            ports.media(0)
        };
        assert!(theirs.iter().all(|p| *p == own), "{side}: {seen:?}");
        assert!(
            seen.iter().filter(|p| ports.rtp().contains(p)).count() >= 3,
            "{side} received SDP pointed at dcx: {seen:?}"
        );
    }
}

#[test]
fn dtmf_events_reach_the_carrier_with_its_payload_type() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 26_100 };
    let (gw, sip) = start_gateway("transit-dtmf", ports);
    // The carrier's media address: this socket sees what dcx relays toward it.
    let sink = UdpSocket::bind(("127.0.0.1", ports.base + 46)).unwrap();
    sink.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let sink_port = ports.base + 46;
    let collector = std::thread::spawn(move || {
        let mut packets = Vec::new();
        let mut buf = [0u8; 2048];
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until && packets.len() < 100 {
            if let Ok(n) = sink.recv(&mut buf) {
                packets.push(buf[..n].to_vec());
            } else if packets.len() >= 10 {
                break; // the digit is over
            }
        }
        packets
    });
    let sink_arg = sink_port.to_string();
    let callee = Sipp::callee(
        &gw.dir,
        "carrier-b",
        &["-sf", &scenario("uas_dtmf.xml"), "-key", "sink", &sink_arg],
        ports.sipp(ports.carrier_b(), 0),
    );
    let caller = origin(
        &gw.dir,
        &sip,
        &["-sf", &scenario("uac_dtmf.xml")],
        ports,
        &[],
    );
    caller.assert_success();
    callee.assert_success();
    assert_call_ended(&gw, &["trunk_out=\"carrier-b\"", "sip_code=200"]);
    let packets = collector.join().unwrap();
    // dtmf_2833_1.pcap: digit 1 in 10 packets, durations 0..2240 step 320, the last
    // three with the end bit; all offered as 101, all must arrive as 96.
    let events: Vec<(u8, u8, bool, u16)> = packets
        .iter()
        .filter(|p| p.len() >= 16)
        .map(|p| {
            (
                p[1] & 0x7f,
                p[12],
                p[13] & 0x80 != 0,
                u16::from_be_bytes([p[14], p[15]]),
            )
        })
        .collect();
    assert!(events.len() >= 8, "{events:?}");
    assert!(
        events.iter().all(|&(pt, digit, ..)| pt == 96 && digit == 1),
        "telephone-event 101 relayed as 96: {events:?}"
    );
    assert_eq!(
        packets[0][1] & 0x80,
        0x80,
        "the event's first packet keeps its marker"
    );
    let ends: Vec<_> = events.iter().filter(|e| e.2).collect();
    assert!(
        !ends.is_empty() && ends.iter().all(|e| e.3 == 2240),
        "{events:?}"
    );
    let durations: Vec<u16> = events.iter().filter(|e| !e.2).map(|e| e.3).collect();
    assert!(durations.windows(2).all(|w| w[0] < w[1]), "{durations:?}");
}

#[test]
fn a_call_over_tcp_on_both_legs() {
    if !have_sipp() {
        return;
    }
    // The origin connects over TCP; carrier-b is a TCP trunk dcx connects to. The
    // carrier hangs up (BYE over its connection), dcx relays it on the origin's.
    let ports = Ports { base: 26_200 };
    let tcp = "transport = \"tcp\"\noptions_interval_s = 0\n";
    let (gw, sip) = start_gateway_with("transit-tcp", &config_with(ports, "", tcp, NO_PROBES));
    let callee = Sipp::callee_tcp(
        &gw.dir,
        "carrier-b",
        &["-sf", &scenario("uas_bye.xml"), "-t", "t1"],
        ports.sipp(ports.carrier_b(), 0),
    );
    let caller = origin(
        &gw.dir,
        &sip,
        &["-sf", &scenario("uac_wait_bye.xml"), "-t", "t1"],
        ports,
        &[],
    );
    caller.assert_success();
    callee.assert_success();
    assert_call_ended(
        &gw,
        &["trunk_out=\"carrier-b\"", "sip_code=200", "hangup=Callee"],
    );
    let tcp = gw.health()["sip"]["tcp"].clone();
    assert_eq!(
        (tcp["accepted"].as_u64(), tcp["connected"].as_u64()),
        (Some(1), Some(1)),
        "one connection from the origin, one to the carrier: {tcp}"
    );
    assert_eq!(tcp["framing_errors"].as_u64(), Some(0), "{tcp}");
    // Both sipps ran `-t t1`: had dcx sent anything over UDP they would have timed out.
}

#[test]
fn a_late_offer_is_offered_in_the_200_and_answered_in_the_ack() {
    if !have_sipp() {
        return;
    }
    let (gw, ports, rtp) = rtp_call_from(
        "transit-late",
        26_300,
        &["-sn", "uas"],
        "uac_late_offer.xml",
    );
    // The caller got an offer from dcx in the 200; the carrier got dcx's own offer.
    for side in ["uac_late_offer", "uas"] {
        let seen = audio_ports_seen(&gw.dir, side);
        assert!(
            seen.iter().any(|p| ports.rtp().contains(p)),
            "{side} saw no dcx RTP port in SDP: {seen:?}"
        );
    }
    let (out, back) = (
        rtp["origin_to_carrier"].as_u64().unwrap(),
        rtp["carrier_to_origin"].as_u64().unwrap(),
    );
    assert!(out >= 50 && back >= 50, "RTP relayed: {rtp}");
}

#[test]
fn a_registration_trunk_is_registered_with_digest_and_refreshed() {
    if !have_sipp() {
        return;
    }
    let ports = Ports { base: 26_400 };
    let register = format!(
        "{}register = true\nregister_expires_s = 600\n",
        credentials("s3cret")
    );
    let config = config_with(ports, "", &register, NO_PROBES);
    let (gw, _) = start_gateway_with("transit-register", &config);
    // dcx registers at start-up: the registrar must be there first, so start it, then
    // give dcx a moment (its first REGISTER is retransmitted by timer E if it was early).
    let registrar = Sipp::callee(
        &gw.dir,
        "carrier-b",
        &[
            "-sf",
            &scenario("uas_register.xml"),
            "-set",
            "user",
            "gw",
            "-set",
            "pass",
            "s3cret",
        ],
        ports.sipp(ports.carrier_b(), 0),
    );
    registrar.assert_success();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let reg = gw.health()["registrations"]["carrier-b"].clone();
        if reg["successes"] == 2 {
            assert_eq!(reg["state"], "registered", "{reg}");
            assert!(reg["expires_in_s"].as_u64().unwrap() > 3000, "{reg}");
            break;
        }
        assert!(Instant::now() < deadline, "not registered twice: {reg}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
