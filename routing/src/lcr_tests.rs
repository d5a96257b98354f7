use super::*;
use crate::number::NormalizeRule;
use crate::quality::{CallOutcome, QualityConfig};
use crate::rng::SplitMix64;

const DECK: &str = "prefix,carrier,rate,priority,weight\n\
    1,a,0.010,0,1\n\
    1415,b,0.008,0,1\n\
    1415,c,0.008,1,1\n\
    141555,d,0.020,0,1\n\
    1900,a,0.001,0,1\n\
    44,e,0.05,0,1\n\
    44,f,0.05,0,2\n\
    44,g,0.05,0,1\n";

fn router(max_attempts: usize) -> Router {
    let plan = NumberPlan::new(vec![NormalizeRule {
        name: "nanp-10".into(),
        prefix: String::new(),
        lengths: vec![10],
        strip: None,
        prepend: "1".into(),
    }]);
    let mut per = HashMap::new();
    per.insert(
        "c".to_string(),
        FailoverPolicy {
            pdd_timeout_ms: 3000,
            ..FailoverPolicy::default()
        },
    );
    Router::new(
        RateTable::from_csv(DECK).unwrap(),
        plan,
        vec![BlockRule {
            prefix: "1900".into(),
            reason: "US premium rate".into(),
        }],
        RoutingPolicy::new(FailoverPolicy::default(), per, max_attempts),
    )
}

fn input(carriers: &CarrierSnapshot) -> DecisionInput<'_> {
    DecisionInput {
        at_s: 0,
        carriers,
        quality: None,
        explain: true,
    }
}

fn order(d: &Decision) -> Vec<&str> {
    d.candidates.iter().map(|c| &*c.carrier).collect()
}

#[test]
fn orders_by_rate_then_priority() {
    let snap = CarrierSnapshot::default();
    let d = router(10)
        .decide("4155550100", &input(&snap), &mut SplitMix64::new(1))
        .unwrap();
    assert_eq!(d.number.as_str(), "14155550100");
    assert_eq!(order(&d), ["b", "c", "a", "d"]);
    assert_eq!(d.prefix_of(&d.candidates[0]), "1415");
    assert_eq!(d.prefix_of(&d.candidates[3]), "141555");
    assert_eq!(d.candidates[1].failover.pdd_timeout_ms, 3000);
    assert_eq!(d.candidates[0].failover.pdd_timeout_ms, 8000);
    let explain = d.explain.unwrap();
    assert_eq!(explain.normalized_by.as_deref(), Some("nanp-10"));
    assert_eq!(explain.carriers.len(), 4);
}

#[test]
fn max_attempts_cuts_the_list_and_explains_it() {
    let snap = CarrierSnapshot::default();
    let d = router(2)
        .decide("+14155550100", &input(&snap), &mut SplitMix64::new(1))
        .unwrap();
    assert_eq!(order(&d), ["b", "c"]);
    let beyond: Vec<_> = d
        .explain
        .unwrap()
        .carriers
        .into_iter()
        .filter(|l| l.verdict == Verdict::BeyondMaxAttempts)
        .map(|l| l.carrier.to_string())
        .collect();
    assert_eq!(beyond, ["a", "d"]);
}

#[test]
fn down_and_full_carriers_are_skipped_with_reasons() {
    let mut snap = CarrierSnapshot::default();
    snap.set(
        "b",
        CarrierState {
            up: false,
            ..CarrierState::default()
        },
    );
    snap.set(
        "c",
        CarrierState {
            up: true,
            active_calls: 30,
            max_calls: Some(30),
        },
    );
    let d = router(10)
        .decide("14155550100", &input(&snap), &mut SplitMix64::new(1))
        .unwrap();
    assert_eq!(order(&d), ["a", "d"]);
    let explain = d.explain.unwrap();
    let reason = |c: &str| {
        explain
            .carriers
            .iter()
            .find(|l| &*l.carrier == c)
            .map(|l| l.verdict.clone())
            .unwrap()
    };
    assert_eq!(reason("b"), Verdict::Skipped("down (health check)".into()));
    assert_eq!(
        reason("c"),
        Verdict::Skipped("at capacity (30/30 calls)".into())
    );

    for c in ["a", "d"] {
        snap.set(
            c,
            CarrierState {
                up: false,
                ..CarrierState::default()
            },
        );
    }
    let err = router(10)
        .decide("14155550100", &input(&snap), &mut SplitMix64::new(1))
        .unwrap_err();
    assert_eq!(err.sip_status(), 503);
    assert!(err.to_string().contains("b down (health check)"), "{err}");
}

#[test]
fn blocked_and_unroutable_numbers_say_why() {
    let snap = CarrierSnapshot::default();
    let r = router(10);
    let err = r
        .decide("19005551234", &input(&snap), &mut SplitMix64::new(1))
        .unwrap_err();
    assert_eq!(
        err,
        RouteError::Blocked {
            number: "19005551234".into(),
            prefix: "1900".into(),
            reason: "US premium rate".into()
        }
    );
    assert_eq!(err.sip_status(), 403);
    let err = r
        .decide("33123456789", &input(&snap), &mut SplitMix64::new(1))
        .unwrap_err();
    assert!(matches!(err, RouteError::NoRoute { .. }));
    let err = r
        .decide("12ab", &input(&snap), &mut SplitMix64::new(1))
        .unwrap_err();
    assert!(matches!(err, RouteError::InvalidNumber(_)));
    assert_eq!(err.sip_status(), 484);
}

#[test]
fn low_asr_carrier_is_demoted_after_min_samples() {
    let snap = CarrierSnapshot::default();
    let mut book = QualityBook::new(QualityConfig {
        min_samples: 5,
        min_asr: 0.5,
        ..QualityConfig::default()
    });
    for i in 0..5 {
        book.record(&CallOutcome {
            carrier: "b",
            prefix: "1415",
            at_s: i,
            answered: i == 0,
            duration_s: 30,
            pdd_ms: None,
        });
    }
    let d = router(10)
        .decide(
            "14155550100",
            &DecisionInput {
                quality: Some(&book),
                ..input(&snap)
            },
            &mut SplitMix64::new(1),
        )
        .unwrap();
    assert_eq!(order(&d), ["c", "a", "d", "b"]);
    assert!(d.candidates[3].demoted);
    let line = d
        .explain
        .unwrap()
        .carriers
        .into_iter()
        .find(|l| &*l.carrier == "b")
        .unwrap();
    assert!(
        matches!(&line.verdict, Verdict::Demoted { position: 3, reason } if reason.contains("ASR 20% < 50%")),
        "{line:?}"
    );
}

/// Carriers e (weight 1), f (weight 2) and g (weight 1) tie on rate and priority: over
/// many calls f must be first half the time and e, g a quarter each. A chi-square test
/// with 2 degrees of freedom at p = 0.001 (critical value 13.8) guards the proportions.
#[test]
fn weighted_ties_have_exact_proportions() {
    let snap = CarrierSnapshot::default();
    let r = router(10);
    let mut rng = SplitMix64::new(42);
    let n = 40_000;
    let mut first = HashMap::new();
    let no_explain = DecisionInput {
        explain: false,
        ..input(&snap)
    };
    for _ in 0..n {
        let d = r.decide("442079460000", &no_explain, &mut rng).unwrap();
        assert_eq!(d.candidates.len(), 3);
        *first
            .entry(d.candidates[0].carrier.to_string())
            .or_insert(0u32) += 1;
    }
    let expected = [("e", 0.25), ("f", 0.5), ("g", 0.25)];
    let chi2: f64 = expected
        .iter()
        .map(|(c, p)| {
            let e = p * f64::from(n);
            let o = f64::from(first.get(*c).copied().unwrap_or(0));
            (o - e).powi(2) / e
        })
        .sum();
    assert!(chi2 < 13.8, "first-choice counts {first:?}, chi2 {chi2}");
}

#[test]
fn zero_weight_goes_last_among_ties() {
    let table =
        RateTable::from_csv("prefix,carrier,rate,weight\n1,x,1,0\n1,y,1,5\n1,z,1,0\n").unwrap();
    let r = Router::new(
        table,
        NumberPlan::default(),
        vec![],
        RoutingPolicy::default(),
    );
    let snap = CarrierSnapshot::default();
    let mut rng = SplitMix64::new(3);
    for _ in 0..200 {
        let d = r.decide("1", &input(&snap), &mut rng).unwrap();
        assert_eq!(&*d.candidates[0].carrier, "y");
    }
}
