//! `dcx route`: the operator's view of the routing core.
//!
//! `dcx route --deck FILE [--config FILE] [--json] NUMBER...`; `-` reads numbers one per
//! line from stdin. Every input line gets one answer line (JSON) or block (table); a bad
//! line is reported and the rest go on; the exit status is 1 if any line failed.

use crate::config::{self, Loaded};
use clap::Args;
use dcx_routing::deck::fields::{nano_to_f64, parse_timestamp};
use dcx_routing::rng::SplitMix64;
use dcx_routing::{
    CarrierSnapshot, Decision, DecisionInput, RateTable, RouteError, Router, Verdict,
};
use serde_json::json;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct RouteArgs {
    /// Rate deck CSV (default: the deck the config names).
    #[arg(long, value_name = "FILE")]
    deck: Option<PathBuf>,
    /// One JSON object per input line instead of a table.
    #[arg(long)]
    json: bool,
    /// Route as of this UTC time (YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds); default now.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Seed for the weighted draw among equal-cost carriers (default: random).
    #[arg(long)]
    seed: Option<u64>,
    /// Numbers to route; `-` reads them from stdin, one per line.
    #[arg(required = true, value_name = "NUMBER")]
    numbers: Vec<String>,
}

pub fn main(args: &RouteArgs, config_path: Option<&Path>) -> ExitCode {
    match build(args, config_path) {
        Ok((router, at_s)) => run(args, &router, at_s),
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

fn build(args: &RouteArgs, config_path: Option<&Path>) -> Result<(Router, i64), String> {
    let at_s = match &args.at {
        Some(t) => parse_timestamp(t).map_err(|e| format!("--at: {e}"))?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    };
    let loaded: Option<Loaded> = config_path
        .map(config::load_file)
        .transpose()
        .map_err(|p| p.to_string())?;
    let (deck_name, deck_text) = match (&args.deck, &loaded) {
        (Some(path), _) => config::read_deck_file(path),
        (None, Some(l)) => l.read_deck(),
        (None, None) => return Err("dcx route: give --deck FILE or --config FILE".into()),
    }
    .map_err(|p| p.to_string())?;
    let table = RateTable::from_csv(&deck_text)
        .map_err(|e| config::deck_problems(&deck_name, &e).to_string())?;
    let router = match loaded {
        Some(l) => l.router_with_table(table, usize::MAX),
        // The deck alone: every carrier in LCR order, no dial plan, default failover.
        None => Router::new(
            table,
            dcx_routing::NumberPlan::default(),
            Vec::new(),
            dcx_routing::RoutingPolicy::new(
                dcx_routing::FailoverPolicy::default(),
                std::collections::HashMap::default(),
                usize::MAX,
            ),
        ),
    };
    Ok((router, at_s))
}

fn run(args: &RouteArgs, router: &Router, at_s: i64) -> ExitCode {
    let seed = args.seed.unwrap_or_else(|| {
        use std::hash::{BuildHasher, Hasher};
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let mut rng = SplitMix64::new(seed);
    let snapshot = CarrierSnapshot::default();
    let input = DecisionInput {
        at_s,
        carriers: &snapshot,
        quality: None,
        explain: true,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut failed = false;
    // Returns whether the line routed.
    let mut route_one = |number: &str, out: &mut dyn Write| -> std::io::Result<bool> {
        let number = number.trim();
        let result = router.decide(number, &input, &mut rng);
        if args.json {
            writeln!(out, "{}", to_json(number, &result))?;
        } else {
            write_table(out, number, &result)?;
        }
        Ok(result.is_ok())
    };
    let mut io_result = Ok(());
    for arg in &args.numbers {
        if arg == "-" {
            for line in std::io::stdin().lock().lines() {
                match line {
                    Ok(l) if l.trim().is_empty() => {}
                    Ok(l) => match route_one(&l, &mut out) {
                        Ok(ok) => failed |= !ok,
                        Err(e) => {
                            io_result = Err(e);
                            break;
                        }
                    },
                    Err(e) => {
                        eprintln!("dcx route: reading stdin: {e}");
                        failed = true;
                        break;
                    }
                }
            }
        } else {
            match route_one(arg, &mut out) {
                Ok(ok) => failed |= !ok,
                Err(e) => io_result = Err(e),
            }
        }
        if io_result.is_err() {
            break;
        }
    }
    if let Err(e) = io_result.and_then(|()| out.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("dcx route: writing output: {e}");
        }
        return ExitCode::FAILURE;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn to_json(input: &str, result: &Result<Decision, RouteError>) -> serde_json::Value {
    match result {
        Err(e) => json!({ "number": input, "error": e.to_string(), "sip_code": e.sip_status() }),
        Ok(d) => {
            let candidates: Vec<_> = d
                .candidates
                .iter()
                .map(|c| {
                    json!({
                        "carrier": &*c.carrier,
                        "prefix": d.prefix_of(c),
                        "rate": c.rate(),
                        "connect_fee": nano_to_f64(c.tariff.connect_fee_nano),
                        "increment_s": c.tariff.increment_s,
                        "min_duration_s": c.tariff.min_duration_s,
                        "priority": c.tariff.priority,
                        "weight": c.tariff.weight,
                        "demoted": c.demoted,
                        "failover": &*c.failover,
                    })
                })
                .collect();
            let explain = d.explain.as_ref().map(|x| {
                json!({
                    "normalized_by": x.normalized_by,
                    "carriers": x.carriers.iter().map(|l| json!({
                        "carrier": &*l.carrier,
                        "prefix": l.prefix,
                        "rate": l.rate,
                        "priority": l.priority,
                        "weight": l.weight,
                        "verdict": verdict_text(&l.verdict),
                    })).collect::<Vec<_>>(),
                })
            });
            json!({
                "number": input,
                "normalized": d.number.as_str(),
                "candidates": candidates,
                "explain": explain,
            })
        }
    }
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Candidate(i) => format!("candidate #{}", i + 1),
        Verdict::Demoted { position, reason } => {
            format!("candidate #{} (demoted: {reason})", position + 1)
        }
        Verdict::Skipped(why) => format!("skipped: {why}"),
        Verdict::BeyondMaxAttempts => "beyond max_attempts".into(),
    }
}

fn write_table(
    out: &mut dyn Write,
    input: &str,
    result: &Result<Decision, RouteError>,
) -> std::io::Result<()> {
    let d = match result {
        Err(e) => return writeln!(out, "{input}: error: {e} (SIP {})\n", e.sip_status()),
        Ok(d) => d,
    };
    let how = d
        .explain
        .as_ref()
        .and_then(|x| x.normalized_by.as_deref())
        .map_or(String::new(), |r| format!(" (normalized by rule {r:?})"));
    writeln!(out, "{input} -> {}{how}", d.number)?;
    writeln!(
        out,
        "  {:<20} {:<16} {:>10} {:>5} {:>6}  verdict",
        "carrier", "prefix", "rate/min", "prio", "weight"
    )?;
    for l in d.explain.iter().flat_map(|x| &x.carriers) {
        writeln!(
            out,
            "  {:<20} {:<16} {:>10.6} {:>5} {:>6}  {}",
            &*l.carrier,
            l.prefix,
            l.rate,
            l.priority,
            l.weight,
            verdict_text(&l.verdict)
        )?;
    }
    writeln!(out)
}
