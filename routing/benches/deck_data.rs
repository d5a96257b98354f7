//! Deterministic rate decks and numbers for the routing benchmarks.
//!
//! The synthetic deck mimics a wholesale A-Z deck: real-looking country codes, each
//! extended into a tree of area and mobile ranges 1-9 digits long, every prefix priced by
//! 1-5 of 20 carriers (each carrier's own granularity makes the overlaps), a few rows with
//! weights and priorities. The geographic deck uses libphonenumber's ~270k geocoding
//! prefixes (shipped in the `phonenumber` crate's source) when `bench/routing` fetched
//! them.

use dcx_routing::rng::{Random, SplitMix64};
use std::collections::HashSet;
use std::fmt::Write;
use std::path::{Path, PathBuf};

const COUNTRY_CODES: &[&str] = &[
    "1", "7", "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
    "46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98", "212",
    "213", "216", "218", "220", "221", "233", "234", "254", "255", "256", "351", "352", "353",
    "354", "355", "356", "358", "359", "370", "371", "372", "380", "381", "385", "386", "420",
    "421", "502", "503", "504", "505", "506", "507", "591", "593", "595", "598", "852", "853",
    "855", "856", "880", "886", "960", "961", "962", "963", "964", "965", "966", "971", "972",
    "973", "974", "975", "976", "977",
];

/// Carrier names `c00`..`c19`.
pub fn carrier(i: usize) -> String {
    format!("c{i:02}")
}

/// A synthetic deck of exactly `rows` rows over `carriers` carriers, and its prefixes.
///
/// Shaped like a wholesale A-Z deck: under each country code, area and mobile ranges
/// 1-3 digits longer; under 30% of those, sub-ranges 1-2 digits longer again, and under
/// 30% of those a further level (at most 9 digits in all). A number thus matches about
/// three nested prefixes, as in real decks (`1` / `1415` / `1415555`).
pub fn synthetic_deck(rows: usize, carriers: usize, seed: u64) -> (String, Vec<String>) {
    let mut rng = SplitMix64::new(seed);
    // 1-5 carriers per prefix, 3 on average: 20% more prefixes than needed, then stop at
    // exactly `rows`.
    let target = rows * 2 / 5 + COUNTRY_CODES.len();
    let mut prefixes: Vec<String> = COUNTRY_CODES.iter().map(|s| (*s).to_owned()).collect();
    let mut seen: HashSet<String> = prefixes.iter().cloned().collect();
    // (prefix index, nesting level) of every prefix that may get children.
    let mut parents: Vec<(usize, u8)> = (0..prefixes.len()).map(|i| (i, 0)).collect();
    while prefixes.len() < target {
        let (parent, level) = parents[rng.below(parents.len() as u64) as usize];
        let base = &prefixes[parent];
        let room = 9usize.saturating_sub(base.len());
        if room == 0 {
            continue;
        }
        let extend = if level == 0 {
            1 + rng.below(3)
        } else {
            1 + rng.below(2)
        } as usize;
        let mut p = base.clone();
        for _ in 0..extend.min(room) {
            p.push(char::from(b'0' + rng.below(10) as u8));
        }
        if !seen.insert(p.clone()) {
            continue;
        }
        prefixes.push(p);
        // Country codes stay parents; a range becomes one with probability 0.3.
        if level < 3 && rng.below(10) < 3 {
            parents.push((prefixes.len() - 1, level + 1));
        }
    }
    let mut csv = String::with_capacity(rows * 32);
    csv.push_str("prefix,carrier,rate,priority,weight\n");
    let mut n = 0;
    let mut used = 0;
    'rows: for p in &prefixes {
        used += 1;
        let k = 1 + rng.below(5) as usize;
        let first = rng.below(carriers as u64) as usize;
        let base_milli = 5 + rng.below(200);
        for j in 0..k {
            // 7 is coprime with 20: the k carriers of a prefix are distinct.
            let c = (first + j * 7) % carriers;
            let rate = base_milli * 100 + rng.below(40) * 25;
            let weight = if rng.below(10) == 0 { 2 } else { 1 };
            let priority = u64::from(rng.below(20) == 0);
            let _ = writeln!(csv, "{p},{},0.{rate:06},{priority},{weight}", carrier(c));
            n += 1;
            if n == rows {
                break 'rows;
            }
        }
    }
    assert_eq!(n, rows, "not enough prefixes for {rows} rows");
    prefixes.truncate(used);
    (csv, prefixes)
}

/// Numbers 11-15 digits long that start with a random deck prefix.
pub fn numbers(prefixes: &[String], count: usize, seed: u64) -> Vec<String> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|_| {
            let mut s = prefixes[rng.below(prefixes.len() as u64) as usize].clone();
            let len = 11 + rng.below(5) as usize;
            while s.len() < len {
                s.push(char::from(b'0' + rng.below(10) as u8));
            }
            s
        })
        .collect()
}

/// Where libphonenumber's English geocoding files are, if present.
pub fn geo_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("DCX_GEO_DIR") {
        return Some(PathBuf::from(dir)).filter(|p| p.is_dir());
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cargo")))
        .ok()?;
    let mut found: Vec<PathBuf> = std::fs::read_dir(home.join("registry/src"))
        .ok()?
        .flatten()
        .flat_map(|index| {
            std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("phonenumber-"))
        })
        .map(|p| p.join("assets/geocoding/en"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found.pop()
}

/// A deck from real geographic prefixes: each priced by 2-4 of `carriers` carriers.
pub fn geo_deck(dir: &Path, carriers: usize, seed: u64) -> Option<(String, Vec<String>)> {
    let mut prefixes = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).ok()?;
        for line in text.lines() {
            if let Some((p, _)) = line.split_once('|') {
                if !p.is_empty() && p.len() <= 15 && p.bytes().all(|b| b.is_ascii_digit()) {
                    prefixes.push(p.to_owned());
                }
            }
        }
    }
    prefixes.sort();
    prefixes.dedup();
    let mut rng = SplitMix64::new(seed);
    let mut csv = String::from("prefix,carrier,rate\n");
    for p in &prefixes {
        let first = rng.below(carriers as u64) as usize;
        for j in 0..2 + rng.below(3) as usize {
            let rate = 500 + rng.below(20_000);
            let _ = writeln!(
                csv,
                "{p},{},0.{rate:06}",
                carrier((first + j * 3) % carriers)
            );
        }
    }
    Some((csv, prefixes))
}
