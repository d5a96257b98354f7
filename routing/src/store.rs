//! The live routing configuration: an atomically swappable [`Router`].
//!
//! Lookups load the current router without locking; a reload compiles a new router off
//! to the side and swaps it in. A call that loaded the old one finishes with it; the old
//! table is freed when its last reader lets go. Readers never block and never see a
//! half-built table.

use crate::lcr::Router;
use arc_swap::ArcSwap;
use std::sync::Arc;

/// The current router, shared by every call.
#[derive(Debug)]
pub struct RouterStore {
    current: ArcSwap<Router>,
}

impl RouterStore {
    /// A store holding `router`.
    pub fn new(router: Router) -> Self {
        Self {
            current: ArcSwap::from_pointee(router),
        }
    }

    /// The router in effect now (wait-free for readers).
    pub fn load(&self) -> Arc<Router> {
        self.current.load_full()
    }

    /// Puts a new router in effect and returns the old one.
    pub fn replace(&self, router: Router) -> Arc<Router> {
        self.current.swap(Arc::new(router))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lcr::{CarrierSnapshot, DecisionInput, RoutingPolicy};
    use crate::number::NumberPlan;
    use crate::rng::SplitMix64;
    use crate::table::RateTable;
    use std::fmt::Write;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// Two decks that differ everywhere: each lookup must see one of them whole.
    fn deck(generation: u32) -> Router {
        let mut csv = String::from("prefix,carrier,rate\n");
        for p in 0..2000 {
            let (carrier, rate) = if generation.is_multiple_of(2) {
                ("even", 1)
            } else {
                ("odd", 2)
            };
            let _ = writeln!(
                csv,
                "1{p:04},{carrier},{rate}\n1{p:04},{carrier}2,{}",
                rate + 10
            );
        }
        Router::new(
            RateTable::from_csv(&csv).unwrap(),
            NumberPlan::default(),
            vec![],
            RoutingPolicy::default(),
        )
    }

    #[test]
    fn reload_while_reading_never_fails_or_tears() {
        let store = Arc::new(RouterStore::new(deck(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let lookups = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..3)
            .map(|t| {
                let (store, stop, lookups) = (store.clone(), stop.clone(), lookups.clone());
                std::thread::spawn(move || {
                    let snap = CarrierSnapshot::default();
                    let mut rng = SplitMix64::new(t);
                    let input = DecisionInput {
                        at_s: 0,
                        carriers: &snap,
                        quality: None,
                        explain: false,
                    };
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let number = format!("1{:04}555", i % 2000);
                        let d = store.load().decide(&number, &input, &mut rng).unwrap();
                        let names: Vec<&str> = d.candidates.iter().map(|c| &*c.carrier).collect();
                        assert!(
                            names == ["even", "even2"] || names == ["odd", "odd2"],
                            "torn lookup: {names:?}"
                        );
                        i += 1;
                    }
                    lookups.fetch_add(i, Ordering::Relaxed);
                })
            })
            .collect();
        for generation in 1..=40 {
            store.replace(deck(generation));
        }
        stop.store(true, Ordering::Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        assert!(lookups.load(Ordering::Relaxed) > 0);
    }
}
