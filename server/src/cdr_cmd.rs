//! `dcx cdr`: the call detail records, newest first, as a table or JSON lines.

use crate::cdr::{render_table, write_json_lines, CdrQuery, CdrStore};
use crate::config::{self, Source};
use clap::Args;
use dcx_routing::deck::fields::parse_timestamp;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub struct CdrArgs {
    /// The CDR file (default: the one the config names, `[cdr] path`).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Records that started at or after this UTC time (YYYY-MM-DD[THH:MM:SSZ] or unix seconds).
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Records that started before this UTC time.
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    /// One call's records (the call and its attempts).
    #[arg(long)]
    call_id: Option<String>,
    /// Records through this trunk (in or out).
    #[arg(long)]
    trunk: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn main(args: &CdrArgs, config_path: Option<&Path>) -> ExitCode {
    match run(args, config_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dcx cdr: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &CdrArgs, config_path: Option<&Path>) -> Result<(), String> {
    let path = match (&args.db, config_path) {
        (Some(db), _) => db.clone(),
        (None, Some(cfg)) => config::load_file(cfg)
            .map_err(|p| p.to_string())?
            .cdr_path(),
        (None, None) => config::parse(config::DEMO_CONFIG, Source::Embedded)
            .map_err(|p| p.to_string())?
            .cdr_path(),
    };
    let time = |t: &Option<String>, flag: &str| -> Result<Option<i64>, String> {
        t.as_deref()
            .map(|t| {
                parse_timestamp(t)
                    .map(|s| s * 1000)
                    .map_err(|e| format!("--{flag}: {e}"))
            })
            .transpose()
    };
    let query = CdrQuery {
        since_ms: time(&args.since, "since")?,
        until_ms: time(&args.until, "until")?,
        call_id: args.call_id.clone(),
        trunk: args.trunk.clone(),
        limit: Some(args.limit),
    };
    let store = CdrStore::open_read_only(&path).map_err(|e| e.to_string())?;
    let records = store.query(&query).map_err(|e| e.to_string())?;
    if args.json {
        let stdout = std::io::stdout();
        write_json_lines(stdout.lock(), &records).map_err(|e| e.to_string())?;
    } else {
        print!("{}", render_table(&records));
    }
    Ok(())
}
