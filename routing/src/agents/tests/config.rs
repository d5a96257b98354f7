//! The config shape of queues and agents, read through a tiny self-describing value
//! deserializer that behaves like TOML's (integers as i64, tables as maps, enums as a
//! string or a one-entry table), since this crate has no TOML dependency.

use serde::de::value::{Error, MapAccessDeserializer, MapDeserializer, SeqDeserializer};
use serde::de::{Deserializer, IntoDeserializer, Visitor};
use serde::{forward_to_deserialize_any, Deserialize};

use crate::agents::{
    Agent, AgentState, Expansion, QueueSpec, ScoreWeights, SkillRequirement, Strategy,
};

/// A TOML-like value.
#[derive(Debug, Clone)]
enum V {
    Str(&'static str),
    Int(i64),
    Float(f64),
    List(Vec<V>),
    Table(Vec<(&'static str, V)>),
}

impl IntoDeserializer<'_, Error> for V {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for V {
    type Error = Error;

    fn deserialize_any<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, Error> {
        match self {
            V::Str(s) => visitor.visit_str(s),
            V::Int(i) => visitor.visit_i64(i),
            V::Float(f) => visitor.visit_f64(f),
            V::List(items) => visitor.visit_seq(SeqDeserializer::new(items.into_iter())),
            V::Table(entries) => visitor.visit_map(MapDeserializer::new(entries.into_iter())),
        }
    }

    fn deserialize_option<W: Visitor<'de>>(self, visitor: W) -> Result<W::Value, Error> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<W: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: W,
    ) -> Result<W::Value, Error> {
        match self {
            V::Str(s) => visitor.visit_enum(s.into_deserializer()),
            V::Table(entries) => visitor.visit_enum(MapAccessDeserializer::new(
                MapDeserializer::new(entries.into_iter()),
            )),
            other => other.deserialize_any(visitor),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct newtype_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}

fn skill(name: &'static str, min: i64) -> V {
    V::Table(vec![("skill", V::Str(name)), ("min", V::Int(min))])
}

/// The example from the module docs:
/// ```toml
/// [[queues]]
/// name = "support-es"
/// priority = 5
/// strategy = "weighted-score"
/// skills = [{ skill = "spanish", min = 3 }, { skill = "billing", min = 2 }]
/// expand = [{ after_s = 30, min_delta = -1 }, { after_s = 60, relax = ["billing"] }]
/// ```
fn support_es() -> Vec<(&'static str, V)> {
    vec![
        ("name", V::Str("support-es")),
        ("priority", V::Int(5)),
        ("strategy", V::Str("weighted-score")),
        (
            "skills",
            V::List(vec![skill("spanish", 3), skill("billing", 2)]),
        ),
        (
            "expand",
            V::List(vec![
                V::Table(vec![("after_s", V::Int(30)), ("min_delta", V::Int(-1))]),
                V::Table(vec![
                    ("after_s", V::Int(60)),
                    ("relax", V::List(vec![V::Str("billing")])),
                ]),
            ]),
        ),
    ]
}

#[test]
fn queue_spec_reads_the_documented_toml_shape() {
    let spec = QueueSpec::deserialize(V::Table(support_es())).unwrap();
    let expected = QueueSpec::new("support-es")
        .with_priority(5)
        .with_strategy(Strategy::WeightedScore {
            weights: ScoreWeights::default(),
        })
        .with_skill("spanish", 3)
        .with_skill("billing", 2)
        .with_expansion(Expansion::after(30).min_delta(-1))
        .with_expansion(Expansion::after(60).relax("billing"));
    assert_eq!(spec, expected);
    assert!(spec.validate().is_ok());
}

#[test]
fn queue_spec_defaults_and_options() {
    let minimal = QueueSpec::deserialize(V::Table(vec![("name", V::Str("any"))])).unwrap();
    assert_eq!(minimal, QueueSpec::new("any"));
    assert_eq!(minimal.strategy, Strategy::LongestIdle);

    let spec = QueueSpec::deserialize(V::Table(vec![
        ("name", V::Str("q")),
        (
            "strategy",
            V::Table(vec![(
                "weighted-score",
                V::Table(vec![
                    ("idle", V::Float(3.0)),
                    ("idle_horizon_s", V::Int(120)),
                ]),
            )]),
        ),
        (
            "skills",
            V::List(vec![V::Table(vec![("skill", V::Str("tech"))])]),
        ),
        (
            "expand",
            V::List(vec![V::Table(vec![
                ("after_s", V::Int(20)),
                ("skill", V::Str("tech")),
                ("min_delta", V::Int(-2)),
            ])]),
        ),
    ]))
    .unwrap();
    assert_eq!(
        spec.skills,
        [SkillRequirement::new("tech", 1)],
        "min defaults to 1"
    );
    assert_eq!(
        spec.expand,
        [Expansion::after(20).skill("tech").min_delta(-2)]
    );
    assert_eq!(
        spec.strategy,
        Strategy::WeightedScore {
            weights: ScoreWeights {
                idle: 3.0,
                idle_horizon_s: 120,
                ..ScoreWeights::default()
            }
        }
    );
}

#[test]
fn typos_in_queue_specs_are_errors() {
    let with = |key: &'static str, value: V| {
        let mut t = support_es();
        t.push((key, value));
        QueueSpec::deserialize(V::Table(t))
    };
    assert!(with("priorty", V::Int(1)).is_err());
    let mut bad_step = support_es();
    bad_step[4].1 = V::List(vec![V::Table(vec![("after", V::Int(30))])]);
    assert!(QueueSpec::deserialize(V::Table(bad_step)).is_err());
    let mut bad_strategy = support_es();
    bad_strategy[2].1 = V::Str("longest_idle");
    let err = QueueSpec::deserialize(V::Table(bad_strategy)).unwrap_err();
    assert!(err.to_string().contains("longest-idle"), "{err}");
}

#[test]
fn agents_deserialize_with_defaults() {
    let agent = Agent::deserialize(V::Table(vec![
        ("id", V::Str("ana")),
        (
            "state",
            V::Table(vec![("wrap-up", V::Table(vec![("until_ms", V::Int(5))]))]),
        ),
        (
            "skills",
            V::List(vec![V::Table(vec![
                ("skill", V::Str("spanish")),
                ("level", V::Int(4)),
            ])]),
        ),
    ]))
    .unwrap();
    assert_eq!(
        agent,
        Agent::new("ana")
            .with_state(AgentState::WrapUp { until_ms: 5 })
            .with_skill("spanish", 4)
    );
    let away = Agent::deserialize(V::Table(vec![
        ("id", V::Str("b")),
        ("state", V::Str("away")),
    ]))
    .unwrap();
    assert_eq!((away.state, away.capacity), (AgentState::Away, 1));
}
