//! Routing benchmarks: `cargo bench -p dcx-routing` (or `bench/routing`, which also
//! fetches the real geographic prefixes).
//!
//! Criterion measures each operation's mean; then a summary measures what criterion does
//! not report: per-operation median and p99 (single operations timed with `Instant`, the
//! timer's own median cost measured in the same run and subtracted), lookups per second
//! on one core, the FST lookup against a naive baseline (a `HashMap` per carrier probed
//! from the longest prefix to the shortest) with the ratio, compile time and the compiled
//! table's size.

#![allow(clippy::many_single_char_names)]

#[path = "agents_data.rs"]
mod agents_data;
#[path = "deck_data.rs"]
mod deck_data;

use criterion::{black_box, Criterion};
use dcx_routing::rng::SplitMix64;
use dcx_routing::{
    CallOutcome, CarrierSnapshot, DecisionInput, NormalizeRule, NumberPlan, QualityBook,
    QualityConfig, RateMatch, RateTable, Router, RoutingPolicy,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const ROWS: usize = 1_000_000;
const CARRIERS: usize = 20;

/// The baseline a first implementation would write: one hash map per carrier from
/// (prefix length, prefix value) to its row, probed from the longest prefix down.
struct NaiveTable {
    carriers: Vec<HashMap<u64, (u64, i64, i64)>>,
}

impl NaiveTable {
    fn new(csv: &str) -> Self {
        let mut carriers: Vec<HashMap<u64, (u64, i64, i64)>> = vec![HashMap::new(); CARRIERS];
        for line in csv.lines().skip(1) {
            let mut f = line.split(',');
            let (Some(p), Some(c), Some(r)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            let c: usize = c[1..].parse().unwrap();
            let rate = dcx_routing::deck::fields::parse_decimal_nano(r).unwrap();
            carriers[c].insert(key(p.as_bytes()), (rate, i64::MIN, i64::MAX));
        }
        Self { carriers }
    }

    fn matches(&self, digits: &[u8], at_s: i64, out: &mut Vec<(usize, u8, u64)>) {
        out.clear();
        let mut keys = [0u64; 16];
        let n = digits.len().min(15);
        let mut v = 0u64;
        for i in 0..n {
            v = v * 10 + u64::from(digits[i] - b'0');
            keys[i + 1] = v * 16 + (i as u64 + 1);
        }
        for (c, map) in self.carriers.iter().enumerate() {
            for len in (1..=n).rev() {
                if let Some(&(rate, from, until)) = map.get(&keys[len]) {
                    if from <= at_s && at_s < until {
                        out.push((c, len as u8, rate));
                        break;
                    }
                }
            }
        }
    }
}

fn key(p: &[u8]) -> u64 {
    p.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0')) * 16 + p.len() as u64
}

/// Median and p99 in nanoseconds of `op(i)` over `samples` single calls.
fn percentiles(samples: usize, mut op: impl FnMut(usize)) -> (f64, f64) {
    let overhead = {
        let mut t: Vec<u64> = (0..10_000)
            .map(|_| {
                let t0 = Instant::now();
                black_box(());
                t0.elapsed().as_nanos() as u64
            })
            .collect();
        t.sort_unstable();
        t[t.len() / 2]
    };
    for i in 0..samples / 10 {
        op(i); // warm up
    }
    let mut t: Vec<u64> = (0..samples)
        .map(|i| {
            let t0 = Instant::now();
            op(i);
            (t0.elapsed().as_nanos() as u64).saturating_sub(overhead)
        })
        .collect();
    t.sort_unstable();
    (t[t.len() / 2] as f64, t[t.len() * 99 / 100] as f64)
}

/// Operations per second of `op` over `n` calls in a tight loop.
fn throughput(n: usize, mut op: impl FnMut(usize)) -> f64 {
    let t0 = Instant::now();
    for i in 0..n {
        op(i);
    }
    n as f64 / t0.elapsed().as_secs_f64()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rss_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

struct Fixture {
    csv: String,
    table: RateTable,
    naive: NaiveTable,
    numbers: Vec<String>,
}

fn fixture(csv: String, prefixes: &[String]) -> Fixture {
    let table = RateTable::from_csv(&csv).expect("deck compiles");
    let naive = NaiveTable::new(&csv);
    let numbers = deck_data::numbers(prefixes, 100_000, 7);
    Fixture {
        csv,
        table,
        naive,
        numbers,
    }
}

fn lookup_summary(name: &str, f: &Fixture) {
    lookup_figures(name, f, f.numbers.len());
    // Real traffic concentrates on popular destinations: the same lookups over 1,000
    // distinct numbers, whose paths stay in the CPU caches.
    lookup_figures(&format!("{name}, 1,000 hot numbers"), f, 1000);
}

fn lookup_figures(name: &str, f: &Fixture, n: usize) {
    let mut out: Vec<RateMatch> = Vec::with_capacity(CARRIERS);
    let mut naive_out = Vec::with_capacity(CARRIERS);
    // Same answers, or the comparison means nothing.
    for num in f.numbers.iter().take(2000) {
        f.table.matches(num.as_bytes(), 0, &mut out);
        f.naive.matches(num.as_bytes(), 0, &mut naive_out);
        let mut a: Vec<_> = out.iter().map(|m| (m.prefix_len, m.rate_nano)).collect();
        let mut b: Vec<_> = naive_out.iter().map(|m| (m.1, m.2)).collect();
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b, "FST and naive disagree on {num}");
    }
    let (fst_med, fst_p99) = percentiles(300_000, |i| {
        f.table
            .matches(black_box(f.numbers[i % n].as_bytes()), 0, &mut out);
    });
    let fst_rate = throughput(1_000_000, |i| {
        f.table
            .matches(black_box(f.numbers[i % n].as_bytes()), 0, &mut out);
    });
    let (naive_med, naive_p99) = percentiles(300_000, |i| {
        f.naive
            .matches(black_box(f.numbers[i % n].as_bytes()), 0, &mut naive_out);
    });
    let naive_rate = throughput(1_000_000, |i| {
        f.naive
            .matches(black_box(f.numbers[i % n].as_bytes()), 0, &mut naive_out);
    });
    let avg_matches = f
        .numbers
        .iter()
        .take(n)
        .map(|num| {
            f.table.matches(num.as_bytes(), 0, &mut out);
            out.len()
        })
        .sum::<usize>() as f64
        / n as f64;
    println!(
        "\n== lookup, {name}: {} rows, {} prefixes, {} carriers, {n} distinct numbers, {avg_matches:.1} carriers match a number on average",
        f.table.rows(),
        f.table.prefixes(),
        f.table.carriers().len()
    );
    println!(
        "  fst    median {fst_med:>7.0} ns  p99 {fst_p99:>7.0} ns  {:>6.2} M lookups/s",
        fst_rate / 1e6
    );
    println!(
        "  naive  median {naive_med:>7.0} ns  p99 {naive_p99:>7.0} ns  {:>6.2} M lookups/s",
        naive_rate / 1e6
    );
    println!(
        "  ratio naive/fst: median {:.1}x, p99 {:.1}x, throughput {:.1}x",
        naive_med / fst_med,
        naive_p99 / fst_p99,
        fst_rate / naive_rate
    );
}

fn compile_summary(name: &str, csv: &str) {
    let mut times = Vec::new();
    let rss_before = rss_bytes();
    let mut bytes = 0;
    let mut rss_after = 0;
    for _ in 0..5 {
        let t0 = Instant::now();
        let table = RateTable::from_csv(black_box(csv)).expect("compiles");
        times.push(t0.elapsed());
        bytes = table.heap_bytes();
        rss_after = rss_bytes();
        drop(table);
    }
    println!(
        "\n== compile, {name}: median {:.2} s over 5 (parse + validate + sort + FST); compiled table {:.1} MiB (FST + entries + tariffs); RSS with the table {:.1} MiB above the baseline",
        median(times).as_secs_f64(),
        bytes as f64 / 1_048_576.0,
        rss_after.saturating_sub(rss_before) as f64 / 1_048_576.0
    );
}

fn demo_plan() -> NumberPlan {
    let rule = |name: &str, prefix: &str, lengths: Vec<usize>, prepend: &str| NormalizeRule {
        name: name.into(),
        prefix: prefix.into(),
        lengths,
        strip: None,
        prepend: prepend.into(),
    };
    NumberPlan::new(vec![
        rule("international-011", "011", vec![], ""),
        rule("international-00", "00", vec![], ""),
        rule("nanp-10-digit", "", vec![10], "1"),
    ])
}

fn decision_router(csv: &str) -> (Router, QualityBook) {
    let router = Router::new(
        RateTable::from_csv(csv).unwrap(),
        demo_plan(),
        vec![],
        RoutingPolicy::default(),
    );
    let mut book = QualityBook::new(QualityConfig {
        min_asr: 0.3,
        ..QualityConfig::default()
    });
    let mut rng = SplitMix64::new(5);
    for i in 0..50_000i64 {
        let c = deck_data::carrier((i % CARRIERS as i64) as usize);
        let prefix = format!("{}", 1 + dcx_routing::rng::Random::below(&mut rng, 999));
        book.record(&CallOutcome {
            carrier: &c,
            prefix: &prefix,
            at_s: i / 20,
            answered: i % 3 != 0,
            duration_s: 60,
            pdd_ms: Some(1500),
        });
    }
    (router, book)
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    let t0 = Instant::now();
    let (csv, prefixes) = deck_data::synthetic_deck(ROWS, CARRIERS, 1);
    println!(
        "synthetic deck: {ROWS} rows, {} distinct prefixes, generated in {:.1} s",
        prefixes.len(),
        t0.elapsed().as_secs_f64()
    );
    let f = fixture(csv, &prefixes);
    let (router, book) = decision_router(&f.csv);
    let dialled: Vec<String> = f.numbers.iter().map(|n| format!("+{n}")).collect();
    let snapshot = CarrierSnapshot::default();
    let input = DecisionInput {
        at_s: 3000,
        carriers: &snapshot,
        quality: Some(&book),
        explain: false,
    };
    let (pool, queue) = agents_data::synthetic_pool(10_000, 11);

    let mut out = Vec::with_capacity(CARRIERS);
    let mut naive_out = Vec::with_capacity(CARRIERS);
    let n = f.numbers.len();
    let mut i = 0;
    c.bench_function("lookup/fst/1M", |b| {
        b.iter(|| {
            i += 1;
            f.table
                .matches(black_box(f.numbers[i % n].as_bytes()), 0, &mut out);
        });
    });
    c.bench_function("lookup/naive-hashmap/1M", |b| {
        b.iter(|| {
            i += 1;
            f.naive
                .matches(black_box(f.numbers[i % n].as_bytes()), 0, &mut naive_out);
        });
    });
    let mut rng = SplitMix64::new(9);
    c.bench_function("decide/1M (normalize+LCR+quality, explain off)", |b| {
        b.iter(|| {
            i += 1;
            black_box(router.decide(&dialled[i % n], &input, &mut rng).ok());
        });
    });
    c.bench_function("agents/select/10k (weighted score)", |b| {
        b.iter(|| {
            i += 1;
            black_box(agents_data::select_one(&pool, &queue, i, &mut rng));
        });
    });

    println!("\n######## summary (median and p99 of single operations, this run) ########");
    compile_summary("synthetic 1M rows", &f.csv);
    lookup_summary("synthetic 1M rows", &f);
    let (med, p99) = percentiles(200_000, |i| {
        black_box(router.decide(&dialled[i % n], &input, &mut rng).ok());
    });
    println!("\n== full decision (normalize + deny list + LCR + quality demotion, explain off), 1M rows: median {med:.0} ns, p99 {p99:.0} ns");
    let (med, p99) = percentiles(50_000, |i| {
        black_box(agents_data::select_one(&pool, &queue, i, &mut rng));
    });
    println!(
        "== agent selection among 10,000 agents: median {:.1} us, p99 {:.1} us",
        med / 1000.0,
        p99 / 1000.0
    );
    drop((router, book));

    match deck_data::geo_dir().and_then(|dir| deck_data::geo_deck(&dir, CARRIERS, 3)) {
        Some((geo_csv, geo_prefixes)) => {
            let g = fixture(geo_csv, &geo_prefixes);
            compile_summary("libphonenumber geographic prefixes", &g.csv);
            lookup_summary("libphonenumber geographic prefixes", &g);
        }
        None => println!("\n== geographic deck: skipped (run bench/routing, which fetches the phonenumber crate's geocoding prefixes, or set DCX_GEO_DIR)"),
    }
}
