//! Property: the FST walk finds, for every carrier, the same longest prefix in effect
//! as a naive scan of every row would.

use dcx_routing::{RateMatch, RateTable};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write;

#[derive(Debug, Clone)]
struct Row {
    prefix: String,
    carrier: u8,
    rate_milli: u32,
    /// Effective window [from, until) in days, or open.
    window: Option<(i64, i64)>,
}

fn row() -> impl Strategy<Value = Row> {
    (
        "[1-3][0-3]{0,5}",
        0u8..6,
        1u32..50,
        prop::option::of((0i64..5, 1i64..5)),
    )
        .prop_map(|(prefix, carrier, rate_milli, w)| Row {
            prefix,
            carrier,
            rate_milli,
            window: w.map(|(from, len)| (from, from + len)),
        })
}

/// Drops rows that would overlap an earlier row of the same (prefix, carrier): the
/// compiler rejects those decks, which another test covers.
fn deck(rows: &[Row]) -> (String, Vec<Row>) {
    let mut kept: Vec<Row> = Vec::new();
    for r in rows {
        let span = |r: &Row| r.window.unwrap_or((i64::MIN, i64::MAX));
        let (f, u) = span(r);
        if kept.iter().any(|k| {
            let (kf, ku) = span(k);
            k.prefix == r.prefix && k.carrier == r.carrier && kf < u && f < ku
        }) {
            continue;
        }
        kept.push(r.clone());
    }
    let mut csv = String::from("prefix,carrier,rate,effective_from,effective_until\n");
    for r in &kept {
        let (f, u) = r.window.map_or((String::new(), String::new()), |(f, u)| {
            ((f * 86_400).to_string(), (u * 86_400).to_string())
        });
        let _ = writeln!(
            csv,
            "{},c{},0.{:03},{f},{u}",
            r.prefix, r.carrier, r.rate_milli
        );
    }
    (csv, kept)
}

fn reference(rows: &[Row], number: &str, at_s: i64) -> BTreeMap<String, (usize, u64)> {
    let mut best: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for r in rows {
        let active = r
            .window
            .is_none_or(|(f, u)| f * 86_400 <= at_s && at_s < u * 86_400);
        if !active || !number.starts_with(&r.prefix) {
            continue;
        }
        let name = format!("c{}", r.carrier);
        let rate = u64::from(r.rate_milli) * 1_000_000;
        let e = best.entry(name).or_insert((0, 0));
        if r.prefix.len() > e.0 {
            *e = (r.prefix.len(), rate);
        }
    }
    best
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn fst_lookup_equals_naive_scan(
        rows in prop::collection::vec(row(), 1..80),
        numbers in prop::collection::vec(("[1-3][0-3]{0,8}", 0i64..7), 1..20),
    ) {
        let (csv, kept) = deck(&rows);
        let table = RateTable::from_csv(&csv).unwrap();
        let mut out: Vec<RateMatch> = Vec::new();
        for (number, day) in numbers {
            let at_s = day * 86_400 + 100;
            table.matches(number.as_bytes(), at_s, &mut out);
            let got: BTreeMap<String, (usize, u64)> = out
                .iter()
                .map(|m| (table.carrier_name(m.carrier).to_string(), (usize::from(m.prefix_len), m.rate_nano)))
                .collect();
            prop_assert_eq!(got.len(), out.len(), "a carrier appeared twice");
            prop_assert_eq!(got, reference(&kept, &number, at_s), "number {}", number);
            // Longest prefix first.
            prop_assert!(out.windows(2).all(|w| w[0].prefix_len >= w[1].prefix_len));
        }
    }
}
