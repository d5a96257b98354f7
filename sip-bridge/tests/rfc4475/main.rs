//! RFC 4475 torture messages as a blocking test, driven by `tests/data/rfc4475/EXPECTED.tsv`.
//!
//! Every `valid` message parses and validates; every `valid-semantic-oddity` parses and
//! either validates or gets the status its `[...]` note names; every `invalid` and
//! `invalid-semantic` message is rejected by the parser or by validation, with a status the
//! note allows (400 where it names none), or is a response to drop. Nothing panics.
//! `expected()` states each verdict explicitly; the test also checks it against the note.

#[path = "../support/exercise.rs"]
mod exercise;
use dcx_sip::message::looks_like_response;
use dcx_sip::validate::{self, Policy};
use dcx_sip::{Message, SipError};
use std::path::PathBuf;

/// What this B2BUA supports when the torture messages arrive.
const POLICY: Policy<'static> = Policy {
    supported_option_tags: &["timer", "100rel", "replaces"],
    uri_schemes: &["sip", "sips", "tel"],
    accepted_content_types: Some(&["application/sdp", "multipart/mixed", "text/plain"]),
    answer_content_type: Some("application/sdp"),
    require_max_forwards: false,
};

/// The reaction the message layer must produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Parses and validates.
    Accept,
    /// A request rejected with this status.
    Reject(u16),
    /// A response that fails: dropped, never answered.
    Drop,
}

fn expected(name: &str) -> Expect {
    use Expect::{Accept, Drop, Reject};
    match name {
        // 3.1.1 valid and 3.4.1 RFC 2543 compatibility; then the 3.2.1 and 3.3.x
        // oddities a B2BUA (acting as a UAS) processes normally.
        "wsinv" | "intmeth" | "esc01" | "escnull" | "esc02" | "lwsdisp" | "longreq" | "dblreq"
        | "semiuri" | "transports" | "mpart01" | "unreason" | "noreason" | "inv2543"
        | "badbranch" | "bcast" | "cparam01" | "cparam02" | "regaut01" | "regescrt" | "zeromf" => {
            Accept
        }
        // Invalid grammar, framing or message-level rules (3.1.2, 3.3.1, 3.3.8, 3.3.9,
        // test.dat), and the REGISTER whose To is not a SIP URI (3.3.4).
        "badaspec" | "baddate" | "baddn" | "badinv01" | "clerr" | "escruri" | "insuf"
        | "ltgtruri" | "lwsruri" | "lwsstart" | "mcl01" | "mismatch01" | "mismatch02"
        | "multi01" | "ncl" | "quotbal" | "regbadct" | "scalar02" | "test" | "trws" | "unksm2" => {
            Reject(400)
        }
        "sdp01" => Reject(406),
        "invut" => Reject(415),
        "novelsc" | "unkscm" => Reject(416),
        "bext01" => Reject(420),
        "badvers" => Reject(505),
        "bigcode" | "scalarlg" => Drop,
        other => panic!("no expectation for {other}.dat: add one"),
    }
}

struct Row {
    name: String,
    verdict: String,
    note: String,
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc4475")
}

fn rows() -> Vec<Row> {
    let tsv = std::fs::read_to_string(data_dir().join("EXPECTED.tsv")).expect("EXPECTED.tsv");
    tsv.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            assert_eq!(cols.len(), 4, "bad row: {l}");
            Row {
                name: cols[0].trim_end_matches(".dat").to_owned(),
                verdict: cols[1].to_owned(),
                note: cols[3].to_owned(),
            }
        })
        .collect()
}

fn load(name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(format!("{name}.dat"))).expect("torture file")
}

/// The 3-digit status codes named in the `[...]` note, if any.
fn note_codes(note: &str) -> Vec<u16> {
    let Some(bracket) = note.strip_prefix('[').and_then(|n| n.split_once(']')) else {
        return Vec::new();
    };
    bracket
        .0
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 3)
        .filter_map(|w| w.parse().ok())
        .filter(|c| (100..700).contains(c))
        .collect()
}

/// Where a message is stopped, if it is.
fn outcome(raw: &[u8]) -> Result<Message<'_>, (&'static str, SipError)> {
    let msg = Message::parse_datagram(raw).map_err(|e| ("parse", e))?;
    let checked = if msg.is_request() {
        validate::request(&msg, &POLICY)
    } else {
        validate::response(&msg)
    };
    checked.map_err(|e| ("validate", e))?;
    Ok(msg)
}

#[test]
fn every_message_meets_its_verdict() {
    let rows = rows();
    assert_eq!(
        rows.len(),
        50,
        "EXPECTED.tsv lists 49 RFC messages plus test.dat"
    );
    let mut files: Vec<_> = std::fs::read_dir(data_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".dat").map(str::to_owned)
        })
        .collect();
    files.sort();
    let mut listed: Vec<_> = rows.iter().map(|r| r.name.clone()).collect();
    listed.sort();
    assert_eq!(files, listed, "every .dat file has exactly one row");

    let mut failures = Vec::new();
    println!("{:<11} {:<22} {:<9} result", "file", "verdict", "stage");
    for row in &rows {
        let raw = load(&row.name);
        exercise::exercise(&raw);
        let expect = expected(&row.name);
        let codes = note_codes(&row.note);
        // The explicit table must agree with the verdict and the note.
        match (row.verdict.as_str(), expect) {
            ("valid", Expect::Accept)
            | ("valid-semantic-oddity", _)
            | ("invalid" | "invalid-semantic", Expect::Reject(_) | Expect::Drop) => {}
            (v, e) => failures.push(format!("{}: table says {e:?} for verdict {v}", row.name)),
        }
        if let Expect::Reject(code) = expect {
            if !codes.is_empty() && !codes.contains(&code) {
                failures.push(format!(
                    "{}: {code} is not in the note's {codes:?}",
                    row.name
                ));
            }
        }
        if expect == Expect::Drop && !row.note.contains("drop") {
            failures.push(format!("{}: note does not say drop", row.name));
        }
        let got = outcome(&raw);
        let (stage, result) = match &got {
            Ok(_) => ("-", "accepted".to_owned()),
            Err((stage, e)) => (*stage, format!("{} ({e})", e.sip_status())),
        };
        println!("{:<11} {:<22} {:<9} {result}", row.name, row.verdict, stage);
        let ok = match (expect, &got) {
            (Expect::Accept, Ok(_)) => true,
            (Expect::Reject(code), Err((_, e))) => {
                e.sip_status() == code && !looks_like_response(&raw)
            }
            (Expect::Drop, Err(_)) => looks_like_response(&raw),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{}: expected {expect:?}, got {result} at {stage}",
                row.name
            ));
        }
        // Oddities must at least parse, whatever validation says.
        if row.verdict.starts_with("valid") && Message::parse_datagram(&raw).is_err() {
            failures.push(format!(
                "{}: a {} message must parse",
                row.name, row.verdict
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A rejected request can still be answered: the 400 is built from what did parse.
#[test]
fn rejected_requests_get_a_parseable_error_response() {
    for row in rows() {
        let raw = load(&row.name);
        let Err((_, err)) = outcome(&raw) else {
            continue;
        };
        if looks_like_response(&raw) {
            continue;
        }
        let Ok(head) = Message::parse_datagram(&raw).or_else(|_| Message::parse_head_only(&raw))
        else {
            // Start line or header line unusable: nothing to address a response to.
            assert!(err.breaks_stream(), "{}: {err}", row.name);
            continue;
        };
        let reason = err.reason_phrase().as_bytes();
        let mut out = Vec::new();
        dcx_sip::response_to(&head, err.sip_status(), reason, Some("dcx1"))
            .unwrap()
            .write_to(&mut out)
            .unwrap();
        let resp = Message::parse_datagram(&out).unwrap();
        assert_eq!(resp.status_code(), Some(err.sip_status()), "{}", row.name);
        assert_eq!(
            resp.headers_of(dcx_sip::HeaderName::Via).count(),
            head.headers_of(dcx_sip::HeaderName::Via).count()
        );
        if let (Ok(req_to), Ok(resp_to)) = (head.to(), resp.to()) {
            assert_eq!(resp_to.tag(), req_to.tag().or(Some("dcx1")), "{}", row.name);
        }
    }
}

mod fields;
