//! The compiled rate table: an `fst::Map` from prefix to a range of a compact side table.
//!
//! Rows are sorted by (prefix, carrier, `effective_from`); each distinct prefix is one FST
//! key whose value packs `start << 16 | count` into the entry table. An entry is 16 bytes
//! (rate, interned tariff, carrier id). The table is immutable: a reload compiles a new
//! one and swaps it (see [`crate::store`]).
//!
//! Lookup semantics, as wholesale carriers use them: each carrier's own longest matching
//! prefix that is in effect at the lookup time gives that carrier's rate.

use crate::deck::{parse_deck, DeckError, DeckRow, Problems, Tariff};
use crate::prefix_fst::{walk_prefixes, MAX_MATCHES};
use std::collections::HashMap;
use std::sync::Arc;

/// Index of a carrier in a compiled table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CarrierId(pub u16);

#[derive(Debug, Clone, Copy)]
struct Entry {
    rate_nano: u64,
    tariff: u32,
    carrier: CarrierId,
    /// Whether the row has an effective window (else the tariff need not be read).
    windowed: bool,
}

/// One carrier's match for a number: its longest prefix in effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateMatch {
    /// The carrier.
    pub carrier: CarrierId,
    /// Length of the matched prefix (the number's first `prefix_len` digits).
    pub prefix_len: u8,
    /// Rate per minute, nano-units.
    pub rate_nano: u64,
    /// Index of the row's tariff (see [`RateTable::tariff`]).
    pub tariff: u32,
}

/// An immutable, compiled rate deck.
#[derive(Debug)]
pub struct RateTable {
    map: fst::Map<Vec<u8>>,
    entries: Vec<Entry>,
    tariffs: Vec<Tariff>,
    carriers: Vec<Arc<str>>,
}

const COUNT_BITS: u32 = 16;

impl RateTable {
    /// Parses and compiles deck text.
    pub fn from_csv(text: &str) -> Result<Self, DeckError> {
        Self::compile(parse_deck(text)?)
    }

    /// Compiles parsed rows. Fails if a carrier has two rows for the same prefix whose
    /// effective windows overlap (which one would apply is ambiguous).
    pub fn compile(mut rows: Vec<DeckRow<'_>>) -> Result<Self, DeckError> {
        rows.sort_unstable_by(|a, b| {
            (
                a.prefix.as_ref(),
                a.carrier.as_ref(),
                a.tariff.effective_from,
            )
                .cmp(&(
                    b.prefix.as_ref(),
                    b.carrier.as_ref(),
                    b.tariff.effective_from,
                ))
        });
        let mut problems = Problems::default();
        let mut carrier_ids: HashMap<&str, CarrierId> = HashMap::new();
        let mut carriers: Vec<Arc<str>> = Vec::new();
        let mut tariff_ids: HashMap<Tariff, u32> = HashMap::new();
        let mut tariffs = Vec::new();
        let mut entries = Vec::with_capacity(rows.len());
        let mut builder = fst::MapBuilder::memory();
        let mut group_start = 0usize;
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                let prev = &rows[i - 1];
                if prev.prefix == row.prefix
                    && prev.carrier == row.carrier
                    && prev.tariff.effective_until > row.tariff.effective_from
                {
                    problems.push(
                        row.line.max(prev.line),
                        "effective_from",
                        format!(
                            "carrier {:?} already has prefix {} in effect at this time (line {}); effective windows of one carrier's prefix must not overlap",
                            row.carrier.as_ref(),
                            row.prefix.as_ref(),
                            row.line.min(prev.line)
                        ),
                    );
                }
            }
            let carrier = if let Some(&id) = carrier_ids.get(row.carrier.as_ref()) {
                id
            } else {
                let Ok(id) = u16::try_from(carriers.len()) else {
                    problems.push(row.line, "carrier", "more than 65535 carriers in one deck");
                    continue;
                };
                carriers.push(Arc::from(row.carrier.as_ref()));
                carrier_ids.insert(row.carrier.as_ref(), CarrierId(id));
                CarrierId(id)
            };
            let next = tariffs.len() as u32;
            let tariff = *tariff_ids.entry(row.tariff).or_insert_with(|| {
                tariffs.push(row.tariff);
                next
            });
            entries.push(Entry {
                rate_nano: row.rate_nano,
                tariff,
                carrier,
                windowed: row.tariff.effective_from != i64::MIN
                    || row.tariff.effective_until != i64::MAX,
            });
            let last_of_group = rows.get(i + 1).is_none_or(|n| n.prefix != row.prefix);
            if last_of_group {
                let count = entries.len() - group_start;
                if count >= 1 << COUNT_BITS {
                    problems.push(
                        row.line,
                        "prefix",
                        format!("more than 65535 rows for prefix {}", row.prefix),
                    );
                } else {
                    let value = ((group_start as u64) << COUNT_BITS) | count as u64;
                    // Keys arrive sorted and distinct, so insertion cannot fail.
                    builder.insert(row.prefix.as_bytes(), value).ok();
                }
                group_start = entries.len();
            }
        }
        let bytes = builder.into_inner().unwrap_or_default();
        let map = match fst::Map::new(bytes) {
            Ok(map) => map,
            Err(e) => {
                problems.push(0, "deck", format!("could not build the prefix index: {e}"));
                fst::Map::default()
            }
        };
        entries.shrink_to_fit();
        problems.into_result(Self {
            map,
            entries,
            tariffs,
            carriers,
        })
    }

    /// Writes each carrier's longest prefix in effect at `at_s` for `digits` into `out`
    /// (cleared first), in order of decreasing prefix length. No allocation once `out`
    /// has grown to the number of carriers.
    pub fn matches(&self, digits: &[u8], at_s: i64, out: &mut Vec<RateMatch>) {
        out.clear();
        let mut found = [(0u8, 0u64); MAX_MATCHES];
        let mut n = 0;
        // In a large table the groups lie far apart. Touching each group as soon as the
        // walk finds it issues its cache miss while the walk goes on to the next node,
        // instead of paying the misses one after another afterwards.
        let mut touch = 0u64;
        walk_prefixes(self.map.as_fst(), digits, |len, value| {
            let start = (value >> COUNT_BITS) as usize;
            let last = start + (value & ((1 << COUNT_BITS) - 1)) as usize - 1;
            touch ^= self.entries[start].rate_nano ^ self.entries[last].rate_nano;
            found[n] = (len, value);
            n += 1;
        });
        std::hint::black_box(touch);
        // Carriers already matched: a bit per carrier id below 64, a scan of `out` above.
        let mut seen = 0u64;
        for &(prefix_len, value) in found[..n].iter().rev() {
            let start = (value >> COUNT_BITS) as usize;
            let count = (value & ((1 << COUNT_BITS) - 1)) as usize;
            for e in &self.entries[start..start + count] {
                if e.windowed && !self.tariffs[e.tariff as usize].is_active(at_s) {
                    continue;
                }
                let id = e.carrier.0;
                if id < 64 {
                    if seen & (1 << id) != 0 {
                        continue;
                    }
                    seen |= 1 << id;
                } else if out.iter().any(|m| m.carrier == e.carrier) {
                    continue;
                }
                out.push(RateMatch {
                    carrier: e.carrier,
                    prefix_len,
                    rate_nano: e.rate_nano,
                    tariff: e.tariff,
                });
            }
        }
    }

    /// A carrier's name.
    pub fn carrier_name(&self, id: CarrierId) -> &Arc<str> {
        &self.carriers[usize::from(id.0)]
    }

    /// All carrier names in the deck.
    pub fn carriers(&self) -> &[Arc<str>] {
        &self.carriers
    }

    /// A tariff by index (from [`RateMatch::tariff`]).
    pub fn tariff(&self, index: u32) -> &Tariff {
        &self.tariffs[index as usize]
    }

    /// Number of rows compiled.
    pub fn rows(&self) -> usize {
        self.entries.len()
    }

    /// Number of distinct prefixes.
    pub fn prefixes(&self) -> usize {
        self.map.len()
    }

    /// Heap bytes held by the compiled table (FST, entries, tariffs, names).
    pub fn heap_bytes(&self) -> usize {
        self.map.as_fst().as_bytes().len()
            + self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.tariffs.capacity() * std::mem::size_of::<Tariff>()
            + self.carriers.iter().map(|c| c.len() + 16).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(t: &RateTable, number: &str, at: i64) -> Vec<(String, u8, u64)> {
        let mut out = Vec::new();
        t.matches(number.as_bytes(), at, &mut out);
        out.iter()
            .map(|m| {
                (
                    t.carrier_name(m.carrier).to_string(),
                    m.prefix_len,
                    m.rate_nano,
                )
            })
            .collect()
    }

    #[test]
    fn each_carrier_uses_its_own_longest_prefix() {
        let t = RateTable::from_csv(
            "prefix,carrier,rate\n1,a,0.01\n1415,a,0.02\n1,b,0.005\n141,c,0.03\n14155,c,0.001\n2,d,0.1\n",
        )
        .unwrap();
        let got = names(&t, "14155550100", 0);
        assert_eq!(
            got,
            [
                ("c".into(), 5, 1_000_000),
                ("a".into(), 4, 20_000_000),
                ("b".into(), 1, 5_000_000)
            ]
        );
        assert!(names(&t, "3", 0).is_empty());
        assert_eq!(t.rows(), 6);
        assert_eq!(t.prefixes(), 5);
    }

    #[test]
    fn carriers_beyond_the_first_64_are_deduplicated_too() {
        use std::fmt::Write;
        let mut csv = String::from("prefix,carrier,rate\n");
        for c in 0..100 {
            let _ = writeln!(csv, "1,k{c:03},0.{:03}\n14,k{c:03},0.5", c + 1);
        }
        let t = RateTable::from_csv(&csv).unwrap();
        let got = names(&t, "145", 0);
        assert_eq!(got.len(), 100, "one match per carrier");
        assert!(got
            .iter()
            .all(|(_, len, rate)| *len == 2 && *rate == 500_000_000));
    }

    #[test]
    fn rows_out_of_effect_are_ignored_and_shorter_prefixes_apply() {
        let t = RateTable::from_csv(
            "prefix,carrier,rate,effective_from,effective_until\n\
             1,a,0.01,,\n1415,a,0.02,2026-01-01,2026-02-01\n1415,a,0.03,2026-02-01,\n",
        )
        .unwrap();
        let jan = 1_767_225_600 + 86_400; // 2026-01-02
        let dec = 1_764_547_200; // 2025-12-01
        let mar = 1_772_323_200; // 2026-03-01
        assert_eq!(names(&t, "14155", jan), [("a".into(), 4, 20_000_000)]);
        assert_eq!(names(&t, "14155", dec), [("a".into(), 1, 10_000_000)]);
        assert_eq!(names(&t, "14155", mar), [("a".into(), 4, 30_000_000)]);
    }

    #[test]
    fn overlapping_windows_are_rejected_with_both_lines() {
        let e = RateTable::from_csv(
            "prefix,carrier,rate,effective_from,effective_until\n1,a,0.1,2026-01-01,2026-03-01\n1,a,0.2,2026-02-01,\n1,b,0.2,,\n",
        )
        .unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert_eq!(e.problems[0].line, 3);
        assert!(e.problems[0].message.contains("line 2"), "{e:?}");
    }
}
