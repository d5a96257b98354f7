//! Hashing for the maps a datagram's path looks up: the peers by id, the room of a peer,
//! and the peer that proved a remote address.
//!
//! std's default, SipHash-1-3, is built to resist keys an attacker chooses; it cost
//! about 1,100 instructions per forwarded packet across these maps (callgrind, 100
//! peers), more than the SFU's own forwarding decision. None of these maps holds keys an
//! attacker chooses: peer ids are ours and sequential; an address enters the demux index
//! only after str0m's ICE proved it for a peer (a STUN check with the peer's password).
//! A lookup of any other address only probes, and probing a table whose keys are not
//! adversarial stays short. So a multiply-and-fold hash does (the same idea as rustc's
//! `FxHash`), seeded from std's `RandomState` so that no two maps lay out alike.

use std::hash::{BuildHasher, Hasher};

/// An odd constant with well-spread bits (2^64 / the golden ratio).
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// A [`BuildHasher`] for [`FastHasher`]s, with a seed of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHash {
    seed: u64,
}

impl Default for FastHash {
    fn default() -> Self {
        // std's RandomState is seeded from the OS (once per thread, then a new key per
        // call); one of its hashes is this map's seed.
        let seed = std::collections::hash_map::RandomState::new().hash_one(K);
        Self { seed }
    }
}

impl BuildHasher for FastHash {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher { state: self.seed }
    }
}

/// Folds each word into the state with a multiply; `finish` mixes the high bits down,
/// since hashbrown takes its control tag from the top seven bits and its bucket from
/// the low ones.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FastHasher {
    state: u64,
}

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.state = (self.state.rotate_left(5) ^ word).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word) ^ ((rest.len() as u64) << 59));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        let h = self.state;
        (h ^ (h >> 32)).wrapping_mul(K) ^ (h >> 29)
    }
}

/// A `HashMap` with [`FastHash`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastHash>;

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::SocketAddr;

    use super::*;

    /// Sequential ids and neighbouring addresses, the keys these maps hold, spread over
    /// the buckets and the control tags: no bucket of a table sized for them takes many.
    #[test]
    fn spreads_sequential_ids_and_neighbouring_addresses() {
        let build = FastHash::default();
        let ids = (1..=4096u64).map(|i| build.hash_one(i));
        let addrs = (0..4096u32).map(|i| {
            let addr: SocketAddr = format!("10.0.{}.{}:{}", i / 250, i % 250, 5000 + i % 7)
                .parse()
                .unwrap();
            build.hash_one(addr)
        });
        for (label, hashes) in [("ids", ids.collect::<Vec<_>>()), ("addrs", addrs.collect())] {
            let mut buckets = vec![0u32; 4096];
            for h in &hashes {
                buckets[(h & 4095) as usize] += 1;
            }
            let worst = buckets.iter().max().copied().unwrap_or(0);
            assert!(worst <= 12, "{label}: {worst} keys in one of 4096 buckets");
            let tags: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
            assert_eq!(tags.len(), 128, "{label}: every control tag is used");
        }
    }

    #[test]
    fn each_builder_hashes_consistently_and_maps_work() {
        let mut map: FastMap<u64, &str> = FastMap::default();
        map.insert(7, "seven");
        map.insert(8, "eight");
        assert_eq!(map.get(&7), Some(&"seven"));
        assert_eq!(map.remove(&8), Some("eight"));
        assert_eq!(map.len(), 1);
        let (a, b) = (FastHash::default(), FastHash::default());
        // Seeds differ per builder (RandomState), but each hashes consistently.
        assert_eq!(a.hash_one("x"), a.hash_one("x"));
        assert_eq!(b.hash_one(42u64), b.hash_one(42u64));
    }
}
