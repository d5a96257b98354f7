//! Strategies: how a queue picks one agent among the eligible ones.
//!
//! In config a strategy is its kebab-case name; `weighted-score` may carry weights:
//! `strategy = "weighted-score"` (default weights) or
//! `strategy = { weighted-score = { skill = 2.0, idle = 1.0, load = 0.5, idle_horizon_s = 300 } }`.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AgentError;

/// Weights of the `weighted-score` strategy.
///
/// An eligible agent's score is `skill * S + idle * I + load * L`, where each component
/// is in `0..=1`:
/// - `S`, skill match: mean over the (expanded) required skills of
///   `(level - min) / (5 - min)` (0 where `min` is 5; 0 when nothing is required);
/// - `I`, idle time: `min(now - idle_since, idle_horizon_s) / idle_horizon_s`;
/// - `L`, spare capacity: `1 - active_calls / capacity`.
///
/// The highest score wins; ties go to the longest idle, then the lowest index.
/// Every field has a default; in config: `{ skill = 2.0, idle = 1.0 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreWeights {
    /// Weight of skill match. Default 1.
    pub skill: f64,
    /// Weight of idle time. Default 1.
    pub idle: f64,
    /// Weight of spare capacity. Default 1.
    pub load: f64,
    /// Idle time, in seconds, at which the idle component saturates at 1. Default 600.
    pub idle_horizon_s: u32,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        Self {
            skill: 1.0,
            idle: 1.0,
            load: 1.0,
            idle_horizon_s: 600,
        }
    }
}

impl ScoreWeights {
    /// Weights finite and `>= 0`, horizon at least one second.
    pub(crate) fn validate(&self, queue: &str) -> Result<(), AgentError> {
        let fields = [
            ("skill", self.skill),
            ("idle", self.idle),
            ("load", self.load),
        ];
        let bad = fields
            .into_iter()
            .find(|&(_, w)| !(w.is_finite() && w >= 0.0))
            .or((self.idle_horizon_s == 0).then_some(("idle_horizon_s", 0.0)));
        match bad {
            None => Ok(()),
            Some((field, value)) => Err(AgentError::InvalidWeights {
                queue: queue.to_owned(),
                field,
                value,
            }),
        }
    }

    /// The idle horizon in ms (at least 1, so it can divide).
    pub(crate) fn idle_horizon_ms(&self) -> i64 {
        (i64::from(self.idle_horizon_s) * 1_000).max(1)
    }
}

/// How a queue picks among eligible agents.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Strategy {
    /// The agent idle the longest (earliest `idle_since_ms`); ties to the lowest index.
    /// Config: `"longest-idle"` (the default).
    #[default]
    LongestIdle,
    /// The agent with the fewest `calls_handled`; ties to the longest idle, then the
    /// lowest index. Config: `"fewest-calls"`.
    FewestCalls,
    /// The first eligible agent after the caller's cursor in pool order, wrapping; the
    /// selection returns the new cursor. Config: `"round-robin"`.
    RoundRobin,
    /// Uniformly random among the eligible, from the injected random source.
    /// Config: `"random"`.
    Random,
    /// The highest weighted score (see [`ScoreWeights`]). Config: `"weighted-score"` or
    /// `{ weighted-score = { skill = .., idle = .., load = .., idle_horizon_s = .. } }`.
    WeightedScore {
        /// The score's weights.
        weights: ScoreWeights,
    },
}

impl Strategy {
    /// The config names, in declaration order.
    pub const NAMES: [&'static str; 5] = [
        "longest-idle",
        "fewest-calls",
        "round-robin",
        "random",
        "weighted-score",
    ];

    /// This strategy's config name.
    pub fn name(&self) -> &'static str {
        Self::NAMES[self.ordinal()]
    }

    /// The strategy with this config name (`weighted-score` with default weights).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "longest-idle" => Self::LongestIdle,
            "fewest-calls" => Self::FewestCalls,
            "round-robin" => Self::RoundRobin,
            "random" => Self::Random,
            "weighted-score" => Self::WeightedScore {
                weights: ScoreWeights::default(),
            },
            _ => return None,
        })
    }

    fn ordinal(&self) -> usize {
        match self {
            Self::LongestIdle => 0,
            Self::FewestCalls => 1,
            Self::RoundRobin => 2,
            Self::Random => 3,
            Self::WeightedScore { .. } => 4,
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Strategy {
    /// A name, except `weighted-score`, which is `{ "weighted-score": weights }`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let index = self.ordinal() as u32;
        match self {
            Self::WeightedScore { weights } => {
                serializer.serialize_newtype_variant("Strategy", index, self.name(), weights)
            }
            _ => serializer.serialize_unit_variant("Strategy", index, self.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Strategy {
    /// A name, or a one-entry map `{ weighted-score = { ..weights } }`. Needs a
    /// self-describing format (TOML, JSON, YAML).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrategyVisitor)
    }
}

struct StrategyVisitor;

impl<'de> Visitor<'de> for StrategyVisitor {
    type Value = Strategy;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a strategy name (longest-idle, fewest-calls, round-robin, random, \
             weighted-score) or { weighted-score = { ..weights } }",
        )
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Strategy, E> {
        Strategy::from_name(name).ok_or_else(|| E::unknown_variant(name, &Strategy::NAMES))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strategy, A::Error> {
        let Some(name) = map.next_key::<String>()? else {
            return Err(de::Error::invalid_length(0, &self));
        };
        let strategy = match Strategy::from_name(&name) {
            Some(Strategy::WeightedScore { .. }) => Strategy::WeightedScore {
                weights: map.next_value()?,
            },
            Some(_) => {
                return Err(de::Error::custom(format_args!(
                    "strategy `{name}` takes no parameters; write it as a plain string"
                )))
            }
            None => return Err(de::Error::unknown_variant(&name, &Strategy::NAMES)),
        };
        if map.next_key::<IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(2, &self));
        }
        Ok(strategy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::value::{Error, MapDeserializer, StrDeserializer};
    use serde::de::IntoDeserializer;

    fn from_str(name: &str) -> Result<Strategy, Error> {
        let d: StrDeserializer<'_, Error> = name.into_deserializer();
        Strategy::deserialize(d)
    }

    #[test]
    fn names_round_trip() {
        for name in Strategy::NAMES {
            let s = from_str(name).unwrap();
            assert_eq!(s.name(), name);
            assert_eq!(s.to_string(), name);
        }
        assert_eq!(
            from_str("weighted-score").unwrap(),
            Strategy::WeightedScore {
                weights: ScoreWeights::default()
            }
        );
        let err = from_str("least-recent").unwrap_err().to_string();
        assert!(
            err.contains("least-recent") && err.contains("longest-idle"),
            "{err}"
        );
    }

    #[test]
    fn weighted_score_takes_weights_in_a_table() {
        let weights = MapDeserializer::<_, Error>::new([("skill", 2.5), ("load", 0.0)].into_iter());
        let table = MapDeserializer::<_, Error>::new([("weighted-score", weights)].into_iter());
        let s = Strategy::deserialize(table).unwrap();
        assert_eq!(
            s,
            Strategy::WeightedScore {
                weights: ScoreWeights {
                    skill: 2.5,
                    load: 0.0,
                    ..ScoreWeights::default()
                }
            }
        );

        let unit = MapDeserializer::<_, Error>::new(
            [(
                "round-robin",
                MapDeserializer::<_, Error>::new([("skill", 1.0)].into_iter()),
            )]
            .into_iter(),
        );
        let err = Strategy::deserialize(unit).unwrap_err().to_string();
        assert!(err.contains("takes no parameters"), "{err}");

        let typo = MapDeserializer::<_, Error>::new(
            [(
                "weighted-score",
                MapDeserializer::<_, Error>::new([("skil", 1.0)].into_iter()),
            )]
            .into_iter(),
        );
        assert!(Strategy::deserialize(typo).is_err(), "unknown weight field");
    }

    #[test]
    fn weights_validation() {
        assert!(ScoreWeights::default().validate("q").is_ok());
        let bad = [
            ScoreWeights {
                skill: f64::NAN,
                ..ScoreWeights::default()
            },
            ScoreWeights {
                load: f64::INFINITY,
                ..ScoreWeights::default()
            },
            ScoreWeights {
                idle: -0.1,
                ..ScoreWeights::default()
            },
            ScoreWeights {
                idle_horizon_s: 0,
                ..ScoreWeights::default()
            },
        ];
        for w in bad {
            assert!(
                matches!(w.validate("q"), Err(AgentError::InvalidWeights { .. })),
                "{w:?}"
            );
        }
    }
}
