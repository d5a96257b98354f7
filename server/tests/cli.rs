//! The `dcx` binary end to end: `route`, `check-config`, and the gateway's health and
//! deck reload on SIGHUP.

mod support;

use std::io::Write;
use std::process::Stdio;
use support::{dcx, tempdir, write, Gateway};

const DECK: &str = "prefix,carrier,rate\n1,c1,0.0200\n1415,c3,0.0123\n1415,c2,0.0150\n44,c1,0.03\n";

#[test]
fn route_json_gives_lcr_order_and_reports_bad_lines() {
    let dir = tempdir("route");
    let deck = write(&dir, "deck.csv", DECK);
    let mut child = dcx()
        .args(["route", "--json", "--deck"])
        .arg(&deck)
        .args(["14155550100", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"12ab\n442079460000\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad line makes the exit status non-zero"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["number"], "14155550100");
    let c = &lines[0]["candidates"];
    let carriers: Vec<&str> = c
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["carrier"].as_str().unwrap())
        .collect();
    assert_eq!(carriers, ["c3", "c2", "c1"]);
    assert_eq!(c[0]["prefix"], "1415");
    assert_eq!(c[0]["rate"], 0.0123);
    assert_eq!(c[2]["prefix"], "1");
    assert_eq!(lines[1]["number"], "12ab");
    assert!(lines[1]["error"]
        .as_str()
        .unwrap()
        .contains("invalid character 'a'"));
    assert_eq!(lines[2]["candidates"][0]["carrier"], "c1");

    let ok = dcx()
        .args(["route", "--json", "--deck"])
        .arg(&deck)
        .arg("14155550100")
        .output()
        .unwrap();
    assert!(ok.status.success());
}

#[test]
fn route_table_explains_with_the_config_dial_plan_and_deny_list() {
    let dir = tempdir("route-table");
    write(&dir, "deck.csv", DECK);
    let cfg = write(
        &dir,
        "dcx.toml",
        "[routing]\ndeck = \"deck.csv\"\nmax_attempts = 2\nblocked = [{ prefix = \"1900\", reason = \"premium\" }]\n\
         [[routing.normalize]]\nname = \"nanp-10\"\nlengths = [10]\nprepend = \"1\"\n",
    );
    let out = dcx()
        .arg("--config")
        .arg(&cfg)
        .args(["route", "4155550100", "19005550100"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("4155550100 -> 14155550100 (normalized by rule \"nanp-10\")"),
        "{text}"
    );
    assert!(
        text.contains("candidate #1") && text.contains("beyond max_attempts"),
        "{text}"
    );
    assert!(
        text.contains("blocked by rule \"premium\" (prefix 1900)"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_config_lists_every_problem_with_file_line_and_field() {
    let dir = tempdir("check");
    write(
        &dir,
        "deck.csv",
        "prefix,carrier,rate\n1,c1,0.01\n+44,c2,abc\n",
    );
    let cfg = write(
        &dir,
        "dcx.toml",
        "[routing]\ndeck = \"deck.csv\"\n\n[routing.failover]\nretry_codes = [503, 486]\n",
    );
    let out = dcx().arg("check-config").arg(&cfg).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(&format!(
            "{}:5: routing.failover.retry_codes: 486 ends the call",
            cfg.display()
        )),
        "{err}"
    );

    let cfg = write(&dir, "dcx.toml", "[routing]\ndeck = \"deck.csv\"\n");
    let out = dcx().arg("check-config").arg(&cfg).output().unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    let deck = dir.join("deck.csv");
    assert!(
        err.contains(&format!(
            "{}:3: prefix: \"+44\": prefixes are E.164 digits without '+'",
            deck.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{}:3: rate: \"abc\"", deck.display())),
        "{err}"
    );

    write(&dir, "deck.csv", DECK);
    let out = dcx().arg("check-config").arg(&cfg).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains("ok ("));
}

#[test]
fn gateway_serves_health_and_reloads_the_deck_on_sighup() {
    let gw = Gateway::start(
        "gateway",
        "[server]\nhttp_listen = \"127.0.0.1:0\"\n[routing]\ndeck = \"deck.csv\"\n",
        &[("deck.csv", DECK)],
    );
    let deck = gw.dir.join("deck.csv");
    let h = gw.health();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["routing"]["rows"], 4);

    // A broken deck is refused and the old one stays in effect.
    std::fs::write(&deck, "prefix,carrier,rate\n1,c1,zero\n").unwrap();
    gw.signal("-HUP");
    gw.wait_for("reload failed");
    let h = gw.health();
    assert_eq!(
        (
            h["routing"]["rows"].as_u64(),
            h["routing"]["failed_reloads"].as_u64()
        ),
        (Some(4), Some(1))
    );

    std::fs::write(&deck, format!("{DECK}49,c4,0.01\n")).unwrap();
    gw.signal("-HUP");
    gw.wait_for("rate deck reloaded");
    let h = gw.health();
    assert_eq!(
        (
            h["routing"]["rows"].as_u64(),
            h["routing"]["reloads"].as_u64()
        ),
        (Some(5), Some(1))
    );

    gw.signal("-TERM");
    let mut gw = gw;
    let status = gw.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_bad_config_stops_the_gateway_with_located_problems() {
    let dir = tempdir("badcfg");
    let cfg = write(&dir, "dcx.toml", "[routing]\ndeck = \"missing.csv\"\n");
    let out = dcx().arg("--config").arg(&cfg).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("missing.csv:0: routing.deck: cannot read the rate deck"),
        "{err}"
    );
}

#[test]
fn cdr_on_a_missing_store_says_which_file() {
    let dir = tempdir("cdr-missing");
    let db = dir.join("nope.sqlite");
    let out = dcx().args(["cdr", "--db"]).arg(&db).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("dcx cdr: CDR store ") && err.contains("nope.sqlite"),
        "{err}"
    );
    assert!(!db.exists(), "reading never creates a store");
}
