//! Prefix matching on an `fst::Map`: walk the raw FST node by node along a number's
//! digits and report every key that is a prefix of it, shortest first.
//!
//! An FST lookup only answers "is this exact key present"; for longest-prefix routing we
//! need every final node on the path. Outputs are spread over the transitions, so the
//! value of a key is the sum of the outputs along its path plus the final node's output.

use fst::raw::{Fst, Output};

/// The most prefixes one number can match (one per digit of the longest number).
pub const MAX_MATCHES: usize = 32;

/// Calls `on_final(prefix_len, value)` for each prefix of `digits` that is a key of
/// `fst`, shortest first. Never allocates.
#[inline]
pub fn walk_prefixes(fst: &Fst<Vec<u8>>, digits: &[u8], mut on_final: impl FnMut(u8, u64)) {
    let mut node = fst.root();
    let mut acc = Output::zero();
    for (depth, &byte) in digits.iter().enumerate().take(MAX_MATCHES) {
        let Some(i) = node.find_input(byte) else {
            break;
        };
        let t = node.transition(i);
        acc = acc.cat(t.out);
        node = fst.node(t.addr);
        if node.is_final() {
            on_final((depth + 1) as u8, acc.cat(node.final_output()).value());
        }
    }
}

/// The prefixes of `digits` that are keys of `fst`, as `(prefix_len, value)`, shortest
/// first, written into `out`; returns how many.
pub fn prefix_matches(
    fst: &Fst<Vec<u8>>,
    digits: &[u8],
    out: &mut [(u8, u64); MAX_MATCHES],
) -> usize {
    let mut n = 0;
    walk_prefixes(fst, digits, |len, value| {
        out[n] = (len, value);
        n += 1;
    });
    n
}

/// A set of prefixes each mapped to a small value (e.g. a deny-list rule index).
#[derive(Debug, Clone)]
pub struct PrefixMap {
    map: fst::Map<Vec<u8>>,
}

impl PrefixMap {
    /// Builds from `(prefix, value)` pairs in any order; a duplicate prefix keeps the
    /// first value.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, u64)>) -> Self {
        let mut sorted: Vec<(&str, u64)> = pairs.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        sorted.dedup_by(|b, a| a.0 == b.0);
        // Keys are sorted and unique, so building cannot fail.
        let map = fst::Map::from_iter(sorted.into_iter().map(|(k, v)| (k.as_bytes(), v)))
            .unwrap_or_default();
        Self { map }
    }

    /// The longest prefix of `digits` in the map: `(prefix_len, value)`.
    pub fn longest(&self, digits: &[u8]) -> Option<(usize, u64)> {
        let mut found = [(0u8, 0u64); MAX_MATCHES];
        let n = prefix_matches(self.map.as_fst(), digits, &mut found);
        n.checked_sub(1)
            .map(|last| (usize::from(found[last].0), found[last].1))
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no prefixes.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Default for PrefixMap {
    fn default() -> Self {
        Self::new([])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_prefix_on_the_path_with_its_value() {
        let map = PrefixMap::new([
            ("1", 10),
            ("1415", 20),
            ("14155", 30),
            ("2", 40),
            ("141", 7),
        ]);
        let mut out = [(0, 0); MAX_MATCHES];
        let n = prefix_matches(map.map.as_fst(), b"14155550100", &mut out);
        assert_eq!(&out[..n], &[(1, 10), (3, 7), (4, 20), (5, 30)]);
        assert_eq!(map.longest(b"1416"), Some((3, 7)));
        assert_eq!(map.longest(b"3"), None);
        assert_eq!(map.longest(b""), None);
        assert!(PrefixMap::default().longest(b"1").is_none());
    }
}
