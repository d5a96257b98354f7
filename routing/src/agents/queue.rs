//! Queues: what a queue asks of its agents ([`QueueSpec`], from config), how that
//! widens while a caller waits ([`Expansion`], bullseye routing), and the form selection
//! uses ([`CompiledQueue`]: one resolved [`Requirement`] per expansion stage).
//!
//! Expansion is precomputed at compile time, so finding the requirement for a caller
//! who has waited `w` ms is a search over a handful of stages, with no allocation.
//!
//! ```toml
//! [[queues]]
//! name = "support-es"
//! priority = 5
//! strategy = "weighted-score"
//! skills = [{ skill = "spanish", min = 3 }, { skill = "billing", min = 2 }]
//! expand = [{ after_s = 30, min_delta = -1 }, { after_s = 60, relax = ["billing"] }]
//! ```

use serde::{Deserialize, Serialize};

use super::pool::MAX_BITSET_NEEDS;
use super::skills::{check_proficiency, Need, Requirement, SkillRegistry, MIN_PROFICIENCY};
use super::{AgentError, AgentPool, Strategy};

/// A required skill: `{ skill = "spanish", min = 3 }`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SkillRequirement {
    /// The skill's name, as agents list it.
    pub skill: String,
    /// Minimum proficiency, `1..=5`. Default 1 (any level).
    #[serde(default = "min_proficiency")]
    pub min: u8,
}

fn min_proficiency() -> u8 {
    MIN_PROFICIENCY
}

impl SkillRequirement {
    /// `skill` at level `min` or better.
    pub fn new(skill: impl Into<String>, min: u8) -> Self {
        Self {
            skill: skill.into(),
            min,
        }
    }
}

/// One expansion step: once a caller has waited `after_s` seconds, lower minimums and/or
/// drop skills. Steps apply cumulatively, in order.
///
/// `{ after_s = 30, min_delta = -1 }` lowers every minimum by one (never below 1);
/// `{ after_s = 45, skill = "spanish", min_delta = -2 }` lowers only Spanish;
/// `{ after_s = 60, relax = ["billing"] }` stops requiring billing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expansion {
    /// Waiting time in seconds from which this step applies.
    pub after_s: u32,
    /// Change to the minimum level, `<= 0`. Default 0.
    #[serde(default)]
    pub min_delta: i8,
    /// The one skill `min_delta` applies to; every required skill when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skill: Option<String>,
    /// Skills no longer required from this step on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relax: Vec<String>,
}

impl Expansion {
    /// A step at `after_s` seconds that changes nothing yet.
    pub fn after(after_s: u32) -> Self {
        Self {
            after_s,
            ..Self::default()
        }
    }

    /// Lowers minimums by `-min_delta` (give a value `<= 0`).
    #[must_use]
    pub fn min_delta(mut self, min_delta: i8) -> Self {
        self.min_delta = min_delta;
        self
    }

    /// Restricts `min_delta` to one skill.
    #[must_use]
    pub fn skill(mut self, skill: impl Into<String>) -> Self {
        self.skill = Some(skill.into());
        self
    }

    /// Stops requiring `skill`.
    #[must_use]
    pub fn relax(mut self, skill: impl Into<String>) -> Self {
        self.relax.push(skill.into());
        self
    }
}

/// A queue as configured: name, priority, strategy, required skills and expansion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSpec {
    /// The queue's name (for logs and explanations).
    pub name: String,
    /// Higher is served first when an agent could take callers of several queues.
    /// Default 0; may be negative.
    #[serde(default)]
    pub priority: i32,
    /// How to pick among eligible agents. Default `longest-idle`.
    #[serde(default)]
    pub strategy: Strategy,
    /// Required skills, each at most once. Default: none (any agent).
    #[serde(default)]
    pub skills: Vec<SkillRequirement>,
    /// Expansion steps in ascending order of `after_s` (equal values apply in list
    /// order). Default: none.
    #[serde(default)]
    pub expand: Vec<Expansion>,
}

impl QueueSpec {
    /// A queue with priority 0, longest-idle strategy, no skills and no expansion.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            priority: 0,
            strategy: Strategy::default(),
            skills: Vec::new(),
            expand: Vec::new(),
        }
    }

    /// Sets the priority.
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the strategy.
    #[must_use]
    pub fn with_strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Requires `skill` at level `min` or better.
    #[must_use]
    pub fn with_skill(mut self, skill: impl Into<String>, min: u8) -> Self {
        self.skills.push(SkillRequirement::new(skill, min));
        self
    }

    /// Appends an expansion step.
    #[must_use]
    pub fn with_expansion(mut self, step: Expansion) -> Self {
        self.expand.push(step);
        self
    }

    /// Checks the spec without a pool: minimums in `1..=5`, no skill twice, expansion
    /// steps ascending, non-positive and naming only required skills, valid weights.
    pub fn validate(&self) -> Result<(), AgentError> {
        let owner = || format!("queue `{}`", self.name);
        for (k, req) in self.skills.iter().enumerate() {
            check_proficiency(owner, &req.skill, req.min)?;
            if self.skills[..k].iter().any(|r| r.skill == req.skill) {
                return Err(AgentError::DuplicateSkill {
                    owner: owner(),
                    skill: req.skill.clone(),
                });
            }
        }
        let mut previous_after_s = 0;
        for (step, exp) in self.expand.iter().enumerate() {
            let err_queue = || self.name.clone();
            if exp.after_s < previous_after_s {
                return Err(AgentError::ExpansionOrder {
                    queue: err_queue(),
                    step,
                    after_s: exp.after_s,
                    previous_after_s,
                });
            }
            previous_after_s = exp.after_s;
            if exp.min_delta > 0 {
                return Err(AgentError::RaisingExpansion {
                    queue: err_queue(),
                    step,
                    min_delta: exp.min_delta,
                });
            }
            let mut named = exp.skill.iter().chain(&exp.relax);
            if let Some(unknown) = named.find(|name| !self.skills.iter().any(|r| &r.skill == *name))
            {
                return Err(AgentError::UnknownExpansionSkill {
                    queue: err_queue(),
                    step,
                    skill: unknown.clone(),
                });
            }
        }
        if let Strategy::WeightedScore { weights } = &self.strategy {
            weights.validate(&self.name)?;
        }
        Ok(())
    }
}

/// A [`QueueSpec`] resolved against one pool's skill ids, with the requirement of every
/// expansion stage precomputed. Build it with [`AgentPool::compile_queue`].
///
/// It is valid for any pool whose [`SkillRegistry`] has the same fingerprint (the same
/// skills in the same order): presence updates never invalidate it, a new skill does.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQueue {
    spec: QueueSpec,
    /// `stages[0]` is the base requirement; `stages[k]` has `k` steps applied.
    stages: Vec<Requirement>,
    fingerprint: u64,
}

/// A required skill while expansion is being worked out.
struct Working<'a> {
    skill: &'a str,
    min: u8,
    relaxed: bool,
}

impl CompiledQueue {
    pub(crate) fn compile(spec: &QueueSpec, skills: &SkillRegistry) -> Result<Self, AgentError> {
        spec.validate()?;
        let mut working: Vec<Working<'_>> = spec
            .skills
            .iter()
            .map(|r| Working {
                skill: &r.skill,
                min: r.min,
                relaxed: false,
            })
            .collect();
        let mut stages = Vec::with_capacity(spec.expand.len() + 1);
        stages.push(resolve(&working, skills, 0, 0));
        for (k, step) in spec.expand.iter().enumerate() {
            for w in &mut working {
                let lowers = match step.skill.as_deref() {
                    None => true,
                    Some(s) => s == w.skill,
                };
                if lowers {
                    let lowered = i16::from(w.min) + i16::from(step.min_delta);
                    w.min = lowered.max(i16::from(MIN_PROFICIENCY)) as u8;
                }
                w.relaxed |= step.relax.iter().any(|r| r == w.skill);
            }
            let after_ms = i64::from(step.after_s) * 1_000;
            stages.push(resolve(&working, skills, after_ms, k + 1));
        }
        Ok(Self {
            spec: spec.clone(),
            stages,
            fingerprint: skills.fingerprint(),
        })
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The queue's priority (higher first).
    pub fn priority(&self) -> i32 {
        self.spec.priority
    }

    /// The queue's strategy.
    pub fn strategy(&self) -> &Strategy {
        &self.spec.strategy
    }

    /// The spec it was compiled from (to compile it again for a new pool).
    pub fn spec(&self) -> &QueueSpec {
        &self.spec
    }

    /// Every stage's requirement: the base first, then one per expansion step.
    pub fn stages(&self) -> &[Requirement] {
        &self.stages
    }

    /// The requirement for a caller who has waited `waited_ms`: every step with
    /// `after_s * 1000 <= waited_ms` applied.
    pub fn requirement_at(&self, waited_ms: i64) -> &Requirement {
        let applied = self.stages[1..].partition_point(|s| s.after_ms <= waited_ms);
        &self.stages[applied]
    }

    /// Whether this queue's skill ids mean the same skills in `pool` (same registry
    /// fingerprint). Selecting with a queue compiled for another pool finds nobody.
    pub fn is_compiled_for(&self, pool: &AgentPool) -> bool {
        self.fingerprint == pool.skills().fingerprint()
    }
}

fn resolve(
    working: &[Working<'_>],
    skills: &SkillRegistry,
    after_ms: i64,
    steps_applied: usize,
) -> Requirement {
    let mut req = Requirement {
        needs: Vec::new(),
        skills_suffice: false,
        unknown: Vec::new(),
        relaxed: Vec::new(),
        after_ms,
        steps_applied,
    };
    for w in working {
        if w.relaxed {
            req.relaxed.push(w.skill.to_owned());
        } else if let Some(id) = skills.id(w.skill) {
            req.needs.push(Need::new(id, w.min));
        } else {
            req.unknown.push((w.skill.to_owned(), w.min));
        }
    }
    req.needs.sort_unstable_by_key(|n| n.skill);
    req.skills_suffice =
        req.needs.len() <= MAX_BITSET_NEEDS && req.needs.iter().all(|n| n.min == MIN_PROFICIENCY);
    req
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{Agent, ScoreWeights};

    fn pool() -> AgentPool {
        AgentPool::new(vec![
            Agent::new("a").with_skill("spanish", 3),
            Agent::new("b").with_skill("billing", 2),
        ])
        .unwrap()
    }

    fn mins(pool: &AgentPool, req: &Requirement) -> Vec<(String, u8)> {
        req.needs()
            .map(|(id, min)| (pool.skills().name(id).to_owned(), min))
            .collect()
    }

    #[test]
    fn stages_apply_cumulatively_at_their_time() {
        let p = pool();
        let spec = QueueSpec::new("q")
            .with_skill("spanish", 4)
            .with_skill("billing", 3)
            .with_expansion(Expansion::after(30).min_delta(-1))
            .with_expansion(Expansion::after(45).skill("spanish").min_delta(-5))
            .with_expansion(Expansion::after(60).relax("billing"));
        let q = p.compile_queue(&spec).unwrap();
        let at = |s: i64| q.requirement_at(s);
        let by_name = |v: Vec<(String, u8)>| {
            let mut v = v;
            v.sort();
            v
        };
        assert_eq!(at(-5).steps_applied(), 0);
        assert_eq!(
            by_name(mins(&p, at(29_999))),
            [("billing".into(), 3), ("spanish".into(), 4)]
        );
        assert_eq!(
            by_name(mins(&p, at(30_000))),
            [("billing".into(), 2), ("spanish".into(), 3)]
        );
        assert_eq!(
            by_name(mins(&p, at(45_000))),
            [("billing".into(), 2), ("spanish".into(), 1)],
            "clamped at 1"
        );
        let last = at(3_600_000);
        assert_eq!(mins(&p, last), [("spanish".to_owned(), 1)]);
        assert_eq!(last.relaxed_skills(), ["billing"]);
        assert_eq!(last.steps_applied(), 3);
        assert_eq!(last.after_ms(), 60_000);
        assert_eq!(q.stages().len(), 4);
    }

    #[test]
    fn unknown_skill_is_unsatisfiable_until_relaxed() {
        let p = pool();
        let spec = QueueSpec::new("q")
            .with_skill("german", 2)
            .with_expansion(Expansion::after(10).relax("german"));
        let q = p.compile_queue(&spec).unwrap();
        assert!(!q.requirement_at(9_999).is_satisfiable());
        assert_eq!(
            q.requirement_at(0).unknown_skills(),
            [("german".to_owned(), 2)]
        );
        assert!(q.requirement_at(10_000).is_satisfiable());
    }

    #[test]
    fn validation_rejects_bad_specs() {
        let base = || QueueSpec::new("q").with_skill("spanish", 3);
        let cases = [
            (QueueSpec::new("q").with_skill("x", 0), "min 0"),
            (QueueSpec::new("q").with_skill("x", 6), "min 6"),
            (base().with_skill("spanish", 2), "duplicate skill"),
            (
                base()
                    .with_expansion(Expansion::after(60).min_delta(-1))
                    .with_expansion(Expansion::after(30).min_delta(-1)),
                "descending",
            ),
            (
                base().with_expansion(Expansion::after(5).min_delta(1)),
                "raising",
            ),
            (
                base().with_expansion(Expansion::after(5).relax("billing")),
                "relax unknown",
            ),
            (
                base().with_expansion(Expansion::after(5).skill("billing").min_delta(-1)),
                "lower unknown",
            ),
            (
                base().with_strategy(Strategy::WeightedScore {
                    weights: ScoreWeights {
                        idle: -1.0,
                        ..ScoreWeights::default()
                    },
                }),
                "negative weight",
            ),
        ];
        for (spec, why) in cases {
            assert!(spec.validate().is_err(), "{why}");
            assert!(pool().compile_queue(&spec).is_err(), "{why}");
        }
        let ok = base()
            .with_expansion(Expansion::after(30).min_delta(-1))
            .with_expansion(Expansion::after(30).relax("spanish"));
        assert!(ok.validate().is_ok(), "equal after_s is fine");
        assert!(matches!(
            base()
                .with_expansion(Expansion::after(9))
                .with_expansion(Expansion::after(3))
                .validate(),
            Err(AgentError::ExpansionOrder {
                step: 1,
                after_s: 3,
                previous_after_s: 9,
                ..
            })
        ));
    }

    #[test]
    fn compiled_queue_knows_its_pool() {
        let p = pool();
        let q = p.compile_queue(&QueueSpec::new("q")).unwrap();
        assert!(q.is_compiled_for(&p));
        assert!(q.is_compiled_for(&pool()), "same skills, same order");
        let mut grown = pool();
        grown.push(Agent::new("c").with_skill("german", 1)).unwrap();
        assert!(!q.is_compiled_for(&grown));
    }
}
